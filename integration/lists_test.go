package integration

// Lists as applications use them: a capped event log, a reliable queue with
// a processing list, and many clients pushing and popping one list at once.
// Blocking consumers are in blocking_test.go; exact replies are in the
// conformance corpus (testdata/conformance/lists.txt).

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestListsCappedEventLog: the "latest N events" pattern. Every event is
// an LPUSH, an LTRIM 0 99 and an LRANGE 0 9 in one pipeline. The log never
// grows past 100, LRANGE shows the ten newest, newest first, and at the end
// the log holds exactly the last 100 events in order. Both protocols.
func TestListsCappedEventLog(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		c := newClient(t, k.Addr, proto)
		key := fmt.Sprint("events:", proto)
		const events = 250
		for i := 0; i < events; i++ {
			pipe := c.Pipeline()
			push := pipe.LPush(ctx, key, fmt.Sprint("e", i))
			trim := pipe.LTrim(ctx, key, 0, 99)
			recent := pipe.LRange(ctx, key, 0, 9)
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatalf("RESP%d event %d: %v", proto, i, err)
			}
			// The push sees the log as the previous trim left it.
			if n, want := push.Val(), int64(min(i, 100)+1); n != want {
				t.Fatalf("RESP%d event %d: LPUSH = %d, want %d (the trim must hold the log at 100)", proto, i, n, want)
			}
			if trim.Val() != "OK" {
				t.Fatalf("RESP%d event %d: LTRIM = %q", proto, i, trim.Val())
			}
			got := recent.Val()
			if len(got) != min(i+1, 10) {
				t.Fatalf("RESP%d event %d: LRANGE 0 9 has %d entries", proto, i, len(got))
			}
			for j, e := range got {
				if want := fmt.Sprint("e", i-j); e != want {
					t.Fatalf("RESP%d event %d: LRANGE[%d] = %q, want %q (newest first)", proto, i, j, e, want)
				}
			}
		}
		all, err := c.LRange(ctx, key, 0, -1).Result()
		if err != nil || len(all) != 100 {
			t.Fatalf("RESP%d: final log has %d entries, %v", proto, len(all), err)
		}
		for j, e := range all {
			if want := fmt.Sprint("e", events-1-j); e != want {
				t.Fatalf("RESP%d: log[%d] = %q, want %q", proto, j, e, want)
			}
		}
	}
}

// TestListsReliableQueue: the reliable queue pattern. A worker takes a job
// with LMOVE from the queue to its processing list, and acknowledges it with
// LREM. A job that was taken but not acknowledged is still in the processing
// list to be requeued with RPOPLPUSH; LPOS finds a job's position.
func TestListsReliableQueue(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	c := newClient(t, k.Addr, 3)
	if err := c.RPush(ctx, "queue", "j1", "j2", "j3").Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"j1", "j2"} {
		job, err := c.LMove(ctx, "queue", "processing", "LEFT", "LEFT").Result()
		if err != nil || job != want {
			t.Fatalf("LMOVE = %q, %v; want %s", job, err, want)
		}
	}
	if pos, err := c.LPos(ctx, "processing", "j1", redis.LPosArgs{}).Result(); err != nil || pos != 1 {
		t.Fatalf("LPOS processing j1 = %d, %v", pos, err)
	}
	// j2 is done; j1's worker died.
	if n, err := c.LRem(ctx, "processing", 1, "j2").Result(); err != nil || n != 1 {
		t.Fatalf("LREM = %d, %v", n, err)
	}
	if job, err := c.RPopLPush(ctx, "processing", "queue").Result(); err != nil || job != "j1" {
		t.Fatalf("requeue = %q, %v", job, err)
	}
	got, err := c.LRange(ctx, "queue", 0, -1).Result()
	if err != nil || strings.Join(got, " ") != "j1 j3" {
		t.Fatalf("queue = %q, %v; want [j1 j3]", got, err)
	}
	if n, err := c.Exists(ctx, "processing").Result(); err != nil || n != 0 {
		t.Fatalf("processing list should be gone once empty: %d, %v", n, err)
	}
}

// TestListsConcurrentPushPop: producers LPUSH and consumers RPOP one list
// from many connections at once, against an in-process server so that
// -race watches the server too. Every element comes out exactly once, the
// totals match, and since the list is a FIFO each consumer sees any one
// producer's elements in the order they were pushed.
func TestListsConcurrentPushPop(t *testing.T) {
	t.Parallel()
	addr := startInProcess(t)
	ctx := context.Background()
	const producers, perProducer, consumers = 8, 250, 8
	const total = producers * perProducer
	pushClient, popClient := poolClient(t, addr, producers+2), poolClient(t, addr, consumers+2)

	giveUp := time.Now().Add(time.Minute) // if a producer failed
	var popped atomic.Int64
	var mu sync.Mutex
	seen := make(map[string]bool, total)
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProducer; i++ {
				if err := pushClient.LPush(ctx, "q", fmt.Sprintf("%d:%d", p, i)).Err(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for w := 0; w < consumers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := make([]int, producers) // per producer, the last sequence seen
			for p := range last {
				last[p] = -1
			}
			for popped.Load() < total && time.Now().Before(giveUp) {
				v, err := popClient.RPop(ctx, "q").Result()
				if err == redis.Nil {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				popped.Add(1)
				ps, is, _ := strings.Cut(v, ":")
				p, _ := strconv.Atoi(ps)
				i, _ := strconv.Atoi(is)
				if i <= last[p] {
					t.Errorf("consumer %d got %s after %d:%d", w, v, p, last[p])
				}
				last[p] = i
				mu.Lock()
				if seen[v] {
					t.Errorf("%s popped twice", v)
				}
				seen[v] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != total || popped.Load() != total {
		t.Fatalf("%d distinct elements in %d pops, want %d", len(seen), popped.Load(), total)
	}
	if n, err := pushClient.LLen(ctx, "q").Result(); err != nil || n != 0 {
		t.Fatalf("LLEN q = %d, %v after everything was popped", n, err)
	}
}
