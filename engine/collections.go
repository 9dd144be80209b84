package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Collections (hashes, lists, sets, sorted sets) keep one record per key,
// like strings, whose payload is a collection header, and one badger entry
// per member:
//
//	'k' ns key               -> record{kind, deadline, payload: header}
//	'm' id member            -> member value (hash value, list element, score)
//	'z' id score member      -> empty (sorted sets: score order)
//	'o' id                   -> ns key (the owner, for the sweeper)
//
// Members are keyed by the collection's id, not its key name, so RENAME and
// MOVE are O(1): they move the record and rewrite the owner entry. Deleting,
// expiring or overwriting a collection only drops its record; its members
// become unreachable at once and the orphan sweeper (sweepOrphans) deletes
// them later in bounded batches. Ids are never reused, so an orphan can
// never be reattached.

// collectionHdrLen is id, count, and two list ends.
const collectionHdrLen = 8 + 8 + 8 + 8

// collection is a decoded collection header.
type collection struct {
	kind     Kind
	deadline int64
	id       uint64
	count    int64
	// Lists: elements occupy sequence numbers head..tail-1. Other kinds
	// leave them zero.
	head, tail int64
}

func (c collection) record() record {
	p := make([]byte, collectionHdrLen)
	binary.BigEndian.PutUint64(p[0:], c.id)
	binary.BigEndian.PutUint64(p[8:], uint64(c.count))
	binary.BigEndian.PutUint64(p[16:], uint64(c.head))
	binary.BigEndian.PutUint64(p[24:], uint64(c.tail))
	return record{kind: c.kind, deadline: c.deadline, payload: p}
}

func decodeCollection(r record) (collection, error) {
	if !r.kind.isCollection() || len(r.payload) != collectionHdrLen {
		return collection{}, errCorruptRecord
	}
	p := r.payload
	return collection{
		kind:     r.kind,
		deadline: r.deadline,
		id:       binary.BigEndian.Uint64(p[0:]),
		count:    int64(binary.BigEndian.Uint64(p[8:])),
		head:     int64(binary.BigEndian.Uint64(p[16:])),
		tail:     int64(binary.BigEndian.Uint64(p[24:])),
	}, nil
}

// idSource hands out collection ids: unique and increasing, because each is
// above both the wall clock in nanoseconds and every id already on disk
// (Open seeds last from the highest owner entry, so a clock set back across
// a restart cannot repeat an id).
type idSource struct{ last atomic.Uint64 }

// seedIDs starts the id source above the highest collection id stored.
func (s *Store) seedIDs() error {
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixOwner}
		opts.Reverse = true
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		it.Seek([]byte{prefixOwner, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		if it.Valid() {
			s.ids.last.Store(binary.BigEndian.Uint64(it.Item().Key()[1:]))
		}
		return nil
	})
}

func (g *idSource) next() uint64 {
	for {
		last := g.last.Load()
		id := max(last+1, uint64(time.Now().UnixNano()))
		if g.last.CompareAndSwap(last, id) {
			return id
		}
	}
}

// getCollection returns key's collection of the given kind. A missing key
// reads as exists=false; a key of another kind is ErrWrongType.
func (x *Txn) getCollection(key []byte, kind Kind) (collection, bool, error) {
	r, ok, err := x.get(key)
	if err != nil || !ok {
		return collection{kind: kind}, false, err
	}
	if r.kind != kind {
		return collection{}, false, ErrWrongType
	}
	c, err := decodeCollection(r)
	return c, err == nil, err
}

// newCollection starts an empty collection for key; it is stored by the first
// saveCollection with members.
func (x *Txn) newCollection(kind Kind) collection {
	return collection{kind: kind, id: x.s.ids.next(), head: 1 << 62, tail: 1 << 62}
}

// saveCollection stores c's header under key. An emptied collection is
// deleted, as Redis deletes empty aggregates; its remaining entries (none,
// if the caller removed its members) go to the sweeper.
func (x *Txn) saveCollection(key []byte, c collection, created bool) error {
	if c.count <= 0 {
		return x.del(key)
	}
	if created {
		if err := x.setOwner(c.id, key); err != nil {
			return err
		}
	}
	return x.put(key, c.record())
}

// setOwner records that the record of key in the transaction's namespace
// holds collection id. RENAME, MOVE and COPY call it when a collection
// changes place.
func (x *Txn) setOwner(id uint64, key []byte) error {
	v := make([]byte, nsLen+len(key))
	binary.BigEndian.PutUint32(v, x.ns)
	copy(v[nsLen:], key)
	if err := x.t.Set(ownerKey(id), v); err != nil {
		return fmt.Errorf("set owner: %w", mapBadgerErr(err))
	}
	x.set(v)
	return nil
}

func ownerKey(id uint64) []byte {
	b := make([]byte, 9)
	b[0] = prefixOwner
	binary.BigEndian.PutUint64(b[1:], id)
	return b
}

// memberPrefix is the badger prefix of collection id's members.
func memberPrefix(id uint64) []byte {
	b := make([]byte, 9)
	b[0] = prefixMember
	binary.BigEndian.PutUint64(b[1:], id)
	return b
}

// MemberKey is the badger key of one member of collection id.
func memberKey(id uint64, member []byte) []byte {
	b := make([]byte, 9+len(member))
	b[0] = prefixMember
	binary.BigEndian.PutUint64(b[1:], id)
	copy(b[9:], member)
	return b
}

// getMember reads one member's value.
func (x *Txn) getMember(id uint64, member []byte) ([]byte, bool, error) {
	return x.getRaw(memberKey(id, member))
}

// putMember writes one member's value.
func (x *Txn) putMember(id uint64, member, value []byte) error {
	return x.setRaw(memberKey(id, member), value)
}

// delMember removes one member.
func (x *Txn) delMember(id uint64, member []byte) error {
	return x.delRaw(memberKey(id, member))
}

// getRaw, setRaw and delRaw touch a badger key that is not a record.
func (x *Txn) getRaw(k []byte) ([]byte, bool, error) {
	item, err := x.t.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get: %w", err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, false, fmt.Errorf("read value: %w", err)
	}
	return v, true, nil
}

func (x *Txn) setRaw(k, v []byte) error {
	if err := x.t.Set(k, v); err != nil {
		return fmt.Errorf("set: %w", mapBadgerErr(err))
	}
	x.set(v)
	return nil
}

func (x *Txn) delRaw(k []byte) error {
	if err := x.t.Delete(k); err != nil {
		return fmt.Errorf("delete: %w", mapBadgerErr(err))
	}
	x.writes.entries++
	return nil
}

// eachRaw calls fn for every badger key under prefix at or after from (nil:
// from the start), in byte order (or reverse), until fn returns false. The
// key passed to fn has the prefix removed; key and value are only valid
// during the call.
func (x *Txn) eachRaw(prefix, from []byte, reverse bool, fn func(suffix, value []byte) (bool, error)) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.Reverse = reverse
	opts.PrefetchValues = false
	it := x.t.NewIterator(opts)
	defer it.Close()
	seek := append(append([]byte(nil), prefix...), from...)
	if reverse && from == nil {
		seek = append(seek, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	}
	for it.Seek(seek); it.Valid(); it.Next() {
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("read value: %w", err)
		}
		more, err := fn(item.Key()[len(prefix):], v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// copyCollection copies collection c to a new id for COPY, returning the
// copy's header. The copy is written in the caller's transaction, so a very
// large collection exceeds it (ErrTxnTooBig).
func (x *Txn) copyCollection(c collection, dst *Txn, dstKey []byte) (collection, error) {
	cp := c
	cp.id = x.s.ids.next()
	for _, prefix := range [][]byte{memberPrefix(c.id), scorePrefix(c.id)} {
		newPrefix := memberPrefix(cp.id)
		if prefix[0] == prefixScore {
			newPrefix = scorePrefix(cp.id)
		}
		err := x.eachRaw(prefix, nil, false, func(suffix, value []byte) (bool, error) {
			return true, x.setRaw(append(append([]byte(nil), newPrefix...), suffix...), value)
		})
		if err != nil {
			return cp, err
		}
	}
	return cp, dst.setOwner(cp.id, dstKey)
}

// scorePrefix is the badger prefix of sorted set id's score index.
func scorePrefix(id uint64) []byte {
	b := make([]byte, 9)
	b[0] = prefixScore
	binary.BigEndian.PutUint64(b[1:], id)
	return b
}
