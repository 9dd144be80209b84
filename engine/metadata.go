package engine

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Server state that is not part of any database but must survive a
// restart, kept under reserved 'x' metadata keys (keys.go): for now the
// function libraries (FUNCTION LOAD), which Redis keeps in its RDB/AOF.
//
// The engine treats the value as an opaque blob. The key is outside every
// namespace, so SCAN, KEYS, RANDOMKEY and DBSIZE never see it, and FLUSHDB
// and FLUSHALL (which only remap namespaces) keep it, as Redis's FLUSHALL
// keeps functions.

// SaveFunctions replaces the stored function libraries with blob, in one
// badger transaction, and returns once the write is as durable as the fsync
// policy demands (under appendfsync always, after an fsync that started
// after the commit). An empty blob is stored as such: LoadFunctions then
// returns an empty, non-nil slice.
//
// It takes no store locks (neither mapMu nor stripes): the key belongs to
// no database, so no command's isolation depends on it, and the caller may
// hold its own locks, or an exclusive handle's mapMu (FUNCTION LOAD inside
// EXEC), without risking a deadlock. Callers serialise their saves
// themselves; the last commit wins. Like other writes it is refused with
// ErrDiskFull while the disk guard refuses writes.
func (s *Store) SaveFunctions(blob []byte) error {
	if err := s.outsideBatch(); err != nil {
		return err
	}
	if err := s.disk.check(); err != nil {
		return err
	}
	err := s.rawUpdate(func(txn *badger.Txn) error {
		return txn.Set(metaFunctions, blob)
	})
	if err != nil {
		return fmt.Errorf("save function libraries: %w", mapBadgerErr(err))
	}
	return s.sync.afterCommit()
}

// LoadFunctions returns the blob SaveFunctions stored last, or nil if none
// was ever saved.
func (s *Store) LoadFunctions() ([]byte, error) {
	var blob []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaFunctions)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		blob, err = item.ValueCopy(nil)
		if err == nil && blob == nil {
			blob = []byte{}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load function libraries: %w", err)
	}
	return blob, nil
}
