package engine

import (
	"bytes"
	"encoding/binary"
)

// Sorted set ranges: by rank, by score and by lex, forward or reverse, with
// LIMIT. Each seeks into the score index and reads only what it returns
// (rank ranges also step over the members before the first one).

// ZRangeBy is the kind of a range.
type ZRangeBy uint8

const (
	ZByRank ZRangeBy = iota
	ZByScore
	ZByLex
)

// ScoreBound is one end of a score range: "1.5" or "(1.5".
type ScoreBound struct {
	Value float64
	Excl  bool
}

// LexBound is one end of a lex range: "[a", "(a", "-" (Inf < 0) or "+"
// (Inf > 0).
type LexBound struct {
	Value []byte
	Excl  bool
	Inf   int8
}

// ZRangeSpec selects members. Min and Max (and LexMin, LexMax) are the low
// and high ends whatever the direction; Rev walks from the high end, and
// then Start and Stop count from the highest member.
type ZRangeSpec struct {
	By             ZRangeBy
	Rev            bool
	Start, Stop    int64      // ZByRank, Redis's index rules (negative from the end)
	Min, Max       ScoreBound // ZByScore
	LexMin, LexMax LexBound   // ZByLex
	// Offset and Limit are LIMIT (ZByScore and ZByLex): skip Offset members,
	// then return at most Limit; a negative Limit means no limit and a
	// negative Offset returns nothing, as in Redis.
	Offset, Limit int64
}

// ZRange returns the members spec selects, in its direction. exists is
// false for a missing key.
func (s *Store) ZRange(db int, key []byte, spec ZRangeSpec) (ms []ZMember, exists bool, err error) {
	err = s.view(db, func(x *Txn) error {
		c, ok, err := x.getCollection(key, KindZSet)
		if err != nil || !ok {
			return err
		}
		exists = true
		ms, err = x.zCollect(c, spec)
		return err
	})
	return ms, exists, err
}

// ZRangeStore stores the members spec selects in src as the sorted set dst
// (deleting dst when there are none) and returns how many there are.
func (s *Store) ZRangeStore(db int, dst, src []byte, spec ZRangeSpec) (int64, error) {
	var n int64
	err := s.update(db, [][]byte{dst, src}, func(x *Txn) error {
		c, ok, err := x.getCollection(src, KindZSet)
		if err != nil {
			return err
		}
		var ms []ZMember
		if ok {
			if ms, err = x.zCollect(c, spec); err != nil {
				return err
			}
		}
		n, err = x.zReplace(dst, ms)
		return err
	})
	return n, err
}

// ZCount counts the members in a score (ZByScore) or lex (ZByLex) range.
func (s *Store) ZCount(db int, key []byte, spec ZRangeSpec) (int64, error) {
	var n int64
	err := s.view(db, func(x *Txn) error {
		c, ok, err := x.getCollection(key, KindZSet)
		if err != nil || !ok {
			return err
		}
		spec.Offset, spec.Limit = 0, -1
		return x.zWalk(c, spec, func(float64, []byte) (bool, error) {
			n++
			return true, nil
		})
	})
	return n, err
}

// ZRemRange removes the members spec selects (LIMIT is not used) and returns
// how many it removed.
func (s *Store) ZRemRange(db int, key []byte, spec ZRangeSpec) (int64, error) {
	var n int64
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		n = 0
		c, ok, err := x.getCollection(key, KindZSet)
		if err != nil || !ok {
			return err
		}
		spec.Offset, spec.Limit = 0, -1
		ms, err := x.zCollect(c, spec)
		if err != nil || len(ms) == 0 {
			return err
		}
		for _, m := range ms {
			if err := x.zDel(&c, m.Member, m.Score); err != nil {
				return err
			}
		}
		n = int64(len(ms))
		return x.saveCollection(key, c, false)
	})
	return n, err
}

// zCollect returns the members spec selects, copied.
func (x *Txn) zCollect(c collection, spec ZRangeSpec) ([]ZMember, error) {
	var out []ZMember
	if spec.By == ZByRank {
		return x.zRankRange(c, spec.Start, spec.Stop, spec.Rev)
	}
	err := x.zWalk(c, spec, func(score float64, member []byte) (bool, error) {
		out = append(out, ZMember{Member: bytes.Clone(member), Score: score})
		return true, nil
	})
	return out, err
}

// zRankRange returns the members between ranks start and stop inclusive,
// sanitised as Redis does. It walks from whichever end is nearer.
func (x *Txn) zRankRange(c collection, start, stop int64, rev bool) ([]ZMember, error) {
	n := c.count
	if start < 0 {
		start += n
	}
	if stop < 0 {
		stop += n
	}
	start = max(start, 0)
	if start > stop || start >= n {
		return nil, nil
	}
	stop = min(stop, n-1)
	want := stop - start + 1
	skip, walkRev := start, rev
	if n-1-stop < start { // nearer from the other end: walk it, then flip
		skip, walkRev = n-1-stop, !rev
	}
	out := make([]ZMember, 0, min(want, 1024))
	pos := int64(0)
	err := x.zEach(c, walkRev, func(score float64, member []byte) (bool, error) {
		if pos++; pos <= skip {
			return true, nil
		}
		out = append(out, ZMember{Member: bytes.Clone(member), Score: score})
		return int64(len(out)) < want, nil
	})
	if walkRev != rev {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, err
}

// zWalk visits the members of a score or lex range in spec's direction,
// applying LIMIT. member is only valid during the call.
func (x *Txn) zWalk(c collection, spec ZRangeSpec, fn func(score float64, member []byte) (bool, error)) error {
	if spec.Offset < 0 || spec.Limit == 0 {
		return nil
	}
	skip, left := spec.Offset, spec.Limit
	limited := func(score float64, member []byte) (bool, error) {
		if skip > 0 {
			skip--
			return true, nil
		}
		more, err := fn(score, member)
		if left > 0 {
			left--
			more = more && left > 0
		}
		return more, err
	}
	if spec.By == ZByLex {
		return x.zWalkLex(c, spec.LexMin, spec.LexMax, spec.Rev, limited)
	}
	return x.zWalkScore(c, spec.Min, spec.Max, spec.Rev, limited)
}

// emptyScoreRange reports a range that can hold nothing (zslIsInRange).
func emptyScoreRange(min, max ScoreBound) bool {
	return min.Value > max.Value || (min.Value == max.Value && (min.Excl || max.Excl))
}

func (b ScoreBound) admitsFromAbove(score float64) bool { // score >= min
	return score > b.Value || (score == b.Value && !b.Excl)
}

func (b ScoreBound) admitsFromBelow(score float64) bool { // score <= max
	return score < b.Value || (score == b.Value && !b.Excl)
}

func (x *Txn) zWalkScore(c collection, min, max ScoreBound, rev bool, fn func(float64, []byte) (bool, error)) error {
	if emptyScoreRange(min, max) {
		return nil
	}
	// Forward: seek to the first entry with score >= min. Reverse: seek
	// to the last entry below the next score up from max.
	var from []byte
	if rev {
		from = binary.BigEndian.AppendUint64(nil, sortableBits(max.Value)+1)
	} else {
		from = binary.BigEndian.AppendUint64(nil, sortableBits(min.Value))
	}
	return x.eachRaw(scorePrefix(c.id), from, rev, func(suffix, _ []byte) (bool, error) {
		score, member, err := splitIndex(suffix)
		if err != nil {
			return false, err
		}
		lowOK, highOK := min.admitsFromAbove(score), max.admitsFromBelow(score)
		switch {
		case lowOK && highOK:
			return fn(score, member)
		case rev && !highOK, !rev && !lowOK:
			return true, nil // before the range's first end
		}
		return false, nil // past its other end
	})
}

// compareLex orders a member against a lex bound's value: -1, 0 or 1.
func (b LexBound) compareMember(member []byte) int {
	switch {
	case b.Inf < 0:
		return 1
	case b.Inf > 0:
		return -1
	}
	return bytes.Compare(member, b.Value)
}

func (b LexBound) admitsFromAbove(member []byte) bool { // member >= min
	c := b.compareMember(member)
	return c > 0 || (c == 0 && !b.Excl)
}

func (b LexBound) admitsFromBelow(member []byte) bool { // member <= max
	c := b.compareMember(member)
	return c < 0 || (c == 0 && !b.Excl)
}

// compareLexBounds is Redis's sdscmplex: "-" below everything, "+" above.
func compareLexBounds(a, b LexBound) int {
	switch {
	case a.Inf != 0 && a.Inf == b.Inf:
		return 0
	case a.Inf < 0 || b.Inf > 0:
		return -1
	case a.Inf > 0 || b.Inf < 0:
		return 1
	}
	return bytes.Compare(a.Value, b.Value)
}

// emptyLexRange reports a lex range that can hold nothing (zslIsInLexRange).
func emptyLexRange(min, max LexBound) bool {
	c := compareLexBounds(min, max)
	return c > 0 || (c == 0 && (min.Excl || max.Excl))
}

// zWalkLex walks a lex range. Lex ranges assume every member has the same
// score, as Redis documents; the walk seeks within the score of the first
// (last, in reverse) member, then goes on while members stay in range.
func (x *Txn) zWalkLex(c collection, min, max LexBound, rev bool, fn func(float64, []byte) (bool, error)) error {
	if emptyLexRange(min, max) {
		return nil
	}
	edge, ok, err := x.zEdgeScore(c, rev)
	if err != nil || !ok {
		return err
	}
	seekTo := min
	if rev {
		seekTo = max
	}
	var from []byte
	if seekTo.Inf == 0 {
		from = binary.BigEndian.AppendUint64(nil, sortableBits(edge))
		from = append(from, seekTo.Value...)
	}
	return x.eachRaw(scorePrefix(c.id), from, rev, func(suffix, _ []byte) (bool, error) {
		score, member, err := splitIndex(suffix)
		if err != nil {
			return false, err
		}
		lowOK, highOK := min.admitsFromAbove(member), max.admitsFromBelow(member)
		switch {
		case lowOK && highOK:
			return fn(score, member)
		case rev && !highOK, !rev && !lowOK:
			return true, nil
		}
		return false, nil
	})
}

// zEdgeScore is the lowest score (the highest with last).
func (x *Txn) zEdgeScore(c collection, last bool) (float64, bool, error) {
	var score float64
	found := false
	err := x.zEach(c, last, func(s float64, _ []byte) (bool, error) {
		score, found = s, true
		return false, nil
	})
	return score, found, err
}
