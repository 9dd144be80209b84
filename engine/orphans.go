package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// orphanBatch bounds the owner entries one sweep examines, so that a keyspace
// of millions of collections is swept a slice at a time.
const orphanBatch = 10000

// sweepOrphans examines up to limit owner entries from where the last sweep
// stopped and deletes the members of collections no record refers to any
// more: deleted, overwritten, expired or flushed ones. It returns how many
// collections it reclaimed.
//
// Whether a collection is alive is decided from one snapshot holding both
// its owner entry and the owner's record. Ids are never reused, so once a
// collection is found orphaned nothing can refer to it again, and its
// entries can be deleted without locks.
func (s *Store) sweepOrphans(limit int) (int, error) {
	s.orphanMu.Lock()
	defer s.orphanMu.Unlock()
	var orphans []uint64
	var next []byte
	now := s.nowMs()
	err := s.db.View(func(txn *badger.Txn) error {
		// The live namespaces, read after the snapshot began: every
		// namespace the snapshot can refer to existed by then, and one
		// unmapped since (FLUSHDB) is dead for good.
		live := s.liveNamespaces()
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixOwner}
		it := txn.NewIterator(opts)
		defer it.Close()
		seen := 0
		for it.Seek(append([]byte{prefixOwner}, s.orphanCursor...)); it.Valid(); it.Next() {
			if seen == limit {
				next = append([]byte(nil), it.Item().Key()[1:]...)
				break
			}
			seen++
			item := it.Item()
			id := binary.BigEndian.Uint64(item.Key()[1:])
			owner, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read owner: %w", err)
			}
			alive, err := collectionAlive(txn, live, id, owner, now)
			if err != nil {
				return err
			}
			if !alive {
				orphans = append(orphans, id)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.orphanCursor = next
	for _, id := range orphans {
		if err := s.deleteCollectionEntries(id); err != nil {
			return 0, fmt.Errorf("reclaim collection %d: %w", id, err)
		}
	}
	return len(orphans), nil
}

// collectionAlive reports whether the record named by owner (ns + key) is a
// live collection with this id, in a namespace some database maps to.
func collectionAlive(txn *badger.Txn, live map[uint32]bool, id uint64, owner []byte, now int64) (bool, error) {
	if len(owner) < nsLen || !live[binary.BigEndian.Uint32(owner)] {
		return false, nil
	}
	item, err := txn.Get(encodeKey(binary.BigEndian.Uint32(owner), owner[nsLen:]))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read owner record: %w", err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return false, fmt.Errorf("read owner record: %w", err)
	}
	r, err := decodeRecord(v)
	if err != nil || r.expiredAt(now) || !r.kind.isCollection() {
		return false, nil
	}
	c, err := decodeCollection(r)
	return err == nil && c.id == id, nil
}

// deleteCollectionEntries deletes an orphaned collection's members, score
// index and owner entry, in batches of sweepBatch keys.
func (s *Store) deleteCollectionEntries(id uint64) error {
	for _, prefix := range [][]byte{memberPrefix(id), scorePrefix(id)} {
		for {
			n, err := s.deleteSome(prefix)
			if err != nil {
				return err
			}
			if n < sweepBatch {
				break
			}
		}
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	if err := wb.Delete(ownerKey(id)); err != nil {
		return err
	}
	return wb.Flush()
}

// SweepOrphansNow runs the orphan sweeper over the whole keyspace at once,
// for tests and tools; the server relies on the periodic sweep.
func (s *Store) SweepOrphansNow() (int, error) {
	total := 0
	for {
		n, err := s.sweepOrphans(orphanBatch)
		total += n
		s.orphanMu.Lock()
		done := s.orphanCursor == nil
		s.orphanMu.Unlock()
		if err != nil || done {
			return total, err
		}
	}
}

func (s *Store) liveNamespaces() map[uint32]bool {
	s.mapMu.RLock()
	defer s.mapMu.RUnlock()
	live := make(map[uint32]bool, len(s.nsOf))
	for _, ns := range s.nsOf {
		live[ns] = true
	}
	return live
}
