package engine

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSetAndGet(t *testing.T) {
	s, _ := openTestStore(t)
	wantMissing(t, s, 0, "k")
	mustSetPlain(t, s, 0, "k", "v1")
	wantValue(t, s, 0, "k", "v1")
	mustSetPlain(t, s, 0, "k", "v2")
	wantValue(t, s, 0, "k", "v2")
	// An empty value is a present, empty string.
	mustSetPlain(t, s, 0, "empty", "")
	wantValue(t, s, 0, "empty", "")
	// Databases are separate keyspaces.
	wantMissing(t, s, 1, "k")
	if k, err := s.Type(0, b("k")); err != nil || k != KindString || k.String() != "string" {
		t.Fatalf("Type(k) = %v, %v; want string", k, err)
	}
	if k, err := s.Type(0, b("nope")); err != nil || k != KindNone || k.String() != "none" {
		t.Fatalf("Type(missing) = %v, %v; want none", k, err)
	}
	if n, err := s.Strlen(0, b("k")); err != nil || n != 2 {
		t.Fatalf("Strlen = %d, %v", n, err)
	}
	if n, err := s.Strlen(0, b("nope")); err != nil || n != 0 {
		t.Fatalf("Strlen(missing) = %d, %v", n, err)
	}
}

func TestSetNXXX(t *testing.T) {
	s, _ := openTestStore(t)
	set := func(key, val string, c SetCond) bool {
		t.Helper()
		res, err := s.Set(0, b(key), b(val), SetArgs{Cond: c})
		if err != nil {
			t.Fatalf("Set(%q, cond %d): %v", key, c, err)
		}
		return res.Written
	}
	if set("k", "a", CondXX) {
		t.Fatal("XX on a missing key wrote")
	}
	wantMissing(t, s, 0, "k")
	if !set("k", "a", CondNX) {
		t.Fatal("NX on a missing key did not write")
	}
	if set("k", "b", CondNX) {
		t.Fatal("NX on an existing key wrote")
	}
	wantValue(t, s, 0, "k", "a")
	if !set("k", "c", CondXX) {
		t.Fatal("XX on an existing key did not write")
	}
	wantValue(t, s, 0, "k", "c")
}

func TestSetGetOption(t *testing.T) {
	s, _ := openTestStore(t)
	res, err := s.Set(0, b("k"), b("v1"), SetArgs{Get: true})
	if err != nil || !res.Written || res.HadOld || res.Old != nil {
		t.Fatalf("SET GET on missing = %+v, %v; want written, no old", res, err)
	}
	res, err = s.Set(0, b("k"), b("v2"), SetArgs{Get: true})
	if err != nil || !res.Written || !res.HadOld || string(res.Old) != "v1" {
		t.Fatalf("SET GET on existing = %+v, %v; want old v1", res, err)
	}
	// GET with a failing condition still returns the old value, writes nothing.
	res, err = s.Set(0, b("k"), b("v3"), SetArgs{Get: true, Cond: CondNX})
	if err != nil || res.Written || !res.HadOld || string(res.Old) != "v2" {
		t.Fatalf("SET NX GET on existing = %+v, %v; want not written, old v2", res, err)
	}
	wantValue(t, s, 0, "k", "v2")
	res, err = s.Set(0, b("missing"), b("x"), SetArgs{Get: true, Cond: CondXX})
	if err != nil || res.Written || res.HadOld {
		t.Fatalf("SET XX GET on missing = %+v, %v", res, err)
	}
	wantMissing(t, s, 0, "missing")
}

func TestSetIfConditions(t *testing.T) {
	const cur = "current"
	curDigest := Digest([]byte(cur))
	otherDigest := Digest([]byte("other"))
	cases := []struct {
		name    string
		cond    SetCond
		match   string
		exists  bool
		written bool
	}{
		{"IFEQ equal", CondIfEq, cur, true, true},
		{"IFEQ different", CondIfEq, "other", true, false},
		{"IFEQ missing never creates", CondIfEq, cur, false, false},
		{"IFEQ missing empty match never creates", CondIfEq, "", false, false},
		{"IFNE equal", CondIfNe, cur, true, false},
		{"IFNE different", CondIfNe, "other", true, true},
		{"IFNE missing creates", CondIfNe, cur, false, true},
		{"IFDEQ equal", CondIfDEq, curDigest, true, true},
		{"IFDEQ equal upper case", CondIfDEq, strings.ToUpper(curDigest), true, true},
		{"IFDEQ different", CondIfDEq, otherDigest, true, false},
		{"IFDEQ missing never creates", CondIfDEq, Digest(nil), false, false},
		{"IFDNE equal", CondIfDNe, curDigest, true, false},
		{"IFDNE different", CondIfDNe, otherDigest, true, true},
		{"IFDNE missing creates", CondIfDNe, curDigest, false, true},
	}
	s, _ := openTestStore(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("k%d", i)
			if tc.exists {
				mustSetPlain(t, s, 0, key, cur)
			}
			res, err := s.Set(0, b(key), b("new"), SetArgs{Cond: tc.cond, Match: b(tc.match), Get: true})
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if res.Written != tc.written {
				t.Fatalf("Written = %v, want %v", res.Written, tc.written)
			}
			if res.HadOld != tc.exists || (tc.exists && string(res.Old) != cur) {
				t.Fatalf("GET part = %q, %v; want %q, %v", res.Old, res.HadOld, cur, tc.exists)
			}
			switch {
			case tc.written:
				wantValue(t, s, 0, key, "new")
			case tc.exists:
				wantValue(t, s, 0, key, cur)
			default:
				wantMissing(t, s, 0, key)
			}
		})
	}
}

func TestDigest(t *testing.T) {
	d := Digest([]byte("hello"))
	if len(d) != 16 || strings.ToLower(d) != d {
		t.Fatalf("Digest = %q, want 16 lower-case hex digits", d)
	}
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "k", "hello")
	if got, ok, err := s.DigestOf(0, b("k")); err != nil || !ok || got != d {
		t.Fatalf("DigestOf = %q, %v, %v; want %q", got, ok, err, d)
	}
	if _, ok, err := s.DigestOf(0, b("nope")); err != nil || ok {
		t.Fatalf("DigestOf(missing) ok=%v, %v", ok, err)
	}
}

func TestDelIf(t *testing.T) {
	s, _ := openTestStore(t)
	del := func(cond SetCond, match string) bool {
		t.Helper()
		ok, err := s.DelIf(0, b("k"), cond, b(match))
		if err != nil {
			t.Fatalf("DelIf: %v", err)
		}
		return ok
	}
	if del(CondNone, "") {
		t.Fatal("DelIf on a missing key deleted")
	}
	if del(CondIfNe, "x") {
		t.Fatal("DelIf IFNE on a missing key reported a delete")
	}
	mustSetPlain(t, s, 0, "k", "v")
	if del(CondIfEq, "other") {
		t.Fatal("IFEQ with a different value deleted")
	}
	if del(CondIfNe, "v") {
		t.Fatal("IFNE with the same value deleted")
	}
	if del(CondIfDEq, Digest([]byte("w"))) {
		t.Fatal("IFDEQ with another digest deleted")
	}
	wantValue(t, s, 0, "k", "v")
	if !del(CondIfEq, "v") {
		t.Fatal("IFEQ with the same value did not delete")
	}
	wantMissing(t, s, 0, "k")
	mustSetPlain(t, s, 0, "k", "v")
	if !del(CondIfDEq, Digest([]byte("v"))) {
		t.Fatal("IFDEQ with the digest did not delete")
	}
	mustSetPlain(t, s, 0, "k", "v")
	if !del(CondNone, "") {
		t.Fatal("unconditional DelIf did not delete")
	}
	wantMissing(t, s, 0, "k")
}

// A key with a 500 ms TTL is visible at exactly +500 ms and gone at +501 ms:
// Redis's rule is expired when now > deadline.
func TestSetMillisecondExpiry(t *testing.T) {
	s, clock := openTestStore(t)
	start := clock.Ms()
	mustSet(t, s, 0, "k", "v", Expiry{Mode: ExpiryIn, Ms: 500})
	wantDeadline(t, s, 0, "k", start+500)
	clock.Advance(499 * time.Millisecond)
	wantValue(t, s, 0, "k", "v")
	clock.Advance(time.Millisecond)
	wantValue(t, s, 0, "k", "v")
	if _, rem, _, _ := s.Deadline(0, b("k")); rem != 0 {
		t.Fatalf("remaining at the deadline = %d, want 0", rem)
	}
	clock.Advance(time.Millisecond)
	wantMissing(t, s, 0, "k")
	if _, _, exists, err := s.Deadline(0, b("k")); err != nil || exists {
		t.Fatalf("Deadline after expiry: exists=%v, %v", exists, err)
	}
	if k, _ := s.Type(0, b("k")); k != KindNone {
		t.Fatalf("Type of an expired key = %v", k)
	}
	if vals, _ := s.MGet(0, bs("k")); vals[0] != nil {
		t.Fatalf("MGet of an expired key = %q", vals[0])
	}

	// An expired key counts as missing for NX, and a new SET replaces it
	// without its old deadline.
	res, err := s.Set(0, b("k"), b("v2"), SetArgs{Cond: CondNX})
	if err != nil || !res.Written {
		t.Fatalf("SET NX over an expired key = %+v, %v", res, err)
	}
	wantDeadline(t, s, 0, "k", 0)
	wantValue(t, s, 0, "k", "v2")
}

func TestSetExpiryAt(t *testing.T) {
	s, clock := openTestStore(t)
	at := clock.Ms() + 1234
	mustSet(t, s, 0, "k", "v", Expiry{Mode: ExpiryAt, Ms: at})
	wantDeadline(t, s, 0, "k", at)
	clock.Advance(1234 * time.Millisecond)
	wantValue(t, s, 0, "k", "v")
	clock.Advance(time.Millisecond)
	wantMissing(t, s, 0, "k")

	// SET ... PXAT <past> writes a key that is already expired: it is gone.
	mustSetPlain(t, s, 0, "old", "v")
	res, err := s.Set(0, b("old"), b("new"), SetArgs{Expiry: Expiry{Mode: ExpiryAt, Ms: clock.Ms() - 1}})
	if err != nil || !res.Written {
		t.Fatalf("SET PXAT past = %+v, %v", res, err)
	}
	wantMissing(t, s, 0, "old")
}

func TestSetExpiryOverflow(t *testing.T) {
	s, _ := openTestStore(t)
	_, err := s.Set(0, b("k"), b("v"), SetArgs{Expiry: Expiry{Mode: ExpiryIn, Ms: math.MaxInt64}})
	wantErr(t, "SET PX MaxInt64", err, ErrInvalidExpire)
	wantMissing(t, s, 0, "k")
}

func TestSetKeepTTLAndClear(t *testing.T) {
	s, clock := openTestStore(t)
	d := clock.Ms() + 10_000
	mustSet(t, s, 0, "k", "v1", Expiry{Mode: ExpiryAt, Ms: d})
	mustSet(t, s, 0, "k", "v2", Expiry{Mode: ExpiryKeep})
	wantValue(t, s, 0, "k", "v2")
	wantDeadline(t, s, 0, "k", d)
	// A plain SET clears the TTL.
	mustSetPlain(t, s, 0, "k", "v3")
	wantDeadline(t, s, 0, "k", 0)
	// KEEPTTL on a missing key: no TTL.
	mustSet(t, s, 0, "fresh", "v", Expiry{Mode: ExpiryKeep})
	wantDeadline(t, s, 0, "fresh", 0)
	// KEEPTTL after the old value expired: the dead deadline is not kept.
	mustSet(t, s, 0, "short", "v", Expiry{Mode: ExpiryIn, Ms: 10})
	clock.Advance(11 * time.Millisecond)
	mustSet(t, s, 0, "short", "again", Expiry{Mode: ExpiryKeep})
	wantValue(t, s, 0, "short", "again")
	wantDeadline(t, s, 0, "short", 0)
}

func TestIncrBy(t *testing.T) {
	s, clock := openTestStore(t)
	incr := func(key string, d int64) (int64, error) { return s.IncrBy(0, b(key), d) }
	if n, err := incr("n", 5); err != nil || n != 5 {
		t.Fatalf("INCRBY missing 5 = %d, %v", n, err)
	}
	if n, err := incr("n", -7); err != nil || n != -2 {
		t.Fatalf("DECRBY 7 = %d, %v", n, err)
	}
	wantValue(t, s, 0, "n", "-2")

	mustSetPlain(t, s, 0, "max", "9223372036854775807")
	_, err := incr("max", 1)
	wantErr(t, "INCR MaxInt64", err, ErrOverflow)
	wantValue(t, s, 0, "max", "9223372036854775807")
	if n, err := incr("max", -1); err != nil || n != math.MaxInt64-1 {
		t.Fatalf("DECR MaxInt64 = %d, %v", n, err)
	}
	mustSetPlain(t, s, 0, "min", "-9223372036854775808")
	_, err = incr("min", -1)
	wantErr(t, "DECR MinInt64", err, ErrOverflow)
	_, err = incr("min", math.MinInt64)
	wantErr(t, "DECRBY MinInt64 on MinInt64", err, ErrOverflow)
	if n, err := incr("min", math.MaxInt64); err != nil || n != -1 {
		t.Fatalf("MinInt64 + MaxInt64 = %d, %v", n, err)
	}
	mustSetPlain(t, s, 0, "p", "1")
	_, err = incr("p", math.MaxInt64)
	wantErr(t, "1 + MaxInt64", err, ErrOverflow)

	for _, bad := range []string{"abc", "1.5", " 1", "1 ", "01", "-0", "+1", "", "9223372036854775808", "0x10"} {
		mustSetPlain(t, s, 0, "bad", bad)
		_, err := incr("bad", 1)
		wantErr(t, "INCR of "+bad, err, ErrNotInteger)
		wantValue(t, s, 0, "bad", bad)
	}

	// INCR keeps the TTL.
	d := clock.Ms() + 5000
	mustSet(t, s, 0, "ttl", "10", Expiry{Mode: ExpiryAt, Ms: d})
	if n, err := incr("ttl", 1); err != nil || n != 11 {
		t.Fatalf("INCR with TTL = %d, %v", n, err)
	}
	wantDeadline(t, s, 0, "ttl", d)
	// ... and an expired counter starts again from 0 without a TTL.
	clock.Advance(5001 * time.Millisecond)
	if n, err := incr("ttl", 1); err != nil || n != 1 {
		t.Fatalf("INCR of an expired counter = %d, %v; want 1", n, err)
	}
	wantDeadline(t, s, 0, "ttl", 0)
}

func TestIncrByFloat(t *testing.T) {
	s, clock := openTestStore(t)
	incr := func(key, by string) string {
		t.Helper()
		v, err := s.IncrByFloat(0, b(key), b(by))
		if err != nil {
			t.Fatalf("INCRBYFLOAT %s %s: %v", key, by, err)
		}
		return string(v)
	}
	// The examples of Redis's INCRBYFLOAT documentation.
	mustSetPlain(t, s, 0, "mykey", "10.50")
	if got := incr("mykey", "0.1"); got != "10.6" {
		t.Fatalf("10.50 + 0.1 = %q, want 10.6", got)
	}
	if got := incr("mykey", "-5"); got != "5.6" {
		t.Fatalf("10.6 - 5 = %q, want 5.6", got)
	}
	wantValue(t, s, 0, "mykey", "5.6")
	mustSetPlain(t, s, 0, "mykey", "5.0e3")
	if got := incr("mykey", "2.0e2"); got != "5200" {
		t.Fatalf("5.0e3 + 2.0e2 = %q, want 5200", got)
	}
	if got := incr("new", "3.0"); got != "3" {
		t.Fatalf("missing + 3.0 = %q, want 3", got)
	}
	if got := incr("sum", "0.1"); got != "0.1" {
		t.Fatalf("got %q", got)
	}
	if got := incr("sum", "0.2"); got != "0.3" {
		t.Fatalf("0.1 + 0.2 = %q, want 0.3 (long double)", got)
	}
	if got := incr("neg", "-1.5"); got != "-1.5" {
		t.Fatalf("got %q", got)
	}
	if got := incr("neg", "1.5"); got != "0" {
		t.Fatalf("-1.5 + 1.5 = %q, want 0", got)
	}
	mustSetPlain(t, s, 0, "int", "17")
	if got := incr("int", "1"); got != "18" {
		t.Fatalf("17 + 1 = %q", got)
	}

	// Errors leave the value alone.
	mustSetPlain(t, s, 0, "text", "abc")
	_, err := s.IncrByFloat(0, b("text"), b("1"))
	wantErr(t, "INCRBYFLOAT of abc", err, ErrNotFloat)
	wantValue(t, s, 0, "text", "abc")
	for _, bad := range []string{"abc", "", " 1", "1 ", "nan", "1_0"} {
		_, err = s.IncrByFloat(0, b("int"), b(bad))
		wantErr(t, "INCRBYFLOAT by "+bad, err, ErrNotFloat)
	}
	_, err = s.IncrByFloat(0, b("int"), b("inf"))
	wantErr(t, "INCRBYFLOAT by inf", err, ErrNaNOrInf)
	wantValue(t, s, 0, "int", "18")

	// INCRBYFLOAT keeps the TTL.
	d := clock.Ms() + 5000
	mustSet(t, s, 0, "ttl", "1", Expiry{Mode: ExpiryAt, Ms: d})
	if got := incr("ttl", "0.5"); got != "1.5" {
		t.Fatalf("got %q", got)
	}
	wantDeadline(t, s, 0, "ttl", d)
}

// strtold (and so Redis) reads "0b101" as 0 followed by garbage, and "1p3" as
// 1 followed by garbage: both are "value is not a valid float". Go's
// big.ParseFloat with base 0 accepts them as 5 and 8.
func TestIncrByFloatRejectsNonCSyntax(t *testing.T) {
	s, _ := openTestStore(t)
	for _, in := range []string{"0b101", "0o17", "1p3"} {
		v, err := s.IncrByFloat(0, b("k"), b(in))
		if err == nil {
			t.Errorf("INCRBYFLOAT k %s = %q, want ErrNotFloat (strtold rejects it, Redis replies 'value is not a valid float')", in, v)
			continue
		}
		wantErr(t, "INCRBYFLOAT k "+in, err, ErrNotFloat)
	}
	// Hexadecimal floats are C syntax: strtold accepts them.
	if v, err := s.IncrByFloat(0, b("h"), b("0x10")); err != nil || string(v) != "16" {
		t.Errorf("INCRBYFLOAT h 0x10 = %q, %v; want 16", v, err)
	}
}

func TestAppend(t *testing.T) {
	s, clock := openTestStore(t)
	if n, err := s.Append(0, b("k"), b("Hello")); err != nil || n != 5 {
		t.Fatalf("APPEND missing = %d, %v", n, err)
	}
	if n, err := s.Append(0, b("k"), b(" World")); err != nil || n != 11 {
		t.Fatalf("APPEND = %d, %v", n, err)
	}
	wantValue(t, s, 0, "k", "Hello World")
	if n, err := s.Append(0, b("k"), nil); err != nil || n != 11 {
		t.Fatalf("APPEND empty = %d, %v", n, err)
	}
	// APPEND keeps the TTL.
	d := clock.Ms() + 3000
	mustSet(t, s, 0, "t", "a", Expiry{Mode: ExpiryAt, Ms: d})
	if n, err := s.Append(0, b("t"), b("b")); err != nil || n != 2 {
		t.Fatalf("APPEND = %d, %v", n, err)
	}
	wantDeadline(t, s, 0, "t", d)
	wantValue(t, s, 0, "t", "ab")
	// APPEND to an expired key starts from empty.
	clock.Advance(3001 * time.Millisecond)
	if n, err := s.Append(0, b("t"), b("c")); err != nil || n != 1 {
		t.Fatalf("APPEND to expired = %d, %v; want 1", n, err)
	}
	wantDeadline(t, s, 0, "t", 0)
}

func TestSetRange(t *testing.T) {
	s, clock := openTestStore(t)
	mustSetPlain(t, s, 0, "key1", "Hello World")
	if n, err := s.SetRange(0, b("key1"), 6, b("Redis")); err != nil || n != 11 {
		t.Fatalf("SETRANGE = %d, %v", n, err)
	}
	wantValue(t, s, 0, "key1", "Hello Redis")
	// Zero padding on a missing key (Redis docs: SETRANGE key2 6 "Redis").
	if n, err := s.SetRange(0, b("key2"), 6, b("Redis")); err != nil || n != 11 {
		t.Fatalf("SETRANGE missing = %d, %v", n, err)
	}
	wantValue(t, s, 0, "key2", "\x00\x00\x00\x00\x00\x00Redis")
	// Padding past the end of an existing string, and overwriting across it.
	mustSetPlain(t, s, 0, "k3", "ab")
	if n, err := s.SetRange(0, b("k3"), 4, b("z")); err != nil || n != 5 {
		t.Fatalf("SETRANGE past end = %d, %v", n, err)
	}
	wantValue(t, s, 0, "k3", "ab\x00\x00z")
	if n, err := s.SetRange(0, b("k3"), 1, b("XYZW")); err != nil || n != 5 {
		t.Fatalf("SETRANGE across = %d, %v", n, err)
	}
	wantValue(t, s, 0, "k3", "aXYZW")
	if n, err := s.SetRange(0, b("k3"), 3, b("1234")); err != nil || n != 7 {
		t.Fatalf("SETRANGE growing = %d, %v", n, err)
	}
	wantValue(t, s, 0, "k3", "aXY1234")
	// An empty value: the length, and a missing key is not created.
	if n, err := s.SetRange(0, b("k3"), 100, nil); err != nil || n != 7 {
		t.Fatalf("SETRANGE empty on existing = %d, %v", n, err)
	}
	wantValue(t, s, 0, "k3", "aXY1234")
	if n, err := s.SetRange(0, b("none"), 5, nil); err != nil || n != 0 {
		t.Fatalf("SETRANGE empty on missing = %d, %v", n, err)
	}
	wantMissing(t, s, 0, "none")
	// Too large.
	_, err := s.SetRange(0, b("big"), MaxStringLen, b("x"))
	wantErr(t, "SETRANGE at 512 MiB", err, ErrTooLarge)
	wantMissing(t, s, 0, "big")
	// SETRANGE keeps the TTL.
	d := clock.Ms() + 3000
	mustSet(t, s, 0, "t", "abc", Expiry{Mode: ExpiryAt, Ms: d})
	if _, err := s.SetRange(0, b("t"), 1, b("X")); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, 0, "t", "aXc")
	wantDeadline(t, s, 0, "t", d)
	// ... but on an expired key starts from an empty string without it.
	clock.Advance(3001 * time.Millisecond)
	if n, err := s.SetRange(0, b("t"), 2, b("Y")); err != nil || n != 3 {
		t.Fatalf("SETRANGE on expired = %d, %v", n, err)
	}
	wantValue(t, s, 0, "t", "\x00\x00Y")
	wantDeadline(t, s, 0, "t", 0)
}

func TestGetRange(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "hw", "Hello World")
	mustSetPlain(t, s, 0, "doc", "This is a string")
	mustSetPlain(t, s, 0, "empty", "")
	cases := []struct {
		key        string
		start, end int64
		want       string
	}{
		{"hw", 0, -1, "Hello World"},
		{"hw", -5, -1, "World"},
		{"hw", 5, 3, ""},
		{"hw", 0, 100, "Hello World"},
		{"hw", 0, 0, "H"},
		{"hw", 10, 10, "d"},
		{"hw", 11, 20, ""},
		{"hw", -1, -5, ""},
		{"hw", -100, -1, "Hello World"},
		{"hw", -100, -100, "H"}, // both clamp to 0 in Redis 7.0
		{"hw", 3, -3, "lo Wor"},
		{"hw", -3, 100, "rld"},
		// Redis's documentation examples.
		{"doc", 0, 3, "This"},
		{"doc", -3, -1, "ing"},
		{"doc", 0, -1, "This is a string"},
		{"doc", 10, 100, "string"},
		{"empty", 0, -1, ""},
		{"missing", 0, -1, ""},
	}
	for _, tc := range cases {
		got, err := s.GetRange(0, b(tc.key), tc.start, tc.end)
		if err != nil || string(got) != tc.want {
			t.Errorf("GETRANGE %s %d %d = %q, %v; want %q", tc.key, tc.start, tc.end, got, err, tc.want)
		}
	}
}

func TestMGet(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "a", "1")
	mustSetPlain(t, s, 0, "e", "")
	vals, err := s.MGet(0, bs("a", "missing", "e", "a"))
	if err != nil || len(vals) != 4 {
		t.Fatalf("MGet = %q, %v", vals, err)
	}
	if string(vals[0]) != "1" || vals[1] != nil || vals[2] == nil || len(vals[2]) != 0 || string(vals[3]) != "1" {
		t.Fatalf("MGet = %q (nil for missing, non-nil empty for \"\")", vals)
	}
}

func TestMSetAndMSetNX(t *testing.T) {
	s, clock := openTestStore(t)
	ok, err := s.MSet(0, bs("a", "1", "b", "2"), false)
	if err != nil || !ok {
		t.Fatalf("MSET = %v, %v", ok, err)
	}
	wantValue(t, s, 0, "a", "1")
	wantValue(t, s, 0, "b", "2")
	// MSET clears TTLs and the last of duplicate keys wins.
	mustSet(t, s, 0, "a", "x", Expiry{Mode: ExpiryIn, Ms: 1000})
	if ok, err := s.MSet(0, bs("a", "3", "a", "4"), false); err != nil || !ok {
		t.Fatalf("MSET = %v, %v", ok, err)
	}
	wantValue(t, s, 0, "a", "4")
	wantDeadline(t, s, 0, "a", 0)

	// MSETNX sets nothing if any key exists.
	ok, err = s.MSet(0, bs("c", "1", "b", "new"), true)
	if err != nil || ok {
		t.Fatalf("MSETNX with an existing key = %v, %v", ok, err)
	}
	wantMissing(t, s, 0, "c")
	wantValue(t, s, 0, "b", "2")
	ok, err = s.MSet(0, bs("c", "1", "d", "2"), true)
	if err != nil || !ok {
		t.Fatalf("MSETNX of new keys = %v, %v", ok, err)
	}
	wantValue(t, s, 0, "c", "1")
	wantValue(t, s, 0, "d", "2")
	// An expired key does not block MSETNX.
	mustSet(t, s, 0, "e", "old", Expiry{Mode: ExpiryIn, Ms: 5})
	clock.Advance(6 * time.Millisecond)
	if ok, err := s.MSet(0, bs("e", "new", "f", "x"), true); err != nil || !ok {
		t.Fatalf("MSETNX over an expired key = %v, %v", ok, err)
	}
	wantValue(t, s, 0, "e", "new")
	wantDeadline(t, s, 0, "e", 0)
}

func TestGetDel(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "k", "v")
	if v, ok, err := s.GetDel(0, b("k")); err != nil || !ok || string(v) != "v" {
		t.Fatalf("GETDEL = %q, %v, %v", v, ok, err)
	}
	wantMissing(t, s, 0, "k")
	if _, ok, err := s.GetDel(0, b("k")); err != nil || ok {
		t.Fatalf("GETDEL missing ok=%v, %v", ok, err)
	}
}

func TestGetEx(t *testing.T) {
	s, clock := openTestStore(t)
	if _, ok, err := s.GetEx(0, b("nope"), Expiry{Mode: ExpiryIn, Ms: 100}); err != nil || ok {
		t.Fatalf("GETEX missing ok=%v, %v", ok, err)
	}
	wantMissing(t, s, 0, "nope")

	d := clock.Ms() + 10_000
	mustSet(t, s, 0, "k", "v", Expiry{Mode: ExpiryAt, Ms: d})
	// Plain GETEX leaves the TTL alone.
	if v, ok, err := s.GetEx(0, b("k"), Expiry{Mode: ExpiryKeep}); err != nil || !ok || string(v) != "v" {
		t.Fatalf("GETEX = %q, %v, %v", v, ok, err)
	}
	wantDeadline(t, s, 0, "k", d)
	// GETEX PX sets a new one.
	if _, ok, err := s.GetEx(0, b("k"), Expiry{Mode: ExpiryIn, Ms: 200}); err != nil || !ok {
		t.Fatalf("GETEX PX ok=%v, %v", ok, err)
	}
	wantDeadline(t, s, 0, "k", clock.Ms()+200)
	// GETEX PERSIST removes it.
	if v, ok, err := s.GetEx(0, b("k"), Expiry{Mode: ExpiryClear}); err != nil || !ok || string(v) != "v" {
		t.Fatalf("GETEX PERSIST = %q, %v, %v", v, ok, err)
	}
	wantDeadline(t, s, 0, "k", 0)
	clock.Advance(time.Second)
	wantValue(t, s, 0, "k", "v")
	// GETEX PERSIST on a key without TTL is harmless.
	if _, ok, err := s.GetEx(0, b("k"), Expiry{Mode: ExpiryClear}); err != nil || !ok {
		t.Fatalf("GETEX PERSIST again ok=%v, %v", ok, err)
	}
	// GETEX with a deadline in the past returns the value and deletes the key.
	if v, ok, err := s.GetEx(0, b("k"), Expiry{Mode: ExpiryAt, Ms: clock.Ms() - 1000}); err != nil || !ok || string(v) != "v" {
		t.Fatalf("GETEX PXAT past = %q, %v, %v", v, ok, err)
	}
	wantMissing(t, s, 0, "k")
	// ... and one at exactly now (Redis: when <= now is already expired).
	mustSetPlain(t, s, 0, "k2", "v")
	if _, ok, err := s.GetEx(0, b("k2"), Expiry{Mode: ExpiryAt, Ms: clock.Ms()}); err != nil || !ok {
		t.Fatalf("GETEX PXAT now ok=%v, %v", ok, err)
	}
	wantMissing(t, s, 0, "k2")
	// GETEX on an expired key is a miss.
	mustSet(t, s, 0, "k3", "v", Expiry{Mode: ExpiryIn, Ms: 10})
	clock.Advance(11 * time.Millisecond)
	if _, ok, err := s.GetEx(0, b("k3"), Expiry{Mode: ExpiryClear}); err != nil || ok {
		t.Fatalf("GETEX of an expired key ok=%v, %v", ok, err)
	}
	wantMissing(t, s, 0, "k3")
}
