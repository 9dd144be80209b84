package engine

import (
	"sync"
	"sync/atomic"
	"time"
)

// groupSync shares fsyncs between writers. Under appendfsync always, every
// writer that committed waits for a sync that *started* after its commit;
// all writers that arrive while one sync runs are covered by the next one,
// so N concurrent clients cost about one fsync per round, not N.
//
// badger's db.Sync syncs the current memtable's WAL and the value log. A
// memtable that was just rotated and not yet flushed has a short window that
// this does not cover; see docs/engine.md.
type groupSync struct {
	syncFn func() error

	mu      sync.Mutex
	cond    *sync.Cond
	started uint64 // syncs begun
	done    uint64 // the last sync finished (syncs run one at a time)
	running bool
	lastErr error

	pol      atomic.Int32
	writes   atomic.Uint64 // commits so far, so that idle ticks skip syncing
	lastUnix atomic.Int64
}

func newGroupSync(fn func() error) *groupSync {
	g := &groupSync{syncFn: fn}
	g.cond = sync.NewCond(&g.mu)
	g.lastUnix.Store(time.Now().Unix())
	return g
}

func (g *groupSync) policy() FsyncPolicy     { return FsyncPolicy(g.pol.Load()) }
func (g *groupSync) setPolicy(p FsyncPolicy) { g.pol.Store(int32(p)) }
func (g *groupSync) noteWrite()              { g.writes.Add(1) }
func (g *groupSync) last() time.Time         { return time.Unix(g.lastUnix.Load(), 0) }

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
	for g.done < need {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		mine := g.started
		g.mu.Unlock()
		err := g.syncFn()
		g.mu.Lock()
		g.running = false
		g.done = mine
		g.lastErr = err
		if err == nil {
			g.lastUnix.Store(time.Now().Unix())
		}
		g.cond.Broadcast()
	}
	return g.lastErr
}
