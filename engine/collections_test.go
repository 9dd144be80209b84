package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// makeTestHash builds a collection of n members directly through the
// collection primitives, as the type families do.
func makeTestHash(t *testing.T, s *Store, db int, key string, n int) collection {
	t.Helper()
	var c collection
	err := s.update(db, [][]byte{[]byte(key)}, func(x *Txn) error {
		c = x.newCollection(KindHash)
		for i := 0; i < n; i++ {
			if err := x.putMember(c.id, []byte(fmt.Sprint("f", i)), []byte("v")); err != nil {
				return err
			}
			c.count++
		}
		return x.saveCollection([]byte(key), c, true)
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func countPrefix(t *testing.T, s *Store, prefix []byte) int {
	t.Helper()
	n := 0
	s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n
}

func TestCollectionSurvivesRenameAndMoveButNotDelete(t *testing.T) {
	s, _ := openTestStore(t)
	c := makeTestHash(t, s, 0, "h", 50)
	if k, _ := s.Type(0, []byte("h")); k != KindHash {
		t.Fatalf("TYPE = %v", k)
	}
	if _, err := s.Rename(0, []byte("h"), []byte("h2"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Move(0, []byte("h2"), 3); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SweepOrphansNow(); err != nil || n != 0 {
		t.Fatalf("a renamed and moved collection was swept: %d %v", n, err)
	}
	if got := countPrefix(t, s, memberPrefix(c.id)); got != 50 {
		t.Fatalf("members after rename+move: %d", got)
	}
	if ok, err := s.Copy(3, []byte("h2"), 3, []byte("h3"), false); err != nil || !ok {
		t.Fatalf("copy: %v %v", ok, err)
	}
	if n, _ := s.Del(3, [][]byte{[]byte("h2")}); n != 1 {
		t.Fatal("del")
	}
	if n, err := s.SweepOrphansNow(); err != nil || n != 1 {
		t.Fatalf("sweep after DEL reclaimed %d (%v), want 1", n, err)
	}
	if got := countPrefix(t, s, memberPrefix(c.id)); got != 0 {
		t.Fatalf("members left after DEL and sweep: %d", got)
	}
	if got := countPrefix(t, s, []byte{prefixMember}); got != 50 {
		t.Fatalf("the copy must keep its own 50 members, found %d", got)
	}
}

func TestOverwrittenExpiredAndFlushedCollectionsAreSwept(t *testing.T) {
	s, clock := openTestStore(t)
	makeTestHash(t, s, 0, "over", 10)
	if _, err := s.Set(0, []byte("over"), []byte("str"), SetArgs{}); err != nil {
		t.Fatal(err)
	}
	makeTestHash(t, s, 0, "exp", 10)
	if _, err := s.Expire(0, []byte("exp"), Expiry{Mode: ExpiryIn, Ms: 1000}, 0); err != nil {
		t.Fatal(err)
	}
	makeTestHash(t, s, 1, "flushed", 10)
	if err := s.FlushDB(1); err != nil {
		t.Fatal(err)
	}
	makeTestHash(t, s, 0, "alive", 10)
	clock.Advance(1001 * time.Millisecond)
	if n, err := s.SweepOrphansNow(); err != nil || n != 3 {
		t.Fatalf("swept %d (%v), want 3", n, err)
	}
	if got := countPrefix(t, s, []byte{prefixMember}); got != 10 {
		t.Fatalf("only the live collection's 10 members must remain, found %d", got)
	}
	if got := countPrefix(t, s, []byte{prefixOwner}); got != 1 {
		t.Fatalf("owner entries left: %d", got)
	}
}

// Ids stay above every id on disk even if the clock is set back across a
// restart: a repeated id would let a new collection inherit a deleted one's
// leftover members.
func TestCollectionIDsSurviveAClockSetBack(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s, closer := openStoreAt(t, dir, clock)
	c := makeTestHash(t, s, 0, "h", 1)
	future := c.id + 1<<50 // as if the ids were made far in the future
	s.ids.last.Store(future)
	c2 := makeTestHash(t, s, 0, "h2", 1)
	if err := closer.close(); err != nil {
		t.Fatal(err)
	}
	s2, _ := openStoreAt(t, dir, clock)
	if got := s2.ids.next(); got <= c2.id {
		t.Fatalf("after reopening, next id %d is not above the stored %d", got, c2.id)
	}
}
