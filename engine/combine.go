package engine

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// Combining writes to a hot key. Writes to one key are serialized by its
// stripe lock, and each used to pay a whole badger transaction and a
// round trip through badger's writer goroutine while holding it: fifty
// clients doing LPUSH on one list, INCR on one rate-limit counter or HSET
// on one hash ran one commit at a time. Now a write whose keys all fall in
// one stripe queues on that stripe; the first to arrive becomes the
// combiner, takes the stripe lock and runs its own write and every write
// queued meanwhile in one transaction, commits once, and hands each its
// result. Each write is still atomic and sees the ones before it; the
// replies go out after the commit, so the order is linearizable.
//
// A write that fails after writing part of its change (badger cannot undo
// half of a transaction), or a transaction that grows too big, discards the
// round; its writes then run again one by one, each in its own
// transaction, as before. Operations' callbacks reset their outputs when
// they start (see Del, SAdd), so running one twice is safe.
//
// Fairness: the combiner serves one round and then passes the role to the
// next waiter through the stripe mutex, not directly, so multi-key writes
// and batches waiting for the same stripe get their turn.

// maxCombine bounds one round: a bigger transaction holds the stripe longer
// and risks badger's size limit.
const maxCombine = 64

type combineQueue struct {
	mu      sync.Mutex
	active  bool // a combiner is serving the stripe: queue, do not lock
	pending []*combinedOp
}

// combinedOp is one write waiting for (or run by) a combiner.
type combinedOp struct {
	db      int
	targets []lockKey
	fn      func(x *Txn) error
	done    chan combineResult // nil for the combiner's own write
}

type combineResult struct {
	committed bool
	err       error
	lead      bool // not a result: the receiver is the next combiner
}

// singleStripe reports the stripe all targets hash to, if there is one.
func (s *Store) singleStripe(targets []lockKey) (int, bool) {
	if len(targets) == 0 {
		return 0, false
	}
	id := s.locks.stripe(s.nsOf[targets[0].db], targets[0].key)
	for _, t := range targets[1:] {
		if s.locks.stripe(s.nsOf[t.db], t.key) != id {
			return 0, false
		}
	}
	return id, true
}

// combinedCommit runs op through stripe id's combiner, becoming it when
// none is serving. The caller holds mapMu shared.
func (s *Store) combinedCommit(id int, op *combinedOp) (bool, error) {
	q := &s.locks.queues[id]
	q.mu.Lock()
	if !q.active {
		q.active = true
		q.mu.Unlock()
		s.locks.stripes[id].Lock()
		return s.lead(id, op)
	}
	op.done = make(chan combineResult, 1)
	q.pending = append(q.pending, op)
	q.mu.Unlock()
	r := <-op.done
	if !r.lead {
		return r.committed, r.err
	}
	s.locks.stripes[id].Lock()
	return s.lead(id, op)
}

// lead serves one round on stripe id, whose lock it holds: own first, then
// what is queued. It leaves the lock to the next waiter, or frees it.
func (s *Store) lead(id int, own *combinedOp) (bool, error) {
	q := &s.locks.queues[id]
	q.mu.Lock()
	n := min(len(q.pending), maxCombine-1)
	if n == 0 {
		// Nobody queued: the common case, without a round's allocations.
		q.active = false
		q.mu.Unlock()
		defer s.locks.stripes[id].Unlock() // a panicking write must not keep it
		return s.commitNotify(id, own.db, own.targets, own.fn)
	}
	round := make([]*combinedOp, 0, n+1)
	round = append(round, own)
	round = append(round, q.pending[:n]...)
	q.pending = q.pending[n:]
	q.mu.Unlock()

	results := s.safeRound(id, round)
	s.combinedWrites.Add(int64(len(round) - 1))
	for i, op := range round[1:] {
		op.done <- results[i+1]
	}

	q.mu.Lock()
	var next *combinedOp
	if len(q.pending) > 0 {
		next = q.pending[0]
		q.pending = q.pending[1:]
	} else {
		q.active = false
	}
	if len(q.pending) == 0 {
		q.pending = nil // do not keep a burst's backing array
	}
	q.mu.Unlock()
	s.locks.stripes[id].Unlock()
	if next != nil {
		next.done <- combineResult{lead: true}
	}
	return results[0].committed, results[0].err
}

// safeRound is commitRound that survives a panic in one of the writes (a
// bug): the round runs on this goroutine for writers waiting on others, who
// would otherwise wait forever, with the stripe locked. Every writer of
// the round gets an error; nothing of the round was committed unless the
// panic came after the commit.
func (s *Store) safeRound(id int, round []*combinedOp) (results []combineResult) {
	defer func() {
		if r := recover(); r != nil {
			s.opts.Logger.Error("panic in a combined write", "panic", r, "stack", string(debug.Stack()))
			s.sync.noteWrite(true) // the commit may have applied, as in safeShared
			results = make([]combineResult, len(round))
			for i := range results {
				results[i].err = fmt.Errorf("engine: internal error in a combined write: %v", r)
			}
		}
	}()
	return s.commitRound(id, round)
}

// commitRound runs round's writes in one transaction and commits it,
// notifying the watcher of the keys of the writes that changed something.
// When the round cannot commit whole, each write runs alone.
func (s *Store) commitRound(id int, round []*combinedOp) []combineResult {
	results := make([]combineResult, len(round))
	if err := s.tryRound(round, results); err == nil {
		return results
	}
	for i, op := range round {
		committed, err := s.commitNotify(id, op.db, op.targets, op.fn)
		results[i] = combineResult{committed: committed, err: err}
	}
	return results
}

// errRoundBroken: a write of the round failed after writing, so the round's
// transaction cannot commit.
var errRoundBroken = errors.New("engine: combined round broken")

func (s *Store) tryRound(round []*combinedOp, results []combineResult) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	var wrote []lockKey
	var all writeCount
	now := s.nowMs()
	for i, op := range round {
		var writes writeCount
		err := op.fn(&Txn{t: txn, s: s, ns: s.nsOf[op.db], now: now, writes: &writes})
		if brokeShared(err, writes.entries > 0) {
			return errRoundBroken
		}
		results[i] = combineResult{committed: err == nil && writes.entries > 0, err: err}
		if results[i].committed {
			wrote = append(wrote, op.targets...)
		}
		all.merge(writes)
	}
	if len(wrote) == 0 {
		return nil
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("commit round: %w", err)
	}
	s.sync.noteWrite(all.valueLog)
	s.notifyWrite(wrote)
	return nil
}
