package engine

import (
	"bytes"
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// ErrBatchScope is what Batch returns when the work could not stay inside
// the batch: an operation reached a key the batch had not locked, or the
// keyspace as a whole (SCAN, KEYS, FLUSHDB, another database's map), or an
// operation failed after writing part of its change, or the transaction
// grew too big. Nothing of the batch was committed; the caller runs the
// same work another way (Exclusive, or one operation at a time).
var ErrBatchScope = errors.New("engine: work reached outside its batch")

// batch is the state of one Batch call: a single badger transaction that
// every operation of the handle reads and writes, and the keys whose stripe
// locks the call holds.
type batch struct {
	txn    *badger.Txn
	locked []lockedKey // every key the batch holds; few, so a slice
	writes writeCount  // what the batch has written so far
	// targets are the keys of the operations that wrote, for the watcher.
	targets []lockKey
	// failed is sticky: once set, the batch cannot commit.
	failed error
	// tooBig: an operation found the transaction over badger's size
	// limit. In a transaction shared with other writers (share.go) that
	// may be their doing, so the batch then runs alone rather than fail.
	tooBig bool
}

type lockedKey struct {
	ns  uint32
	key []byte
}

// BatchKey names a key a batch locks.
type BatchKey struct {
	DB  int
	Key []byte
}

// Batch runs fn with a handle whose operations share one badger
// transaction, holding the stripe locks of keys for the whole call, and
// commits once when fn returns nil. Nobody observes part of the batch, and
// a batch of small operations costs one transaction and one commit instead
// of one each: scripts (KEYS declare what they touch) and pipelines use it.
//
// Operations that go outside the batch fail with ErrBatchScope and so does
// Batch, having committed nothing; fn's own error also discards the batch.
// On an exclusive handle, or a batch handle, fn simply runs on it: the
// caller already holds what it needs.
func (s *Store) Batch(keys []BatchKey, fn func(st *Store) error) error {
	if s.exclusive || s.batch != nil {
		return fn(s)
	}
	if err := s.outsideSnapshot(); err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.checkDB(k.DB); err != nil {
			return err
		}
	}
	committed, err := s.runBatch(keys, fn)
	if err != nil || !committed {
		return err
	}
	return s.sync.afterCommit() // with the locks released, as write does
}

func (s *Store) runBatch(keys []BatchKey, fn func(st *Store) error) (bool, error) {
	s.mapMu.RLock()
	defer s.mapMu.RUnlock()
	var locks lockSet
	b := &batch{locked: make([]lockedKey, len(keys))}
	oneStripe := len(keys) > 0
	for i, k := range keys {
		ns := s.nsOf[k.DB]
		id := s.locks.stripe(ns, k.Key)
		locks.add(id)
		oneStripe = oneStripe && id == locks.ids[0]
		b.locked[i] = lockedKey{ns, k.Key}
	}
	if s.reads != nil {
		written := make([][]byte, len(b.locked))
		for i, k := range b.locked {
			written[i] = encodeKey(k.ns, k.key)
		}
		s.beginWrites(written)
		defer s.endWrites(written)
	}
	if oneStripe {
		return s.combinedBatch(locks.ids[0], keys, b, fn)
	}
	s.locks.lock(&locks)
	defer locks.unlock()

	// The batch's transaction may be shared with other writers
	// (share.go); run starts the batch afresh each time it runs.
	run := func(txn *badger.Txn) unitResult {
		b.txn, b.writes, b.targets, b.failed, b.tooBig = txn, writeCount{}, nil, nil, false
		err := fn(&Store{shared: s.shared, batch: b})
		if b.failed != nil {
			err = b.failed
		}
		if err != nil {
			return unitResult{err: err, broke: b.writes.entries > 0 || b.tooBig}
		}
		return unitResult{wrote: b.writes.entries > 0}
	}
	shard := 0
	if len(locks.ids) > 0 {
		shard = locks.ids[0]
	}
	var committed bool
	var err error
	if len(keys) == 0 {
		// Nothing to write but through ErrBatchScope (EVAL with no
		// keys): not worth a place in a shared round.
		committed, err = s.transactAlone(run)
	} else {
		committed, err = s.transact(shard, run)
	}
	if errors.Is(err, ErrTxnTooBig) {
		return false, ErrBatchScope
	}
	if !committed {
		return false, err
	}
	s.sync.noteWrite(b.writes.valueLog)
	s.notifyWrite(b.targets)
	return true, nil
}

// combinedBatch runs a batch whose keys all fall in stripe id as one write
// of that stripe's combiner (combine.go): batches on one hot key (fifty
// connections pipelining LPUSH to one list, scripts on one counter) then
// share a transaction, where each used to hold the stripe through a commit
// of its own. The combiner notifies the watcher of all of the batch's keys
// when it wrote any.
func (s *Store) combinedBatch(id int, keys []BatchKey, b *batch, fn func(st *Store) error) (bool, error) {
	targets := make([]lockKey, len(keys))
	for i, k := range keys {
		targets[i] = lockKey{k.DB, k.Key}
	}
	op := &combinedOp{db: keys[0].DB, targets: targets, fn: func(x *Txn) error {
		b.txn, b.writes, b.targets, b.failed, b.tooBig = x.t, writeCount{}, nil, nil, false
		err := fn(&Store{shared: s.shared, batch: b})
		x.writes.merge(b.writes)
		if b.failed != nil {
			err = b.failed
			if b.tooBig {
				// Too big with what the round holds: say so, so that
				// the round runs again write by write and this batch
				// alone, where it may fit.
				err = ErrTxnTooBig
			}
		}
		return err
	}}
	committed, err := s.combinedCommit(id, op)
	if errors.Is(err, ErrTxnTooBig) {
		return false, ErrBatchScope
	}
	return committed, err
}

// write runs one write operation inside the batch. An operation that fails
// after writing part of its change poisons the batch: badger cannot undo
// half of a transaction, and Redis commands are all or nothing.
func (b *batch) write(s *Store, db int, targets []lockKey, fn func(x *Txn) error) error {
	if b.failed != nil {
		return b.failed
	}
	for _, t := range targets {
		if err := s.batchCovers(s.nsOf[t.db], t.key); err != nil {
			return err
		}
	}
	before := b.writes.entries
	defer func() {
		if r := recover(); r != nil {
			// A bug in an operation: whatever it wrote must not commit.
			b.failed = ErrBatchScope
			panic(r)
		}
	}()
	err := fn(&Txn{t: b.txn, s: s, ns: s.nsOf[db], now: s.nowMs(), writes: &b.writes})
	if err != nil {
		if brokeShared(err, b.writes.entries != before) {
			b.tooBig = errors.Is(err, ErrTxnTooBig)
			b.failed = ErrBatchScope
			return b.failed
		}
		return err
	}
	if b.writes.entries != before {
		b.targets = append(b.targets, targets...)
	}
	return nil
}

// batchCovers reports ErrBatchScope, and poisons the batch, when s is a
// batch handle that did not lock key.
func (s *Store) batchCovers(ns uint32, key []byte) error {
	b := s.batch
	if b == nil {
		return nil
	}
	// A linear scan: scripts declare a handful of keys, pipeline groups
	// at most maxGroupKeys, and each lookup is one comparison of lengths
	// for most of them.
	for _, l := range b.locked {
		if l.ns == ns && bytes.Equal(l.key, key) {
			return nil
		}
	}
	b.failed = ErrBatchScope
	return b.failed
}

// outsideBatch reports ErrBatchScope, and poisons the batch, when s is a
// batch handle: for operations on the keyspace as a whole.
func (s *Store) outsideBatch() error {
	if s.batch == nil {
		return s.outsideSnapshot()
	}
	s.batch.failed = ErrBatchScope
	return s.batch.failed
}
