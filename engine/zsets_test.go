package engine

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func zm(member string, score float64) ZMember { return ZMember{Member: b(member), Score: score} }

func mustZAdd(t testing.TB, s *Store, key string, ms ...ZMember) {
	t.Helper()
	if _, err := s.ZAdd(0, b(key), 0, ms); err != nil {
		t.Fatalf("ZAdd(%q): %v", key, err)
	}
}

// zAll returns the whole set in order as "member:score" strings.
func zAll(t testing.TB, s *Store, key string) []string {
	t.Helper()
	ms, _, err := s.ZRange(0, b(key), ZRangeSpec{By: ZByRank, Start: 0, Stop: -1})
	if err != nil {
		t.Fatalf("ZRange(%q): %v", key, err)
	}
	return zStrings(ms)
}

func zStrings(ms []ZMember) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = fmt.Sprintf("%s:%g", m.Member, m.Score)
	}
	return out
}

func wantZ(t testing.TB, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

// zIndexEntries counts the score index entries of key's sorted set.
func zIndexEntries(t *testing.T, s *Store, key string) (index, members int) {
	t.Helper()
	var c collection
	s.view(0, func(x *Txn) error {
		c, _, _ = x.getCollection(b(key), KindZSet)
		return nil
	})
	return countPrefix(t, s, scorePrefix(c.id)), countPrefix(t, s, memberPrefix(c.id))
}

func TestZAddUpdatesScoreAndIndexTogether(t *testing.T) {
	s, _ := openTestStore(t)
	mustZAdd(t, s, "z", zm("a", 1), zm("b", 2), zm("c", 3))
	mustZAdd(t, s, "z", zm("a", 5), zm("b", 2)) // a moves, b stays
	wantZ(t, "ZRANGE", zAll(t, s, "z"), "b:2", "c:3", "a:5")
	if n, _ := s.ZCard(0, b("z")); n != 3 {
		t.Fatalf("ZCARD = %d, want 3", n)
	}
	// The old index entry of a is gone: one index entry per member.
	if idx, mem := zIndexEntries(t, s, "z"); idx != 3 || mem != 3 {
		t.Fatalf("index entries %d, members %d; want 3 and 3", idx, mem)
	}
	if sc, ok, err := s.ZScore(0, b("z"), b("a")); err != nil || !ok || sc != 5 {
		t.Fatalf("ZSCORE a = %v, %v, %v", sc, ok, err)
	}
	// The same member twice in one call: the last score wins, added once.
	res, err := s.ZAdd(0, b("z2"), 0, []ZMember{zm("x", 1), zm("x", 7)})
	if err != nil || res.Added != 1 || res.Updated != 1 {
		t.Fatalf("ZADD x x = %+v, %v", res, err)
	}
	wantZ(t, "ZRANGE z2", zAll(t, s, "z2"), "x:7")
}

func TestZAddFlags(t *testing.T) {
	s, _ := openTestStore(t)
	mustZAdd(t, s, "z", zm("a", 10))
	cases := []struct {
		flags          ZAddFlags
		m              ZMember
		added, updated int64
		processed      bool
		want           float64 // a's (or the member's) score afterwards
	}{
		{ZAddNX, zm("a", 1), 0, 0, false, 10},
		{ZAddXX, zm("a", 11), 0, 1, true, 11},
		{ZAddXX, zm("new", 1), 0, 0, false, math.NaN()},
		{ZAddGT, zm("a", 5), 0, 0, false, 11},
		{ZAddGT, zm("a", 11), 0, 0, false, 11},
		{ZAddGT, zm("a", 20), 0, 1, true, 20},
		{ZAddLT, zm("a", 30), 0, 0, false, 20},
		{ZAddLT, zm("a", 3), 0, 1, true, 3},
		{ZAddGT, zm("gtnew", 1), 1, 0, true, 1}, // GT and LT never stop an add
		{ZAddIncr, zm("a", 2), 0, 1, true, 5},
		{ZAddIncr, zm("a", 0), 0, 0, true, 5}, // processed, not updated
		{ZAddIncr | ZAddGT, zm("a", -1), 0, 0, false, 5},
		{ZAddIncr | ZAddLT, zm("a", -1), 0, 1, true, 4},
		{ZAddIncr | ZAddNX, zm("a", 1), 0, 0, false, 4},
		{ZAddIncr, zm("inc", 2.5), 1, 0, true, 2.5},
	}
	for _, tc := range cases {
		res, err := s.ZAdd(0, b("z"), tc.flags, []ZMember{tc.m})
		if err != nil || res.Added != tc.added || res.Updated != tc.updated || res.Processed != tc.processed {
			t.Fatalf("ZADD flags %b %s %g = %+v, %v; want added %d updated %d processed %v",
				tc.flags, tc.m.Member, tc.m.Score, res, err, tc.added, tc.updated, tc.processed)
		}
		sc, ok, _ := s.ZScore(0, b("z"), tc.m.Member)
		if math.IsNaN(tc.want) {
			if ok {
				t.Fatalf("after flags %b: %s exists with %g", tc.flags, tc.m.Member, sc)
			}
		} else if !ok || sc != tc.want {
			t.Fatalf("after flags %b: %s = %g, %v; want %g", tc.flags, tc.m.Member, sc, ok, tc.want)
		}
		if tc.flags&ZAddIncr != 0 && tc.processed && res.Score != tc.want {
			t.Fatalf("INCR reply %g, want %g", res.Score, tc.want)
		}
	}
	// XX on a missing key creates nothing.
	if res, err := s.ZAdd(0, b("none"), ZAddXX, []ZMember{zm("a", 1)}); err != nil || res.Added != 0 {
		t.Fatalf("ZADD none XX = %+v, %v", res, err)
	}
	wantMissing(t, s, 0, "none")
}

func TestZAddIncrNaNChangesNothing(t *testing.T) {
	s, _ := openTestStore(t)
	mustZAdd(t, s, "z", zm("a", math.Inf(1)), zm("b", 1))
	_, err := s.ZAdd(0, b("z"), ZAddIncr, []ZMember{zm("a", math.Inf(-1))})
	wantErr(t, "INCR inf + -inf", err, ErrNaNScore)
	wantZ(t, "ZRANGE", zAll(t, s, "z"), "b:1", "a:+Inf")
}

func TestZScoreOrderAcrossSigns(t *testing.T) {
	s, _ := openTestStore(t)
	mustZAdd(t, s, "z", zm("pinf", math.Inf(1)), zm("big", 1e300), zm("one", 1), zm("tiny", 5e-324),
		zm("zero", 0), zm("negzero", math.Copysign(0, -1)), zm("negtiny", -5e-324), zm("minus", -1),
		zm("negbig", -1e300), zm("ninf", math.Inf(-1)), zm("aaa", 1), zm("", 1))
	wantZ(t, "ZRANGE", zAll(t, s, "z"),
		"ninf:-Inf", "negbig:-1e+300", "minus:-1", "negtiny:-5e-324",
		"negzero:0", "zero:0", // -0 is stored as 0 and sorts with it, by member
		"tiny:5e-324", ":1", "aaa:1", "one:1", "big:1e+300", "pinf:+Inf")
	sc, _, _ := s.ZScore(0, b("z"), b("negzero"))
	if math.Signbit(sc) {
		t.Fatalf("ZSCORE negzero = -0, want 0 (Redis stores -0 as 0)")
	}
	// sortableBits is monotonic across the whole range.
	vals := []float64{math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, 0, math.SmallestNonzeroFloat64, 1, math.MaxFloat64, math.Inf(1)}
	for i := 1; i < len(vals); i++ {
		if sortableBits(vals[i-1]) >= sortableBits(vals[i]) {
			t.Fatalf("sortableBits(%g) >= sortableBits(%g)", vals[i-1], vals[i])
		}
		if got := scoreFromSortable(indexKey(0, vals[i], nil)[9:]); got != vals[i] {
			t.Fatalf("score %g round-trips as %g", vals[i], got)
		}
	}
}

// zModel is a plain sorted slice, the reference for the range tests.
type zModel []ZMember

func (m zModel) sorted() zModel {
	out := slices.Clone(m)
	slices.SortFunc(out, compareZMembers)
	return out
}

func (m zModel) byScore(min, max ScoreBound, rev bool, off, lim int64) []string {
	var out []ZMember
	for _, e := range m.sorted() {
		lowOK := e.Score > min.Value || !min.Excl && e.Score == min.Value
		highOK := e.Score < max.Value || !max.Excl && e.Score == max.Value
		if lowOK && highOK {
			out = append(out, e)
		}
	}
	return limitModel(out, rev, off, lim)
}

func (m zModel) byLex(min, max LexBound, rev bool, off, lim int64) []string {
	var out []ZMember
	for _, e := range m.sorted() {
		member := string(e.Member)
		lowOK := min.Inf < 0 || min.Inf == 0 && (member > string(min.Value) || !min.Excl && member == string(min.Value))
		highOK := max.Inf > 0 || max.Inf == 0 && (member < string(max.Value) || !max.Excl && member == string(max.Value))
		if lowOK && highOK {
			out = append(out, e)
		}
	}
	return limitModel(out, rev, off, lim)
}

func limitModel(out []ZMember, rev bool, off, lim int64) []string {
	if rev {
		slices.Reverse(out)
	}
	if off < 0 || off >= int64(len(out)) {
		return nil
	}
	out = out[off:]
	if lim >= 0 && lim < int64(len(out)) {
		out = out[:lim]
	}
	return zStrings(out)
}

func (m zModel) byRank(start, stop int64, rev bool) []string {
	out := m.sorted()
	if rev {
		slices.Reverse(out)
	}
	n := int64(len(out))
	if start < 0 {
		start += n
	}
	if stop < 0 {
		stop += n
	}
	start = max(start, 0)
	stop = min(stop, n-1)
	if start > stop {
		return nil
	}
	return zStrings(out[start : stop+1])
}

// TestZRangesMatchModel compares score, rank and lex ranges, ZCOUNT and
// ZRANK with a reference model on random sets with repeated scores.
func TestZRangesMatchModel(t *testing.T) {
	s, _ := openTestStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	scores := []float64{math.Inf(-1), -2.5, -1, 0, 0.5, 1, 1, 3, 7, math.Inf(1)}
	var model zModel
	seen := map[string]bool{}
	for len(model) < 60 {
		m := fmt.Sprintf("m%02d", rng.IntN(100))
		if seen[m] {
			continue
		}
		seen[m] = true
		model = append(model, zm(m, scores[rng.IntN(len(scores))]))
	}
	mustZAdd(t, s, "z", model...)
	bound := func() ScoreBound {
		return ScoreBound{Value: scores[rng.IntN(len(scores))] + float64(rng.IntN(3)-1)*0.25, Excl: rng.IntN(2) == 0}
	}
	for i := 0; i < 300; i++ {
		min, max := bound(), bound()
		rev := rng.IntN(2) == 0
		off, lim := int64(rng.IntN(5)-1), int64(rng.IntN(8)-1)
		spec := ZRangeSpec{By: ZByScore, Min: min, Max: max, Rev: rev, Offset: off, Limit: lim}
		got, _, err := s.ZRange(0, b("z"), spec)
		if err != nil {
			t.Fatal(err)
		}
		wantZ(t, fmt.Sprintf("score range %+v", spec), zStrings(got), model.byScore(min, max, rev, off, lim)...)
		n, err := s.ZCount(0, b("z"), ZRangeSpec{By: ZByScore, Min: min, Max: max})
		if want := len(model.byScore(min, max, false, 0, -1)); err != nil || n != int64(want) {
			t.Fatalf("ZCOUNT %+v %+v = %d, %v; want %d", min, max, n, err, want)
		}

		start, stop := int64(rng.IntN(140)-70), int64(rng.IntN(140)-70)
		spec = ZRangeSpec{By: ZByRank, Start: start, Stop: stop, Rev: rev}
		got, _, err = s.ZRange(0, b("z"), spec)
		if err != nil {
			t.Fatal(err)
		}
		wantZ(t, fmt.Sprintf("rank range %d %d rev=%v", start, stop, rev), zStrings(got), model.byRank(start, stop, rev)...)
	}
	for i, e := range model.sorted() {
		for _, rev := range []bool{false, true} {
			want := int64(i)
			if rev {
				want = int64(len(model) - 1 - i)
			}
			if r, ok, err := s.ZRank(0, b("z"), e.Member, rev); err != nil || !ok || r != want {
				t.Fatalf("ZRANK %s rev=%v = %d, %v, %v; want %d", e.Member, rev, r, ok, err, want)
			}
		}
	}
	if _, ok, _ := s.ZRank(0, b("z"), b("nope"), false); ok {
		t.Fatal("ZRANK of a missing member found it")
	}

	// Lex ranges on a set whose members all have one score.
	var lex zModel
	for _, m := range []string{"", "a", "aa", "ab", "b", "ba", "c", "d\xff", "e"} {
		lex = append(lex, zm(m, 3))
	}
	mustZAdd(t, s, "lex", lex...)
	values := []string{"", "a", "aa", "abc", "b", "c", "d", "d\xff", "e", "f"}
	lexBound := func() LexBound {
		switch rng.IntN(6) {
		case 0:
			return LexBound{Inf: -1, Excl: true}
		case 1:
			return LexBound{Inf: 1, Excl: true}
		}
		return LexBound{Value: b(values[rng.IntN(len(values))]), Excl: rng.IntN(2) == 0}
	}
	for i := 0; i < 300; i++ {
		min, max := lexBound(), lexBound()
		rev := rng.IntN(2) == 0
		off, lim := int64(rng.IntN(4)-1), int64(rng.IntN(6)-1)
		spec := ZRangeSpec{By: ZByLex, LexMin: min, LexMax: max, Rev: rev, Offset: off, Limit: lim}
		got, _, err := s.ZRange(0, b("lex"), spec)
		if err != nil {
			t.Fatal(err)
		}
		wantZ(t, fmt.Sprintf("lex range %+v", spec), zStrings(got), lex.byLex(min, max, rev, off, lim)...)
	}
}

func TestZRemRangeKeepsCountAndDeletesEmpty(t *testing.T) {
	s, _ := openTestStore(t)
	mustZAdd(t, s, "z", zm("a", 1), zm("b", 2), zm("c", 3), zm("d", 4), zm("e", 5))
	n, err := s.ZRemRange(0, b("z"), ZRangeSpec{By: ZByScore, Min: ScoreBound{Value: 1, Excl: true}, Max: ScoreBound{Value: 3}})
	if err != nil || n != 2 {
		t.Fatalf("ZREMRANGEBYSCORE (1 3 = %d, %v", n, err)
	}
	wantZ(t, "after score removal", zAll(t, s, "z"), "a:1", "d:4", "e:5")
	n, err = s.ZRemRange(0, b("z"), ZRangeSpec{By: ZByRank, Start: -1, Stop: -1})
	if err != nil || n != 1 {
		t.Fatalf("ZREMRANGEBYRANK -1 -1 = %d, %v", n, err)
	}
	if c, _ := s.ZCard(0, b("z")); c != 2 {
		t.Fatalf("ZCARD = %d, want 2", c)
	}
	if idx, mem := zIndexEntries(t, s, "z"); idx != 2 || mem != 2 {
		t.Fatalf("index %d members %d, want 2 and 2", idx, mem)
	}
	n, err = s.ZRemRange(0, b("z"), ZRangeSpec{By: ZByLex, LexMin: LexBound{Inf: -1, Excl: true}, LexMax: LexBound{Inf: 1, Excl: true}})
	if err != nil || n != 2 {
		t.Fatalf("ZREMRANGEBYLEX - + = %d, %v", n, err)
	}
	if k, _ := s.Type(0, b("z")); k != KindNone {
		t.Fatalf("emptied sorted set still exists as %v", k)
	}
}

func TestZPopFromFirstNonEmptyKey(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "str", "v")
	mustZAdd(t, s, "z", zm("a", 1), zm("b", 2), zm("c", 3))
	res, err := s.ZPop(0, bs("missing", "z", "str"), true, 2, false)
	if err != nil || !res.Found || string(res.Key) != "z" {
		t.Fatalf("ZPop = %+v, %v", res, err)
	}
	wantZ(t, "popped", zStrings(res.Members), "c:3", "b:2")
	_, err = s.ZPop(0, bs("missing", "str", "z"), false, 1, false)
	wantErr(t, "ZPop with a string first", err, ErrWrongType)
	// A blocked client skips keys that are not sorted sets.
	res, err = s.ZPop(0, bs("str", "z"), false, 5, true)
	if err != nil || string(res.Key) != "z" || len(res.Members) != 1 {
		t.Fatalf("lenient ZPop = %+v, %v", res, err)
	}
	wantMissing(t, s, 0, "z")
	if res, err := s.ZPop(0, bs("z", "missing"), false, 1, false); err != nil || res.Found {
		t.Fatalf("ZPop on nothing = %+v, %v", res, err)
	}
	// Count 0 still finds (and type checks) the key but pops nothing.
	mustZAdd(t, s, "z", zm("a", 1))
	if res, err := s.ZPop(0, bs("z"), false, 0, false); err != nil || !res.Found || len(res.Members) != 0 {
		t.Fatalf("ZPop count 0 = %+v, %v", res, err)
	}
	if n, _ := s.ZCard(0, b("z")); n != 1 {
		t.Fatalf("count 0 popped something: ZCARD %d", n)
	}
}

func TestZRandMember(t *testing.T) {
	s, _ := openTestStore(t)
	var all []ZMember
	for i := range 50 {
		all = append(all, zm(fmt.Sprintf("m%02d", i), float64(i)))
	}
	mustZAdd(t, s, "z", all...)
	for _, count := range []int64{1, 7, 25, 49} {
		ms, ok, err := s.ZRandMember(0, b("z"), count, true)
		if err != nil || !ok || int64(len(ms)) != count {
			t.Fatalf("ZRANDMEMBER %d = %d members, %v, %v", count, len(ms), ok, err)
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if seen[string(m.Member)] {
				t.Fatalf("ZRANDMEMBER %d repeated %s", count, m.Member)
			}
			seen[string(m.Member)] = true
			if want := float64(m.Member[1]-'0')*10 + float64(m.Member[2]-'0'); m.Score != want {
				t.Fatalf("member %s came with score %g", m.Member, m.Score)
			}
		}
	}
	// A count covering the set returns all of it, highest first (Redis 7.0).
	ms, _, _ := s.ZRandMember(0, b("z"), 50, true)
	if len(ms) != 50 || string(ms[0].Member) != "m49" || string(ms[49].Member) != "m00" {
		t.Fatalf("ZRANDMEMBER 50 = %q...", zStrings(ms[:3]))
	}
	// Repetitions: many draws from a small set must repeat and cover it.
	mustZAdd(t, s, "small", zm("x", 1), zm("y", 2))
	ms, _, err := s.ZRandMember(0, b("small"), 200, false)
	if err != nil || len(ms) != 200 {
		t.Fatalf("ZRANDMEMBER -200 = %d, %v", len(ms), err)
	}
	counts := map[string]int{}
	for _, m := range ms {
		counts[string(m.Member)]++
	}
	if counts["x"] < 50 || counts["y"] < 50 {
		t.Fatalf("200 draws from {x, y} gave %v", counts)
	}
	if ms, ok, err := s.ZRandMember(0, b("missing"), 3, true); err != nil || ok || len(ms) != 0 {
		t.Fatalf("ZRANDMEMBER missing = %v, %v, %v", ms, ok, err)
	}
}

// makeTestSet builds a plain set directly in the shared encoding
// (memberKey(id, member) -> empty), as SADD stores it.
func makeTestSet(t *testing.T, s *Store, key string, members ...string) {
	t.Helper()
	err := s.update(0, [][]byte{b(key)}, func(x *Txn) error {
		c := x.newCollection(KindSet)
		for _, m := range members {
			if err := x.putMember(c.id, b(m), nil); err != nil {
				return err
			}
			c.count++
		}
		return x.saveCollection(b(key), c, true)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestZSetOps(t *testing.T) {
	s, _ := openTestStore(t)
	mustZAdd(t, s, "z1", zm("a", 1), zm("b", 2), zm("c", 3))
	mustZAdd(t, s, "z2", zm("b", 10), zm("c", 20), zm("d", 30))
	makeTestSet(t, s, "set", "c", "d", "e")
	mustSetPlain(t, s, 0, "str", "v")
	op := func(a ZSetOpArgs) []string {
		t.Helper()
		ms, err := s.ZSetOpResult(0, a)
		if err != nil {
			t.Fatalf("%+v: %v", a, err)
		}
		return zStrings(ms)
	}
	wantZ(t, "union", op(ZSetOpArgs{Op: ZOpUnion, Keys: bs("z1", "z2")}), "a:1", "b:12", "c:23", "d:30")
	wantZ(t, "union weighted max", op(ZSetOpArgs{Op: ZOpUnion, Keys: bs("z1", "z2"), Weights: []float64{10, 1}, Aggregate: ZAggMax}),
		"a:10", "b:20", "c:30", "d:30")
	wantZ(t, "union min", op(ZSetOpArgs{Op: ZOpUnion, Keys: bs("z1", "z2"), Aggregate: ZAggMin}), "a:1", "b:2", "c:3", "d:30")
	wantZ(t, "union with a set", op(ZSetOpArgs{Op: ZOpUnion, Keys: bs("z1", "set")}), "a:1", "d:1", "e:1", "b:2", "c:4")
	wantZ(t, "inter", op(ZSetOpArgs{Op: ZOpInter, Keys: bs("z1", "z2")}), "b:12", "c:23")
	wantZ(t, "inter with a set", op(ZSetOpArgs{Op: ZOpInter, Keys: bs("z2", "set"), Weights: []float64{1, 5}}), "c:25", "d:35")
	wantZ(t, "inter same key twice", op(ZSetOpArgs{Op: ZOpInter, Keys: bs("z1", "z1"), Weights: []float64{1, 3}}), "a:4", "b:8", "c:12")
	wantZ(t, "inter with missing", op(ZSetOpArgs{Op: ZOpInter, Keys: bs("z1", "missing")}))
	wantZ(t, "diff", op(ZSetOpArgs{Op: ZOpDiff, Keys: bs("z1", "z2")}), "a:1")
	wantZ(t, "diff of a set", op(ZSetOpArgs{Op: ZOpDiff, Keys: bs("set", "z1")}), "d:1", "e:1")
	wantZ(t, "diff with itself", op(ZSetOpArgs{Op: ZOpDiff, Keys: bs("z1", "missing", "z1")}))
	if _, err := s.ZSetOpResult(0, ZSetOpArgs{Op: ZOpUnion, Keys: bs("z1", "str")}); err != ErrWrongType {
		t.Fatalf("union with a string: %v", err)
	}
	// inf + -inf and 0 * inf are 0, as in Redis.
	mustZAdd(t, s, "pinf", zm("m", math.Inf(1)))
	mustZAdd(t, s, "ninf", zm("m", math.Inf(-1)))
	wantZ(t, "inf + -inf", op(ZSetOpArgs{Op: ZOpUnion, Keys: bs("pinf", "ninf")}), "m:0")
	wantZ(t, "0 * inf", op(ZSetOpArgs{Op: ZOpInter, Keys: bs("pinf"), Weights: []float64{0}}), "m:0")

	n, err := s.ZInterCard(0, bs("z1", "z2", "set"), 0)
	if err != nil || n != 1 {
		t.Fatalf("ZINTERCARD = %d, %v; want 1 (c)", n, err)
	}
	if n, _ := s.ZInterCard(0, bs("z1", "z1"), 2); n != 2 {
		t.Fatalf("ZINTERCARD LIMIT 2 = %d", n)
	}
}

func TestZSetOpStoreReplacesDestination(t *testing.T) {
	s, _ := openTestStore(t)
	mustZAdd(t, s, "z1", zm("a", 1), zm("b", 2))
	mustZAdd(t, s, "z2", zm("b", 3))
	mustSet(t, s, 0, "dst", "a string with a TTL", Expiry{Mode: ExpiryIn, Ms: 100_000})
	n, err := s.ZSetOpStore(0, b("dst"), ZSetOpArgs{Op: ZOpUnion, Keys: bs("z1", "z2")})
	if err != nil || n != 2 {
		t.Fatalf("ZUNIONSTORE = %d, %v", n, err)
	}
	wantZ(t, "dst", zAll(t, s, "dst"), "a:1", "b:5")
	wantDeadline(t, s, 0, "dst", 0)
	// The destination may be an input.
	if n, err := s.ZSetOpStore(0, b("z1"), ZSetOpArgs{Op: ZOpInter, Keys: bs("z1", "z2")}); err != nil || n != 1 {
		t.Fatalf("ZINTERSTORE z1 z1 z2 = %d, %v", n, err)
	}
	wantZ(t, "z1", zAll(t, s, "z1"), "b:5")
	// An empty result deletes the destination.
	if n, err := s.ZSetOpStore(0, b("dst"), ZSetOpArgs{Op: ZOpDiff, Keys: bs("z2", "z1")}); err != nil || n != 0 {
		t.Fatalf("ZDIFFSTORE = %d, %v", n, err)
	}
	wantMissing(t, s, 0, "dst")
	// The replaced collections' entries are reclaimed by the sweeper.
	if _, err := s.SweepOrphansNow(); err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, k := range []string{"z1", "z2"} {
		idx, mem := zIndexEntries(t, s, k)
		live += idx + mem
	}
	if all := countPrefix(t, s, []byte{prefixScore}) + countPrefix(t, s, []byte{prefixMember}); all != live {
		t.Fatalf("%d member and index entries remain, %d belong to live sets", all, live)
	}
}

func TestZRangeStore(t *testing.T) {
	s, _ := openTestStore(t)
	mustZAdd(t, s, "src", zm("a", 1), zm("b", 2), zm("c", 3))
	n, err := s.ZRangeStore(0, b("dst"), b("src"), ZRangeSpec{By: ZByScore, Min: ScoreBound{Value: 2}, Max: ScoreBound{Value: math.Inf(1)}, Limit: -1})
	if err != nil || n != 2 {
		t.Fatalf("ZRANGESTORE = %d, %v", n, err)
	}
	wantZ(t, "dst", zAll(t, s, "dst"), "b:2", "c:3")
	if n, err := s.ZRangeStore(0, b("src"), b("src"), ZRangeSpec{By: ZByRank, Start: 0, Stop: 0}); err != nil || n != 1 {
		t.Fatalf("ZRANGESTORE src src = %d, %v", n, err)
	}
	wantZ(t, "src", zAll(t, s, "src"), "a:1")
	if n, err := s.ZRangeStore(0, b("dst"), b("missing"), ZRangeSpec{By: ZByRank, Start: 0, Stop: -1}); err != nil || n != 0 {
		t.Fatalf("ZRANGESTORE from missing = %d, %v", n, err)
	}
	wantMissing(t, s, 0, "dst")
}

func TestZScan(t *testing.T) {
	s, _ := openTestStore(t)
	mustZAdd(t, s, "small", zm("b", 2), zm("a", 3), zm("c", 1))
	res, err := s.ZScan(0, b("small"), nil, 1, nil)
	if err != nil || !res.Compact || res.Next != nil {
		t.Fatalf("ZSCAN small = %+v, %v", res, err)
	}
	wantZ(t, "small scan", zStrings(res.Members), "c:1", "b:2", "a:3") // score order, whole

	var big []ZMember
	for i := range 300 {
		big = append(big, zm(fmt.Sprintf("m%03d", i), float64(-i)))
	}
	big = append(big, zm("", 7)) // the empty member is a valid resume point
	mustZAdd(t, s, "big", big...)
	seen := map[string]int{}
	var after []byte
	calls := 0
	for {
		res, err := s.ZScan(0, b("big"), after, 7, nil)
		if err != nil || res.Compact {
			t.Fatalf("ZSCAN big = %+v, %v", res, err)
		}
		if len(res.Members) > 7 {
			t.Fatalf("COUNT 7 returned %d", len(res.Members))
		}
		for _, m := range res.Members {
			seen[string(m.Member)]++
		}
		calls++
		if res.Next == nil {
			break
		}
		after = res.Next
	}
	if len(seen) != 301 || calls < 40 {
		t.Fatalf("scan saw %d members in %d calls", len(seen), calls)
	}
	for m, n := range seen {
		if n != 1 {
			t.Fatalf("member %q returned %d times", m, n)
		}
	}
	res, _ = s.ZScan(0, b("big"), nil, 1000, func(m []byte) bool { return bytes.HasSuffix(m, []byte("7")) })
	if len(res.Members) != 30 || res.Members[0].Score != -7 {
		t.Fatalf("ZSCAN MATCH *7 = %d members, first %+v", len(res.Members), res.Members[0])
	}
}

func TestZSetCommandsRefuseOtherTypes(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "str", "v")
	k := b("str")
	rank := ZRangeSpec{By: ZByRank, Start: 0, Stop: -1}
	checks := map[string]error{}
	_, checks["ZAdd"] = s.ZAdd(0, k, 0, []ZMember{zm("a", 1)})
	_, checks["ZRem"] = s.ZRem(0, k, bs("a"))
	_, _, checks["ZScore"] = s.ZScore(0, k, b("a"))
	_, _, checks["ZMScore"] = s.ZMScore(0, k, bs("a"))
	_, checks["ZCard"] = s.ZCard(0, k)
	_, _, checks["ZRank"] = s.ZRank(0, k, b("a"), false)
	_, _, checks["ZRange"] = s.ZRange(0, k, rank)
	_, checks["ZRangeStore"] = s.ZRangeStore(0, b("dst"), k, rank)
	_, checks["ZCount"] = s.ZCount(0, k, ZRangeSpec{By: ZByScore})
	_, checks["ZRemRange"] = s.ZRemRange(0, k, rank)
	_, checks["ZPop"] = s.ZPop(0, [][]byte{k}, false, 1, false)
	_, _, checks["ZRandMember"] = s.ZRandMember(0, k, 1, true)
	_, checks["ZScan"] = s.ZScan(0, k, nil, 10, nil)
	_, checks["ZSetOpStore"] = s.ZSetOpStore(0, b("dst"), ZSetOpArgs{Keys: [][]byte{k}})
	_, checks["ZInterCard"] = s.ZInterCard(0, [][]byte{k}, 0)
	for name, err := range checks {
		wantErr(t, name, err, ErrWrongType)
	}
	wantValue(t, s, 0, "str", "v")
}

// TestZIncrByConcurrent: 16 goroutines increment shared members; every
// increment must land exactly once and the index must stay one entry per
// member.
func TestZIncrByConcurrent(t *testing.T) {
	s, _ := openTestStore(t)
	const workers, rounds = 16, 150
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				member := fmt.Sprintf("m%d", i%5)
				if _, err := s.ZAdd(0, b("board"), ZAddIncr, []ZMember{zm(member, 1)}); err != nil {
					errs <- err
					return
				}
				if _, err := s.ZAdd(0, b("board"), 0, []ZMember{zm(fmt.Sprintf("w%d-%d", w, i), float64(i))}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range 5 {
		sc, ok, err := s.ZScore(0, b("board"), b(fmt.Sprintf("m%d", i)))
		if err != nil || !ok || sc != workers*rounds/5 {
			t.Fatalf("m%d = %g, %v, %v; want %d", i, sc, ok, err, workers*rounds/5)
		}
	}
	want := int64(5 + workers*rounds)
	if n, _ := s.ZCard(0, b("board")); n != want {
		t.Fatalf("ZCARD = %d, want %d", n, want)
	}
	if idx, mem := zIndexEntries(t, s, "board"); int64(idx) != want || int64(mem) != want {
		t.Fatalf("index %d, members %d, want %d", idx, mem, want)
	}
}
