package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// logSyncer makes what badger has written durable without badger's
// DB.Sync. DB.Sync holds badger's db.lock (shared) through the WAL's
// msync, and badger's one writer goroutine takes that lock (exclusive)
// before applying every batch of commits (ensureRoomForWrite in
// writeRequests): while a sync ran, no commit could land. Under
// appendfsync always, syncs and commits took turns: a DB.Sync took
// ~0.9 ms and covered ~12 of 50 clients (docs/performance.md, session 5).
//
// An fsync through a descriptor of our own writes back the same pages
// (Linux's msync(MS_SYNC) is an fsync of the mapped file) and takes no
// lock of badger's, so commits keep landing while it runs.
//
// It follows badger's on-disk naming: memtable WALs are "%05d.mem" and
// value logs "%06d.vlog", each numbered above the previous. When a newer
// file appears, the current one is final: it is synced once more and the
// newer ones followed. That also syncs a rotated memtable's WAL, which
// DB.Sync never did (docs/engine.md, "Rotated memtables").
type logSyncer struct {
	mu     sync.Mutex // one round at a time; the files are its state
	vlog   logFollower
	wal    logFollower
	dir    dirLister
	failed error // the first fsync error; every later sync returns it
}

func newLogSyncer(dir string) *logSyncer {
	l := &logSyncer{dir: dirLister{path: dir}}
	fsync := (*os.File).Sync
	l.vlog = logFollower{dir: dir, ext: ".vlog", width: 6, fsync: fsync, names: l.dir.names}
	l.wal = logFollower{dir: dir, ext: ".mem", width: 5, required: true, fsync: fsync, names: l.dir.names}
	return l
}

// sync makes every write badger has applied so far durable; the value log
// only if valueLog (durability.go says when it may be skipped). The value
// log goes first, so that an acknowledged write's WAL entry never reaches the
// disk without the value it points to. (Without badger's lock a batch may
// land after the value log's fsync, or in a round that skips it, and before
// the WAL's; an entry of it that is not yet acknowledged can then be on
// disk in the WAL without its value, as kernel writeback could always do.
// After a power loss such an entry hides the key's previous value behind
// a pointer to nothing. Only values of ValueThreshold bytes or more are
// exposed, between the value-log fsync of a round that consumed the mark
// their Set made and their commit's noteWrite: docs/engine.md, "Caveat: a
// large write in flight during a power loss".)
//
// A failed fsync is sticky: Linux reports a failed writeback once and
// drops the dirty pages, so a later fsync of the same file would succeed
// with the data gone. Every later sync fails too, as Redis stops under
// appendfsync always; a restart replays what badger has.
func (l *logSyncer) sync(valueLog bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return l.failed
	}
	l.dir.invalidate()
	if valueLog {
		if err := l.vlog.sync(); err != nil {
			return l.fail(fmt.Errorf("sync value log: %w", err))
		}
	}
	if err := l.wal.sync(); err != nil {
		return l.fail(fmt.Errorf("sync memtable WAL: %w", err))
	}
	return nil
}

// fail remembers err if an fsync failed; other errors (opening or listing
// files) leave the pages dirty and the next round may well succeed.
func (l *logSyncer) fail(err error) error {
	var fe *fsyncError
	if errors.As(err, &fe) {
		l.failed = err
	}
	return err
}

// fsyncError is a failed fsync of a file.
type fsyncError struct {
	name string
	err  error
}

func (e *fsyncError) Error() string { return "fsync " + e.name + ": " + e.err.Error() }
func (e *fsyncError) Unwrap() error { return e.err }

// close releases the descriptors; the next sync, if any, starts from the
// directory again.
func (l *logSyncer) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.vlog.close()
	l.wal.close()
	l.dir.close()
}

// logFollower keeps the newest file of one numbered log open.
type logFollower struct {
	dir      string
	ext      string
	width    int
	required bool // badger always has one (the memtable WAL)
	fsync    func(*os.File) error
	names    func(fresh bool) ([]string, error) // the directory's entries

	f   *os.File // nil until the first sync finds a file
	fid int64
}

func (lf *logFollower) path(fid int64) string {
	return filepath.Join(lf.dir, fmt.Sprintf("%0*d%s", lf.width, fid, lf.ext))
}

// sync fsyncs every file of this log that may hold writes not yet synced:
// the one followed, which is complete once a newer one exists, every newer
// one, and the newest, which it then follows. Newer files are found in the
// directory rather than by trying the next number: badger deletes a
// memtable's WAL when its last reader lets go, and value-log GC deletes
// any file but the newest, so fid+1 can be gone while fid+2 holds writes.
func (lf *logFollower) sync() error {
	moved, err := lf.catchUp()
	if err != nil {
		return err
	}
	if lf.f == nil {
		return nil // no value log (yet)
	}
	if moved {
		// The new file's name must survive a power loss too; badger's
		// mmap helper means to sync the directory when it creates a file
		// but checks the size after setting it, so it never does.
		if err := syncDir(lf.dir); err != nil {
			return err
		}
	}
	if err := lf.fsync(lf.f); err != nil {
		return &fsyncError{name: lf.f.Name(), err: err}
	}
	return nil
}

// catchUp lists the directory for files of this log numbered above the one
// followed (any, when none is). If there are, it syncs the one followed and
// each newer one but the newest, and follows the newest; it reports whether
// it moved. A file deleted meanwhile was flushed (memtables) or collected
// (value logs) and has nothing to sync, unless it is the newest: then a newer
// one appeared after the listing, and it looks again.
func (lf *logFollower) catchUp() (bool, error) {
	for attempt := 0; attempt < 10; attempt++ {
		after := int64(-1)
		if lf.f != nil {
			after = lf.fid
		}
		fids, err := lf.list(after, attempt > 0)
		if err != nil {
			return false, err
		}
		if len(fids) == 0 {
			if lf.f == nil && lf.required {
				return false, fmt.Errorf("no %s file in %s", lf.ext, lf.dir)
			}
			return attempt > 0, nil
		}
		if lf.f != nil {
			if err := lf.fsync(lf.f); err != nil {
				return false, &fsyncError{name: lf.f.Name(), err: err}
			}
			lf.close()
		}
		for i, fid := range fids {
			f, err := os.Open(lf.path(fid))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return false, fmt.Errorf("open %s: %w", lf.path(fid), err)
			}
			if i == len(fids)-1 {
				lf.f, lf.fid = f, fid
				return true, nil
			}
			err = lf.fsync(f)
			f.Close()
			if err != nil {
				return false, &fsyncError{name: lf.path(fid), err: err}
			}
		}
	}
	return false, fmt.Errorf("the newest %s file in %s kept disappearing", lf.ext, lf.dir)
}

// list returns the numbers of this log's files above after, in order, from
// the round's listing or, if fresh, a new one.
func (lf *logFollower) list(after int64, fresh bool) ([]int64, error) {
	names, err := lf.names(fresh)
	if err != nil {
		return nil, err
	}
	var fids []int64
	for _, name := range names {
		stem, ok := strings.CutSuffix(name, lf.ext)
		if !ok {
			continue
		}
		if fid, err := strconv.ParseInt(stem, 10, 64); err == nil && fid > after {
			fids = append(fids, fid)
		}
	}
	slices.Sort(fids)
	return fids, nil
}

func (lf *logFollower) close() {
	if lf.f != nil {
		lf.f.Close()
		lf.f = nil
	}
}

// dirLister lists a directory through one descriptor kept open (7 us a
// listing against 19 us opening it each time), once per sync round for
// both logs: a file created after the round began holds no write the
// round must cover, since those committed before it began.
type dirLister struct {
	path   string
	d      *os.File
	listed []string // this round's listing, until invalidate
	valid  bool
}

// invalidate starts a round: the next names lists again.
func (dl *dirLister) invalidate() { dl.valid = false }

// names returns the directory's entries, unsorted and without a stat
// each: the round's listing, or a new one if fresh.
func (dl *dirLister) names(fresh bool) ([]string, error) {
	if dl.valid && !fresh {
		return dl.listed, nil
	}
	if dl.d != nil {
		if _, err := dl.d.Seek(0, io.SeekStart); err != nil {
			dl.close()
		}
	}
	if dl.d == nil {
		d, err := os.Open(dl.path)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", dl.path, err)
		}
		dl.d = d
	}
	names, err := dl.d.Readdirnames(-1)
	if err != nil {
		dl.close()
		return nil, fmt.Errorf("list %s: %w", dl.path, err)
	}
	dl.listed, dl.valid = names, true
	return names, nil
}

func (dl *dirLister) close() {
	if dl.d != nil {
		dl.d.Close()
		dl.d = nil
	}
	dl.valid = false
}

// syncDir makes the names of the files in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return &fsyncError{name: dir, err: err}
	}
	return nil
}
