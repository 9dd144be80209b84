package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverAndBound(t *testing.T) {
	// Buckets are contiguous: each starts right after the previous one ends,
	// and the last one ends at the largest uint64.
	var next uint64
	for i := 0; i < numBuckets; i++ {
		up := bucketUpper(i)
		if up < next {
			t.Fatalf("bucket %d upper %d below its start %d", i, up, next)
		}
		if bucketOf(next) != i || bucketOf(up) != i {
			t.Fatalf("bucket %d: [%d, %d] maps to %d..%d", i, next, up, bucketOf(next), bucketOf(up))
		}
		if i >= subCount {
			if width := up - next + 1; width > next/64+1 {
				t.Fatalf("bucket %d too wide: %d for start %d", i, width, next)
			}
		}
		if up == 1<<64-1 {
			if i != numBuckets-1 {
				t.Fatalf("last bucket is %d, numBuckets %d", i, numBuckets)
			}
			return
		}
		next = up + 1
	}
	t.Fatal("buckets do not reach the largest uint64")
}

func TestQuantileMatchesSortedSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h histogram
	var vals []time.Duration
	for range 100000 {
		d := time.Duration(rng.ExpFloat64() * float64(200*time.Microsecond))
		vals = append(vals, d)
		h.record(d)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.quantile(q)
		if got < exact || float64(got) > float64(exact)*(1+1.0/64)+1 {
			t.Errorf("q%.3f: got %v, exact %v", q, got, exact)
		}
	}
	if h.quantile(1) != vals[len(vals)-1] {
		t.Errorf("q1: got %v want max %v", h.quantile(1), vals[len(vals)-1])
	}
}

func TestSessionJSONIs1KB(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := sessionJSON(nil, 99999, time.Now().Unix(), rng)
	if len(b) != 1024 {
		t.Fatalf("session is %d bytes", len(b))
	}
}
