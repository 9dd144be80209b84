package engine

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// syncedLogs reports which logs the syncs since the last call fsynced.
func syncedLogs(rec *fsyncRecorder) (wal, vlog bool) {
	for _, name := range rec.take() {
		wal = wal || strings.HasSuffix(name, ".mem")
		vlog = vlog || strings.HasSuffix(name, ".vlog")
	}
	return wal, vlog
}

// Under appendfsync always, a write's sync fsyncs the value log only when a
// value of ValueThreshold bytes or more was written, on every write path.
func TestSyncFsyncsTheValueLogOnlyAfterALargeValue(t *testing.T) {
	s, _ := openTestStore(t, func(o *Options) { o.Fsync = FsyncAlways })
	rec := &fsyncRecorder{}
	s.logs.wal.fsync = rec.fsync
	s.logs.vlog.fsync = rec.fsync

	// Two keys in different stripes, so that a batch of both is not
	// combined (combine.go) but runs as its own transaction.
	k1, k2 := []byte("batch:1"), []byte("batch:2")
	for i := 3; s.locks.stripe(s.nsOf[0], k1) == s.locks.stripe(s.nsOf[0], k2); i++ {
		k2 = []byte("batch:" + strings.Repeat("x", i))
	}
	set := func(st *Store, key, v []byte) error {
		_, err := st.Set(0, key, v, SetArgs{})
		return err
	}
	writes := []struct {
		name  string
		write func(v []byte) error
	}{
		{"SET", func(v []byte) error { return set(s, []byte("k"), v) }},
		{"HSET", func(v []byte) error {
			_, err := s.HSet(0, []byte("h"), [][]byte{[]byte("f"), v})
			return err
		}},
		{"batch of one key, combined", func(v []byte) error {
			return s.Batch([]BatchKey{{DB: 0, Key: k1}}, func(st *Store) error { return set(st, k1, v) })
		}},
		{"batch over two stripes", func(v []byte) error {
			return s.Batch([]BatchKey{{DB: 0, Key: k1}, {DB: 0, Key: k2}}, func(st *Store) error {
				if err := set(st, k1, []byte("small")); err != nil {
					return err
				}
				return set(st, k2, v)
			})
		}},
	}
	small := []byte("v")
	large := bytes.Repeat([]byte("v"), int(s.opts.ValueThreshold))
	if err := s.Sync(); err != nil { // what Open wrote
		t.Fatal(err)
	}
	for _, w := range writes {
		rec.take()
		if err := w.write(small); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if wal, vlog := syncedLogs(rec); !wal || vlog {
			t.Errorf("%s of a small value: WAL synced %v, value log synced %v; want only the WAL", w.name, wal, vlog)
		}
		if err := w.write(large); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if wal, vlog := syncedLogs(rec); !wal || !vlog {
			t.Errorf("%s of a %d-byte value: WAL synced %v, value log synced %v; want both", w.name, len(large), wal, vlog)
		}
	}
}

// Writes to one hot key that queue behind each other commit in one combined
// round (combine.go); a large value among them syncs the value log too.
func TestCombinedRoundWithALargeValueSyncsTheValueLog(t *testing.T) {
	s, _ := openTestStore(t, func(o *Options) { o.Fsync = FsyncAlways })
	rec := &fsyncRecorder{}
	s.logs.wal.fsync = rec.fsync
	s.logs.vlog.fsync = rec.fsync
	key := []byte("hot")
	write := func(v []byte, first func()) error {
		return s.Batch([]BatchKey{{DB: 0, Key: key}}, func(st *Store) error {
			first()
			_, err := st.Set(0, key, v, SetArgs{})
			return err
		})
	}
	// The first writer holds the stripe until the other two wait: one as
	// the next combiner (at the stripe's lock), one queued behind it. Those
	// two then run as one round.
	in, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	errs := make(chan error, 3)
	go func() {
		errs <- write([]byte("a"), func() { once.Do(func() { close(in) }); <-release })
	}()
	<-in
	large := bytes.Repeat([]byte("v"), int(s.opts.ValueThreshold))
	for _, v := range [][]byte{large, []byte("c")} {
		go func() { errs <- write(v, func() {}) }()
	}
	q := &s.locks.queues[s.locks.stripe(s.nsOf[0], key)]
	for waiting := false; !waiting; {
		time.Sleep(time.Millisecond)
		q.mu.Lock()
		waiting = q.active && len(q.pending) == 1
		q.mu.Unlock()
	}
	rec.take()
	close(release)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if s.combinedWrites.Load() == 0 {
		t.Fatal("the queued writes were not combined: the test does not exercise a round")
	}
	if _, vlog := syncedLogs(rec); !vlog {
		t.Fatal("the value log was not fsynced after a round that wrote a large value")
	}
}

// A value log GC pass moves values into the newest value log without
// syncing them; under always nobody waits for a sync afterwards, so the
// pass syncs itself.
func TestValueLogGCPassIsSynced(t *testing.T) {
	s, _ := openTestStore(t, func(o *Options) { o.Fsync = FsyncAlways })
	rec := &fsyncRecorder{}
	s.logs.wal.fsync = rec.fsync
	s.logs.vlog.fsync = rec.fsync
	passes := 0
	s.valueLogGC = func(float64) error {
		if passes++; passes > 1 {
			return badger.ErrNoRewrite
		}
		// What a rewrite does: badger writes live values into the
		// newest value log through its own transactions.
		moved := bytes.Repeat([]byte("m"), int(s.opts.ValueThreshold))
		return s.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("moved"), moved) })
	}
	rec.take()
	s.collectValueLog()
	if _, vlog := syncedLogs(rec); !vlog {
		t.Fatal("the value log was not fsynced after a GC pass rewrote values")
	}
}

// A sync that fails leaves the value log marked, so the next one syncs it.
func TestGroupSyncKeepsTheValueLogMarkAfterAFailedSync(t *testing.T) {
	var asked []bool
	g := newGroupSync(func(valueLog bool) error {
		asked = append(asked, valueLog)
		if len(asked) == 1 {
			return errors.New("cannot list the directory")
		}
		return nil
	})
	g.setPolicy(FsyncAlways)
	g.noteWrite(true)
	if err := g.afterCommit(); err == nil {
		t.Fatal("the failed sync reported no error")
	}
	for range 2 {
		g.noteWrite(false)
		if err := g.afterCommit(); err != nil {
			t.Fatal(err)
		}
	}
	if want := []bool{true, true, false}; !slices.Equal(asked, want) {
		t.Fatalf("value log asked of the syncs: %v, want %v", asked, want)
	}
}
