package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
// value logs "%06d.vlog", each numbered one past the previous. When the
// next file appears, the current one is final: it is synced once more and
// the successor followed. That also syncs a rotated memtable's WAL, which
// DB.Sync never did (the "rotated memtables" caveat of docs/engine.md).
type logSyncer struct {
	mu   sync.Mutex // one round at a time; the files are its state
	vlog logFollower
	wal  logFollower
}

func newLogSyncer(dir string) *logSyncer {
	fsync := (*os.File).Sync
	return &logSyncer{
		vlog: logFollower{dir: dir, ext: ".vlog", width: 6, fsync: fsync},
		wal:  logFollower{dir: dir, ext: ".mem", width: 5, required: true, fsync: fsync},
	}
}

// sync makes every write badger has applied so far durable. The value log
// goes first: a WAL entry may point into it, never the other way round.
func (l *logSyncer) sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.vlog.sync(); err != nil {
		return fmt.Errorf("sync value log: %w", err)
	}
	if err := l.wal.sync(); err != nil {
		return fmt.Errorf("sync memtable WAL: %w", err)
	}
	return nil
}

// close releases the descriptors.
func (l *logSyncer) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.vlog.close()
	l.wal.close()
}

// logFollower keeps the newest file of one numbered log open.
type logFollower struct {
	dir      string
	ext      string
	width    int
	required bool // badger always has one (the memtable WAL)
	fsync    func(*os.File) error

	f   *os.File // nil until the first sync finds a file
	fid int64
}

func (lf *logFollower) path(fid int64) string {
	return filepath.Join(lf.dir, fmt.Sprintf("%0*d%s", lf.width, fid, lf.ext))
}

func (lf *logFollower) sync() error {
	if lf.f == nil {
		if err := lf.catchUp(-1); err != nil {
			return err
		}
		if lf.f == nil {
			return nil // no value log (yet)
		}
	}
	for {
		next, err := os.Open(lf.path(lf.fid + 1))
		if errors.Is(err, fs.ErrNotExist) {
			if lf.unlinked() {
				// The file is gone and no successor is where badger's
				// numbering puts it: not expected, so look at the directory.
				if err := lf.catchUp(lf.fid); err != nil {
					return err
				}
			}
			break
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", lf.path(lf.fid+1), err)
		}
		// badger moved on to the next file; this one is complete.
		if err := lf.fsync(lf.f); err != nil {
			next.Close()
			return fmt.Errorf("fsync %s: %w", lf.f.Name(), err)
		}
		lf.f.Close()
		lf.f, lf.fid = next, lf.fid+1
	}
	if lf.f == nil {
		return nil
	}
	if err := lf.fsync(lf.f); err != nil {
		return fmt.Errorf("fsync %s: %w", lf.f.Name(), err)
	}
	return nil
}

// unlinked reports whether the open file no longer has a name. badger
// deletes a memtable's WAL once the memtable is flushed to a table (which
// it syncs itself); by then its successor exists.
func (lf *logFollower) unlinked() bool {
	fi, err := lf.f.Stat()
	if err != nil {
		return true
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}

// catchUp lists the directory, syncs every file of this log numbered
// above after except the newest, and keeps the newest open for the caller
// to sync. A file deleted meanwhile was flushed (memtables) or collected
// (value logs), so there is nothing of it to sync, unless it was the
// newest: then a newer one appeared after the listing, and it looks again.
func (lf *logFollower) catchUp(after int64) error {
	lf.close()
	for attempt := 0; attempt < 10; attempt++ {
		fids, err := lf.list(after)
		if err != nil {
			return err
		}
		if len(fids) == 0 {
			if lf.required {
				return fmt.Errorf("no %s file in %s", lf.ext, lf.dir)
			}
			return nil
		}
		for i, fid := range fids {
			f, err := os.Open(lf.path(fid))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("open %s: %w", lf.path(fid), err)
			}
			if i == len(fids)-1 {
				lf.f, lf.fid = f, fid
				return nil
			}
			err = lf.fsync(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("fsync %s: %w", lf.path(fid), err)
			}
		}
	}
	return fmt.Errorf("the newest %s file in %s kept disappearing", lf.ext, lf.dir)
}

// list returns the numbers of this log's files above after, in order.
func (lf *logFollower) list(after int64) ([]int64, error) {
	entries, err := os.ReadDir(lf.dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", lf.dir, err)
	}
	var fids []int64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), lf.ext)
		if !ok {
			continue
		}
		if fid, err := strconv.ParseInt(name, 10, 64); err == nil && fid > after {
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
