package engine

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// valueLogAsks records whether each sync of a store was asked to include
// the value log.
type valueLogAsks struct{ recorder[bool] }

func recordValueLogAsks(s *Store) *valueLogAsks {
	r := &valueLogAsks{}
	inner := s.sync.syncFn
	s.sync.syncFn = func(valueLog bool) error {
		r.add(valueLog)
		return inner(valueLog)
	}
	return r
}

// openSyncedStore opens a test store under policy and syncs what Open
// wrote (the database map marks the value log), so that the test's own
// writes decide what the next sync includes.
func openSyncedStore(t *testing.T, policy FsyncPolicy) *Store {
	t.Helper()
	s, _ := openTestStore(t, func(o *Options) { o.Fsync = policy })
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	return s
}

// twoStripes returns two keys of database 0 in different lock stripes, so
// that a batch of both is not combined (combine.go) but runs as its own
// transaction.
func twoStripes(s *Store) (k1, k2 []byte) {
	k1, k2 = []byte("batch:1"), []byte("batch:2")
	for i := 3; s.locks.stripe(s.nsOf[0], k1) == s.locks.stripe(s.nsOf[0], k2); i++ {
		k2 = []byte("batch:" + strings.Repeat("x", i))
	}
	return k1, k2
}

// Under appendfsync always, a write's sync fsyncs the value log only when a
// value of ValueThreshold bytes or more was written, on every write path.
func TestSyncFsyncsTheValueLogOnlyAfterALargeValue(t *testing.T) {
	s := openSyncedStore(t, FsyncAlways)
	rec := recordFsyncs(s)
	k1, k2 := twoStripes(s)
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

// A sync can consume the mark a large value's Set made before that write
// commits (it then fsyncs a value log the write has not reached yet); the
// commit marks it again, so the sync that covers the write includes it.
func TestCommitsMarkTheValueLogAgainAfterTheirCommit(t *testing.T) {
	s := openSyncedStore(t, FsyncAlways)
	asks := recordValueLogAsks(s)
	large := bytes.Repeat([]byte("v"), int(s.opts.ValueThreshold))
	k1, k2 := twoStripes(s)
	writes := []struct {
		name  string
		write func() error
	}{
		{"transaction", func() error {
			return s.update(0, [][]byte{k1}, func(x *Txn) error {
				if err := x.setRaw(encodeKey(x.ns, k1), large); err != nil {
					return err
				}
				return s.Sync()
			})
		}},
		{"batch over two stripes", func() error {
			return s.Batch([]BatchKey{{DB: 0, Key: k1}, {DB: 0, Key: k2}}, func(st *Store) error {
				if _, err := st.Set(0, k2, large, SetArgs{}); err != nil {
					return err
				}
				return s.Sync()
			})
		}},
	}
	for _, w := range writes {
		asks.take()
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if asked := asks.take(); !slices.Equal(asked, []bool{true, true}) {
			t.Errorf("%s: value log asked of the syncs %v, want [true true]: the sync during the write, then the one covering it", w.name, asked)
		}
	}
}

// Writes to one hot key that queue behind each other commit in one combined
// round (combine.go); a large value among them syncs the value log too.
func TestCombinedRoundWithALargeValueSyncsTheValueLog(t *testing.T) {
	s := openSyncedStore(t, FsyncAlways)
	asks := recordValueLogAsks(s)
	key := []byte("hot")
	write := func(v []byte, first func(), then func() error) error {
		return s.Batch([]BatchKey{{DB: 0, Key: key}}, func(st *Store) error {
			first()
			if _, err := st.Set(0, key, v, SetArgs{}); err != nil || then == nil {
				return err
			}
			return then()
		})
	}
	// The first writer holds the stripe until the other two wait: one as
	// the next combiner (at the stripe's lock), one queued behind it. Those
	// two then run as one round.
	in, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	errs := make(chan error, 3)
	go func() {
		errs <- write([]byte("a"), func() { once.Do(func() { close(in) }); <-release }, nil)
	}()
	<-in
	// The large write syncs before its round commits, as another
	// writer's sync could: that consumes the mark its Set made, so the
	// value log stays marked only if the round's commit marks it again.
	large := bytes.Repeat([]byte("v"), int(s.opts.ValueThreshold))
	go func() { errs <- write(large, func() {}, func() error { return s.Sync() }) }()
	go func() { errs <- write([]byte("c"), func() {}, nil) }()
	q := &s.locks.queues[s.locks.stripe(s.nsOf[0], key)]
	for waiting := false; !waiting; {
		time.Sleep(time.Millisecond)
		q.mu.Lock()
		waiting = q.active && len(q.pending) == 1
		q.mu.Unlock()
	}
	close(release)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if s.combinedWrites.Load() == 0 {
		t.Fatal("the queued writes were not combined: the test does not exercise a round")
	}
	// One sync consumed the Set's mark before the commit; the one that
	// covers the round must include the value log as well.
	asked := asks.take()
	if n := len(slices.DeleteFunc(slices.Clone(asked), func(v bool) bool { return !v })); n < 2 {
		t.Fatalf("value log asked of the syncs: %v; want it in two: the one during the round and the one covering it", asked)
	}
}

// A value log GC pass writes values into the newest value log, and their
// pointers into the WAL, without syncing. A writer's sync during the pass
// makes those WAL entries durable, so it must include the value log; and
// after the pass, whatever its outcome, a sync covers what it wrote (under
// always nobody else would wait for one).
func TestValueLogGCPassIsSynced(t *testing.T) {
	for _, outcome := range []error{nil, badger.ErrNoRewrite, errors.New("I/O error")} {
		s := openSyncedStore(t, FsyncAlways)
		rec := recordFsyncs(s)
		passes := 0
		s.valueLogGC = func(float64) error {
			if passes++; passes > 1 {
				return badger.ErrNoRewrite
			}
			// What a rewrite does: badger writes live values into the
			// newest value log through its own transactions.
			moved := bytes.Repeat([]byte("m"), int(s.opts.ValueThreshold))
			if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("moved"), moved) }); err != nil {
				return err
			}
			rec.take()
			if _, err := s.Set(0, []byte("small"), []byte("v"), SetArgs{}); err != nil {
				return err
			}
			if _, vlog := syncedLogs(rec); !vlog {
				t.Errorf("pass ending in %v: a write's sync during the pass skipped the value log", outcome)
			}
			return outcome
		}
		s.collectValueLog()
		if _, vlog := syncedLogs(rec); !vlog {
			t.Errorf("pass ending in %v: the value log was not fsynced after the pass", outcome)
		}
	}
}

// A large value marks the value log as soon as it is written, before its
// commit: a sync that starts before the commit's noteWrite must not make
// its WAL entry durable without its value.
func TestALargeValueMarksTheValueLogBeforeItsCommit(t *testing.T) {
	s := openSyncedStore(t, FsyncNo)
	asks := recordValueLogAsks(s)
	key := []byte("k")
	large := bytes.Repeat([]byte("v"), int(s.opts.ValueThreshold))
	err := s.Batch([]BatchKey{{DB: 0, Key: key}}, func(st *Store) error {
		if _, err := st.Set(0, key, large, SetArgs{}); err != nil {
			return err
		}
		return s.Sync() // a sync that begins before the batch commits
	})
	if err != nil {
		t.Fatal(err)
	}
	if asked := asks.take(); !slices.Equal(asked, []bool{true}) {
		t.Fatalf("value log asked of the syncs: %v, want [true]", asked)
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

// A sync already past its look at the GC counter when a pass starts would
// fsync the pass's WAL entries without the value log: the pass waits for
// it to finish first.
func TestValueLogGCPassWaitsForTheSyncInFlight(t *testing.T) {
	s, _ := openTestStore(t, func(o *Options) { o.Fsync = FsyncNo })
	entered, hold := make(chan struct{}), make(chan struct{})
	inner := s.sync.syncFn
	var once sync.Once
	s.sync.syncFn = func(valueLog bool) error {
		once.Do(func() { close(entered); <-hold })
		return inner(valueLog)
	}
	synced := make(chan error, 1)
	go func() { synced <- s.Sync() }()
	<-entered
	var started atomic.Bool
	s.valueLogGC = func(float64) error {
		started.Store(true)
		return badger.ErrNoRewrite
	}
	passed := make(chan struct{})
	go func() { s.valueLogGCPass(); close(passed) }()
	time.Sleep(50 * time.Millisecond)
	if started.Load() {
		t.Fatal("the GC pass started while a sync that skipped the value log was still running")
	}
	close(hold)
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	<-passed
	if !started.Load() {
		t.Fatal("the GC pass never ran")
	}
}

// The garbage list the sweeper rewrites is 4 bytes per namespace, so it may
// be large: its write marks the value log.
func TestGarbageSweepMarksTheValueLog(t *testing.T) {
	s, _ := openTestStore(t, func(o *Options) { o.Fsync = FsyncNo })
	if _, err := s.Set(0, []byte("k"), []byte("v"), SetArgs{}); err != nil {
		t.Fatal(err)
	}
	if err := s.FlushDB(0); err != nil { // queues database 0's old namespace
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil { // what Open and FLUSHDB wrote
		t.Fatal(err)
	}
	if err := s.sweepGarbage(); err != nil {
		t.Fatal(err)
	}
	asks := recordValueLogAsks(s)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if asked := asks.take(); !slices.Equal(asked, []bool{true}) {
		t.Fatalf("value log asked of the sync after a sweep: %v, want [true]", asked)
	}
}
