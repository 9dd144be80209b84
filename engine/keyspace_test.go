package engine

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDelCounts(t *testing.T) {
	s, clock := openTestStore(t)
	mustSetPlain(t, s, 0, "a", "1")
	mustSetPlain(t, s, 0, "b", "2")
	mustSet(t, s, 0, "gone", "x", Expiry{Mode: ExpiryIn, Ms: 10})
	clock.Advance(11 * time.Millisecond)
	// A key named twice is deleted (and counted) once; expired keys and
	// missing keys count zero.
	n, err := s.Del(0, bs("a", "b", "missing", "a", "gone"))
	if err != nil || n != 2 {
		t.Fatalf("DEL a b missing a gone = %d, %v; want 2", n, err)
	}
	wantMissing(t, s, 0, "a")
	wantMissing(t, s, 0, "b")
	if n, err := s.Del(0, bs("a")); err != nil || n != 0 {
		t.Fatalf("DEL again = %d, %v", n, err)
	}
	// Other databases are untouched.
	mustSetPlain(t, s, 1, "a", "1")
	if n, _ := s.Del(0, bs("a")); n != 0 {
		t.Fatalf("DEL in db0 removed a db1 key")
	}
	wantValue(t, s, 1, "a", "1")
}

func TestExistsCountsDuplicates(t *testing.T) {
	s, clock := openTestStore(t)
	mustSetPlain(t, s, 0, "a", "1")
	mustSetPlain(t, s, 0, "b", "")
	mustSet(t, s, 0, "gone", "x", Expiry{Mode: ExpiryIn, Ms: 10})
	clock.Advance(11 * time.Millisecond)
	n, err := s.Exists(0, bs("a", "a", "b", "missing", "gone", "a"))
	if err != nil || n != 4 {
		t.Fatalf("EXISTS a a b missing gone a = %d, %v; want 4", n, err)
	}
	if n, err := s.Exists(0, nil); err != nil || n != 0 {
		t.Fatalf("EXISTS with no keys = %d, %v", n, err)
	}
}

func TestExpireConditions(t *testing.T) {
	const cur = 10_000 // the existing TTL, ms from now
	cases := []struct {
		hasTTL bool
		cond   ExpireCond
		newIn  int64
		want   bool
	}{
		{false, 0, 5000, true},
		{true, 0, 5000, true},
		{false, ExpireNX, 5000, true},
		{true, ExpireNX, 5000, false},
		{false, ExpireXX, 5000, false},
		{true, ExpireXX, 5000, true},
		// GT: no TTL is an infinite TTL, so GT never applies to it.
		{false, ExpireGT, 5000, false},
		{true, ExpireGT, 5000, false},
		{true, ExpireGT, cur, false},
		{true, ExpireGT, 20_000, true},
		// LT: anything is less than no TTL.
		{false, ExpireLT, 20_000, true},
		{true, ExpireLT, 20_000, false},
		{true, ExpireLT, cur, false},
		{true, ExpireLT, 5000, true},
		// XX combines with GT and LT.
		{false, ExpireXX | ExpireGT, 20_000, false},
		{true, ExpireXX | ExpireGT, 20_000, true},
		{true, ExpireXX | ExpireGT, 5000, false},
		{false, ExpireXX | ExpireLT, 5000, false},
		{true, ExpireXX | ExpireLT, 5000, true},
		{true, ExpireXX | ExpireLT, 20_000, false},
	}
	s, clock := openTestStore(t)
	now := clock.Ms()
	for i, tc := range cases {
		key := fmt.Sprintf("k%d", i)
		var initial int64
		if tc.hasTTL {
			initial = now + cur
			mustSet(t, s, 0, key, "v", Expiry{Mode: ExpiryAt, Ms: initial})
		} else {
			mustSetPlain(t, s, 0, key, "v")
		}
		got, err := s.Expire(0, b(key), Expiry{Mode: ExpiryIn, Ms: tc.newIn}, tc.cond)
		if err != nil || got != tc.want {
			t.Errorf("case %d (ttl=%v cond=%04b new=+%d): Expire = %v, %v; want %v", i, tc.hasTTL, tc.cond, tc.newIn, got, err, tc.want)
			continue
		}
		want := initial
		if tc.want {
			want = now + tc.newIn
		}
		if d, _, _, _ := s.Deadline(0, b(key)); d != want {
			t.Errorf("case %d: deadline %d, want %d", i, d, want)
		}
	}
}

func TestExpirePastDeletes(t *testing.T) {
	s, clock := openTestStore(t)
	now := clock.Ms()
	for i, e := range []Expiry{
		{Mode: ExpiryIn, Ms: -1},
		{Mode: ExpiryIn, Ms: 0},
		{Mode: ExpiryIn, Ms: math.MinInt64 / 2},
		{Mode: ExpiryAt, Ms: now},
		{Mode: ExpiryAt, Ms: now - 1},
		{Mode: ExpiryAt, Ms: 0},
		{Mode: ExpiryAt, Ms: -5000},
	} {
		key := fmt.Sprintf("k%d", i)
		mustSetPlain(t, s, 0, key, "v")
		ok, err := s.Expire(0, b(key), e, 0)
		if err != nil || !ok {
			t.Errorf("Expire(%+v) = %v, %v; want true (deleted)", e, ok, err)
			continue
		}
		if n, _ := s.Exists(0, bs(key)); n != 0 {
			t.Errorf("Expire(%+v) left the key", e)
		}
		// A raw read confirms a delete, not a dead record.
		if raw := rawGet(t, s, 0, key); raw != nil {
			t.Errorf("Expire(%+v) stored a record %x instead of deleting", e, raw)
		}
	}
	// Conditions are checked before the past-deadline delete (as Redis).
	mustSet(t, s, 0, "ttl", "v", Expiry{Mode: ExpiryIn, Ms: 1000})
	if ok, _ := s.Expire(0, b("ttl"), Expiry{Mode: ExpiryIn, Ms: -1}, ExpireNX); ok {
		t.Fatal("EXPIRE NX -1 on a key with TTL applied")
	}
	wantValue(t, s, 0, "ttl", "v")
	mustSetPlain(t, s, 0, "nottl", "v")
	if ok, _ := s.Expire(0, b("nottl"), Expiry{Mode: ExpiryIn, Ms: -1}, ExpireGT); ok {
		t.Fatal("EXPIRE GT -1 on a key without TTL applied")
	}
	wantValue(t, s, 0, "nottl", "v")
	if ok, _ := s.Expire(0, b("nottl"), Expiry{Mode: ExpiryIn, Ms: -1}, ExpireLT); !ok {
		t.Fatal("EXPIRE LT -1 on a key without TTL did not apply")
	}
	wantMissing(t, s, 0, "nottl")
}

func TestExpireMissingAndOverflow(t *testing.T) {
	s, clock := openTestStore(t)
	if ok, err := s.Expire(0, b("nope"), Expiry{Mode: ExpiryIn, Ms: 1000}, 0); err != nil || ok {
		t.Fatalf("EXPIRE missing = %v, %v", ok, err)
	}
	wantMissing(t, s, 0, "nope")
	mustSet(t, s, 0, "gone", "v", Expiry{Mode: ExpiryIn, Ms: 5})
	clock.Advance(6 * time.Millisecond)
	if ok, err := s.Expire(0, b("gone"), Expiry{Mode: ExpiryIn, Ms: 1000}, 0); err != nil || ok {
		t.Fatalf("EXPIRE of an expired key = %v, %v; want false (it is gone)", ok, err)
	}
	wantMissing(t, s, 0, "gone")
	mustSetPlain(t, s, 0, "k", "v")
	_, err := s.Expire(0, b("k"), Expiry{Mode: ExpiryIn, Ms: math.MaxInt64}, 0)
	wantErr(t, "PEXPIRE MaxInt64", err, ErrInvalidExpire)
	wantDeadline(t, s, 0, "k", 0)
	// A millisecond deadline survives precisely.
	if ok, err := s.Expire(0, b("k"), Expiry{Mode: ExpiryIn, Ms: 1}, 0); err != nil || !ok {
		t.Fatal(err)
	}
	clock.Advance(time.Millisecond)
	wantValue(t, s, 0, "k", "v")
	clock.Advance(time.Millisecond)
	wantMissing(t, s, 0, "k")
}

func TestPersistAndDeadline(t *testing.T) {
	s, clock := openTestStore(t)
	if ok, err := s.Persist(0, b("nope")); err != nil || ok {
		t.Fatalf("PERSIST missing = %v, %v", ok, err)
	}
	if _, _, exists, err := s.Deadline(0, b("nope")); err != nil || exists {
		t.Fatalf("Deadline(missing) exists=%v, %v", exists, err)
	}
	mustSetPlain(t, s, 0, "k", "v")
	if ok, err := s.Persist(0, b("k")); err != nil || ok {
		t.Fatalf("PERSIST without TTL = %v, %v; want false", ok, err)
	}
	d, rem, exists, err := s.Deadline(0, b("k"))
	if err != nil || !exists || d != 0 || rem != 0 {
		t.Fatalf("Deadline(no TTL) = %d, %d, %v, %v", d, rem, exists, err)
	}
	at := clock.Ms() + 2500
	if ok, err := s.Expire(0, b("k"), Expiry{Mode: ExpiryAt, Ms: at}, 0); err != nil || !ok {
		t.Fatal(err)
	}
	d, rem, exists, err = s.Deadline(0, b("k"))
	if err != nil || !exists || d != at || rem != 2500 {
		t.Fatalf("Deadline = %d, %d, %v, %v; want %d, 2500", d, rem, exists, err, at)
	}
	clock.Advance(1000 * time.Millisecond)
	if _, rem, _, _ = s.Deadline(0, b("k")); rem != 1500 {
		t.Fatalf("remaining after 1s = %d, want 1500", rem)
	}
	if ok, err := s.Persist(0, b("k")); err != nil || !ok {
		t.Fatalf("PERSIST = %v, %v; want true", ok, err)
	}
	wantDeadline(t, s, 0, "k", 0)
	clock.Advance(time.Hour)
	wantValue(t, s, 0, "k", "v")
}

func TestRename(t *testing.T) {
	s, clock := openTestStore(t)
	_, err := s.Rename(0, b("nope"), b("x"), false)
	wantErr(t, "RENAME missing", err, ErrNoSuchKey)
	_, err = s.Rename(0, b("nope"), b("x"), true)
	wantErr(t, "RENAMENX missing", err, ErrNoSuchKey)
	_, err = s.Rename(0, b("nope"), b("nope"), false)
	wantErr(t, "RENAME missing to itself", err, ErrNoSuchKey)

	d := clock.Ms() + 5000
	mustSet(t, s, 0, "src", "v", Expiry{Mode: ExpiryAt, Ms: d})
	if ok, err := s.Rename(0, b("src"), b("dst"), false); err != nil || !ok {
		t.Fatalf("RENAME = %v, %v", ok, err)
	}
	wantMissing(t, s, 0, "src")
	wantValue(t, s, 0, "dst", "v")
	wantDeadline(t, s, 0, "dst", d)

	// RENAME replaces the destination, and its TTL.
	mustSetPlain(t, s, 0, "a", "A")
	mustSet(t, s, 0, "b", "B", Expiry{Mode: ExpiryIn, Ms: 100})
	if ok, err := s.Rename(0, b("a"), b("b"), false); err != nil || !ok {
		t.Fatalf("RENAME over existing = %v, %v", ok, err)
	}
	wantValue(t, s, 0, "b", "A")
	wantDeadline(t, s, 0, "b", 0)

	// RENAMENX refuses an existing destination and changes nothing.
	mustSetPlain(t, s, 0, "a", "A2")
	if ok, err := s.Rename(0, b("a"), b("b"), true); err != nil || ok {
		t.Fatalf("RENAMENX over existing = %v, %v; want false", ok, err)
	}
	wantValue(t, s, 0, "a", "A2")
	wantValue(t, s, 0, "b", "A")
	// ... but an expired destination is missing.
	mustSet(t, s, 0, "dead", "x", Expiry{Mode: ExpiryIn, Ms: 5})
	clock.Advance(6 * time.Millisecond)
	if ok, err := s.Rename(0, b("a"), b("dead"), true); err != nil || !ok {
		t.Fatalf("RENAMENX over an expired key = %v, %v; want true", ok, err)
	}
	wantValue(t, s, 0, "dead", "A2")
	wantDeadline(t, s, 0, "dead", 0)

	// The same key: RENAME succeeds, RENAMENX reports 0; the key is intact.
	mustSet(t, s, 0, "same", "v", Expiry{Mode: ExpiryAt, Ms: d})
	if ok, err := s.Rename(0, b("same"), b("same"), false); err != nil || !ok {
		t.Fatalf("RENAME k k = %v, %v; want true", ok, err)
	}
	if ok, err := s.Rename(0, b("same"), b("same"), true); err != nil || ok {
		t.Fatalf("RENAMENX k k = %v, %v; want false", ok, err)
	}
	wantValue(t, s, 0, "same", "v")
	wantDeadline(t, s, 0, "same", d)
}

func TestCopy(t *testing.T) {
	s, clock := openTestStore(t)
	d := clock.Ms() + 5000
	mustSet(t, s, 0, "src", "v", Expiry{Mode: ExpiryAt, Ms: d})
	if ok, err := s.Copy(0, b("missing"), 0, b("dst"), false); err != nil || ok {
		t.Fatalf("COPY missing = %v, %v", ok, err)
	}
	wantMissing(t, s, 0, "dst")
	if ok, err := s.Copy(0, b("src"), 0, b("dst"), false); err != nil || !ok {
		t.Fatalf("COPY = %v, %v", ok, err)
	}
	wantValue(t, s, 0, "src", "v")
	wantValue(t, s, 0, "dst", "v")
	wantDeadline(t, s, 0, "dst", d)

	mustSetPlain(t, s, 0, "src", "v2")
	if ok, err := s.Copy(0, b("src"), 0, b("dst"), false); err != nil || ok {
		t.Fatalf("COPY onto existing without REPLACE = %v, %v; want false", ok, err)
	}
	wantValue(t, s, 0, "dst", "v")
	if ok, err := s.Copy(0, b("src"), 0, b("dst"), true); err != nil || !ok {
		t.Fatalf("COPY REPLACE = %v, %v", ok, err)
	}
	wantValue(t, s, 0, "dst", "v2")
	wantDeadline(t, s, 0, "dst", 0)

	// Across databases.
	if ok, err := s.Copy(0, b("src"), 3, b("src"), false); err != nil || !ok {
		t.Fatalf("COPY DB 3 = %v, %v", ok, err)
	}
	wantValue(t, s, 3, "src", "v2")
	wantValue(t, s, 0, "src", "v2")
	mustSetPlain(t, s, 3, "other", "o")
	if ok, err := s.Copy(0, b("src"), 3, b("other"), false); err != nil || ok {
		t.Fatalf("COPY DB 3 onto existing = %v, %v", ok, err)
	}
	if ok, err := s.Copy(0, b("src"), 3, b("other"), true); err != nil || !ok {
		t.Fatalf("COPY DB 3 REPLACE = %v, %v", ok, err)
	}
	wantValue(t, s, 3, "other", "v2")
	// An expired destination does not block the copy.
	mustSet(t, s, 0, "dead", "x", Expiry{Mode: ExpiryIn, Ms: 5})
	clock.Advance(6 * time.Millisecond)
	if ok, err := s.Copy(0, b("src"), 0, b("dead"), false); err != nil || !ok {
		t.Fatalf("COPY onto expired = %v, %v", ok, err)
	}

	_, err := s.Copy(0, b("src"), 0, b("src"), true)
	wantErr(t, "COPY src src", err, ErrSameObject)
	if ok, err := s.Copy(0, b("src"), 1, b("src"), false); err != nil || !ok {
		t.Fatalf("COPY same name, other db = %v, %v", ok, err)
	}
	_, err = s.Copy(0, b("src"), 16, b("x"), false)
	wantErr(t, "COPY to db 16", err, ErrDBIndex)
}

func TestMove(t *testing.T) {
	s, clock := openTestStore(t)
	d := clock.Ms() + 5000
	mustSet(t, s, 0, "k", "v", Expiry{Mode: ExpiryAt, Ms: d})
	if ok, err := s.Move(0, b("missing"), 1); err != nil || ok {
		t.Fatalf("MOVE missing = %v, %v", ok, err)
	}
	if ok, err := s.Move(0, b("k"), 1); err != nil || !ok {
		t.Fatalf("MOVE = %v, %v", ok, err)
	}
	wantMissing(t, s, 0, "k")
	wantValue(t, s, 1, "k", "v")
	wantDeadline(t, s, 1, "k", d)
	// An existing key in the destination blocks the move.
	mustSetPlain(t, s, 0, "k", "v0")
	if ok, err := s.Move(0, b("k"), 1); err != nil || ok {
		t.Fatalf("MOVE onto existing = %v, %v; want false", ok, err)
	}
	wantValue(t, s, 0, "k", "v0")
	wantValue(t, s, 1, "k", "v")
	_, err := s.Move(0, b("k"), 0)
	wantErr(t, "MOVE to the same db", err, ErrSameObject)
	_, err = s.Move(0, b("k"), 16)
	wantErr(t, "MOVE to db 16", err, ErrDBIndex)
	// An expired key in the destination does not block it.
	clock.Advance(5001 * time.Millisecond)
	if ok, err := s.Move(0, b("k"), 1); err != nil || !ok {
		t.Fatalf("MOVE onto expired = %v, %v", ok, err)
	}
	wantValue(t, s, 1, "k", "v0")
}

func TestSwapDB(t *testing.T) {
	s, clock := openTestStore(t)
	d := clock.Ms() + 5000
	mustSetPlain(t, s, 0, "a", "db0")
	mustSetPlain(t, s, 1, "a", "db1")
	mustSet(t, s, 1, "b", "db1", Expiry{Mode: ExpiryAt, Ms: d})
	if err := s.SwapDB(0, 1); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, 0, "a", "db1")
	wantValue(t, s, 0, "b", "db1")
	wantDeadline(t, s, 0, "b", d)
	wantValue(t, s, 1, "a", "db0")
	wantMissing(t, s, 1, "b")
	// Writes after the swap land in the swapped database.
	mustSetPlain(t, s, 1, "c", "new")
	if err := s.SwapDB(1, 0); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, 0, "c", "new")
	wantValue(t, s, 0, "a", "db0")
	wantMissing(t, s, 0, "b")
	if err := s.SwapDB(2, 2); err != nil {
		t.Fatalf("SWAPDB 2 2: %v", err)
	}
	wantErr(t, "SWAPDB -1 0", s.SwapDB(-1, 0), ErrDBIndex)
}

func TestFlushDBIsolation(t *testing.T) {
	s, _ := openTestStore(t)
	for db := 0; db < 3; db++ {
		for i := 0; i < 20; i++ {
			mustSetPlain(t, s, db, fmt.Sprintf("k%d", i), fmt.Sprintf("db%d", db))
		}
	}
	if err := s.FlushDB(1); err != nil {
		t.Fatal(err)
	}
	if keys := allKeys(t, s, 1); len(keys) != 0 {
		t.Fatalf("db1 after FLUSHDB: %q", keys)
	}
	if n, _, _ := s.DBStats(1); n != 0 {
		t.Fatalf("DBStats(1) after FLUSHDB = %d", n)
	}
	for _, db := range []int{0, 2} {
		if n, _, _ := s.DBStats(db); n != 20 {
			t.Fatalf("DBStats(%d) = %d, want 20", db, n)
		}
		wantValue(t, s, db, "k7", fmt.Sprintf("db%d", db))
	}
	mustSetPlain(t, s, 1, "k7", "again")
	wantValue(t, s, 1, "k7", "again")
	if n, _, _ := s.DBStats(1); n != 1 {
		t.Fatalf("DBStats(1) = %d, want 1", n)
	}
}

func TestFlushAll(t *testing.T) {
	s, _ := openTestStore(t)
	for db := 0; db < 16; db++ {
		mustSetPlain(t, s, db, "k", "v")
	}
	if err := s.FlushAll(); err != nil {
		t.Fatal(err)
	}
	for db := 0; db < 16; db++ {
		wantMissing(t, s, db, "k")
		if n, _, _ := s.DBStats(db); n != 0 {
			t.Fatalf("DBStats(%d) after FLUSHALL = %d", db, n)
		}
	}
	mustSetPlain(t, s, 5, "k", "new")
	wantValue(t, s, 5, "k", "new")
	wantMissing(t, s, 4, "k")
}

func TestDBStatsIgnoresExpired(t *testing.T) {
	s, clock := openTestStore(t)
	mustSetPlain(t, s, 0, "plain", "v")
	mustSet(t, s, 0, "far", "v", Expiry{Mode: ExpiryIn, Ms: 60_000})
	mustSet(t, s, 0, "near", "v", Expiry{Mode: ExpiryIn, Ms: 500})
	mustSet(t, s, 0, "soon", "v", Expiry{Mode: ExpiryIn, Ms: 100})
	mustSetPlain(t, s, 1, "other", "v")
	check := func(wantKeys, wantExp int64) {
		t.Helper()
		keys, exp, err := s.DBStats(0)
		if err != nil || keys != wantKeys || exp != wantExp {
			t.Fatalf("DBStats(0) = %d keys, %d expires, %v; want %d, %d", keys, exp, err, wantKeys, wantExp)
		}
	}
	check(4, 3)
	clock.Advance(100 * time.Millisecond)
	check(4, 3)
	clock.Advance(time.Millisecond)
	check(3, 2)
	clock.Advance(399 * time.Millisecond) // "near" is at its deadline: live
	check(3, 2)
	clock.Advance(time.Millisecond)
	check(2, 1)
	clock.Advance(time.Minute)
	check(1, 0)
	// PERSIST changes the expires count.
	mustSet(t, s, 0, "p", "v", Expiry{Mode: ExpiryIn, Ms: 10_000})
	check(2, 1)
	s.Persist(0, b("p"))
	check(2, 0)
}

func TestKeysPrefixAndMatch(t *testing.T) {
	s, clock := openTestStore(t)
	for _, k := range []string{"user:1", "user:2", "user:10", "users", "use", "admin", "user;", ""} {
		mustSetPlain(t, s, 0, k, "v")
	}
	mustSet(t, s, 0, "user:3", "v", Expiry{Mode: ExpiryIn, Ms: 5})
	clock.Advance(6 * time.Millisecond)
	mustSetPlain(t, s, 1, "user:4", "other db")

	got, err := s.Keys(0, b("user:"), ScanFilter{})
	if want := []string{"user:1", "user:10", "user:2"}; err != nil || !slices.Equal(sortedStrings(got), want) {
		t.Fatalf("KEYS user:* = %q, %v; want %q", got, err, want)
	}
	ends1 := func(k []byte) bool { return bytes.HasSuffix(k, []byte("1")) }
	got, err = s.Keys(0, b("user:"), ScanFilter{Match: ends1})
	if want := []string{"user:1"}; err != nil || !slices.Equal(sortedStrings(got), want) {
		t.Fatalf("KEYS user:*1 = %q, %v; want %q", got, err, want)
	}
	got, err = s.Keys(0, nil, ScanFilter{Match: func(k []byte) bool { return strings.Contains(string(k), "s") }})
	if want := []string{"use", "user:1", "user:10", "user:2", "user;", "users"}; err != nil || !slices.Equal(sortedStrings(got), want) {
		t.Fatalf("KEYS *s* = %q, %v; want %q", got, err, want)
	}
	got, err = s.Keys(0, nil, ScanFilter{})
	if want := []string{"", "admin", "use", "user:1", "user:10", "user:2", "user;", "users"}; err != nil || !slices.Equal(sortedStrings(got), want) {
		t.Fatalf("KEYS * = %q, %v; want %q", got, err, want)
	}
	got, err = s.Keys(0, nil, ScanFilter{Kind: KindString})
	if err != nil || len(got) != 8 {
		t.Fatalf("KEYS * TYPE string = %q, %v", got, err)
	}
	if got, err := s.Keys(0, b("zzz"), ScanFilter{}); err != nil || len(got) != 0 {
		t.Fatalf("KEYS zzz* = %q, %v", got, err)
	}
}

// scanAll runs a whole SCAN with count per call, calling between() after
// every call, and returns the keys in the order returned.
func scanAll(t *testing.T, s *Store, db, count int, f ScanFilter, between func(call int)) []string {
	t.Helper()
	var out []string
	var cursor []byte
	for call := 0; ; call++ {
		if call > 100_000 {
			t.Fatal("SCAN does not terminate")
		}
		keys, next, err := s.Scan(db, cursor, count, f)
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if len(keys) > max(count, 1) {
			t.Fatalf("Scan returned %d keys for count %d", len(keys), count)
		}
		for _, k := range keys {
			out = append(out, string(k))
		}
		if next == nil {
			return out
		}
		cursor = next
		if between != nil {
			between(call)
		}
	}
}

func wantEachOnce(t *testing.T, got []string, must []string, allowed func(string) bool) {
	t.Helper()
	seen := map[string]int{}
	for _, k := range got {
		seen[k]++
		if seen[k] == 2 {
			t.Errorf("SCAN returned %q twice", k)
		}
		if allowed != nil && !allowed(k) {
			t.Errorf("SCAN returned %q, which never existed", k)
		}
	}
	for _, k := range must {
		if seen[k] == 0 {
			t.Errorf("SCAN missed %q, present for the whole scan", k)
		}
	}
}

func TestScanCompleteness(t *testing.T) {
	s, _ := openTestStore(t)
	var want []string
	pairs := [][]byte{}
	for i := 0; i < 300; i++ {
		k := fmt.Sprintf("key:%03d", i)
		want = append(want, k)
		pairs = append(pairs, b(k), b("v"))
	}
	if _, err := s.MSet(0, pairs, false); err != nil {
		t.Fatal(err)
	}
	for _, count := range []int{1, 7, 10, 1000} {
		got := scanAll(t, s, 0, count, ScanFilter{}, nil)
		if len(got) != len(want) {
			t.Errorf("count %d: %d keys, want %d", count, len(got), len(want))
		}
		wantEachOnce(t, got, want, nil)
	}
	// Count 0 is treated as 1 and still terminates.
	if got := scanAll(t, s, 0, 0, ScanFilter{}, nil); len(got) != 300 {
		t.Errorf("count 0: %d keys", len(got))
	}
	// An empty database: one call, no keys, done.
	if keys, next, err := s.Scan(1, nil, 10, ScanFilter{}); err != nil || len(keys) != 0 || next != nil {
		t.Fatalf("SCAN of an empty db = %q, %q, %v", keys, next, err)
	}
}

// The empty string is a valid key. When it is the last key one SCAN call
// examined, the cursor to resume from is that empty key, which must not be
// confused with "scan complete" (nil).
func TestScanEmptyKey(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "", "empty key")
	mustSetPlain(t, s, 0, "a", "1")
	mustSetPlain(t, s, 0, "b", "2")
	got := scanAll(t, s, 0, 1, ScanFilter{}, nil)
	if want := []string{"", "a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("SCAN count 1 with an empty key = %q, want %q", got, want)
	}
}

func TestScanWhileMutating(t *testing.T) {
	s, _ := openTestStore(t)
	var stable []string
	existed := map[string]bool{}
	var mu sync.Mutex
	note := func(k string) { mu.Lock(); existed[k] = true; mu.Unlock() }
	var pairs [][]byte
	for i := 0; i < 200; i++ {
		st := fmt.Sprintf("k%03d", i)
		vol := fmt.Sprintf("k%03d-vol", i)
		stable = append(stable, st)
		note(st)
		note(vol)
		pairs = append(pairs, b(st), b("s"), b(vol), b("v"))
	}
	if _, err := s.MSet(0, pairs, false); err != nil {
		t.Fatal(err)
	}

	// A writer deletes and inserts keys all around the stable ones while
	// the scan runs...
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			i := (n * 37) % 200
			vol := fmt.Sprintf("k%03d-vol", i)
			ins := fmt.Sprintf("k%03d-new%d", i, n)
			note(ins)
			if _, err := s.Del(0, bs(vol)); err != nil {
				t.Error(err)
				return
			}
			if _, err := s.Set(0, b(ins), b("n"), SetArgs{}); err != nil {
				t.Error(err)
				return
			}
			if n%3 == 0 {
				if _, err := s.Set(0, b(vol), b("back"), SetArgs{}); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	// ... and between calls the scan itself deletes a key ahead of the cursor
	// and inserts one behind and one ahead of it.
	got := scanAll(t, s, 0, 5, ScanFilter{}, func(call int) {
		i := (call * 3) % 200
		note(fmt.Sprintf("k%03d-between%d", i, call))
		note(fmt.Sprintf("a-between%d", call))
		note(fmt.Sprintf("z-between%d", call))
		s.Del(0, bs(fmt.Sprintf("k%03d-vol", (i+101)%200)))
		s.MSet(0, bs(fmt.Sprintf("k%03d-between%d", i, call), "x", fmt.Sprintf("a-between%d", call), "x", fmt.Sprintf("z-between%d", call), "x"), false)
	})
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	wantEachOnce(t, got, stable, func(k string) bool { return existed[k] })
	if !slices.IsSorted(got) {
		t.Errorf("SCAN did not return keys in byte order")
	}
}

func TestScanFilters(t *testing.T) {
	s, clock := openTestStore(t)
	var pairs [][]byte
	for i := 0; i < 100; i++ {
		pairs = append(pairs, b(fmt.Sprintf("k%03d", i)), b("v"))
	}
	s.MSet(0, pairs, false)
	for i := 0; i < 100; i += 10 {
		// Every tenth key expires.
		s.Expire(0, b(fmt.Sprintf("k%03d", i)), Expiry{Mode: ExpiryIn, Ms: 50}, 0)
	}
	clock.Advance(51 * time.Millisecond)

	got := scanAll(t, s, 0, 8, ScanFilter{}, nil)
	if len(got) != 90 || slices.Contains(got, "k010") {
		t.Fatalf("SCAN returned %d keys (expired ones: %v), want 90", len(got), slices.Contains(got, "k010"))
	}
	got = scanAll(t, s, 0, 8, ScanFilter{Kind: KindString}, nil)
	if len(got) != 90 || slices.Contains(got, "k010") {
		t.Fatalf("SCAN TYPE string returned %d keys, want 90 live strings", len(got))
	}
	got = scanAll(t, s, 0, 8, ScanFilter{Kind: Kind(2)}, nil)
	if len(got) != 0 {
		t.Fatalf("SCAN TYPE <another kind> returned %q", got)
	}

	// A selective MATCH examines at most count*10 keys per call, so it
	// takes several calls that return nothing and a cursor.
	var examined, calls, maxPerCall int
	var cursor []byte
	var matched []string
	for {
		examined = 0
		keys, next, err := s.Scan(0, cursor, 2, ScanFilter{Match: func(k []byte) bool {
			examined++
			return bytes.HasSuffix(k, []byte("7"))
		}})
		if err != nil {
			t.Fatal(err)
		}
		calls++
		maxPerCall = max(maxPerCall, examined)
		for _, k := range keys {
			matched = append(matched, string(k))
		}
		if next == nil {
			break
		}
		cursor = next
	}
	if maxPerCall > 20 {
		t.Errorf("one SCAN COUNT 2 call examined %d keys, want <= 20", maxPerCall)
	}
	if calls < 5 {
		t.Errorf("SCAN COUNT 2 over 100 keys took %d calls, want >= 5", calls)
	}
	if len(matched) != 10 {
		t.Errorf("SCAN MATCH *7 = %q, want 10 keys", matched)
	}
}

func TestRandomKey(t *testing.T) {
	s, clock := openTestStore(t)
	if _, ok, err := s.RandomKey(0); err != nil || ok {
		t.Fatalf("RANDOMKEY on empty = %v, %v", ok, err)
	}
	mustSetPlain(t, s, 1, "elsewhere", "v")
	if _, ok, err := s.RandomKey(0); err != nil || ok {
		t.Fatalf("RANDOMKEY sees another db's key")
	}
	for i := 0; i < 5; i++ {
		mustSet(t, s, 0, fmt.Sprintf("dead%d", i), "v", Expiry{Mode: ExpiryIn, Ms: 5})
	}
	clock.Advance(6 * time.Millisecond)
	if k, ok, err := s.RandomKey(0); err != nil || ok {
		t.Fatalf("RANDOMKEY with only expired keys = %q, %v, %v; want none", k, ok, err)
	}
	live := map[string]bool{"a": true, "m": true, "\xf0z": true}
	for k := range live {
		mustSetPlain(t, s, 0, k, "v")
	}
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		k, ok, err := s.RandomKey(0)
		if err != nil || !ok || !live[string(k)] {
			t.Fatalf("RANDOMKEY = %q, %v, %v; want a live key", k, ok, err)
		}
		seen[string(k)] = true
	}
	if len(seen) < 2 {
		t.Errorf("200 RANDOMKEY calls returned only %v", seen)
	}
}

// rawGet reads key's badger value in db directly (nil: no entry).
func rawGet(t testing.TB, s *Store, db int, key string) []byte {
	t.Helper()
	var out []byte
	err := s.view(db, func(x *Txn) error {
		item, err := x.t.Get(encodeKey(x.ns, b(key)))
		if err != nil {
			return nil
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
