package main

import (
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/kvd/kvd/engine"
)

// softMemoryLimit is the Go heap limit kvd sets unless GOMEMLIMIT is given:
// badger's and the read cache's fixed memory (memtables, caches) plus
// builderHeadroom. GOGC alone lets the heap reach twice the live heap; the
// limit caps it below that when the live heap is large (big caches, many
// table builders at once). It is not what returns memory after a burst of
// writes: the trimmer (memory.go) does that. It is soft: when live memory
// needs more, Go lets the heap grow, but only after collecting as often as
// its CPU cap allows.
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

// logHeapLimit logs msg with the heap limit and the cgroup's limit: a
// warning, with advice, when the heap limit is below badger's fixed memory.
func logHeapLimit(opts engine.Options, cgroup int64, log *slog.Logger, msg string, attrs ...any) {
	limit, fixed := heapLimit(opts, cgroup), softMemoryLimit(opts)-builderHeadroom
	attrs = append(append([]any{"cgroup_limit", cgroup}, attrs...), "heap_limit", limit)
	if limit < fixed {
		log.Warn(msg+"; it leaves less heap than kvd's memtables and caches need: lower --memtable-size or --index-cache-size, or raise the cgroup's limit",
			append(attrs, "fixed_memory", fixed)...)
		return
	}
	log.Info(msg, attrs...)
}

// cgroupLimitFollower keeps the heap limit fitted to the cgroup's memory
// limit while kvd runs: `docker update --memory` and a Kubernetes in-place
// resize change the limit of a running container, and a heap limit fitted
// to the old one would let the heap reach a lowered limit (an OOM kill) or
// keep collecting hard under a raised one. Reading the limit is a few small
// files under /proc and /sys. A read that fails keeps the last limit: a
// process short of file descriptors must not lift its own cap.
type cgroupLimitFollower struct {
	opts     engine.Options
	log      *slog.Logger
	interval time.Duration
	// read and setLimit are cgroupMemoryLimit("/") and
	// debug.SetMemoryLimit; tests replace them.
	read     func() (int64, error)
	setLimit func(int64)

	limit  int64 // the cgroup limit the heap limit was last fitted to
	failed bool  // the last read failed (logged once per run of failures)
}

// cgroupCheckInterval: how often the cgroup's limit is read again.
const cgroupCheckInterval = 10 * time.Second

func newCgroupLimitFollower(opts engine.Options, log *slog.Logger) *cgroupLimitFollower {
	return &cgroupLimitFollower{opts: opts, log: log, interval: cgroupCheckInterval,
		read:     func() (int64, error) { return cgroupMemoryLimit("/") },
		setLimit: func(v int64) { debug.SetMemoryLimit(v) }}
}

// start sets the heap limit (heapLimit) for the cgroup's limit now, and
// says so when the cgroup lowered it; if the limit cannot be read, for
// none, as outside any container, until a read succeeds.
func (f *cgroupLimitFollower) start() {
	limit, err := f.read()
	if err != nil {
		f.log.Warn("cannot read the cgroup's memory limit; the Go heap limit ignores it until a read succeeds", "err", err)
		f.failed = true
	}
	f.limit = limit
	heap := heapLimit(f.opts, limit)
	f.setLimit(heap)
	if heap < softMemoryLimit(f.opts) {
		logHeapLimit(f.opts, limit, f.log, "Go heap limit capped at three quarters of the cgroup's memory limit (GOMEMLIMIT overrides)")
	}
}

// run fits it again every interval, until stop is closed.
func (f *cgroupLimitFollower) run(stop <-chan struct{}) {
	every(f.interval, stop, func() { f.check() })
}

// check reads the cgroup's limit again and refits the heap limit if that
// moves it; it reports whether it did. A changed cgroup limit that leaves
// the heap limit where it was (any above ~680 MiB with the defaults) is
// remembered without a word.
func (f *cgroupLimitFollower) check() bool {
	limit, err := f.read()
	if err != nil {
		if !f.failed {
			f.log.Warn("cannot read the cgroup's memory limit; keeping the Go heap limit fitted to the last one read", "err", err)
		}
		f.failed = true
		return false
	}
	f.failed = false
	was := f.limit
	f.limit = limit
	heap := heapLimit(f.opts, limit)
	if heap == heapLimit(f.opts, was) {
		return false
	}
	f.setLimit(heap)
	logHeapLimit(f.opts, limit, f.log, "the cgroup's memory limit changed (0: none); Go heap limit refitted", "was", was)
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
