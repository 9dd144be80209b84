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
// transaction; a transaction grown past badger's limit counts) goes back
// to its owner, who runs it alone in its own transaction as before, and
// the rest of the round runs again without it in a fresh transaction (up
// to maxRoundRetries times). A round whose commit fails sends every unit
// back. A unit that panics gets an error, the others go back. Units must
// set every output on every run (reset them first), so that running one
// twice is as running it once.
//
// A round that runs long (a slow script is one unit) would hold up every
// writer that queues behind it, where before it held up only the writers
// of its own keys. So a writer that finds the current round running for
// longer than shareWaitLimit does not queue: it runs alone, in parallel,
// as writers of different stripes always could; and units of the round
// not yet started by then go back to their owners instead of waiting for
// the commit. The units queued in a slow unit's round still wait for it to
// end (at most maxShare-1 writers; Redis holds every client during a
// script).
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
	// writer to still queue behind it (shared.shareWait, which tests
	// that need rounds to form whatever the machine's speed raise).
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
	sent      bool // not an outcome: already delivered to the owner
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
		q.active, q.since = true, time.Now()
		q.mu.Unlock()
		return s.leadShared(q, u)
	}
	if time.Since(q.since) > s.shareWait {
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
	for i, u := range round[1:] {
		if o := outcomes[i+1]; !o.sent {
			u.done <- o
			if o.committed {
				s.sharedWrites.Add(1)
			}
		}
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
// the others run again alone, since nothing committed. A panic outside
// every unit (in the commit) may come after the commit applied: the units
// of that transaction get an error rather than a second run.
func (s *Store) safeShared(round []*sharedUnit) (outcomes []shareOutcome) {
	outcomes = make([]shareOutcome, len(round))
	at := -1
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		s.opts.Logger.Error("panic in a shared write", "panic", r, "stack", string(debug.Stack()))
		// The commit may have applied: count it, so that shared reads do
		// not go on using a transaction from before it (sharedread.go),
		// and mark the value log as its own noteWrite would have.
		s.sync.noteWrite(true)
		failed := shareOutcome{res: unitResult{err: fmt.Errorf("engine: internal error in a write: %v", r)}}
		for i := range outcomes {
			switch {
			case outcomes[i].sent:
			case at >= 0 && i == at:
				outcomes[i] = failed
			case at >= 0:
				outcomes[i] = shareOutcome{alone: true}
			case !outcomes[i].alone:
				outcomes[i] = failed
			}
		}
	}()
	s.runShared(round, outcomes, &at)
	return outcomes
}

// maxRoundRetries bounds how many times a round runs again without a unit
// that broke it.
const maxRoundRetries = 2

// runShared runs round's units in one transaction and commits it, filling
// outcomes. A unit that breaks the transaction goes back to its owner and
// the others run again without it, in a fresh transaction. Units not
// started when the round has run longer than shareWaitLimit go back to
// their owners without waiting for the commit. *at is the index of the
// unit running, for safeShared.
func (s *Store) runShared(round []*sharedUnit, outcomes []shareOutcome, at *int) {
	start := time.Now()
	todo := make([]int, len(round))
	for i := range todo {
		todo[i] = i
	}
	for attempt := 0; ; attempt++ {
		broken := s.tryShared(round, todo, outcomes, at, start)
		if broken < 0 {
			return
		}
		s.sendBack(round, outcomes, broken)
		if attempt == maxRoundRetries {
			for _, i := range todo {
				s.sendBack(round, outcomes, i)
			}
			return
		}
		kept := todo[:0]
		for _, i := range todo {
			if i != broken && !outcomes[i].alone {
				kept = append(kept, i)
			}
		}
		if todo = kept; len(todo) == 0 {
			return
		}
	}
}

// sendBack tells unit i's owner, at once, to run it alone: nothing of it
// will be committed by this round. The leader's own unit (0) learns it from
// outcomes.
func (s *Store) sendBack(round []*sharedUnit, outcomes []shareOutcome, i int) {
	if outcomes[i].sent {
		return
	}
	outcomes[i] = shareOutcome{alone: true}
	if i > 0 {
		round[i].done <- outcomes[i]
		outcomes[i].sent = true
	}
}

// tryShared runs the units todo names in one transaction and commits it.
// It returns the index of a unit that broke the transaction (nothing is
// committed then), or -1.
func (s *Store) tryShared(round []*sharedUnit, todo []int, outcomes []shareOutcome, at *int, start time.Time) int {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	ran := todo
	for k, i := range todo {
		if k > 0 && time.Since(start) > s.shareWait {
			for _, j := range todo[k:] {
				s.sendBack(round, outcomes, j)
			}
			ran = todo[:k]
			break
		}
		*at = i
		r := round[i].run(txn)
		*at = -1
		if r.broke {
			return i
		}
		outcomes[i] = shareOutcome{res: r}
	}
	wrote := false
	for _, i := range ran {
		wrote = wrote || outcomes[i].res.wrote
	}
	if !wrote {
		return -1
	}
	if err := txn.Commit(); err != nil {
		for _, i := range ran {
			outcomes[i] = shareOutcome{alone: true}
		}
		return -1
	}
	for _, i := range ran {
		outcomes[i].committed = outcomes[i].res.wrote
	}
	return -1
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
