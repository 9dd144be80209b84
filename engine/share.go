package engine

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Sharing one transaction among writers of different keys. Each badger
// transaction costs more than the write it carries: a read timestamp (the
// oracle's lock and two watermark goroutines), a commit timestamp, conflict
// bookkeeping, and a round trip through badger's writer goroutine. At fifty
// clients those were about a tenth of kvd's CPU per SET, INCR or script.
//
// So a write, holding its own stripe locks, joins a queue. While a leader
// is running a round (its transaction open or committing), writers that
// arrive wait in the queue; when the round is done the leader hands the role
// to the first of them, who runs everything queued in one transaction and
// commits once. Nobody runs in parallel with a round, so a round never
// waits for a lock: every unit's owner already holds the stripes its unit
// touches, and the stripes of different owners are different.
//
// Each unit is still atomic: it runs whole inside the round, after the
// units before it, and its owner replies after the commit. A unit that
// fails after writing part of its change (badger cannot undo half of a
// transaction), or a round that cannot commit, sends every unit of the
// round back to its owner, who runs it alone in its own transaction as
// before; units reset their outputs when they start, so running one twice
// is safe.
//
// A round that runs long (a slow script is one unit) would hold up every
// writer that queues behind it, where before it held up only the writers
// of its own keys. So a writer that finds the current round running for
// longer than shareWaitLimit does not queue: it runs alone, in parallel,
// as writers of different stripes always could.
//
// The queue is sharded so that as many transactions as there are shards
// can be in flight at once, on machines with the cores to run them. On 2
// cores one queue used the least CPU per write (41 us per EVALSHA against
// 43 with two queues and 46 with four, docs/performance.md).

const (
	// maxShare bounds one round: a bigger transaction keeps its writers
	// waiting longer and risks badger's size limit.
	maxShare = 64
	// maxShareShards bounds how many rounds may be in flight at once.
	maxShareShards = 8
	// shareWaitLimit is how long a round may have been running for a
	// writer to still queue behind it.
	shareWaitLimit = time.Millisecond
)

type shareQueue struct {
	mu      sync.Mutex
	active  bool // a leader is running a round: queue behind it
	pending []*sharedUnit
	// since is when the current round (or the hand-off to its leader)
	// began.
	since time.Time
}

// sharedUnit is one writer's work, waiting for a leader or run by one.
type sharedUnit struct {
	run  func(txn *badger.Txn) unitResult
	done chan shareOutcome // nil for the leader's own unit
}

// unitResult is what running a unit in a transaction did.
type unitResult struct {
	wrote bool  // it put or deleted entries that should be committed
	err   error // its own error, for its caller
	broke bool  // it failed after writing: the transaction cannot commit
}

type shareOutcome struct {
	res       unitResult
	committed bool // the unit's writes are committed
	alone     bool // the round failed: run the unit alone
	lead      bool // not an outcome: the receiver leads the next round
}

// transact runs run in a write transaction, shared with other writers
// when some are waiting, and commits it. It reports whether the unit's
// writes were committed and the unit's error. The caller holds the stripe
// locks of everything run touches, and mapMu shared.
func (s *Store) transact(shard int, run func(txn *badger.Txn) unitResult) (bool, error) {
	q := &s.shares[shard%s.shareShards]
	u := &sharedUnit{run: run}
	q.mu.Lock()
	if !q.active {
		q.active = true
		q.mu.Unlock()
		return s.leadShared(q, u)
	}
	if time.Since(q.since) > shareWaitLimit {
		q.mu.Unlock()
		return s.transactAlone(run)
	}
	u.done = make(chan shareOutcome, 1)
	q.pending = append(q.pending, u)
	q.mu.Unlock()
	o := <-u.done
	switch {
	case o.lead:
		return s.leadShared(q, u)
	case o.alone:
		return s.transactAlone(run)
	}
	return o.committed, o.res.err
}

// leadShared runs one round, own unit first, then hands the role on.
func (s *Store) leadShared(q *shareQueue, own *sharedUnit) (bool, error) {
	q.mu.Lock()
	n := min(len(q.pending), maxShare-1)
	round := make([]*sharedUnit, 0, n+1)
	round = append(round, own)
	round = append(round, q.pending[:n]...)
	q.pending = q.pending[n:]
	q.since = time.Now()
	q.mu.Unlock()

	outcomes := s.safeShared(round)
	s.sharedWrites.Add(int64(len(round) - 1))
	for i, u := range round[1:] {
		u.done <- outcomes[i+1]
	}

	q.mu.Lock()
	var next *sharedUnit
	if len(q.pending) > 0 {
		next = q.pending[0]
		q.pending = q.pending[1:]
		q.since = time.Now()
	} else {
		q.active = false
	}
	if len(q.pending) == 0 {
		q.pending = nil // do not keep a burst's backing array
	}
	q.mu.Unlock()
	if next != nil {
		next.done <- shareOutcome{lead: true}
	}
	if outcomes[0].alone {
		return s.transactAlone(own.run)
	}
	return outcomes[0].committed, outcomes[0].res.err
}

// safeShared is runShared that survives a panic in a unit (a bug): the
// units of other goroutines run here, and their owners would otherwise wait
// forever with their stripes locked. The unit that panicked gets an error;
// the others run again alone.
func (s *Store) safeShared(round []*sharedUnit) (outcomes []shareOutcome) {
	at := -1
	defer func() {
		if r := recover(); r != nil {
			s.opts.Logger.Error("panic in a shared write", "panic", r, "stack", string(debug.Stack()))
			outcomes = make([]shareOutcome, len(round))
			for i := range outcomes {
				outcomes[i].alone = true
			}
			if at >= 0 {
				outcomes[at] = shareOutcome{res: unitResult{err: fmt.Errorf("engine: internal error in a write: %v", r)}}
			}
		}
	}()
	return s.runShared(round, &at)
}

// runShared runs round's units in one transaction and commits it. *at is
// the index of the unit running, for safeShared.
func (s *Store) runShared(round []*sharedUnit, at *int) []shareOutcome {
	outcomes := make([]shareOutcome, len(round))
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	wrote := false
	for i, u := range round {
		*at = i
		r := u.run(txn)
		if r.broke {
			*at = -1
			for j := range outcomes {
				outcomes[j] = shareOutcome{alone: true}
			}
			return outcomes
		}
		outcomes[i].res = r
		wrote = wrote || r.wrote
	}
	*at = -1
	if !wrote {
		return outcomes
	}
	if err := txn.Commit(); err != nil {
		for j := range outcomes {
			outcomes[j] = shareOutcome{alone: true}
		}
		return outcomes
	}
	for i := range outcomes {
		outcomes[i].committed = outcomes[i].res.wrote
	}
	return outcomes
}

// transactAlone runs run in a transaction of its own and commits it.
func (s *Store) transactAlone(run func(txn *badger.Txn) unitResult) (bool, error) {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	r := run(txn)
	if r.err != nil || !r.wrote {
		return false, r.err
	}
	if err := txn.Commit(); err != nil {
		return false, fmt.Errorf("commit: %w", mapBadgerErr(err))
	}
	return true, nil
}
