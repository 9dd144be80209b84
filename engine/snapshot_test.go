package engine

import (
	"errors"
	"testing"
	"time"
)

// Reads through a snapshot handle all see the keyspace as it was when
// Snapshot started, even after another writer's commit.
func TestSnapshotReadsOneMoment(t *testing.T) {
	s, _ := openTestStore(t)
	if _, err := s.Set(0, b("k"), b("before"), SetArgs{}); err != nil {
		t.Fatal(err)
	}
	err := s.Snapshot(func(st *Store) error {
		v, ok, err := st.Get(0, b("k"))
		if err != nil || !ok || string(v) != "before" {
			t.Fatalf("first read: %q %v %v", v, ok, err)
		}
		done := make(chan error)
		go func() { // another client's write, committed meanwhile
			_, err := s.Set(0, b("k"), b("after"), SetArgs{})
			done <- err
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		v, ok, err = st.Get(0, b("k"))
		if err != nil || !ok || string(v) != "before" {
			t.Fatalf("second read: %q %v %v, want the snapshot's value", v, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, 0, "k", "after")
}

// A snapshot handle is for reads of named keys: writes, batches,
// Exclusive and keyspace-wide operations fail with ErrBatchScope, and so
// does Snapshot, having written nothing.
func TestSnapshotRefusesAllButReads(t *testing.T) {
	s, _ := openTestStore(t)
	attempts := map[string]func(st *Store) error{
		"SET": func(st *Store) error {
			_, err := st.Set(0, b("k"), b("v"), SetArgs{})
			return err
		},
		"Batch": func(st *Store) error {
			return st.Batch([]BatchKey{{DB: 0, Key: b("k")}}, func(*Store) error { return nil })
		},
		"Exclusive": func(st *Store) error { return st.Exclusive(func(*Store) error { return nil }) },
		"FLUSHDB":   func(st *Store) error { return st.FlushDB(0) },
	}
	for name, attempt := range attempts {
		var inner error
		err := s.Snapshot(func(st *Store) error {
			inner = attempt(st)
			return nil // the caller ignoring the error does not matter
		})
		if !errors.Is(inner, ErrBatchScope) || !errors.Is(err, ErrBatchScope) {
			t.Errorf("%s in a snapshot: %v, Snapshot: %v; want ErrBatchScope", name, inner, err)
		}
	}
	if _, ok, err := s.Get(0, b("k")); ok || err != nil {
		t.Fatalf("something was written: %v %v", ok, err)
	}
}

// Expiry through a snapshot is judged at the snapshot's moment, as its
// data is: a key with a TTL that another client made persistent after the
// snapshot opened must not read as expired once the old deadline passes.
func TestSnapshotJudgesExpiryAtItsMoment(t *testing.T) {
	s, clock := openTestStore(t)
	if _, err := s.Set(0, b("k"), b("v"), SetArgs{Expiry: Expiry{Mode: ExpiryIn, Ms: 100}}); err != nil {
		t.Fatal(err)
	}
	err := s.Snapshot(func(st *Store) error {
		if _, err := s.Set(0, b("k"), b("w"), SetArgs{}); err != nil { // no TTL now
			t.Fatal(err)
		}
		clock.Advance(200 * time.Millisecond) // past the snapshot's deadline
		v, ok, err := st.Get(0, b("k"))
		if err != nil || !ok || string(v) != "v" {
			t.Fatalf("read through the snapshot: %q %v %v; want v, as at its moment", v, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
