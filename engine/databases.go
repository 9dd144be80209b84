package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// FlushDB empties database db in O(1): the database gets a fresh namespace
// and the old one is queued for the background sweeper.
func (s *Store) FlushDB(db int) error {
	if err := s.checkDB(db); err != nil {
		return err
	}
	return s.remap([]int{db}, func() []uint32 {
		old := s.nsOf[db]
		s.nsOf[db] = s.nextNS
		s.nextNS++
		return []uint32{old}
	})
}

// FlushAll empties every database.
func (s *Store) FlushAll() error {
	all := make([]int, s.opts.Databases)
	for i := range all {
		all[i] = i
	}
	return s.remap(all, func() []uint32 {
		old := append([]uint32(nil), s.nsOf...)
		for i := range s.nsOf {
			s.nsOf[i] = s.nextNS
			s.nextNS++
		}
		return old
	})
}

// SwapDB exchanges two databases atomically.
func (s *Store) SwapDB(a, b int) error {
	if err := s.checkDB(a); err != nil {
		return err
	}
	if err := s.checkDB(b); err != nil {
		return err
	}
	return s.remap([]int{a, b}, func() []uint32 {
		s.nsOf[a], s.nsOf[b] = s.nsOf[b], s.nsOf[a]
		return nil
	})
}

// remap changes the database map under the exclusive lock, so that no
// command runs half before and half after, and persists it together with
// the namespaces it frees.
func (s *Store) remap(dbs []int, change func() (freed []uint32)) error {
	if err := s.outsideBatch(); err != nil {
		return err
	}
	if !s.exclusive {
		s.mapMu.Lock()
		defer s.mapMu.Unlock()
		defer s.invalidateReads()
	}
	savedMap, savedNext := append([]uint32(nil), s.nsOf...), s.nextNS
	freed := change()
	err := s.rawUpdate(func(txn *badger.Txn) error {
		if err := s.writeDBMap(txn); err != nil {
			return err
		}
		if len(freed) == 0 {
			return nil
		}
		garbage, err := readGarbage(txn)
		if err != nil {
			return err
		}
		return writeGarbage(txn, append(garbage, freed...))
	})
	if err != nil {
		s.nsOf, s.nextNS = savedMap, savedNext
		return fmt.Errorf("update database map: %w", err)
	}
	s.notifyFlush(dbs)
	return s.sync.afterCommit()
}

func readGarbage(txn *badger.Txn) ([]uint32, error) {
	item, err := txn.Get(metaGarbage)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, 0, len(v)/4)
	for i := 0; i+4 <= len(v); i += 4 {
		out = append(out, binary.BigEndian.Uint32(v[i:]))
	}
	return out, nil
}

func writeGarbage(txn *badger.Txn, nss []uint32) error {
	v := make([]byte, 4*len(nss))
	for i, ns := range nss {
		binary.BigEndian.PutUint32(v[4*i:], ns)
	}
	return txn.Set(metaGarbage, v)
}

// sweepBatch bounds one delete transaction of the sweeper, well under
// badger's transaction size limit.
const sweepBatch = 10000

// sweepGarbage deletes the keys of namespaces that no database maps to any
// more. Nothing can reach them, so this runs without the keys' locks; it is
// bounded per transaction so that it never holds much memory.
func (s *Store) sweepGarbage() error {
	var garbage []uint32
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		garbage, err = readGarbage(txn)
		return err
	})
	if err != nil || len(garbage) == 0 {
		return err
	}
	for _, ns := range garbage {
		for {
			n, err := s.deleteSome(nsPrefix(ns))
			if err != nil {
				return fmt.Errorf("sweep namespace %d: %w", ns, err)
			}
			if n < sweepBatch {
				break
			}
			select {
			case <-s.stop:
				return nil
			default:
			}
		}
	}
	// Remove what was swept; FLUSHDB may have queued more meanwhile.
	s.mapMu.Lock()
	defer s.mapMu.Unlock()
	return s.rawUpdate(func(txn *badger.Txn) error {
		now, err := readGarbage(txn)
		if err != nil {
			return err
		}
		swept := map[uint32]bool{}
		for _, ns := range garbage {
			swept[ns] = true
		}
		var left []uint32
		for _, ns := range now {
			if !swept[ns] {
				left = append(left, ns)
			}
		}
		return writeGarbage(txn, left)
	})
}

// deleteSome deletes up to sweepBatch keys under prefix.
func (s *Store) deleteSome(prefix []byte) (int, error) {
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid() && len(keys) < sweepBatch; it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), wb.Flush()
}

// DBStats counts the live keys of database db, and those with a TTL. It
// iterates keys only: a key whose badger expiry is more than a second away
// is live without reading its record; only keys near or past their deadline
// have the record read. It is O(keys), unlike Redis's O(1) DBSIZE, because
// expired keys must not be counted and nothing deletes them at their
// deadline.
func (s *Store) DBStats(db int) (keys, expires int64, err error) {
	err = s.view(db, func(x *Txn) error {
		return x.eachKey(nil, func(key []byte, item *badger.Item) (bool, error) {
			live, err := x.itemLive(item)
			if live {
				keys++
				if item.ExpiresAt() != 0 {
					expires++
				}
			}
			return true, err
		})
	})
	return keys, expires, err
}
