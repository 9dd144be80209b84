package main

import (
	"math"
	"runtime/debug"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/server"
)

// tableMemory is the page cache badger's tables can count on
// (engine.Options.TableMemory): the memory kvd may use, less heap, the Go
// heap limit. That memory is the cgroup's limit or the machine's, whichever
// is smaller (a container's limit may be set above the host's RAM). While
// the tables add up to more, the engine reads them without the kernel's
// readahead, which would otherwise evict as much as every GET reads
// (engine/readahead.go). 0 when neither memory is known.
func tableMemory(cgroup, machine, heap int64) int64 {
	memory := machine
	if cgroup > 0 && (memory <= 0 || cgroup < memory) {
		memory = cgroup
	}
	if memory <= 0 {
		return 0
	}
	return max(memory-heap, 1)
}

// tableMemoryFollower refits the store's TableMemory when the cgroup's
// limit or the heap limit changes (`docker update --memory`, and the heap
// limit's follower after it), every cgroupCheckInterval.
type tableMemoryFollower struct {
	opts      engine.Options
	readCg    func() (int64, error) // cgroupMemoryLimit("/")
	machine   func() int64          // server.SystemMemoryBytes
	heapLimit func() int64          // debug.SetMemoryLimit(-1)

	cgroup int64 // the last cgroup limit read
}

func newTableMemoryFollower(opts engine.Options) *tableMemoryFollower {
	return &tableMemoryFollower{opts: opts,
		readCg:    func() (int64, error) { return cgroupMemoryLimit("/") },
		machine:   server.SystemMemoryBytes,
		heapLimit: func() int64 { return debug.SetMemoryLimit(-1) }}
}

// current is the table memory now. A cgroup limit that cannot be read
// keeps the last one read (none before any read succeeded), as the heap
// limit does: a process short of file descriptors must not raise its own
// budget. The heap is Go's limit as set (by kvd, or GOMEMLIMIT), or kvd's
// own estimate of its heap when GOMEMLIMIT=off removed the limit.
func (f *tableMemoryFollower) current() int64 {
	if cg, err := f.readCg(); err == nil {
		f.cgroup = cg
	}
	heap := f.heapLimit()
	if heap == math.MaxInt64 {
		heap = softMemoryLimit(f.opts)
	}
	return tableMemory(f.cgroup, f.machine(), heap)
}

// run passes the table memory to set (Store.SetTableMemory) every
// cgroupCheckInterval until stop is closed.
func (f *tableMemoryFollower) run(stop <-chan struct{}, set func(int64)) {
	every(cgroupCheckInterval, stop, func() { set(f.current()) })
}
