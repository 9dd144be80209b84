package integration

// Durability: what survives a clean restart and a kill -9, that one data
// directory serves one process, and that SIGTERM drains connections.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestDurabilityCleanRestart: SIGTERM then restart keeps values (in every
// database), TTLs (measured against the wall clock) and drops keys whose TTL
// ran out while the server was down.
func TestDurabilityCleanRestart(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	c := dialRaw(t, k.Addr)

	wantReply(t, c, "+OK\r\n", "SET", "plain", "value")
	wantReply(t, c, "+OK\r\n", "SET", "bin", "a\r\nb\x00c\xff")
	wantReply(t, c, ":7\r\n", "INCRBY", "counter", "7")
	setAt := time.Now()
	wantReply(t, c, "+OK\r\n", "SET", "ttl", "v", "PX", "60000")
	wantReply(t, c, "+OK\r\n", "SET", "short", "v", "PX", "300")
	wantReply(t, c, "+OK\r\n", "SELECT", "3")
	wantReply(t, c, "+OK\r\n", "SET", "db3key", "three")
	wantReply(t, c, "+OK\r\n", "SET", "gone", "x")
	wantReply(t, c, ":1\r\n", "DEL", "gone")

	if err := k.Stop(); err != nil {
		t.Errorf("SIGTERM: kvd did not exit cleanly: %v", err)
	}
	k.Restart(t)
	if wait := 400*time.Millisecond - time.Since(setAt); wait > 0 {
		time.Sleep(wait)
	}

	c = dialRaw(t, k.Addr)
	wantReply(t, c, "$5\r\nvalue\r\n", "GET", "plain")
	wantReply(t, c, "$7\r\na\r\nb\x00c\xff\r\n", "GET", "bin")
	wantReply(t, c, "$1\r\n7\r\n", "GET", "counter")
	wantReply(t, c, ":-1\r\n", "TTL", "plain")
	wantReply(t, c, "$1\r\nv\r\n", "GET", "ttl")
	expected := 60000 - time.Since(setAt).Milliseconds()
	pttl := intReply(t, c, "PTTL", "ttl")
	if d := pttl - expected; d < -2000 || d > 2000 {
		t.Errorf("PTTL ttl after restart = %d ms, want %d ms +- 2000 (set PX 60000 %v ago)", pttl, expected, time.Since(setAt).Round(time.Millisecond))
	}
	wantReply(t, c, "$-1\r\n", "GET", "short")
	wantReply(t, c, ":4\r\n", "DBSIZE")
	wantReply(t, c, "+OK\r\n", "SELECT", "3")
	wantReply(t, c, "$5\r\nthree\r\n", "GET", "db3key")
	wantReply(t, c, ":0\r\n", "EXISTS", "gone")
	wantReply(t, c, ":1\r\n", "DBSIZE")
}

// TestDurabilityKill9: under --appendfsync always every acknowledged write
// survives SIGKILL.
func TestDurabilityKill9(t *testing.T) {
	t.Parallel()
	const writers = 16
	k := startKVD(t, "--appendfsync", "always")
	c := redis.NewClient(&redis.Options{
		Addr: k.Addr, PoolSize: writers + 2, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
	})
	defer c.Close()
	ctx := context.Background()
	// The policy under test must be the one in force.
	if cfg, err := c.ConfigGet(ctx, "appendfsync").Result(); err != nil || cfg["appendfsync"] != "always" {
		t.Errorf("CONFIG GET appendfsync on kvd started with --appendfsync always = %v, %v; want always", cfg, err)
	}

	type acked struct {
		sets    map[string]string // key -> value acknowledged by OK
		counter int64             // last INCR reply
	}
	results := make([]acked, writers)
	var stop sync.WaitGroup
	done := make(chan struct{})
	for w := 0; w < writers; w++ {
		results[w].sets = map[string]string{}
		stop.Add(1)
		go func() {
			defer stop.Done()
			r := &results[w]
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if i%2 == 0 {
					key := fmt.Sprintf("w%d:k%d", w, i)
					val := fmt.Sprintf("v-%d-%d-%s", w, i, strings.Repeat("x", i%50))
					if err := c.Set(ctx, key, val, 0).Err(); err != nil {
						return // the server is gone
					}
					r.sets[key] = val
				} else {
					n, err := c.Incr(ctx, fmt.Sprintf("w%d:ctr", w)).Result()
					if err != nil {
						return
					}
					r.counter = n
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	k.Kill() // while the writers are still writing
	close(done)
	stop.Wait()
	c.Close()

	total := 0
	for _, r := range results {
		total += len(r.sets)
	}
	if total < 100 {
		t.Fatalf("only %d SETs acknowledged in 2 s: too few to judge durability", total)
	}
	t.Logf("%d SETs acknowledged before kill -9", total)

	k.Restart(t)
	v := newClient(t, k.Addr, 2)
	lost := 0
	for w, r := range results {
		keys := make([]string, 0, len(r.sets))
		for key := range r.sets {
			keys = append(keys, key)
		}
		for i := 0; i < len(keys); i += 500 {
			batch := keys[i:min(i+500, len(keys))]
			vals, err := v.MGet(ctx, batch...).Result()
			if err != nil {
				t.Fatalf("MGET after restart: %v", err)
			}
			for j, key := range batch {
				if got, _ := vals[j].(string); got != r.sets[key] {
					if lost++; lost <= 10 {
						t.Errorf("acknowledged SET %s %q lost after kill -9: GET = %v", key, r.sets[key], vals[j])
					}
				}
			}
		}
		got, err := v.Get(ctx, fmt.Sprintf("w%d:ctr", w)).Int64()
		if r.counter > 0 && (err != nil || got < r.counter) {
			t.Errorf("w%d:ctr after kill -9 = %d (%v), but INCR had acknowledged %d", w, got, err, r.counter)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged SETs lost", lost, total)
	}
}

// TestDurabilityDirLock: a second kvd on the same --dir refuses to start and
// says why; the first one keeps serving.
func TestDurabilityDirLock(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	c := dialRaw(t, k.Addr)
	wantReply(t, c, "+OK\r\n", "SET", "before", "1")

	out := &syncBuffer{}
	port := freePort(t)
	second := startProcess(t, out, kvdBinary, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", k.Dir)
	select {
	case <-second.done:
	case <-time.After(10 * time.Second):
		second.stop(syscall.SIGKILL)
		t.Fatalf("a second kvd on the same --dir %s was still running after 10 s; output:\n%s", k.Dir, out)
	}
	if second.err == nil {
		t.Errorf("a second kvd on the same --dir exited 0, want a failure exit status; output:\n%s", out)
	}
	msg := out.String()
	if !strings.Contains(msg, k.Dir) && !strings.Contains(strings.ToLower(msg), "lock") {
		t.Errorf("second kvd's error does not mention the directory %s or a lock:\n%s", k.Dir, msg)
	}
	if pingOnce(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))) == nil {
		t.Errorf("second kvd answers PING on port %d although it could not open the data", port)
	}
	t.Logf("second kvd (%v): %s", second.err, strings.TrimSpace(msg))

	// The first is unharmed: the old connection, new connections, reads and writes.
	wantReply(t, c, "$1\r\n1\r\n", "GET", "before")
	wantReply(t, c, "+OK\r\n", "SET", "after", "2")
	c2 := dialRaw(t, k.Addr)
	wantReply(t, c2, "$1\r\n2\r\n", "GET", "after")
	if err := k.Stop(); err != nil {
		t.Errorf("first kvd did not exit cleanly after the second one failed: %v", err)
	}
	k.Restart(t)
	c3 := dialRaw(t, k.Addr)
	wantReply(t, c3, "$1\r\n2\r\n", "GET", "after")
}

// TestDurabilityGracefulShutdown: SIGTERM while a pipeline of 1000 SETs is
// in flight. kvd exits 0, every reply the client receives is a whole +OK,
// and every acknowledged SET is there after a restart.
func TestDurabilityGracefulShutdown(t *testing.T) {
	t.Parallel()
	const n = 1000
	k := startKVD(t)
	conn, err := net.Dial("tcp", k.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	var pipeline []byte
	value := strings.Repeat("v", 200)
	for i := 0; i < n; i++ {
		pipeline = append(pipeline, encodeCommand([]string{"SET", fmt.Sprintf("p:%04d", i), value})...)
	}
	writeErr := make(chan error, 1)
	go func() {
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := conn.Write(pipeline)
		writeErr <- err
	}()

	r := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	// SIGTERM as soon as the first reply shows the pipeline is being served.
	first, err := r.ReadString('\n')
	if err != nil || first != "+OK\r\n" {
		t.Fatalf("first pipelined reply = %q, %v; want +OK", first, err)
	}
	exit := make(chan error, 1)
	go func() { exit <- k.Stop() }()

	got := 1
	var tail string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if line != "" {
				tail = line
			}
			if !errors.Is(err, io.EOF) && !isConnReset(err) {
				t.Errorf("reading replies after SIGTERM: %v", err)
			}
			break
		}
		if line != "+OK\r\n" {
			t.Fatalf("reply %d after SIGTERM = %q, want +OK", got+1, line)
		}
		got++
	}
	if tail != "" {
		t.Errorf("connection closed in the middle of a reply: %q", tail)
	}
	if got > n {
		t.Errorf("%d replies for %d commands", got, n)
	}
	if err := <-exit; err != nil {
		t.Errorf("kvd exit after SIGTERM with a pipeline in flight: %v (want exit status 0)", err)
	}
	<-writeErr // may fail once the server is gone; that is fine
	t.Logf("%d of %d pipelined SETs acknowledged before shutdown", got, n)

	// Acknowledged SETs are in order: p:0000 .. p:<got-1> must survive.
	k.Restart(t)
	c := newClient(t, k.Addr, 2)
	keys := make([]string, got)
	for i := range keys {
		keys[i] = fmt.Sprintf("p:%04d", i)
	}
	vals, err := c.MGet(context.Background(), keys...).Result()
	if err != nil {
		t.Fatalf("MGET after restart: %v", err)
	}
	for i, v := range vals {
		if v != value {
			t.Errorf("acknowledged SET %s missing after graceful shutdown and restart: %v", keys[i], v)
			break
		}
	}
}

func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}
