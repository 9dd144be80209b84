package engine

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cachedValue reads key twice and checks that the second read was a hit of
// the read cache, so that what follows tests a cached entry going stale.
func cachedValue(t *testing.T, s *Store, db int, key, value string) {
	t.Helper()
	wantValue(t, s, db, key, value)
	hits, _ := s.ReadCacheStats()
	wantValue(t, s, db, key, value)
	if after, _ := s.ReadCacheStats(); after != hits+1 {
		t.Fatalf("second Get(%d, %q) was not served by the read cache (hits %d -> %d)", db, key, hits, after)
	}
}

// Every way of changing a key makes its cached value stale: plain writes,
// batches (pipelines, scripts), combined writes of one stripe, exclusive
// handles (MULTI/EXEC) and the keyspace-wide operations.
func TestReadCacheSeesEveryWritePath(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(s *Store) error
		want  string // "" for missing
	}{
		{"SET", func(s *Store) error { _, err := s.Set(0, b("k"), b("new"), SetArgs{}); return err }, "new"},
		{"APPEND", func(s *Store) error { _, err := s.Append(0, b("k"), b("+")); return err }, "old+"},
		{"DEL", func(s *Store) error { _, err := s.Del(0, bs("k")); return err }, ""},
		{"MSET", func(s *Store) error { _, err := s.MSet(0, bs("a", "1", "k", "new"), false); return err }, "new"},
		{"RENAME", func(s *Store) error {
			mustSetPlain(t, s, 0, "src", "renamed")
			_, err := s.Rename(0, b("src"), b("k"), false)
			return err
		}, "renamed"},
		{"MOVE", func(s *Store) error { _, err := s.Move(0, b("k"), 1); return err }, ""},
		{"batch", func(s *Store) error {
			return s.Batch([]BatchKey{{0, b("k")}, {0, b("other")}}, func(st *Store) error {
				_, err := st.Set(0, b("k"), b("batched"), SetArgs{})
				return err
			})
		}, "batched"},
		{"one-stripe batch", func(s *Store) error {
			return s.Batch([]BatchKey{{0, b("k")}}, func(st *Store) error {
				_, err := st.Set(0, b("k"), b("combined"), SetArgs{})
				return err
			})
		}, "combined"},
		{"exclusive", func(s *Store) error {
			return s.Exclusive(func(st *Store) error {
				_, err := st.Set(0, b("k"), b("exclusive"), SetArgs{})
				return err
			})
		}, "exclusive"},
		{"FLUSHDB", func(s *Store) error { return s.FlushDB(0) }, ""},
		{"FLUSHALL", func(s *Store) error { return s.FlushAll() }, ""},
		{"SWAPDB", func(s *Store) error {
			mustSetPlain(t, s, 1, "k", "from db 1")
			return s.SwapDB(0, 1)
		}, "from db 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTestStore(t)
			mustSetPlain(t, s, 0, "k", "old")
			cachedValue(t, s, 0, "k", "old")
			if err := tc.write(s); err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				wantMissing(t, s, 0, "k")
			} else {
				wantValue(t, s, 0, "k", tc.want)
			}
		})
	}
}

// A missing key is cached as missing, until it is written.
func TestReadCacheRemembersMissingKeys(t *testing.T) {
	s, _ := openTestStore(t)
	wantMissing(t, s, 0, "k")
	hits, _ := s.ReadCacheStats()
	wantMissing(t, s, 0, "k")
	if after, _ := s.ReadCacheStats(); after != hits+1 {
		t.Fatalf("second Get of a missing key missed the cache (hits %d -> %d)", hits, after)
	}
	mustSetPlain(t, s, 0, "k", "now")
	wantValue(t, s, 0, "k", "now")
}

// A cached record keeps its deadline and kind: it expires on time and a
// hash still reads as WRONGTYPE.
func TestReadCacheKeepsExpiryAndKind(t *testing.T) {
	s, clock := openTestStore(t)
	mustSet(t, s, 0, "ttl", "v", Expiry{Mode: ExpiryIn, Ms: 1000})
	cachedValue(t, s, 0, "ttl", "v")
	clock.Advance(1001 * time.Millisecond)
	wantMissing(t, s, 0, "ttl")

	if _, err := s.HSet(0, b("h"), bs("f", "v")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := s.Get(0, b("h")); !errors.Is(err, ErrWrongType) {
			t.Fatalf("Get of a hash: %v, want ErrWrongType", err)
		}
	}
}

// A value handed out is the caller's: changing it does not change what the
// next read returns.
func TestReadCacheHandsOutCopies(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "k", "value")
	for range 2 {
		v, _, err := s.Get(0, b("k"))
		if err != nil {
			t.Fatal(err)
		}
		copy(v, "XXXXX")
	}
	wantValue(t, s, 0, "k", "value")
}

// Reads racing with writes never go back in time: once IncrBy returned n,
// every later Get returns at least n, while other goroutines keep filling
// the cache with what they read just before each commit.
func TestReadCacheNeverServesAValueOlderThanAWrite(t *testing.T) {
	s, _ := openTestStore(t)
	const writers, rounds = 2, 1500
	var stop atomic.Bool
	var readers sync.WaitGroup
	for r := range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for !stop.Load() {
				if _, _, err := s.Get(0, b(fmt.Sprintf("n%d", r%writers))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	inParallel(t, writers, rounds, func(g, i int) error {
		key := b(fmt.Sprintf("n%d", g))
		n, err := s.IncrBy(0, key, 1)
		if err != nil {
			return err
		}
		v, _, err := s.Get(0, key)
		if err != nil {
			return err
		}
		if got, _ := strconv.ParseInt(string(v), 10, 64); got < n {
			return fmt.Errorf("Get after IncrBy returned %d: %d", n, got)
		}
		return nil
	})
	stop.Store(true)
	readers.Wait()
}

// The cache holds about its budget, whatever is read through it.
func TestReadCacheStaysWithinItsBudget(t *testing.T) {
	s, _ := openTestStore(t)
	fillDB(t, s, 0, 20000, "key")
	for i := range 20000 {
		if _, _, err := s.Get(0, b(fmt.Sprintf("key%06d", i))); err != nil {
			t.Fatal(err)
		}
	}
	var total int64
	for i := range s.reads.shards {
		sh := &s.reads.shards[i]
		sh.mu.Lock()
		if sh.bytes > s.reads.budget {
			t.Errorf("shard %d holds %d bytes, budget %d", i, sh.bytes, s.reads.budget)
		}
		total += sh.bytes
		sh.mu.Unlock()
	}
	if total == 0 {
		t.Fatal("nothing was cached")
	}
}

// A snapshot opened with no write in flight reads through the cache; a
// write during the snapshot neither shows in it (even once the cache holds
// the new value) nor leaves the snapshot's older value in the cache for
// later readers.
func TestReadCacheInSnapshots(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "k", "old")
	cachedValue(t, s, 0, "k", "old")
	hits, _ := s.ReadCacheStats()
	err := s.Snapshot(func(st *Store) error {
		wantValue(t, st, 0, "k", "old")
		if after, _ := s.ReadCacheStats(); after != hits+1 {
			t.Errorf("a quiet snapshot's GET missed the cache (hits %d -> %d)", hits, after)
		}
		done := make(chan struct{})
		go func() { // the snapshot holds the map lock shared; so do writers
			defer close(done)
			mustSetPlain(t, s, 0, "k", "new")
			mustSetPlain(t, s, 0, "other", "x")
			cachedValue(t, s, 0, "k", "new") // now the cache holds the new value
		}()
		<-done
		wantValue(t, st, 0, "k", "old")
		wantMissing(t, st, 0, "other")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, 0, "k", "new")
	wantValue(t, s, 0, "other", "x")
}

// A slot's version wrapping around neither leaves a writer "in flight" for
// good nor lets an old entry match a recurring word: the epoch changes.
func TestReadCacheSlotVersionWraps(t *testing.T) {
	c := newReadCache(1 << 20)
	key := b("k")
	slot := c.slotOf(c.hash(key))
	c.slots[slot].Store(0xffff_ffff << 32) // the last version, no writer in flight
	before := c.ticket(key)
	c.fill(before, key, b("old"), true)
	if _, _, hit := c.lookup(key); !hit {
		t.Fatal("no hit before the wrap")
	}
	c.begin(key)
	c.end(key)
	if w := c.slots[slot].Load(); w&inFlightMask != 0 {
		t.Fatalf("slot word %#x after one begin and end: a writer still in flight", w)
	}
	if c.epoch.Load() == before.epoch {
		t.Fatal("the epoch did not change when the version wrapped")
	}
	if _, _, hit := c.lookup(key); hit {
		t.Fatal("an entry from before the wrap was served")
	}
	c.fill(c.ticket(key), key, b("new"), true)
	if raw, _, hit := c.lookup(key); !hit || string(raw) != "new" {
		t.Fatalf("after the wrap: %q, hit %v", raw, hit)
	}
}
