package integration

// Sorted sets as applications use them through go-redis: a sliding-window
// rate limiter, a leaderboard, a job queue served by BZPOPMIN, and many
// clients updating one set at once. Byte-exact replies are covered by the
// conformance corpus (testdata/conformance/zsets.txt).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// slidingWindowAllow is the rate limiter as users write it: drop the entries
// older than the window, record this request, count, refresh the TTL, in one
// plain (non-transactional) pipeline. The request is allowed when the count,
// which includes it, is within limit.
func slidingWindowAllow(ctx context.Context, c *redis.Client, key, id string, nowMs, windowMs, limit int64) (count int64, allowed bool, err error) {
	pipe := c.Pipeline()
	pipe.ZRemRangeByScore(ctx, key, "0", strconv.FormatInt(nowMs-windowMs, 10))
	pipe.ZAdd(ctx, key, redis.Z{Score: float64(nowMs), Member: id})
	card := pipe.ZCard(ctx, key)
	pipe.Expire(ctx, key, time.Duration(windowMs)*time.Millisecond)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, false, err
	}
	return card.Val(), card.Val() <= limit, nil
}

// TestZSetSlidingWindowRateLimiter: 20 clients x 25 requests in one window.
// The pattern is not atomic, so two clients may read the same count, but it
// must never admit more than the limit, every request must be recorded, each
// client's counts must grow, and the last count must be the total.
func TestZSetSlidingWindowRateLimiter(t *testing.T) {
	t.Parallel()
	const workers, perWorker, limit = 20, 25, 100
	k := startKVD(t)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var allowed, maxCount int64
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		c := newClient(t, k.Addr, 2+w%2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(0)
			for i := 0; i < perWorker; i++ {
				n, ok, err := slidingWindowAllow(ctx, c, "rl:user", fmt.Sprintf("%d-%d", w, i), now, 60_000, limit)
				if err != nil {
					errs <- err
					return
				}
				if n <= last || n > workers*perWorker {
					errs <- fmt.Errorf("client %d request %d: count %d after %d", w, i, n, last)
					return
				}
				last = n
				mu.Lock()
				if ok {
					allowed++
				}
				maxCount = max(maxCount, n)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if allowed > limit || allowed == 0 {
		t.Fatalf("%d requests allowed, limit %d", allowed, limit)
	}
	if maxCount != workers*perWorker {
		t.Fatalf("highest count seen %d, want %d", maxCount, workers*perWorker)
	}
	c := newClient(t, k.Addr, 3)
	if n := c.ZCard(ctx, "rl:user").Val(); n != workers*perWorker {
		t.Fatalf("ZCARD = %d, want %d", n, workers*perWorker)
	}
	if ttl := c.PTTL(ctx, "rl:user").Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("PTTL = %v, want within the window", ttl)
	}
}

// TestZSetSlidingWindowExpiresOldRequests drives the limiter with explicit
// times, in steps of 0.1s of a 100s window so that the key's TTL (the
// window) cannot run out during the test: requests older than the window
// stop counting.
func TestZSetSlidingWindowExpiresOldRequests(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	c := newClient(t, k.Addr, 3)
	const window, limit, step = 1000, 5, 100
	base := time.Now().UnixMilli()
	var got []bool
	for i, at := range []int64{0, 100, 200, 300, 400, 500, 600, 1150, 1250, 1600} {
		n, ok, err := slidingWindowAllow(ctx, c, "rl", strconv.Itoa(i), base+at*step, window*step, limit)
		if err != nil {
			t.Fatal(err)
		}
		if n < 1 {
			t.Fatalf("t=%d: count %d", at, n)
		}
		got = append(got, ok)
	}
	// At 500 the sixth request is over the limit, as is 600. At 1150 the
	// requests at 0 and 100 have left the window (<= 150), 200..600 and
	// 1150 remain: 6. At 1250, 200 leaves: still 6. At 1600, everything up
	// to 600 leaves: 1150, 1250, 1600.
	want := []bool{true, true, true, true, true, false, false, false, false, true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("allowed = %v, want %v", got, want)
	}
	if n := c.ZCard(ctx, "rl").Val(); n != 3 {
		t.Fatalf("ZCARD = %d, want 3", n)
	}
}

// TestZSetLeaderboard: concurrent ZINCRBY from many clients, then the top of
// the board with scores, ranks from both ends, in both protocols.
func TestZSetLeaderboard(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	points := map[string]int{"ann": 50, "bob": 30, "cid": 30, "dee": 10, "eve": 80}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for player, n := range points {
		for _, proto := range []int{2, 3} {
			c := newClient(t, k.Addr, proto)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n/2; i++ {
					if err := c.ZIncrBy(ctx, "board", 1, player).Err(); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, proto := range []int{2, 3} {
		c := newClient(t, k.Addr, proto)
		top, err := c.ZRevRangeWithScores(ctx, "board", 0, 2).Result()
		if err != nil {
			t.Fatal(err)
		}
		// Equal scores: ZREVRANGE orders members in reverse too.
		want := []redis.Z{{Score: 80, Member: "eve"}, {Score: 50, Member: "ann"}, {Score: 30, Member: "cid"}}
		if fmt.Sprint(top) != fmt.Sprint(want) {
			t.Fatalf("RESP%d top 3 = %v, want %v", proto, top, want)
		}
		if r := c.ZRevRank(ctx, "board", "bob").Val(); r != 3 {
			t.Fatalf("RESP%d ZREVRANK bob = %d, want 3", proto, r)
		}
		if r := c.ZRank(ctx, "board", "dee").Val(); r != 0 {
			t.Fatalf("RESP%d ZRANK dee = %d, want 0", proto, r)
		}
		if err := c.ZRank(ctx, "board", "nobody").Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("RESP%d ZRANK nobody: %v, want redis.Nil", proto, err)
		}
		if s := c.ZScore(ctx, "board", "eve").Val(); s != 80 {
			t.Fatalf("RESP%d ZSCORE eve = %v", proto, s)
		}
		around, err := c.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: "board", Start: "(30", Stop: "+inf", ByScore: true, Rev: false}).Result()
		if err != nil || len(around) != 2 || around[0].Member != "ann" {
			t.Fatalf("RESP%d ZRANGE (30 +inf BYSCORE = %v, %v", proto, around, err)
		}
	}
}

// TestZSetBZPopMinServedByZAdd: workers wait on an empty queue; each ZADD
// from another client wakes exactly one, oldest first, with the lowest
// score.
func TestZSetBZPopMinServedByZAdd(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	admin := newClient(t, k.Addr, 3)
	type popped struct {
		who string
		z   *redis.ZWithKey
		err error
	}
	results := make(chan popped, 2)
	for i, proto := range []int{2, 3} {
		c := newClient(t, k.Addr, proto)
		who := fmt.Sprintf("worker%d", i)
		go func() {
			z, err := c.BZPopMin(ctx, 10*time.Second, "other", "jobs").Result()
			results <- popped{who, z, err}
		}()
		waitBlocked(t, admin, i+1) // worker0 blocks first
	}
	producer := newClient(t, k.Addr, 2)
	if err := producer.ZAdd(ctx, "jobs", redis.Z{Score: 5, Member: "late"}, redis.Z{Score: 1, Member: "urgent"}).Err(); err != nil {
		t.Fatal(err)
	}
	// One ZADD of two members serves both, the longest waiting first (it
	// gets the lowest score). They wake together, so collect both.
	got := map[string]popped{}
	for range 2 {
		p := <-results
		got[p.who] = p
	}
	w0, w1 := got["worker0"], got["worker1"]
	if w0.err != nil || w0.z.Key != "jobs" || w0.z.Member != "urgent" || w0.z.Score != 1 {
		t.Fatalf("worker0 got %+v %+v, want jobs urgent 1", w0, w0.z)
	}
	if w1.err != nil || w1.z.Key != "jobs" || w1.z.Member != "late" || w1.z.Score != 5 {
		t.Fatalf("worker1 got %+v %+v, want jobs late 5", w1, w1.z)
	}
	if n := admin.Exists(ctx, "jobs").Val(); n != 0 {
		t.Fatal("the emptied queue still exists")
	}
	if n := blockedClients(t, admin); n != 0 {
		t.Fatalf("blocked_clients = %d after serving", n)
	}

	// BZMPOP is served by a ZUNIONSTORE into the key it waits on.
	done := make(chan error, 1)
	go func() {
		key, zs, err := newClient(t, k.Addr, 3).BZMPop(ctx, 10*time.Second, "max", 2, "jobs").Result()
		if err == nil && (key != "jobs" || len(zs) != 2 || zs[0].Member != "b" || zs[1].Member != "a") {
			err = fmt.Errorf("BZMPOP = %s %v", key, zs)
		}
		done <- err
	}()
	waitBlocked(t, admin, 1)
	producer.ZAdd(ctx, "src", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"})
	if err := producer.ZUnionStore(ctx, "jobs", &redis.ZStore{Keys: []string{"src"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A timeout is a nil reply, after about the timeout.
	start := time.Now()
	err := newClient(t, k.Addr, 2).BZPopMax(ctx, 200*time.Millisecond, "jobs").Err()
	if !errors.Is(err, redis.Nil) || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("BZPOPMAX on an empty key: %v after %v", err, time.Since(start))
	}
}

// TestZSetConcurrentUpdatesExact: 32 clients add distinct members and
// increment shared ones; nothing may be lost or double counted.
func TestZSetConcurrentUpdatesExact(t *testing.T) {
	t.Parallel()
	const workers, rounds = 32, 100
	k := startKVD(t)
	ctx := context.Background()
	c := poolClient(t, k.Addr, workers+4)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				if err := c.ZIncrBy(ctx, "z", 0.5, fmt.Sprintf("shared%d", i%4)).Err(); err != nil {
					errs <- err
					return
				}
				if err := c.ZAdd(ctx, "z", redis.Z{Score: float64(w), Member: fmt.Sprintf("w%02d-%03d", w, i)}).Err(); err != nil {
					errs <- err
					return
				}
				if err := c.ZAddArgsIncr(ctx, "z", redis.ZAddArgs{Members: []redis.Z{{Score: 1, Member: "total"}}}).Err(); err != nil {
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
	for i := 0; i < 4; i++ {
		if s := c.ZScore(ctx, "z", fmt.Sprintf("shared%d", i)).Val(); s != workers*rounds/4*0.5 {
			t.Fatalf("shared%d = %v, want %v", i, s, workers*rounds/4*0.5)
		}
	}
	if s := c.ZScore(ctx, "z", "total").Val(); s != workers*rounds {
		t.Fatalf("total = %v, want %d", s, workers*rounds)
	}
	if n := c.ZCard(ctx, "z").Val(); n != workers*rounds+5 {
		t.Fatalf("ZCARD = %d, want %d", n, workers*rounds+5)
	}
	// Each worker's members sit together, by score then member.
	ms := c.ZRangeByScore(ctx, "z", &redis.ZRangeBy{Min: "7", Max: "(8"}).Val()
	if len(ms) != rounds || ms[0] != "w07-000" || ms[rounds-1] != fmt.Sprintf("w07-%03d", rounds-1) {
		t.Fatalf("worker 7's members: %d, first %v", len(ms), ms[:min(3, len(ms))])
	}
}

// TestZSetSetsAsInputs: plain sets take part in ZUNIONSTORE and ZINTER with
// score 1. It needs SADD.
func TestZSetSetsAsInputs(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	c := newClient(t, k.Addr, 3)
	if err := c.SAdd(ctx, "tags", "go", "redis", "db").Err(); err != nil {
		if strings.Contains(err.Error(), "unknown command") {
			t.Skip("SADD not implemented yet: ", err)
		}
		t.Fatal(err)
	}
	c.ZAdd(ctx, "weights", redis.Z{Score: 10, Member: "go"}, redis.Z{Score: 5, Member: "rust"})
	n, err := c.ZUnionStore(ctx, "out", &redis.ZStore{Keys: []string{"tags", "weights"}, Weights: []float64{2, 1}}).Result()
	if err != nil || n != 4 {
		t.Fatalf("ZUNIONSTORE = %d, %v", n, err)
	}
	got := c.ZRangeWithScores(ctx, "out", 0, -1).Val()
	want := []redis.Z{{Score: 2, Member: "db"}, {Score: 2, Member: "redis"}, {Score: 5, Member: "rust"}, {Score: 12, Member: "go"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ZUNIONSTORE result %v, want %v", got, want)
	}
	inter := c.ZInterWithScores(ctx, &redis.ZStore{Keys: []string{"weights", "tags"}, Aggregate: "MAX"}).Val()
	if len(inter) != 1 || inter[0].Member != "go" || inter[0].Score != 10 {
		t.Fatalf("ZINTER = %v", inter)
	}
	if d := c.ZDiff(ctx, "tags", "weights").Val(); fmt.Sprint(d) != "[db redis]" {
		t.Fatalf("ZDIFF tags weights = %v", d)
	}
	if n := c.ZInterCard(ctx, 0, "tags", "weights").Val(); n != 1 {
		t.Fatalf("ZINTERCARD = %d", n)
	}
}

// TestZSetScanLargeSet pages through a sorted set too big to come back in
// one reply: every member exactly once, each with its score.
func TestZSetScanLargeSet(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	c := newClient(t, k.Addr, 3)
	const n = 500
	zs := make([]redis.Z, n)
	for i := range zs {
		zs[i] = redis.Z{Score: float64(i) / 4, Member: fmt.Sprintf("member:%04d", i)}
	}
	if err := c.ZAdd(ctx, "big", zs...).Err(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	var cursor uint64
	calls := 0
	for {
		page, next, err := c.ZScan(ctx, "big", cursor, "member:*", 25).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(page); i += 2 {
			if _, dup := seen[page[i]]; dup {
				t.Fatalf("%s returned twice", page[i])
			}
			seen[page[i]] = page[i+1]
		}
		calls++
		if cursor = next; cursor == 0 {
			break
		}
	}
	if len(seen) != n || calls < n/25 {
		t.Fatalf("ZSCAN saw %d members in %d calls", len(seen), calls)
	}
	if seen["member:0006"] != "1.5" || seen["member:0400"] != "100" {
		t.Fatalf("scores: %q, %q", seen["member:0006"], seen["member:0400"])
	}
}
