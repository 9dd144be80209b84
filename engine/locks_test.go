package engine

import (
	"fmt"
	"testing"
)

// TestStripesRarelyJoinUnrelatedMultiKeyWrites checks that the stripe count
// keeps writers of different keys mostly apart: with fifty writers each
// holding the stripes of 10 random keys (redis-benchmark's MSET at 50
// clients), a new 10-key write should find all its stripes free most of the
// time. With 1024 stripes it almost never did (500 keys cover ~396 distinct
// stripes, so ~99% of new writes waited); 16384 stripes give ~26%, with a
// standard deviation of about one point over 2000 trials, well under the
// bound.
func TestStripesRarelyJoinUnrelatedMultiKeyWrites(t *testing.T) {
	locks := newKeyLocks()
	const holders, keysPerWrite, trials = 50, 10, 2000
	held := make(map[int]bool)
	next := 0
	key := func() []byte {
		next++
		return fmt.Appendf(nil, "key:%012d", next*7919)
	}
	for range holders * keysPerWrite {
		held[locks.stripe(0, key())] = true
	}
	waited := 0
	for range trials {
		for range keysPerWrite {
			if held[locks.stripe(0, key())] {
				waited++
				break
			}
		}
	}
	if share := float64(waited) / trials; share > 0.35 {
		t.Fatalf("%.0f%% of new 10-key writes share a stripe with 50 writers in flight; want under 35%%", share*100)
	}
}
