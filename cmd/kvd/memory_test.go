package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

// fakeHeap stands in for the runtime: a trim returns what the test says
// the collection would find free.
type fakeHeap struct {
	stats    heapStats
	freeable uint64 // what the next trim returns
	trims    int
}

func (h *fakeHeap) trimmer() *memoryTrimmer {
	return &memoryTrimmer{
		read: func() heapStats { return h.stats },
		trim: func() {
			h.trims++
			h.stats.resident -= h.freeable
			h.freeable = 0
		},
	}
}

const mib = 1 << 20

func TestMemoryTrimmerWaitsForAQuietHeap(t *testing.T) {
	h := &fakeHeap{stats: heapStats{resident: 300 * mib}}
	m := h.trimmer()
	h.stats.allocated += quietAllocs // a burst of writes under way
	if m.tick() {
		t.Fatal("trimmed while the heap was allocating at a burst's rate")
	}
	h.stats.allocated += quietAllocs - 1
	h.freeable = 250 * mib
	if !m.tick() || h.stats.resident != 50*mib {
		t.Fatalf("a quiet tick after the burst did not trim (resident %d MiB)", h.stats.resident/mib)
	}
}

// A heap that is large because it is live (configured caches) is trimmed
// once, not every interval.
func TestMemoryTrimmerDoesNotTrimALiveHeapAgain(t *testing.T) {
	h := &fakeHeap{stats: heapStats{resident: 1024 * mib}}
	m := h.trimmer()
	for range 5 {
		m.tick()
	}
	if h.trims != 1 {
		t.Fatalf("%d trims of a heap that neither grew nor returned anything", h.trims)
	}
	h.stats.resident += trimGrowth
	if m.tick() {
		t.Fatal("a 1 GiB heap was trimmed after growing by trimGrowth: that is a collection per few MiB")
	}
	h.stats.resident += 512 * mib
	if !m.tick() {
		t.Fatal("no trim once the heap grew by half")
	}
}

// Light, steady traffic stays under the busy rate and leaves garbage for
// every trim to return; that must not keep the trimmer collecting.
func TestMemoryTrimmerLeavesSteadyLightTrafficToGo(t *testing.T) {
	h := &fakeHeap{stats: heapStats{resident: 1024 * mib}}
	m := h.trimmer()
	m.tick()
	trims := h.trims
	for range 100 {
		h.stats.allocated += 20 * mib
		h.stats.resident += 20 * mib
		h.freeable += 20 * mib
		m.tick()
	}
	if n := h.trims - trims; n > 10 {
		t.Fatalf("%d trims in 100 ticks of 20 MiB each over a 1 GiB heap", n)
	}
}

// The baseline follows the heap down: after a large live heap has gone, a
// burst smaller than that heap is trimmed too.
func TestMemoryTrimmerBaselineFollowsTheHeapDown(t *testing.T) {
	h := &fakeHeap{stats: heapStats{resident: 600 * mib}}
	m := h.trimmer()
	m.tick() // baseline 600 MiB
	h.stats.resident = 40 * mib
	m.tick()
	h.stats.resident = 300 * mib
	h.freeable = 260 * mib
	if !m.tick() {
		t.Fatal("a burst to 300 MiB after the heap fell to 40 MiB was not trimmed")
	}
}

// Buffers badger drops after a trim still count as objects; a trim that
// returned memory is followed by more on the next quiet ticks.
func TestMemoryTrimmerFollowsUpAProductiveTrim(t *testing.T) {
	h := &fakeHeap{stats: heapStats{resident: 200 * mib}}
	m := h.trimmer()
	h.freeable = 100 * mib
	if !m.tick() {
		t.Fatal("no first trim")
	}
	h.freeable = 40 * mib // dropped by badger's pool meanwhile
	if !m.tick() || h.stats.resident != 60*mib {
		t.Fatalf("the follow-up did not trim (resident %d MiB)", h.stats.resident/mib)
	}
	trims := h.trims
	for range 5 {
		m.tick()
	}
	if h.trims != trims+trimFollowUps {
		t.Fatalf("%d trims after the last productive one, want %d", h.trims-trims, trimFollowUps)
	}
}

// The burst before a quiet heap is not traffic: the first trim after it
// is followed up when it returned much.
func TestMemoryTrimmerFollowsUpTheFirstTrimAfterABurst(t *testing.T) {
	h := &fakeHeap{stats: heapStats{resident: 100 * mib}}
	m := h.trimmer()
	m.tick() // baseline
	h.stats.allocated += 2048 * mib
	h.stats.resident += 100 * mib
	m.tick() // the burst
	h.freeable = 80 * mib
	if !m.tick() {
		t.Fatal("no trim on the first quiet tick after the burst")
	}
	h.freeable = 40 * mib // dropped by badger's pool meanwhile
	if !m.tick() {
		t.Fatal("the first trim after a burst was not followed up")
	}
}

func TestMemoryTrimmerRunsUntilStopped(t *testing.T) {
	var trims, reads atomic.Int64
	m := &memoryTrimmer{
		interval: time.Millisecond,
		// A heap that grows by trimGrowth at every reading.
		read: func() heapStats { return heapStats{resident: uint64(reads.Add(1)) * trimGrowth} },
		trim: func() { trims.Add(1) },
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { m.run(stop); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for trims.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the trimmer did not tick")
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the trimmer did not stop")
	}
}

// TestTrimReturnsDeadObjectsToTheOS checks the real pair: garbage that no
// collection has found yet counts as resident, and a trim returns it.
func TestTrimReturnsDeadObjectsToTheOS(t *testing.T) {
	m := newMemoryTrimmer()
	debug.FreeOSMemory() // free pages left by earlier tests would be reused
	before := readHeapStats().resident
	m.run(closedChan()) // reads the allocation counter, returns
	garbage := make([][]byte, 96)
	for i := range garbage {
		garbage[i] = make([]byte, mib)
		garbage[i][0] = 1
	}
	runtime.KeepAlive(garbage)
	garbage = nil
	grown := readHeapStats().resident
	if grown < before+64*mib {
		t.Fatalf("96 MiB of dead objects raised the resident heap from %d to %d MiB only", before/mib, grown/mib)
	}
	m.lastAllocated = readHeapStats().allocated // the garbage was made before the quiet interval
	if !m.tick() {
		t.Fatalf("no trim with a quiet heap grown to %d MiB", grown/mib)
	}
	if after := readHeapStats().resident; after > before+16*mib {
		t.Fatalf("resident heap %d MiB after the trim, %d MiB before the garbage", after/mib, before/mib)
	}
	released := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(released)
	if released[0].Value.Uint64() < 64*mib {
		t.Fatalf("only %d MiB released to the OS", released[0].Value.Uint64()/mib)
	}
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
