package engine

import "github.com/dgraph-io/badger/v4"

// snapshot is the state of one Snapshot call: a read-only badger
// transaction that every read of the handle uses.
type snapshot struct {
	txn *badger.Txn
	// now is the clock read when the snapshot opened: expiry is judged
	// at the snapshot's moment, as the data is, or a key overwritten
	// without a TTL after the snapshot could read as expired.
	now int64
	// failed is sticky: an operation tried to write or to reach the
	// keyspace as a whole through the handle.
	failed error
	// cached says the read cache may serve the snapshot's GETs: no write
	// was in flight when it opened (readcache.go), and none has begun
	// since as long as the cache's begun count is still begun.
	cached bool
	begun  int64
}

// unchanged reports whether the keyspace is still what the snapshot saw,
// so that the read cache's current entries are the snapshot's values.
func (sn *snapshot) unchanged(c *readCache) bool {
	return sn.cached && c.begun.Load() == sn.begun
}

// Snapshot runs fn with a handle whose reads all see one snapshot of the
// keyspace as of when Snapshot starts: a run of pipelined reads costs one
// read transaction instead of one each, and none when the transaction
// single reads share is current (sharedread.go). Each read still returns what a
// read at that moment would, which lies between the request's arrival and
// its reply, so histories stay linearizable.
//
// The handle is for reads of named keys only. A write, a batch, Exclusive
// or a keyspace-wide operation through it fails with ErrBatchScope, and so
// does Snapshot; the caller then runs the same work another way. On an
// exclusive, batch or snapshot handle fn simply runs on it.
func (s *Store) Snapshot(fn func(st *Store) error) error {
	if s.exclusive || s.batch != nil || s.snap != nil {
		return fn(s)
	}
	s.mapMu.RLock()
	defer s.mapMu.RUnlock()
	sn := &snapshot{}
	if s.reads != nil {
		// Before the transaction opens (readTxn gives one of its own
		// when the read cache is on).
		sn.begun, sn.cached = s.reads.quietSince()
	}
	txn, sr := s.readTxn()
	defer s.doneReading(txn, sr)
	sn.txn, sn.now = txn, s.nowMs()
	err := fn(&Store{shared: s.shared, snap: sn})
	if sn.failed != nil {
		return sn.failed
	}
	return err
}

// outsideSnapshot reports ErrBatchScope, and marks the snapshot failed,
// when s is a snapshot handle: for anything but reading named keys.
func (s *Store) outsideSnapshot() error {
	if s.snap == nil {
		return nil
	}
	s.snap.failed = ErrBatchScope
	return s.snap.failed
}
