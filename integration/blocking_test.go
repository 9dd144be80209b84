package integration

// Blocking list commands as queue consumers use them: waiters served in
// arrival order the moment a producer pushes, timeouts kept to the
// millisecond, a disconnected waiter forgotten without losing the next
// push, BLMOVE feeding a waiter on its destination, and no other client
// held up meanwhile.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/server"
)

// startInProcess runs a kvd server inside the test binary, so that
// `go test -race` instruments the server's own goroutines (the blocking
// registry, the handlers) and not only the clients. It returns the address.
func startInProcess(t testing.TB) string {
	t.Helper()
	opts := engine.DefaultOptions(t.TempDir())
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.MemTableSize, opts.NumMemtables = 8<<20, 2
	opts.BlockCacheSize, opts.IndexCacheSize = 8<<20, 8<<20
	store, err := engine.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.Port = 0
	srv, err := server.New(cfg, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return addr.(*net.TCPAddr).String()
}

// blockedClients reads INFO's blocked_clients.
func blockedClients(t testing.TB, c *redis.Client) int {
	t.Helper()
	return int(infoInt(t, c, "clients", "blocked_clients"))
}

// infoInt reads one integer field of an INFO section.
func infoInt(t testing.TB, c *redis.Client, section, field string) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return 0
}

// waitBlocked polls INFO until exactly n clients are blocked.
func waitBlocked(t testing.TB, c *redis.Client, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := blockedClients(t, c)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("blocked_clients = %d after 5s, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type popResult struct {
	who int
	val []string
	err error
}

// TestBlockingJobQueueFIFO: five workers wait on an empty queue with BLPOP,
// one after another. Jobs pushed one at a time go to the workers in the
// order they started waiting, each the moment it is pushed; a single push
// of several jobs serves them in the same order. Meanwhile other clients'
// commands are answered at once.
func TestBlockingJobQueueFIFO(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	producer := newClient(t, k.Addr, 3)
	const workers = 5
	workerClients := make([]*redis.Client, workers)
	for i := range workerClients {
		workerClients[i] = newClient(t, k.Addr, 2+i%2)
	}
	results := make(chan popResult, workers)
	wait := func(i int) {
		go func() {
			v, err := workerClients[i].BLPop(ctx, 0, "jobs").Result()
			results <- popResult{i, v, err}
		}()
		waitBlocked(t, producer, i+1) // worker i is queued before i+1 starts
	}

	for i := 0; i < workers; i++ {
		wait(i)
	}
	start := time.Now()
	if err := producer.Set(ctx, "other", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := producer.Get(ctx, "other").Result(); err != nil || got != "v" {
		t.Fatalf("GET while workers block = %q, %v", got, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("SET+GET took %v while clients were blocked", d)
	}
	for j := 0; j < workers; j++ {
		job := fmt.Sprint("job", j)
		if err := producer.RPush(ctx, "jobs", job).Err(); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-results:
			if r.err != nil || r.who != j || len(r.val) != 2 || r.val[0] != "jobs" || r.val[1] != job {
				t.Fatalf("push %d: worker %d got %q, %v; want worker %d to get [jobs %s]", j, r.who, r.val, r.err, j, job)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s was not handed to a waiting worker", job)
		}
	}
	waitBlocked(t, producer, 0)

	// Again, with all jobs in one RPUSH.
	for i := 0; i < workers; i++ {
		wait(i)
	}
	if err := producer.RPush(ctx, "jobs", "a", "b", "c", "d", "e").Err(); err != nil {
		t.Fatal(err)
	}
	got := make([]string, workers)
	for range workers {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatal(r.err)
			}
			got[r.who] = r.val[1]
		case <-time.After(5 * time.Second):
			t.Fatal("a worker was not served by a push of five jobs")
		}
	}
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("workers 0..4 got %q, want a b c d e in waiting order", got)
	}
	if n, err := producer.Exists(ctx, "jobs").Result(); err != nil || n != 0 {
		t.Fatalf("jobs left behind: %d, %v", n, err)
	}
	waitBlocked(t, producer, 0)
}

// TestBlockingTimeoutAccuracy: BLPOP with a 0.2 s timeout on an empty list
// returns nil no sooner than 200 ms and not much later. The lower bound is
// strict (a timeout must never fire early); the upper bound allows 150 ms:
// Redis itself only checks timeouts in its cron (10 times a second, up to
// 100 ms late), and loopback plus scheduling on a loaded 2-core runner
// accounts for the rest. BRPOP, BLMOVE and BLMPOP time out the same way.
func TestBlockingTimeoutAccuracy(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		c := newClient(t, k.Addr, proto)
		for _, cmd := range [][]any{
			{"BLPOP", "empty", "0.2"},
			{"BRPOP", "empty", "other", "0.2"},
			{"BLMOVE", "empty", "dst", "LEFT", "RIGHT", "0.2"},
			{"BLMPOP", "0.2", "1", "empty", "LEFT"},
		} {
			start := time.Now()
			err := c.Do(ctx, cmd...).Err()
			elapsed := time.Since(start)
			if !errors.Is(err, redis.Nil) {
				t.Fatalf("RESP%d %v = %v, want nil", proto, cmd, err)
			}
			if elapsed < 200*time.Millisecond || elapsed > 350*time.Millisecond {
				t.Errorf("RESP%d %v returned after %v, want 200-350ms", proto, cmd, elapsed)
			}
		}
	}
	// A fraction of a millisecond rounds up, as in Redis: 0.0001 s waits
	// 1 ms rather than forever.
	c := newClient(t, k.Addr, 3)
	if err := c.Do(ctx, "BLPOP", "empty", "0.0001").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("BLPOP 0.0001 = %v", err)
	}
	if n := blockedClients(t, c); n != 0 {
		t.Fatalf("blocked_clients = %d after every wait timed out", n)
	}
}

// TestBlockingServedBeforeTimeout: a waiter with a timeout is served by a
// push that arrives before it, promptly, and the timeout then never fires.
func TestBlockingServedBeforeTimeout(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	c, producer := newClient(t, k.Addr, 2), newClient(t, k.Addr, 2)
	results := make(chan popResult, 1)
	go func() {
		v, err := c.Do(ctx, "BRPOP", "a", "b", "2").StringSlice()
		results <- popResult{0, v, err}
	}()
	waitBlocked(t, producer, 1)
	pushed := time.Now()
	if err := producer.LPush(ctx, "b", "x", "y").Err(); err != nil {
		t.Fatal(err)
	}
	r := <-results
	if r.err != nil || strings.Join(r.val, " ") != "b x" {
		t.Fatalf("BRPOP a b = %q, %v; want [b x]", r.val, r.err)
	}
	if d := time.Since(pushed); d > 500*time.Millisecond {
		t.Fatalf("served %v after the push", d)
	}
	if v, err := producer.LRange(ctx, "b", 0, -1).Result(); err != nil || strings.Join(v, " ") != "y" {
		t.Fatalf("b = %q, %v; want [y]", v, err)
	}
}

// TestBlockingServedByPushInsideExec: a push inside MULTI/EXEC serves a
// waiter once the transaction has run, with what the transaction left.
func TestBlockingServedByPushInsideExec(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	c, producer := newClient(t, k.Addr, 3), newClient(t, k.Addr, 2)
	results := make(chan popResult, 1)
	go func() {
		v, err := c.BLPop(ctx, 0, "q").Result()
		results <- popResult{0, v, err}
	}()
	waitBlocked(t, producer, 1)
	_, err := producer.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, "q", "a", "b")
		p.LPop(ctx, "q")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-results:
		if r.err != nil || strings.Join(r.val, " ") != "q b" {
			t.Fatalf("BLPOP q = %q, %v; want [q b]", r.val, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a push inside EXEC did not serve the waiter")
	}
	waitBlocked(t, producer, 0)
}

// TestBlockingDisconnectedWaiterIsForgotten: a client that disconnects while
// blocked stops waiting: blocked_clients drops back to 0, and a later push
// stays in the list for the next consumer instead of going to the dead one.
func TestBlockingDisconnectedWaiterIsForgotten(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	c := newClient(t, k.Addr, 2)
	raw := dialRaw(t, k.Addr)
	raw.Send(encodeCommand([]string{"BLPOP", "q", "0"}))
	waitBlocked(t, c, 1)
	raw.conn.Close()
	waitBlocked(t, c, 0)

	if err := c.RPush(ctx, "q", "job").Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.LLen(ctx, "q").Result(); err != nil || n != 1 {
		t.Fatalf("LLEN q = %d, %v after the waiter left; the push went nowhere", n, err)
	}
	if v, err := c.BLPop(ctx, time.Second, "q").Result(); err != nil || v[1] != "job" {
		t.Fatalf("next consumer got %q, %v", v, err)
	}
}

// TestBlockingBLMoveFeedsDestinationWaiter: a worker moves jobs from
// "incoming" to "processing" with BLMOVE while another waits on
// "processing" with BLPOP. One push to incoming wakes the first, and the
// move wakes the second: both are served, and both lists end up empty.
// BRPOPLPUSH does the same.
func TestBlockingBLMoveFeedsDestinationWaiter(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	mover, watcher, producer := newClient(t, k.Addr, 3), newClient(t, k.Addr, 2), newClient(t, k.Addr, 3)
	for _, move := range [][]any{
		{"BLMOVE", "incoming", "processing", "LEFT", "RIGHT", "0"},
		{"BRPOPLPUSH", "incoming", "processing", "0"},
	} {
		moved := make(chan popResult, 1)
		go func() {
			v, err := mover.Do(ctx, move...).Text()
			moved <- popResult{0, []string{v}, err}
		}()
		waitBlocked(t, producer, 1)
		watched := make(chan popResult, 1)
		go func() {
			v, err := watcher.BLPop(ctx, 0, "processing").Result()
			watched <- popResult{1, v, err}
		}()
		waitBlocked(t, producer, 2)

		if err := producer.RPush(ctx, "incoming", "job").Err(); err != nil {
			t.Fatal(err)
		}
		for _, ch := range []chan popResult{moved, watched} {
			select {
			case r := <-ch:
				if r.err != nil || r.val[len(r.val)-1] != "job" {
					t.Fatalf("%v: waiter %d got %q, %v", move[0], r.who, r.val, r.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%v: a waiter was not served", move[0])
			}
		}
		if n, err := producer.Exists(ctx, "incoming", "processing").Result(); err != nil || n != 0 {
			t.Fatalf("%v: %d lists left, %v", move[0], n, err)
		}
		waitBlocked(t, producer, 0)
	}
}

// TestBlockingSkipsKeysOfAnotherType: a client blocked on two keys is not
// served from one that meanwhile became a string, and is served from the
// other when it gets a push.
func TestBlockingSkipsKeysOfAnotherType(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	c, producer := newClient(t, k.Addr, 2), newClient(t, k.Addr, 2)
	results := make(chan popResult, 1)
	go func() {
		v, err := c.BLPop(ctx, 0, "a", "b").Result()
		results <- popResult{0, v, err}
	}()
	waitBlocked(t, producer, 1)
	if err := producer.Set(ctx, "a", "string", 0).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-results:
		t.Fatalf("served by a SET: %q, %v", r.val, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := producer.RPush(ctx, "b", "x").Err(); err != nil {
		t.Fatal(err)
	}
	r := <-results
	if r.err != nil || strings.Join(r.val, " ") != "b x" {
		t.Fatalf("BLPOP a b = %q, %v; want [b x]", r.val, r.err)
	}
}

// TestBlockingConsumersExactlyOnce runs producers and blocking consumers
// against an in-process server (so -race watches the blocking registry):
// every job is delivered exactly once, whichever of BLPOP, BRPOP, BLMPOP
// and BLMOVE picks it up.
func TestBlockingConsumersExactlyOnce(t *testing.T) {
	t.Parallel()
	addr := startInProcess(t)
	ctx := context.Background()
	const producers, perProducer, consumers = 4, 150, 8
	const total = producers * perProducer
	var mu sync.Mutex
	seen := map[string]int{}
	delivered, moved := 0, 0
	record := func(v string, viaMove bool) {
		mu.Lock()
		defer mu.Unlock()
		seen[v]++
		delivered++
		if viaMove {
			moved++
		}
	}
	done := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return delivered >= total
	}
	giveUp := time.Now().Add(time.Minute) // if a producer failed
	var wg sync.WaitGroup
	for i := 0; i < consumers; i++ {
		c := newClient(t, addr, 2+i%2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done() && time.Now().Before(giveUp) {
				var v string
				var err error
				switch i % 4 {
				case 0:
					var kv []string
					if kv, err = c.BLPop(ctx, time.Second, "q").Result(); err == nil {
						v = kv[1]
					}
				case 1:
					var kv []string
					if kv, err = c.BRPop(ctx, time.Second, "q").Result(); err == nil {
						v = kv[1]
					}
				case 2:
					var vals []string
					if _, vals, err = c.BLMPop(ctx, time.Second, "left", 1, "q").Result(); err == nil {
						v = vals[0]
					}
				case 3:
					v, err = c.BLMove(ctx, "q", "moved", "LEFT", "LEFT", time.Second).Result()
				}
				if errors.Is(err, redis.Nil) {
					continue // nothing for a second; check whether all is done
				}
				if err != nil {
					t.Error(err)
					return
				}
				record(v, i%4 == 3)
			}
		}()
	}
	for p := 0; p < producers; p++ {
		c := newClient(t, addr, 2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perProducer; j++ {
				if err := c.LPush(ctx, "q", fmt.Sprintf("%d-%d", p, j)).Err(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != total || delivered != total {
		t.Fatalf("%d distinct jobs in %d deliveries, want %d", len(seen), delivered, total)
	}
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("job %s delivered %d times", v, n)
		}
	}
	c := newClient(t, addr, 2)
	if n, err := c.LLen(ctx, "moved").Result(); err != nil || n != int64(moved) {
		t.Fatalf("LLEN moved = %d, %v; want the %d jobs BLMOVE delivered", n, err, moved)
	}
	if n, err := c.Exists(ctx, "q").Result(); err != nil || n != 0 {
		t.Fatalf("jobs left in q: %d, %v", n, err)
	}
}
