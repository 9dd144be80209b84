package engine

import (
	"bytes"
	"math"
	"slices"
)

// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD. Inputs may be
// sorted sets or plain sets, whose members count with score 1; a missing key
// is an empty input. The algorithms follow Redis's zunionInterDiffGeneric-
// Command, including the order in which scores are aggregated, so that
// floating point sums come out identical.

// ZSetOp is the operation.
type ZSetOp uint8

const (
	ZOpUnion ZSetOp = iota
	ZOpInter
	ZOpDiff
)

// ZAggregate is how scores of a member present in several inputs combine.
type ZAggregate uint8

const (
	ZAggSum ZAggregate = iota
	ZAggMin
	ZAggMax
)

// ZSetOpArgs are the inputs of a set operation.
type ZSetOpArgs struct {
	Op        ZSetOp
	Keys      [][]byte
	Weights   []float64 // one per key; nil: all 1
	Aggregate ZAggregate
}

// ZSetOpResult computes a set operation and returns its members in score
// order.
func (s *Store) ZSetOpResult(db int, a ZSetOpArgs) ([]ZMember, error) {
	var out []ZMember
	err := s.view(db, func(x *Txn) error {
		var err error
		out, err = x.zSetOp(a)
		return err
	})
	return out, err
}

// ZSetOpStore computes a set operation into the sorted set dst, replacing
// it (deleting it when the result is empty), and returns the result's size.
func (s *Store) ZSetOpStore(db int, dst []byte, a ZSetOpArgs) (int64, error) {
	var n int64
	keys := append([][]byte{dst}, a.Keys...)
	err := s.update(db, keys, func(x *Txn) error {
		ms, err := x.zSetOp(a)
		if err != nil {
			return err
		}
		n, err = x.zReplace(dst, ms)
		return err
	})
	return n, err
}

// ZInterCard counts the intersection of keys, stopping at limit (0: no
// limit).
func (s *Store) ZInterCard(db int, keys [][]byte, limit int64) (int64, error) {
	var n int64
	err := s.view(db, func(x *Txn) error {
		srcs, err := x.zSources(keys, nil)
		if err != nil {
			return err
		}
		sortByCardinality(srcs)
		return x.zInter(srcs, ZAggSum, func(ZMember) bool {
			n++
			return limit == 0 || n < limit
		})
	})
	return n, err
}

// zsrc is one input: a sorted set or a set (or nothing).
type zsrc struct {
	c      collection
	exists bool
	weight float64
}

func (s zsrc) size() int64 {
	if !s.exists {
		return 0
	}
	return s.c.count
}

// same reports whether two inputs are the same key's value.
func (s zsrc) same(o zsrc) bool { return s.exists && o.exists && s.c.id == o.c.id }

// zSources looks the inputs up; anything but a sorted set or a set is
// ErrWrongType.
func (x *Txn) zSources(keys [][]byte, weights []float64) ([]zsrc, error) {
	srcs := make([]zsrc, len(keys))
	for i, k := range keys {
		srcs[i].weight = 1
		if weights != nil {
			srcs[i].weight = weights[i]
		}
		r, ok, err := x.get(k)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if r.kind != KindZSet && r.kind != KindSet {
			return nil, ErrWrongType
		}
		if srcs[i].c, err = decodeCollection(r); err != nil {
			return nil, err
		}
		srcs[i].exists = true
	}
	return srcs, nil
}

// sortByCardinality orders inputs from the smallest, as Redis does before a
// union or intersection (a stable sort, like glibc's qsort on small arrays).
func sortByCardinality(srcs []zsrc) {
	slices.SortStableFunc(srcs, func(a, b zsrc) int { return compareInt(a.size(), b.size()) })
}

// each visits an input's members with their scores (1 for a set).
func (x *Txn) zSrcEach(s zsrc, fn func(member []byte, score float64) (bool, error)) error {
	if !s.exists {
		return nil
	}
	if s.c.kind == KindSet {
		return x.eachRaw(memberPrefix(s.c.id), nil, false, func(member, _ []byte) (bool, error) {
			return fn(member, 1)
		})
	}
	return x.zEach(s.c, false, func(score float64, member []byte) (bool, error) {
		return fn(member, score)
	})
}

// zSrcFind looks a member up in an input.
func (x *Txn) zSrcFind(s zsrc, member []byte) (float64, bool, error) {
	if !s.exists {
		return 0, false, nil
	}
	if s.c.kind == KindSet {
		_, ok, err := x.getMember(s.c.id, member)
		return 1, ok, err
	}
	return x.zScore(s.c.id, member)
}

func (x *Txn) zSetOp(a ZSetOpArgs) ([]ZMember, error) {
	srcs, err := x.zSources(a.Keys, a.Weights)
	if err != nil {
		return nil, err
	}
	var out []ZMember
	switch a.Op {
	case ZOpUnion:
		sortByCardinality(srcs)
		out, err = x.zUnion(srcs, a.Aggregate)
	case ZOpInter:
		sortByCardinality(srcs)
		err = x.zInter(srcs, a.Aggregate, func(m ZMember) bool {
			out = append(out, m)
			return true
		})
	case ZOpDiff:
		out, err = x.zDiff(srcs)
	}
	slices.SortFunc(out, compareZMembers)
	return out, err
}

// compareZMembers is the sorted set order: score, then member bytes.
func compareZMembers(a, b ZMember) int {
	switch {
	case a.Score < b.Score:
		return -1
	case a.Score > b.Score:
		return 1
	}
	return bytes.Compare(a.Member, b.Member)
}

// aggregate is zunionInterAggregate.
func aggregate(target *float64, val float64, agg ZAggregate) {
	switch agg {
	case ZAggSum:
		*target += val
		if math.IsNaN(*target) {
			*target = 0
		}
	case ZAggMin:
		if val < *target {
			*target = val
		}
	case ZAggMax:
		if val > *target {
			*target = val
		}
	}
}

// weighted is score*weight, with NaN (0 * inf) read as 0.
func weighted(score, weight float64) float64 {
	v := weight * score
	if math.IsNaN(v) {
		return 0
	}
	return v
}

func (x *Txn) zUnion(srcs []zsrc, agg ZAggregate) ([]ZMember, error) {
	acc := map[string]int{} // member -> index in out
	var out []ZMember
	for _, s := range srcs {
		err := x.zSrcEach(s, func(member []byte, score float64) (bool, error) {
			v := weighted(score, s.weight)
			if i, ok := acc[string(member)]; ok {
				aggregate(&out[i].Score, v, agg)
				return true, nil
			}
			acc[string(member)] = len(out)
			out = append(out, ZMember{Member: bytes.Clone(member), Score: v})
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// zInter walks the smallest input (srcs is sorted) and emits each member
// found in every other input, until emit returns false.
func (x *Txn) zInter(srcs []zsrc, agg ZAggregate, emit func(ZMember) bool) error {
	if len(srcs) == 0 || srcs[0].size() == 0 {
		return nil
	}
	first := srcs[0]
	return x.zSrcEach(first, func(member []byte, score float64) (bool, error) {
		acc := weighted(score, first.weight)
		for _, o := range srcs[1:] {
			v := score
			if !o.same(first) {
				var found bool
				var err error
				if v, found, err = x.zSrcFind(o, member); err != nil || !found {
					return err == nil, err
				}
			}
			aggregate(&acc, v*o.weight, agg)
		}
		return emit(ZMember{Member: bytes.Clone(member), Score: acc}), nil
	})
}

// zDiff returns the members of the first input found in no other, with
// their own scores (ZDIFF takes no weights).
func (x *Txn) zDiff(srcs []zsrc) ([]ZMember, error) {
	first := srcs[0]
	for _, o := range srcs[1:] {
		if o.same(first) {
			return nil, nil
		}
	}
	var out []ZMember
	err := x.zSrcEach(first, func(member []byte, score float64) (bool, error) {
		for _, o := range srcs[1:] {
			if _, found, err := x.zSrcFind(o, member); err != nil || found {
				return err == nil, err
			}
		}
		out = append(out, ZMember{Member: bytes.Clone(member), Score: score})
		return true, nil
	})
	return out, err
}
