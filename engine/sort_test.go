package engine

import (
	"encoding/binary"
	"math"
	"slices"
	"sync"
	"testing"
)

// makeSortTestList builds a list through the collection primitives with
// the shared list encoding. front elements are pushed at the head (as
// LPUSH, in the order given: the last one ends up first), back elements
// at the tail (RPUSH).
func makeSortTestList(t *testing.T, s *Store, key string, front []string, back ...string) {
	t.Helper()
	err := s.update(0, [][]byte{b(key)}, func(x *Txn) error {
		c := x.newCollection(KindList)
		for _, e := range front {
			c.head--
			if err := x.putMember(c.id, sortSeqKey(c.head), b(e)); err != nil {
				return err
			}
		}
		for _, e := range back {
			if err := x.putMember(c.id, sortSeqKey(c.tail), b(e)); err != nil {
				return err
			}
			c.tail++
		}
		c.count = int64(len(front) + len(back))
		return x.saveCollection(b(key), c, true)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// makeSortTestZSet builds a sorted set with the shared encoding: member ->
// score bits, and the score index.
func makeSortTestZSet(t *testing.T, s *Store, key string, pairs ...any) {
	t.Helper()
	err := s.update(0, [][]byte{b(key)}, func(x *Txn) error {
		c := x.newCollection(KindZSet)
		for i := 0; i < len(pairs); i += 2 {
			score, member := pairs[i].(float64), b(pairs[i+1].(string))
			bits := math.Float64bits(score)
			if err := x.putMember(c.id, member, binary.BigEndian.AppendUint64(nil, bits)); err != nil {
				return err
			}
			if score >= 0 {
				bits |= 1 << 63
			} else {
				bits = ^bits
			}
			idx := binary.BigEndian.AppendUint64(scorePrefix(c.id), bits)
			if err := x.setRaw(append(idx, member...), nil); err != nil {
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

// makeSortTestHash builds a hash of field/value pairs.
func makeSortTestHash(t *testing.T, s *Store, key string, pairs ...string) {
	t.Helper()
	err := s.update(0, [][]byte{b(key)}, func(x *Txn) error {
		c := x.newCollection(KindHash)
		for i := 0; i < len(pairs); i += 2 {
			if err := x.putMember(c.id, b(pairs[i]), b(pairs[i+1])); err != nil {
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

// sortStrings renders a SORT reply, "<nil>" for a missing GET value.
func sortStrings(out [][]byte) []string {
	ss := make([]string, len(out))
	for i, v := range out {
		if v == nil {
			ss[i] = "<nil>"
		} else {
			ss[i] = string(v)
		}
	}
	return ss
}

func wantSort(t *testing.T, s *Store, key string, a SortArgs, want ...string) {
	t.Helper()
	out, err := s.Sort(0, b(key), a)
	if err != nil {
		t.Fatalf("Sort(%q, %+v): %v", key, a, err)
	}
	if got := sortStrings(out); !slices.Equal(got, want) {
		t.Fatalf("Sort(%q, %+v) = %q, want %q", key, a, got, want)
	}
}

// sortAll is SortArgs without LIMIT.
func sortAll() SortArgs { return SortArgs{Count: -1} }

func TestSortSetNumericAndAlpha(t *testing.T) {
	s, _ := openTestStore(t)
	mustSAdd(t, s, 0, "nums", "3", "1", "10", "-5", "2")
	wantSort(t, s, "nums", sortAll(), "-5", "1", "2", "3", "10")
	wantSort(t, s, "nums", SortArgs{Count: -1, Desc: true}, "10", "3", "2", "1", "-5")
	wantSort(t, s, "nums", SortArgs{Count: -1, Alpha: true}, "-5", "1", "10", "2", "3")
	wantSort(t, s, "nums", SortArgs{Offset: 1, Count: 2}, "1", "2")
	wantSort(t, s, "nums", SortArgs{Offset: 3, Count: 10}, "3", "10")
	wantSort(t, s, "nums", SortArgs{Offset: 5, Count: 1})
	wantSort(t, s, "nums", SortArgs{Offset: -3, Count: 1}, "-5")
	wantSort(t, s, "nums", SortArgs{Offset: 0, Count: 0})
	wantSort(t, s, "missing", sortAll())
	// Equal weights fall back to the elements' bytes.
	mustSAdd(t, s, 0, "ties", "1.0", "1", "+1", "01")
	wantSort(t, s, "ties", sortAll(), "+1", "01", "1", "1.0")
	wantSort(t, s, "ties", SortArgs{Count: -1, Desc: true}, "1.0", "1", "01", "+1")
	mustSAdd(t, s, 0, "words", "b", "a")
	_, err := s.Sort(0, b("words"), sortAll())
	wantErr(t, "numeric Sort of words", err, ErrSortScore)
	mustSetPlain(t, s, 0, "str", "v")
	_, err = s.Sort(0, b("str"), sortAll())
	wantErr(t, "Sort of a string", err, ErrWrongType)
	makeSortTestHash(t, s, "hash", "f", "1")
	_, err = s.Sort(0, b("hash"), sortAll())
	wantErr(t, "Sort of a hash", err, ErrWrongType)
}

func TestSortByAndGet(t *testing.T) {
	s, _ := openTestStore(t)
	mustSAdd(t, s, 0, "s", "a", "b", "c")
	s.MSet(0, bs("w_a", "3", "w_b", "1", "w_c", "2", "name_a", "Alice", "name_b", "Bob", "wa_a", "zeta", "wa_b", "alpha"), false)
	makeSortTestHash(t, s, "h_a", "score", "30", "name", "AA")
	makeSortTestHash(t, s, "h_b", "score", "10", "name", "")
	makeSortTestHash(t, s, "h_c", "score", "20")

	wantSort(t, s, "s", SortArgs{Count: -1, By: b("w_*")}, "b", "c", "a")
	wantSort(t, s, "s", SortArgs{Count: 1, By: b("w_*"), Desc: true}, "a")
	// Missing weights are 0 (numeric) or sort first (ALPHA).
	wantSort(t, s, "s", SortArgs{Count: -1, By: b("nokey_*"), Desc: true}, "c", "b", "a")
	wantSort(t, s, "s", SortArgs{Count: -1, By: b("wa_*"), Alpha: true}, "c", "b", "a")
	_, err := s.Sort(0, b("s"), SortArgs{Count: -1, By: b("wa_*")})
	wantErr(t, "numeric Sort by words", err, ErrSortScore)
	// Hash fields: key->field, after the '*' only.
	wantSort(t, s, "s", SortArgs{Count: -1, By: b("h_*->score")}, "b", "c", "a")
	wantSort(t, s, "s", SortArgs{Count: -1, By: b("h_*->score"), Get: bs("h_*->name", "#")},
		"", "b", "<nil>", "c", "AA", "a")
	wantSort(t, s, "s", SortArgs{Count: -1, By: b("h_*->")}, "a", "b", "c") // names key "h_a->"
	wantSort(t, s, "s", SortArgs{Count: -1, Alpha: true, Get: bs("w_*->score", "h_*", "fixed", "name_*")},
		"<nil>", "<nil>", "<nil>", "Alice",
		"<nil>", "<nil>", "<nil>", "Bob",
		"<nil>", "<nil>", "<nil>", "<nil>")
	// A pattern naming another type, or without '*', yields nothing.
	wantSort(t, s, "s", SortArgs{Count: -1, By: b("w_*"), Get: bs("#", "name_*")},
		"b", "Bob", "c", "<nil>", "a", "Alice")
	// BY without '*' keeps the set's order (byte order here).
	wantSort(t, s, "s", SortArgs{Count: -1, By: b("nosort"), NoSort: true, Desc: true}, "a", "b", "c")
}

func TestSortListsAndNoSort(t *testing.T) {
	s, _ := openTestStore(t)
	// List order: 2 3 (pushed at the head) then 1 10 1 (at the tail).
	makeSortTestList(t, s, "l", []string{"3", "2"}, "1", "10", "1")
	nosort := func(offset, count int64, desc bool) SortArgs {
		return SortArgs{Offset: offset, Count: count, Desc: desc, By: b("nosort"), NoSort: true}
	}
	wantSort(t, s, "l", sortAll(), "1", "1", "2", "3", "10")
	wantSort(t, s, "l", SortArgs{Count: -1, Alpha: true, Desc: true}, "3", "2", "10", "1", "1")
	wantSort(t, s, "l", nosort(0, -1, false), "2", "3", "1", "10", "1")
	wantSort(t, s, "l", nosort(0, -1, true), "1", "10", "1", "3", "2")
	wantSort(t, s, "l", nosort(1, 2, false), "3", "1")
	wantSort(t, s, "l", nosort(1, 2, true), "10", "1")
	wantSort(t, s, "l", nosort(4, 10, false), "1")
	wantSort(t, s, "l", nosort(5, 1, false))
	wantSort(t, s, "l", nosort(-2, 2, true), "1", "10")
	// Once a BY without '*' is given, a later BY pattern does not sort.
	wantSort(t, s, "l", SortArgs{Count: -1, By: b("w_*"), NoSort: true}, "2", "3", "1", "10", "1")
}

func TestSortSortedSets(t *testing.T) {
	s, _ := openTestStore(t)
	makeSortTestZSet(t, s, "z", 1.0, "c", 2.0, "a", 3.0, "b", 2.0, "d", -1.5, "e")
	nosort := func(offset, count int64, desc bool) SortArgs {
		return SortArgs{Offset: offset, Count: count, Desc: desc, By: b("x"), NoSort: true}
	}
	// Sorting reads the members; BY nosort keeps score order.
	wantSort(t, s, "z", SortArgs{Count: -1, Alpha: true}, "a", "b", "c", "d", "e")
	wantSort(t, s, "z", nosort(0, -1, false), "e", "c", "a", "d", "b")
	wantSort(t, s, "z", nosort(0, -1, true), "b", "d", "a", "c", "e")
	wantSort(t, s, "z", nosort(1, 2, false), "c", "a")
	wantSort(t, s, "z", nosort(1, 2, true), "d", "a")
	wantSort(t, s, "z", nosort(4, 5, true), "e")
	_, err := s.Sort(0, b("z"), sortAll())
	wantErr(t, "numeric Sort of word members", err, ErrSortScore)
	makeSortTestZSet(t, s, "zn", 10.0, "5", 20.0, "3", 30.0, "4")
	wantSort(t, s, "zn", sortAll(), "3", "4", "5")
	wantSort(t, s, "zn", nosort(0, -1, false), "5", "3", "4")
}

// sortTestList reads a list back through the shared encoding.
func sortTestList(t *testing.T, s *Store, key string) []string {
	t.Helper()
	var out []string
	err := s.view(0, func(x *Txn) error {
		c, ok, err := x.getCollection(b(key), KindList)
		if err != nil || !ok {
			return err
		}
		if c.tail-c.head != c.count {
			t.Errorf("list %q: head %d tail %d count %d", key, c.head, c.tail, c.count)
		}
		return x.eachRaw(memberPrefix(c.id), nil, false, func(k, v []byte) (bool, error) {
			seq := int64(binary.BigEndian.Uint64(k))
			if seq < c.head || seq >= c.tail {
				t.Errorf("list %q: element at %d outside [%d, %d)", key, seq, c.head, c.tail)
			}
			out = append(out, string(v))
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSortStore(t *testing.T) {
	s, _ := openTestStore(t)
	mustSAdd(t, s, 0, "s", "3", "1", "2")
	mustSet(t, s, 0, "dst", "old", Expiry{Mode: ExpiryIn, Ms: 10000})
	n, err := s.SortStore(0, b("s"), b("dst"), SortArgs{Count: -1, Desc: true})
	if err != nil || n != 3 {
		t.Fatalf("SortStore = %d, %v", n, err)
	}
	if k, _ := s.Type(0, b("dst")); k != KindList {
		t.Fatalf("the destination is a %v", k)
	}
	if got := sortTestList(t, s, "dst"); !slices.Equal(got, []string{"3", "2", "1"}) {
		t.Fatalf("stored list %q", got)
	}
	wantDeadline(t, s, 0, "dst", 0)
	// Missing GET values are stored as empty strings.
	s.Set(0, b("name_1"), b("one"), SetArgs{})
	if n, err := s.SortStore(0, b("s"), b("dst"), SortArgs{Count: 2, Get: bs("name_*", "#")}); err != nil || n != 4 {
		t.Fatalf("SortStore with GET = %d, %v", n, err)
	}
	if got := sortTestList(t, s, "dst"); !slices.Equal(got, []string{"one", "1", "", "2"}) {
		t.Fatalf("stored list %q", got)
	}
	// Storing a set without sorting sorts it ALPHA: no hash order leaks.
	mustSAdd(t, s, 0, "w", "b", "c", "a")
	if _, err := s.SortStore(0, b("w"), b("dst"), SortArgs{Count: -1, By: b("nosort"), NoSort: true, Desc: true}); err != nil {
		t.Fatal(err)
	}
	if got := sortTestList(t, s, "dst"); !slices.Equal(got, []string{"c", "b", "a"}) {
		t.Fatalf("stored list %q", got)
	}
	// A failed sort leaves the destination alone; an empty one deletes it.
	if _, err := s.SortStore(0, b("w"), b("dst"), sortAll()); err != ErrSortScore {
		t.Fatalf("SortStore of words = %v", err)
	}
	if got := sortTestList(t, s, "dst"); len(got) != 3 {
		t.Fatalf("a failed SortStore changed the destination: %q", got)
	}
	if n, err := s.SortStore(0, b("missing"), b("dst"), sortAll()); err != nil || n != 0 {
		t.Fatalf("SortStore of a missing key = %d, %v", n, err)
	}
	wantMissing(t, s, 0, "dst")
	// Sorting a key onto itself.
	makeSortTestList(t, s, "l", nil, "b", "a")
	if _, err := s.SortStore(0, b("l"), b("l"), SortArgs{Count: -1, Alpha: true}); err != nil {
		t.Fatal(err)
	}
	if got := sortTestList(t, s, "l"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("list sorted onto itself: %q", got)
	}
	// Three lists replaced or deleted at dst, and l's original.
	if n, err := s.SweepOrphansNow(); err != nil || n != 4 {
		t.Fatalf("sweep reclaimed %d replaced lists (%v), want 4", n, err)
	}
}

// TestSortStoreWhileWeightsChange: SORT ... STORE reads weight keys it does
// not lock; writers updating them at the same time must not make it fail
// with a transaction conflict.
func TestSortStoreWhileWeightsChange(t *testing.T) {
	s, _ := openTestStore(t)
	mustSAdd(t, s, 0, "s", "a", "b", "c", "d")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := "w_" + string(rune('a'+(i+w)%4))
				if _, err := s.IncrBy(0, b(key), 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		if n, err := s.SortStore(0, b("s"), b("dst"), SortArgs{Count: -1, By: b("w_*"), Get: bs("#", "w_*")}); err != nil || n != 8 {
			t.Errorf("SortStore #%d = %d, %v", i, n, err)
			break
		}
	}
	close(stop)
	wg.Wait()
}

func TestSortLimit(t *testing.T) {
	cases := []struct{ offset, count, n, start, end int64 }{
		{0, -1, 5, 0, 4},
		{1, 2, 5, 1, 2},
		{-1, 2, 5, 0, 1},
		{3, 10, 5, 3, 4},
		{5, 1, 5, 4, 3},
		{0, 0, 5, 0, -1},
		{math.MaxInt64, math.MaxInt64, 5, 4, 3},
		{2, -7, 5, 2, 4},
		{0, -1, 0, 0, -1},
		{3, 2, 0, 0, -1},
	}
	for _, c := range cases {
		if start, end := sortLimit(c.offset, c.count, c.n); start != c.start || end != c.end {
			t.Errorf("sortLimit(%d, %d, %d) = %d, %d; want %d, %d", c.offset, c.count, c.n, start, end, c.start, c.end)
		}
	}
}

func TestSortParseScore(t *testing.T) {
	good := map[string]float64{
		"1": 1, "-2.5": -2.5, "+3": 3, " 7": 7, "\t\n8": 8, "": 0, "1e2": 100, "1E+2": 100,
		".5": 0.5, "5.": 5, "0x10": 16, "0X1P-1": 0.5, "0x1.8p1": 3, "inf": math.Inf(1),
		"-Infinity": math.Inf(-1), "1\x00abc": 1, "\x00": 0, "-0": 0, "1e-300": 1e-300,
		"0e500": 0, "0x0p-5000": 0,
	}
	for in, want := range good {
		if got, ok := sortParseScore(b(in)); !ok || got != want {
			t.Errorf("sortParseScore(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"abc", "1 ", "nan", "-nan", "NaN(1)", "  ", "++1", "+-1", "1_000",
		"0x", "1e", "1e+", "e5", ".", "inf1", "infinit", "1e400", "-1e400", "1e-400", "1e-310",
		"0x1p-1074", "1,5", "1.2.3", "0x1g"} {
		if got, ok := sortParseScore(b(in)); ok {
			t.Errorf("sortParseScore(%q) = %v, ok; want an error", in, got)
		}
	}
}
