package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/kvd/kvd/internal/redisnum"
)

// Hashes are collections (collections.go) whose members are fields:
//
//	memberKey(id, field) -> value
//
// Every command that names fields touches only those fields, so HSET, HGET,
// HDEL and HINCRBY cost O(fields named) badger operations whatever the size
// of the hash. HGETALL, HKEYS, HVALS, HRANDFIELD and HSCAN read the members
// in field byte order.

// FieldValue is one field of a hash and its value.
type FieldValue struct {
	Field, Value []byte
}

// smallHash is Redis's hash-max-listpack-entries default. Redis keeps a hash
// this small in one compact listpack, and HSCAN returns such a hash whole in
// one call whatever COUNT says; kvd does the same.
const smallHash = 128

// fieldExists reports whether a hash field exists without reading its value.
func (x *Txn) fieldExists(id uint64, field []byte) (bool, error) {
	_, err := x.t.Get(memberKey(id, field))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get: %w", err)
	}
	return true, nil
}

// getField reads a field's value; an empty value is non-nil, so that nil
// always means a missing field.
func (x *Txn) getField(id uint64, field []byte) ([]byte, bool, error) {
	v, ok, err := x.getMember(id, field)
	if ok && v == nil {
		v = []byte{}
	}
	return v, ok, err
}

// writeHash runs fn on key's hash (a new, empty one when the key is missing)
// in a write transaction, then stores the header when fn created the hash
// or changed its field count. An emptied hash is deleted.
func (s *Store) writeHash(db int, key []byte, fn func(x *Txn, c *collection) error) error {
	return s.update(db, [][]byte{key}, func(x *Txn) error {
		c, exists, err := x.getCollection(key, KindHash)
		if err != nil {
			return err
		}
		if !exists {
			c = x.newCollection(KindHash)
		}
		before := c.count
		if err := fn(x, &c); err != nil {
			return err
		}
		if (!exists && c.count == 0) || (exists && c.count == before) {
			return nil
		}
		return x.saveCollection(key, c, !exists)
	})
}

// readHash runs fn on key's hash in a snapshot; fn is not called when the
// key is missing.
func (s *Store) readHash(db int, key []byte, fn func(x *Txn, c collection) error) error {
	return s.view(db, func(x *Txn) error {
		c, exists, err := x.getCollection(key, KindHash)
		if err != nil || !exists {
			return err
		}
		return fn(x, c)
	})
}

// HSet sets field/value pairs (pairs alternates them) and returns how many
// fields were new. A field named twice takes its last value.
func (s *Store) HSet(db int, key []byte, pairs [][]byte) (int64, error) {
	var added int64
	err := s.writeHash(db, key, func(x *Txn, c *collection) error {
		added = 0
		for i := 0; i+1 < len(pairs); i += 2 {
			had, err := x.fieldExists(c.id, pairs[i])
			if err != nil {
				return err
			}
			if !had {
				added++
				c.count++
			}
			if err := x.putMember(c.id, pairs[i], pairs[i+1]); err != nil {
				return err
			}
		}
		return nil
	})
	return added, err
}

// HSetNX sets a field only if it does not exist, and reports whether it did.
func (s *Store) HSetNX(db int, key, field, value []byte) (bool, error) {
	set := false
	err := s.writeHash(db, key, func(x *Txn, c *collection) error {
		set = false // a shared transaction may run this again (share.go)
		had, err := x.fieldExists(c.id, field)
		if err != nil || had {
			return err
		}
		set = true
		c.count++
		return x.putMember(c.id, field, value)
	})
	return set, err
}

// HGet returns a field's value; ok is false when the key or field is missing.
func (s *Store) HGet(db int, key, field []byte) (value []byte, ok bool, err error) {
	err = s.readHash(db, key, func(x *Txn, c collection) error {
		value, ok, err = x.getField(c.id, field)
		return err
	})
	return value, ok, err
}

// HMGet returns the values of fields, nil for each missing one.
func (s *Store) HMGet(db int, key []byte, fields [][]byte) ([][]byte, error) {
	out := make([][]byte, len(fields))
	err := s.readHash(db, key, func(x *Txn, c collection) error {
		for i, f := range fields {
			v, _, err := x.getField(c.id, f)
			if err != nil {
				return err
			}
			out[i] = v
		}
		return nil
	})
	return out, err
}

// HDel deletes fields and returns how many existed. Deleting the last field
// deletes the key.
func (s *Store) HDel(db int, key []byte, fields [][]byte) (int64, error) {
	var n int64
	err := s.writeHash(db, key, func(x *Txn, c *collection) error {
		n = 0
		for _, f := range fields {
			had, err := x.fieldExists(c.id, f)
			if err != nil {
				return err
			}
			if !had {
				continue
			}
			if err := x.delMember(c.id, f); err != nil {
				return err
			}
			n++
			c.count--
		}
		return nil
	})
	return n, err
}

// HLen is the number of fields, 0 for a missing key.
func (s *Store) HLen(db int, key []byte) (int64, error) {
	var n int64
	err := s.readHash(db, key, func(x *Txn, c collection) error {
		n = c.count
		return nil
	})
	return n, err
}

// HExists reports whether a field exists.
func (s *Store) HExists(db int, key, field []byte) (bool, error) {
	found := false
	err := s.readHash(db, key, func(x *Txn, c collection) error {
		var err error
		found, err = x.fieldExists(c.id, field)
		return err
	})
	return found, err
}

// HStrLen is the length of a field's value, 0 when missing.
func (s *Store) HStrLen(db int, key, field []byte) (int64, error) {
	v, _, err := s.HGet(db, key, field)
	return int64(len(v)), err
}

// HIncrBy adds delta to the integer in a field (missing: 0) and returns the
// result. The field must hold an integer as Redis parses them.
func (s *Store) HIncrBy(db int, key, field []byte, delta int64) (int64, error) {
	var result int64
	err := s.writeHash(db, key, func(x *Txn, c *collection) error {
		cur, had, err := x.getField(c.id, field)
		if err != nil {
			return err
		}
		var n int64
		if had {
			var ok bool
			if n, ok = redisnum.ParseInt(cur); !ok {
				return ErrHashNotInteger
			}
		}
		if (delta < 0 && n < 0 && delta < math.MinInt64-n) || (delta > 0 && n > 0 && delta > math.MaxInt64-n) {
			return ErrOverflow
		}
		result = n + delta
		if !had {
			c.count++
		}
		return x.putMember(c.id, field, fmt.Appendf(nil, "%d", result))
	})
	return result, err
}

// HIncrByFloat adds incr to the number in a field (missing: 0) with long
// double precision, as HINCRBYFLOAT does, and returns the new text.
func (s *Store) HIncrByFloat(db int, key, field []byte, incr redisnum.LongDouble) ([]byte, error) {
	var result []byte
	err := s.writeHash(db, key, func(x *Txn, c *collection) error {
		cur, had, err := x.getField(c.id, field)
		if err != nil {
			return err
		}
		if !had {
			cur = []byte("0")
		}
		base, ok := redisnum.ParseLongDouble(cur)
		if !ok {
			return ErrHashNotFloat
		}
		sum, ok := base.Add(incr)
		if !ok {
			return ErrNaNOrInf
		}
		result = []byte(sum.Human())
		if !had {
			c.count++
		}
		return x.putMember(c.id, field, result)
	})
	return result, err
}

// HGetAll returns every field and value in field byte order; none for a
// missing key. HKEYS and HVALS are projections of it.
func (s *Store) HGetAll(db int, key []byte) ([]FieldValue, error) {
	var out []FieldValue
	err := s.readHash(db, key, func(x *Txn, c collection) error {
		out = make([]FieldValue, 0, c.count)
		return x.eachRaw(memberPrefix(c.id), nil, false, func(field, value []byte) (bool, error) {
			out = append(out, FieldValue{append([]byte(nil), field...), value})
			return true, nil
		})
	})
	return out, err
}

// HScan returns up to count fields (with values) after the position cursor,
// whose fields pass match (nil: all), and the position to resume from (nil
// when the scan is complete). A position is opaque: the hash's id followed
// by the last field examined, so that a position from another or a
// recreated hash restarts the scan rather than resuming in the wrong place.
//
// As with SCAN, at most count*10 fields are examined per call, and every
// field that exists for a whole scan is returned. A hash of at most
// smallHash fields is returned whole with a nil position, as Redis does.
func (s *Store) HScan(db int, key, cursor []byte, count int, match func([]byte) bool) (items []FieldValue, next []byte, err error) {
	count = max(count, 1)
	err = s.readHash(db, key, func(x *Txn, c collection) error {
		var from []byte
		limit, budget := math.MaxInt, math.MaxInt
		if c.count > smallHash {
			limit, budget = count, count*10
			if len(cursor) >= 8 && binary.BigEndian.Uint64(cursor) == c.id {
				from = append(append([]byte(nil), cursor[8:]...), 0) // the next field after it
			}
		}
		var last []byte
		examined := 0
		more := false
		err := x.eachRaw(memberPrefix(c.id), from, false, func(field, value []byte) (bool, error) {
			if examined >= budget || len(items) >= limit {
				more = true
				return false, nil
			}
			examined++
			last = append(last[:0], field...)
			if match == nil || match(field) {
				items = append(items, FieldValue{append([]byte(nil), field...), value})
			}
			return true, nil
		})
		if more {
			next = binary.BigEndian.AppendUint64(nil, c.id)
			next = append(next, last...)
		}
		return err
	})
	return items, next, err
}

// HRandField picks random fields, with their values, as HRANDFIELD with a
// count does: count > 0 picks min(count, size) distinct fields, count < 0
// picks -count fields that may repeat, in random order. exists is false for
// a missing key. kvd keeps fields in byte order, not in a hash table, so a
// pick costs one pass over the hash up to the last field chosen.
func (s *Store) HRandField(db int, key []byte, count int64) (picks []FieldValue, exists bool, err error) {
	err = s.readHash(db, key, func(x *Txn, c collection) error {
		exists = true
		if count == 0 {
			return nil
		}
		if count >= c.count {
			picks = make([]FieldValue, 0, c.count)
			return x.eachRaw(memberPrefix(c.id), nil, false, func(field, value []byte) (bool, error) {
				picks = append(picks, FieldValue{append([]byte(nil), field...), value})
				return true, nil
			})
		}
		idx := randomFieldPositions(c.count, count)
		picks = make([]FieldValue, 0, len(idx))
		var pos int64
		err := x.eachRaw(memberPrefix(c.id), nil, false, func(field, value []byte) (bool, error) {
			if len(picks) < len(idx) && idx[len(picks)] == pos {
				fv := FieldValue{append([]byte(nil), field...), value}
				for len(picks) < len(idx) && idx[len(picks)] == pos {
					picks = append(picks, fv)
				}
			}
			pos++
			return len(picks) < len(idx), nil
		})
		rand.Shuffle(len(picks), func(i, j int) { picks[i], picks[j] = picks[j], picks[i] })
		return err
	})
	return picks, exists, err
}

// randomFieldPositions returns sorted positions in [0, size): count
// distinct ones when 0 < count < size (Floyd's algorithm), -count
// independent ones when count < 0.
func randomFieldPositions(size, count int64) []int64 {
	var idx []int64
	if count < 0 {
		idx = make([]int64, -count)
		for i := range idx {
			idx[i] = rand.Int64N(size)
		}
	} else {
		chosen := make(map[int64]bool, count)
		idx = make([]int64, 0, count)
		for j := size - count; j < size; j++ {
			t := rand.Int64N(j + 1)
			if chosen[t] {
				t = j
			}
			chosen[t] = true
			idx = append(idx, t)
		}
	}
	slices.Sort(idx)
	return idx
}
