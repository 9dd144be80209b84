package main

import (
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoryTrimmerTrimsOnlyAtTheFloor(t *testing.T) {
	var resident uint64
	trims := 0
	m := memoryTrimmer{
		floor:        64 << 20,
		residentHeap: func() uint64 { return resident },
		trim:         func() { trims++ },
	}
	resident = 64<<20 - 1
	if m.tick() || trims != 0 {
		t.Fatalf("trimmed a heap below the floor (%d trims)", trims)
	}
	resident = 64 << 20
	if !m.tick() || trims != 1 {
		t.Fatalf("did not trim a heap at the floor (%d trims)", trims)
	}
}

func TestMemoryTrimmerRunsUntilStopped(t *testing.T) {
	var trims atomic.Int64
	m := memoryTrimmer{
		interval:     time.Millisecond,
		floor:        1,
		residentHeap: func() uint64 { return 2 },
		trim:         func() { trims.Add(1) },
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
	runtime.GC()
	before := residentHeap()
	garbage := make([][]byte, 96)
	for i := range garbage {
		garbage[i] = make([]byte, 1<<20)
		garbage[i][0] = 1
	}
	runtime.KeepAlive(garbage)
	garbage = nil
	grown := residentHeap()
	if grown < before+64<<20 {
		t.Fatalf("96 MiB of dead objects raised the resident heap from %d to %d MiB only", before>>20, grown>>20)
	}
	if !m.tick() {
		t.Fatalf("no trim with a resident heap of %d MiB", grown>>20)
	}
	if after := residentHeap(); after > before+16<<20 {
		t.Fatalf("resident heap %d MiB after the trim, %d MiB before the garbage", after>>20, before>>20)
	}
	released := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(released)
	if released[0].Value.Uint64() < 64<<20 {
		t.Fatalf("only %d MiB released to the OS", released[0].Value.Uint64()>>20)
	}
}
