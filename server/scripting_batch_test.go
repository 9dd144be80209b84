package server

import (
	"io"
	"strconv"
	"sync"
	"testing"
	"time"
)

// A script that reaches past its KEYS is discarded and run again
// exclusively: its effects must land exactly once.
func TestScriptOutsideItsKeysRunsOnce(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	script := `redis.call('INCR', KEYS[1])
redis.call('INCR', 'undeclared')
pcall(redis.call, 'SCAN', '0')
return redis.call('GET', KEYS[1])`
	if got := run(c, "eval", script, "1", "declared"); got != "$1\r\n1\r\n" {
		t.Fatalf("EVAL = %q, want bulk 1", got)
	}
	for _, k := range []string{"declared", "undeclared"} {
		if got := run(c, "get", k); got != "$1\r\n1\r\n" {
			t.Errorf("GET %s = %q, want 1: the script ran more than once", k, got)
		}
	}
	// Its keyspace commands ran for real in the exclusive rerun.
	if got := run(c, "eval", "return #redis.call('KEYS', '*')", "0"); got != ":2\r\n" {
		t.Errorf("KEYS from a script = %q, want 2", got)
	}
}

// Scripts on different keys do not wait for each other: a slow script on
// one key does not hold up a quick one on another.
func TestScriptsOnDifferentKeysRunSideBySide(t *testing.T) {
	s := newTestServer(t, io.Discard)
	slow := `local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
while true do
  local t = redis.call('TIME')
  if t[1] * 1000000 + t[2] - start > 600000 then break end
end
return redis.call('SET', KEYS[1], 'slow')`
	slowDone := runAsync(newTestClient(s), "eval", slow, "1", "a")
	time.Sleep(50 * time.Millisecond) // let the slow script start
	start := time.Now()
	quick := run(newTestClient(s), "eval", "return redis.call('SET', KEYS[1], 'quick')", "1", "b")
	if quick != "+OK\r\n" {
		t.Fatalf("quick EVAL = %q", quick)
	}
	if waited := time.Since(start); waited > 300*time.Millisecond {
		t.Fatalf("the quick script waited %v for the slow one", waited)
	}
	select {
	case r := <-slowDone:
		t.Fatalf("the slow script finished first (%q): the test proves nothing", r)
	default:
	}
	if r := waitReply(t, slowDone); r != "+OK\r\n" {
		t.Fatalf("slow EVAL = %q", r)
	}
}

// A script's writes become visible together: a reader never sees one of
// two keys the script sets to the same value without the other.
func TestScriptWritesAreAtomicToReaders(t *testing.T) {
	s := newTestServer(t, io.Discard)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := newTestClient(s)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := strconv.Itoa(i)
			run(w, "eval", "redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], ARGV[1])", "2", "x", "y", v)
		}
	}()
	r := newTestClient(s)
	deadline := time.Now().Add(300 * time.Millisecond)
	for reads := 0; time.Now().Before(deadline); reads++ {
		reply := run(r, "mget", "x", "y")
		if reply == "*2\r\n$-1\r\n$-1\r\n" {
			continue
		}
		var x, y string
		if _, err := parseTwoBulks(reply, &x, &y); err != nil || x != y {
			close(stop)
			wg.Wait()
			t.Fatalf("MGET x y = %q: saw half a script", reply)
		}
	}
	close(stop)
	wg.Wait()
}

// Inside MULTI the store is already exclusive: a script runs on it.
func TestScriptInsideExec(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	run(c, "multi")
	run(c, "eval", "return redis.call('INCR', KEYS[1])", "1", "n")
	run(c, "eval", "return redis.call('INCR', 'other')", "0")
	if got := run(c, "exec"); got != "*2\r\n:1\r\n:1\r\n" {
		t.Fatalf("EXEC = %q", got)
	}
}

// parseTwoBulks reads a two-element array of bulk strings.
func parseTwoBulks(reply string, a, b *string) (int, error) {
	rest := reply
	read := func(dst *string) error {
		var n int
		if len(rest) == 0 || rest[0] != '$' {
			return io.ErrUnexpectedEOF
		}
		i := 1
		for i < len(rest) && rest[i] != '\r' {
			n = n*10 + int(rest[i]-'0')
			i++
		}
		if i+2+n+2 > len(rest) {
			return io.ErrUnexpectedEOF
		}
		*dst = rest[i+2 : i+2+n]
		rest = rest[i+2+n+2:]
		return nil
	}
	if len(rest) < 4 || rest[:4] != "*2\r\n" {
		return 0, io.ErrUnexpectedEOF
	}
	rest = rest[4:]
	if err := read(a); err != nil {
		return 0, err
	}
	return 2, read(b)
}
