package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func TestReopenKeepsValuesAndDeadlines(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s, c := openStoreAt(t, dir, clock)
	d := clock.Ms() + 1500
	mustSetPlain(t, s, 0, "plain", "v")
	mustSet(t, s, 0, "ttl", "t", Expiry{Mode: ExpiryAt, Ms: d})
	mustSetPlain(t, s, 7, "db7", "seven")
	if _, err := s.IncrBy(0, b("n"), 42); err != nil {
		t.Fatal(err)
	}
	mustSetPlain(t, s, 0, "deleted", "x")
	s.Del(0, bs("deleted"))
	if err := c.close(); err != nil {
		t.Fatal(err)
	}

	s, _ = openStoreAt(t, dir, clock)
	wantValue(t, s, 0, "plain", "v")
	wantValue(t, s, 0, "ttl", "t")
	wantDeadline(t, s, 0, "ttl", d)
	wantDeadline(t, s, 0, "plain", 0)
	wantValue(t, s, 7, "db7", "seven")
	wantMissing(t, s, 0, "db7")
	wantValue(t, s, 0, "n", "42")
	wantMissing(t, s, 0, "deleted")
	clock.Advance(1500 * time.Millisecond)
	wantValue(t, s, 0, "ttl", "t")
	clock.Advance(time.Millisecond)
	wantMissing(t, s, 0, "ttl")
}

func TestReopenKeepsDatabaseMap(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s, c := openStoreAt(t, dir, clock)
	for db := 0; db < 4; db++ {
		mustSetPlain(t, s, db, "who", fmt.Sprintf("db%d", db))
	}
	if err := s.FlushDB(2); err != nil {
		t.Fatal(err)
	}
	if err := s.SwapDB(0, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.SwapDB(1, 3); err != nil { // db1 (old db0) <-> db3
		t.Fatal(err)
	}
	mustSetPlain(t, s, 2, "fresh", "after flush")
	check := func(s *Store) {
		t.Helper()
		wantValue(t, s, 0, "who", "db1")
		wantValue(t, s, 1, "who", "db3")
		wantValue(t, s, 3, "who", "db0")
		wantMissing(t, s, 2, "who")
		wantValue(t, s, 2, "fresh", "after flush")
	}
	check(s)
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	s, c = openStoreAt(t, dir, clock)
	check(s)

	// FLUSHALL survives a restart too, and the namespaces never come back.
	if err := s.FlushAll(); err != nil {
		t.Fatal(err)
	}
	mustSetPlain(t, s, 1, "post", "flushall")
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	s, _ = openStoreAt(t, dir, clock)
	for db := 0; db < 4; db++ {
		wantMissing(t, s, db, "who")
	}
	wantMissing(t, s, 2, "fresh")
	wantValue(t, s, 1, "post", "flushall")
}

// A restart with fewer databases must not orphan the data of the others:
// it is there again when they come back.
func TestReopenWithFewerDatabases(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s, c := openStoreAt(t, dir, clock, func(o *Options) { o.Databases = 4 })
	mustSetPlain(t, s, 3, "k", "db3")
	mustSetPlain(t, s, 0, "k", "db0")
	c.close()
	s, c = openStoreAt(t, dir, clock, func(o *Options) { o.Databases = 2 })
	_, _, err := s.Get(3, b("k"))
	wantErr(t, "Get(db 3) with 2 databases", err, ErrDBIndex)
	wantValue(t, s, 0, "k", "db0")
	c.close()
	s, _ = openStoreAt(t, dir, clock, func(o *Options) { o.Databases = 8 })
	wantValue(t, s, 3, "k", "db3")
	wantMissing(t, s, 7, "k")
	mustSetPlain(t, s, 7, "k", "db7")
	wantValue(t, s, 3, "k", "db3")
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s, _ := openStoreAt(t, dir, clock)
	mustSetPlain(t, s, 0, "k", "v")
	s2, err := Open(testOptions(dir, clock))
	if err == nil {
		s2.Close()
		t.Fatal("a second Open on the same directory succeeded")
	}
	// The first store is unaffected.
	wantValue(t, s, 0, "k", "v")
	mustSetPlain(t, s, 0, "k2", "v2")
}

// rawCount counts badger entries under prefix, as the sweeper would see them.
func rawCount(t *testing.T, s *Store, prefix []byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func garbageList(t *testing.T, s *Store) []uint32 {
	t.Helper()
	var g []uint32
	if err := s.db.View(func(txn *badger.Txn) error {
		var err error
		g, err = readGarbage(txn)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return g
}

func fillDB(t *testing.T, s *Store, db, n int, prefix string) {
	t.Helper()
	const chunk = 2000
	for i := 0; i < n; i += chunk {
		var pairs [][]byte
		for j := i; j < min(i+chunk, n); j++ {
			pairs = append(pairs, b(fmt.Sprintf("%s%06d", prefix, j)), b("value"))
		}
		if _, err := s.MSet(db, pairs, false); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSweepDeletesFlushedNamespaces(t *testing.T) {
	s, _ := openTestStore(t)
	// More than one sweep batch in db0, a few keys in db1 and db2.
	big := sweepBatch + 500
	fillDB(t, s, 0, big, "k")
	fillDB(t, s, 1, 50, "k")
	fillDB(t, s, 2, 30, "k")
	s.mapMu.RLock()
	ns0, ns1, ns2 := s.nsOf[0], s.nsOf[1], s.nsOf[2]
	s.mapMu.RUnlock()
	if n := rawCount(t, s, nsPrefix(ns0)); n != big {
		t.Fatalf("raw keys in ns %d = %d, want %d", ns0, n, big)
	}
	if err := s.FlushDB(0); err != nil {
		t.Fatal(err)
	}
	if err := s.SwapDB(1, 2); err != nil { // a swap frees nothing
		t.Fatal(err)
	}
	if g := garbageList(t, s); len(g) != 1 || g[0] != ns0 {
		t.Fatalf("garbage after FLUSHDB 0 = %v, want [%d]", g, ns0)
	}
	// Until the sweep the keys are unreachable but still stored.
	if n := rawCount(t, s, nsPrefix(ns0)); n != big {
		t.Fatalf("raw keys before the sweep = %d", n)
	}
	if err := s.sweepGarbage(); err != nil {
		t.Fatalf("sweepGarbage: %v", err)
	}
	if n := rawCount(t, s, nsPrefix(ns0)); n != 0 {
		t.Fatalf("raw keys in the flushed ns %d after the sweep = %d, want 0", ns0, n)
	}
	if g := garbageList(t, s); len(g) != 0 {
		t.Fatalf("garbage after the sweep = %v", g)
	}
	if n := rawCount(t, s, nsPrefix(ns1)); n != 50 {
		t.Fatalf("the sweep touched a live namespace: %d keys in ns %d, want 50", n, ns1)
	}
	if n := rawCount(t, s, nsPrefix(ns2)); n != 30 {
		t.Fatalf("the sweep touched a live namespace: %d keys in ns %d, want 30", n, ns2)
	}
	if n, _, _ := s.DBStats(1); n != 30 {
		t.Fatalf("DBStats(1) after swap = %d, want 30", n)
	}
	if n, _, _ := s.DBStats(0); n != 0 {
		t.Fatalf("DBStats(0) = %d", n)
	}
	// Nothing to do: a no-op.
	if err := s.sweepGarbage(); err != nil {
		t.Fatal(err)
	}
}

// The garbage list is persisted: a FLUSHALL before a restart is swept after.
func TestSweepAfterRestart(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s, c := openStoreAt(t, dir, clock)
	fillDB(t, s, 0, 100, "a")
	fillDB(t, s, 5, 100, "b")
	old := append([]uint32(nil), s.nsOf...)
	if err := s.FlushAll(); err != nil {
		t.Fatal(err)
	}
	mustSetPlain(t, s, 0, "kept", "v")
	c.close()

	s, _ = openStoreAt(t, dir, clock)
	if g := garbageList(t, s); len(g) != len(old) {
		t.Fatalf("garbage after restart = %v, want the %d old namespaces", g, len(old))
	}
	if err := s.sweepGarbage(); err != nil {
		t.Fatal(err)
	}
	for _, ns := range old {
		if n := rawCount(t, s, nsPrefix(ns)); n != 0 {
			t.Fatalf("ns %d still holds %d keys after the sweep", ns, n)
		}
	}
	wantValue(t, s, 0, "kept", "v")
	if g := garbageList(t, s); len(g) != 0 {
		t.Fatalf("garbage after the sweep = %v", g)
	}
}

// A FLUSHDB that happens while the sweeper works is not lost from the list.
func TestSweepKeepsGarbageQueuedMeanwhile(t *testing.T) {
	s, _ := openTestStore(t)
	fillDB(t, s, 0, 20, "k")
	fillDB(t, s, 1, 20, "k")
	ns1 := s.nsOf[1]
	if err := s.FlushDB(0); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.sweepGarbage() }()
	if err := s.FlushDB(1); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Either the first sweep took ns1 too, or it is still queued.
	if rawCount(t, s, nsPrefix(ns1)) != 0 {
		if g := garbageList(t, s); len(g) != 1 || g[0] != ns1 {
			t.Fatalf("ns %d is neither swept nor queued: garbage = %v", ns1, g)
		}
	}
	if err := s.sweepGarbage(); err != nil {
		t.Fatal(err)
	}
	if n := rawCount(t, s, nsPrefix(ns1)); n != 0 {
		t.Fatalf("ns %d holds %d keys after a second sweep", ns1, n)
	}
}

// DiskSize counts the files themselves: badger's Size reads its metrics,
// which the store turns off, and would report 0.
func TestDiskSizeCountsTablesAndValueLog(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s, c := openStoreAt(t, dir, clock)
	fillDB(t, s, 0, 2000, "k")
	if err := c.close(); err != nil { // flushes the memtable to a table
		t.Fatal(err)
	}
	s, _ = openStoreAt(t, dir, clock)
	lsm, vlog := s.DiskSize()
	if lsm <= 0 || vlog <= 0 {
		t.Fatalf("DiskSize = %d, %d; want both positive after a flushed table", lsm, vlog)
	}
}
