package engine

import (
	"bytes"
	"fmt"
	"math"

	"github.com/zeebo/xxh3"

	"github.com/kvd/kvd/internal/redisnum"
)

// MaxStringLen is proto-max-bulk-len's default: the longest string SETRANGE
// and APPEND may build.
const MaxStringLen = 512 << 20

// SetCond is the condition of a SET or DELEX.
type SetCond uint8

const (
	CondNone  SetCond = iota
	CondNX            // only if the key does not exist
	CondXX            // only if the key exists
	CondIfEq          // only if the value equals Match (never creates)
	CondIfNe          // only if the value differs from Match or the key is missing
	CondIfDEq         // only if the value's digest equals Match (never creates)
	CondIfDNe         // only if the digest differs or the key is missing
)

// SetArgs are SET's options, parsed.
type SetArgs struct {
	Cond   SetCond
	Match  []byte // the value or digest IF* conditions compare against
	Expiry Expiry
	Get    bool // return the old value (SET ... GET)
}

// SetResult is what SET did.
type SetResult struct {
	Written bool
	Old     []byte // the old value, when SetArgs.Get and the key held one
	HadOld  bool
}

// Digest is the hex XXH3-64 of a value, as Redis 8.4's DIGEST returns it.
func Digest(v []byte) string { return fmt.Sprintf("%016x", xxh3.Hash(v)) }

// condHolds evaluates an IF*/NX/XX condition against the current state. As
// in Redis 8.4, a digest argument is validated only when there is a value to
// compare it with: against a missing key IFDEQ is simply false and IFDNE true.
func condHolds(c SetCond, match []byte, cur record, exists bool) (bool, error) {
	switch c {
	case CondNX:
		return !exists, nil
	case CondXX:
		return exists, nil
	case CondIfEq:
		return exists && bytes.Equal(cur.payload, match), nil
	case CondIfNe:
		return !exists || !bytes.Equal(cur.payload, match), nil
	case CondIfDEq, CondIfDNe:
		if !exists {
			return c == CondIfDNe, nil
		}
		if !validDigest(match) {
			return false, ErrInvalidDigest
		}
		same := bytes.EqualFold([]byte(Digest(cur.payload)), match)
		return same == (c == CondIfDEq), nil
	}
	return true, nil
}

// validDigest reports whether d looks like DIGEST's output: 16 hex digits.
func validDigest(d []byte) bool {
	if len(d) != 16 {
		return false
	}
	for _, ch := range d {
		if !('0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F') {
			return false
		}
	}
	return true
}

// valueConditional reports whether a condition reads the value, and so
// requires the key to hold a string.
func (c SetCond) valueConditional() bool { return c >= CondIfEq }

// Set is SET with every option; SETNX, SETEX, PSETEX and GETSET are SET too.
func (s *Store) Set(db int, key, value []byte, a SetArgs) (SetResult, error) {
	var res SetResult
	// A plain SET overwrites whatever is there, so it needs no read: a
	// blind write, without the lookup that costs a quarter of SET's CPU
	// (docs/performance.md).
	blind := a.Cond == CondNone && !a.Get && a.Expiry.Mode != ExpiryKeep
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		res = SetResult{} // a shared transaction may run this again (share.go)
		var cur record
		if !blind {
			var exists bool
			var err error
			if cur, exists, err = x.get(key); err != nil {
				return err
			}
			if exists && cur.kind != KindString && (a.Get || a.Cond.valueConditional()) {
				return ErrWrongType
			}
			if a.Get && exists {
				res.Old, res.HadOld = cur.payload, true
			}
			if ok, err := condHolds(a.Cond, a.Match, cur, exists); !ok || err != nil {
				return err
			}
		}
		deadline, err := a.Expiry.deadline(x.now, cur.deadline)
		if err != nil {
			return err
		}
		res.Written = true
		if expiresNow(deadline, x.now) {
			return x.del(key)
		}
		return x.put(key, record{kind: KindString, deadline: deadline, payload: value})
	})
	return res, err
}

// Get returns a string's value; ok is false when the key is missing.
func (s *Store) Get(db int, key []byte) (value []byte, ok bool, err error) {
	if s.reads != nil && !s.exclusive && s.batch == nil && (s.snap == nil || s.snap.cached) {
		return s.getCached(db, key)
	}
	err = s.view(db, func(x *Txn) error {
		r, exists, err := x.getString(key)
		value, ok = r.payload, exists
		return err
	})
	return value, ok, err
}

// MGet returns the values of keys; a missing key or one holding another
// kind reads as nil, as in Redis.
func (s *Store) MGet(db int, keys [][]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	err := s.view(db, func(x *Txn) error {
		for i, k := range keys {
			r, ok, err := x.get(k)
			if err != nil {
				return err
			}
			if ok && r.kind == KindString {
				out[i] = r.payload
				if out[i] == nil {
					out[i] = []byte{}
				}
			}
		}
		return nil
	})
	return out, err
}

// MSet sets key/value pairs atomically, clearing their TTLs. With nx, nothing
// is set unless no key exists (MSETNX), and the result says whether it was.
func (s *Store) MSet(db int, pairs [][]byte, nx bool) (bool, error) {
	keys := make([][]byte, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		keys = append(keys, pairs[i])
	}
	done := false
	err := s.update(db, keys, func(x *Txn) error {
		done = false // a shared transaction may run this again (share.go)
		if nx {
			for _, k := range keys {
				_, exists, err := x.get(k)
				if err != nil {
					return err
				}
				if exists {
					return nil
				}
			}
		}
		for i := 0; i < len(pairs); i += 2 {
			if err := x.put(pairs[i], record{kind: KindString, payload: pairs[i+1]}); err != nil {
				return err
			}
		}
		done = true
		return nil
	})
	return done, err
}

// IncrBy adds delta to the integer in key (missing: 0), keeping its TTL.
func (s *Store) IncrBy(db int, key []byte, delta int64) (int64, error) {
	var result int64
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		cur, exists, err := x.getString(key)
		if err != nil {
			return err
		}
		var n int64
		if exists {
			var ok bool
			if n, ok = redisnum.ParseInt(cur.payload); !ok {
				return ErrNotInteger
			}
		}
		if (delta < 0 && n < 0 && delta < math.MinInt64-n) || (delta > 0 && n > 0 && delta > math.MaxInt64-n) {
			return ErrOverflow
		}
		result = n + delta
		cur.kind = KindString
		cur.payload = fmt.Appendf(nil, "%d", result)
		return x.put(key, cur)
	})
	return result, err
}

// IncrByFloat adds incr (text, parsed as a long double like Redis) to the
// number in key, keeping its TTL, and returns the new text.
func (s *Store) IncrByFloat(db int, key, incr []byte) ([]byte, error) {
	by, ok := redisnum.ParseLongDouble(incr)
	if !ok {
		return nil, ErrNotFloat
	}
	var result []byte
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		cur, exists, err := x.getString(key)
		if err != nil {
			return err
		}
		base, _ := redisnum.ParseLongDouble([]byte("0"))
		if exists {
			if base, ok = redisnum.ParseLongDouble(cur.payload); !ok {
				return ErrNotFloat
			}
		}
		sum, ok := base.Add(by)
		if !ok {
			return ErrNaNOrInf
		}
		result = []byte(sum.Human())
		cur.kind = KindString
		cur.payload = result
		return x.put(key, cur)
	})
	return result, err
}

// Append appends to a string (creating it), keeping its TTL; returns the new
// length.
func (s *Store) Append(db int, key, suffix []byte) (int64, error) {
	var n int64
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		cur, _, err := x.getString(key)
		if err != nil {
			return err
		}
		if len(cur.payload)+len(suffix) > MaxStringLen {
			return ErrTooLarge
		}
		cur.kind = KindString
		cur.payload = append(cur.payload[:len(cur.payload):len(cur.payload)], suffix...)
		n = int64(len(cur.payload))
		return x.put(key, cur)
	})
	return n, err
}

// Strlen is the length of a string, 0 when missing.
func (s *Store) Strlen(db int, key []byte) (int64, error) {
	v, _, err := s.Get(db, key)
	return int64(len(v)), err
}

// GetRange returns the substring between start and end inclusive, with
// Redis's negative-index rules.
func (s *Store) GetRange(db int, key []byte, start, end int64) ([]byte, error) {
	v, _, err := s.Get(db, key)
	if err != nil {
		return nil, err
	}
	n := int64(len(v))
	if start < 0 && end < 0 && start > end {
		return []byte{}, nil
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if start < 0 {
		start = 0
	}
	if end < 0 {
		end = 0
	}
	if end >= n {
		end = n - 1
	}
	if n == 0 || start > end {
		return []byte{}, nil
	}
	return v[start : end+1], nil
}

// SetRange overwrites part of a string at offset, zero-padding as needed, and
// returns the new length. An empty value on a missing key creates nothing.
func (s *Store) SetRange(db int, key []byte, offset int64, value []byte) (int64, error) {
	var n int64
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		cur, exists, err := x.getString(key)
		if err != nil {
			return err
		}
		if len(value) == 0 {
			n = int64(len(cur.payload))
			return nil
		}
		if offset > MaxStringLen-int64(len(value)) { // written so it cannot overflow

			return ErrTooLarge
		}
		need := int(offset) + len(value)
		buf := cur.payload
		if len(buf) < need {
			grown := make([]byte, need)
			copy(grown, buf)
			buf = grown
		} else {
			buf = append([]byte(nil), buf...)
		}
		copy(buf[offset:], value)
		n = int64(len(buf))
		if !exists {
			cur = record{}
		}
		cur.kind = KindString
		cur.payload = buf
		return x.put(key, cur)
	})
	return n, err
}

// GetDel returns a string and deletes it.
func (s *Store) GetDel(db int, key []byte) (value []byte, ok bool, err error) {
	err = s.update(db, [][]byte{key}, func(x *Txn) error {
		value, ok = nil, false // a shared transaction may run this again (share.go)
		cur, exists, err := x.getString(key)
		if err != nil || !exists {
			return err
		}
		value, ok = cur.payload, true
		return x.del(key)
	})
	return value, ok, err
}

// GetEx returns a string and optionally changes its TTL (ExpiryKeep: no
// change, ExpiryClear: PERSIST).
func (s *Store) GetEx(db int, key []byte, e Expiry) (value []byte, ok bool, err error) {
	err = s.update(db, [][]byte{key}, func(x *Txn) error {
		value, ok = nil, false // a shared transaction may run this again (share.go)
		cur, exists, err := x.getString(key)
		if err != nil || !exists {
			return err
		}
		value, ok = cur.payload, true
		if e.Mode == ExpiryKeep {
			return nil
		}
		deadline, err := e.deadline(x.now, cur.deadline)
		if err != nil {
			return err
		}
		if expiresNow(deadline, x.now) {
			return x.del(key)
		}
		if deadline == cur.deadline {
			return nil
		}
		cur.deadline = deadline
		return x.put(key, cur)
	})
	return value, ok, err
}

// DigestOf returns the digest of a string value; ok is false when missing.
func (s *Store) DigestOf(db int, key []byte) (string, bool, error) {
	v, ok, err := s.Get(db, key)
	if err != nil || !ok {
		return "", ok, err
	}
	return Digest(v), true, nil
}

// DelIf deletes key when cond holds (DELEX, DELIFEQ). CondNone deletes a key
// of any kind; the value conditions require a string.
func (s *Store) DelIf(db int, key []byte, cond SetCond, match []byte) (bool, error) {
	deleted := false
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		deleted = false // a shared transaction may run this again (share.go)
		cur, exists, err := x.get(key)
		if err != nil || !exists {
			return err
		}
		if cond.valueConditional() && cur.kind != KindString {
			return ErrWrongType
		}
		if ok, err := condHolds(cond, match, cur, exists); !ok || err != nil {
			return err
		}
		deleted = true
		return x.del(key)
	})
	return deleted, err
}
