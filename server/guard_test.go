package server

import (
	"bufio"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kvd/kvd/protocol"
)

// A large bulk arriving in small reads is held in one buffer that doubles
// (never past the declared size), not regrown by append's 1.25x steps.
func TestGuardGrowsBufferForABulkByDoubling(t *testing.T) {
	g := &guardConn{framer: protocol.Framer{MaxBulk: 1 << 30}}
	g.frame([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n"))
	chunk := make([]byte, 16384)
	grows, lastCap := 0, cap(g.carry)
	for i := 0; i < 64; i++ {
		g.frame(chunk)
		if cap(g.carry) != lastCap {
			grows, lastCap = grows+1, cap(g.carry)
		}
	}
	if grows > 8 {
		t.Fatalf("the buffer was regrown %d times for a 1 MB bulk", grows)
	}
	if lastCap > 1048576+64 {
		t.Fatalf("grew to %d, past the declared size", lastCap)
	}
	g.frame([]byte("\r\n"))
	if len(g.ready) == 0 || len(g.carry) != 0 {
		t.Fatalf("the finished command must be ready: ready %d carry %d", len(g.ready), len(g.carry))
	}
}

// Whole commands are handed on; the unfinished rest is kept and, once the
// whole ones were read, moved to the front of the same buffer.
func TestGuardHandsOnWholeCommandsOnly(t *testing.T) {
	g := &guardConn{framer: protocol.Framer{MaxBulk: 1 << 20}}
	g.frame([]byte("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET"))
	if string(g.ready) != "*1\r\n$4\r\nPING\r\n" {
		t.Fatalf("ready %q", g.ready)
	}
	g.ready = nil // as if redcon read it
	g.frame([]byte("\r\n$1\r\nk\r\n"))
	if string(g.ready) != "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" || len(g.carry) != 0 {
		t.Fatalf("ready %q carry %q", g.ready, g.carry)
	}
}

// An unauthenticated client's commands reach the parser with their
// arguments cut to what a refusal can quote; AUTH and what follows it
// arrive intact.
func TestGuardCutsUnauthenticatedArguments(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	c.authed = false
	g := &guardConn{framer: protocol.Framer{MaxBulk: 1 << 20}, client: c}
	long := strings.Repeat("z", 16384)
	set := protocol.AppendCommand(nil, [][]byte{[]byte("SET"), []byte("k"), []byte(long)})
	auth := protocol.AppendCommand(nil, [][]byte{[]byte("AUTH"), []byte(long)})
	g.frame(append(append(append([]byte(nil), set...), auth...), set...))
	want := string(protocol.AppendCommand(nil, [][]byte{[]byte("SET"), []byte("k"), []byte(long[:protocol.UnauthArgPrefix])})) +
		string(auth) + string(set)
	if string(g.ready) != want {
		t.Fatalf("ready holds %d bytes, want %d: the first SET cut, AUTH and the rest intact", len(g.ready), len(want))
	}
	// Once authenticated, nothing is cut.
	c.authed = true
	g.ready = nil
	g.frame(set)
	if string(g.ready) != string(set) {
		t.Fatalf("an authenticated client's command was changed")
	}
}

// A protocol error that quotes the offending byte never splits the reply
// line: a newline where '$' was expected is quoted as a space, as Redis's
// addReplyErrorFormat does.
func TestGuardProtocolErrorQuotingANewline(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	g := &guardConn{Conn: server, framer: protocol.Framer{MaxBulk: 1 << 20}}
	done := make(chan string, 1)
	go func() {
		client.Write([]byte("*1\r\n\nxyz"))
		line, _ := bufio.NewReader(client).ReadString('\n')
		done <- line
	}()
	buf := make([]byte, 64)
	for {
		if _, err := g.Read(buf); err != nil {
			break
		}
	}
	if got, want := <-done, "-ERR Protocol error: expected '$', got ' '\r\n"; got != want {
		t.Fatalf("error line %q, want %q", got, want)
	}
}

// scriptedConn returns one command per Read and records, at each Read,
// whether ran had been set.
type scriptedConn struct {
	net.Conn
	ran    *atomic.Bool
	sawRan []bool
}

func (c *scriptedConn) Read(p []byte) (int, error) {
	c.sawRan = append(c.sawRan, c.ran.Load())
	return copy(p, "*1\r\n$4\r\nPING\r\n"), nil
}

// After answering a pipelined batch, a connection lets the other runnable
// goroutines run before it reads its socket again (yieldBeforeRead); after
// answering a single command it reads at once. With one P, a goroutine
// started just before the read runs first only if the reader yields; not
// always even then (one schedule in 61 takes the yielder back from the
// global run queue first), so the yield gets several tries.
func TestGuardYieldsBeforeReadingAfterAnsweringAPipeline(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ran := new(atomic.Bool)
	conn := &scriptedConn{ran: ran}
	g := &guardConn{Conn: conn, framer: protocol.Framer{MaxBulk: 1 << 20}}
	buf := make([]byte, 64)
	readAfter := func(commands int) bool {
		ran.Store(false)
		done := make(chan struct{})
		g.answered(commands)
		go func() { ran.Store(true); close(done) }()
		if _, err := g.Read(buf); err != nil {
			t.Fatal(err)
		}
		<-done
		return conn.sawRan[len(conn.sawRan)-1]
	}
	if readAfter(1) {
		t.Fatal("after answering one command, another goroutine ran before the socket read")
	}
	yielded := 0
	for range 5 {
		if readAfter(16) {
			yielded++
		}
	}
	if yielded == 0 {
		t.Fatal("after answering 16 commands, no other goroutine ran before the socket read (5 tries)")
	}
}
