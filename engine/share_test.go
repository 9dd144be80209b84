package engine

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// putUnit is a unit that writes key=value in database 0 and then returns
// fail (after writing, so a non-nil fail breaks a shared transaction).
func putUnit(s *Store, key, value string, fail error) func(txn *badger.Txn) unitResult {
	return func(txn *badger.Txn) unitResult {
		var writes writeCount
		x := &Txn{t: txn, s: s, ns: s.nsOf[0], now: s.nowMs(), writes: &writes}
		err := x.put(b(key), record{kind: KindString, payload: b(value)})
		if err == nil {
			err = fail
		}
		return unitResult{wrote: err == nil && writes.entries > 0, err: err, broke: brokeShared(err, writes.entries > 0)}
	}
}

// holdShare makes the test the leader of shard 0, so that units queue
// until it runs a round.
func holdShare(s *Store) *shareQueue {
	q := &s.shares[0]
	q.mu.Lock()
	q.active = true
	q.since = time.Now()
	q.mu.Unlock()
	// Rounds form whatever the machine's speed (the race detector,
	// a loaded CI): no unit is too late to queue or to run.
	s.shareWait = time.Hour
	return q
}

func waitQueued(t *testing.T, q *shareQueue, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		q.mu.Lock()
		got := len(q.pending)
		q.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d units queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// versionOf is the commit timestamp of key's newest version.
func versionOf(t *testing.T, s *Store, key string) uint64 {
	t.Helper()
	var v uint64
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(encodeKey(s.nsOf[0], b(key)))
		if err != nil {
			return err
		}
		v = item.Version()
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return v
}

type unitReturn struct {
	key       string
	committed bool
	err       error
}

// queueUnits starts one goroutine per unit and waits until all are queued.
func queueUnits(t *testing.T, s *Store, q *shareQueue, units map[string]func(*badger.Txn) unitResult) chan unitReturn {
	out := make(chan unitReturn, len(units))
	for key, run := range units {
		go func() {
			committed, err := s.transact(0, run)
			out <- unitReturn{key, committed, err}
		}()
	}
	waitQueued(t, q, len(units))
	return out
}

// Units queued behind a leader commit together: one transaction, so one
// commit timestamp for all their keys.
func TestSharedRoundCommitsOnce(t *testing.T) {
	s, _ := openTestStore(t)
	q := holdShare(s)
	units := map[string]func(*badger.Txn) unitResult{}
	for i := range 10 {
		k := fmt.Sprintf("k%d", i)
		units[k] = putUnit(s, k, "v"+k, nil)
	}
	out := queueUnits(t, s, q, units)
	if committed, err := s.leadShared(q, &sharedUnit{run: putUnit(s, "own", "v", nil)}); !committed || err != nil {
		t.Fatalf("leader's own unit: committed=%v err=%v", committed, err)
	}
	for range units {
		r := <-out
		if !r.committed || r.err != nil {
			t.Fatalf("%s: committed=%v err=%v", r.key, r.committed, r.err)
		}
	}
	want := versionOf(t, s, "own")
	for k := range units {
		wantValue(t, s, 0, k, "v"+k)
		if v := versionOf(t, s, k); v != want {
			t.Fatalf("%s committed at %d, the round at %d: not one transaction", k, v, want)
		}
	}
	if q.active || len(q.pending) != 0 {
		t.Fatalf("after the round: active=%v pending=%d", q.active, len(q.pending))
	}
}

// A unit that fails after writing cannot commit, and badger cannot undo
// its part: it goes back to its owner, who gets its error, and the rest of
// the round runs again without it, still in one transaction.
func TestSharedRoundWithABrokenUnit(t *testing.T) {
	s, _ := openTestStore(t)
	q := holdShare(s)
	boom := errors.New("boom")
	units := map[string]func(*badger.Txn) unitResult{
		"a":   putUnit(s, "a", "va", nil),
		"bad": putUnit(s, "bad", "never", boom),
		"c":   putUnit(s, "c", "vc", nil),
	}
	out := queueUnits(t, s, q, units)
	if committed, err := s.leadShared(q, &sharedUnit{run: putUnit(s, "own", "v", nil)}); !committed || err != nil {
		t.Fatalf("leader's own unit: committed=%v err=%v", committed, err)
	}
	for range units {
		r := <-out
		if r.key == "bad" {
			if r.committed || !errors.Is(r.err, boom) {
				t.Fatalf("bad: committed=%v err=%v, want boom", r.committed, r.err)
			}
			continue
		}
		if !r.committed || r.err != nil {
			t.Fatalf("%s: committed=%v err=%v", r.key, r.committed, r.err)
		}
	}
	wantValue(t, s, 0, "a", "va")
	wantValue(t, s, 0, "c", "vc")
	wantValue(t, s, 0, "own", "v")
	if _, ok, err := s.Get(0, b("bad")); ok || err != nil {
		t.Fatalf("the broken unit's write landed (ok=%v err=%v)", ok, err)
	}
	if v := versionOf(t, s, "own"); versionOf(t, s, "a") != v || versionOf(t, s, "c") != v {
		t.Fatal("the round did not run again as one transaction without the broken unit")
	}
}

// Units not yet started when the round has run longer than shareWaitLimit
// (behind a slow script) go back to their owners and commit alone, instead
// of waiting for the slow unit and the commit.
func TestSharedRoundSendsBackUnitsBehindASlowOne(t *testing.T) {
	s, _ := openTestStore(t)
	q := holdShare(s)
	units := map[string]func(*badger.Txn) unitResult{
		"a": putUnit(s, "a", "va", nil),
		"b": putUnit(s, "b", "vb", nil),
	}
	out := queueUnits(t, s, q, units)
	s.shareWait = shareWaitLimit
	slow := putUnit(s, "own", "v", nil)
	own := &sharedUnit{run: func(txn *badger.Txn) unitResult {
		time.Sleep(5 * shareWaitLimit)
		return slow(txn)
	}}
	if committed, err := s.leadShared(q, own); !committed || err != nil {
		t.Fatalf("leader's own unit: committed=%v err=%v", committed, err)
	}
	for range units {
		if r := <-out; !r.committed || r.err != nil {
			t.Fatalf("%s: committed=%v err=%v", r.key, r.committed, r.err)
		}
	}
	v := versionOf(t, s, "own")
	if versionOf(t, s, "a") == v || versionOf(t, s, "b") == v {
		t.Fatal("a unit queued behind the slow one waited for its commit")
	}
	wantValue(t, s, 0, "a", "va")
	wantValue(t, s, 0, "b", "vb")
}

// A unit that panics (a bug) fails alone; the writers whose units the
// leader was running for them are not stranded, and the queue still works.
func TestSharedRoundWithAPanickingUnit(t *testing.T) {
	s, _ := openTestStore(t)
	q := holdShare(s)
	units := map[string]func(*badger.Txn) unitResult{
		"a":     putUnit(s, "a", "va", nil),
		"panic": func(*badger.Txn) unitResult { panic("bug") },
	}
	out := queueUnits(t, s, q, units)
	if committed, err := s.leadShared(q, &sharedUnit{run: putUnit(s, "own", "v", nil)}); !committed || err != nil {
		t.Fatalf("leader's own unit: committed=%v err=%v", committed, err)
	}
	for range units {
		r := <-out
		if r.key == "panic" {
			if r.committed || r.err == nil {
				t.Fatalf("panicking unit: committed=%v err=%v, want an error", r.committed, r.err)
			}
			continue
		}
		if !r.committed || r.err != nil {
			t.Fatalf("%s: committed=%v err=%v", r.key, r.committed, r.err)
		}
	}
	wantValue(t, s, 0, "a", "va")
	if _, err := s.Set(0, b("after"), b("x"), SetArgs{}); err != nil {
		t.Fatalf("SET after the panic: %v", err)
	}
}

// Writers of many keys at once: every write lands, and rounds form.
func TestSharedTransactionsUnderLoad(t *testing.T) {
	s, _ := openTestStore(t)
	const writers, each = 32, 300
	inParallel(t, writers, each, func(g, i int) error {
		_, err := s.IncrBy(0, b(fmt.Sprintf("ctr%d", (g*each+i)%97)), 1)
		return err
	})
	total := 0
	for k := range 97 {
		r, ok, err := s.Get(0, b(fmt.Sprintf("ctr%d", k)))
		if err != nil || !ok {
			t.Fatalf("ctr%d: ok=%v err=%v", k, ok, err)
		}
		var n int
		fmt.Sscan(string(r), &n)
		total += n
	}
	if total != writers*each {
		t.Fatalf("counters sum to %d, want %d", total, writers*each)
	}
	if s.sharedWrites.Load() == 0 {
		t.Fatal("no write shared a transaction: the test does not exercise sharing")
	}
}

// A writer that finds the round running longer than shareWaitLimit (a
// slow script) does not queue behind it: it commits alone at once.
func TestSharedRoundTooLongToQueueBehind(t *testing.T) {
	s, _ := openTestStore(t)
	q := holdShare(s)
	q.mu.Lock()
	s.shareWait = shareWaitLimit
	q.since = time.Now().Add(-10 * shareWaitLimit)
	q.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := s.transact(0, putUnit(s, "k", "v", nil))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the writer queued behind a round that had run for 10x the limit")
	}
	wantValue(t, s, 0, "k", "v")
	if len(q.pending) != 0 {
		t.Fatalf("%d units queued", len(q.pending))
	}
}
