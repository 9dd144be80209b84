package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// groupSync shares fsyncs between writers. Under appendfsync always, every
// writer that committed waits for a sync that *started* after its commit;
// all writers that arrive while one sync runs are covered by the next one,
// so N concurrent clients cost about one fsync per round, not N.
//
// syncFn is the log syncer's (logsync.go): the memtable WALs, rotated ones
// included, without badger's lock, and the value log when valueLog says a
// value went there since the last sync. Only values of ValueThreshold
// (64 KiB) or more do, and an fsync of a value log with nothing new still
// costs a device cache flush: 0.23 ms of a ~1 ms round at 50 clients.
// Skipping it raised SET under appendfsync always by 6-15% at 50 clients
// and 14-27% at one (docs/performance.md, session 6).
type groupSync struct {
	syncFn func(valueLog bool) error

	mu        sync.Mutex
	cond      *sync.Cond
	started   uint64 // syncs begun
	done      uint64 // the last sync finished (syncs run one at a time)
	running   bool
	gathering bool // the sync numbered started has not called syncFn yet
	lastErr   error

	pol      atomic.Int32
	writes   atomic.Uint64 // commits so far, so that idle ticks skip syncing
	valueLog atomic.Bool   // a commit since the last sync began wrote to the value log
	// valueLogBusy counts writers that put values in the value log outside
	// kvd's commit paths (value-log GC passes): every sync includes the
	// value log while one runs.
	valueLogBusy atomic.Int32
	lastUnix     atomic.Int64
}

func newGroupSync(fn func(valueLog bool) error) *groupSync {
	g := &groupSync{syncFn: fn}
	g.cond = sync.NewCond(&g.mu)
	g.lastUnix.Store(time.Now().Unix())
	return g
}

func (g *groupSync) policy() FsyncPolicy     { return FsyncPolicy(g.pol.Load()) }
func (g *groupSync) setPolicy(p FsyncPolicy) { g.pol.Store(int32(p)) }
func (g *groupSync) last() time.Time         { return time.Unix(g.lastUnix.Load(), 0) }

// markValueLog makes the next sync include the value log. Writers of a
// large value call it before their commit as well as after (noteWrite),
// so that a sync starting in between includes it too.
func (g *groupSync) markValueLog() { g.valueLog.Store(true) }

// noteWrite records a commit, and whether it wrote to the value log. It
// must come after the commit and before afterCommit: the sync that covers
// the commit begins after it, so it sees the mark.
func (g *groupSync) noteWrite(valueLog bool) {
	if valueLog {
		g.markValueLog()
	}
	g.writes.Add(1)
}

// waitIdle returns once no sync is running. It starts none.
func (g *groupSync) waitIdle() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.running {
		g.cond.Wait()
	}
}

// afterCommit makes a committed write as durable as the policy demands.
func (g *groupSync) afterCommit() error {
	if g.policy() != FsyncAlways {
		return nil
	}
	return g.wait()
}

// wait returns once a sync that started after the call has finished.
func (g *groupSync) wait() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	need := g.started + 1
	if g.gathering {
		need = g.started // its fsync has not begun: it covers this commit
	}
	for g.done < need {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		mine := g.started
		g.gathering = true
		g.mu.Unlock()
		// Let the writers that are ready to run reach wait and join
		// this sync before it begins. A goroutine in fsync keeps its P
		// until sysmon takes it back, which it may not for a whole
		// fsync: with one P (kvd pinned to one core, or a container
		// with one CPU) the writers committed in the same badger batch
		// as this one could not run until it returned, and each sync
		// covered one writer (~4k SET/s at 50 clients instead of ~17k,
		// docs/performance.md, session 5). Yielding costs nothing when
		// nobody else is ready.
		runtime.Gosched()
		g.mu.Lock()
		g.gathering = false
		g.mu.Unlock()
		// Every writer this sync covers noted its commit before
		// joining, so before this.
		valueLog := g.valueLog.Swap(false) || g.valueLogBusy.Load() > 0
		err := g.syncFn(valueLog)
		g.mu.Lock()
		g.running = false
		g.done = mine
		g.lastErr = err
		if err == nil {
			g.lastUnix.Store(time.Now().Unix())
		} else if valueLog {
			g.valueLog.Store(true) // not known synced: the next sync tries
		}
		g.cond.Broadcast()
	}
	return g.lastErr
}
