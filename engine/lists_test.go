package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// listHeader reads key's list header straight from the store.
func listHeader(t *testing.T, s *Store, db int, key string) (collection, bool) {
	t.Helper()
	var c collection
	var ok bool
	err := s.view(db, func(x *Txn) error {
		var err error
		c, ok, err = x.getList(b(key))
		return err
	})
	if err != nil {
		t.Fatalf("header of %q: %v", key, err)
	}
	return c, ok
}

// checkList checks that key holds exactly want, through every read path,
// and that the stored form keeps its invariants: count == tail-head and
// exactly count members under the list's id (nothing leaked by shifts,
// trims or pops). An empty want means the key must not exist.
func checkList(t *testing.T, s *Store, db int, key string, want []string) {
	t.Helper()
	got, exists, err := s.LRange(db, b(key), 0, -1)
	if err != nil {
		t.Fatalf("LRange %q: %v", key, err)
	}
	if exists != (len(want) > 0) || !slices.Equal(strs(got), want) {
		t.Fatalf("LRange %q = %q (exists %v), want %q", key, got, exists, want)
	}
	if n, err := s.LLen(db, b(key)); err != nil || n != int64(len(want)) {
		t.Fatalf("LLen %q = %d, %v; want %d", key, n, err, len(want))
	}
	c, ok := listHeader(t, s, db, key)
	if len(want) == 0 {
		if ok {
			t.Fatalf("empty list %q still exists: %+v", key, c)
		}
		return
	}
	if c.count != int64(len(want)) || c.tail-c.head != c.count {
		t.Fatalf("header of %q: %+v, want count %d == tail-head", key, c, len(want))
	}
	if n := countPrefix(t, s, memberPrefix(c.id)); n != len(want) {
		t.Fatalf("%q has %d members stored, want %d", key, n, len(want))
	}
	for i, w := range want {
		for _, idx := range []int64{int64(i), int64(i - len(want))} {
			v, found, _, err := s.LIndex(db, b(key), idx)
			if err != nil || !found || string(v) != w {
				t.Fatalf("LIndex %q %d = %q, %v, %v; want %q", key, idx, v, found, err, w)
			}
		}
	}
}

// strs converts elements to strings.
func strs(vs [][]byte) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func mustPush(t *testing.T, s *Store, key string, end ListEnd, elems ...string) int64 {
	t.Helper()
	n, err := s.ListPush(0, b(key), end, bs(elems...), false)
	if err != nil {
		t.Fatalf("push %q %q: %v", key, elems, err)
	}
	return n
}

func TestListPushPopBothEnds(t *testing.T) {
	s, _ := openTestStore(t)
	if n := mustPush(t, s, "l", ListLeft, "a", "b", "c"); n != 3 {
		t.Fatalf("LPUSH a b c = %d", n)
	}
	if n := mustPush(t, s, "l", ListRight, "x", "y"); n != 5 {
		t.Fatalf("RPUSH x y = %d", n)
	}
	checkList(t, s, 0, "l", []string{"c", "b", "a", "x", "y"})
	c, _ := listHeader(t, s, 0, "l")
	if c.head != 1<<62-3 || c.tail != 1<<62+2 {
		t.Fatalf("pushes must move head down and tail up by one each: %+v", c)
	}

	got, exists, err := s.ListPop(0, b("l"), ListLeft, 2)
	if err != nil || !exists || !slices.Equal(strs(got), []string{"c", "b"}) {
		t.Fatalf("LPOP 2 = %q, %v, %v", got, exists, err)
	}
	got, _, _ = s.ListPop(0, b("l"), ListRight, 1)
	if !slices.Equal(strs(got), []string{"y"}) {
		t.Fatalf("RPOP = %q", got)
	}
	checkList(t, s, 0, "l", []string{"a", "x"})

	got, exists, err = s.ListPop(0, b("l"), ListLeft, 0)
	if err != nil || !exists || len(got) != 0 {
		t.Fatalf("LPOP 0 on a list = %q, exists %v, %v; want nothing popped, exists", got, exists, err)
	}
	got, _, _ = s.ListPop(0, b("l"), ListRight, 10)
	if !slices.Equal(strs(got), []string{"x", "a"}) {
		t.Fatalf("RPOP 10 of 2 = %q, want x a", got)
	}
	checkList(t, s, 0, "l", nil)
	got, exists, err = s.ListPop(0, b("l"), ListLeft, 1)
	if err != nil || exists || got != nil {
		t.Fatalf("pop of a missing list = %q, %v, %v", got, exists, err)
	}
}

func TestListPushXOnlyExtends(t *testing.T) {
	s, _ := openTestStore(t)
	n, err := s.ListPush(0, b("l"), ListLeft, bs("a"), true)
	if err != nil || n != 0 {
		t.Fatalf("LPUSHX on missing = %d, %v", n, err)
	}
	checkList(t, s, 0, "l", nil)
	mustPush(t, s, "l", ListRight, "a")
	if n, _ := s.ListPush(0, b("l"), ListRight, bs("b", "c"), true); n != 3 {
		t.Fatalf("RPUSHX = %d", n)
	}
	checkList(t, s, 0, "l", []string{"a", "b", "c"})
}

func TestListWrongType(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "s", "v")
	_, err := s.ListPush(0, b("s"), ListLeft, bs("a"), false)
	wantErr(t, "push", err, ErrWrongType)
	_, _, err = s.ListPop(0, b("s"), ListLeft, 0)
	wantErr(t, "pop 0", err, ErrWrongType)
	_, _, err = s.LRange(0, b("s"), 0, -1)
	wantErr(t, "range", err, ErrWrongType)
	_, err = s.LLen(0, b("s"))
	wantErr(t, "llen", err, ErrWrongType)
	wantErr(t, "lset", s.LSet(0, b("s"), 0, b("x")), ErrWrongType)
	_, err = s.LRem(0, b("s"), 0, b("x"))
	wantErr(t, "lrem", err, ErrWrongType)
	wantErr(t, "ltrim", s.LTrim(0, b("s"), 0, 1), ErrWrongType)
	_, err = s.LInsert(0, b("s"), false, b("a"), b("b"))
	wantErr(t, "linsert", err, ErrWrongType)
	_, _, err = s.LPos(0, b("s"), b("a"), LPosArgs{Rank: 1, Count: -1})
	wantErr(t, "lpos", err, ErrWrongType)
	wantValue(t, s, 0, "s", "v")
}

func TestListPushKeepsTTLAndExpiredListStartsOver(t *testing.T) {
	s, clock := openTestStore(t)
	mustPush(t, s, "l", ListRight, "a")
	if _, err := s.Expire(0, b("l"), Expiry{Mode: ExpiryIn, Ms: 1000}, 0); err != nil {
		t.Fatal(err)
	}
	deadline := clock.Ms() + 1000
	mustPush(t, s, "l", ListRight, "b")
	if _, _, err := s.ListPop(0, b("l"), ListLeft, 1); err != nil {
		t.Fatal(err)
	}
	wantDeadline(t, s, 0, "l", deadline)

	clock.Advance(1001 * time.Millisecond)
	checkList(t, s, 0, "l", nil)
	mustPush(t, s, "l", ListRight, "new")
	checkList(t, s, 0, "l", []string{"new"})
	wantDeadline(t, s, 0, "l", 0)
}

func TestListEmptiedIsDeletedAndSwept(t *testing.T) {
	s, _ := openTestStore(t)
	for _, empty := range []func() error{
		func() error { _, _, err := s.ListPop(0, b("l"), ListLeft, 100); return err },
		func() error { _, err := s.LRem(0, b("l"), 0, b("x")); return err },
		func() error { return s.LTrim(0, b("l"), 5, 1) },
		func() error { _, _, err := s.LMove(0, b("l"), b("other"), ListLeft, ListLeft, false); return err },
	} {
		mustPush(t, s, "l", ListRight, "x")
		c, _ := listHeader(t, s, 0, "l")
		if err := empty(); err != nil {
			t.Fatal(err)
		}
		checkList(t, s, 0, "l", nil)
		if _, err := s.SweepOrphansNow(); err != nil {
			t.Fatal(err)
		}
		if n := countPrefix(t, s, memberPrefix(c.id)); n != 0 {
			t.Fatalf("an emptied list left %d members after a sweep", n)
		}
		s.Del(0, bs("other"))
	}
}

func TestListRangeAndIndexRules(t *testing.T) {
	s, _ := openTestStore(t)
	mustPush(t, s, "l", ListRight, "a", "b", "c", "d", "e", "f")
	for _, tc := range []struct {
		start, stop int64
		want        []string
	}{
		{0, 0, []string{"a"}},
		{-3, -1, []string{"d", "e", "f"}},
		{-100, 1, []string{"a", "b"}},
		{4, 100, []string{"e", "f"}},
		{2, 1, []string{}},
		{6, 10, []string{}},
		{-1, -2, []string{}},
		{math.MinInt64, math.MaxInt64, []string{"a", "b", "c", "d", "e", "f"}},
	} {
		got, _, err := s.LRange(0, b("l"), tc.start, tc.stop)
		if err != nil || !slices.Equal(strs(got), tc.want) {
			t.Errorf("LRANGE %d %d = %q, %v; want %q", tc.start, tc.stop, got, err, tc.want)
		}
	}
	for _, i := range []int64{6, -7, math.MaxInt64, math.MinInt64} {
		if _, found, exists, err := s.LIndex(0, b("l"), i); err != nil || found || !exists {
			t.Errorf("LINDEX %d = found %v exists %v, %v; want not found", i, found, exists, err)
		}
	}
	if _, found, exists, _ := s.LIndex(0, b("missing"), 0); found || exists {
		t.Error("LINDEX of a missing key found something")
	}
}

func TestListSet(t *testing.T) {
	s, _ := openTestStore(t)
	wantErr(t, "LSET missing", s.LSet(0, b("l"), 0, b("x")), ErrNoSuchKey)
	mustPush(t, s, "l", ListRight, "a", "b", "c")
	if err := s.LSet(0, b("l"), -1, b("C")); err != nil {
		t.Fatal(err)
	}
	if err := s.LSet(0, b("l"), 1, b("B")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "LSET 3", s.LSet(0, b("l"), 3, b("x")), ErrIndexOutOfRange)
	wantErr(t, "LSET -4", s.LSet(0, b("l"), -4, b("x")), ErrIndexOutOfRange)
	checkList(t, s, 0, "l", []string{"a", "B", "C"})
}

func TestListInsertShiftsTheShorterSide(t *testing.T) {
	s, _ := openTestStore(t)
	mustPush(t, s, "l", ListRight, "a", "b", "c", "d", "e", "f")
	before, _ := listHeader(t, s, 0, "l")
	if n, err := s.LInsert(0, b("l"), false, b("b"), b("X")); err != nil || n != 7 {
		t.Fatalf("LINSERT BEFORE b = %d, %v", n, err)
	}
	after, _ := listHeader(t, s, 0, "l")
	if after.head != before.head-1 || after.tail != before.tail {
		t.Fatalf("inserting near the head must move the head side: %+v -> %+v", before, after)
	}
	if n, _ := s.LInsert(0, b("l"), true, b("e"), b("Y")); n != 8 {
		t.Fatalf("LINSERT AFTER e = %d", n)
	}
	last, _ := listHeader(t, s, 0, "l")
	if last.head != after.head || last.tail != after.tail+1 {
		t.Fatalf("inserting near the tail must move the tail side: %+v -> %+v", after, last)
	}
	checkList(t, s, 0, "l", []string{"a", "X", "b", "c", "d", "e", "Y", "f"})
	if n, _ := s.LInsert(0, b("l"), true, b("zz"), b("q")); n != -1 {
		t.Fatalf("LINSERT without pivot = %d, want -1", n)
	}
	if n, _ := s.LInsert(0, b("missing"), true, b("a"), b("q")); n != 0 {
		t.Fatalf("LINSERT on a missing key = %d, want 0", n)
	}
	checkList(t, s, 0, "missing", nil)
}

func TestListTrimRebuildsWhenMostGoes(t *testing.T) {
	s, clock := openTestStore(t)
	var all []string
	for i := 0; i < 100; i++ {
		all = append(all, fmt.Sprint(i))
	}
	mustPush(t, s, "l", ListRight, all...)
	if _, err := s.Expire(0, b("l"), Expiry{Mode: ExpiryIn, Ms: 60000}, 0); err != nil {
		t.Fatal(err)
	}
	deadline := clock.Ms() + 60000
	old, _ := listHeader(t, s, 0, "l")
	if err := s.LTrim(0, b("l"), 10, 12); err != nil {
		t.Fatal(err)
	}
	checkList(t, s, 0, "l", all[10:13])
	wantDeadline(t, s, 0, "l", deadline) // the new collection keeps the TTL
	nc, _ := listHeader(t, s, 0, "l")
	if nc.id == old.id {
		t.Fatal("keeping 3 of 100 elements should move them to a new collection")
	}
	if n, err := s.SweepOrphansNow(); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want the old collection reclaimed", n, err)
	}
	if n := countPrefix(t, s, memberPrefix(old.id)); n != 0 {
		t.Fatalf("old collection kept %d members", n)
	}
	checkList(t, s, 0, "l", all[10:13])

	// Trimming a little deletes in place.
	mustPush(t, s, "l", ListRight, "x")
	if err := s.LTrim(0, b("l"), 0, 2); err != nil {
		t.Fatal(err)
	}
	if c, _ := listHeader(t, s, 0, "l"); c.id != nc.id {
		t.Fatal("trimming one of four elements should not rebuild")
	}
	checkList(t, s, 0, "l", all[10:13])
}

func TestListPos(t *testing.T) {
	s, _ := openTestStore(t)
	mustPush(t, s, "l", ListRight, "a", "b", "c", "1", "2", "3", "c", "c")
	for _, tc := range []struct {
		a    LPosArgs
		want []int64
	}{
		{LPosArgs{Rank: 1, Count: -1}, []int64{2}},
		{LPosArgs{Rank: 2, Count: -1}, []int64{6}},
		{LPosArgs{Rank: 4, Count: -1}, nil},
		{LPosArgs{Rank: -1, Count: -1}, []int64{7}},
		{LPosArgs{Rank: -3, Count: -1}, []int64{2}},
		{LPosArgs{Rank: 1, Count: 0}, []int64{2, 6, 7}},
		{LPosArgs{Rank: 1, Count: 2}, []int64{2, 6}},
		{LPosArgs{Rank: -1, Count: 2}, []int64{7, 6}},
		{LPosArgs{Rank: 2, Count: 0}, []int64{6, 7}},
		{LPosArgs{Rank: 1, Count: -1, MaxLen: 2}, nil},
		{LPosArgs{Rank: 1, Count: 0, MaxLen: 7}, []int64{2, 6}},
		{LPosArgs{Rank: -1, Count: 0, MaxLen: 2}, []int64{7, 6}},
		// Redis negates the rank in a C long: the smallest one stays
		// negative, every match qualifies and COUNT never stops the scan.
		{LPosArgs{Rank: math.MinInt64, Count: -1}, []int64{7}},
		{LPosArgs{Rank: math.MinInt64, Count: 2}, []int64{7, 6, 2}},
		{LPosArgs{Rank: -math.MaxInt64, Count: -1}, nil},
	} {
		got, exists, err := s.LPos(0, b("l"), b("c"), tc.a)
		if err != nil || !exists || !slices.Equal(got, tc.want) {
			t.Errorf("LPOS c %+v = %v, %v, %v; want %v", tc.a, got, exists, err, tc.want)
		}
	}
	if got, exists, _ := s.LPos(0, b("missing"), b("c"), LPosArgs{Rank: 1, Count: 0}); exists || got != nil {
		t.Errorf("LPOS on a missing key = %v, %v", got, exists)
	}
}

func TestListMove(t *testing.T) {
	s, _ := openTestStore(t)
	mustPush(t, s, "src", ListRight, "a", "b", "c")
	v, ok, err := s.LMove(0, b("src"), b("dst"), ListLeft, ListRight, false)
	if err != nil || !ok || string(v) != "a" {
		t.Fatalf("LMOVE = %q, %v, %v", v, ok, err)
	}
	checkList(t, s, 0, "src", []string{"b", "c"})
	checkList(t, s, 0, "dst", []string{"a"})

	// Rotation on one list, including a list of one element.
	if v, _, _ := s.LMove(0, b("src"), b("src"), ListRight, ListLeft, false); string(v) != "c" {
		t.Fatalf("rotate = %q", v)
	}
	checkList(t, s, 0, "src", []string{"c", "b"})
	if v, _, _ := s.LMove(0, b("dst"), b("dst"), ListLeft, ListRight, false); string(v) != "a" {
		t.Fatalf("rotate one = %q", v)
	}
	checkList(t, s, 0, "dst", []string{"a"})

	// A string destination: WRONGTYPE and nothing moves, lenient or not.
	mustSetPlain(t, s, 0, "str", "v")
	for _, lenient := range []bool{false, true} {
		_, _, err = s.LMove(0, b("src"), b("str"), ListLeft, ListLeft, lenient)
		wantErr(t, "LMOVE to a string", err, ErrWrongType)
	}
	checkList(t, s, 0, "src", []string{"c", "b"})
	// A string source: WRONGTYPE, or nothing to move for a blocked retry.
	_, _, err = s.LMove(0, b("str"), b("src"), ListLeft, ListLeft, false)
	wantErr(t, "LMOVE from a string", err, ErrWrongType)
	if _, ok, err := s.LMove(0, b("str"), b("src"), ListLeft, ListLeft, true); ok || err != nil {
		t.Fatalf("lenient LMOVE from a string = %v, %v; want nothing", ok, err)
	}
	if _, ok, err := s.LMove(0, b("missing"), b("str"), ListLeft, ListLeft, false); ok || err != nil {
		t.Fatalf("LMOVE from a missing key = %v, %v; want nothing, no error", ok, err)
	}
}

func TestListMPop(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "str", "v")
	mustPush(t, s, "b", ListRight, "1", "2", "3")
	key, elems, err := s.ListMPop(0, bs("missing", "b"), ListRight, 2, false)
	if err != nil || string(key) != "b" || !slices.Equal(strs(elems), []string{"3", "2"}) {
		t.Fatalf("LMPOP = %q %q %v", key, elems, err)
	}
	_, _, err = s.ListMPop(0, bs("str", "b"), ListLeft, 1, false)
	wantErr(t, "LMPOP with a string first", err, ErrWrongType)
	key, elems, err = s.ListMPop(0, bs("str", "b"), ListLeft, 5, true)
	if err != nil || string(key) != "b" || !slices.Equal(strs(elems), []string{"1"}) {
		t.Fatalf("lenient LMPOP = %q %q %v", key, elems, err)
	}
	if _, elems, err := s.ListMPop(0, bs("b", "missing"), ListLeft, 1, false); err != nil || len(elems) != 0 {
		t.Fatalf("LMPOP of empty lists = %q, %v", elems, err)
	}
}

// listModel is the reference a list must behave like.
type listModel []string

func (m listModel) rem(count int64, e string) (listModel, int64) {
	var idx []int
	if count >= 0 {
		for i := 0; i < len(m) && (count == 0 || int64(len(idx)) < count); i++ {
			if m[i] == e {
				idx = append(idx, i)
			}
		}
	} else {
		for i := len(m) - 1; i >= 0 && int64(len(idx)) < -count; i-- {
			if m[i] == e {
				idx = append(idx, i)
			}
		}
	}
	var out listModel
	for i, v := range m {
		if !slices.Contains(idx, i) {
			out = append(out, v)
		}
	}
	return out, int64(len(idx))
}

func (m listModel) trim(start, stop int) listModel {
	n := len(m)
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
	return slices.Clone(m[start : stop+1])
}

// TestListMatchesModel applies random operations to a list and to a Go
// slice and requires the same contents, lengths and replies after each, with
// the stored form's invariants (checkList).
func TestListMatchesModel(t *testing.T) {
	s, _ := openTestStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	elem := func() string { return string(rune('a' + rng.IntN(4))) }
	var m listModel
	for step := 0; step < 1500; step++ {
		var what string
		switch op := rng.IntN(9); op {
		case 0, 1:
			e := elem()
			end := ListEnd(rng.IntN(2))
			what = fmt.Sprintf("push %d %s", end, e)
			mustPush(t, s, "l", end, e)
			if end == ListLeft {
				m = append(listModel{e}, m...)
			} else {
				m = append(m, e)
			}
		case 2:
			end := ListEnd(rng.IntN(2))
			n := int64(rng.IntN(3))
			what = fmt.Sprintf("pop %d %d", end, n)
			got, _, err := s.ListPop(0, b("l"), end, n)
			if err != nil {
				t.Fatal(err)
			}
			k := min(int(n), len(m))
			var want []string
			if end == ListLeft {
				want, m = slices.Clone(m[:k]), m[k:]
			} else {
				for i := 0; i < k; i++ {
					want = append(want, m[len(m)-1-i])
				}
				m = m[:len(m)-k]
			}
			if !slices.Equal(strs(got), want) {
				t.Fatalf("step %d %s: popped %q, want %q", step, what, got, want)
			}
		case 3:
			pivot, e, after := elem(), "N"+elem(), rng.IntN(2) == 1
			what = fmt.Sprintf("linsert %v %s %s", after, pivot, e)
			n, err := s.LInsert(0, b("l"), after, b(pivot), b(e))
			if err != nil {
				t.Fatal(err)
			}
			want := int64(0)
			if len(m) > 0 {
				want = -1
				if i := slices.Index(m, pivot); i >= 0 {
					if after {
						i++
					}
					m = slices.Insert(m, i, e)
					want = int64(len(m))
				}
			}
			if n != want {
				t.Fatalf("step %d %s = %d, want %d", step, what, n, want)
			}
		case 4, 5:
			count := int64(rng.IntN(5) - 2)
			e := elem()
			what = fmt.Sprintf("lrem %d %s", count, e)
			n, err := s.LRem(0, b("l"), count, b(e))
			if err != nil {
				t.Fatal(err)
			}
			var want int64
			m, want = m.rem(count, e)
			if n != want {
				t.Fatalf("step %d %s = %d, want %d", step, what, n, want)
			}
		case 6:
			if len(m) == 0 {
				continue
			}
			i := rng.IntN(2*len(m)) - len(m)
			e := "S" + elem()
			what = fmt.Sprintf("lset %d %s", i, e)
			if err := s.LSet(0, b("l"), int64(i), b(e)); err != nil {
				t.Fatal(err)
			}
			m[(i+len(m))%len(m)] = e
		case 7:
			start, stop := rng.IntN(8)-2, rng.IntN(40)-3
			what = fmt.Sprintf("ltrim %d %d", start, stop)
			if err := s.LTrim(0, b("l"), int64(start), int64(stop)); err != nil {
				t.Fatal(err)
			}
			m = m.trim(start, stop)
		case 8:
			from, to := ListEnd(rng.IntN(2)), ListEnd(rng.IntN(2))
			what = fmt.Sprintf("lmove self %d %d", from, to)
			v, ok, err := s.LMove(0, b("l"), b("l"), from, to, false)
			if err != nil || ok != (len(m) > 0) {
				t.Fatalf("step %d %s: %v %v", step, what, ok, err)
			}
			if ok {
				var e string
				if from == ListLeft {
					e, m = m[0], m[1:]
				} else {
					e, m = m[len(m)-1], m[:len(m)-1]
				}
				if to == ListLeft {
					m = append(listModel{e}, m...)
				} else {
					m = append(m, e)
				}
				if string(v) != e {
					t.Fatalf("step %d %s moved %q, want %q", step, what, v, e)
				}
			}
		}
		if len(m) == 0 {
			m = nil
		}
		checkList(t, s, 0, "l", m)
		if t.Failed() {
			t.Fatalf("after step %d: %s", step, what)
		}
	}
}

// TestListConcurrentPushPop pushes and pops at both ends from many
// goroutines and requires every element to come out exactly once.
func TestListConcurrentPushPop(t *testing.T) {
	s, _ := openTestStore(t)
	const workers, perWorker, total = 16, 100, 16 * 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	var popped atomic.Int64
	seen := map[string]int{}
	for w := 0; w < workers; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				if _, err := s.ListPush(0, b("q"), ListEnd(i%2), bs(fmt.Sprintf("%d-%d", w, i)), false); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; popped.Load() < total; i++ {
				elems, _, err := s.ListPop(0, b("q"), ListEnd(i%2), 3)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, e := range elems {
					seen[string(e)]++
				}
				mu.Unlock()
				popped.Add(int64(len(elems)))
			}
		}()
	}
	wg.Wait()
	if len(seen) != total || popped.Load() != total {
		t.Fatalf("%d distinct elements in %d pops, want %d", len(seen), popped.Load(), total)
	}
	for e, n := range seen {
		if n != 1 {
			t.Fatalf("element %s popped %d times", e, n)
		}
	}
	checkList(t, s, 0, "q", nil)
}

// Pops read their elements by sequence number (popByGet): from either
// end, an empty element comes back empty, not missing, and a count past
// popByGet takes the iterator path with the same result.
func TestListPopByGetAndByIterator(t *testing.T) {
	s, _ := openTestStore(t)
	var elems [][]byte
	for i := range 40 {
		elems = append(elems, b(strconv.Itoa(i)))
	}
	elems[0] = []byte{}
	if _, err := s.ListPush(0, b("l"), ListRight, elems, false); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.ListPop(0, b("l"), ListLeft, 1)
	if err != nil || !ok || len(got) != 1 || got[0] == nil || len(got[0]) != 0 {
		t.Fatalf("LPOP of an empty element: %q %v %v", got, ok, err)
	}
	got, _, err = s.ListPop(0, b("l"), ListRight, 2)
	if err != nil || len(got) != 2 || string(got[0]) != "39" || string(got[1]) != "38" {
		t.Fatalf("RPOP 2: %q %v", got, err)
	}
	got, _, err = s.ListPop(0, b("l"), ListLeft, popByGet+1)
	if err != nil || len(got) != popByGet+1 || string(got[0]) != "1" || string(got[popByGet]) != strconv.Itoa(popByGet+1) {
		t.Fatalf("LPOP %d (iterator): %q %v", popByGet+1, got, err)
	}
}
