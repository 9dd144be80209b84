package integration

// Concurrency: many clients hitting the same keys at once must see Redis's
// single-threaded semantics: no lost INCR, one winner per SET NX race,
// owner-only lock release, and MSET that is never seen half applied.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// poolClient is a go-redis client with room for n concurrent connections.
func poolClient(t testing.TB, addr string, n int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		PoolSize:     n,
		MinIdleConns: 0,
		MaxRetries:   -1, // a retried INCR would count twice
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestConcurrencyIncr: 50 goroutines x 2,000 INCR on one key. Every INCR
// must return a distinct value (no two clients saw the same counter) and the
// final value must be exactly 100,000.
func TestConcurrencyIncr(t *testing.T) {
	t.Parallel()
	const workers, perWorker = 50, 2000
	k := startKVD(t)
	c := poolClient(t, k.Addr, workers+4)
	ctx := context.Background()

	seen := make([]atomic.Bool, workers*perWorker+1)
	var dup, outOfRange, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				n, err := c.Incr(ctx, "counter").Result()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				if n < 1 || n > int64(len(seen)-1) {
					outOfRange.Add(1)
					continue
				}
				if seen[n].Swap(true) {
					dup.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Errorf("%d INCR calls failed, first: %v", f, firstErr.Load())
	}
	if d := dup.Load(); d > 0 {
		t.Errorf("%d INCR replies repeated a value another INCR already got (lost updates)", d)
	}
	if o := outOfRange.Load(); o > 0 {
		t.Errorf("%d INCR replies outside 1..%d", o, workers*perWorker)
	}
	got, err := c.Get(ctx, "counter").Result()
	if err != nil {
		t.Fatalf("GET counter: %v", err)
	}
	if got != strconv.Itoa(workers*perWorker) {
		t.Errorf("GET counter after %d x %d INCR = %q, want %d", workers, perWorker, got, workers*perWorker)
	}
}

// TestConcurrencyLockNX: 32 clients race `SET lock <token> NX PX 30000`
// every round; exactly one gets OK and the stored value is its token.
func TestConcurrencyLockNX(t *testing.T) {
	t.Parallel()
	const racers, rounds = 32, 20
	k := startKVD(t)
	c := poolClient(t, k.Addr, racers+2)
	ctx := context.Background()

	// Open all connections up front so that the race is not decided by dials.
	var warm sync.WaitGroup
	for i := 0; i < racers; i++ {
		warm.Add(1)
		go func() { defer warm.Done(); c.Ping(ctx) }()
	}
	warm.Wait()

	for round := 0; round < rounds; round++ {
		if err := c.Del(ctx, "lock").Err(); err != nil {
			t.Fatalf("round %d: DEL lock: %v", round, err)
		}
		start := make(chan struct{})
		results := make([]string, racers)
		var wg sync.WaitGroup
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				token := fmt.Sprintf("r%d-c%d", round, i)
				res, err := c.Do(ctx, "SET", "lock", token, "NX", "PX", "30000").Result()
				switch {
				case err == redis.Nil:
					results[i] = "nil"
				case err != nil:
					results[i] = "error: " + err.Error()
				default:
					results[i] = fmt.Sprint(res)
				}
			}()
		}
		close(start)
		wg.Wait()

		winners := 0
		winner := ""
		for i, r := range results {
			switch r {
			case "OK":
				winners++
				winner = fmt.Sprintf("r%d-c%d", round, i)
			case "nil":
			default:
				t.Errorf("round %d: racer %d: SET lock NX PX 30000 replied %q, want OK or nil", round, i, r)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d of %d racers got OK from SET lock NX PX 30000, want exactly 1", round, winners, racers)
		}
		if got, err := c.Get(ctx, "lock").Result(); err != nil || got != winner {
			t.Fatalf("round %d: GET lock = %q, %v; want the winner's token %q", round, got, err, winner)
		}
		if pttl, err := c.PTTL(ctx, "lock").Result(); err != nil || pttl <= 0 || pttl > 30*time.Second {
			t.Fatalf("round %d: PTTL lock = %v, %v; want in (0, 30s]", round, pttl, err)
		}
	}
}

// TestConcurrencyLockRelease: DELIFEQ (Valkey) and DELEX IFEQ (Redis 8.4)
// delete the lock only for the owner's token, also when non-owners race the
// owner.
func TestConcurrencyLockRelease(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	c := poolClient(t, k.Addr, 40)
	ctx := context.Background()

	release := map[string]func(token string) (int64, error){
		"DELIFEQ": func(token string) (int64, error) {
			return c.Do(ctx, "DELIFEQ", "lock", token).Int64()
		},
		"DELEX IFEQ": func(token string) (int64, error) {
			return c.Do(ctx, "DELEX", "lock", "IFEQ", token).Int64()
		},
	}
	for _, name := range []string{"DELIFEQ", "DELEX IFEQ"} {
		rel := release[name]
		if ok, err := c.SetNX(ctx, "lock", "owner-token", 30*time.Second).Result(); err != nil || !ok {
			t.Fatalf("%s: SET lock owner-token NX PX 30000 = %v, %v; want OK", name, ok, err)
		}
		if n, err := rel("intruder-token"); err != nil || n != 0 {
			t.Errorf("%s lock intruder-token (non-owner) = %d, %v; want 0", name, n, err)
		}
		if n, err := rel("owner-token-but-longer"); err != nil || n != 0 {
			t.Errorf("%s lock owner-token-but-longer (prefix match) = %d, %v; want 0", name, n, err)
		}
		if got, err := c.Get(ctx, "lock").Result(); err != nil || got != "owner-token" {
			t.Errorf("%s: after non-owner release GET lock = %q, %v; want owner-token (still held)", name, got, err)
		}
		if pttl, err := c.PTTL(ctx, "lock").Result(); err != nil || pttl <= 0 {
			t.Errorf("%s: after non-owner release PTTL lock = %v, %v; want the TTL kept", name, pttl, err)
		}
		if n, err := rel("owner-token"); err != nil || n != 1 {
			t.Errorf("%s lock owner-token (owner) = %d, %v; want 1", name, n, err)
		}
		if n, err := c.Exists(ctx, "lock").Result(); err != nil || n != 0 {
			t.Errorf("%s: after owner release EXISTS lock = %d, %v; want 0", name, n, err)
		}
		if n, err := rel("owner-token"); err != nil || n != 0 {
			t.Errorf("%s on a missing lock = %d, %v; want 0", name, n, err)
		}

		// Race: each round the owner and 16 intruders release at once; only
		// the owner's call may delete, and only it may report 1.
		for round := 0; round < 10; round++ {
			owner := fmt.Sprintf("owner-%d", round)
			if err := c.Set(ctx, "lock", owner, 30*time.Second).Err(); err != nil {
				t.Fatal(err)
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			var intruderWins atomic.Int64
			var ownerResult int64 = -1
			var ownerErr error
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if n, err := rel(fmt.Sprintf("intruder-%d-%d", round, i)); err != nil || n != 0 {
						intruderWins.Add(1)
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ownerResult, ownerErr = rel(owner)
			}()
			close(start)
			wg.Wait()
			if n := intruderWins.Load(); n > 0 {
				t.Errorf("%s race round %d: %d non-owner releases did not reply 0", name, round, n)
			}
			if ownerErr != nil || ownerResult != 1 {
				t.Errorf("%s race round %d: owner release = %d, %v; want 1", name, round, ownerResult, ownerErr)
			}
		}
	}
}

// TestConcurrencyMSetAtomic: writers MSET ten keys to the same round number
// while readers MGET them; a reader must never see values of different
// rounds.
func TestConcurrencyMSetAtomic(t *testing.T) {
	t.Parallel()
	const nkeys, writers, readers = 10, 4, 4
	k := startKVD(t)
	c := poolClient(t, k.Addr, writers+readers+2)
	ctx := context.Background()

	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("mset:{k}:%d", i)
	}
	pairs := func(v string) []any {
		p := make([]any, 0, 2*nkeys)
		for _, key := range keys {
			p = append(p, key, v)
		}
		return p
	}
	if err := c.MSet(ctx, pairs("0")...).Err(); err != nil {
		t.Fatalf("initial MSET: %v", err)
	}

	var round atomic.Int64
	var stop atomic.Bool
	var writeErrs, reads, mixed atomic.Int64
	var firstMixed atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				r := round.Add(1)
				if err := c.MSet(ctx, pairs(strconv.FormatInt(r, 10))...).Err(); err != nil {
					writeErrs.Add(1)
				}
			}
		}()
	}
	distinct := make([]map[string]bool, readers)
	for r := 0; r < readers; r++ {
		distinct[r] = map[string]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				vals, err := c.MGet(ctx, keys...).Result()
				if err != nil {
					continue
				}
				reads.Add(1)
				first := fmt.Sprint(vals[0])
				distinct[r][first] = true
				for _, v := range vals[1:] {
					if fmt.Sprint(v) != first {
						if mixed.Add(1) == 1 {
							firstMixed.Store(fmt.Sprint(vals))
						}
						break
					}
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	stop.Store(true)
	wg.Wait()

	if n := writeErrs.Load(); n > 0 {
		t.Errorf("%d MSET calls failed", n)
	}
	if n := mixed.Load(); n > 0 {
		t.Errorf("%d of %d MGET replies mixed values of different MSET rounds, e.g. %v", n, reads.Load(), firstMixed.Load())
	}
	// The test only means something if readers overlapped many writes.
	rounds := 0
	for _, d := range distinct {
		rounds += len(d)
	}
	if reads.Load() < 100 || round.Load() < 100 || rounds < 2*readers {
		t.Errorf("too little overlap to judge atomicity: %d MGET, %d MSET, %d distinct rounds seen by readers",
			reads.Load(), round.Load(), rounds)
	}
	t.Logf("%d MSET rounds, %d MGET reads", round.Load(), reads.Load())
}
