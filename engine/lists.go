package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// Lists are collections (see collections.go) whose elements occupy the
// sequence numbers head..tail-1 of their header, one member per element:
//
//	memberKey(id, seq as 8-byte big-endian uint64) -> element
//
// The sequence numbers are always contiguous, so count == tail-head, index i
// is seq head+i, and pushing or popping at either end is one badger write.
// Inserting or removing in the middle shifts the elements of the shorter
// side, O(n) like Redis.

// ListEnd names the end of a list an operation works on.
type ListEnd uint8

const (
	ListLeft  ListEnd = iota // the head (LPUSH, LPOP)
	ListRight                // the tail (RPUSH, RPOP)
)

// seqKey is the member name of the element at sequence number seq.
func seqKey(seq int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(seq))
	return b
}

// getList returns key's list; a missing key reads as exists=false.
func (x *Txn) getList(key []byte) (collection, bool, error) {
	return x.getCollection(key, KindList)
}

// listPush adds elem at one end of c.
func (x *Txn) listPush(c *collection, end ListEnd, elem []byte) error {
	seq := c.tail
	if end == ListLeft {
		seq = c.head - 1
	}
	if err := x.putMember(c.id, seqKey(seq), elem); err != nil {
		return err
	}
	if end == ListLeft {
		c.head--
	} else {
		c.tail++
	}
	c.count++
	return nil
}

// listPop removes n (<= c.count) elements from one end of c and returns
// them in pop order. When that empties the list, the members are left for
// the orphan sweeper: the caller's saveCollection deletes the record, so
// emptying a list of any length costs one write. The caller must therefore
// not push onto an emptied c again.
func (x *Txn) listPop(c *collection, end ListEnd, n int64) ([][]byte, error) {
	var out [][]byte
	var err error
	switch {
	case n <= popByGet:
		out, err = x.listEnds(*c, end, n)
	case end == ListLeft:
		out, err = x.listRange(*c, 0, n)
	default:
		out, err = x.listRangeReverse(*c, c.count-1, n)
	}
	if err != nil {
		return nil, err
	}
	if int64(len(out)) != n {
		return nil, errCorruptRecord // the header promises more elements
	}
	if n < c.count {
		for i := int64(0); i < n; i++ {
			seq := c.head + i
			if end == ListRight {
				seq = c.tail - 1 - i
			}
			if err := x.delMember(c.id, seqKey(seq)); err != nil {
				return nil, err
			}
		}
	}
	if end == ListLeft {
		c.head += n
	} else {
		c.tail -= n
	}
	c.count -= n
	return out, nil
}

// popByGet is how many elements a pop reads one by one, by sequence number,
// rather than with an iterator: badger's iterator over a write transaction
// first sorts every write pending in it, so in a combined round (thousands
// of writes) each LPOP paid O(P log P). Pipelined LPOP on one list at 50
// clients went from 27k to 157k ops/s (pinned; 106k before batches
// on one key were combined).
const popByGet = 16

// listEnds returns the n elements at one end of c (n <= c.count), read by
// their sequence numbers, which are contiguous from head to tail.
func (x *Txn) listEnds(c collection, end ListEnd, n int64) ([][]byte, error) {
	out := make([][]byte, 0, n)
	for i := int64(0); i < n; i++ {
		seq := c.head + i
		if end == ListRight {
			seq = c.tail - 1 - i
		}
		v, ok, err := x.getMember(c.id, seqKey(seq))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errCorruptRecord // the header promises the element
		}
		if v == nil {
			v = []byte{} // an empty element
		}
		out = append(out, v)
	}
	return out, nil
}

// listRange returns up to n elements of c from index start towards the tail.
func (x *Txn) listRange(c collection, start, n int64) ([][]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	out := make([][]byte, 0, min(n, 1024))
	err := x.eachRaw(memberPrefix(c.id), seqKey(c.head+start), false, func(_, v []byte) (bool, error) {
		out = append(out, v)
		return int64(len(out)) < n, nil
	})
	return out, err
}

// listRangeReverse returns up to n elements of c from index start towards
// the head.
func (x *Txn) listRangeReverse(c collection, start, n int64) ([][]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	out := make([][]byte, 0, min(n, 1024))
	err := x.eachRaw(memberPrefix(c.id), seqKey(c.head+start), true, func(_, v []byte) (bool, error) {
		out = append(out, v)
		return int64(len(out)) < n, nil
	})
	return out, err
}

// listFind calls fn with the index of each element of c equal to elem,
// scanning from the head (or, with reverse, from the tail) and looking at
// no more than maxlen elements (0: all), until fn returns false.
func (x *Txn) listFind(c collection, elem []byte, reverse bool, maxlen int64, fn func(i int64) bool) error {
	from, step, i := seqKey(c.head), int64(1), int64(0)
	if reverse {
		from, step, i = seqKey(c.tail-1), -1, c.count-1
	}
	seen := int64(0)
	return x.eachRaw(memberPrefix(c.id), from, reverse, func(_, v []byte) (bool, error) {
		if maxlen > 0 && seen == maxlen {
			return false, nil
		}
		seen++
		more := true
		if bytes.Equal(v, elem) {
			more = fn(i)
		}
		i += step
		return more, nil
	})
}

// listInsertAt puts elem at index i (0 <= i <= count), shifting the
// elements of whichever side of i is shorter by one place.
func (x *Txn) listInsertAt(c *collection, i int64, elem []byte) error {
	if i <= c.count-i { // move [0, i) one place towards the head
		vals, err := x.listRange(*c, 0, i)
		if err != nil {
			return err
		}
		for j, v := range vals {
			if err := x.putMember(c.id, seqKey(c.head+int64(j)-1), v); err != nil {
				return err
			}
		}
		c.head--
	} else { // move [i, count) one place towards the tail
		vals, err := x.listRange(*c, i, c.count-i)
		if err != nil {
			return err
		}
		for j, v := range vals {
			if err := x.putMember(c.id, seqKey(c.head+i+int64(j)+1), v); err != nil {
				return err
			}
		}
		c.tail++
	}
	c.count++
	return x.putMember(c.id, seqKey(c.head+i), elem)
}

// listRemoveAt removes the elements at the given indexes (ascending, not
// all of c) and closes the gaps by moving the elements of whichever side
// needs fewer moves.
func (x *Txn) listRemoveAt(c *collection, idx []int64) error {
	removed := int64(len(idx))
	first, last := idx[0], idx[len(idx)-1]
	afterFirst := c.count - first - removed // kept elements after the first gap
	beforeLast := last - (removed - 1)      // kept elements before the last gap
	gone := make(map[int64]bool, len(idx))
	for _, i := range idx {
		gone[i] = true
	}
	if afterFirst <= beforeLast { // pull the tail side towards the head
		vals, err := x.listRange(*c, first, c.count-first)
		if err != nil {
			return err
		}
		dst := c.head + first
		for j, v := range vals {
			if !gone[first+int64(j)] {
				if err := x.putMember(c.id, seqKey(dst), v); err != nil {
					return err
				}
				dst++
			}
		}
		for seq := dst; seq < c.tail; seq++ {
			if err := x.delMember(c.id, seqKey(seq)); err != nil {
				return err
			}
		}
		c.tail = dst
	} else { // push the head side towards the tail
		vals, err := x.listRangeReverse(*c, last, last+1)
		if err != nil {
			return err
		}
		dst := c.head + last
		for j, v := range vals {
			if !gone[last-int64(j)] {
				if err := x.putMember(c.id, seqKey(dst), v); err != nil {
					return err
				}
				dst--
			}
		}
		for seq := c.head; seq <= dst; seq++ {
			if err := x.delMember(c.id, seqKey(seq)); err != nil {
				return err
			}
		}
		c.head = dst + 1
	}
	c.count -= removed
	return nil
}

// listRebuild moves the elements [start, start+n) of c to a fresh
// collection id, leaving the old members to the orphan sweeper: cheaper
// than deleting when most of a long list goes. The caller saves the result
// with created=true so that the new id gets its owner entry.
func (x *Txn) listRebuild(c collection, start, n int64) (collection, error) {
	vals, err := x.listRange(c, start, n)
	if err != nil {
		return c, err
	}
	nc := x.newCollection(KindList)
	nc.deadline = c.deadline
	for _, v := range vals {
		if err := x.listPush(&nc, ListRight, v); err != nil {
			return c, err
		}
	}
	return nc, nil
}

// normalizeRange applies Redis's LRANGE/LTRIM index rules to a list of n
// elements: it returns the first index and how many elements the range
// holds (0 when it is empty).
func normalizeRange(start, stop, n int64) (int64, int64) {
	if start < 0 {
		start = max(n+start, 0)
	}
	if stop < 0 {
		stop = n + stop
	}
	if start > stop || start >= n {
		return 0, 0
	}
	if stop >= n {
		stop = n - 1
	}
	return start, stop - start + 1
}

// normalizeIndex turns a possibly negative index into one from the head;
// ok is false when it falls outside a list of n elements.
func normalizeIndex(i, n int64) (int64, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

// ListPush adds elems one by one at one end of key's list (LPUSH k a b
// leaves b first), creating the list unless onlyIfExists (LPUSHX, RPUSHX).
// It returns the new length, 0 when onlyIfExists and key is missing.
func (s *Store) ListPush(db int, key []byte, end ListEnd, elems [][]byte, onlyIfExists bool) (int64, error) {
	var n int64
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		n = 0 // a shared transaction may run this again (share.go)
		c, exists, err := x.getList(key)
		if err != nil || (!exists && onlyIfExists) {
			return err
		}
		if !exists {
			c = x.newCollection(KindList)
		}
		for _, e := range elems {
			if err := x.listPush(&c, end, e); err != nil {
				return err
			}
		}
		n = c.count
		return x.saveCollection(key, c, !exists)
	})
	return n, err
}

// ListPop removes up to count elements from one end of key's list and
// returns them; exists is false when the key is missing. count 0 pops
// nothing but still checks the key (LPOP key 0).
func (s *Store) ListPop(db int, key []byte, end ListEnd, count int64) (elems [][]byte, exists bool, err error) {
	err = s.update(db, [][]byte{key}, func(x *Txn) error {
		elems, exists = nil, false // a shared transaction may run this again (share.go)
		c, ok, err := x.getList(key)
		if err != nil || !ok {
			return err
		}
		exists = true
		if count == 0 {
			return nil
		}
		if elems, err = x.listPop(&c, end, min(count, c.count)); err != nil {
			return err
		}
		return x.saveCollection(key, c, false)
	})
	return elems, exists, err
}

// ListMPop pops up to count (> 0) elements from one end of the first
// non-empty list among keys (LMPOP, BLPOP, BRPOP, BLMPOP) and returns them
// with that list's key; elems is empty when every list is. A key of another
// kind before the first non-empty list is ErrWrongType, unless
// skipWrongType: a blocked client retrying is served only from lists, as
// Redis serves blocked clients.
func (s *Store) ListMPop(db int, keys [][]byte, end ListEnd, count int64, skipWrongType bool) (key []byte, elems [][]byte, err error) {
	err = s.update(db, keys, func(x *Txn) error {
		key, elems = nil, nil // a shared transaction may run this again (share.go)
		for _, k := range keys {
			c, ok, err := x.getList(k)
			if errors.Is(err, ErrWrongType) && skipWrongType {
				continue
			}
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if elems, err = x.listPop(&c, end, min(count, c.count)); err != nil {
				return err
			}
			key = k
			return x.saveCollection(k, c, false)
		}
		return nil
	})
	return key, elems, err
}

// LMove pops an element from one end of src and pushes it at one end of dst
// (LMOVE, RPOPLPUSH, BLMOVE), atomically; src and dst may be the same list.
// ok is false when src is missing. A dst of another kind is ErrWrongType
// and nothing moves. With srcWrongTypeIsEmpty a src of another kind reads
// as missing, for blocked clients retrying (see ListMPop).
func (s *Store) LMove(db int, src, dst []byte, from, to ListEnd, srcWrongTypeIsEmpty bool) (elem []byte, ok bool, err error) {
	err = s.update(db, [][]byte{src, dst}, func(x *Txn) error {
		elem, ok = nil, false // a shared transaction may run this again (share.go)
		sc, exists, err := x.getList(src)
		if errors.Is(err, ErrWrongType) && srcWrongTypeIsEmpty {
			return nil
		}
		if err != nil || !exists {
			return err
		}
		if bytes.Equal(src, dst) {
			elem, err = x.listRotate(src, sc, from, to)
			ok = err == nil
			return err
		}
		dc, dstExists, err := x.getList(dst)
		if err != nil {
			return err
		}
		if !dstExists {
			dc = x.newCollection(KindList)
		}
		popped, err := x.listPop(&sc, from, 1)
		if err != nil {
			return err
		}
		elem, ok = popped[0], true
		if err := x.listPush(&dc, to, elem); err != nil {
			return err
		}
		if err := x.saveCollection(src, sc, false); err != nil {
			return err
		}
		return x.saveCollection(dst, dc, !dstExists)
	})
	return elem, ok, err
}

// listRotate is LMOVE with the same source and destination: the element
// popped at one end goes back at the other (or the same) end.
func (x *Txn) listRotate(key []byte, c collection, from, to ListEnd) ([]byte, error) {
	if c.count == 1 { // one element: nothing changes
		v, err := x.listRange(c, 0, 1)
		if err == nil && len(v) == 0 {
			err = errCorruptRecord
		}
		if err != nil {
			return nil, err
		}
		return v[0], nil
	}
	popped, err := x.listPop(&c, from, 1) // not emptied: count > 1
	if err != nil {
		return nil, err
	}
	if err := x.listPush(&c, to, popped[0]); err != nil {
		return nil, err
	}
	return popped[0], x.saveCollection(key, c, false)
}
