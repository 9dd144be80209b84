package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder collects what a stand-in saw, from any goroutine.
type recorder[T any] struct {
	mu    sync.Mutex
	items []T
}

func (r *recorder[T]) add(v T) {
	r.mu.Lock()
	r.items = append(r.items, v)
	r.mu.Unlock()
}

// take returns what was recorded since the last take.
func (r *recorder[T]) take() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	items := r.items
	r.items = nil
	return items
}

// fsyncRecorder stands in for (*os.File).Sync and remembers which files
// each round synced.
type fsyncRecorder struct{ recorder[string] }

func (r *fsyncRecorder) fsync(f *os.File) error {
	r.add(filepath.Base(f.Name()))
	return f.Sync()
}

// recordFsyncs makes s's log syncer fsync through a recorder.
func recordFsyncs(s *Store) *fsyncRecorder {
	rec := &fsyncRecorder{}
	s.logs.wal.fsync = rec.fsync
	s.logs.vlog.fsync = rec.fsync
	return rec
}

func touch(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLogFollowerFollowsNumberedFiles(t *testing.T) {
	dir := t.TempDir()
	rec := &fsyncRecorder{}
	dl := &dirLister{path: dir}
	defer dl.close()
	lf := &logFollower{dir: dir, ext: ".mem", width: 5, required: true, fsync: rec.fsync, names: dl.names}
	defer lf.close()
	step := func(what string, want ...string) {
		t.Helper()
		dl.invalidate() // a new round, as logSyncer.sync begins one
		if err := lf.sync(); err != nil {
			t.Fatalf("%s: sync: %v", what, err)
		}
		if got := rec.take(); !slices.Equal(got, want) {
			t.Fatalf("%s: synced %v, want %v", what, got, want)
		}
	}

	dl.invalidate()
	if err := lf.sync(); err == nil || !strings.Contains(err.Error(), "no .mem file") {
		t.Fatalf("sync with no WAL = %v, want an error: an fsync of nothing is no durability", err)
	}
	touch(t, dir, "00001.mem")
	touch(t, dir, "000001.vlog") // another log's file: not this one's business
	step("first file", "00001.mem")
	step("no change", "00001.mem")

	// A rotation: the old file is complete and is synced once more.
	touch(t, dir, "00002.mem")
	step("one rotation", "00001.mem", "00002.mem")

	// Two rotations between rounds (everysec under heavy writes).
	touch(t, dir, "00003.mem")
	touch(t, dir, "00004.mem")
	step("two rotations", "00002.mem", "00003.mem", "00004.mem")

	// badger deleted the file (flushed) and numbered the next ones
	// differently: the directory is listed again and nothing is skipped.
	for _, n := range []string{"00001.mem", "00002.mem", "00003.mem", "00004.mem"} {
		os.Remove(filepath.Join(dir, n))
	}
	touch(t, dir, "00007.mem")
	touch(t, dir, "00009.mem")
	step("gap after deletion", "00004.mem", "00007.mem", "00009.mem")
	step("settled", "00009.mem")

	// fid+1 gone while the file followed still exists (a reader kept it
	// alive, or value-log GC removed the one in between).
	touch(t, dir, "00011.mem")
	step("gap with the file followed still there", "00009.mem", "00011.mem")
	if lf.fid != 11 {
		t.Fatalf("following %d, want 11", lf.fid)
	}
}

// A failed fsync fails every later sync: Linux reports a writeback error
// once, and a second fsync of the file would succeed with the data gone.
func TestLogSyncerFsyncErrorIsSticky(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "00001.mem")
	l := newLogSyncer(dir)
	defer l.close()
	boom := errors.New("EIO")
	l.wal.fsync = func(*os.File) error { return boom }
	if err := l.sync(true); !errors.Is(err, boom) {
		t.Fatalf("sync = %v, want the fsync error", err)
	}
	l.wal.fsync = (*os.File).Sync
	if err := l.sync(true); !errors.Is(err, boom) {
		t.Fatalf("sync after a failed one = %v, want the first error again", err)
	}
}

// Failing to find the files is not sticky: nothing was lost, and the next
// round may find them.
func TestLogSyncerOtherErrorsAreNotSticky(t *testing.T) {
	dir := t.TempDir()
	l := newLogSyncer(dir)
	defer l.close()
	if err := l.sync(true); err == nil {
		t.Fatal("sync with no WAL succeeded")
	}
	touch(t, dir, "00001.mem")
	if err := l.sync(true); err != nil {
		t.Fatalf("sync once the WAL exists = %v", err)
	}
}

// Changing the policy drops the descriptors: under "no" nothing syncs, and
// a descriptor of a deleted WAL would keep its space.
func TestSetFsyncReleasesTheFilesFollowed(t *testing.T) {
	s, _ := openTestStore(t, func(o *Options) { o.Fsync = FsyncNo })
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if s.logs.wal.f == nil {
		t.Fatal("no WAL followed after a sync")
	}
	s.SetFsync(FsyncNo)
	if s.logs.wal.f != nil || s.logs.vlog.f != nil {
		t.Fatal("SetFsync kept descriptors open")
	}
	if err := s.Sync(); err != nil || s.logs.wal.f == nil {
		t.Fatalf("the sync after SetFsync: %v, following a WAL: %v", err, s.logs.wal.f != nil)
	}
}

func TestLogFollowerOptionalLogMayBeAbsent(t *testing.T) {
	rec := &fsyncRecorder{}
	dl := &dirLister{path: t.TempDir()}
	defer dl.close()
	lf := &logFollower{dir: dl.path, ext: ".vlog", width: 6, fsync: rec.fsync, names: dl.names}
	if err := lf.sync(); err != nil {
		t.Fatalf("sync with no value log: %v", err)
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("synced %v with no files", got)
	}
}

// newestFile is the highest-numbered file of a log in dir.
func newestFile(t *testing.T, dir, ext string, width int) string {
	t.Helper()
	dl := &dirLister{path: dir}
	defer dl.close()
	lf := &logFollower{dir: dir, ext: ext, width: width, names: dl.names}
	fids, err := lf.list(-1, true)
	if err != nil || len(fids) == 0 {
		t.Fatalf("list %s files: %v (%d found)", ext, err, len(fids))
	}
	return filepath.Base(lf.path(fids[len(fids)-1]))
}

// A write that landed in a memtable just before badger rotated it must be
// on disk when a later sync returns. badger's DB.Sync synced only the
// active memtable's WAL; the log syncer syncs the rotated one too.
func TestSyncCoversARotatedMemtableWAL(t *testing.T) {
	s, _ := openTestStore(t, func(o *Options) {
		o.MemTableSize = 1 << 20
		o.Fsync = FsyncNo // only the test's Sync calls run
	})
	rec := recordFsyncs(s)
	if _, err := s.Set(0, []byte("first"), []byte("v"), SetArgs{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	before := newestFile(t, s.opts.Dir, ".mem", 5)
	rec.take()

	value := []byte(strings.Repeat("v", 500)) // below the value threshold: WAL only
	for i := 0; newestFile(t, s.opts.Dir, ".mem", 5) == before; i++ {
		if i > 100000 {
			t.Fatal("the memtable never rotated")
		}
		if _, err := s.Set(0, []byte(fmt.Sprintf("k%d", i)), value, SetArgs{}); err != nil {
			t.Fatal(err)
		}
	}
	after := newestFile(t, s.opts.Dir, ".mem", 5)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	got := rec.take()
	if !slices.Contains(got, before) || !slices.Contains(got, after) {
		t.Fatalf("the sync after rotating %s to %s synced %v: both WALs must be", before, after, got)
	}
	if got[len(got)-1] != after {
		t.Fatalf("synced %v: the active WAL %s must be synced last", got, after)
	}

	// A value above the threshold lives in the value log, which must be
	// synced before the WAL entry that points at it.
	if _, err := s.Set(0, []byte("big"), []byte(strings.Repeat("b", 4<<10)), SetArgs{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	vlog := newestFile(t, s.opts.Dir, ".vlog", 6)
	if got := rec.take(); !slices.Equal(got, []string{vlog, after}) {
		t.Fatalf("synced %v, want the value log then the WAL: [%s %s]", got, vlog, after)
	}
}

// Commits land while a sync runs. badger's DB.Sync held the lock its
// writer goroutine takes for every batch, so under appendfsync always
// syncs and commits took turns.
func TestCommitsLandWhileASyncRuns(t *testing.T) {
	s, _ := openTestStore(t, func(o *Options) { o.Fsync = FsyncNo })
	if _, err := s.Set(0, []byte("a"), []byte("1"), SetArgs{}); err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	synced := false
	s.logs.wal.fsync = func(f *os.File) error {
		synced = true
		go func() {
			_, err := s.Set(0, []byte("b"), []byte("2"), SetArgs{})
			committed <- err
		}()
		select {
		case err := <-committed:
			if err != nil {
				return fmt.Errorf("set during the sync: %w", err)
			}
		case <-time.After(5 * time.Second):
			return fmt.Errorf("a commit did not land within 5s of a sync starting")
		}
		return f.Sync()
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	s.logs.wal.fsync = (*os.File).Sync
	if !synced {
		t.Fatal("Sync did not fsync the WAL through the log syncer")
	}
	if v, ok, err := s.Get(0, []byte("b")); err != nil || !ok || string(v) != "2" {
		t.Fatalf("GET b = %q, %v, %v", v, ok, err)
	}
}
