package engine

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"
)

// The function libraries blob survives closing and reopening the store;
// before any save LoadFunctions returns nil.
func TestFunctionsBlobSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s, c := openStoreAt(t, dir, clock)
	if blob, err := s.LoadFunctions(); err != nil || blob != nil {
		t.Fatalf("LoadFunctions on a new store = %q, %v; want nil, nil", blob, err)
	}
	if err := s.SaveFunctions(b("first")); err != nil {
		t.Fatal(err)
	}
	// Larger than the test ValueThreshold (1 KiB): lives in the value log.
	big := bytes.Repeat([]byte("#!lua name=x\n"), 1000)
	if err := s.SaveFunctions(big); err != nil {
		t.Fatal(err)
	}
	if blob, err := s.LoadFunctions(); err != nil || !bytes.Equal(blob, big) {
		t.Fatalf("LoadFunctions after saves = %d bytes, %v; want the last save", len(blob), err)
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}

	s, c = openStoreAt(t, dir, clock)
	if blob, err := s.LoadFunctions(); err != nil || !bytes.Equal(blob, big) {
		t.Fatalf("LoadFunctions after reopen = %d bytes, %v; want %d bytes", len(blob), err, len(big))
	}
	if err := s.SaveFunctions(b("small again")); err != nil {
		t.Fatal(err)
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	s, _ = openStoreAt(t, dir, clock)
	if blob, err := s.LoadFunctions(); err != nil || string(blob) != "small again" {
		t.Fatalf("LoadFunctions after a second reopen = %q, %v", blob, err)
	}
}

// An empty blob is stored as such: empty and non-nil, unlike "never saved".
func TestFunctionsBlobEmpty(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s, c := openStoreAt(t, dir, clock)
	if err := s.SaveFunctions(b("libs")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveFunctions(nil); err != nil {
		t.Fatal(err)
	}
	if blob, err := s.LoadFunctions(); err != nil || blob == nil || len(blob) != 0 {
		t.Fatalf("LoadFunctions after an empty save = %q (nil %v), %v", blob, blob == nil, err)
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	s, _ = openStoreAt(t, dir, clock)
	if blob, err := s.LoadFunctions(); err != nil || blob == nil || len(blob) != 0 {
		t.Fatalf("LoadFunctions after reopen = %q (nil %v), %v", blob, blob == nil, err)
	}
}

// The blob is no key of any database: SCAN, KEYS, RANDOMKEY and DBSIZE do
// not see it, and FLUSHDB, FLUSHALL and the namespace sweep keep it.
func TestFunctionsBlobOutsideTheKeyspace(t *testing.T) {
	s, _ := openTestStore(t)
	if err := s.SaveFunctions(b("libs")); err != nil {
		t.Fatal(err)
	}
	for db := 0; db < s.Databases(); db++ {
		if keys, next, err := s.Scan(db, nil, 100, ScanFilter{}); err != nil || len(keys) != 0 || next != nil {
			t.Fatalf("SCAN db %d = %q, %q, %v", db, keys, next, err)
		}
		if keys, err := s.Keys(db, nil, ScanFilter{}); err != nil || len(keys) != 0 {
			t.Fatalf("KEYS db %d = %q, %v", db, keys, err)
		}
		if _, ok, err := s.RandomKey(db); err != nil || ok {
			t.Fatalf("RANDOMKEY db %d found a key (%v)", db, err)
		}
		if n, _, err := s.DBStats(db); err != nil || n != 0 {
			t.Fatalf("DBSIZE db %d = %d, %v", db, n, err)
		}
	}
	mustSetPlain(t, s, 0, "k", "v")
	mustSetPlain(t, s, 3, "k", "v")
	if err := s.FlushDB(0); err != nil {
		t.Fatal(err)
	}
	if err := s.FlushAll(); err != nil {
		t.Fatal(err)
	}
	if err := s.sweepGarbage(); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, 3, "k")
	if blob, err := s.LoadFunctions(); err != nil || string(blob) != "libs" {
		t.Fatalf("LoadFunctions after FLUSHDB, FLUSHALL and the sweep = %q, %v", blob, err)
	}
}

// Under appendfsync always, SaveFunctions returns after an fsync, as other
// writes do; under no it does not wait for one. (Not everysec: its
// background loop could sync meanwhile and blur the count.)
func TestSaveFunctionsFollowsFsyncPolicy(t *testing.T) {
	s, _ := openTestStore(t)
	var syncs atomic.Int32
	s.SetFsync(FsyncNo)
	s.sync.mu.Lock() // orders the swap before any later sync's read
	inner := s.sync.syncFn
	s.sync.syncFn = func(v bool) error { syncs.Add(1); return inner(v) }
	s.sync.mu.Unlock()
	if err := s.SaveFunctions(b("a")); err != nil || syncs.Load() != 0 {
		t.Fatalf("SaveFunctions under no: %d syncs, %v", syncs.Load(), err)
	}
	s.SetFsync(FsyncAlways)
	if err := s.SaveFunctions(b("b")); err != nil || syncs.Load() != 1 {
		t.Fatalf("SaveFunctions under always: %d syncs, %v; want 1", syncs.Load(), err)
	}
}

// SaveFunctions is a write: the disk guard refuses it, and the stored blob
// stays as it was.
func TestSaveFunctionsRefusedWhenDiskFull(t *testing.T) {
	s, _ := openTestStore(t)
	if err := s.SaveFunctions(b("kept")); err != nil {
		t.Fatal(err)
	}
	s.disk.reserve = 1 << 62
	s.disk.checked.Store(0)
	if err := s.SaveFunctions(b("lost")); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("SaveFunctions with the disk 'full' = %v, want ErrDiskFull", err)
	}
	if blob, err := s.LoadFunctions(); err != nil || string(blob) != "kept" {
		t.Fatalf("LoadFunctions = %q, %v; want the earlier blob", blob, err)
	}
}
