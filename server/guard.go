package server

import (
	"io"
	"net"
	"sync"

	"github.com/kvd/kvd/protocol"
)

// guardListener wraps accepted connections in guardConn, which checks the
// request framing before redcon buffers it (redcon itself has no size
// limits: a declared 1 GB bulk would be buffered as it arrives).
type guardListener struct {
	net.Listener
	maxBulk func() int64
}

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &guardConn{Conn: c, framer: protocol.Framer{MaxBulk: l.maxBulk()}}, nil
}

// guardConn passes a client's bytes to redcon through a protocol.Framer.
// When the framer finds a protocol error, the commands before it are still
// delivered; the next read then writes Redis's error and reports EOF, so the
// connection closes after the replies ahead of it, as Redis closes it.
type guardConn struct {
	net.Conn
	framer protocol.Framer
	rbuf   []byte
	out    []byte
	ready  []byte
	fail   string
	// early holds bytes read while the client was blocked (watchPeer);
	// they are framed before anything newer from the socket.
	early []byte

	mu     sync.Mutex
	unauth func() bool // set once the client is registered
}

func (g *guardConn) setUnauth(f func() bool) {
	g.mu.Lock()
	g.unauth = f
	g.mu.Unlock()
}

func (g *guardConn) unauthenticated() bool {
	g.mu.Lock()
	f := g.unauth
	g.mu.Unlock()
	return f != nil && f()
}

// pushBack keeps bytes read outside Read, to be delivered first. It is
// called only while the connection's goroutine is parked in a blocking
// command, and that goroutine waits for the reader to finish before it
// reads again.
func (g *guardConn) pushBack(b []byte) { g.early = append(g.early, b...) }

func (g *guardConn) Read(p []byte) (int, error) {
	for {
		if len(g.ready) > 0 {
			n := copy(p, g.ready)
			g.ready = g.ready[n:]
			return n, nil
		}
		if g.fail != "" {
			g.Conn.Write([]byte("-" + g.fail + "\r\n"))
			return 0, io.EOF
		}
		if len(g.early) > 0 {
			g.out, g.fail = g.framer.Feed(g.out[:0], g.early, g.unauthenticated())
			g.early = nil
			g.ready = g.out
			continue
		}
		if g.rbuf == nil {
			g.rbuf = make([]byte, 16*1024)
		}
		n, err := g.Conn.Read(g.rbuf)
		if n > 0 {
			g.out, g.fail = g.framer.Feed(g.out[:0], g.rbuf[:n], g.unauthenticated())
			g.ready = g.out
		}
		if err != nil && len(g.ready) == 0 && g.fail == "" {
			return 0, err
		}
	}
}
