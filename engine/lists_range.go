package engine

// List reads by index and range, and the edits that work inside a list:
// LSET, LINSERT, LREM, LTRIM. Encoding and the end operations are in
// lists.go.

// LLen is the length of key's list, 0 when missing.
func (s *Store) LLen(db int, key []byte) (int64, error) {
	var n int64
	err := s.view(db, func(x *Txn) error {
		c, _, err := x.getList(key)
		n = c.count
		return err
	})
	return n, err
}

// LRange returns the elements between start and stop inclusive, with
// Redis's negative-index rules; exists is false when key is missing. It
// reads only the elements it returns.
func (s *Store) LRange(db int, key []byte, start, stop int64) (elems [][]byte, exists bool, err error) {
	err = s.view(db, func(x *Txn) error {
		c, ok, err := x.getList(key)
		if err != nil || !ok {
			return err
		}
		exists = true
		first, n := normalizeRange(start, stop, c.count)
		if n == 0 {
			elems = [][]byte{}
			return nil
		}
		elems, err = x.listRange(c, first, n)
		return err
	})
	return elems, exists, err
}

// LIndex returns the element at index (negative: from the tail). found is
// false when the index is outside the list, exists when key is missing.
func (s *Store) LIndex(db int, key []byte, index int64) (elem []byte, found, exists bool, err error) {
	err = s.view(db, func(x *Txn) error {
		c, ok, err := x.getList(key)
		if err != nil || !ok {
			return err
		}
		exists = true
		i, in := normalizeIndex(index, c.count)
		if !in {
			return nil
		}
		var v []byte
		if v, found, err = x.getMember(c.id, seqKey(c.head+i)); err == nil && !found {
			err = errCorruptRecord // the header promises this element
		}
		elem = v
		return err
	})
	return elem, found, exists, err
}

// LSet replaces the element at index: ErrNoSuchKey when key is missing,
// ErrIndexOutOfRange when the index is outside the list.
func (s *Store) LSet(db int, key []byte, index int64, elem []byte) error {
	return s.update(db, [][]byte{key}, func(x *Txn) error {
		c, ok, err := x.getList(key)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNoSuchKey
		}
		i, in := normalizeIndex(index, c.count)
		if !in {
			return ErrIndexOutOfRange
		}
		return x.putMember(c.id, seqKey(c.head+i), elem)
	})
}

// LInsert inserts elem before (or after) the first element equal to pivot
// and returns the new length: 0 when key is missing, -1 when there is no
// pivot.
func (s *Store) LInsert(db int, key []byte, after bool, pivot, elem []byte) (int64, error) {
	var n int64
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		n = 0 // a shared transaction may run this again (share.go)
		c, ok, err := x.getList(key)
		if err != nil || !ok {
			return err
		}
		at := int64(-1)
		err = x.listFind(c, pivot, false, 0, func(i int64) bool {
			at = i
			return false
		})
		if err != nil {
			return err
		}
		if at < 0 {
			n = -1
			return nil
		}
		if after {
			at++
		}
		if err := x.listInsertAt(&c, at, elem); err != nil {
			return err
		}
		n = c.count
		return x.saveCollection(key, c, false)
	})
	return n, err
}

// LRem removes elements equal to elem: the first count from the head
// (count > 0), the last -count from the tail (count < 0) or all of them
// (0). It returns how many it removed.
func (s *Store) LRem(db int, key []byte, count int64, elem []byte) (int64, error) {
	var removed int64
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		removed = 0
		c, ok, err := x.getList(key)
		if err != nil || !ok {
			return err
		}
		// As in Redis, -count of the smallest int64 stays negative and so
		// never limits anything.
		limit, reverse := count, count < 0
		if reverse {
			limit = -limit
		}
		var idx []int64
		err = x.listFind(c, elem, reverse, 0, func(i int64) bool {
			idx = append(idx, i)
			return limit == 0 || int64(len(idx)) != limit
		})
		if err != nil || len(idx) == 0 {
			return err
		}
		removed = int64(len(idx))
		if removed == c.count {
			c.count = 0 // the members go to the sweeper with the record
			return x.saveCollection(key, c, false)
		}
		if reverse {
			for l, r := 0, len(idx)-1; l < r; l, r = l+1, r-1 {
				idx[l], idx[r] = idx[r], idx[l]
			}
		}
		if err := x.listRemoveAt(&c, idx); err != nil {
			return err
		}
		return x.saveCollection(key, c, false)
	})
	return removed, err
}

// LTrim keeps only the elements between start and stop inclusive (Redis's
// index rules); an empty range deletes the list. It deletes the trimmed
// elements one by one, or, when fewer elements stay than go, moves those to
// a fresh collection and leaves the rest to the sweeper.
func (s *Store) LTrim(db int, key []byte, start, stop int64) error {
	return s.update(db, [][]byte{key}, func(x *Txn) error {
		c, ok, err := x.getList(key)
		if err != nil || !ok {
			return err
		}
		first, n := normalizeRange(start, stop, c.count)
		ltrim, rtrim := first, c.count-first-n
		switch {
		case ltrim+rtrim == 0:
			return nil
		case n == 0:
			c.count = 0
			return x.saveCollection(key, c, false)
		case n+1 < ltrim+rtrim:
			nc, err := x.listRebuild(c, first, n)
			if err != nil {
				return err
			}
			return x.saveCollection(key, nc, true)
		}
		for i := int64(0); i < ltrim; i++ {
			if err := x.delMember(c.id, seqKey(c.head+i)); err != nil {
				return err
			}
		}
		for i := int64(0); i < rtrim; i++ {
			if err := x.delMember(c.id, seqKey(c.tail-1-i)); err != nil {
				return err
			}
		}
		c.head += ltrim
		c.tail -= rtrim
		c.count = n
		return x.saveCollection(key, c, false)
	})
}

// LPosArgs are LPOS's options.
type LPosArgs struct {
	Rank   int64 // which match comes first: 1 the first, -1 the last; never 0
	Count  int64 // how many indexes to return, 0 all; -1: no COUNT option
	MaxLen int64 // how many elements to compare at most, 0 all
}

// LPos returns the indexes of elements equal to elem, per a; exists is false
// when key is missing.
func (s *Store) LPos(db int, key, elem []byte, a LPosArgs) (idx []int64, exists bool, err error) {
	err = s.view(db, func(x *Txn) error {
		c, ok, err := x.getList(key)
		if err != nil || !ok {
			return err
		}
		exists = true
		// Redis negates a negative rank to count from the tail; the
		// smallest int64 stays negative, so every match qualifies and
		// COUNT never stops the scan. int64 arithmetic wraps the same way.
		rank, reverse := a.Rank, a.Rank < 0
		if reverse {
			rank = -rank
		}
		matches := int64(0)
		return x.listFind(c, elem, reverse, a.MaxLen, func(i int64) bool {
			matches++
			if matches < rank {
				return true
			}
			idx = append(idx, i)
			if a.Count < 0 {
				return false
			}
			return a.Count == 0 || matches-rank+1 < a.Count
		})
	})
	return idx, exists, err
}
