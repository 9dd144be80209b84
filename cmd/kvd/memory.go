package main

import (
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/kvd/kvd/engine"
)

// softMemoryLimit is the Go heap limit kvd sets unless GOMEMLIMIT is given:
// badger's and the read cache's fixed memory (memtables, caches) plus
// builderHeadroom. GOGC alone lets the heap reach twice the live heap; the
// limit caps it below that when the live heap is large (big caches, many
// table builders at once). It is not what returns memory after a burst of
// writes: the trimmer below does that. It is soft: when live memory needs
// more, Go lets the heap grow, but only after collecting as often as its
// CPU cap allows.
func softMemoryLimit(opts engine.Options) int64 {
	return builderHeadroom + int64(opts.NumMemtables)*opts.MemTableSize + opts.BlockCacheSize + opts.IndexCacheSize + opts.ReadCacheSize
}

// heapLimit is the soft heap limit kvd sets when GOMEMLIMIT is not given:
// softMemoryLimit, capped at three quarters of the cgroup's memory limit
// (cgroup; 0 for none). The quarter left is for what the cgroup counts and
// Go's limit does not: badger's memory maps (tables, WAL and value log;
// dirty WAL pages cannot be dropped before they are written back) and the
// kernel's memory for sockets and page tables. Under a tight limit Go
// collects harder, which makes an OOM kill less likely, not impossible.
func heapLimit(opts engine.Options, cgroup int64) int64 {
	limit := softMemoryLimit(opts)
	if cgroup > 0 {
		limit = min(limit, cgroup/4*3)
	}
	return limit
}

// setHeapLimit sets heapLimit and says so when the cgroup's limit lowered
// it, with a warning when it leaves less than badger's fixed memory
// (memtables and caches): the heap then stays at its limit, and Go
// collects as often as its CPU cap allows.
func setHeapLimit(opts engine.Options, cgroup int64, log *slog.Logger) {
	full, limit := softMemoryLimit(opts), heapLimit(opts, cgroup)
	debug.SetMemoryLimit(limit)
	fixed := full - builderHeadroom
	switch {
	case limit < fixed:
		log.Warn("the cgroup's memory limit leaves less heap than kvd's memtables and caches need; lower --memtable-size or --index-cache-size, or raise the limit",
			"heap_limit", limit, "fixed_memory", fixed, "cgroup_limit", cgroup)
	case limit < full:
		log.Info("Go heap limit capped at three quarters of the cgroup's memory limit (GOMEMLIMIT overrides)",
			"heap_limit", limit, "cgroup_limit", cgroup)
	}
}

// cgroupLimitFollower keeps the heap limit fitted to the cgroup's memory
// limit while kvd runs: `docker update --memory` and a Kubernetes in-place
// resize change the limit of a running container, and a heap limit fitted
// to the old one would let the heap reach a lowered limit (an OOM kill) or
// keep collecting hard under a raised one. Reading the limit is a few small
// files under /proc and /sys.
type cgroupLimitFollower struct {
	opts     engine.Options
	log      *slog.Logger
	interval time.Duration
	// read and set are cgroupMemoryLimit("/") and setHeapLimit; tests
	// replace them.
	read func() int64
	set  func(opts engine.Options, cgroup int64, log *slog.Logger)

	limit int64 // the cgroup limit the heap limit was last fitted to
}

// cgroupCheckInterval: how often the cgroup's limit is read again.
const cgroupCheckInterval = 10 * time.Second

func newCgroupLimitFollower(opts engine.Options, log *slog.Logger) *cgroupLimitFollower {
	return &cgroupLimitFollower{opts: opts, log: log, interval: cgroupCheckInterval,
		read: func() int64 { return cgroupMemoryLimit("/") }, set: setHeapLimit}
}

// start fits the heap limit to the cgroup's limit now.
func (f *cgroupLimitFollower) start() {
	f.limit = f.read()
	f.set(f.opts, f.limit, f.log)
}

// run fits it again every interval, until stop is closed.
func (f *cgroupLimitFollower) run(stop <-chan struct{}) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			f.check()
		}
	}
}

// check refits the heap limit if the cgroup's limit changed, and reports
// whether it did. A limit of 0 is none.
func (f *cgroupLimitFollower) check() bool {
	limit := f.read()
	if limit == f.limit {
		return false
	}
	f.log.Info("the cgroup's memory limit changed; fitting the Go heap limit to it (0: no limit)",
		"cgroup_limit", limit, "was", f.limit)
	f.limit = limit
	f.set(f.opts, limit, f.log)
	return true
}

// builderHeadroom is the heap above badger's fixed memory that the soft
// limit leaves for table builders (a memtable flush builds its whole table
// in memory, growing its buffer by doubling; a compaction splits its key
// range into a few subcompactions and builds up to eight tables at once),
// connections and garbage. It was 192 MiB: enough for 100-byte values, but
// under the usage mix (1 KB sessions, bench/mixed) the live heap during
// compactions passed the 256 MiB limit, and Go collected 50-100 times a
// second and returned freed pages that the next memtable took back at a
// page fault each: 21.3-23.5k ops/s, p99 10.6-13.6 ms, against 25.5k and
// 7.4-8.3 ms with a 512 MiB limit, which did as well as none
// (docs/performance.md, session 7). RSS 15 s after a load stays under
// Redis's: the trimmer returns the heap (bench/rss.sh).
const builderHeadroom = 448 << 20

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
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			m.tick()
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
