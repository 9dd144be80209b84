package server

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// testScripting returns the scripting engine of s, with its busy threshold
// lowered so that runaway-script tests take milliseconds.
func testScripting(t *testing.T, s *Server, threshold time.Duration) *scripting {
	t.Helper()
	e := s.scripting
	if e == nil {
		t.Fatal("no scripting engine registered")
	}
	e.busyThreshold = threshold
	return e
}

// runAsync runs a command on its own goroutine and returns its reply on a
// channel.
func runAsync(c *Client, args ...string) <-chan string {
	out := make(chan string, 1)
	go func() { out <- run(c, args...) }()
	return out
}

// waitReply waits for a reply from runAsync.
func waitReply(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no reply within 10s")
		return ""
	}
}

// waitBusy polls with PING until the server answers -BUSY.
func waitBusy(t *testing.T, c *Client) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r := run(c, "ping"); strings.HasPrefix(r, "-BUSY") {
			return r
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the server never became busy")
	return ""
}

const spinScript = "local i = 0 while true do i = i + 1 end"

func TestScriptBusyAndKill(t *testing.T) {
	s := newTestServer(t, io.Discard)
	testScripting(t, s, 50*time.Millisecond)
	a, b := newTestClient(s), newTestClient(s)

	if got := run(b, "script", "kill"); got != "-"+errNotBusy+"\r\n" {
		t.Fatalf("SCRIPT KILL with nothing running: %q", got)
	}
	reply := runAsync(a, "eval", spinScript, "0")
	if got := waitBusy(t, b); got != "-"+errBusyEval+"\r\n" {
		t.Fatalf("PING while busy: %q", got)
	}
	if got := run(b, "function", "kill"); got != "-"+errBusyEval+"\r\n" {
		t.Fatalf("FUNCTION KILL on an EVAL: %q", got)
	}
	if got := run(b, "function", "stats"); got != "-"+errBusyEval+"\r\n" {
		t.Fatalf("FUNCTION STATS during an EVAL: %q", got)
	}
	// Allowed while busy, and rejected commands abort a transaction.
	if got := run(b, "multi"); got != "+OK\r\n" {
		t.Fatalf("MULTI while busy: %q", got)
	}
	if got := run(b, "get", "k"); got != "-"+errBusyEval+"\r\n" {
		t.Fatalf("GET in MULTI while busy: %q", got)
	}
	if got := run(newTestClient(s), "script", "kill"); got != "+OK\r\n" {
		t.Fatalf("SCRIPT KILL: %q", got)
	}
	want := "-ERR Script killed by user with SCRIPT KILL... script: " + sha1Hex(spinScript) + ", on @user_script:1.\r\n"
	if got := waitReply(t, reply); got != want {
		t.Fatalf("killed script replied %q, want %q", got, want)
	}
	if got := run(b, "exec"); got != "-EXECABORT Transaction discarded because of previous errors.\r\n" {
		t.Fatalf("EXEC after a BUSY refusal: %q", got)
	}
	if got := run(b, "ping"); got != "+PONG\r\n" {
		t.Fatalf("PING after the kill: %q", got)
	}
	// pcall cannot swallow the kill.
	reply = runAsync(a, "eval", "while true do pcall(function() while true do end end) end", "0")
	waitBusy(t, b)
	run(b, "script", "kill")
	if got := waitReply(t, reply); !strings.HasPrefix(got, "-ERR Script killed by user with SCRIPT KILL...") {
		t.Fatalf("killed pcall loop replied %q", got)
	}
}

func TestScriptThatWroteIsUnkillable(t *testing.T) {
	s := newTestServer(t, io.Discard)
	testScripting(t, s, 50*time.Millisecond)
	a, b := newTestClient(s), newTestClient(s)
	// Writes, then runs for 300ms (measured with TIME) and returns.
	script := `redis.call('set', 'w', 1)
local t = redis.call('time')
local start = t[1] * 1000000 + t[2]
repeat
  t = redis.call('time')
until t[1] * 1000000 + t[2] - start > 300000
return 'done'`
	reply := runAsync(a, "eval", script, "0")
	waitBusy(t, b)
	for _, kill := range [][]string{{"script", "kill"}, {"function", "kill"}} {
		if got := run(b, kill...); got != "-"+errUnkillable+"\r\n" {
			t.Fatalf("%v on a script that wrote: %q", kill, got)
		}
	}
	if got := waitReply(t, reply); got != "$4\r\ndone\r\n" {
		t.Fatalf("script replied %q", got)
	}
	if got := run(b, "get", "w"); got != "$1\r\n1\r\n" {
		t.Fatalf("GET w: %q", got)
	}
}

func TestFunctionBusyAndKill(t *testing.T) {
	s := newTestServer(t, io.Discard)
	testScripting(t, s, 50*time.Millisecond)
	a, b := newTestClient(s), newTestClient(s)
	lib := "#!lua name=spin\nredis.register_function('spin', function() " + spinScript + " end)"
	if got := run(a, "function", "load", lib); got != "$4\r\nspin\r\n" {
		t.Fatalf("FUNCTION LOAD: %q", got)
	}
	reply := runAsync(a, "fcall", "spin", "0")
	if got := waitBusy(t, b); got != "-"+errBusyFunction+"\r\n" {
		t.Fatalf("PING while a function is busy: %q", got)
	}
	if got := run(b, "script", "kill"); got != "-"+errBusyFunction+"\r\n" {
		t.Fatalf("SCRIPT KILL on a function: %q", got)
	}
	stats := run(b, "function", "stats")
	if !strings.Contains(stats, "$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nfcall\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:") {
		t.Fatalf("FUNCTION STATS: %q", stats)
	}
	if got := run(b, "function", "kill"); got != "+OK\r\n" {
		t.Fatalf("FUNCTION KILL: %q", got)
	}
	want := "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
	if got := waitReply(t, reply); got != want {
		t.Fatalf("killed function replied %q, want %q", got, want)
	}
	// The function state survives the kill.
	if got := run(a, "function", "load", "#!lua name=ok\nredis.register_function('ok', function() return 'fine' end)"); got != "$2\r\nok\r\n" {
		t.Fatalf("FUNCTION LOAD after a kill: %q", got)
	}
	if got := run(a, "fcall", "ok", "0"); got != "$4\r\nfine\r\n" {
		t.Fatalf("FCALL after a kill: %q", got)
	}
}

// A script is atomic: concurrent read-modify-write scripts never lose an
// update, and readers never see half of a script's writes.
func TestScriptAtomicity(t *testing.T) {
	s := newTestServer(t, io.Discard)
	const clients, each = 8, 50
	incr := "local v = tonumber(redis.call('get', KEYS[1]) or '0') redis.call('set', KEYS[1], v + 1) return v + 1"
	pair := "redis.call('set', 'a', ARGV[1]) redis.call('set', 'b', ARGV[1])"
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			c := newTestClient(s)
			for j := 0; j < each; j++ {
				if r := run(c, "eval", incr, "1", "n"); r[0] != ':' {
					t.Errorf("EVAL: %q", r)
					return
				}
				run(c, "eval", pair, "0", string(rune('a'+j%26)))
			}
		}()
		go func() {
			defer wg.Done()
			c := newTestClient(s)
			for j := 0; j < each; j++ {
				r := run(c, "mget", "a", "b")
				if r == "*2\r\n$-1\r\n$-1\r\n" {
					continue // before the first script
				}
				if parts := strings.Split(r, "\r\n"); len(parts) != 6 || parts[2] != parts[4] {
					t.Errorf("a script's writes seen half done: %q", r)
				}
			}
		}()
	}
	wg.Wait()
	if got := run(newTestClient(s), "get", "n"); parseBulkInt(t, got) != clients*each {
		t.Fatalf("counter = %q, want %d", got, clients*each)
	}
}

// EVALSHA of a cached script reuses the pooled Lua state and the compiled
// function: no state is rebuilt and nothing is recompiled per call.
func TestEvalshaReusesStateAndCompiledScript(t *testing.T) {
	s := newTestServer(t, io.Discard)
	e := testScripting(t, s, busyReplyThreshold)
	c := newTestClient(s)
	script := "local v = redis.call('get', KEYS[1]) redis.call('set', KEYS[1], ARGV[1]) return v"
	sha := run(c, "script", "load", script)[5:45]
	compiled := e.lookupScript(sha).proto
	run(c, "evalsha", sha, "1", "k", "v")
	e.poolMu.Lock()
	if len(e.pool) != 1 {
		t.Fatalf("pool holds %d states after one call", len(e.pool))
	}
	state := e.pool[0]
	e.poolMu.Unlock()
	// Allocations are counted process-wide, so badger's background work
	// can only add to a round: the minimum of a few rounds is the cost.
	minAllocs := func(f func()) float64 {
		best := testing.AllocsPerRun(100, f)
		for i := 0; i < 4; i++ {
			best = min(best, testing.AllocsPerRun(100, f))
		}
		return best
	}
	plain := minAllocs(func() { run(c, "get", "k"); run(c, "set", "k", "v") })
	scripted := minAllocs(func() {
		if r := run(c, "evalsha", sha, "1", "k", "v"); r != "$1\r\nv\r\n" {
			t.Fatalf("EVALSHA: %q", r)
		}
	})
	e.poolMu.Lock()
	defer e.poolMu.Unlock()
	if len(e.pool) != 1 || e.pool[0] != state {
		t.Fatal("EVALSHA did not reuse the pooled state")
	}
	if e.lookupScript(sha).proto != compiled {
		t.Fatal("EVALSHA recompiled the script")
	}
	// Building a state allocates over a thousand objects and compiling this
	// script about 160; the script machinery itself a few dozen.
	if scripted-plain > 120 {
		t.Fatalf("EVALSHA of GET+SET allocates %v objects per call, GET and SET %v", scripted, plain)
	}
}

// Nothing a script does leaks into the next one through the shared state.
func TestScriptSandboxIsolation(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	for _, leak := range []string{
		"x = 1", "rawset(_G, 'x', 1)", "string.x = 1", "rawset(string, 'x', 1)",
		"table.insert(string, 'x')", "setmetatable(_G, {})", "redis.call = nil",
		"getmetatable('').__index = {}", "rawset(getmetatable(''), '__index', {})",
	} {
		run(c, "eval", leak, "0")
	}
	checks := map[string]string{
		"return rawget(_G, 'x') == nil":                  ":1\r\n",
		"return rawget(string, 'x') == nil":              ":1\r\n",
		"return string[1] == nil":                        ":1\r\n",
		"return ('abc'):upper()":                         "$3\r\nABC\r\n",
		"return redis.call('ping')":                      "+PONG\r\n",
		"return #KEYS":                                   ":0\r\n",
		"return getmetatable(_G) == nil":                 ":1\r\n",
		"return type(getmetatable('').__index.upper)":    "$8\r\nfunction\r\n",
		"return pcall(rawset, getmetatable(''), 'a', 1)": "$-1\r\n",
	}
	for script, want := range checks {
		if got := run(c, "eval", script, "0"); got != want {
			t.Errorf("after the leak attempts, %q = %q, want %q", script, got, want)
		}
	}
}

// Redis 7.0 keeps one rand48 generator per process, unseeded at start and
// never reseeded per script: a fresh server's first draws are Redis's.
func TestScriptRandomMatchesRedis(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	if got := run(c, "eval", "return {math.random(100), math.random(100)}", "0"); got != "*2\r\n:40\r\n:85\r\n" {
		t.Fatalf("first draws of a fresh server: %q", got)
	}
	if got := run(c, "eval", "return {math.random(100), math.random(100)}", "0"); got != "*2\r\n:36\r\n:45\r\n" {
		t.Fatalf("the sequence continues across scripts: %q", got)
	}
	if got := run(c, "eval", "math.randomseed(42) return {math.random(100), math.random(1, 1000), math.random() * 1000000}", "0"); got != "*3\r\n:75\r\n:343\r\n:111085\r\n" {
		t.Fatalf("after randomseed(42): %q", got)
	}
}

// Clients blocked on a key a script writes are served once the script is
// done, also when the script runs inside EXEC.
func TestScriptSignalsBlockedClients(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	for _, viaExec := range []bool{false, true} {
		w := newTestClient(s)
		got := runAsync(w, "blpop", "q", "5")
		deadline := time.Now().Add(5 * time.Second)
		for s.blocking.blocked.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if viaExec {
			run(c, "multi")
			run(c, "eval", "return redis.call('rpush', KEYS[1], 'x')", "1", "q")
			if r := run(c, "exec"); r != "*1\r\n:1\r\n" {
				t.Fatalf("EXEC: %q", r)
			}
		} else if r := run(c, "eval", "return redis.call('rpush', KEYS[1], 'x')", "1", "q"); r != ":1\r\n" {
			t.Fatalf("EVAL: %q", r)
		}
		if r := waitReply(t, got); r != "*2\r\n$1\r\nq\r\n$1\r\nx\r\n" {
			t.Fatalf("blocked client (via EXEC %v) got %q", viaExec, r)
		}
	}
}

func TestParseEvalShebang(t *testing.T) {
	cases := []struct {
		body  string
		flags scriptFlags
		n     int
		err   string
	}{
		{"return 1", flagEvalCompat, 0, ""},
		{"#!lua\nreturn 1", 0, 5, ""},
		{"#!lua flags=no-writes,allow-oom\nx", flagNoWrites | flagAllowOOM, 31, ""},
		{"#!lua flags=\nx", 0, 12, ""},
		{"#!lua \"flags=no-writes\"\nx", flagNoWrites, 23, ""},
		{"#!lua", 0, 0, "Invalid script shebang"},
		{"#!foo\nx", 0, 0, "Unexpected engine in script shebang: #!foo"},
		{"#!lua flags=bad\nx", 0, 0, "Unexpected flag in script shebang: bad"},
		{"#!lua name=x\nx", 0, 0, "Unknown lua shebang option: name=x"},
		{"#!lua \"x\nx", 0, 0, "Invalid engine in script shebang"},
	}
	for _, tc := range cases {
		flags, n, err := parseEvalShebang([]byte(tc.body))
		if err != tc.err || (err == "" && (flags != tc.flags || n != tc.n)) {
			t.Errorf("parseEvalShebang(%q) = %v, %d, %q", tc.body, flags, n, err)
		}
	}
}

func TestSdsSplitArgs(t *testing.T) {
	cases := map[string][]string{
		"a b  c":               {"a", "b", "c"},
		`"a b" 'c d'`:          {"a b", "c d"},
		`"\x41\n" 'it\'s'`:     {"A\n", "it's"},
		"  ":                   nil,
		"#!lua name=x\tflags=": {"#!lua", "name=x", "flags="},
	}
	for in, want := range cases {
		got, ok := sdsSplitArgs(in)
		if !ok || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("sdsSplitArgs(%q) = %q, %v", in, got, ok)
		}
	}
	for _, bad := range []string{`"abc`, `'abc`, `"a"b`} {
		if got, ok := sdsSplitArgs(bad); ok {
			t.Errorf("sdsSplitArgs(%q) = %q, want an error", bad, got)
		}
	}
}
