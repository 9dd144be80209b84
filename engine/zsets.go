package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
)

// Sorted sets keep two entries per member (see collections.go):
//
//	memberKey(id, member)                   -> score, 8 bytes: math.Float64bits
//	scorePrefix(id) + sortable(score) + member -> empty (the score index)
//
// sortable(score) is 8 bytes whose byte order is the numeric order, so the
// index iterates in Redis's order: by score, then by member bytes. Scores
// are stored with -0 normalised to 0, as Redis's compact encoding stores
// them. Range queries by score, rank and lex seek into the index and read
// only what they return (and, for ranks, what precedes it).

// zsetCompactMax is zset-max-listpack-entries: Redis keeps sorted sets up to
// this size in score order in one listpack, which ZSCAN returns whole.
const zsetCompactMax = 128

// ZMember is a sorted set member and its score.
type ZMember struct {
	Member []byte
	Score  float64
}

// ZAddFlags are ZADD's options.
type ZAddFlags uint8

const (
	ZAddNX   ZAddFlags = 1 << iota // only add new members
	ZAddXX                         // only update existing members
	ZAddGT                         // only update when the new score is greater
	ZAddLT                         // only update when the new score is less
	ZAddIncr                       // add the score to the current one (ZINCRBY)
)

// ZAddResult is what ZADD did.
type ZAddResult struct {
	Added, Updated int64
	// Processed is false when an INCR was not applied (NX, XX, GT or LT
	// refused it); Score is then meaningless.
	Processed bool
	Score     float64 // the member's score after an INCR
}

// normScore turns -0 into 0.
func normScore(f float64) float64 {
	if f == 0 {
		return 0
	}
	return f
}

// sortableBits maps a score to an integer whose unsigned order is the
// numeric order of scores.
func sortableBits(f float64) uint64 {
	bits := math.Float64bits(normScore(f))
	if f >= 0 {
		return bits | 1<<63
	}
	return ^bits
}

func scoreFromSortable(b []byte) float64 {
	bits := binary.BigEndian.Uint64(b)
	if bits&(1<<63) != 0 {
		return math.Float64frombits(bits &^ (1 << 63))
	}
	return math.Float64frombits(^bits)
}

// indexKey is the score index entry of member.
func indexKey(id uint64, score float64, member []byte) []byte {
	k := scorePrefix(id)
	k = binary.BigEndian.AppendUint64(k, sortableBits(score))
	return append(k, member...)
}

// splitIndex splits an index suffix (after scorePrefix) into score and member.
func splitIndex(suffix []byte) (float64, []byte, error) {
	if len(suffix) < 8 {
		return 0, nil, errCorruptRecord
	}
	return scoreFromSortable(suffix[:8]), suffix[8:], nil
}

// zScore reads member's score in sorted set id.
func (x *Txn) zScore(id uint64, member []byte) (float64, bool, error) {
	v, ok, err := x.getMember(id, member)
	if err != nil || !ok {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, errCorruptRecord
	}
	return math.Float64frombits(binary.BigEndian.Uint64(v)), true, nil
}

// zPut sets member's score; old is its current score when had is true.
func (x *Txn) zPut(c *collection, member []byte, score, old float64, had bool) error {
	score = normScore(score)
	if had {
		if err := x.delRaw(indexKey(c.id, old, member)); err != nil {
			return err
		}
	} else {
		c.count++
	}
	v := binary.BigEndian.AppendUint64(nil, math.Float64bits(score))
	if err := x.putMember(c.id, member, v); err != nil {
		return err
	}
	return x.setRaw(indexKey(c.id, score, member), nil)
}

// zDel removes member, whose score is score.
func (x *Txn) zDel(c *collection, member []byte, score float64) error {
	if err := x.delMember(c.id, member); err != nil {
		return err
	}
	c.count--
	return x.delRaw(indexKey(c.id, score, member))
}

// zEach visits the members of c in index order (or reverse) until fn
// returns false. member is only valid during the call.
func (x *Txn) zEach(c collection, reverse bool, fn func(score float64, member []byte) (bool, error)) error {
	return x.eachRaw(scorePrefix(c.id), nil, reverse, func(suffix, _ []byte) (bool, error) {
		score, member, err := splitIndex(suffix)
		if err != nil {
			return false, err
		}
		return fn(score, member)
	})
}

// zReplace makes key a sorted set holding exactly ms (no TTL), replacing
// whatever it held; an empty ms deletes key. It returns the new size.
func (x *Txn) zReplace(key []byte, ms []ZMember) (int64, error) {
	if len(ms) == 0 {
		_, exists, err := x.get(key)
		if err != nil || !exists {
			return 0, err
		}
		return 0, x.del(key)
	}
	c := x.newCollection(KindZSet)
	for _, m := range ms {
		if err := x.zPut(&c, m.Member, m.Score, 0, false); err != nil {
			return 0, err
		}
	}
	return c.count, x.saveCollection(key, c, true)
}

// ZAdd is ZADD (and ZINCRBY, with ZAddIncr): it sets the scores of members,
// creating the key unless XX. The server has already rejected incompatible
// flags. With ZAddIncr, one member's score is incremented.
func (s *Store) ZAdd(db int, key []byte, flags ZAddFlags, ms []ZMember) (ZAddResult, error) {
	var res ZAddResult
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		res = ZAddResult{}
		c, exists, err := x.getCollection(key, KindZSet)
		if err != nil {
			return err
		}
		if !exists {
			if flags&ZAddXX != 0 {
				return nil
			}
			c = x.newCollection(KindZSet)
		}
		for _, m := range ms {
			if err := x.zAddOne(&c, flags, m, &res); err != nil {
				return err
			}
		}
		if res.Added == 0 && res.Updated == 0 {
			return nil
		}
		return x.saveCollection(key, c, !exists)
	})
	return res, err
}

// zAddOne applies one member of a ZADD, as Redis's zsetAdd.
func (x *Txn) zAddOne(c *collection, flags ZAddFlags, m ZMember, res *ZAddResult) error {
	cur, had, err := x.zScore(c.id, m.Member)
	if err != nil {
		return err
	}
	if !had {
		if flags&ZAddXX != 0 {
			return nil
		}
		res.Added++
		res.Processed, res.Score = true, m.Score
		return x.zPut(c, m.Member, m.Score, 0, false)
	}
	if flags&ZAddNX != 0 {
		return nil
	}
	score := m.Score
	if flags&ZAddIncr != 0 {
		score += cur
		if math.IsNaN(score) {
			return ErrNaNScore
		}
	}
	if (flags&ZAddLT != 0 && score >= cur) || (flags&ZAddGT != 0 && score <= cur) {
		return nil
	}
	res.Processed, res.Score = true, score
	if score == cur {
		return nil
	}
	res.Updated++
	return x.zPut(c, m.Member, score, cur, true)
}

// ZRem removes members and returns how many there were.
func (s *Store) ZRem(db int, key []byte, members [][]byte) (int64, error) {
	var n int64
	err := s.update(db, [][]byte{key}, func(x *Txn) error {
		n = 0
		c, exists, err := x.getCollection(key, KindZSet)
		if err != nil || !exists {
			return err
		}
		for _, m := range members {
			score, had, err := x.zScore(c.id, m)
			if err != nil {
				return err
			}
			if had {
				n++
				if err := x.zDel(&c, m, score); err != nil {
					return err
				}
			}
		}
		if n == 0 {
			return nil
		}
		return x.saveCollection(key, c, false)
	})
	return n, err
}

// ZScore returns member's score; ok is false when the key or member is
// missing.
func (s *Store) ZScore(db int, key, member []byte) (score float64, ok bool, err error) {
	err = s.view(db, func(x *Txn) error {
		c, exists, err := x.getCollection(key, KindZSet)
		if err != nil || !exists {
			return err
		}
		score, ok, err = x.zScore(c.id, member)
		return err
	})
	return score, ok, err
}

// ZMScore returns the scores of members; found[i] is false for a missing one.
func (s *Store) ZMScore(db int, key []byte, members [][]byte) (scores []float64, found []bool, err error) {
	scores, found = make([]float64, len(members)), make([]bool, len(members))
	err = s.view(db, func(x *Txn) error {
		c, exists, err := x.getCollection(key, KindZSet)
		if err != nil || !exists {
			return err
		}
		for i, m := range members {
			if scores[i], found[i], err = x.zScore(c.id, m); err != nil {
				return err
			}
		}
		return nil
	})
	return scores, found, err
}

// ZCard is the number of members, 0 for a missing key.
func (s *Store) ZCard(db int, key []byte) (int64, error) {
	var n int64
	err := s.view(db, func(x *Txn) error {
		c, _, err := x.getCollection(key, KindZSet)
		n = c.count
		return err
	})
	return n, err
}

// ZRank returns member's 0-based position in score order (from the highest
// with rev). It iterates the members before it: O(rank).
func (s *Store) ZRank(db int, key, member []byte, rev bool) (rank int64, ok bool, err error) {
	err = s.view(db, func(x *Txn) error {
		c, exists, err := x.getCollection(key, KindZSet)
		if err != nil || !exists {
			return err
		}
		score, had, err := x.zScore(c.id, member)
		if err != nil || !had {
			return err
		}
		target := indexKey(c.id, score, member)[len(scorePrefix(c.id)):]
		return x.eachRaw(scorePrefix(c.id), nil, rev, func(suffix, _ []byte) (bool, error) {
			if bytes.Equal(suffix, target) {
				ok = true
				return false, nil
			}
			rank++
			return true, nil
		})
	})
	if !ok {
		rank = 0
	}
	return rank, ok, err
}

// ZPopResult is what ZPOPMIN, ZMPOP and their blocking forms popped.
type ZPopResult struct {
	Found   bool   // a sorted set was found (it may have popped nothing: count 0)
	Key     []byte // the key popped from
	Members []ZMember
}

// ZPop pops up to count members with the lowest scores (highest with max)
// from the first of keys that holds a sorted set. A key of another type
// before it is ErrWrongType, unless skipOthers, which blocked clients use:
// they wait for a sorted set and ignore keys that changed type meanwhile.
func (s *Store) ZPop(db int, keys [][]byte, max bool, count int64, skipOthers bool) (ZPopResult, error) {
	var res ZPopResult
	err := s.update(db, keys, func(x *Txn) error {
		res = ZPopResult{}
		for _, k := range keys {
			c, exists, err := x.getCollection(k, KindZSet)
			if errors.Is(err, ErrWrongType) && skipOthers {
				continue
			}
			if err != nil {
				return err
			}
			if !exists {
				continue
			}
			res.Found, res.Key = true, k
			return x.zPopFrom(k, c, max, count, &res)
		}
		return nil
	})
	return res, err
}

func (x *Txn) zPopFrom(key []byte, c collection, max bool, count int64, res *ZPopResult) error {
	if count <= 0 {
		return nil
	}
	err := x.zEach(c, max, func(score float64, member []byte) (bool, error) {
		res.Members = append(res.Members, ZMember{Member: bytes.Clone(member), Score: score})
		return int64(len(res.Members)) < count, nil
	})
	if err != nil {
		return err
	}
	for _, m := range res.Members {
		if err := x.zDel(&c, m.Member, m.Score); err != nil {
			return err
		}
	}
	return x.saveCollection(key, c, false)
}

// ZRandMember returns count random members: distinct ones when unique (the
// whole set, from the highest score down as Redis 7.0 does, when count
// covers it), otherwise with repetitions.
// exists is false for a missing key. It reads the index up to the highest
// rank drawn.
func (s *Store) ZRandMember(db int, key []byte, count int64, unique bool) (ms []ZMember, exists bool, err error) {
	err = s.view(db, func(x *Txn) error {
		c, ok, err := x.getCollection(key, KindZSet)
		if err != nil || !ok || count <= 0 {
			exists = ok
			return err
		}
		exists = true
		if unique && count >= c.count {
			ms, err = x.zCollectAll(c, true)
			return err
		}
		ms, err = x.zAtRanks(c, drawRanks(c.count, count, unique))
		return err
	})
	return ms, exists, err
}

// drawRanks draws count ranks below n, distinct when unique (count < n).
func drawRanks(n, count int64, unique bool) []int64 {
	ranks := make([]int64, 0, count)
	if !unique {
		for range count {
			ranks = append(ranks, rand.Int64N(n))
		}
		return ranks
	}
	// Floyd's sampling: count distinct values without materialising n.
	seen := make(map[int64]bool, count)
	for j := n - count; j < n; j++ {
		r := rand.Int64N(j + 1)
		if seen[r] {
			r = j
		}
		seen[r] = true
		ranks = append(ranks, r)
	}
	rand.Shuffle(len(ranks), func(i, j int) { ranks[i], ranks[j] = ranks[j], ranks[i] })
	return ranks
}

// zAtRanks returns the members at ranks, in the order given, in one pass
// over the index (from the end when that is shorter).
func (x *Txn) zAtRanks(c collection, ranks []int64) ([]ZMember, error) {
	order := make([]int, len(ranks))
	for i := range order {
		order[i] = i
	}
	lo, hi := slices.Min(ranks), slices.Max(ranks)
	reverse := c.count-1-lo < hi
	slices.SortFunc(order, func(a, b int) int {
		if reverse {
			return compareInt(ranks[b], ranks[a])
		}
		return compareInt(ranks[a], ranks[b])
	})
	out := make([]ZMember, len(ranks))
	pos, next := int64(0), 0
	err := x.zEach(c, reverse, func(score float64, member []byte) (bool, error) {
		rank := pos
		if reverse {
			rank = c.count - 1 - pos
		}
		pos++
		var m *ZMember
		for next < len(order) && ranks[order[next]] == rank {
			if m == nil {
				m = &ZMember{Member: bytes.Clone(member), Score: score}
			}
			out[order[next]] = *m
			next++
		}
		return next < len(order), nil
	})
	if err == nil && next < len(order) {
		err = errCorruptRecord // the header counts more members than the index holds
	}
	return out, err
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// zCollectAll returns every member in order (or reverse).
func (x *Txn) zCollectAll(c collection, reverse bool) ([]ZMember, error) {
	out := make([]ZMember, 0, min(c.count, 1024))
	err := x.zEach(c, reverse, func(score float64, member []byte) (bool, error) {
		out = append(out, ZMember{Member: bytes.Clone(member), Score: score})
		return true, nil
	})
	return out, err
}

// ZScanResult is one ZSCAN step.
type ZScanResult struct {
	Members []ZMember
	// Next is the member to resume after; nil when the scan is complete.
	Next []byte
	// Compact is true when the whole set was returned in score order, as
	// Redis does for sets in its compact (listpack) encoding, which also
	// prints integral scores as integers.
	Compact bool
}

// ZScan returns members after the member after (nil: from the start) that
// match. A set of up to zsetCompactMax members comes back whole, in score
// order; a larger one is walked in member order, count members at a time,
// examining at most count*10 per call.
func (s *Store) ZScan(db int, key, after []byte, count int, match func([]byte) bool) (ZScanResult, error) {
	var res ZScanResult
	err := s.view(db, func(x *Txn) error {
		c, exists, err := x.getCollection(key, KindZSet)
		if err != nil || !exists {
			return err
		}
		if c.count <= zsetCompactMax {
			res.Compact = true
			return x.zEach(c, false, func(score float64, member []byte) (bool, error) {
				if match == nil || match(member) {
					res.Members = append(res.Members, ZMember{Member: bytes.Clone(member), Score: score})
				}
				return true, nil
			})
		}
		return x.zScanMembers(c, after, max(count, 1), match, &res)
	})
	return res, err
}

func (x *Txn) zScanMembers(c collection, after []byte, count int, match func([]byte) bool, res *ZScanResult) error {
	var from []byte
	if after != nil {
		from = append(bytes.Clone(after), 0) // the next member after it
	}
	examined := 0
	var last []byte
	return x.eachRaw(memberPrefix(c.id), from, false, func(member, value []byte) (bool, error) {
		if examined >= count*10 || len(res.Members) >= count {
			res.Next = last
			return false, nil
		}
		examined++
		last = append(last[:0:0], member...)
		if last == nil {
			last = []byte{} // the empty member is a position too; nil means done
		}
		if match != nil && !match(member) {
			return true, nil
		}
		if len(value) != 8 {
			return false, errCorruptRecord
		}
		score := math.Float64frombits(binary.BigEndian.Uint64(value))
		res.Members = append(res.Members, ZMember{Member: bytes.Clone(member), Score: score})
		return true, nil
	})
}
