package engine

import (
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// sharedReads lets single reads (a GET, an HGET) share one badger read
// transaction while no write commits. Opening and discarding a read
// transaction costs two channel sends to badger's watermark goroutine and
// its wake-ups: 7-8% of the CPU of a GET at 50 clients (docs/performance.md,
// session 9).
//
// A shared transaction is labelled with groupSync.writes, the count of
// commits noted, read before it opened. Every commit is noted after it
// returns and before its writer replies (noteWrite), so a reader that finds
// the count still equal to a transaction's label knows that every write
// acknowledged before the read began was committed before that transaction
// opened, and is visible in it. A label lower than the truth only makes a
// transaction retire sooner.
type sharedReads struct {
	mu  sync.Mutex
	cur *sharedRead
	// paused counts value-log GC passes running: reads then open
	// transactions of their own (pause).
	paused atomic.Int32
}

// sharedRead is one shared read transaction.
type sharedRead struct {
	txn    *badger.Txn
	writes uint64 // the commit count read before txn opened
	users  int    // under sharedReads.mu; being current counts as one
}

// readTxn returns the read transaction for a read outside batches and
// exclusive handles: the shared one, or one of its own while a value-log
// GC pass runs (pause) or when the read cache is on. The caller passes both
// results to doneReading.
//
// Sharing is safe only if no read serving a client uses a transaction
// fresher than the shared one: a commit is visible in badger a moment
// before it is noted, and a client that saw it through a fresh transaction
// could then read the older value through the shared one. So every
// client read outside a write's locks goes through here (SORT ... STORE's
// lookups included); the read cache opens its own transactions, under its
// own rule (readcache.go), so with it on nothing is shared.
func (s *Store) readTxn() (*badger.Txn, *sharedRead) {
	if s.reads != nil || s.views.paused.Load() > 0 {
		return s.db.NewTransaction(false), nil
	}
	sr := s.views.acquire(s.db, s.sync.writes.Load())
	return sr.txn, sr
}

func (s *Store) doneReading(txn *badger.Txn, sr *sharedRead) {
	if sr == nil {
		txn.Discard()
		return
	}
	s.views.release(sr)
}

// acquire returns a read transaction that sees every commit noted before
// writes was read; release must follow.
func (r *sharedReads) acquire(db *badger.DB, writes uint64) *sharedRead {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.cur; c != nil && c.writes == writes {
		c.users++
		return c
	}
	r.retireLocked()
	r.cur = &sharedRead{txn: db.NewTransaction(false), writes: writes, users: 2}
	return r.cur
}

func (r *sharedReads) release(sr *sharedRead) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releaseLocked(sr)
}

func (r *sharedReads) releaseLocked(sr *sharedRead) {
	sr.users--
	if sr.users == 0 {
		sr.txn.Discard()
	}
}

// retireLocked drops the current transaction, if any, from being current.
func (r *sharedReads) retireLocked() {
	if r.cur != nil {
		r.releaseLocked(r.cur)
		r.cur = nil
	}
}

// retireStale retires the current transaction if writes were committed
// since it opened. An open read transaction holds back badger's discard
// point (compaction keeps the versions it may read), so one must not
// outlive a burst of writes that no read follows; the once-a-second loop
// calls this.
func (r *sharedReads) retireStale(writes uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil && r.cur.writes != writes {
		r.retireLocked()
	}
}

// pause makes reads open transactions of their own until resume, and
// retires the current one, for a value-log GC pass. The pass rewrites live
// values under new versions and deletes the old file; a transaction opened
// before the rewrite committed still reads the old pointers, and badger
// protects only iterators from the deletion, not Get: such a read fails
// with "file with ID: N not found". A read transaction of one command
// leaves a window of microseconds, as before sharing; a shared one would
// serve every read of a rewritten value until the pass noted its write.
// The caller notes a write before resume, so that a transaction opened by
// a read that raced pause is outdated then.
func (r *sharedReads) pause() {
	r.paused.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retireLocked()
}

func (r *sharedReads) resume() { r.paused.Add(-1) }

// close retires the current transaction, for Close.
func (r *sharedReads) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retireLocked()
}
