package engine

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kvd/kvd/internal/redisnum"
)

func mustHSet(t testing.TB, s *Store, db int, key string, pairs ...string) int64 {
	t.Helper()
	n, err := s.HSet(db, b(key), bs(pairs...))
	if err != nil {
		t.Fatalf("HSet(%q, %q): %v", key, pairs, err)
	}
	return n
}

// wantHash checks a hash's whole content (field=value, in byte order).
func wantHash(t testing.TB, s *Store, db int, key string, want ...string) {
	t.Helper()
	all, err := s.HGetAll(db, b(key))
	if err != nil {
		t.Fatalf("HGetAll(%q): %v", key, err)
	}
	got := make([]string, len(all))
	for i, fv := range all {
		got[i] = string(fv.Field) + "=" + string(fv.Value)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("HGetAll(%q) = %q, want %q", key, got, want)
	}
	if n, err := s.HLen(db, b(key)); err != nil || n != int64(len(want)) {
		t.Fatalf("HLen(%q) = %d, %v; want %d", key, n, err, len(want))
	}
}

func hashID(t testing.TB, s *Store, db int, key string) uint64 {
	t.Helper()
	var id uint64
	err := s.view(db, func(x *Txn) error {
		c, ok, err := x.getCollection(b(key), KindHash)
		if err == nil && !ok {
			err = fmt.Errorf("no hash %q", key)
		}
		id = c.id
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestHSetCountsNewFieldsOnly(t *testing.T) {
	s, _ := openTestStore(t)
	if n := mustHSet(t, s, 0, "h", "a", "1", "b", "2"); n != 2 {
		t.Fatalf("HSET a b = %d, want 2", n)
	}
	// An update is not new; a field named twice counts once and keeps the
	// last value.
	if n := mustHSet(t, s, 0, "h", "a", "10", "c", "3", "c", "4"); n != 1 {
		t.Fatalf("HSET a c c = %d, want 1", n)
	}
	wantHash(t, s, 0, "h", "a=10", "b=2", "c=4")
	if k, _ := s.Type(0, b("h")); k != KindHash {
		t.Fatalf("TYPE h = %v", k)
	}
	// Other databases are separate.
	wantHash(t, s, 1, "h")
}

func TestHashReads(t *testing.T) {
	s, _ := openTestStore(t)
	mustHSet(t, s, 0, "h", "f", "hello", "empty", "")
	if v, ok, err := s.HGet(0, b("h"), b("f")); err != nil || !ok || string(v) != "hello" {
		t.Fatalf("HGet f = %q, %v, %v", v, ok, err)
	}
	if v, ok, err := s.HGet(0, b("h"), b("empty")); err != nil || !ok || v == nil || len(v) != 0 {
		t.Fatalf("HGet empty = %#v, %v, %v; want a non-nil empty value", v, ok, err)
	}
	for _, k := range []string{"h", "missing"} {
		if _, ok, err := s.HGet(0, b(k), b("nope")); err != nil || ok {
			t.Fatalf("HGet %s nope = %v, %v", k, ok, err)
		}
	}
	vals, err := s.HMGet(0, b("h"), bs("f", "nope", "empty"))
	if err != nil || len(vals) != 3 || string(vals[0]) != "hello" || vals[1] != nil || vals[2] == nil || len(vals[2]) != 0 {
		t.Fatalf("HMGet = %#v, %v", vals, err)
	}
	vals, err = s.HMGet(0, b("missing"), bs("a", "b"))
	if err != nil || len(vals) != 2 || vals[0] != nil || vals[1] != nil {
		t.Fatalf("HMGet on a missing key = %#v, %v", vals, err)
	}
	if ok, err := s.HExists(0, b("h"), b("empty")); err != nil || !ok {
		t.Fatalf("HExists empty = %v, %v", ok, err)
	}
	if ok, err := s.HExists(0, b("h"), b("nope")); err != nil || ok {
		t.Fatalf("HExists nope = %v, %v", ok, err)
	}
	if n, err := s.HStrLen(0, b("h"), b("f")); err != nil || n != 5 {
		t.Fatalf("HStrLen f = %d, %v", n, err)
	}
	if n, err := s.HStrLen(0, b("h"), b("nope")); err != nil || n != 0 {
		t.Fatalf("HStrLen nope = %d, %v", n, err)
	}
	if n, err := s.HLen(0, b("missing")); err != nil || n != 0 {
		t.Fatalf("HLen missing = %d, %v", n, err)
	}
	if all, err := s.HGetAll(0, b("missing")); err != nil || len(all) != 0 {
		t.Fatalf("HGetAll missing = %v, %v", all, err)
	}
}

func TestHashCommandsRefuseOtherTypes(t *testing.T) {
	s, _ := openTestStore(t)
	mustSetPlain(t, s, 0, "str", "v")
	k := b("str")
	errs := map[string]error{}
	_, errs["HSet"] = s.HSet(0, k, bs("f", "v"))
	_, errs["HSetNX"] = s.HSetNX(0, k, b("f"), b("v"))
	_, _, errs["HGet"] = s.HGet(0, k, b("f"))
	_, errs["HMGet"] = s.HMGet(0, k, bs("f"))
	_, errs["HDel"] = s.HDel(0, k, bs("f"))
	_, errs["HLen"] = s.HLen(0, k)
	_, errs["HExists"] = s.HExists(0, k, b("f"))
	_, errs["HStrLen"] = s.HStrLen(0, k, b("f"))
	_, errs["HIncrBy"] = s.HIncrBy(0, k, b("f"), 1)
	one, _ := redisnum.ParseLongDouble(b("1"))
	_, errs["HIncrByFloat"] = s.HIncrByFloat(0, k, b("f"), one)
	_, errs["HGetAll"] = s.HGetAll(0, k)
	_, _, errs["HRandField"] = s.HRandField(0, k, 1)
	_, _, errs["HScan"] = s.HScan(0, k, nil, 10, nil)
	for op, err := range errs {
		wantErr(t, op+" on a string", err, ErrWrongType)
	}
	wantValue(t, s, 0, "str", "v")
}

func TestHDelRemovesFieldsAndEmptyHash(t *testing.T) {
	s, _ := openTestStore(t)
	mustHSet(t, s, 0, "h", "a", "1", "b", "2", "c", "3")
	id := hashID(t, s, 0, "h")
	if n, err := s.HDel(0, b("h"), bs("a", "nope", "a")); err != nil || n != 1 {
		t.Fatalf("HDEL a nope a = %d, %v; want 1", n, err)
	}
	wantHash(t, s, 0, "h", "b=2", "c=3")
	if n, err := s.HDel(0, b("missing"), bs("a")); err != nil || n != 0 {
		t.Fatalf("HDEL on a missing key = %d, %v", n, err)
	}
	if n, err := s.HDel(0, b("h"), bs("b", "c")); err != nil || n != 2 {
		t.Fatalf("HDEL b c = %d, %v", n, err)
	}
	if k, _ := s.Type(0, b("h")); k != KindNone {
		t.Fatalf("an emptied hash must be deleted, TYPE = %v", k)
	}
	if got := countPrefix(t, s, memberPrefix(id)); got != 0 {
		t.Fatalf("HDEL left %d member entries", got)
	}
	// A new hash under the same key starts empty.
	mustHSet(t, s, 0, "h", "z", "9")
	wantHash(t, s, 0, "h", "z=9")
}

func TestHSetNX(t *testing.T) {
	s, _ := openTestStore(t)
	if ok, err := s.HSetNX(0, b("h"), b("f"), b("1")); err != nil || !ok {
		t.Fatalf("HSETNX on a missing key = %v, %v", ok, err)
	}
	if ok, err := s.HSetNX(0, b("h"), b("f"), b("2")); err != nil || ok {
		t.Fatalf("HSETNX on an existing field = %v, %v", ok, err)
	}
	if ok, err := s.HSetNX(0, b("h"), b("g"), b("3")); err != nil || !ok {
		t.Fatalf("HSETNX on a new field = %v, %v", ok, err)
	}
	wantHash(t, s, 0, "h", "f=1", "g=3")
}

func TestHIncrBy(t *testing.T) {
	s, _ := openTestStore(t)
	if n, err := s.HIncrBy(0, b("h"), b("n"), 5); err != nil || n != 5 {
		t.Fatalf("HINCRBY on a missing key = %d, %v", n, err)
	}
	if n, err := s.HIncrBy(0, b("h"), b("n"), -7); err != nil || n != -2 {
		t.Fatalf("HINCRBY -7 = %d, %v", n, err)
	}
	mustHSet(t, s, 0, "h", "max", "9223372036854775807", "text", "12a", "space", " 1", "lead", "01")
	_, err := s.HIncrBy(0, b("h"), b("max"), 1)
	wantErr(t, "HINCRBY past MaxInt64", err, ErrOverflow)
	for _, f := range []string{"text", "space", "lead"} {
		_, err := s.HIncrBy(0, b("h"), b(f), 1)
		wantErr(t, "HINCRBY on "+f, err, ErrHashNotInteger)
	}
	wantHash(t, s, 0, "h", "lead=01", "max=9223372036854775807", "n=-2", "space= 1", "text=12a")
}

func TestHIncrByFloat(t *testing.T) {
	s, _ := openTestStore(t)
	ld := func(v string) redisnum.LongDouble {
		f, ok := redisnum.ParseLongDouble(b(v))
		if !ok {
			t.Fatalf("ParseLongDouble(%q)", v)
		}
		return f
	}
	steps := []struct{ by, want string }{{"0.1", "0.1"}, {"0.2", "0.3"}, {"5.0e3", "5000.29999999999999982"}, {"-5000.3", "0"}} // as Redis 7.0.15 replies
	for _, st := range steps {
		got, err := s.HIncrByFloat(0, b("h"), b("f"), ld(st.by))
		if err != nil || string(got) != st.want {
			t.Fatalf("HINCRBYFLOAT %s = %q, %v; want %q", st.by, got, err, st.want)
		}
	}
	wantHash(t, s, 0, "h", "f=0")
	mustHSet(t, s, 0, "h", "word", "abc", "big", "1.18973149535723176502e+4932")
	_, err := s.HIncrByFloat(0, b("h"), b("word"), ld("1"))
	wantErr(t, "HINCRBYFLOAT on text", err, ErrHashNotFloat)
	_, err = s.HIncrByFloat(0, b("h"), b("big"), ld("1.18973149535723176502e+4932"))
	wantErr(t, "HINCRBYFLOAT to infinity", err, ErrNaNOrInf)
	if v, _, _ := s.HGet(0, b("h"), b("big")); string(v) != "1.18973149535723176502e+4932" {
		t.Fatalf("a failed HINCRBYFLOAT changed the field to %q", v)
	}
}

func TestHashWritesKeepTTLAndExpiredHashesVanish(t *testing.T) {
	s, clock := openTestStore(t)
	mustHSet(t, s, 0, "h", "a", "1")
	if ok, err := s.Expire(0, b("h"), Expiry{Mode: ExpiryIn, Ms: 1000}, 0); err != nil || !ok {
		t.Fatalf("Expire: %v %v", ok, err)
	}
	deadline := clock.Ms() + 1000
	mustHSet(t, s, 0, "h", "b", "2")
	s.HIncrBy(0, b("h"), b("n"), 1)
	s.HDel(0, b("h"), bs("a"))
	wantDeadline(t, s, 0, "h", deadline)
	clock.Advance(1001 * time.Millisecond)
	wantHash(t, s, 0, "h")
	// Writing to an expired hash starts a new one without the old fields.
	mustHSet(t, s, 0, "h", "c", "3")
	wantHash(t, s, 0, "h", "c=3")
	wantDeadline(t, s, 0, "h", 0)
}

func TestHashSurvivesRenameAndCopy(t *testing.T) {
	s, _ := openTestStore(t)
	mustHSet(t, s, 0, "h", "a", "1", "b", "2")
	if _, err := s.Rename(0, b("h"), b("h2"), false); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Copy(0, b("h2"), 0, b("h3"), false); err != nil || !ok {
		t.Fatalf("Copy: %v %v", ok, err)
	}
	mustHSet(t, s, 0, "h3", "c", "3")
	wantHash(t, s, 0, "h2", "a=1", "b=2")
	wantHash(t, s, 0, "h3", "a=1", "b=2", "c=3")
}

// buildHash fills key with n fields f<i> = v<i>, HSET 1000 fields at a time.
func buildHash(t testing.TB, s *Store, key string, n int) {
	t.Helper()
	for start := 0; start < n; start += 1000 {
		var pairs []string
		for i := start; i < min(start+1000, n); i++ {
			pairs = append(pairs, fmt.Sprint("f", i), fmt.Sprint("v", i))
		}
		mustHSet(t, s, 0, key, pairs...)
	}
}

func TestHScan(t *testing.T) {
	s, _ := openTestStore(t)
	// A small hash comes back whole in one call, whatever the count.
	mustHSet(t, s, 0, "small", "a", "1", "b", "2", "c", "3")
	items, next, err := s.HScan(0, b("small"), nil, 1, nil)
	if err != nil || len(items) != 3 || next != nil {
		t.Fatalf("HSCAN small COUNT 1 = %d items, next %q, %v", len(items), next, err)
	}
	items, _, _ = s.HScan(0, b("small"), nil, 1, func(f []byte) bool { return string(f) != "b" })
	if len(items) != 2 || string(items[1].Field) != "c" || string(items[1].Value) != "3" {
		t.Fatalf("HSCAN small with a filter = %q", items)
	}
	if items, next, err := s.HScan(0, b("missing"), nil, 10, nil); err != nil || items != nil || next != nil {
		t.Fatalf("HSCAN missing = %v, %q, %v", items, next, err)
	}

	// A large one is returned in pieces, each field exactly once.
	const n = 1000
	buildHash(t, s, "big", n)
	seen := map[string]int{}
	var cursor []byte
	calls := 0
	for {
		items, next, err := s.HScan(0, b("big"), cursor, 37, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) > 37 {
			t.Fatalf("HSCAN COUNT 37 returned %d fields", len(items))
		}
		for _, fv := range items {
			if "v"+string(fv.Field[1:]) != string(fv.Value) {
				t.Fatalf("field %q has value %q", fv.Field, fv.Value)
			}
			seen[string(fv.Field)]++
		}
		calls++
		if cursor = next; cursor == nil {
			break
		}
	}
	if len(seen) != n || calls < n/37 {
		t.Fatalf("a full HSCAN saw %d distinct fields in %d calls", len(seen), calls)
	}
	for f, k := range seen {
		if k != 1 {
			t.Fatalf("field %s returned %d times", f, k)
		}
	}

	// A selective filter examines at most COUNT*10 fields per call.
	only := func(f []byte) bool { return string(f) == "f999" }
	items, next, _ = s.HScan(0, b("big"), nil, 5, only)
	if len(items) != 0 || next == nil {
		t.Fatalf("first filtered call = %q, next %q; want nothing found yet", items, next)
	}

	// A position from another hash restarts the scan instead of resuming.
	buildHash(t, s, "big2", 300)
	_, next, _ = s.HScan(0, b("big"), nil, 10, nil)
	items, _, _ = s.HScan(0, b("big2"), next, 1, nil)
	if len(items) != 1 || string(items[0].Field) != "f0" {
		t.Fatalf("HSCAN big2 with a cursor of big = %q, want f0 (a fresh start)", items)
	}
}

func TestHRandField(t *testing.T) {
	s, _ := openTestStore(t)
	if picks, exists, err := s.HRandField(0, b("missing"), 3); err != nil || exists || picks != nil {
		t.Fatalf("HRANDFIELD missing = %v, %v, %v", picks, exists, err)
	}
	const n = 50
	buildHash(t, s, "h", n)
	check := func(picks []FieldValue) {
		t.Helper()
		for _, p := range picks {
			if len(p.Field) < 2 || "v"+string(p.Field[1:]) != string(p.Value) {
				t.Fatalf("pick %q=%q is not a field of the hash", p.Field, p.Value)
			}
		}
	}
	if picks, exists, err := s.HRandField(0, b("h"), 0); err != nil || !exists || len(picks) != 0 {
		t.Fatalf("HRANDFIELD 0 = %v, %v, %v", picks, exists, err)
	}
	// Positive counts: distinct fields, at most the whole hash.
	for _, count := range []int64{1, 10, 49, 50, 500} {
		picks, _, err := s.HRandField(0, b("h"), count)
		if err != nil || int64(len(picks)) != min(count, n) {
			t.Fatalf("HRANDFIELD %d returned %d fields, %v", count, len(picks), err)
		}
		check(picks)
		distinct := map[string]bool{}
		for _, p := range picks {
			distinct[string(p.Field)] = true
		}
		if len(distinct) != len(picks) {
			t.Fatalf("HRANDFIELD %d repeated fields: %d distinct of %d", count, len(distinct), len(picks))
		}
	}
	// Negative counts: exactly -count fields, repeats allowed.
	picks, _, err := s.HRandField(0, b("h"), -200)
	if err != nil || len(picks) != 200 {
		t.Fatalf("HRANDFIELD -200 returned %d fields, %v", len(picks), err)
	}
	check(picks)
	// Every field can come out: 2,000 single picks out of 50 fields miss
	// one with probability about 50*(49/50)^2000, which is negligible.
	hit := map[string]bool{}
	for i := 0; i < 2000; i++ {
		picks, _, _ := s.HRandField(0, b("h"), 1)
		hit[string(picks[0].Field)] = true
	}
	if len(hit) != n {
		t.Fatalf("2000 HRANDFIELD calls chose only %d of %d fields", len(hit), n)
	}
}

func TestRandomFieldPositions(t *testing.T) {
	for _, tc := range []struct{ size, count int64 }{{10, 1}, {10, 9}, {1000, 500}, {3, -20}} {
		idx := randomFieldPositions(tc.size, tc.count)
		if want := max(tc.count, -tc.count); int64(len(idx)) != want {
			t.Fatalf("randomFieldPositions(%d, %d) has %d entries", tc.size, tc.count, len(idx))
		}
		if !slices.IsSorted(idx) {
			t.Fatalf("randomFieldPositions(%d, %d) not sorted", tc.size, tc.count)
		}
		for i, v := range idx {
			if v < 0 || v >= tc.size || (tc.count > 0 && i > 0 && idx[i-1] == v) {
				t.Fatalf("randomFieldPositions(%d, %d) = %v", tc.size, tc.count, idx)
			}
		}
	}
}

// TestDeletedLargeHashIsReclaimed: DEL of a large hash only drops its
// record; the sweeper then deletes every member entry.
func TestDeletedLargeHashIsReclaimed(t *testing.T) {
	s, _ := openTestStore(t)
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	buildHash(t, s, "big", n)
	id := hashID(t, s, 0, "big")
	if got := countPrefix(t, s, memberPrefix(id)); got != n {
		t.Fatalf("%d member entries before DEL, want %d", got, n)
	}
	start := time.Now()
	if del, err := s.Del(0, bs("big")); err != nil || del != 1 {
		t.Fatalf("DEL = %d, %v", del, err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("DEL of a %d-field hash took %v; it must not touch the members", n, d)
	}
	wantHash(t, s, 0, "big")
	if swept, err := s.SweepOrphansNow(); err != nil || swept != 1 {
		t.Fatalf("SweepOrphansNow = %d, %v; want 1", swept, err)
	}
	if got := countPrefix(t, s, memberPrefix(id)); got != 0 {
		t.Fatalf("%d member entries left after the sweep", got)
	}
}

func TestHIncrByConcurrent(t *testing.T) {
	s, _ := openTestStore(t)
	const workers, each = 20, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := s.HIncrBy(0, b("h"), b("n"), 1); err != nil {
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
	wantHash(t, s, 0, "h", fmt.Sprint("n=", workers*each))
}
