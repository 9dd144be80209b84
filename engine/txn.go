package engine

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Txn is one operation's view of the keyspace: a badger transaction, the
// namespace of the command's database and one reading of the clock. Every
// read goes through get, which is the one place that decides expiry.
type Txn struct {
	t      *badger.Txn
	s      *Store
	ns     uint32
	now    int64
	writes *writeCount // shared by the views in() returns
}

// writeCount is what a transaction wrote: entries put or deleted, and
// whether a value went to badger's value log (ValueThreshold bytes or
// more). Its commit reports the latter to the group sync, which fsyncs the
// value log only after such a write (durability.go).
type writeCount struct {
	entries  int
	valueLog bool
}

func (w *writeCount) merge(o writeCount) {
	w.entries += o.entries
	w.valueLog = w.valueLog || o.valueLog
}

// set counts an entry set to value v. A value for the value log also
// marks it for the next sync at once, before the commit: a sync that
// starts between this write's commit and its noteWrite could otherwise
// make the write's WAL entry durable without its value, and after a power
// loss that entry would hide the key's previous value behind a pointer
// to nothing. (The commit's noteWrite marks it again for the sync that
// covers it.)
func (x *Txn) set(v []byte) {
	x.writes.entries++
	if int64(len(v)) >= x.s.opts.ValueThreshold {
		x.writes.valueLog = true
		x.s.sync.markValueLog()
	}
}

// rawUpdate runs fn in a badger transaction of its own, for kvd's
// metadata (the database map, the garbage list, function libraries),
// whose values may be of any size: it marks the value log before the
// commit and after it, as a large value in a Txn does (Txn.set).
func (s *Store) rawUpdate(fn func(txn *badger.Txn) error) error {
	s.sync.markValueLog()
	if err := s.db.Update(fn); err != nil {
		return err
	}
	s.sync.noteWrite(true)
	return nil
}

// lockKey names a key to lock before a write transaction starts.
type lockKey struct {
	db  int
	key []byte
}

// update runs fn in a write transaction on database db, holding the stripe
// locks of keys, then commits and waits for durability per the fsync policy.
func (s *Store) update(db int, keys [][]byte, fn func(x *Txn) error) error {
	targets := make([]lockKey, len(keys))
	for i, k := range keys {
		targets[i] = lockKey{db, k}
	}
	return s.write(db, targets, fn)
}

// write is update with locks that may span databases (MOVE, COPY ... DB).
func (s *Store) write(db int, targets []lockKey, fn func(x *Txn) error) error {
	if err := s.checkDB(db); err != nil {
		return err
	}
	for _, t := range targets {
		if err := s.checkDB(t.db); err != nil {
			return err
		}
	}
	if err := s.disk.check(); err != nil {
		return err
	}
	if s.batch != nil {
		return s.batch.write(s, db, targets, fn)
	}
	if err := s.outsideSnapshot(); err != nil {
		return err
	}
	committed, err := s.lockedCommit(db, targets, fn)
	if err != nil || !committed {
		return err
	}
	// Waiting for the fsync happens with every lock released, so that
	// writers of one hot key share fsyncs instead of taking turns.
	return s.sync.afterCommit()
}

// lockedCommit runs fn and commits under the database map's shared lock and
// the stripe locks of targets (none on an exclusive handle, whose holder
// already excludes everyone), and reports the change to the watcher before
// the locks are released.
func (s *Store) lockedCommit(db int, targets []lockKey, fn func(x *Txn) error) (bool, error) {
	if !s.exclusive {
		s.mapMu.RLock()
		defer s.mapMu.RUnlock()
		if s.reads != nil {
			keys := make([][]byte, len(targets))
			for i, t := range targets {
				keys[i] = encodeKey(s.nsOf[t.db], t.key)
			}
			s.beginWrites(keys)
			defer s.endWrites(keys)
		}
		if id, ok := s.singleStripe(targets); ok {
			return s.combinedCommit(id, &combinedOp{db: db, targets: targets, fn: fn})
		}
		var locks lockSet
		for _, t := range targets {
			locks.add(s.locks.stripe(s.nsOf[t.db], t.key))
		}
		s.locks.lock(&locks)
		defer locks.unlock()
		shard := 0
		if len(locks.ids) > 0 {
			shard = locks.ids[0]
		}
		return s.commitNotify(shard, db, targets, fn)
	}
	return s.commitNotify(0, db, targets, fn)
}

// commitNotify is commit, then the watcher told about targets if anything
// changed; the caller holds the locks. shard picks the queue of shared
// transactions (share.go): any number does, the stripe of a key spreads
// writers over the queues.
func (s *Store) commitNotify(shard, db int, targets []lockKey, fn func(x *Txn) error) (bool, error) {
	committed, err := s.commit(shard, db, fn)
	if committed {
		s.notifyWrite(targets)
	}
	return committed, err
}

// brokeShared reports whether an operation that failed with err inside a
// shared transaction (a batch, a combined round) left it unusable: badger
// cannot undo the part it wrote, and a transaction over badger's size
// limit cannot commit. Errors found before writing (WRONGTYPE) do not.
func brokeShared(err error, wroteSome bool) bool {
	return err != nil && (wroteSome || errors.Is(err, ErrTxnTooBig))
}

// commit runs fn in a write transaction, shared with other writers of
// other keys when they are waiting (share.go), and commits it unless fn
// failed or wrote nothing. An exclusive handle's writes run alone: nobody
// else is writing.
func (s *Store) commit(shard, db int, fn func(x *Txn) error) (bool, error) {
	ns := s.nsOf[db]
	var writes writeCount
	run := func(txn *badger.Txn) unitResult {
		writes = writeCount{}
		err := fn(&Txn{t: txn, s: s, ns: ns, now: s.nowMs(), writes: &writes})
		return unitResult{wrote: err == nil && writes.entries > 0, err: err, broke: brokeShared(err, writes.entries > 0)}
	}
	var committed bool
	var err error
	if s.exclusive {
		committed, err = s.transactAlone(run)
	} else {
		committed, err = s.transact(shard, run)
	}
	if committed {
		s.sync.noteWrite(writes.valueLog)
	}
	return committed, err
}

// view runs fn in a read-only snapshot of database db. A snapshot taken after
// a write's commit returned sees it, so reads need no locks.
func (s *Store) view(db int, fn func(x *Txn) error) error {
	if err := s.checkDB(db); err != nil {
		return err
	}
	var readOnly writeCount
	if s.batch != nil {
		// The batch's own transaction: reads see the batch's writes.
		return fn(&Txn{t: s.batch.txn, s: s, ns: s.nsOf[db], now: s.nowMs(), writes: &readOnly})
	}
	if s.snap != nil {
		return fn(&Txn{t: s.snap.txn, s: s, ns: s.nsOf[db], now: s.snap.now, writes: &readOnly})
	}
	var txn *badger.Txn
	if s.exclusive {
		// The holder's own writes commit between its reads: each read
		// opens its own transaction.
		txn = s.db.NewTransaction(false)
		defer txn.Discard()
	} else {
		s.mapMu.RLock()
		defer s.mapMu.RUnlock()
		var sr *sharedRead
		txn, sr = s.readTxn()
		defer s.doneReading(txn, sr)
	}
	return fn(&Txn{t: txn, s: s, ns: s.nsOf[db], now: s.nowMs(), writes: &readOnly})
}

func mapBadgerErr(err error) error {
	if errors.Is(err, badger.ErrTxnTooBig) {
		return ErrTxnTooBig
	}
	return err
}

// in returns a view of the same transaction on another logical database.
func (x *Txn) in(db int) *Txn {
	return &Txn{t: x.t, s: x.s, ns: x.s.nsOf[db], now: x.now, writes: x.writes}
}

// get returns key's live record. Expired records read as absent.
func (x *Txn) get(key []byte) (record, bool, error) {
	if err := x.s.batchCovers(x.ns, key); err != nil {
		return record{}, false, err
	}
	raw, found, err := readRecord(x.t, encodeKey(x.ns, key))
	if err != nil || !found {
		return record{}, false, err
	}
	return liveRecord(raw, x.now)
}

// readRecord returns a copy of the stored record of an encoded key.
func readRecord(txn *badger.Txn, key []byte) (raw []byte, found bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get: %w", err)
	}
	raw, err = item.ValueCopy(nil)
	if err != nil {
		return nil, false, fmt.Errorf("read value: %w", err)
	}
	return raw, true, nil
}

// liveRecord decodes a stored record; expired records read as absent.
func liveRecord(raw []byte, now int64) (record, bool, error) {
	r, err := decodeRecord(raw)
	if err != nil {
		return record{}, false, err
	}
	if r.expiredAt(now) {
		return record{}, false, nil
	}
	return r, true, nil
}

// getString returns key's string value, ErrWrongType for another kind.
func (x *Txn) getString(key []byte) (record, bool, error) {
	r, ok, err := x.get(key)
	if err == nil && ok && r.kind != KindString {
		return r, ok, ErrWrongType
	}
	return r, ok, err
}

// put stores key's record.
func (x *Txn) put(key []byte, r record) error {
	e := badger.NewEntry(encodeKey(x.ns, key), r.encode())
	e.ExpiresAt = badgerExpiresAt(r.deadline)
	if err := x.t.SetEntry(e); err != nil {
		return fmt.Errorf("set: %w", mapBadgerErr(err))
	}
	x.set(e.Value)
	return nil
}

// del removes key.
func (x *Txn) del(key []byte) error {
	if err := x.t.Delete(encodeKey(x.ns, key)); err != nil {
		return fmt.Errorf("delete: %w", mapBadgerErr(err))
	}
	x.writes.entries++
	return nil
}
