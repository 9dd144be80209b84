package engine

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func mustSAdd(t testing.TB, s *Store, db int, key string, members ...string) int64 {
	t.Helper()
	n, err := s.SAdd(db, b(key), bs(members...))
	if err != nil {
		t.Fatalf("SAdd(%q, %q): %v", key, members, err)
	}
	return n
}

// wantSetMembers checks the members of a set (in any order); none means
// the key must not exist.
func wantSetMembers(t testing.TB, s *Store, db int, key string, want ...string) {
	t.Helper()
	got, err := s.SMembers(db, b(key))
	if err != nil {
		t.Fatalf("SMembers(%q): %v", key, err)
	}
	if g, w := sortedStrings(got), slices.Sorted(slices.Values(want)); !slices.Equal(g, w) {
		t.Fatalf("SMembers(%q) = %q, want %q", key, g, w)
	}
	n, err := s.SCard(db, b(key))
	if err != nil || n != int64(len(want)) {
		t.Fatalf("SCard(%q) = %d, %v; want %d", key, n, err, len(want))
	}
	if len(want) == 0 {
		if k, _ := s.Type(db, b(key)); k != KindNone {
			t.Fatalf("%q is a %v, want it deleted", key, k)
		}
	}
}

func numberedMembers(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

func TestSAddSRemCountAndEmptySetsVanish(t *testing.T) {
	s, _ := openTestStore(t)
	if n := mustSAdd(t, s, 0, "s", "a", "b", "a", ""); n != 3 {
		t.Fatalf("SAdd counted %d new members, want 3 (a repeated member counts once)", n)
	}
	if n := mustSAdd(t, s, 0, "s", "b", "c"); n != 1 {
		t.Fatalf("SAdd of one new member counted %d", n)
	}
	wantSetMembers(t, s, 0, "s", "", "a", "b", "c")
	in, err := s.SMIsMember(0, b("s"), bs("a", "zz", ""))
	if err != nil || !slices.Equal(in, []bool{true, false, true}) {
		t.Fatalf("SMIsMember = %v, %v", in, err)
	}
	if n, err := s.SRem(0, b("s"), bs("a", "a", "zz")); err != nil || n != 1 {
		t.Fatalf("SRem = %d, %v; want 1", n, err)
	}
	if n, err := s.SRem(0, b("missing"), bs("a")); err != nil || n != 0 {
		t.Fatalf("SRem on a missing key = %d, %v", n, err)
	}
	if n, err := s.SRem(0, b("s"), bs("b", "c", "")); err != nil || n != 3 {
		t.Fatalf("SRem = %d, %v; want 3", n, err)
	}
	wantSetMembers(t, s, 0, "s")
	// A set emptied and refilled starts over.
	mustSAdd(t, s, 0, "s", "x")
	wantSetMembers(t, s, 0, "s", "x")
}

func TestSetWritesKeepTTL(t *testing.T) {
	s, clock := openTestStore(t)
	mustSAdd(t, s, 0, "s", "a", "b")
	if ok, err := s.Expire(0, b("s"), Expiry{Mode: ExpiryIn, Ms: 5000}, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	deadline := clock.Ms() + 5000
	mustSAdd(t, s, 0, "s", "c")
	s.SRem(0, b("s"), bs("a"))
	s.SPop(0, b("s"), 1)
	wantDeadline(t, s, 0, "s", deadline)
	clock.Advance(5001 * time.Millisecond)
	wantSetMembers(t, s, 0, "s")
}

func TestSetCommandsRefuseOtherTypes(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "str", "v")
	mustSAdd(t, s, 0, "set", "a")
	_, err := s.SAdd(0, b("str"), bs("a"))
	wantErr(t, "SAdd", err, ErrWrongType)
	_, err = s.SRem(0, b("str"), bs("a"))
	wantErr(t, "SRem", err, ErrWrongType)
	_, err = s.SMembers(0, b("str"))
	wantErr(t, "SMembers", err, ErrWrongType)
	_, err = s.SMIsMember(0, b("str"), bs("a"))
	wantErr(t, "SMIsMember", err, ErrWrongType)
	_, err = s.SCard(0, b("str"))
	wantErr(t, "SCard", err, ErrWrongType)
	_, err = s.SPop(0, b("str"), 1)
	wantErr(t, "SPop", err, ErrWrongType)
	_, err = s.SRandMember(0, b("str"), -2)
	wantErr(t, "SRandMember", err, ErrWrongType)
	_, _, err = s.SScan(0, b("str"), nil, 10, nil)
	wantErr(t, "SScan", err, ErrWrongType)
	for _, op := range []SetOp{SetUnion, SetInter, SetDiff} {
		// Every key is checked, even after a missing one decides the result.
		_, err = s.SetOp(0, op, bs("missing", "str"))
		wantErr(t, fmt.Sprint("SetOp ", op), err, ErrWrongType)
		_, err = s.SetOpStore(0, op, b("dst"), bs("set", "str"))
		wantErr(t, fmt.Sprint("SetOpStore ", op), err, ErrWrongType)
	}
	_, err = s.SInterCard(0, bs("set", "str"), 0)
	wantErr(t, "SInterCard", err, ErrWrongType)
	wantValue(t, s, 0, "str", "v")
	wantMissing(t, s, 0, "dst")
}

func TestSPop(t *testing.T) {
	s, _ := openTestStore(t)
	mustSAdd(t, s, 0, "s", "a", "b", "c", "d")
	got, err := s.SPop(0, b("s"), 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("SPop 1 = %q, %v", got, err)
	}
	rest := slices.DeleteFunc([]string{"a", "b", "c", "d"}, func(m string) bool { return m == string(got[0]) })
	wantSetMembers(t, s, 0, "s", rest...)
	if got, err := s.SPop(0, b("s"), 0); err != nil || len(got) != 0 {
		t.Fatalf("SPop 0 = %q, %v", got, err)
	}
	two, err := s.SPop(0, b("s"), 2)
	if err != nil || len(two) != 2 || bytes.Equal(two[0], two[1]) {
		t.Fatalf("SPop 2 = %q, %v", two, err)
	}
	if n, _ := s.SCard(0, b("s")); n != 1 {
		t.Fatalf("SCard after popping 3 of 4 = %d", n)
	}
	last, err := s.SPop(0, b("s"), 10)
	if err != nil || len(last) != 1 {
		t.Fatalf("SPop 10 of 1 = %q, %v", last, err)
	}
	popped := sortedStrings(append(append(got, two...), last...))
	if !slices.Equal(popped, []string{"a", "b", "c", "d"}) {
		t.Fatalf("popped %q, want each member once", popped)
	}
	wantSetMembers(t, s, 0, "s")
	if got, err := s.SPop(0, b("s"), 1); err != nil || got != nil {
		t.Fatalf("SPop on a missing key = %q, %v", got, err)
	}
}

// TestSPopWholeSetLeavesMembersToTheSweeper: popping everything drops the
// record at once; the members are reclaimed later, and none is left behind.
func TestSPopWholeSetLeavesMembersToTheSweeper(t *testing.T) {
	s, _ := openTestStore(t)
	all := numberedMembers("m", 300)
	mustSAdd(t, s, 0, "s", all...)
	got, err := s.SPop(0, b("s"), 1000)
	if err != nil || !slices.Equal(sortedStrings(got), all) {
		t.Fatalf("SPop 1000 of 300 returned %d members, %v", len(got), err)
	}
	wantSetMembers(t, s, 0, "s")
	if n, err := s.SweepOrphansNow(); err != nil || n != 1 {
		t.Fatalf("sweep reclaimed %d collections (%v), want 1", n, err)
	}
	if n := countPrefix(t, s, []byte{prefixMember}); n != 0 {
		t.Fatalf("%d member entries left", n)
	}
}

// TestSPopLargeSetProbes pops from sets large enough to be probed rather
// than read whole, including members that are prefixes of others, the
// empty member and 0xff bytes, and checks that every pop is a distinct,
// real member.
func TestSPopLargeSetProbes(t *testing.T) {
	s, _ := openTestStore(t)
	members := numberedMembers("user:", 1000)
	for i := 0; i < 150; i++ {
		members = append(members, fmt.Sprint(i), fmt.Sprint("x", i), "\xff\xff"+fmt.Sprint(i))
	}
	members = append(members, "", "a", "ab", "abc", "\xff", "\xff\xff\xff")
	mustSAdd(t, s, 0, "s", members...)
	valid := make(map[string]bool, len(members))
	for _, m := range members {
		valid[m] = true
	}
	seen := map[string]bool{}
	for len(seen) < len(members) {
		want := min(int64(37), int64(len(members)-len(seen)))
		got, err := s.SPop(0, b("s"), want)
		if err != nil || int64(len(got)) != want {
			t.Fatalf("SPop %d returned %d members, %v", want, len(got), err)
		}
		for _, m := range got {
			if !valid[string(m)] || seen[string(m)] {
				t.Fatalf("SPop returned %q: a stranger or a repeat", m)
			}
			seen[string(m)] = true
		}
		if n, _ := s.SCard(0, b("s")); n != int64(len(members)-len(seen)) {
			t.Fatalf("SCard = %d after %d of %d popped", n, len(seen), len(members))
		}
	}
	wantSetMembers(t, s, 0, "s")
}

// TestRandomMembersSpread: on a large set of members sharing a prefix, the
// probe must reach the whole range, not only the members after gaps (a
// seek to random bytes would nearly always land on "user:0000"... or wrap).
func TestRandomMembersSpread(t *testing.T) {
	s, _ := openTestStore(t)
	mustSAdd(t, s, 0, "s", numberedMembers("user:", 1000)...)
	got, err := s.SRandMember(0, b("s"), -5000)
	if err != nil || len(got) != 5000 {
		t.Fatalf("SRandMember -5000 returned %d, %v", len(got), err)
	}
	perHundred := make([]int, 10)
	distinct := map[string]bool{}
	for _, m := range got {
		var i int
		if _, err := fmt.Sscanf(string(m), "user:%04d", &i); err != nil {
			t.Fatalf("SRandMember returned %q", m)
		}
		perHundred[i/100]++
		distinct[string(m)] = true
	}
	for i, n := range perHundred {
		if n < 250 || n > 750 { // 500 expected in each
			t.Fatalf("members %d00-%d99 drawn %d times of 5000: %v", i, i, n, perHundred)
		}
	}
	if len(distinct) < 900 { // about 993 expected for uniform draws
		t.Fatalf("5000 draws reached only %d of 1000 members", len(distinct))
	}
	if n, _ := s.SCard(0, b("s")); n != 1000 {
		t.Fatalf("SRandMember changed the set: SCard = %d", n)
	}
}

func TestSRandMember(t *testing.T) {
	s, _ := openTestStore(t)
	mustSAdd(t, s, 0, "s", "a", "b", "c")
	got, err := s.SRandMember(0, b("s"), 2)
	if err != nil || len(got) != 2 || bytes.Equal(got[0], got[1]) {
		t.Fatalf("SRandMember 2 = %q, %v; want 2 distinct", got, err)
	}
	got, err = s.SRandMember(0, b("s"), 10)
	if err != nil || !slices.Equal(sortedStrings(got), []string{"a", "b", "c"}) {
		t.Fatalf("SRandMember 10 = %q, %v; want the whole set", got, err)
	}
	got, err = s.SRandMember(0, b("s"), -10)
	if err != nil || len(got) != 10 {
		t.Fatalf("SRandMember -10 = %q, %v; want 10 draws", got, err)
	}
	for _, m := range got {
		if !slices.Contains([]string{"a", "b", "c"}, string(m)) {
			t.Fatalf("SRandMember -10 drew %q", m)
		}
	}
	if got, err = s.SRandMember(0, b("missing"), -3); err != nil || len(got) != 0 {
		t.Fatalf("SRandMember on a missing key = %q, %v", got, err)
	}
	// Drawing with repeats from a large set goes through the probe.
	mustSAdd(t, s, 0, "big", numberedMembers("m", 400)...)
	got, err = s.SRandMember(0, b("big"), -50)
	if err != nil || len(got) != 50 {
		t.Fatalf("SRandMember -50 of 400 = %d, %v", len(got), err)
	}
	got, err = s.SRandMember(0, b("big"), 50)
	if err != nil || len(got) != 50 || len(sortedStrings(got)) != len(slices.Compact(sortedStrings(got))) {
		t.Fatalf("SRandMember 50 of 400 = %q, %v; want 50 distinct", got, err)
	}
}

func TestSMove(t *testing.T) {
	s, _ := openTestStore(t)
	mustSAdd(t, s, 0, "src", "a", "b")
	mustSAdd(t, s, 0, "dst", "b")
	move := func(src, dst, m string) bool {
		t.Helper()
		ok, err := s.SMove(0, b(src), b(dst), b(m))
		if err != nil {
			t.Fatalf("SMove(%s, %s, %s): %v", src, dst, m, err)
		}
		return ok
	}
	if !move("src", "dst", "a") || move("src", "dst", "a") || move("src", "dst", "zz") {
		t.Fatal("SMove of a member must succeed once, and of a non-member fail")
	}
	wantSetMembers(t, s, 0, "src", "b")
	wantSetMembers(t, s, 0, "dst", "a", "b")
	// b is in both: it leaves src, dst keeps one copy, src is emptied.
	if !move("src", "dst", "b") {
		t.Fatal("SMove of a member dst already has")
	}
	wantSetMembers(t, s, 0, "src")
	wantSetMembers(t, s, 0, "dst", "a", "b")
	if !move("dst", "dst", "a") || move("dst", "dst", "zz") {
		t.Fatal("SMove within one set only tests membership")
	}
	wantSetMembers(t, s, 0, "dst", "a", "b")
	if !move("dst", "new", "a") {
		t.Fatal("SMove to a new set")
	}
	wantSetMembers(t, s, 0, "new", "a")
	mustSetPlain(t, s, 0, "str", "v")
	if move("missing", "str", "a") {
		t.Fatal("SMove from a missing set")
	}
	_, err := s.SMove(0, b("dst"), b("str"), b("b"))
	wantErr(t, "SMove to a string", err, ErrWrongType)
	_, err = s.SMove(0, b("str"), b("dst"), b("b"))
	wantErr(t, "SMove from a string", err, ErrWrongType)
	wantSetMembers(t, s, 0, "dst", "b")
}

func TestSetOps(t *testing.T) {
	s, _ := openTestStore(t)
	mustSAdd(t, s, 0, "s1", "a", "b", "c", "d")
	mustSAdd(t, s, 0, "s2", "c", "d", "e")
	mustSAdd(t, s, 0, "s3", "d", "e", "f")
	cases := []struct {
		op   SetOp
		keys []string
		want []string
	}{
		{SetInter, []string{"s1", "s2"}, []string{"c", "d"}},
		{SetInter, []string{"s1", "s2", "s3"}, []string{"d"}},
		{SetInter, []string{"s3", "s1", "s1"}, []string{"d"}},
		{SetInter, []string{"s1", "missing"}, nil},
		{SetUnion, []string{"s1", "s2", "s3"}, []string{"a", "b", "c", "d", "e", "f"}},
		{SetUnion, []string{"s2", "missing"}, []string{"c", "d", "e"}},
		{SetUnion, []string{"s3", "s1"}, []string{"a", "b", "c", "d", "e", "f"}},
		{SetDiff, []string{"s1", "s2"}, []string{"a", "b"}},
		{SetDiff, []string{"s1", "missing", "s3"}, []string{"a", "b", "c"}},
		{SetDiff, []string{"missing", "s1"}, nil},
		{SetDiff, []string{"s1", "s1"}, nil},
	}
	for _, c := range cases {
		got, err := s.SetOp(0, c.op, bs(c.keys...))
		var g []string
		for _, m := range got {
			g = append(g, string(m))
		}
		// Results come in byte order, whatever the order of the keys.
		if err != nil || !slices.Equal(g, c.want) {
			t.Errorf("SetOp(%v, %q) = %q, %v; want %q", c.op, c.keys, g, err, c.want)
		}
	}
	for limit, want := range map[int64]int64{0: 2, 1: 1, 2: 2, 5: 2} {
		if n, err := s.SInterCard(0, bs("s1", "s2"), limit); err != nil || n != want {
			t.Errorf("SInterCard limit %d = %d, %v; want %d", limit, n, err, want)
		}
	}
}

func TestSetOpStore(t *testing.T) {
	s, clock := openTestStore(t)
	mustSAdd(t, s, 0, "s1", "a", "b", "c")
	mustSAdd(t, s, 0, "s2", "b", "c", "d")
	// The destination is replaced whatever it held, TTL included.
	mustSet(t, s, 0, "dst", "string", Expiry{Mode: ExpiryIn, Ms: 10000})
	if n, err := s.SetOpStore(0, SetInter, b("dst"), bs("s1", "s2")); err != nil || n != 2 {
		t.Fatalf("SetOpStore inter = %d, %v", n, err)
	}
	wantSetMembers(t, s, 0, "dst", "b", "c")
	wantDeadline(t, s, 0, "dst", 0)
	old := makeTestHash(t, s, 0, "h", 5)
	if n, err := s.SetOpStore(0, SetUnion, b("h"), bs("s1", "s2")); err != nil || n != 4 {
		t.Fatalf("SetOpStore union over a hash = %d, %v", n, err)
	}
	wantSetMembers(t, s, 0, "h", "a", "b", "c", "d")
	if n, err := s.SweepOrphansNow(); err != nil || n != 1 {
		t.Fatalf("the replaced hash was not reclaimed: %d, %v", n, err)
	}
	if got := countPrefix(t, s, memberPrefix(old.id)); got != 0 {
		t.Fatalf("%d members of the replaced hash left", got)
	}
	// A destination that is also a source is read before it is replaced.
	if n, err := s.SetOpStore(0, SetDiff, b("s1"), bs("s1", "s2")); err != nil || n != 1 {
		t.Fatalf("SetOpStore diff onto a source = %d, %v", n, err)
	}
	wantSetMembers(t, s, 0, "s1", "a")
	// An empty result deletes the destination.
	if n, err := s.SetOpStore(0, SetInter, b("dst"), bs("s1", "missing")); err != nil || n != 0 {
		t.Fatalf("SetOpStore with an empty result = %d, %v", n, err)
	}
	wantSetMembers(t, s, 0, "dst")
	if n, err := s.SetOpStore(0, SetDiff, b("nothing"), bs("missing")); err != nil || n != 0 {
		t.Fatalf("SetOpStore of nothing = %d, %v", n, err)
	}
	wantMissing(t, s, 0, "nothing")
	clock.Advance(time.Second)
	wantSetMembers(t, s, 0, "h", "a", "b", "c", "d")
}

func TestSScan(t *testing.T) {
	s, _ := openTestStore(t)
	mustSAdd(t, s, 0, "small", "b", "a", "ab", "")
	got, next, err := s.SScan(0, b("small"), nil, 1, nil)
	if err != nil || next != nil || !slices.Equal(sortedStrings(got), []string{"", "a", "ab", "b"}) {
		t.Fatalf("SScan of a small set = %q, next %q, %v; want it whole", got, next, err)
	}
	got, _, _ = s.SScan(0, b("small"), nil, 1, func(m []byte) bool { return bytes.HasPrefix(m, b("a")) })
	if !slices.Equal(sortedStrings(got), []string{"a", "ab"}) {
		t.Fatalf("SScan with a match = %q", got)
	}
	if got, next, err := s.SScan(0, b("missing"), nil, 10, nil); err != nil || got != nil || next != nil {
		t.Fatalf("SScan of a missing key = %q, %q, %v", got, next, err)
	}

	all := numberedMembers("m", 1500)
	mustSAdd(t, s, 0, "big", all...)
	seen := map[string]int{}
	var after []byte
	calls := 0
	for {
		got, next, err := s.SScan(0, b("big"), after, 100, nil)
		if err != nil || len(got) > 100 {
			t.Fatalf("SScan returned %d members, %v", len(got), err)
		}
		for _, m := range got {
			seen[string(m)]++
		}
		calls++
		if calls == 3 {
			// Members removed mid-scan do not disturb the rest.
			s.SRem(0, b("big"), bs("m0000", "m1499"))
		}
		if next == nil {
			break
		}
		after = next
	}
	if calls < 15 {
		t.Fatalf("a 1500-member set scanned in %d calls of COUNT 100", calls)
	}
	for _, m := range all[1 : len(all)-1] {
		if seen[m] != 1 {
			t.Fatalf("member %s returned %d times", m, seen[m])
		}
	}
	// A selective match examines a bounded number of members per call.
	got, next, err = s.SScan(0, b("big"), nil, 10, func(m []byte) bool { return string(m) == "m1400" })
	if err != nil || len(got) != 0 || next == nil {
		t.Fatalf("SScan COUNT 10 with a far match = %q, next %q, %v; want an empty page", got, next, err)
	}
}

// TestSPopConcurrent: poppers racing on one set never get the same member
// twice and together get every member (run with -race).
func TestSPopConcurrent(t *testing.T) {
	s, _ := openTestStore(t)
	all := numberedMembers("job:", 1200)
	mustSAdd(t, s, 0, "q", all...)
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ms, err := s.SPop(0, b("q"), int64(1+w%3))
				if err != nil {
					t.Error(err)
					return
				}
				if len(ms) == 0 {
					return
				}
				mu.Lock()
				for _, m := range ms {
					got[string(m)]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, m := range all {
		if got[m] != 1 {
			t.Fatalf("member %s popped %d times", m, got[m])
		}
	}
	if len(got) != len(all) {
		t.Fatalf("popped %d distinct members, want %d", len(got), len(all))
	}
}

// TestSMoveConcurrent: members moved back and forth between two sets by
// racing goroutines are never lost or duplicated, and one SMove of a
// member wins.
func TestSMoveConcurrent(t *testing.T) {
	s, _ := openTestStore(t)
	all := numberedMembers("m", 50)
	mustSAdd(t, s, 0, "a", all...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[string]int{}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				m := all[(i*7+w)%len(all)]
				from, to := "a", "b"
				if i%2 == 1 {
					from, to = "b", "a"
				}
				if _, err := s.SMove(0, b(from), b(to), b(m)); err != nil {
					t.Error(err)
					return
				}
			}
			// Everyone races to move the same member once.
			ok, err := s.SMove(0, b("a"), b("c"), b("m0049"))
			if err != nil {
				t.Error(err)
			}
			if !ok {
				ok, err = s.SMove(0, b("b"), b("c"), b("m0049"))
				if err != nil {
					t.Error(err)
				}
			}
			if ok {
				mu.Lock()
				wins["m0049"]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins["m0049"] != 1 {
		t.Fatalf("%d SMoves of one member to c succeeded, want 1", wins["m0049"])
	}
	union, _ := s.SetOp(0, SetUnion, bs("a", "b", "c"))
	inter, _ := s.SetOp(0, SetUnion, bs("a"))
	both, _ := s.SetOp(0, SetInter, bs("a", "b"))
	if !slices.Equal(sortedStrings(union), all) || len(both) != 0 {
		t.Fatalf("after the moves: union %d members, %d in both a and b", len(union), len(both))
	}
	na, _ := s.SCard(0, b("a"))
	nb, _ := s.SCard(0, b("b"))
	if na+nb != 49 || int64(len(inter)) != na {
		t.Fatalf("SCard a + b = %d + %d, want 49", na, nb)
	}
}
