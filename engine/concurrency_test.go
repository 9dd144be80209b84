package engine

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrentIncrBy(t *testing.T) {
	s, _ := openTestStore(t)
	const workers, each = 32, 500
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := s.IncrBy(0, b("hot"), 1); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("IncrBy: %v", err)
	}
	wantValue(t, s, 0, "hot", strconv.Itoa(workers*each))
}

func TestConcurrentSetNXOneWinner(t *testing.T) {
	s, _ := openTestStore(t)
	const racers, rounds = 16, 100
	for r := 0; r < rounds; r++ {
		key := b(fmt.Sprintf("lock:%d", r))
		var wins atomic.Int32
		var winner atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := s.Set(0, key, []byte(strconv.Itoa(i)), SetArgs{Cond: CondNX, Expiry: Expiry{Mode: ExpiryIn, Ms: 60_000}})
				if err != nil {
					t.Error(err)
					return
				}
				if res.Written {
					wins.Add(1)
					winner.Store(int32(i))
				}
			}()
		}
		close(start)
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d winners, want 1", r, n)
		}
		wantValue(t, s, 0, string(key), strconv.Itoa(int(winner.Load())))
	}
}

// Multi-key and cross-database operations on overlapping keys, with FLUSHDB
// and SWAPDB thrown in, must neither deadlock nor fail with internal errors.
func TestConcurrentMultiKeyNoDeadlock(t *testing.T) {
	s, _ := openTestStore(t)
	keys := bs("a", "b", "c", "d", "e")
	const workers = 8
	iters := 300
	if testing.Short() {
		iters = 100
	}
	var wg sync.WaitGroup
	fail := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				k1 := keys[(w+i)%len(keys)]
				k2 := keys[(w*3+i*7+1)%len(keys)]
				db := (w + i) % 3
				var err error
				switch (w + i) % 10 {
				case 0:
					_, err = s.Rename(db, k1, k2, false)
				case 1:
					_, err = s.Rename(db, k2, k1, true)
				case 2:
					_, err = s.Del(db, [][]byte{k2, k1})
				case 3:
					_, err = s.Set(db, k1, b("v"), SetArgs{})
				case 4:
					_, err = s.MSet(db, [][]byte{k2, b("x"), k1, b("y")}, i%2 == 0)
				case 5:
					_, err = s.Copy(db, k1, (db+1)%3, k2, true)
				case 6:
					_, err = s.Move(db, k2, (db+2)%3)
				case 7:
					_, err = s.IncrBy(db, b("n"), 1)
				case 8:
					if i%20 == 8 {
						err = s.SwapDB(db, (db+1)%3)
					} else {
						_, _, err = s.Scan(db, nil, 3, ScanFilter{})
					}
				case 9:
					if i%40 == 9 {
						err = s.FlushDB(db)
					} else {
						_, err = s.Exists(db, [][]byte{k1, k2})
					}
				}
				if err != nil && !errors.Is(err, ErrNoSuchKey) && !errors.Is(err, ErrSameObject) && !errors.Is(err, ErrNotInteger) {
					fail <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("concurrent multi-key operations did not finish in 60 s: deadlock?")
	}
	close(fail)
	for err := range fail {
		t.Fatalf("unexpected error: %v", err)
	}
}

// countingSync is a fake syncFn: it numbers syncs as they start, sleeps,
// and records which have finished.
type countingSync struct {
	sleep    time.Duration
	ticket   *atomic.Int64 // a logical clock shared with the callers
	started  atomic.Int64  // syncs begun
	mu       sync.Mutex
	finished []int64 // ticket at which each finished sync started
	running  atomic.Int32
	overlap  atomic.Bool
}

func (c *countingSync) fn(bool) error {
	if c.running.Add(1) > 1 {
		c.overlap.Store(true)
	}
	c.started.Add(1)
	startTicket := c.ticket.Add(1)
	time.Sleep(c.sleep)
	c.mu.Lock()
	c.finished = append(c.finished, startTicket)
	c.mu.Unlock()
	c.running.Add(-1)
	return nil
}

// finishedAfter reports whether a sync that started after ticket t finished.
func (c *countingSync) finishedAfter(t int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.finished {
		if st > t {
			return true
		}
	}
	return false
}

// wait() returns only after a sync that began after the call began has
// finished, including when a sync is already running at the call.
func TestGroupSyncWaitsForALaterSync(t *testing.T) {
	var ticket atomic.Int64
	cs := &countingSync{sleep: 2 * time.Millisecond, ticket: &ticket}
	g := newGroupSync(cs.fn)
	const workers, each = 16, 20
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				called := ticket.Add(1) // "my commit is done" at this tick
				if err := g.wait(); err != nil {
					t.Error(err)
					return
				}
				if !cs.finishedAfter(called) {
					t.Errorf("wait() returned with no sync started after the call (ticket %d)", called)
					return
				}
			}
		}()
	}
	wg.Wait()
	if cs.overlap.Load() {
		t.Error("two syncs ran at once")
	}
}

// A caller arriving while a sync runs must not be released by that sync:
// its write may have missed it.
func TestGroupSyncInFlightSyncDoesNotCount(t *testing.T) {
	release := make(chan struct{}, 2)
	var calls atomic.Int32
	entered := make(chan int32, 2)
	g := newGroupSync(func(bool) error {
		n := calls.Add(1)
		entered <- n
		<-release
		return nil
	})
	first := make(chan error, 1)
	go func() { first <- g.wait() }()
	if n := <-entered; n != 1 {
		t.Fatalf("first sync numbered %d", n)
	}
	// Sync 1 is running. A second caller arrives.
	second := make(chan error, 1)
	go func() { second <- g.wait() }()
	waitUntil(t, func() bool { // the second caller is parked on the cond
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.running && g.started == 1
	})
	time.Sleep(5 * time.Millisecond)
	release <- struct{}{} // finish sync 1
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-entered:
		if n != 2 {
			t.Fatalf("second sync numbered %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no second sync started for the caller that arrived during the first")
	}
	select {
	case <-second:
		t.Fatal("second caller returned after a sync that began before its call")
	case <-time.After(20 * time.Millisecond):
	}
	release <- struct{}{} // finish sync 2
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d syncs, want 2", n)
	}
}

// waitTogether releases workers goroutines at once, each calling g.wait
// each times, and returns when all are done.
func waitTogether(t *testing.T, g *groupSync, workers, each int) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < each; i++ {
				if err := g.wait(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
}

// N concurrent waiters share syncs: far fewer than N syncs run.
func TestGroupSyncBatchesWaiters(t *testing.T) {
	var ticket atomic.Int64
	cs := &countingSync{sleep: time.Millisecond, ticket: &ticket}
	g := newGroupSync(cs.fn)
	const workers, each = 64, 10
	waitTogether(t, g, workers, each)
	calls := int64(workers * each)
	syncs := cs.started.Load()
	t.Logf("%d waits, %d syncs", calls, syncs)
	if syncs > calls/4 {
		t.Fatalf("%d waits caused %d syncs, want far fewer (<= %d)", calls, syncs, calls/4)
	}
	if syncs < each {
		t.Fatalf("%d syncs for %d sequential waits per goroutine: a wait returned without its own sync", syncs, each)
	}
}

// Writers that become ready together (one badger batch commits them all)
// share one sync even on one P: the leader lets them reach wait before its
// fsync, which would otherwise hold the only P while they sat runnable.
func TestGroupSyncWritersReadyTogetherShareOneSync(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const trials, writers = 20, 8
	shared := 0
	for trial := 0; trial < trials; trial++ {
		var syncs atomic.Int32
		g := newGroupSync(func(bool) error {
			syncs.Add(1)
			time.Sleep(time.Millisecond) // the fsync: others may run meanwhile
			return nil
		})
		waitTogether(t, g, writers, 1)
		if syncs.Load() == 1 {
			shared++
		}
	}
	// Without the yield every trial takes two syncs: the first writer's
	// begins before any other writer runs.
	if shared < trials*3/4 {
		t.Fatalf("writers ready together shared one sync in %d of %d trials", shared, trials)
	}
}

func TestGroupSyncReportsError(t *testing.T) {
	boom := errors.New("disk on fire")
	var fail atomic.Bool
	fail.Store(true)
	g := newGroupSync(func(bool) error {
		if fail.Load() {
			return boom
		}
		return nil
	})
	before := g.last()
	if err := g.wait(); !errors.Is(err, boom) {
		t.Fatalf("wait() = %v, want the sync error", err)
	}
	if g.last() != before {
		t.Fatalf("last() moved after a failed sync")
	}
	fail.Store(false)
	if err := g.wait(); err != nil {
		t.Fatalf("wait() after recovery = %v", err)
	}
}

func TestGroupSyncPolicy(t *testing.T) {
	var n atomic.Int32
	g := newGroupSync(func(bool) error { n.Add(1); return nil })
	for _, p := range []FsyncPolicy{FsyncEverySec, FsyncNo} {
		g.setPolicy(p)
		if err := g.afterCommit(); err != nil || n.Load() != 0 {
			t.Fatalf("afterCommit under %v synced (%d) or failed (%v)", p, n.Load(), err)
		}
	}
	g.setPolicy(FsyncAlways)
	if err := g.afterCommit(); err != nil || n.Load() != 1 {
		t.Fatalf("afterCommit under always: %d syncs, %v", n.Load(), err)
	}
}

// Options.Fsync is the policy the store starts with (kvd's --appendfsync).
func TestOpenAppliesFsyncOption(t *testing.T) {
	for _, p := range []FsyncPolicy{FsyncAlways, FsyncNo, FsyncEverySec} {
		s, _ := openTestStore(t, func(o *Options) { o.Fsync = p })
		if got := s.Fsync(); got != p {
			t.Errorf("Open(Options{Fsync: %v}).Fsync() = %v, want %v", p, got, p)
		}
	}
}

// With appendfsync always, many writers work and each write is visible; the
// store's own group commit must not deadlock with the stripe locks.
func TestFsyncAlwaysConcurrentWrites(t *testing.T) {
	s, _ := openTestStore(t)
	s.SetFsync(FsyncAlways)
	if s.Fsync() != FsyncAlways {
		t.Fatalf("SetFsync(always) not applied")
	}
	before := s.LastSync()
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := s.IncrBy(0, b("n"), 1); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Set(0, b(fmt.Sprintf("w%d", w)), b(strconv.Itoa(i)), SetArgs{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	wantValue(t, s, 0, "n", "320")
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if s.LastSync().Before(before) {
		t.Fatal("LastSync went backwards")
	}
}

// inParallel runs op(g, i) for i in [0, each) on each of writers goroutines
// g and waits for them; a goroutine stops at its first error, reported
// with t.Error.
func inParallel(t *testing.T, writers, each int, op func(g, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := op(g, i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// Writers of one hot key must share fsyncs under appendfsync always: the
// stripe lock is released before the fsync wait. Held through it, every
// INCR would wait for its own fsync and the syncs would equal the writes.
func TestHotKeyWritersShareFsyncs(t *testing.T) {
	s, _ := openTestStore(t, func(o *Options) { o.Fsync = FsyncAlways })
	var syncs atomic.Int64
	s.sync.syncFn = func(bool) error {
		syncs.Add(1)
		time.Sleep(2 * time.Millisecond)
		return nil
	}
	const workers, each = 32, 20
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if _, err := s.IncrBy(0, b("hot"), 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := syncs.Load(); n > workers*each/2 {
		t.Fatalf("%d fsyncs for %d writes of one key: writers are not sharing them", n, workers*each)
	}
}
