package engine

import (
	"bytes"
	"cmp"
	"slices"
)

// Sets are collections whose members are keyed by the member itself with
// an empty value: memberKey(id, member) -> "". Members come back in byte
// order, where Redis replies in hash-table order; Redis documents that order
// as unspecified.

// SetOp is one of the set algebra operations SINTER, SUNION and SDIFF.
type SetOp uint8

const (
	SetUnion SetOp = iota // members of any set
	SetInter              // members of every set
	SetDiff               // members of the first set and of no other
)

// getSet returns key's set; a missing key reads as exists=false, a key of
// another kind is ErrWrongType.
func (x *Txn) getSet(key []byte) (collection, bool, error) {
	return x.getCollection(key, KindSet)
}

// setHas reports whether member belongs to set c.
func (x *Txn) setHas(c collection, member []byte) (bool, error) {
	_, ok, err := x.getMember(c.id, member)
	return ok, err
}

// setMembers returns every member of set c, in byte order.
func (x *Txn) setMembers(c collection) ([][]byte, error) {
	out := make([][]byte, 0, min(c.count, 1024))
	err := x.eachRaw(memberPrefix(c.id), nil, false, func(m, _ []byte) (bool, error) {
		out = append(out, append([]byte{}, m...))
		return true, nil
	})
	return out, err
}

// SAdd adds members to the set at key, creating it, and returns how many
// were not already there.
func (s *Store) SAdd(db int, key []byte, members [][]byte) (int64, error) {
	var added int64
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		added = 0
		c, exists, err := x.getSet(key)
		if err != nil {
			return err
		}
		// A new set has no members but those added here, so it needs no
		// reads: fresh remembers them instead.
		var fresh map[string]bool
		if !exists {
			c = x.newCollection(KindSet)
			fresh = make(map[string]bool, len(members))
		}
		for _, m := range members {
			if fresh != nil {
				if fresh[string(m)] {
					continue
				}
				fresh[string(m)] = true
			} else {
				in, err := x.setHas(c, m)
				if err != nil {
					return err
				}
				if in {
					continue
				}
			}
			if err := x.putMember(c.id, m, nil); err != nil {
				return err
			}
			added++
		}
		if added == 0 {
			return nil
		}
		c.count += added
		return x.saveCollection(key, c, !exists)
	})
	return added, err
}

// SRem removes members from the set at key and returns how many were there.
// The emptied set is deleted.
func (s *Store) SRem(db int, key []byte, members [][]byte) (int64, error) {
	var removed int64
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		removed = 0
		c, exists, err := x.getSet(key)
		if err != nil || !exists {
			return err
		}
		for _, m := range members {
			in, err := x.setHas(c, m)
			if err != nil {
				return err
			}
			if !in {
				continue
			}
			if err := x.delMember(c.id, m); err != nil {
				return err
			}
			removed++
		}
		if removed == 0 {
			return nil
		}
		c.count -= removed
		return x.saveCollection(key, c, false)
	})
	return removed, err
}

// SMembers returns every member of the set at key (none when missing).
func (s *Store) SMembers(db int, key []byte) ([][]byte, error) {
	var out [][]byte
	err := s.view(db, func(x *Txn) error {
		c, exists, err := x.getSet(key)
		if err != nil || !exists {
			return err
		}
		out, err = x.setMembers(c)
		return err
	})
	return out, err
}

// SMIsMember reports for each member whether it belongs to the set at key
// (SISMEMBER is SMISMEMBER of one).
func (s *Store) SMIsMember(db int, key []byte, members [][]byte) ([]bool, error) {
	out := make([]bool, len(members))
	err := s.view(db, func(x *Txn) error {
		c, exists, err := x.getSet(key)
		if err != nil || !exists {
			return err
		}
		for i, m := range members {
			if out[i], err = x.setHas(c, m); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// SCard is the number of members of the set at key, 0 when missing.
func (s *Store) SCard(db int, key []byte) (int64, error) {
	var n int64
	err := s.view(db, func(x *Txn) error {
		c, _, err := x.getSet(key)
		n = c.count
		return err
	})
	return n, err
}

// SPop removes and returns up to n distinct members chosen at random from
// the set at key. Taking the whole set deletes the key at once and leaves
// the members to the orphan sweeper.
func (s *Store) SPop(db int, key []byte, n int64) ([][]byte, error) {
	var out [][]byte
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		out = nil
		c, exists, err := x.getSet(key)
		if err != nil || !exists || n <= 0 {
			return err
		}
		if n >= c.count {
			if out, err = x.setMembers(c); err != nil {
				return err
			}
			return x.del(key)
		}
		if out, err = x.setSample(c, n); err != nil {
			return err
		}
		for _, m := range out {
			if err := x.delMember(c.id, m); err != nil {
				return err
			}
		}
		c.count -= int64(len(out))
		return x.saveCollection(key, c, false)
	})
	return out, err
}

// SRandMember returns members of the set at key chosen at random without
// removing them: up to count distinct ones, or for a negative count exactly
// -count draws that may repeat (Redis's SRANDMEMBER key count).
func (s *Store) SRandMember(db int, key []byte, count int64) ([][]byte, error) {
	var out [][]byte
	err := s.view(db, func(x *Txn) error {
		c, exists, err := x.getSet(key)
		if err != nil || !exists || count == 0 {
			return err
		}
		switch {
		case count < 0:
			out, err = x.setDraw(c, -count)
		case count >= c.count:
			out, err = x.setMembers(c)
		default:
			out, err = x.setSample(c, count)
		}
		return err
	})
	return out, err
}

// SMove moves member from the set at src to the set at dst, creating dst,
// and reports whether it was in src. As in Redis, a missing src answers
// false before dst's type is checked, and src == dst only tests membership.
func (s *Store) SMove(db int, src, dst, member []byte) (bool, error) {
	moved := false
	err := s.update(db, [][]byte{src, dst}, func(x *Txn) error {
		moved = false
		from, exists, err := x.getSet(src)
		if err != nil || !exists {
			return err
		}
		to, toExists, err := x.getSet(dst)
		if err != nil {
			return err
		}
		in, err := x.setHas(from, member)
		if err != nil || !in {
			return err
		}
		moved = true
		if bytes.Equal(src, dst) {
			return nil
		}
		if err := x.delMember(from.id, member); err != nil {
			return err
		}
		from.count--
		if err := x.saveCollection(src, from, false); err != nil {
			return err
		}
		if !toExists {
			to = x.newCollection(KindSet)
		} else if in, err := x.setHas(to, member); err != nil || in {
			return err
		}
		if err := x.putMember(to.id, member, nil); err != nil {
			return err
		}
		to.count++
		return x.saveCollection(dst, to, !toExists)
	})
	return moved, err
}

// SetOp returns the result of op over the sets at keys, in byte order. A
// missing key is an empty set; any key of another kind is ErrWrongType.
func (s *Store) SetOp(db int, op SetOp, keys [][]byte) ([][]byte, error) {
	var out [][]byte
	err := s.view(db, func(x *Txn) error {
		var err error
		out, err = x.setOp(op, keys, 0)
		return err
	})
	return out, err
}

// SInterCard counts the members of the intersection of the sets at keys,
// stopping at limit when limit > 0.
func (s *Store) SInterCard(db int, keys [][]byte, limit int64) (int64, error) {
	var n int64
	err := s.view(db, func(x *Txn) error {
		members, err := x.setOp(SetInter, keys, limit)
		n = int64(len(members))
		return err
	})
	return n, err
}

// SetOpStore stores the result of op over the sets at keys as a new set at
// dst, replacing whatever dst held (and its TTL), in the same transaction as
// the reads, and returns its size. An empty result deletes dst.
func (s *Store) SetOpStore(db int, op SetOp, dst []byte, keys [][]byte) (int64, error) {
	var n int64
	locked := append(slices.Clip(keys), dst)
	err := s.update(db, locked, func(x *Txn) error {
		members, err := x.setOp(op, keys, 0)
		if err != nil {
			return err
		}
		n = int64(len(members))
		return x.replaceWithSet(dst, members)
	})
	return n, err
}

// replaceWithSet makes key a new set of members (distinct), or deletes key
// when there are none. A collection key held before is orphaned, not
// emptied: the sweeper reclaims its members.
func (x *Txn) replaceWithSet(key []byte, members [][]byte) error {
	if len(members) == 0 {
		if _, exists, err := x.get(key); err != nil || !exists {
			return err
		}
		return x.del(key)
	}
	c := x.newCollection(KindSet)
	for _, m := range members {
		if err := x.putMember(c.id, m, nil); err != nil {
			return err
		}
	}
	c.count = int64(len(members))
	return x.saveCollection(key, c, true)
}

// setOp computes op over the sets at keys. Every key is type-checked first,
// as Redis does, even when an empty set already decides the result. With
// limit > 0 an intersection stops after limit members (SINTERCARD).
func (x *Txn) setOp(op SetOp, keys [][]byte, limit int64) ([][]byte, error) {
	sets := make([]collection, len(keys))
	missing := false
	for i, k := range keys {
		c, exists, err := x.getSet(k)
		if err != nil {
			return nil, err
		}
		if !exists {
			missing = true
		}
		sets[i] = c // a missing set has id 0 and count 0
	}
	switch op {
	case SetInter:
		if missing {
			return nil, nil
		}
		// Walk the smallest set and probe the others.
		slices.SortStableFunc(sets, func(a, b collection) int { return cmp.Compare(a.count, b.count) })
		return x.setFilter(sets[0], sets[1:], true, limit)
	case SetDiff:
		if sets[0].count == 0 {
			return nil, nil
		}
		var others []collection
		for _, c := range sets[1:] {
			if c.count > 0 {
				others = append(others, c)
			}
		}
		return x.setFilter(sets[0], others, false, 0)
	default:
		return x.setUnionOf(sets)
	}
}

// setFilter returns the members of first that belong to every set of
// others (in == true) or to none of them (in == false), stopping after limit
// members when limit > 0.
func (x *Txn) setFilter(first collection, others []collection, in bool, limit int64) ([][]byte, error) {
	var out [][]byte
	err := x.eachRaw(memberPrefix(first.id), nil, false, func(m, _ []byte) (bool, error) {
		keep := true
		for _, o := range others {
			found, err := x.setHas(o, m)
			if err != nil {
				return false, err
			}
			if found != in {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, append([]byte{}, m...))
		}
		return limit <= 0 || int64(len(out)) < limit, nil
	})
	return out, err
}

// setUnionOf merges the members of sets, each read in byte order, into
// one list in byte order without duplicates.
func (x *Txn) setUnionOf(sets []collection) ([][]byte, error) {
	seen := make(map[string]struct{})
	var out [][]byte
	ids := make(map[uint64]bool, len(sets))
	for _, c := range sets {
		if c.count == 0 || ids[c.id] {
			continue
		}
		ids[c.id] = true
		err := x.eachRaw(memberPrefix(c.id), nil, false, func(m, _ []byte) (bool, error) {
			if _, dup := seen[string(m)]; !dup {
				seen[string(m)] = struct{}{}
				out = append(out, append([]byte{}, m...))
			}
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(ids) > 1 {
		slices.SortFunc(out, bytes.Compare)
	}
	return out, nil
}

// setScanWhole is the set size up to which SSCAN returns the whole set in
// one call, as Redis 7.0 does for small (intset) sets.
const setScanWhole = 512

// SScan returns members of the set at key after the member after (nil: from
// the start) that pass match (nil: all), and the member to resume after (nil
// when the scan is complete). A set of up to setScanWhole members comes back
// whole; a larger one examines at most count*10 members and returns at most
// count per call. Members are visited in byte order, so every member present
// for the whole scan is returned exactly once.
func (s *Store) SScan(db int, key, after []byte, count int, match func([]byte) bool) (members [][]byte, next []byte, err error) {
	count = max(count, 1)
	err = s.view(db, func(x *Txn) error {
		c, exists, err := x.getSet(key)
		if err != nil || !exists {
			return err
		}
		budget := count * 10
		if c.count <= setScanWhole {
			after, count, budget = nil, setScanWhole+1, setScanWhole+1
		}
		var from []byte
		if after != nil {
			from = append(append([]byte(nil), after...), 0) // the next member after
		}
		examined := 0
		var last []byte
		return x.eachRaw(memberPrefix(c.id), from, false, func(m, _ []byte) (bool, error) {
			if examined >= budget || len(members) >= count {
				next = last
				return false, nil
			}
			examined++
			last = append([]byte{}, m...) // never nil: the empty member is a position too
			if match == nil || match(m) {
				members = append(members, last)
			}
			return true, nil
		})
	})
	return members, next, err
}
