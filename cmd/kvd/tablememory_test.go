package main

import (
	"errors"
	"math"
	"testing"

	"github.com/kvd/kvd/engine"
)

const gib = int64(1) << 30

func TestTableMemoryIsTheMemoryLeftBesideTheHeap(t *testing.T) {
	const heap = 512 << 20
	cases := []struct {
		name            string
		cgroup, machine int64
		want            int64
	}{
		{"a machine of its own", 0, 24 * gib, 24*gib - heap},
		{"a container's limit", 4 * gib, 24 * gib, 4*gib - heap},
		{"a container's limit above the host's RAM", 64 * gib, 24 * gib, 24*gib - heap},
		{"a cgroup limit, the machine unknown", 4 * gib, 0, 4*gib - heap},
		{"nothing known", 0, 0, 0},
		{"less memory than the heap", 0, heap / 2, 1},
	}
	for _, tc := range cases {
		if got := tableMemory(tc.cgroup, tc.machine, heap); got != tc.want {
			t.Errorf("%s: tableMemory(cgroup %d, machine %d, heap %d) = %d, want %d",
				tc.name, tc.cgroup, tc.machine, heap, got, tc.want)
		}
	}
}

func TestTableMemoryFollowerReadsTheLimitsEachTime(t *testing.T) {
	opts := engine.DefaultOptions(t.TempDir())
	cgroup, err := int64(0), errors.New("too many open files")
	heap := int64(512 << 20)
	f := &tableMemoryFollower{opts: opts,
		readCg:    func() (int64, error) { return cgroup, err },
		machine:   func() int64 { return 24 * gib },
		heapLimit: func() int64 { return heap }}
	check := func(what string, want int64) {
		t.Helper()
		if got := f.current(); got != want {
			t.Fatalf("%s: %d, want %d", what, got, want)
		}
	}
	check("the cgroup unreadable from the start", 24*gib-heap)
	cgroup, err = 2*gib, nil
	heap = 2 * gib / 4 * 3 // the heap limit's follower caps it at 3/4 of the cgroup's
	check("a 2 GiB cgroup", 2*gib-heap)
	cgroup, heap = 8*gib, 512<<20 // docker update --memory 8g
	check("the limit raised to 8 GiB", 8*gib-heap)
	err = errors.New("too many open files")
	check("the cgroup unreadable again: the last limit", 8*gib-heap)
	heap = 3 * gib // GOMEMLIMIT=3GiB
	check("GOMEMLIMIT", 5*gib)
	heap = math.MaxInt64 // GOMEMLIMIT=off
	check("GOMEMLIMIT=off: kvd's own estimate", 8*gib-softMemoryLimit(opts))
}
