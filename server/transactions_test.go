package server

import (
	"io"
	"strconv"
	"sync"
	"testing"
	"time"
)

func waitMs(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

// TestWatchRaceCountsExactly runs optimistic increments (WATCH, GET, MULTI,
// SET, EXEC, retry on abort) from many clients at once: every increment
// must land exactly once. Run under -race it also checks the registry's
// locking.
func TestWatchRaceCountsExactly(t *testing.T) {
	s := newTestServer(t, io.Discard)
	const clients, each = 8, 50
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newTestClient(s)
			for done := 0; done < each; {
				run(c, "watch", "counter")
				cur := run(c, "get", "counter")
				n := 0
				if cur != "$-1\r\n" {
					n = parseBulkInt(t, cur)
				}
				run(c, "multi")
				run(c, "set", "counter", strconv.Itoa(n+1))
				if got := run(c, "exec"); got != "*-1\r\n" {
					if got != "*1\r\n+OK\r\n" {
						t.Errorf("EXEC replied %q", got)
						return
					}
					done++
				}
			}
		}()
	}
	wg.Wait()
	c := newTestClient(s)
	if got, want := run(c, "get", "counter"), strconv.Itoa(clients*each); parseBulkInt(t, got) != clients*each {
		t.Fatalf("counter = %q, want %s", got, want)
	}
}

func parseBulkInt(t *testing.T, bulk string) int {
	t.Helper()
	// "$<len>\r\n<digits>\r\n"
	i := 1
	for bulk[i] != '\r' {
		i++
	}
	n, err := strconv.Atoi(bulk[i+2 : len(bulk)-2])
	if err != nil {
		t.Fatalf("not a bulk integer: %q", bulk)
	}
	return n
}

// TestExecIsAtomicForReaders checks that no reader sees half a transaction:
// EXEC sets two keys to the same round number while readers MGET both.
func TestExecIsAtomicForReaders(t *testing.T) {
	s := newTestServer(t, io.Discard)
	w := newTestClient(s)
	run(w, "mset", "a", "0", "b", "0")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newTestClient(s)
			for {
				select {
				case <-stop:
					return
				default:
				}
				got := run(r, "mget", "a", "b")
				// *2\r\n$N\r\nX\r\n$N\r\nY\r\n: both halves equal
				half := (len(got) - 4) / 2
				if got[4:4+half] != got[4+half:] {
					t.Errorf("saw half a transaction: %q", got)
					return
				}
			}
		}()
	}
	for round := 1; round <= 200; round++ {
		v := strconv.Itoa(round)
		run(w, "multi")
		run(w, "set", "a", v)
		run(w, "set", "b", v)
		if got := run(w, "exec"); got != "*2\r\n+OK\r\n+OK\r\n" {
			t.Fatalf("EXEC: %q", got)
		}
	}
	close(stop)
	wg.Wait()
}

// TestWatchedKeyExpiringAbortsExec follows Redis 7.0: a watched key that
// expires before EXEC makes it fail.
func TestWatchedKeyExpiringAbortsExec(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	run(c, "set", "k", "v", "px", "30")
	run(c, "watch", "k")
	waitMs(60)
	run(c, "multi")
	run(c, "set", "other", "1")
	if got := run(c, "exec"); got != "*-1\r\n" {
		t.Fatalf("EXEC after the watched key expired: %q", got)
	}
	if got := run(c, "exists", "other"); got != ":0\r\n" {
		t.Fatalf("the aborted transaction ran: %q", got)
	}
}
