package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// pipelineMix is one pipeline that crosses every boundary of kvd's write
// groups (server/pipeline.go): errors inside a group, a command reaching
// keys its key positions do not name (SORT ... BY/STORE), MULTI/EXEC,
// a blocking command, SELECT, a rename and FLUSHDB.
var pipelineMix = [][]string{
	{"SET", "s", "notanumber"}, {"INCR", "n"}, {"INCR", "s"}, {"LPUSH", "l", "3", "1", "2"},
	{"SET", "w_1", "10"}, {"SET", "w_2", "5"}, {"SET", "w_3", "1"},
	{"SORT", "l", "BY", "w_*", "STORE", "sorted"}, {"INCR", "n"}, {"LRANGE", "sorted", "0", "-1"},
	{"GET", "n"}, {"MULTI"}, {"INCR", "n"}, {"EXEC"}, {"RPUSH", "q", "a"}, {"BLPOP", "q", "1"},
	{"SET", "k", "v", "EX", "100"}, {"TTL", "k"}, {"DEL", "s"}, {"INCR", "s"}, {"MGET", "n", "s", "l"},
	{"SELECT", "1"}, {"SET", "n", "x"}, {"GET", "n"}, {"SELECT", "0"}, {"GET", "n"},
	{"HSET", "h", "f", "1"}, {"HINCRBY", "h", "f", "2"}, {"ZADD", "z", "1", "a"}, {"ZINCRBY", "z", "2", "a"},
	{"RENAME", "h", "h2"}, {"HGETALL", "h2"}, {"FLUSHDB"}, {"DBSIZE"},
}

// pipelineMixReplies is what redis-server 7.0.15 answers to pipelineMix,
// byte for byte.
const pipelineMixReplies = "+OK\r\n:1\r\n-ERR value is not an integer or out of range\r\n:3\r\n" +
	"+OK\r\n+OK\r\n+OK\r\n:3\r\n:2\r\n*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n2\r\n" +
	"+OK\r\n+QUEUED\r\n*1\r\n:3\r\n:1\r\n*2\r\n$1\r\nq\r\n$1\r\na\r\n+OK\r\n:100\r\n:1\r\n:1\r\n" +
	"*3\r\n$1\r\n3\r\n$1\r\n1\r\n$-1\r\n+OK\r\n+OK\r\n$1\r\nx\r\n+OK\r\n$1\r\n3\r\n:1\r\n:3\r\n:1\r\n" +
	"$1\r\n3\r\n+OK\r\n*2\r\n$1\r\nf\r\n$1\r\n3\r\n+OK\r\n:0\r\n"

func sendPipeline(t *testing.T, addr string, cmds [][]string) string {
	t.Helper()
	c := dialRaw(t, addr)
	var buf []byte
	for _, cmd := range cmds {
		buf = append(buf, encodeCommand(cmd)...)
	}
	c.Send(buf) // one write: the server reads it as one batch
	var out strings.Builder
	for range cmds {
		out.Write(c.ReadReply())
	}
	return out.String()
}

func TestPipelineGroupsReplyAsRedis(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	if got := sendPipeline(t, k.Addr, pipelineMix); got != pipelineMixReplies {
		t.Fatalf("kvd's replies differ from Redis's:\n got %q\nwant %q", got, pipelineMixReplies)
	}
	// Replayed on a fresh connection: the state the first run left behind
	// (FLUSHDB emptied db 0) gives the same replies again.
	if got := sendPipeline(t, k.Addr, pipelineMix); got != pipelineMixReplies {
		t.Fatalf("second run differs:\n got %q\nwant %q", got, pipelineMixReplies)
	}
}

func TestPipelineGroupsLiveAgainstRedis(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	if got := sendPipeline(t, r.Addr, pipelineMix); got != pipelineMixReplies {
		t.Fatalf("redis-server's replies changed; re-record pipelineMixReplies:\n got %q", got)
	}
}

// Many clients pipelining read-modify-write commands on shared keys lose
// nothing: groups lock their keys and commit whole.
func TestPipelineGroupsConcurrentCounts(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	const clients, rounds, depth = 16, 20, 50
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, k.Addr, 2)
			for range rounds {
				p := c.Pipeline()
				for j := range depth {
					p.Incr(ctx, "ctr")
					p.HIncrBy(ctx, "h", fmt.Sprintf("f%d", j%5), 1)
					p.RPush(ctx, "log", i)
				}
				if _, err := p.Exec(ctx); err != nil {
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
	c := newClient(t, k.Addr, 2)
	const total = clients * rounds * depth
	if n, err := c.Get(ctx, "ctr").Int(); err != nil || n != total {
		t.Errorf("ctr = %d, %v; want %d", n, err, total)
	}
	if n, err := c.LLen(ctx, "log").Result(); err != nil || n != total {
		t.Errorf("LLEN log = %d, %v; want %d", n, err, total)
	}
	vals, err := c.HGetAll(ctx, "h").Result()
	if err != nil || len(vals) != 5 {
		t.Fatalf("HGETALL h = %v, %v", vals, err)
	}
	for f, v := range vals {
		if v != fmt.Sprint(total/5) {
			t.Errorf("h[%s] = %s, want %d", f, v, total/5)
		}
	}
}

// A pipelined group's writes abort another client's WATCH, as separate
// commands would.
func TestPipelineGroupTouchesWatchers(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	watcher := newClient(t, k.Addr, 2)
	writer := newClient(t, k.Addr, 2)
	err := watcher.Watch(ctx, func(tx *redis.Tx) error {
		p := writer.Pipeline()
		p.Set(ctx, "other", "1", 0)
		p.Set(ctx, "watched", "changed", 0)
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "watched", "mine", 0)
			return nil
		})
		return err
	}, "watched")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("EXEC after a pipelined write to the watched key: %v, want TxFailedErr", err)
	}
}

// Pipeline groups share transactions with other clients' writes, and a
// script that writes and then reaches an undeclared key breaks a shared
// transaction (then reruns exclusively). Whatever the interleaving, each
// pipeline gets exactly its own two replies and every INCR counts once.
// (The rerun of a group is checked deterministically by
// server.TestPipelineGroupBodyRunsAgainCleanly; here timing decides.)
func TestPipelineGroupsBesideBrokenScripts(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	const breakers, pipeliners, rounds = 4, 4, 300
	stop := make(chan struct{})
	var breakersDone sync.WaitGroup
	for i := range breakers {
		breakersDone.Add(1)
		go func() {
			defer breakersDone.Done()
			c := newClient(t, k.Addr, 2)
			key := fmt.Sprintf("declared%d", i)
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := c.Eval(ctx, "redis.call('INCR', KEYS[1]); return redis.call('INCR', 'undeclared')", []string{key}).Err()
				if err != nil {
					t.Errorf("breaking script: %v", err)
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for i := range pipeliners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, k.Addr, 2)
			ctr := fmt.Sprintf("ctr%d", i)
			for r := 1; r <= rounds; r++ {
				p := c.Pipeline()
				set := p.Set(ctx, fmt.Sprintf("k%d", i), r, 0)
				incr := p.Incr(ctx, ctr)
				if _, err := p.Exec(ctx); err != nil {
					t.Errorf("pipeline %d round %d: %v", i, r, err)
					return
				}
				if set.Val() != "OK" || incr.Val() != int64(r) {
					t.Errorf("pipeline %d round %d: SET %q, INCR %d; want OK, %d", i, r, set.Val(), incr.Val(), r)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	breakersDone.Wait()
}

// A run of pipelined reads is served from one snapshot: with another
// client rewriting a and b together (MSET), every pipelined GET a, GET b
// sees the same generation. Served one by one, the two reads could fall
// on either side of an MSET.
//
// The guarantee covers the commands of one read from the socket, as in
// Redis, where a pipeline split across reads lets other clients run in
// between. redcon reads into what is left of a 4 KiB buffer, so on a long
// connection some pipeline eventually straddles the buffer's end and
// arrives in two reads. Each pipeline therefore goes on a new connection,
// whose buffer starts empty: its 40 bytes arrive in one read.
func TestPipelinedReadsSeeOneMoment(t *testing.T) {
	t.Parallel()
	pipelinedReadsSeeOneMoment(t)
}

// The same with the read cache on: a snapshot may read through it only
// while nothing is written.
func TestPipelinedReadsSeeOneMomentThroughTheReadCache(t *testing.T) {
	t.Parallel()
	pipelinedReadsSeeOneMoment(t, "--read-cache-size", "8mb")
}

func pipelinedReadsSeeOneMoment(t *testing.T, kvdArgs ...string) {
	k := startKVD(t, kvdArgs...)
	ctx := context.Background()
	writer := newClient(t, k.Addr, 2)
	if err := writer.MSet(ctx, "a", 0, "b", 0).Err(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if err := writer.MSet(ctx, "a", i, "b", i).Err(); err != nil {
				writerDone <- err
				return
			}
		}
	}()
	pipeline := append(encodeCommand([]string{"GET", "a"}), encodeCommand([]string{"GET", "b"})...)
	for i := range 2000 {
		reader := dialRaw(t, k.Addr)
		reader.Send(pipeline)
		a, b := reader.ReadReply(), reader.ReadReply()
		reader.conn.Close()
		if !bytes.Equal(a, b) {
			t.Fatalf("read %d: GET a = %q, GET b = %q in one pipeline", i, a, b)
		}
	}
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
}
