package integration

// Sets as applications use them: tag indexes intersected and merged, SSCAN
// over a large set, SPOP as a work queue shared by many workers, SMOVE as an
// atomic hand-over between sets, and SORT of ids by weights kept elsewhere.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestSetsTagIndex(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
			c := newClient(t, k.Addr, proto)
			p := fmt.Sprintf("p%d:", proto)
			tags := map[string][]any{
				"go":    {"a1", "a2", "a3"},
				"db":    {"a2", "a3", "a4"},
				"redis": {"a3", "a4", "a5"},
			}
			for tag, articles := range tags {
				if n, err := c.SAdd(ctx, p+"tag:"+tag, articles...).Result(); err != nil || n != 3 {
					t.Fatalf("SADD %s = %d, %v", tag, n, err)
				}
			}
			if n, _ := c.SAdd(ctx, p+"tag:go", "a1").Result(); n != 0 {
				t.Fatalf("SADD of an existing member = %d", n)
			}
			both, err := c.SInter(ctx, p+"tag:go", p+"tag:db").Result()
			if slices.Sort(both); err != nil || !slices.Equal(both, []string{"a2", "a3"}) {
				t.Fatalf("SINTER go db = %q, %v", both, err)
			}
			all3, err := c.SInter(ctx, p+"tag:go", p+"tag:db", p+"tag:redis").Result()
			if err != nil || !slices.Equal(all3, []string{"a3"}) {
				t.Fatalf("SINTER of three tags = %q, %v", all3, err)
			}
			if n, err := c.SInterCard(ctx, 1, p+"tag:db", p+"tag:redis").Result(); err != nil || n != 1 {
				t.Fatalf("SINTERCARD LIMIT 1 = %d, %v", n, err)
			}
			if n, err := c.SUnionStore(ctx, p+"any", p+"tag:go", p+"tag:redis").Result(); err != nil || n != 5 {
				t.Fatalf("SUNIONSTORE = %d, %v", n, err)
			}
			union, err := c.SMembers(ctx, p+"any").Result()
			if slices.Sort(union); err != nil || !slices.Equal(union, []string{"a1", "a2", "a3", "a4", "a5"}) {
				t.Fatalf("SMEMBERS of the union = %q, %v", union, err)
			}
			only, err := c.SDiff(ctx, p+"any", p+"tag:db").Result()
			if slices.Sort(only); err != nil || !slices.Equal(only, []string{"a1", "a5"}) {
				t.Fatalf("SDIFF = %q, %v", only, err)
			}
			in, err := c.SMIsMember(ctx, p+"tag:go", "a1", "a4").Result()
			if err != nil || !slices.Equal(in, []bool{true, false}) {
				t.Fatalf("SMISMEMBER = %v, %v", in, err)
			}
			// Untagging the last article deletes the tag.
			c.SRem(ctx, p+"tag:go", "a1", "a2", "a3")
			if n, _ := c.Exists(ctx, p+"tag:go").Result(); n != 0 {
				t.Fatal("an emptied tag set still exists")
			}
			if n, err := c.SInterStore(ctx, p+"any", p+"tag:go", p+"tag:db").Result(); err != nil || n != 0 {
				t.Fatalf("SINTERSTORE with a missing tag = %d, %v", n, err)
			}
			if n, _ := c.Exists(ctx, p+"any").Result(); n != 0 {
				t.Fatal("an empty SINTERSTORE result left its destination")
			}
		})
	}
}

// TestSetsSScanLargeSet walks a set too large to come back whole with the
// numeric cursors go-redis parses, and sees every member exactly once.
func TestSetsSScanLargeSet(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	c := newClient(t, k.Addr, 3)
	const n = 2000
	members := make([]any, n)
	for i := range members {
		members[i] = fmt.Sprintf("member:%05d", i)
	}
	if err := c.SAdd(ctx, "big", members...).Err(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var cursor uint64
	calls := 0
	for {
		page, next, err := c.SScan(ctx, "big", cursor, "member:*", 100).Result()
		if err != nil {
			t.Fatalf("SSCAN %d: %v", cursor, err)
		}
		for _, m := range page {
			seen[m]++
		}
		calls++
		if cursor = next; cursor == 0 {
			break
		}
	}
	if calls < 10 {
		t.Fatalf("%d members came back in %d SSCAN calls of COUNT 100", n, calls)
	}
	for _, m := range members {
		if seen[m.(string)] != 1 {
			t.Fatalf("%s returned %d times", m, seen[m.(string)])
		}
	}
}

// TestSetsSPopWorkQueue: many workers pop jobs from one set at once, one at
// a time or several per call; no job is handed out twice and none is lost.
func TestSetsSPopWorkQueue(t *testing.T) {
	t.Parallel()
	const jobs, workers = 3000, 24
	k := startKVD(t)
	ctx := context.Background()
	c := poolClient(t, k.Addr, workers+2)
	all := make([]any, jobs)
	for i := range all {
		all[i] = fmt.Sprint("job:", i)
	}
	if n, err := c.SAdd(ctx, "queue", all...).Result(); err != nil || n != jobs {
		t.Fatalf("SADD = %d, %v", n, err)
	}
	var mu sync.Mutex
	got := make(map[string]int, jobs)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var popped []string
				if w%2 == 0 {
					m, err := c.SPop(ctx, "queue").Result()
					if errors.Is(err, redis.Nil) {
						return
					}
					if err != nil {
						failed.Add(1)
						return
					}
					popped = []string{m}
				} else {
					ms, err := c.SPopN(ctx, "queue", 3).Result()
					if err != nil {
						failed.Add(1)
						return
					}
					if len(ms) == 0 {
						return
					}
					popped = ms
				}
				mu.Lock()
				for _, m := range popped {
					got[m]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d SPOP calls failed", f)
	}
	for _, m := range all {
		if got[m.(string)] != 1 {
			t.Fatalf("%s was popped %d times", m, got[m.(string)])
		}
	}
	if len(got) != jobs {
		t.Fatalf("%d distinct members popped, want %d", len(got), jobs)
	}
	if n, _ := c.Exists(ctx, "queue").Result(); n != 0 {
		t.Fatal("the drained queue still exists")
	}
}

// TestSetsSMoveAtomic: members are handed back and forth between two sets
// by many clients while observers read both sets in one command: a member
// is never in both, never in neither, and of racing SMOVEs of one member
// exactly one succeeds.
func TestSetsSMoveAtomic(t *testing.T) {
	t.Parallel()
	const members, movers, rounds = 40, 12, 150
	k := startKVD(t)
	ctx := context.Background()
	c := poolClient(t, k.Addr, movers+4)
	all := make([]any, members)
	for i := range all {
		all[i] = fmt.Sprint("m", i)
	}
	c.SAdd(ctx, "left", all...)

	var stop atomic.Bool
	var bad atomic.Value
	observed := make(chan int)
	go func() {
		n := 0
		for !stop.Load() {
			union, err1 := c.SUnion(ctx, "left", "right").Result()
			inBoth, err2 := c.SInterCard(ctx, 0, "left", "right").Result()
			switch {
			case err1 != nil || err2 != nil:
				bad.CompareAndSwap(nil, fmt.Sprint("observer: ", err1, err2))
			case len(union) != members:
				bad.CompareAndSwap(nil, fmt.Sprintf("SUNION saw %d members, want %d", len(union), members))
			case inBoth != 0:
				bad.CompareAndSwap(nil, fmt.Sprintf("%d members in both sets at once", inBoth))
			}
			n++
		}
		observed <- n
	}()

	var wg sync.WaitGroup
	var moved atomic.Int64
	for w := 0; w < movers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				m := all[(i*5+w*3)%members]
				from, to := "left", "right"
				if (i+w)%2 == 1 {
					from, to = to, from
				}
				ok, err := c.SMove(ctx, from, to, m).Result()
				if err != nil {
					bad.CompareAndSwap(nil, fmt.Sprint("SMOVE: ", err))
					return
				}
				if ok {
					moved.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	if n := <-observed; n == 0 {
		t.Fatal("the observer never ran")
	}
	if msg := bad.Load(); msg != nil {
		t.Fatal(msg)
	}
	if moved.Load() == 0 {
		t.Fatal("no SMOVE succeeded")
	}
	nl, _ := c.SCard(ctx, "left").Result()
	nr, _ := c.SCard(ctx, "right").Result()
	if nl+nr != members {
		t.Fatalf("SCARD left + right = %d + %d, want %d", nl, nr, members)
	}

	// Racing to claim one member: exactly one SMOVE wins.
	c.SAdd(ctx, "pool", "prize")
	var wins atomic.Int64
	for w := 0; w < movers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := c.SMove(ctx, "pool", fmt.Sprint("winner:", w), "prize").Result(); err == nil && ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if w := wins.Load(); w != 1 {
		t.Fatalf("%d SMOVEs of one member succeeded, want 1", w)
	}
}

// TestSortIDsByWeights sorts a set of ids by weights and names kept in
// other keys, as SORT ... BY ... GET is used, and stores the result.
func TestSortIDsByWeights(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
			c := newClient(t, k.Addr, proto)
			p := fmt.Sprintf("p%d:", proto)
			c.SAdd(ctx, p+"ids", 1, 2, 3, 4)
			c.MSet(ctx, p+"age:1", 40, p+"age:2", 25, p+"age:3", 31, p+"name:1", "ann", p+"name:2", "bob", p+"name:4", "dan")
			got, err := c.Sort(ctx, p+"ids", &redis.Sort{By: p + "age:*", Get: []string{"#", p + "name:*"}, Order: "DESC"}).Result()
			want := []string{"1", "ann", "3", "", "2", "bob", "4", "dan"} // go-redis reads nil as ""
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("SORT BY GET = %q, %v; want %q", got, err, want)
			}
			got, err = c.SortRO(ctx, p+"ids", &redis.Sort{By: p + "age:*", Offset: 1, Count: 2}).Result()
			if err != nil || !slices.Equal(got, []string{"2", "3"}) {
				t.Fatalf("SORT_RO LIMIT 1 2 = %q, %v", got, err)
			}
			if n, err := c.SortStore(ctx, p+"ids", p+"sorted", &redis.Sort{Order: "DESC"}).Result(); err != nil || n != 4 {
				t.Fatalf("SORT STORE = %d, %v", n, err)
			}
			if typ, _ := c.Type(ctx, p+"sorted").Result(); typ != "list" {
				t.Fatalf("SORT STORE made a %s", typ)
			}
			// The stored list sorts in its own order with BY nosort.
			got, err = c.Sort(ctx, p+"sorted", &redis.Sort{By: "nosort"}).Result()
			if err != nil || !slices.Equal(got, []string{"4", "3", "2", "1"}) {
				t.Fatalf("SORT of the stored list BY nosort = %q, %v", got, err)
			}
			if _, err := c.Sort(ctx, p+"name:1", &redis.Sort{}).Result(); err == nil {
				t.Fatal("SORT of a string succeeded")
			}
		})
	}
}
