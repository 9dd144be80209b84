package main

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory trimming: after a burst of writes, the Go heap keeps the memory
// badger's table builders used (each compaction and memtable flush builds
// its tables in buffers of several MiB; badger pools up to 8 of them and
// drops one every 2 s once compactions stop). Go's runtime neither collects
// that garbage nor returns the pages soon: an idle heap is collected only
// every 2 minutes, and the scavenger keeps what the last heap goal allowed.
// After loading 1M keys of 100 bytes, kvd held 119 MB anonymous for 110 s
// and then 68 MB, against 25 MB live. Redis's allocator returns its free
// pages after ~10 s; the trimmer does the same for kvd.
//
// It trims only when the heap is quiet (a burst has ended; under load Go's
// collector and the soft limit govern) and has grown since the last trim,
// so a heap that is large because of configured caches is not collected
// over and over. Which part of the heap is garbage is known only after a
// collection: buffers badger drops after a trim still count as objects, so
// a trim that returned memory is followed by more on the next quiet ticks.
const (
	trimInterval = 5 * time.Second
	// quietAllocs: allocating less than this in an interval is quiet.
	// Compactions and flushes allocate far more; so does serving about
	// 20k requests/s (a few hundred bytes each). Lighter traffic counts
	// as quiet, and the growth and follow-up rules below keep it from
	// causing collection after collection.
	quietAllocs = 32 << 20
	// trimGrowth is how much the resident heap must have grown since the
	// last trim (its low point since, if lower) for a quiet tick to trim;
	// half of that level if more, so that a heap large because it is live
	// (big caches) is collected about as rarely as Go's pacing would.
	trimGrowth = 32 << 20
	// productiveTrim is what a trim must return, beyond what was
	// allocated since the previous trim (or since the heap went quiet, if
	// later: the burst itself is not traffic), for the next quiet ticks to trim
	// again (trimFollowUps of them, renewed while they return as much): a
	// trim that only returns what light traffic allocated meanwhile is
	// not catching dropped buffers.
	productiveTrim = 16 << 20
	trimFollowUps  = 2
)

// heapStats are the readings a trimmer decides on, in bytes.
type heapStats struct {
	resident  uint64 // heap memory backed by physical pages
	allocated uint64 // allocated since the process started
}

// memoryTrimmer returns the heap's free pages to the OS after bursts of
// allocation (debug.FreeOSMemory: a collection, then a release of every
// free page).
type memoryTrimmer struct {
	interval time.Duration
	// read and trim are readHeapStats and debug.FreeOSMemory; tests
	// replace them.
	read func() heapStats
	trim func()

	lastAllocated uint64 // allocated at the last tick
	trimmed       uint64 // resident heap after the last trim, or its low point since
	trimAllocated uint64 // allocated at the last trim
	quiet         bool   // the last tick was quiet
	quietFrom     uint64 // allocated when the heap went quiet
	followUps     int    // quiet ticks left that trim without growth
}

func newMemoryTrimmer() *memoryTrimmer {
	return &memoryTrimmer{interval: trimInterval, read: readHeapStats, trim: debug.FreeOSMemory}
}

// run trims every interval until stop is closed.
func (m *memoryTrimmer) run(stop <-chan struct{}) {
	m.lastAllocated = m.read().allocated
	every(m.interval, stop, func() { m.tick() })
}

// every calls fn every interval until stop is closed.
func every(interval time.Duration, stop <-chan struct{}, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			fn()
		}
	}
}

// tick trims if the heap is quiet and has grown since the last trim or a
// follow-up is due, and reports whether it trimmed.
func (m *memoryTrimmer) tick() bool {
	st := m.read()
	prev := m.lastAllocated
	busy := st.allocated-prev >= quietAllocs
	m.lastAllocated = st.allocated
	if !busy && !m.quiet {
		m.quietFrom = prev
	}
	m.quiet = !busy
	m.trimmed = min(m.trimmed, st.resident)
	grown := st.resident >= m.trimmed+max(trimGrowth, m.trimmed/2)
	if busy || (!grown && m.followUps == 0) {
		return false
	}
	m.trim()
	after := m.read()
	m.lastAllocated = after.allocated
	returned := st.resident - min(st.resident, after.resident)
	if returned >= productiveTrim+(st.allocated-max(m.trimAllocated, m.quietFrom)) {
		m.followUps = trimFollowUps
	} else if m.followUps > 0 {
		m.followUps--
	}
	m.trimmed = after.resident
	m.trimAllocated = after.allocated
	return true
}

// readHeapStats reads the runtime's metrics: resident is objects (live or
// not yet found dead) plus free and unused spans not yet returned.
func readHeapStats() heapStats {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/gc/heap/allocs:bytes"},
	}
	metrics.Read(samples)
	var st heapStats
	for _, s := range samples[:3] {
		st.resident += s.Value.Uint64()
	}
	st.allocated = samples[3].Value.Uint64()
	return st
}
