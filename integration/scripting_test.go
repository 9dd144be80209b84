package integration

// Lua scripting and functions as the libraries built on them use them:
// redsync's locks (EVALSHA falling back to EVAL on NOSCRIPT), redis_rate's
// GCRA limiter, go-redis's Eval/EvalSha/ScriptLoad, Script and FCALL
// helpers; and the guarantees applications rely on: a script runs
// atomically, and a runaway script can be stopped.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"
)

// TestScriptingRedsyncMutualExclusion: 32 goroutines increment a shared
// counter with a plain GET and SET, each increment inside a redsync mutex.
// No two holders may overlap, and the final count must be exact.
func TestScriptingRedsyncMutualExclusion(t *testing.T) {
	t.Parallel()
	const workers, rounds = 32, 10
	addr := startInProcess(t)
	client := poolClient(t, addr, workers+4)
	rs := redsync.New(goredis.NewPool(client))
	ctx := context.Background()

	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				m := rs.NewMutex("lock:counter",
					redsync.WithExpiry(10*time.Second),
					redsync.WithTries(10000),
					redsync.WithRetryDelay(time.Millisecond))
				if err := m.LockContext(ctx); err != nil {
					t.Errorf("Lock: %v", err)
					return
				}
				if inside.Add(1) != 1 {
					overlaps.Add(1)
				}
				n, err := client.Get(ctx, "counter").Int()
				if err != nil && !errors.Is(err, redis.Nil) {
					t.Errorf("GET: %v", err)
				}
				if err := client.Set(ctx, "counter", n+1, 0).Err(); err != nil {
					t.Errorf("SET: %v", err)
				}
				inside.Add(-1)
				if ok, err := m.UnlockContext(ctx); !ok || err != nil {
					t.Errorf("Unlock: %v, %v", ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if overlaps.Load() != 0 {
		t.Fatalf("%d lock holders overlapped", overlaps.Load())
	}
	if n, err := client.Get(ctx, "counter").Int(); err != nil || n != workers*rounds {
		t.Fatalf("counter = %d (%v), want %d", n, err, workers*rounds)
	}
}

// TestScriptingRedsyncExtendAndExpiry: Extend pushes the deadline out; a
// lock nobody extends expires and can be taken; the old holder then can
// neither extend nor release it.
func TestScriptingRedsyncExtendAndExpiry(t *testing.T) {
	t.Parallel()
	client := newClient(t, startKVD(t).Addr, 3)
	rs := redsync.New(goredis.NewPool(client))
	ctx := context.Background()

	m := rs.NewMutex("lock:extend", redsync.WithExpiry(time.Second), redsync.WithTries(1))
	if err := m.Lock(); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	time.Sleep(600 * time.Millisecond)
	if ok, err := m.Extend(); !ok || err != nil {
		t.Fatalf("Extend: %v, %v", ok, err)
	}
	if pttl := client.PTTL(ctx, "lock:extend").Val(); pttl < 900*time.Millisecond {
		t.Fatalf("PTTL after Extend = %v, want about 1s", pttl)
	}
	other := rs.NewMutex("lock:extend", redsync.WithExpiry(time.Second), redsync.WithTries(1))
	if err := other.Lock(); err == nil {
		t.Fatal("a second holder took a held lock")
	}
	// 600ms after the extension the first lock would have expired without it.
	time.Sleep(500 * time.Millisecond)
	if valid, err := m.Valid(); !valid || err != nil || client.Exists(ctx, "lock:extend").Val() != 1 {
		t.Fatal("the extended lock expired early")
	}
	time.Sleep(700 * time.Millisecond)
	if err := other.Lock(); err != nil {
		t.Fatalf("Lock after expiry: %v", err)
	}
	if ok, err := m.Extend(); ok || err == nil {
		t.Fatalf("the expired holder extended someone else's lock: %v, %v", ok, err)
	}
	if ok, err := m.Unlock(); ok || err == nil {
		t.Fatalf("the expired holder released someone else's lock: %v, %v", ok, err)
	}
	if ok, err := other.Unlock(); !ok || err != nil {
		t.Fatalf("Unlock by the holder: %v, %v", ok, err)
	}
}

// TestScriptingRedsyncWrongToken: releasing a lock whose key now holds
// another value fails and leaves the key alone; releasing a lock whose key
// is gone reports it as expired.
func TestScriptingRedsyncWrongToken(t *testing.T) {
	t.Parallel()
	client := newClient(t, startKVD(t).Addr, 2)
	rs := redsync.New(goredis.NewPool(client))
	ctx := context.Background()

	m := rs.NewMutex("lock:token", redsync.WithTries(1))
	if err := m.Lock(); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	client.Set(ctx, "lock:token", "somebody-else", time.Minute)
	ok, err := m.Unlock()
	var taken *redsync.ErrTaken
	if ok || !errors.As(err, &taken) {
		t.Fatalf("Unlock with a wrong token = %v, %v; want false, ErrTaken", ok, err)
	}
	if v := client.Get(ctx, "lock:token").Val(); v != "somebody-else" {
		t.Fatalf("the other holder's key became %q", v)
	}
	client.Del(ctx, "lock:token")
	if ok, err := m.Unlock(); ok || !errors.Is(err, redsync.ErrLockAlreadyExpired) {
		t.Fatalf("Unlock of a vanished key = %v, %v; want false, ErrLockAlreadyExpired", ok, err)
	}
}

// TestScriptingRedisRate: a GCRA limit of 10 per second lets exactly 10 of
// 20 immediate requests through, with the remaining count going down.
func TestScriptingRedisRate(t *testing.T) {
	t.Parallel()
	for _, proto := range []int{2, 3} {
		client := newClient(t, startKVD(t).Addr, proto)
		limiter := redis_rate.NewLimiter(client)
		ctx := context.Background()
		allowed := 0
		for i := 0; i < 20; i++ {
			res, err := limiter.Allow(ctx, "rate:key", redis_rate.PerSecond(10))
			if err != nil {
				t.Fatalf("proto %d: Allow: %v", proto, err)
			}
			if res.Allowed > 0 {
				allowed++
				// remaining is a float quotient the script truncates:
				// 9 can come out as 8.999...
				if res.Remaining > 10-allowed || res.Remaining < 9-allowed {
					t.Errorf("proto %d: request %d: remaining %d, want about %d", proto, i, res.Remaining, 10-allowed)
				}
			} else if res.RetryAfter <= 0 || res.RetryAfter > 200*time.Millisecond {
				t.Errorf("proto %d: refused request %d: retry after %v", proto, i, res.RetryAfter)
			}
		}
		if allowed != 10 {
			t.Fatalf("proto %d: %d of 20 requests allowed, want 10", proto, allowed)
		}
		// A limit of 10 per second frees one request every 100ms.
		time.Sleep(250 * time.Millisecond)
		res, err := limiter.AllowN(ctx, "rate:key", redis_rate.PerSecond(10), 2)
		if err != nil || res.Allowed != 2 {
			t.Fatalf("proto %d: AllowN(2) after 250ms = %+v, %v", proto, res, err)
		}
	}
}

// TestScriptingGoRedis drives EVAL, EVALSHA, SCRIPT and FUNCTION through
// go-redis in both protocols, checking the values applications receive.
func TestScriptingGoRedis(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		c := newClient(t, k.Addr, proto)
		c.ScriptFlush(ctx)
		c.FunctionFlush(ctx)

		v, err := c.Eval(ctx, "return {1, 'two', {3}, redis.call('set', KEYS[1], ARGV[1])}", []string{"k"}, "v").Result()
		want := fmt.Sprint([]any{int64(1), "two", []any{int64(3)}, "OK"})
		if err != nil || fmt.Sprint(v) != want {
			t.Fatalf("proto %d: Eval = %v, %v; want %s", proto, v, err, want)
		}
		if _, err := c.Eval(ctx, "return nil", nil).Result(); !errors.Is(err, redis.Nil) {
			t.Fatalf("proto %d: Eval returning nil: %v", proto, err)
		}
		_, err = c.Eval(ctx, "return redis.call('incr', KEYS[1])", []string{"k"}).Result()
		if err == nil || err.Error() != "ERR value is not an integer or out of range script: 2bab3b661081db58bd2341920e0ba7cf5dc77b25, on @user_script:1." {
			t.Fatalf("proto %d: Eval error: %v", proto, err)
		}

		sha, err := c.ScriptLoad(ctx, "return redis.call('get', KEYS[1])").Result()
		if err != nil || len(sha) != 40 {
			t.Fatalf("proto %d: ScriptLoad: %q, %v", proto, sha, err)
		}
		if exists, err := c.ScriptExists(ctx, sha, strings.Repeat("0", 40)).Result(); err != nil || !exists[0] || exists[1] {
			t.Fatalf("proto %d: ScriptExists: %v, %v", proto, exists, err)
		}
		if v, err := c.EvalSha(ctx, sha, []string{"k"}).Result(); err != nil || v != "v" {
			t.Fatalf("proto %d: EvalSha: %v, %v", proto, v, err)
		}
		if v, err := c.EvalRO(ctx, "return redis.call('get', KEYS[1])", []string{"k"}).Result(); err != nil || v != "v" {
			t.Fatalf("proto %d: EvalRO: %v, %v", proto, v, err)
		}
		if err := c.EvalRO(ctx, "return redis.call('del', KEYS[1])", []string{"k"}).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR Write commands are not allowed from read-only scripts.") {
			t.Fatalf("proto %d: EvalRO writing: %v", proto, err)
		}
		c.ScriptFlush(ctx)
		if err := c.EvalSha(ctx, sha, []string{"k"}).Err(); err == nil || err.Error() != "NOSCRIPT No matching script. Please use EVAL." {
			t.Fatalf("proto %d: EvalSha after SCRIPT FLUSH: %v", proto, err)
		}
		// redis.Script tries EVALSHA and falls back to EVAL on NOSCRIPT.
		script := redis.NewScript("return tonumber(ARGV[1]) * 2")
		for i := 0; i < 2; i++ {
			if n, err := script.Run(ctx, c, nil, 21).Int(); err != nil || n != 42 {
				t.Fatalf("proto %d: Script.Run #%d: %d, %v", proto, i, n, err)
			}
		}

		// RESP3 values after redis.setresp(3) come back as the caller's types.
		c.HSet(ctx, "h", "f", "1")
		v, err = c.Eval(ctx, "redis.setresp(3) return redis.call('hgetall', KEYS[1])", []string{"h"}).Result()
		if proto == 3 {
			want = fmt.Sprint(map[any]any{"f": "1"})
		} else {
			want = fmt.Sprint([]any{"f", "1"})
		}
		if err != nil || fmt.Sprint(v) != want {
			t.Fatalf("proto %d: HGETALL through setresp(3): %v, %v; want %s", proto, v, err, want)
		}

		lib := "#!lua name=golib\n" +
			"redis.register_function('go_set', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n" +
			"redis.register_function{function_name='go_get', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}"
		if name, err := c.FunctionLoad(ctx, lib).Result(); err != nil || name != "golib" {
			t.Fatalf("proto %d: FunctionLoad: %q, %v", proto, name, err)
		}
		if err := c.FCall(ctx, "go_set", []string{"fk"}, "fv").Err(); err != nil {
			t.Fatalf("proto %d: FCall: %v", proto, err)
		}
		if v, err := c.FCallRO(ctx, "go_get", []string{"fk"}).Result(); err != nil || v != "fv" {
			t.Fatalf("proto %d: FCallRO: %v, %v", proto, v, err)
		}
		libs, err := c.FunctionList(ctx, redis.FunctionListQuery{WithCode: true}).Result()
		if err != nil || len(libs) != 1 || libs[0].Name != "golib" || len(libs[0].Functions) != 2 || libs[0].Code != lib {
			t.Fatalf("proto %d: FunctionList: %+v, %v", proto, libs, err)
		}
		dump, err := c.FunctionDump(ctx).Result()
		if err != nil {
			t.Fatalf("proto %d: FunctionDump: %v", proto, err)
		}
		c.FunctionFlush(ctx)
		if err := c.FunctionRestore(ctx, dump).Err(); err != nil {
			t.Fatalf("proto %d: FunctionRestore: %v", proto, err)
		}
		if v, err := c.FCall(ctx, "go_get", []string{"fk"}).Result(); err != nil || v != "fv" {
			t.Fatalf("proto %d: FCall after restore: %v, %v", proto, v, err)
		}
		c.FunctionFlush(ctx)
	}
}

// TestScriptingAtomicReadModifyWrite: concurrent scripts that read and
// then write one key never lose an update.
func TestScriptingAtomicReadModifyWrite(t *testing.T) {
	t.Parallel()
	const workers, each = 16, 100
	client := poolClient(t, startInProcess(t), workers)
	ctx := context.Background()
	incr := redis.NewScript("local v = tonumber(redis.call('get', KEYS[1]) or '0') redis.call('set', KEYS[1], v + 1) return v + 1")
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := incr.Run(ctx, client, []string{"rmw"}).Err(); err != nil {
					t.Errorf("script: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n, err := client.Get(ctx, "rmw").Int(); err != nil || n != workers*each {
		t.Fatalf("counter = %d (%v), want %d", n, err, workers*each)
	}
}

// TestScriptingWakesBlockedClient: a push made by a script serves a client
// blocked in BLPOP on that list.
func TestScriptingWakesBlockedClient(t *testing.T) {
	t.Parallel()
	addr := startInProcess(t)
	waiter, pusher := newClient(t, addr, 2), newClient(t, addr, 2)
	ctx := context.Background()
	got := make(chan []string, 1)
	go func() {
		v, err := waiter.BLPop(ctx, 5*time.Second, "jobs").Result()
		if err != nil {
			t.Errorf("BLPOP: %v", err)
		}
		got <- v
	}()
	waitBlocked(t, pusher, 1)
	if err := pusher.Eval(ctx, "return redis.call('rpush', KEYS[1], ARGV[1])", []string{"jobs"}, "job1").Err(); err != nil {
		t.Fatalf("EVAL: %v", err)
	}
	select {
	case v := <-got:
		if fmt.Sprint(v) != "[jobs job1]" {
			t.Fatalf("BLPOP got %v", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the blocked client was not served")
	}
}

// TestScriptingBusyKillAndShutdown runs the real 5 s busy threshold: other
// clients get BUSY once a script runs past it; SCRIPT KILL stops a script
// that has not written, FUNCTION KILL a function; a script that wrote is
// unkillable, and SHUTDOWN NOSAVE still stops the server.
func TestScriptingBusyKillAndShutdown(t *testing.T) {
	t.Parallel()
	const busy = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	const busyFn = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
	const spin = "local i = 0 while true do i = i + 1 end"

	run := func(name string, f func(t *testing.T)) { t.Run(name, func(t *testing.T) { t.Parallel(); f(t) }) }
	run("eval", func(t *testing.T) {
		k := startKVD(t)
		a, b := dialRaw(t, k.Addr), dialRaw(t, k.Addr)
		a.Send(encodeCommand([]string{"EVAL", spin, "0"}))
		waitRawBusy(t, b, busy)
		if r := string(b.Do("SCRIPT", "KILL")); r != "+OK\r\n" {
			t.Fatalf("SCRIPT KILL: %q", r)
		}
		want := "-ERR Script killed by user with SCRIPT KILL... script: 3fcf51a9b854b8f66cb8685600b0d7df968f4398, on @user_script:1.\r\n"
		if r := string(a.ReadReply()); r != want {
			t.Fatalf("killed script replied %q, want %q", r, want)
		}
		if r := string(b.Do("PING")); r != "+PONG\r\n" {
			t.Fatalf("PING after the kill: %q", r)
		}
	})
	run("function", func(t *testing.T) {
		k := startKVD(t)
		a, b := dialRaw(t, k.Addr), dialRaw(t, k.Addr)
		a.Do("FUNCTION", "LOAD", "#!lua name=spin\nredis.register_function('spin', function() "+spin+" end)")
		a.Send(encodeCommand([]string{"FCALL", "spin", "0"}))
		waitRawBusy(t, b, busyFn)
		if r := string(b.Do("SCRIPT", "KILL")); r != "-"+busyFn+"\r\n" {
			t.Fatalf("SCRIPT KILL on a function: %q", r)
		}
		if r := string(b.Do("FUNCTION", "KILL")); r != "+OK\r\n" {
			t.Fatalf("FUNCTION KILL: %q", r)
		}
		want := "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
		if r := string(a.ReadReply()); r != want {
			t.Fatalf("killed function replied %q, want %q", r, want)
		}
	})
	run("unkillable", func(t *testing.T) {
		k := startKVD(t)
		a, b := dialRaw(t, k.Addr), dialRaw(t, k.Addr)
		a.Send(encodeCommand([]string{"EVAL", "redis.call('set', 'w', 1) " + spin, "0"}))
		waitRawBusy(t, b, busy)
		want := "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
		if r := string(b.Do("SCRIPT", "KILL")); r != want {
			t.Fatalf("SCRIPT KILL after a write: %q", r)
		}
		if r := string(b.Do("SHUTDOWN")); r != "-"+busy+"\r\n" {
			t.Fatalf("SHUTDOWN without NOSAVE: %q", r)
		}
		b.Send(encodeCommand([]string{"SHUTDOWN", "NOSAVE"}))
		select {
		case <-k.proc.done:
		case <-time.After(stopTimeout):
			t.Fatal("SHUTDOWN NOSAVE did not stop kvd while a script ran")
		}
	})
}

// waitRawBusy polls with PING until the server answers want (a BUSY error).
func waitRawBusy(t *testing.T, c *rawConn, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		r := string(c.Do("PING"))
		if r == "-"+want+"\r\n" {
			return
		}
		if r != "+PONG\r\n" {
			t.Fatalf("PING while a script runs: %q", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the server never became busy")
}
