package engine

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// openStoreWithoutReadCache opens a test store whose GETs go to badger
// (the tests' default options put a read cache in front).
func openStoreWithoutReadCache(t *testing.T) *Store {
	s, _ := openTestStore(t, func(o *Options) { o.ReadCacheSize = 0 })
	return s
}

// currentShared is the current shared transaction, read under the lock the
// once-a-second loop takes to retire it.
func currentShared(s *Store) *sharedRead {
	s.views.mu.Lock()
	defer s.views.mu.Unlock()
	return s.views.cur
}

func usersOf(s *Store, sr *sharedRead) int {
	s.views.mu.Lock()
	defer s.views.mu.Unlock()
	return sr.users
}

func discarded(sr *sharedRead) bool {
	_, err := sr.txn.Get([]byte("any"))
	return errors.Is(err, badger.ErrDiscardedTxn)
}

// Single reads share one read transaction until a write commits; the first
// read after a commit opens a new one, which sees the write.
func TestReadsShareATransactionUntilAWriteCommits(t *testing.T) {
	s := openStoreWithoutReadCache(t)
	mustSetPlain(t, s, 0, "k", "v1")
	wantValue(t, s, 0, "k", "v1")
	first := currentShared(s)
	if first == nil {
		t.Fatal("a read left no shared transaction")
	}
	wantValue(t, s, 0, "k", "v1")
	wantMissing(t, s, 0, "other")
	if currentShared(s) != first {
		t.Fatal("a read with no write since opened a new transaction")
	}

	mustSetPlain(t, s, 0, "k", "v2")
	wantValue(t, s, 0, "k", "v2")
	if currentShared(s) == first {
		t.Fatal("the read after a commit used the transaction opened before it")
	}
	if usersOf(s, first) != 0 || !discarded(first) {
		t.Fatalf("the retired transaction has %d users and is discarded=%v; want 0 and true", usersOf(s, first), discarded(first))
	}
}

// A write that commits nothing (a failed SET XX) keeps the transaction.
func TestSharedReadSurvivesAWriteThatCommitsNothing(t *testing.T) {
	s := openStoreWithoutReadCache(t)
	wantMissing(t, s, 0, "k")
	first := currentShared(s)
	if first == nil {
		t.Fatal("a read left no shared transaction")
	}
	if _, err := s.Set(0, b("k"), b("v"), SetArgs{Cond: CondXX}); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, 0, "k")
	if currentShared(s) != first {
		t.Fatal("a write that committed nothing retired the shared transaction")
	}
}

// The once-a-second loop retires a transaction that writes have outdated,
// so that an idle reader side does not hold back compaction; a current one
// stays.
func TestRetireStaleDropsOnlyAnOutdatedTransaction(t *testing.T) {
	s := openStoreWithoutReadCache(t)
	wantMissing(t, s, 0, "k")
	s.views.retireStale(s.sync.writes.Load())
	if currentShared(s) == nil {
		t.Fatal("a current transaction was retired")
	}
	held := currentShared(s)
	mustSetPlain(t, s, 0, "k", "v")
	s.views.retireStale(s.sync.writes.Load())
	if currentShared(s) != nil || !discarded(held) {
		t.Fatal("an outdated transaction was kept")
	}
}

// A read that starts after a write returned sees it, with readers and
// writers running at once: each writer publishes the counter it wrote only
// after Set returned, and no reader may then read an older one.
func TestSharedReadsSeeEveryAcknowledgedWrite(t *testing.T) {
	s := openStoreWithoutReadCache(t)
	const writers, readers, rounds = 2, 4, 400
	var published [writers]atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, readers+writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("counter%d", w)
			for i := 1; i <= rounds; i++ {
				if _, err := s.Set(0, b(key), b(strconv.Itoa(i)), SetArgs{}); err != nil {
					errs <- err
					return
				}
				published[w].Store(int64(i))
			}
		}()
	}
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				w := (r + i) % writers
				floor := published[w].Load()
				v, ok, err := s.Get(0, b(fmt.Sprintf("counter%d", w)))
				if err != nil {
					errs <- err
					return
				}
				got := int64(0)
				if ok {
					got, _ = strconv.ParseInt(string(v), 10, 64)
				}
				if got < floor {
					errs <- fmt.Errorf("read counter%d = %d after %d was acknowledged", w, got, floor)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A value-log GC pass commits through badger's own transactions, which
// kvd does not count, and then deletes the file older versions point to.
// Reads during the pass therefore open transactions of their own: here the
// stand-in pass deletes the key, and a read during it must not be served
// by the shared transaction opened before, which still holds it.
func TestReadsDuringAValueLogGCPassOpenTheirOwnTransactions(t *testing.T) {
	s := openStoreWithoutReadCache(t)
	mustSetPlain(t, s, 0, "k", "v")
	wantValue(t, s, 0, "k", "v")
	before := currentShared(s)
	s.valueLogGC = func(float64) error {
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(encodeKey(s.nsOf[0], b("k"))) }); err != nil {
			return err
		}
		wantMissing(t, s, 0, "k")
		if currentShared(s) != nil {
			t.Error("a read during the pass left a shared transaction")
		}
		return nil
	}
	s.valueLogGCPass()
	if !discarded(before) {
		t.Fatal("the shared transaction from before the pass was not retired")
	}
	wantMissing(t, s, 0, "k")
}

// A panic in a write (a bug) may come after its commit applied, so it
// counts as a write: shared reads then retire the transaction they had.
func TestAPanickingWriteRetiresTheSharedTransaction(t *testing.T) {
	s := openStoreWithoutReadCache(t)
	wantMissing(t, s, 0, "k")
	before := currentShared(s)
	func() {
		defer func() { recover() }()
		s.update(0, [][]byte{b("k")}, func(x *Txn) error { panic("boom") })
	}()
	wantMissing(t, s, 0, "k")
	if currentShared(s) == before {
		t.Fatal("the read after a panicking write used the transaction from before it")
	}
}

// With the read cache on, GETs read through transactions of their own
// (readcache.go), so nothing is shared: a client could otherwise see a
// commit through one and then miss it through the older shared one.
func TestNothingIsSharedWithTheReadCacheOn(t *testing.T) {
	s, _ := openTestStore(t) // the tests' options put a read cache in front
	mustSetPlain(t, s, 0, "k", "v")
	wantValue(t, s, 0, "k", "v")
	if _, err := s.MGet(0, bs("k", "other")); err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(func(st *Store) error { _, _, err := st.Get(0, b("k")); return err }); err != nil {
		t.Fatal(err)
	}
	if currentShared(s) != nil {
		t.Fatal("a read shared a transaction with the read cache on")
	}
}
