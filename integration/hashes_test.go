package integration

// Hashes as applications use them: a record per user or session whose
// fields are read and updated one at a time, counters in a hash under
// concurrent clients, iteration with HSCAN, and the issue that started the
// collection design: deleting a huge hash must not stall the server.

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestHashUserPreferences stores preferences and a session as hashes,
// updates single fields without reading the record, and expires the session.
func TestHashUserPreferences(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprint("resp", proto), func(t *testing.T) {
			c := newClient(t, k.Addr, proto)
			ctx := context.Background()
			key := fmt.Sprint("prefs:42:", proto)
			if n, err := c.HSet(ctx, key, "theme", "dark", "lang", "en", "tz", "UTC").Result(); err != nil || n != 3 {
				t.Fatalf("HSET = %d, %v", n, err)
			}
			want := map[string]string{"theme": "dark", "lang": "en", "tz": "UTC"}
			wantAll := func() {
				t.Helper()
				got, err := c.HGetAll(ctx, key).Result()
				if err != nil || !maps.Equal(got, want) {
					t.Fatalf("HGETALL = %v, %v; want %v", got, err, want)
				}
			}
			wantAll()

			// One field changes; the others are untouched and nothing is read.
			if n, err := c.HSet(ctx, key, "theme", "light").Result(); err != nil || n != 0 {
				t.Fatalf("HSET theme light = %d, %v; want 0 new fields", n, err)
			}
			want["theme"] = "light"
			wantAll()
			if ok, err := c.HSetNX(ctx, key, "lang", "fr").Result(); err != nil || ok {
				t.Fatalf("HSETNX lang = %v, %v; must not overwrite", ok, err)
			}
			if v, err := c.HMGet(ctx, key, "lang", "nope").Result(); err != nil || v[0] != "en" || v[1] != nil {
				t.Fatalf("HMGET lang nope = %v, %v", v, err)
			}
			if n, err := c.HIncrBy(ctx, key, "visits", 1).Result(); err != nil || n != 1 {
				t.Fatalf("HINCRBY visits = %d, %v", n, err)
			}
			if f, err := c.HIncrByFloat(ctx, key, "score", 0.1).Result(); err != nil || f != 0.1 {
				t.Fatalf("HINCRBYFLOAT score = %v, %v", f, err)
			}
			if n, err := c.HDel(ctx, key, "tz", "score").Result(); err != nil || n != 2 {
				t.Fatalf("HDEL tz score = %d, %v", n, err)
			}
			delete(want, "tz")
			want["visits"] = "1"
			wantAll()
			if keys, err := c.HKeys(ctx, key).Result(); err != nil || len(keys) != 3 {
				t.Fatalf("HKEYS = %v, %v", keys, err)
			}

			// A session: a hash with a TTL that field writes keep.
			sess := fmt.Sprint("session:abc:", proto)
			c.HSet(ctx, sess, "user", "42", "csrf", "t0k3n")
			if ok, err := c.Expire(ctx, sess, 30*time.Minute).Result(); err != nil || !ok {
				t.Fatalf("EXPIRE = %v, %v", ok, err)
			}
			c.HSet(ctx, sess, "last_seen", "1700000000")
			c.HIncrBy(ctx, sess, "requests", 1)
			if ttl, err := c.TTL(ctx, sess).Result(); err != nil || ttl < 29*time.Minute || ttl > 30*time.Minute {
				t.Fatalf("TTL after field writes = %v, %v; want about 30m", ttl, err)
			}
			if n, err := c.HLen(ctx, sess).Result(); err != nil || n != 4 {
				t.Fatalf("HLEN session = %d, %v", n, err)
			}
			// A short session ends by itself.
			short := sess + ":short"
			c.HSet(ctx, short, "user", "7")
			c.PExpire(ctx, short, 50*time.Millisecond)
			time.Sleep(120 * time.Millisecond)
			if n, err := c.Exists(ctx, short).Result(); err != nil || n != 0 {
				t.Fatalf("expired session still exists: %d, %v", n, err)
			}
			if v, err := c.HGet(ctx, short, "user").Result(); err != redis.Nil {
				t.Fatalf("HGET on an expired session = %q, %v; want nil", v, err)
			}

			// HRANDFIELD WITHVALUES has different shapes in RESP2 and RESP3;
			// the client must read both as pairs.
			kvs, err := c.HRandFieldWithValues(ctx, key, 10).Result()
			if err != nil || len(kvs) != 3 {
				t.Fatalf("HRANDFIELD 10 WITHVALUES = %v, %v", kvs, err)
			}
			for _, kv := range kvs {
				if want[kv.Key] != kv.Value {
					t.Fatalf("HRANDFIELD gave %s=%s, hash has %q", kv.Key, kv.Value, want[kv.Key])
				}
			}
			if kvs, err := c.HRandFieldWithValues(ctx, key, -5).Result(); err != nil || len(kvs) != 5 {
				t.Fatalf("HRANDFIELD -5 WITHVALUES = %v, %v", kvs, err)
			}
		})
	}
}

// TestHashScanLargeHash iterates a hash too large to come back in one call
// with the client's cursor loop: every field exactly once.
func TestHashScanLargeHash(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	c := newClient(t, k.Addr, 3)
	ctx := context.Background()
	const n = 1000
	args := make([]any, 0, 2*n)
	for i := 0; i < n; i++ {
		args = append(args, fmt.Sprint("f", i), strconv.Itoa(i))
	}
	if err := c.HSet(ctx, "big", args...).Err(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var cursor uint64
	calls := 0
	for {
		items, next, err := c.HScan(ctx, "big", cursor, "f1*", 100).Result()
		if err != nil {
			t.Fatalf("HSCAN %d: %v", cursor, err)
		}
		calls++
		for i := 0; i+1 < len(items); i += 2 {
			if "f"+items[i+1] != items[i] {
				t.Fatalf("HSCAN pair %s=%s", items[i], items[i+1])
			}
			seen[items[i]]++
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	// f1, f10-f19, f100-f199: 111 fields.
	if len(seen) != 111 || calls < 2 {
		t.Fatalf("HSCAN MATCH f1* saw %d distinct fields in %d calls; want 111 in several", len(seen), calls)
	}
	for f, times := range seen {
		if times != 1 {
			t.Fatalf("%s returned %d times", f, times)
		}
	}
}

// TestHashConcurrentHIncrBy: 20 clients increment one field; no update is
// lost and no two clients see the same value.
func TestHashConcurrentHIncrBy(t *testing.T) {
	t.Parallel()
	const workers, each = 20, 250
	k := startKVD(t)
	c := poolClient(t, k.Addr, workers+2)
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				n, err := c.HIncrBy(ctx, "stats", "hits", 1).Result()
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				dup := seen[n]
				seen[n] = true
				mu.Unlock()
				if dup {
					errs <- fmt.Errorf("HINCRBY returned %d twice", n)
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
	if v, err := c.HGet(ctx, "stats", "hits").Result(); err != nil || v != strconv.Itoa(workers*each) {
		t.Fatalf("hits = %q, %v; want %d", v, err, workers*each)
	}
}

// TestHashDeleteHugeIsInstant is the test: DEL of a hash with a
// million fields answers in under 10 ms, because it drops only the key's
// record; the sweeper reclaims the fields later (engine tests check that).
// In -short mode the hash has 100,000 fields, which still shows whether DEL
// touches the members (it would take far longer than 10 ms).
func TestHashDeleteHugeIsInstant(t *testing.T) {
	t.Parallel()
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	k := startKVD(t)
	c := newClient(t, k.Addr, 3)
	ctx := context.Background()
	start := time.Now()
	const perHSet, perPipeline = 1000, 10
	for base := 0; base < n; base += perHSet * perPipeline {
		pipe := c.Pipeline()
		for h := base; h < min(base+perHSet*perPipeline, n); h += perHSet {
			args := make([]any, 0, 2*perHSet)
			for i := h; i < h+perHSet; i++ {
				args = append(args, strconv.Itoa(i), "v")
			}
			pipe.HSet(ctx, "huge", args...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("building the hash at field %d: %v", base, err)
		}
	}
	if got, err := c.HLen(ctx, "huge").Result(); err != nil || got != int64(n) {
		t.Fatalf("HLEN = %d, %v; want %d", got, err, n)
	}
	t.Logf("built a %d-field hash in %v", n, time.Since(start).Round(time.Millisecond))

	c.Ping(ctx) // a warm connection, so the timing below is the DEL alone
	start = time.Now()
	deleted, err := c.Del(ctx, "huge").Result()
	elapsed := time.Since(start)
	if err != nil || deleted != 1 {
		t.Fatalf("DEL = %d, %v", deleted, err)
	}
	if elapsed >= 10*time.Millisecond {
		t.Errorf("DEL of a %d-field hash took %v, want under 10ms", n, elapsed)
	}
	if got, err := c.Exists(ctx, "huge").Result(); err != nil || got != 0 {
		t.Fatalf("EXISTS after DEL = %d, %v", got, err)
	}
	if got, err := c.HLen(ctx, "huge").Result(); err != nil || got != 0 {
		t.Fatalf("HLEN after DEL = %d, %v", got, err)
	}
	// The name is free for a new, empty hash.
	if got, err := c.HSet(ctx, "huge", "a", "1").Result(); err != nil || got != 1 {
		t.Fatalf("HSET after DEL = %d, %v", got, err)
	}
	if got, err := c.HLen(ctx, "huge").Result(); err != nil || got != 1 {
		t.Fatalf("HLEN of the new hash = %d, %v; old fields leaked into it", got, err)
	}
}
