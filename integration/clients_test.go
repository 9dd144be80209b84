package integration

// Real clients: go-redis v9 in RESP3 (its default) and RESP2, and redis-cli
// in its usual modes, against kvd.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestClientsGoRedis(t *testing.T) {
	t.Parallel()
	for _, proto := range []int{3, 2} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
			t.Parallel()
			goRedisCheck(t, proto)
		})
	}
}

func goRedisCheck(t *testing.T, proto int) {
	k := startKVD(t, "--appendfsync", "no")
	opts := &redis.Options{Addr: k.Addr}
	if proto == 2 {
		opts.Protocol = 2
	} // else: go-redis's default, which is RESP3
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// The negotiated protocol: HELLO without a version reports it.
	hello, err := c.Do(ctx, "HELLO").Result()
	if err != nil {
		t.Fatalf("HELLO: %v", err)
	}
	switch proto {
	case 3:
		m, ok := hello.(map[any]any)
		if !ok {
			t.Fatalf("HELLO on a default (RESP3) client = %T %v, want a map: RESP3 was not negotiated", hello, hello)
		}
		if m["proto"] != int64(3) {
			t.Errorf("HELLO proto = %v, want 3", m["proto"])
		}
		h3, err := c.Do(ctx, "HELLO", "3").Result()
		if m3, ok := h3.(map[any]any); err != nil || !ok || m3["server"] != "redis" || m3["proto"] != int64(3) {
			t.Errorf("HELLO 3 = %T %v, %v; want a map with server=redis, proto=3", h3, h3, err)
		}
		// A reply whose shape depends on the protocol: a map in RESP3.
		if cg, err := c.Do(ctx, "CONFIG", "GET", "appendfsync").Result(); err != nil {
			t.Errorf("CONFIG GET appendfsync via Do: %v", err)
		} else if m, ok := cg.(map[any]any); !ok || m["appendfsync"] != "no" {
			t.Errorf("CONFIG GET appendfsync in RESP3 = %T %v, want map[appendfsync:no]", cg, cg)
		}
	case 2:
		arr, ok := hello.([]any)
		if !ok {
			t.Fatalf("HELLO on a Protocol: 2 client = %T %v, want a flat array", hello, hello)
		}
		i := slices.Index(arr, any("proto"))
		if i < 0 || i+1 >= len(arr) || arr[i+1] != int64(2) {
			t.Errorf("HELLO on a Protocol: 2 client = %v, want proto 2", arr)
		}
	}

	// Strings and TTLs.
	if err := c.Set(ctx, "s", "hello", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if v, err := c.Get(ctx, "s").Result(); err != nil || v != "hello" {
		t.Errorf("GET s = %q, %v", v, err)
	}
	if _, err := c.Get(ctx, "missing").Result(); err != redis.Nil {
		t.Errorf("GET missing: err = %v, want redis.Nil", err)
	}
	if n, err := c.Incr(ctx, "n").Result(); err != nil || n != 1 {
		t.Errorf("INCR n = %d, %v; want 1", n, err)
	}
	if n, err := c.IncrBy(ctx, "n", 41).Result(); err != nil || n != 42 {
		t.Errorf("INCRBY n 41 = %d, %v; want 42", n, err)
	}
	if _, err := c.Incr(ctx, "s").Result(); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("INCR on a non-number: err = %v, want 'value is not an integer'", err)
	}
	if ok, err := c.Expire(ctx, "s", 100*time.Second).Result(); err != nil || !ok {
		t.Errorf("EXPIRE s 100 = %v, %v", ok, err)
	}
	if ttl, err := c.TTL(ctx, "s").Result(); err != nil || ttl <= 90*time.Second || ttl > 100*time.Second {
		t.Errorf("TTL s = %v, %v; want ~100s", ttl, err)
	}
	if ttl, err := c.TTL(ctx, "n").Result(); err != nil || ttl != -1 {
		t.Errorf("TTL n (no expiry) = %v, %v; want -1 (go-redis: -1ns)", ttl, err)
	}
	if ttl, err := c.TTL(ctx, "missing").Result(); err != nil || ttl != -2 {
		t.Errorf("TTL missing = %v, %v; want -2 (go-redis: -2ns)", ttl, err)
	}
	if ok, err := c.Expire(ctx, "missing", time.Second).Result(); err != nil || ok {
		t.Errorf("EXPIRE missing = %v, %v; want false", ok, err)
	}

	// MSET/MGET.
	if err := c.MSet(ctx, "m1", "a", "m2", "b").Err(); err != nil {
		t.Fatalf("MSET: %v", err)
	}
	if vals, err := c.MGet(ctx, "m1", "missing", "m2").Result(); err != nil || len(vals) != 3 ||
		vals[0] != "a" || vals[1] != nil || vals[2] != "b" {
		t.Errorf("MGET m1 missing m2 = %v, %v; want [a <nil> b]", vals, err)
	}

	// SCAN over 1000 keys: every key exactly once.
	const nscan = 1000
	pipe := c.Pipeline()
	for i := 0; i < nscan; i++ {
		pipe.Set(ctx, fmt.Sprintf("scan:%04d", i), i, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("loading scan keys: %v", err)
	}
	seen := map[string]int{}
	iter := c.Scan(ctx, 0, "scan:*", 100).Iterator()
	for iter.Next(ctx) {
		seen[iter.Val()]++
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN iterator: %v", err)
	}
	missing, dups := 0, 0
	for i := 0; i < nscan; i++ {
		switch seen[fmt.Sprintf("scan:%04d", i)] {
		case 0:
			missing++
		case 1:
		default:
			dups++
		}
	}
	if missing > 0 || dups > 0 || len(seen) != nscan {
		t.Errorf("SCAN MATCH scan:* COUNT 100: %d distinct keys, %d missed, %d returned more than once; want %d exactly once",
			len(seen), missing, dups, nscan)
	}
	// Unfiltered SCAN sees the other keys too.
	all := 0
	iter = c.Scan(ctx, 0, "", 0).Iterator()
	for iter.Next(ctx) {
		all++
	}
	if err := iter.Err(); err != nil || all != nscan+4 {
		t.Errorf("SCAN over everything: %d keys, %v; want %d", all, err, nscan+4)
	}

	// Client names: on a dedicated connection and through the ClientName option.
	conn := c.Conn()
	if ok, err := conn.ClientSetName(ctx, "conn-name").Result(); err != nil || !ok {
		t.Errorf("CLIENT SETNAME conn-name = %v, %v", ok, err)
	}
	if name, err := conn.ClientGetName(ctx).Result(); err != nil || name != "conn-name" {
		t.Errorf("CLIENT GETNAME after SETNAME = %q, %v; want conn-name", name, err)
	}
	conn.Close()
	named := redis.NewClient(&redis.Options{Addr: k.Addr, Protocol: opts.Protocol, ClientName: "opt-name"})
	defer named.Close()
	if name, err := named.ClientGetName(ctx).Result(); err != nil || name != "opt-name" {
		t.Errorf("CLIENT GETNAME with Options.ClientName = %q, %v; want opt-name", name, err)
	}

	// A pipeline of 100 commands.
	pipe = c.Pipeline()
	var cmds []redis.Cmder
	for i := 0; i < 100; i++ {
		if i%2 == 0 {
			cmds = append(cmds, pipe.Set(ctx, fmt.Sprintf("pipe:%d", i), i, 0))
		} else {
			cmds = append(cmds, pipe.Incr(ctx, "pipe:ctr"))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("pipeline of 100: %v", err)
	}
	for i, cmd := range cmds {
		if i%2 == 0 {
			if v, err := cmd.(*redis.StatusCmd).Result(); err != nil || v != "OK" {
				t.Errorf("pipeline command %d (SET) = %q, %v", i, v, err)
			}
		} else if v, err := cmd.(*redis.IntCmd).Result(); err != nil || v != int64(i/2+1) {
			t.Errorf("pipeline command %d (INCR) = %d, %v; want %d", i, v, err, i/2+1)
		}
	}

	// INFO keyspace agrees with DBSIZE and the one key with a TTL.
	size, err := c.DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("DBSIZE: %v", err)
	}
	if want := int64(nscan + 4 + 51); size != want {
		t.Errorf("DBSIZE = %d, want %d", size, want)
	}
	info, err := c.Info(ctx, "keyspace").Result()
	if err != nil {
		t.Fatalf("INFO keyspace: %v", err)
	}
	if want := fmt.Sprintf("db0:keys=%d,expires=1,", size); !strings.Contains(info, want) || !strings.Contains(info, "# Keyspace") {
		t.Errorf("INFO keyspace = %q, want a '# Keyspace' section with %q", info, want)
	}

	// CONFIG GET.
	if cfg, err := c.ConfigGet(ctx, "appendfsync").Result(); err != nil || len(cfg) != 1 || cfg["appendfsync"] != "no" {
		t.Errorf("CONFIG GET appendfsync = %v, %v; want map[appendfsync:no] (started with --appendfsync no)", cfg, err)
	}
	if cfg, err := c.ConfigGet(ctx, "append*").Result(); err != nil || cfg["appendfsync"] != "no" {
		t.Errorf("CONFIG GET append* = %v, %v; want appendfsync:no among them", cfg, err)
	}

	// The DB option selects a database on every pooled connection.
	db3 := redis.NewClient(&redis.Options{Addr: k.Addr, Protocol: opts.Protocol, DB: 3, PoolSize: 4})
	defer db3.Close()
	for i := 0; i < 8; i++ { // several, so that more than one pooled connection is used
		if err := db3.Set(ctx, fmt.Sprintf("db3:%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET on a DB: 3 client: %v", err)
		}
	}
	if n, err := db3.DBSize(ctx).Result(); err != nil || n != 8 {
		t.Errorf("DBSIZE on a DB: 3 client = %d, %v; want 8", n, err)
	}
	if n, err := c.Exists(ctx, "db3:0").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS db3:0 on db 0 = %d, %v; want 0 (it was written to db 3)", n, err)
	}
	if v, err := db3.Get(ctx, "db3:7").Result(); err != nil || v != "7" {
		t.Errorf("GET db3:7 on a DB: 3 client = %q, %v", v, err)
	}
	if info, err := c.Info(ctx, "keyspace").Result(); err != nil || !strings.Contains(info, "db3:keys=8,expires=0,") {
		t.Errorf("INFO keyspace after writes to db 3 = %q, %v; want db3:keys=8,expires=0", info, err)
	}
}

// redisCLI runs redis-cli with args and optional stdin, returning stdout.
func redisCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "redis-cli", args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%v (stderr %q)", err, stderr.String())
	}
	return string(out), err
}

func TestClientsRedisCLI(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not installed")
	}
	k := startKVD(t)
	port := strconv.Itoa(k.Port)
	ctx := context.Background()

	if out, err := redisCLI(t, "", "-p", port, "ping"); err != nil || out != "PONG\n" {
		t.Errorf("redis-cli ping = %q, %v; want PONG", out, err)
	}

	// --scan --pattern lists exactly the matching keys.
	c := newClient(t, k.Addr, 3)
	var want []string
	for i := 0; i < 150; i++ {
		user := fmt.Sprintf("user:%d", i)
		want = append(want, user)
		if err := c.MSet(ctx, user, "x", fmt.Sprintf("order:%d", i), "y", fmt.Sprintf("users:%d", i), "z").Err(); err != nil {
			t.Fatal(err)
		}
	}
	out, err := redisCLI(t, "", "-p", port, "--scan", "--pattern", "user:*")
	got := strings.Fields(out)
	sort.Strings(got)
	sort.Strings(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("redis-cli --scan --pattern 'user:*': %d keys (%v), want the %d user:* keys; first keys %v", len(got), err, len(want), got[:min(5, len(got))])
	}

	// --pipe with 1000 SETs in RESP (it ends with an ECHO of random bytes that
	// must come back byte-exact).
	var resp bytes.Buffer
	for i := 0; i < 1000; i++ {
		resp.Write(encodeCommand([]string{"SET", fmt.Sprintf("piped:%d", i), strconv.Itoa(i)}))
	}
	out, err = redisCLI(t, resp.String(), "-p", port, "--pipe")
	if err != nil || !strings.Contains(out, "errors: 0, replies: 1000") {
		t.Errorf("redis-cli --pipe with 1000 SETs = %q, %v; want 'errors: 0, replies: 1000'", out, err)
	}
	if v, err := c.Get(ctx, "piped:999").Result(); err != nil || v != "999" {
		t.Errorf("GET piped:999 after --pipe = %q, %v", v, err)
	}

	// -3: HELLO 3 then the command.
	if out, err := redisCLI(t, "", "-3", "-p", port, "set", "a", "b"); err != nil || out != "OK\n" {
		t.Errorf("redis-cli -3 set a b = %q, %v; want OK", out, err)
	}
	if out, err := redisCLI(t, "", "-3", "-p", port, "get", "a"); err != nil || out != "b\n" {
		t.Errorf("redis-cli -3 get a = %q, %v; want b", out, err)
	}
	if out, err := redisCLI(t, "", "-3", "-p", port, "get", "nope"); err != nil || out != "\n" {
		t.Errorf("redis-cli -3 get nope = %q, %v; want an empty line (RESP3 null)", out, err)
	}

	// Commands on stdin.
	if out, err := redisCLI(t, "SET x 1\nINCR x\n", "-p", port); err != nil || out != "OK\n2\n" {
		t.Errorf("echo 'SET x 1\\nINCR x' | redis-cli = %q, %v; want \"OK\\n2\\n\"", out, err)
	}

	// Interactive redis-cli sends COMMAND DOCS once; it must not be an error.
	for _, args := range [][]string{{"COMMAND", "DOCS", "GET"}, {"COMMAND", "DOCS"}} {
		out, err := redisCLI(t, "", append([]string{"-p", port}, args...)...)
		if err != nil || strings.Contains(out, "ERR") || strings.Contains(out, "unknown") {
			t.Errorf("redis-cli %s = %.200q, %v; want a reply without error", strings.Join(args, " "), out, err)
		}
	}
	if doc, err := c.Do(ctx, "COMMAND", "DOCS", "GET").Result(); err != nil {
		t.Errorf("COMMAND DOCS GET via go-redis: %v", err)
	} else if m, ok := doc.(map[any]any); !ok || len(m) != 1 || m["get"] == nil {
		t.Errorf("COMMAND DOCS GET (RESP3) = %T %v, want a map with the key \"get\"", doc, doc)
	}

	// A real interactive session on a pseudo-terminal (TERM=dumb keeps
	// linenoise from querying the cursor position).
	if _, err := exec.LookPath("script"); err == nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, "script", "-qec", "redis-cli -p "+port, "/dev/null")
		cmd.Env = append(os.Environ(), "TERM=dumb")
		pr, pw, _ := os.Pipe()
		cmd.Stdin = pr
		var outBuf bytes.Buffer
		cmd.Stdout = &outBuf
		cmd.Stderr = &outBuf
		if err := cmd.Start(); err != nil {
			t.Fatalf("script: %v", err)
		}
		pr.Close()
		pw.Write([]byte("SET y 2\nGET y\n"))
		time.Sleep(500 * time.Millisecond)
		pw.Write([]byte("quit\n"))
		pw.Close()
		err := cmd.Wait()
		out := outBuf.String()
		if err != nil || !strings.Contains(out, "> OK") || !strings.Contains(out, "> \"2\"") {
			t.Errorf("interactive redis-cli (SET y 2, GET y): %v, output %q; want OK and \"2\"", err, out)
		}
	} else {
		t.Log("script(1) not installed: interactive redis-cli session skipped")
	}
}
