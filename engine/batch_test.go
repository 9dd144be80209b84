package engine

import (
	"errors"
	"strconv"
	"sync"
	"testing"
)

func batchKeys(db int, keys ...string) []BatchKey {
	out := make([]BatchKey, len(keys))
	for i, k := range keys {
		out[i] = BatchKey{DB: db, Key: b(k)}
	}
	return out
}

type recordingWatcher struct {
	mu       sync.Mutex
	modified []string
}

func (w *recordingWatcher) Modified(db int, key []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.modified = append(w.modified, string(key))
}

func (w *recordingWatcher) Flushed(int) {}

func TestBatchCommitsOnceAtTheEnd(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "n", "10")
	w := &recordingWatcher{}
	s.SetWatcher(w)
	err := s.Batch(batchKeys(0, "n", "k"), func(st *Store) error {
		if _, err := st.IncrBy(0, b("n"), 5); err != nil {
			return err
		}
		// The batch reads its own writes...
		if v, ok, err := st.Get(0, b("n")); err != nil || !ok || string(v) != "15" {
			t.Errorf("inside the batch Get(n) = %q, %v, %v; want 15", v, ok, err)
		}
		if _, err := st.Set(0, b("k"), b("v"), SetArgs{}); err != nil {
			return err
		}
		// ...and nobody else does before the commit.
		done := make(chan struct{})
		go func() {
			defer close(done)
			if v, ok, err := s.Get(0, b("n")); err != nil || !ok || string(v) != "10" {
				t.Errorf("outside the batch Get(n) = %q, %v, %v; want the old 10", v, ok, err)
			}
		}()
		<-done
		return nil
	})
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	wantValue(t, s, 0, "n", "15")
	wantValue(t, s, 0, "k", "v")
	if got := sortedStrings(bs(w.modified...)); len(got) != 2 || got[0] != "k" || got[1] != "n" {
		t.Fatalf("watcher saw %q, want k and n", got)
	}
}

func TestBatchErrorWithoutWritesKeepsTheBatch(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "s", "not a number")
	err := s.Batch(batchKeys(0, "s", "k"), func(st *Store) error {
		if _, err := st.IncrBy(0, b("s"), 1); !errors.Is(err, ErrNotInteger) {
			t.Errorf("IncrBy(s) = %v, want ErrNotInteger", err)
		}
		if _, err := st.ListPush(0, b("s"), ListLeft, bs("x"), false); !errors.Is(err, ErrWrongType) {
			t.Errorf("ListPush(s) = %v, want ErrWrongType", err)
		}
		_, err := st.Set(0, b("k"), b("v"), SetArgs{})
		return err
	})
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	wantValue(t, s, 0, "k", "v")
	wantValue(t, s, 0, "s", "not a number")
}

func TestBatchOutsideItsKeysCommitsNothing(t *testing.T) {
	cases := map[string]func(st *Store) error{
		"read an unlocked key": func(st *Store) error {
			_, _, err := st.Get(0, b("other"))
			return err
		},
		"write an unlocked key": func(st *Store) error {
			_, err := st.Set(0, b("other"), b("v"), SetArgs{})
			return err
		},
		"same key in another database": func(st *Store) error {
			_, _, err := st.Get(1, b("k"))
			return err
		},
		"scan the keyspace": func(st *Store) error {
			_, err := st.Keys(0, nil, ScanFilter{})
			return err
		},
		"flush a database": func(st *Store) error { return st.FlushDB(0) },
		"go exclusive":     func(st *Store) error { return st.Exclusive(func(*Store) error { return nil }) },
	}
	for name, reach := range cases {
		t.Run(name, func(t *testing.T) {
			s, _ := openTestStore(t)
			err := s.Batch(batchKeys(0, "k"), func(st *Store) error {
				if _, err := st.Set(0, b("k"), b("v"), SetArgs{}); err != nil {
					return err
				}
				// A script could catch the error and carry on: the
				// batch must fail anyway.
				_ = reach(st)
				return nil
			})
			if !errors.Is(err, ErrBatchScope) {
				t.Fatalf("Batch = %v, want ErrBatchScope", err)
			}
			wantMissing(t, s, 0, "k")
		})
	}
}

func TestBatchCallerErrorCommitsNothing(t *testing.T) {
	s, _ := openTestStore(t)
	boom := errors.New("boom")
	err := s.Batch(batchKeys(0, "k"), func(st *Store) error {
		if _, err := st.Set(0, b("k"), b("v"), SetArgs{}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Batch = %v, want boom", err)
	}
	wantMissing(t, s, 0, "k")
}

func TestBatchTooBigFailsWholeAndUnbatchedWorks(t *testing.T) {
	s, _ := openTestStore(t)
	var keys []string
	for i := range 200_000 {
		keys = append(keys, "key:"+strconv.Itoa(i))
	}
	set := func(st *Store) error {
		for _, k := range keys {
			if _, err := st.Set(0, b(k), b("v"), SetArgs{}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.Batch(batchKeys(0, keys...), set); !errors.Is(err, ErrBatchScope) {
		t.Fatalf("Batch of %d sets = %v, want ErrBatchScope", len(keys), err)
	}
	wantMissing(t, s, 0, keys[0])
	if err := set(s); err != nil {
		t.Fatalf("unbatched: %v", err)
	}
	wantValue(t, s, 0, keys[len(keys)-1], "v")
}

// Two batches over the same key serialize: increments are not lost.
func TestBatchesOnOneKeySerialize(t *testing.T) {
	s, _ := openTestStore(t)
	inParallel(t, 8, 100, func(int, int) error {
		return s.Batch(batchKeys(0, "n"), func(st *Store) error {
			v, _, err := st.Get(0, b("n"))
			if err != nil {
				return err
			}
			n := 0
			for _, c := range v {
				n = n*10 + int(c-'0')
			}
			_, err = st.Set(0, b("n"), b(strconv.Itoa(n+1)), SetArgs{})
			return err
		})
	})
	wantValue(t, s, 0, "n", "800")
}

// SORT ... BY inside a batch weighs by values the batch itself wrote.
func TestBatchSortStoreSeesTheBatchsWrites(t *testing.T) {
	s, _ := openTestStore(t)
	err := s.Batch(batchKeys(0, "l", "w_1", "w_2", "w_3", "out"), func(st *Store) error {
		if _, err := st.ListPush(0, b("l"), ListLeft, bs("3", "1", "2"), false); err != nil {
			return err
		}
		for _, kv := range [][2]string{{"w_1", "10"}, {"w_2", "5"}, {"w_3", "1"}} {
			if _, err := st.Set(0, b(kv[0]), b(kv[1]), SetArgs{}); err != nil {
				return err
			}
		}
		_, err := st.SortStore(0, b("l"), b("out"), SortArgs{By: b("w_*"), Count: -1})
		return err
	})
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	got, _, err := s.LRange(0, b("out"), 0, -1)
	if err != nil || len(got) != 3 || string(got[0]) != "3" || string(got[1]) != "2" || string(got[2]) != "1" {
		t.Fatalf("sorted by weight = %q, %v; want 3 2 1", got, err)
	}
}

// Batches whose keys share one stripe (pipelines and scripts on one hot
// key) go through the stripe's combiner: they share transactions, and
// every increment lands once.
func TestBatchesOnAHotKeyAreCombined(t *testing.T) {
	s, _ := openTestStore(t)
	const writers, batches, each = 16, 100, 5
	inParallel(t, writers, batches, func(int, int) error {
		return s.Batch(batchKeys(0, "hot"), func(st *Store) error {
			for range each {
				if _, err := st.IncrBy(0, b("hot"), 1); err != nil {
					return err
				}
			}
			return nil
		})
	})
	wantValue(t, s, 0, "hot", strconv.Itoa(writers*batches*each))
	if s.combinedWrites.Load() == 0 {
		t.Fatal("no batch was combined with another")
	}
}
