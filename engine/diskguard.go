package engine

import (
	"sync/atomic"
	"syscall"
	"time"
)

// diskGuard refuses writes while the data directory's filesystem is nearly
// full. badger writes through mmap: a write into a mapped page that the
// filesystem cannot back kills the process with SIGBUS, so running out of
// space must be prevented, not handled. The reserve covers what badger may
// still write for writes already accepted: the memtable's WAL, the table a
// flush builds, and compaction output.
type diskGuard struct {
	dir     string
	reserve uint64
	full    atomic.Bool
	checked atomic.Int64 // unix nanoseconds of the last statfs
}

// diskCheckEvery bounds how stale the free-space reading may be: at most
// this much time's worth of writes can land after space ran below the
// reserve, far less than the reserve at any realistic write rate.
const diskCheckEvery = 100 * time.Millisecond

// check returns ErrDiskFull while free space is below the reserve.
func (g *diskGuard) check() error {
	if g.reserve == 0 {
		return nil
	}
	now := time.Now().UnixNano()
	if last := g.checked.Load(); now-last > int64(diskCheckEvery) && g.checked.CompareAndSwap(last, now) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(g.dir, &st); err == nil {
			g.full.Store(st.Bavail*uint64(st.Bsize) < g.reserve)
		}
	}
	if g.full.Load() {
		return ErrDiskFull
	}
	return nil
}
