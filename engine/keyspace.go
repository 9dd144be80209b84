package engine

import (
	"bytes"
	"math/rand/v2"

	"github.com/dgraph-io/badger/v4"
)

// Del deletes keys and returns how many existed.
func (s *Store) Del(db int, keys [][]byte) (int64, error) {
	var n int64
	err := s.update(db, keys, func(x *Txn) error {
		n = 0
		seen := make(map[string]bool, len(keys))
		for _, k := range keys {
			if seen[string(k)] {
				continue
			}
			seen[string(k)] = true
			_, exists, err := x.get(k)
			if err != nil {
				return err
			}
			if exists {
				n++
				if err := x.del(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return n, err
}

// Exists counts the keys that exist; a key named twice counts twice.
func (s *Store) Exists(db int, keys [][]byte) (int64, error) {
	var n int64
	err := s.view(db, func(x *Txn) error {
		for _, k := range keys {
			_, exists, err := x.get(k)
			if err != nil {
				return err
			}
			if exists {
				n++
			}
		}
		return nil
	})
	return n, err
}

// Type returns the kind of key (KindNone when missing).
func (s *Store) Type(db int, key []byte) (Kind, error) {
	var k Kind
	err := s.view(db, func(x *Txn) error {
		r, exists, err := x.get(key)
		if exists {
			k = r.kind
		}
		return err
	})
	return k, err
}

// ExpireCond is EXPIRE's NX/XX/GT/LT options, combinable as in Redis
// (XX GT is allowed; the server rejects NX with another).
type ExpireCond uint8

const (
	ExpireNX ExpireCond = 1 << iota // only if the key has no TTL
	ExpireXX                        // only if the key has a TTL
	ExpireGT                        // only if the new deadline is later (no TTL counts as infinite)
	ExpireLT                        // only if the new deadline is earlier
)

// Expire sets key's deadline (e: ExpiryIn or ExpiryAt, possibly negative)
// under cond. A deadline not in the future deletes the key. It reports
// whether the condition held and the key was changed.
func (s *Store) Expire(db int, key []byte, e Expiry, cond ExpireCond) (bool, error) {
	set := false
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		set = false // a shared transaction may run this again (share.go)
		cur, exists, err := x.get(key)
		if err != nil || !exists {
			return err
		}
		deadline, err := e.deadline(x.now, cur.deadline)
		if err != nil {
			return err
		}
		hasTTL := cur.deadline != 0
		if (cond&ExpireNX != 0 && hasTTL) ||
			(cond&ExpireXX != 0 && !hasTTL) ||
			(cond&ExpireGT != 0 && (!hasTTL || deadline <= cur.deadline)) ||
			(cond&ExpireLT != 0 && hasTTL && deadline >= cur.deadline) {
			return nil
		}
		set = true
		if deadline <= x.now {
			return x.del(key)
		}
		cur.deadline = deadline
		return x.put(key, cur)
	})
	return set, err
}

// Persist removes key's TTL and reports whether it had one.
func (s *Store) Persist(db int, key []byte) (bool, error) {
	done := false
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		done = false // a shared transaction may run this again (share.go)
		cur, exists, err := x.get(key)
		if err != nil || !exists || cur.deadline == 0 {
			return err
		}
		done = true
		cur.deadline = 0
		return x.put(key, cur)
	})
	return done, err
}

// Deadline returns key's expiry as Unix milliseconds, and the time remaining.
// exists is false for a missing key; deadline is 0 when it has no TTL.
func (s *Store) Deadline(db int, key []byte) (deadline, remaining int64, exists bool, err error) {
	err = s.view(db, func(x *Txn) error {
		r, ok, err := x.get(key)
		if err != nil || !ok {
			return err
		}
		exists, deadline = true, r.deadline
		if deadline > 0 {
			remaining = deadline - x.now
		}
		return nil
	})
	return deadline, remaining, exists, err
}

// ScanFilter selects keys during KEYS and SCAN.
type ScanFilter struct {
	Match func(key []byte) bool // nil: every key
	Kind  Kind                  // KindNone: every kind
}

// Scan returns up to count live keys after cursor (exclusive; nil = from the
// start) that pass filter, and the key to resume after (nil when the scan is
// complete). It examines at most count*10 keys per call, so a selective
// MATCH cannot make one call read the whole keyspace, as in Redis. Keys are
// visited in byte order, so every key that exists for a whole scan is
// returned.
func (s *Store) Scan(db int, cursor []byte, count int, f ScanFilter) (keys [][]byte, next []byte, err error) {
	if count < 1 {
		count = 1
	}
	budget := count * 10
	err = s.view(db, func(x *Txn) error {
		from := cursor
		if from != nil {
			from = append(append([]byte(nil), cursor...), 0) // the next key after cursor
		}
		var last []byte
		examined := 0
		more := false
		err := x.eachKey(from, func(key []byte, item *badger.Item) (bool, error) {
			if examined >= budget || len(keys) >= count {
				more = true
				return false, nil
			}
			examined++
			last = append(last[:0:0], key...)
			if last == nil {
				last = []byte{} // the empty key is a position too; nil means done
			}
			ok, err := x.keep(key, item, f)
			if ok {
				keys = append(keys, append([]byte(nil), key...))
			}
			return true, err
		})
		if more {
			next = last
		}
		return err
	})
	return keys, next, err
}

// Keys returns every live key matching filter. literalPrefix, the part of
// the pattern before its first wildcard, bounds the iteration.
func (s *Store) Keys(db int, literalPrefix []byte, f ScanFilter) ([][]byte, error) {
	var keys [][]byte
	err := s.view(db, func(x *Txn) error {
		return x.eachKey(literalPrefix, func(key []byte, item *badger.Item) (bool, error) {
			if !bytes.HasPrefix(key, literalPrefix) {
				return false, nil
			}
			ok, err := x.keep(key, item, f)
			if ok {
				keys = append(keys, append([]byte(nil), key...))
			}
			return true, err
		})
	})
	return keys, err
}

// keep applies a filter to an iterated key, reading its record only when
// liveness or kind needs it.
func (x *Txn) keep(key []byte, item *badger.Item, f ScanFilter) (bool, error) {
	if f.Match != nil && !f.Match(key) {
		return false, nil
	}
	if f.Kind == KindNone {
		return x.itemLive(item)
	}
	r, err := x.itemRecord(item)
	if err != nil {
		return false, err
	}
	return !r.expiredAt(x.now) && r.kind == f.Kind, nil
}

// RandomKey returns a random live key, or ok=false in an empty database. It
// seeks to a random point of the key space, so keys after long gaps are
// likelier; Redis gives no uniformity guarantee either.
func (s *Store) RandomKey(db int) (key []byte, ok bool, err error) {
	err = s.view(db, func(x *Txn) error {
		var probe [8]byte
		for i := range probe {
			probe[i] = byte(rand.IntN(256))
		}
		for _, from := range [][]byte{probe[:], nil} {
			err := x.eachKey(from, func(k []byte, item *badger.Item) (bool, error) {
				live, err := x.itemLive(item)
				if live {
					key, ok = append([]byte(nil), k...), true
				}
				return !live, err
			})
			if err != nil || ok {
				return err
			}
		}
		return nil
	})
	return key, ok, err
}

// Rename moves src to dst, replacing dst (or, with nx, only if dst is
// missing). It keeps src's TTL. ErrNoSuchKey if src is missing.
func (s *Store) Rename(db int, src, dst []byte, nx bool) (bool, error) {
	done := false
	err := s.update(db, [][]byte{src, dst}, func(x *Txn) error {
		done = false // a shared transaction may run this again (share.go)
		cur, exists, err := x.get(src)
		if err != nil {
			return err
		}
		if !exists {
			return ErrNoSuchKey
		}
		if bytes.Equal(src, dst) {
			done = !nx
			return nil
		}
		if nx {
			if _, taken, err := x.get(dst); err != nil || taken {
				return err
			}
		}
		done = true
		if err := x.del(src); err != nil {
			return err
		}
		return x.putMoved(dst, cur)
	})
	return done, err
}

// putMoved stores a record that changed place (RENAME, MOVE): a collection's
// members stay where they are, keyed by its id; only its owner changes.
func (x *Txn) putMoved(key []byte, r record) error {
	if r.kind.isCollection() {
		c, err := decodeCollection(r)
		if err != nil {
			return err
		}
		if err := x.setOwner(c.id, key); err != nil {
			return err
		}
	}
	return x.put(key, r)
}

// Copy copies src in db to dst in dstDB with its TTL; without replace an
// existing dst blocks the copy.
func (s *Store) Copy(db int, src []byte, dstDB int, dst []byte, replace bool) (bool, error) {
	done := false
	err := s.write(db, []lockKey{{db, src}, {dstDB, dst}}, func(x *Txn) error {
		done = false // a shared transaction may run this again (share.go)
		if err := s.checkDB(dstDB); err != nil {
			return err
		}
		if db == dstDB && bytes.Equal(src, dst) {
			return ErrSameObject
		}
		cur, exists, err := x.get(src)
		if err != nil || !exists {
			return err
		}
		to := x.in(dstDB)
		if !replace {
			if _, taken, err := to.get(dst); err != nil || taken {
				return err
			}
		}
		done = true
		if cur.kind.isCollection() {
			c, err := decodeCollection(cur)
			if err != nil {
				return err
			}
			if c, err = x.copyCollection(c, to, dst); err != nil {
				return err
			}
			cur = c.record()
		}
		return to.put(dst, cur)
	})
	return done, err
}

// Move moves key from db to dstDB unless it exists there.
func (s *Store) Move(db int, key []byte, dstDB int) (bool, error) {
	done := false
	err := s.write(db, []lockKey{{db, key}, {dstDB, key}}, func(x *Txn) error {
		done = false // a shared transaction may run this again (share.go)
		if db == dstDB {
			return ErrSameObject
		}
		cur, exists, err := x.get(key)
		if err != nil || !exists {
			return err
		}
		to := x.in(dstDB)
		if _, taken, err := to.get(key); err != nil || taken {
			return err
		}
		done = true
		if err := x.del(key); err != nil {
			return err
		}
		return to.putMoved(key, cur)
	})
	return done, err
}
