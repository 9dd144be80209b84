package integration

// Expiry and databases: millisecond TTLs are honoured by every read path,
// writes keep or clear TTLs as Redis does, and numbered databases are
// isolated (SELECT, FLUSHDB, SWAPDB).

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// wantReply sends one command on c and requires the exact reply bytes.
func wantReply(t *testing.T, c *rawConn, want string, args ...string) {
	t.Helper()
	if got := string(c.Do(args...)); got != want {
		t.Errorf("%s: got %q, want %q", strings.Join(args, " "), got, want)
	}
}

// intReply sends a command whose reply must be a RESP integer.
func intReply(t *testing.T, c *rawConn, args ...string) int64 {
	t.Helper()
	r := string(c.Do(args...))
	if !strings.HasPrefix(r, ":") || !strings.HasSuffix(r, "\r\n") {
		t.Fatalf("%s: got %q, want an integer", strings.Join(args, " "), r)
	}
	n, err := strconv.ParseInt(r[1:len(r)-2], 10, 64)
	if err != nil {
		t.Fatalf("%s: got %q: %v", strings.Join(args, " "), r, err)
	}
	return n
}

// TestTTLMillisecondExpiry: keys set with PX 300 are visible at once and
// invisible to every read path 400 ms later. (badger's own TTL has whole
// second resolution, so this fails if kvd relies on it.)
func TestTTLMillisecondExpiry(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	c := dialRaw(t, k.Addr)

	wantReply(t, c, "+OK\r\n", "SET", "keep", "forever")
	start := time.Now()
	wantReply(t, c, "+OK\r\n", "SET", "k", "v", "PX", "300")
	wantReply(t, c, "+OK\r\n", "SET", "ctr", "41", "PX", "300")
	wantReply(t, c, "+OK\r\n", "SET", "nx", "old", "PX", "300")

	// Visible immediately.
	wantReply(t, c, "$1\r\nv\r\n", "GET", "k")
	wantReply(t, c, ":1\r\n", "EXISTS", "k")
	wantReply(t, c, "+string\r\n", "TYPE", "k")
	if pttl := intReply(t, c, "PTTL", "k"); pttl <= 0 || pttl > 300 {
		t.Errorf("PTTL k right after SET k v PX 300 = %d, want in (0,300]", pttl)
	}
	wantReply(t, c, ":4\r\n", "DBSIZE")
	if time.Since(start) > 250*time.Millisecond {
		t.Fatalf("setup took %v, too slow to check a 300 ms TTL", time.Since(start))
	}

	time.Sleep(400*time.Millisecond - time.Since(start))

	wantReply(t, c, "$-1\r\n", "GET", "k")
	wantReply(t, c, ":0\r\n", "EXISTS", "k")
	wantReply(t, c, "+none\r\n", "TYPE", "k")
	wantReply(t, c, ":-2\r\n", "TTL", "k")
	wantReply(t, c, ":-2\r\n", "PTTL", "k")
	wantReply(t, c, ":1\r\n", "DBSIZE")
	wantReply(t, c, "*1\r\n$4\r\nkeep\r\n", "KEYS", "*")
	wantReply(t, c, "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nkeep\r\n", "SCAN", "0", "COUNT", "1000")
	for i := 0; i < 20; i++ { // RANDOMKEY may pick at random: ask repeatedly
		if got := string(c.Do("RANDOMKEY")); got != "$4\r\nkeep\r\n" {
			t.Errorf("RANDOMKEY with only 'keep' alive = %q, want \"$4\\r\\nkeep\\r\\n\"", got)
			break
		}
	}
	wantReply(t, c, "$-1\r\n", "GETDEL", "k")
	wantReply(t, c, ":0\r\n", "DEL", "k")

	// Writes on expired keys start from nothing.
	wantReply(t, c, ":1\r\n", "INCR", "ctr")
	wantReply(t, c, ":-1\r\n", "TTL", "ctr")
	wantReply(t, c, "+OK\r\n", "SET", "nx", "new", "NX")
	wantReply(t, c, "$3\r\nnew\r\n", "GET", "nx")
	wantReply(t, c, ":-1\r\n", "TTL", "nx")
	wantReply(t, c, ":3\r\n", "DBSIZE")
}

// TestTTLPreservation: which writes keep a key's TTL and which clear it.
func TestTTLPreservation(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	c := dialRaw(t, k.Addr)

	hasTTL := func(key, after string) {
		t.Helper()
		if ttl := intReply(t, c, "TTL", key); ttl < 90 || ttl > 100 {
			t.Errorf("TTL %s after %s = %d, want the original ~100 s kept", key, after, ttl)
		}
	}
	noTTL := func(key, after string) {
		t.Helper()
		if ttl := intReply(t, c, "TTL", key); ttl != -1 {
			t.Errorf("TTL %s after %s = %d, want -1 (TTL cleared)", key, after, ttl)
		}
	}

	wantReply(t, c, "+OK\r\n", "SET", "s", "v", "EX", "100")
	hasTTL("s", "SET s v EX 100")
	wantReply(t, c, "+OK\r\n", "SET", "s", "v2")
	noTTL("s", "SET s v2 (no KEEPTTL)")

	wantReply(t, c, "+OK\r\n", "SET", "keep", "v", "EX", "100")
	wantReply(t, c, "+OK\r\n", "SET", "keep", "v2", "KEEPTTL")
	hasTTL("keep", "SET keep v2 KEEPTTL")
	wantReply(t, c, "$2\r\nv2\r\n", "GET", "keep")

	wantReply(t, c, "+OK\r\n", "SET", "n", "10", "EX", "100")
	wantReply(t, c, ":11\r\n", "INCR", "n")
	hasTTL("n", "INCR")
	wantReply(t, c, ":16\r\n", "INCRBY", "n", "5")
	hasTTL("n", "INCRBY")
	wantReply(t, c, ":15\r\n", "DECR", "n")
	hasTTL("n", "DECR")

	wantReply(t, c, "+OK\r\n", "SET", "a", "abc", "EX", "100")
	wantReply(t, c, ":6\r\n", "APPEND", "a", "def")
	hasTTL("a", "APPEND")
	wantReply(t, c, ":6\r\n", "SETRANGE", "a", "0", "X")
	hasTTL("a", "SETRANGE")
	wantReply(t, c, "$6\r\nXbcdef\r\n", "GET", "a")

	wantReply(t, c, "+OK\r\n", "SET", "g", "old", "EX", "100")
	wantReply(t, c, "$3\r\nold\r\n", "SET", "g", "new", "GET")
	noTTL("g", "SET g new GET")

	wantReply(t, c, "+OK\r\n", "SET", "p", "v", "EX", "100")
	wantReply(t, c, ":1\r\n", "PERSIST", "p")
	noTTL("p", "PERSIST")

	// EXPIRE/PEXPIRE with a negative or zero time delete the key.
	wantReply(t, c, "+OK\r\n", "SET", "neg", "v")
	wantReply(t, c, ":1\r\n", "EXPIRE", "neg", "-1")
	wantReply(t, c, ":0\r\n", "EXISTS", "neg")
	wantReply(t, c, "$-1\r\n", "GET", "neg")
	wantReply(t, c, "+OK\r\n", "SET", "neg", "v", "EX", "100")
	wantReply(t, c, ":1\r\n", "PEXPIRE", "neg", "-500")
	wantReply(t, c, ":0\r\n", "EXISTS", "neg")
	wantReply(t, c, ":0\r\n", "EXPIRE", "neg", "-1")
	wantReply(t, c, "+OK\r\n", "SET", "neg", "v")
	wantReply(t, c, ":1\r\n", "EXPIREAT", "neg", "1")
	wantReply(t, c, ":0\r\n", "EXISTS", "neg")
	wantReply(t, c, "-ERR invalid expire time in 'set' command\r\n", "SET", "neg", "v", "EX", "-1")
	wantReply(t, c, "-ERR invalid expire time in 'set' command\r\n", "SET", "neg", "v", "PX", "0")
	wantReply(t, c, ":0\r\n", "EXISTS", "neg")
}

// TestTTLDatabases: numbered databases are isolated, FLUSHDB empties only
// the selected one, SWAPDB swaps contents (TTLs included) and is seen by a
// connection already selected on the swapped database.
func TestTTLDatabases(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	c := dialRaw(t, k.Addr)
	other := dialRaw(t, k.Addr)

	wantReply(t, c, "+OK\r\n", "SET", "a", "in-db0")
	wantReply(t, c, "+OK\r\n", "SET", "only0", "x")
	wantReply(t, c, "+OK\r\n", "SELECT", "1")
	wantReply(t, c, "$-1\r\n", "GET", "a")
	wantReply(t, c, ":0\r\n", "DBSIZE")
	wantReply(t, c, "+OK\r\n", "SET", "a", "in-db1")
	wantReply(t, c, "+OK\r\n", "SET", "b", "x", "EX", "100")
	wantReply(t, c, "$6\r\nin-db1\r\n", "GET", "a")
	wantReply(t, c, ":2\r\n", "DBSIZE")
	wantReply(t, c, "*0\r\n", "KEYS", "only*")
	// Another connection stays on db 0.
	wantReply(t, other, "$6\r\nin-db0\r\n", "GET", "a")
	wantReply(t, other, ":2\r\n", "DBSIZE")

	wantReply(t, c, "+OK\r\n", "FLUSHDB")
	wantReply(t, c, ":0\r\n", "DBSIZE")
	wantReply(t, c, "$-1\r\n", "GET", "a")
	wantReply(t, other, ":2\r\n", "DBSIZE")
	wantReply(t, other, "$6\r\nin-db0\r\n", "GET", "a")
	wantReply(t, c, "+OK\r\n", "SELECT", "0")
	wantReply(t, c, "$6\r\nin-db0\r\n", "GET", "a")

	// SWAPDB 0 2: db 2 holds s=two (with a TTL) and only2.
	wantReply(t, c, "+OK\r\n", "SET", "s", "zero")
	wantReply(t, other, "+OK\r\n", "SELECT", "2")
	wantReply(t, other, "+OK\r\n", "SET", "s", "two", "EX", "100")
	wantReply(t, other, "+OK\r\n", "SET", "only2", "y")
	wantReply(t, c, "+OK\r\n", "SWAPDB", "0", "2")
	wantReply(t, c, "$3\r\ntwo\r\n", "GET", "s")
	wantReply(t, c, ":1\r\n", "EXISTS", "only2")
	wantReply(t, c, ":0\r\n", "EXISTS", "only0")
	wantReply(t, c, ":2\r\n", "DBSIZE")
	if ttl := intReply(t, c, "TTL", "s"); ttl < 90 || ttl > 100 {
		t.Errorf("TTL s after SWAPDB = %d, want ~100 (TTL moves with the key)", ttl)
	}
	// "other" is still selected on db 2, which now holds the old db 0.
	wantReply(t, other, "$4\r\nzero\r\n", "GET", "s")
	wantReply(t, other, "$6\r\nin-db0\r\n", "GET", "a")
	wantReply(t, other, ":3\r\n", "DBSIZE")
	// Writes after the swap land in the swapped database.
	wantReply(t, c, "+OK\r\n", "SET", "after", "swap")
	wantReply(t, other, ":0\r\n", "EXISTS", "after")
	wantReply(t, c, "+OK\r\n", "SELECT", "2")
	wantReply(t, c, ":0\r\n", "EXISTS", "after")
	wantReply(t, c, "+OK\r\n", "SELECT", "0")
	wantReply(t, c, ":1\r\n", "EXISTS", "after")

	wantReply(t, c, "-ERR DB index is out of range\r\n", "SELECT", "16")
	wantReply(t, c, "-ERR DB index is out of range\r\n", "SWAPDB", "0", "16")
}
