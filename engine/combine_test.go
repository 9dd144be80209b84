package engine

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Writers of one hot key share transactions, and every write lands.
func TestCombinedWritesOnAHotKey(t *testing.T) {
	s, _ := openTestStore(t)
	w := &recordingWatcher{}
	s.SetWatcher(w)
	const writers, each = 32, 200
	inParallel(t, writers, each, func(g, i int) error {
		if _, err := s.IncrBy(0, b("ctr"), 1); err != nil {
			return err
		}
		_, err := s.HSet(0, b("h"), bs(fmt.Sprintf("f%d-%d", g, i), "v"))
		return err
	})
	wantValue(t, s, 0, "ctr", fmt.Sprint(writers*each))
	if n, err := s.HLen(0, b("h")); err != nil || n != writers*each {
		t.Fatalf("HLEN = %d, %v; want %d", n, err, writers*each)
	}
	if s.combinedWrites.Load() == 0 {
		t.Fatal("no write was combined: the test does not exercise combining")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.modified) != 2*writers*each {
		t.Fatalf("watcher saw %d modifications, want one per write (%d)", len(w.modified), 2*writers*each)
	}
}

// A write too big for one transaction fails alone, as it would without
// combining, and the small writes combined with it still land.
func TestCombinedRoundWithATooBigWrite(t *testing.T) {
	s, _ := openTestStore(t)
	var big [][]byte
	for i := range 150_000 {
		big = append(big, b(fmt.Sprintf("field-%d", i)), b("v"))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var small sync.WaitGroup
	const smallWriters = 8
	counts := make([]int, smallWriters)
	for g := range smallWriters {
		small.Add(1)
		go func() {
			defer small.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.HSet(0, b("h"), bs(fmt.Sprintf("s%d-%d", g, counts[g]), "v")); err != nil {
					t.Errorf("small HSET: %v", err)
					return
				}
				counts[g]++
			}
		}()
	}
	wg.Add(1)
	var bigErr error
	go func() {
		defer wg.Done()
		_, bigErr = s.HSet(0, b("h"), big)
	}()
	wg.Wait()
	close(stop)
	small.Wait()
	if !errors.Is(bigErr, ErrTxnTooBig) {
		t.Fatalf("big HSET = %v, want ErrTxnTooBig", bigErr)
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	if n, err := s.HLen(0, b("h")); err != nil || n != int64(total) {
		t.Fatalf("HLEN = %d, %v; want the %d small fields and none of the big write", n, err, total)
	}
}

// A multi-key write that needs a hot stripe gets it while single-key
// writers keep the stripe busy: the combiner passes the stripe on through
// its mutex rather than keeping it.
func TestCombiningDoesNotStarveMultiKeyWrites(t *testing.T) {
	s, _ := openTestStore(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.IncrBy(0, b("hot"), 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	time.Sleep(50 * time.Millisecond)
	for i := range 20 {
		start := time.Now()
		if _, err := s.MSet(0, bs("hot", "7", fmt.Sprintf("other-%d", i), "x"), false); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("MSET with the hot key waited %v", d)
		}
	}
}

// A write that panics (a bug) neither leaves the stripe locked nor strands
// the writers combined with it.
func TestCombinedWritePanicReleasesTheStripe(t *testing.T) {
	s, _ := openTestStore(t)
	boom := func(x *Txn) error {
		if err := x.put(b("k"), record{kind: KindString, payload: b("half")}); err != nil {
			return err
		}
		panic("boom")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				s.IncrBy(0, b("n"), 1) // may share a round with the panicking write
			}
		}()
	}
	for range 50 {
		func() {
			defer func() { recover() }()
			s.update(0, [][]byte{b("n")}, boom)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writers stranded after a panicking write")
	}
	if _, err := s.IncrBy(0, b("n"), 1); err != nil {
		t.Fatalf("the stripe is unusable after a panic: %v", err)
	}
	wantMissing(t, s, 0, "k") // the panicking write's half never committed
}
