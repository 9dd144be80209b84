package server

import (
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/kvd/kvd/protocol"
)

// queryBufferLimit is Redis's client-query-buffer-limit: a client whose
// unfinished command grows past it is disconnected.
const queryBufferLimit = 1 << 30

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

// guardConn passes a client's bytes to redcon through a protocol.Framer,
// and only whole commands: an unfinished one is held here until its last
// byte arrives. redcon re-parses a partial command from its first byte on
// every read and grows its buffer without compacting it, so feeding it
// partial commands costs quadratic CPU and memory that grows with the bytes
// streamed (docs/reliability.md).
//
// When the framer finds a protocol error, the whole commands before it are
// still delivered; the next read then writes Redis's error and reports EOF,
// so the connection closes after the replies ahead of it, as Redis closes it.
type guardConn struct {
	net.Conn
	framer protocol.Framer
	rbuf   []byte
	ready  []byte // whole commands not yet handed to redcon
	carry  []byte // the framed start of an unfinished command
	buf    []byte // the array ready and carry live in
	fail   string
	// compact holds ready's commands cut for an unauthenticated client.
	compact []byte
	// early holds bytes read while the client was blocked (watchPeer);
	// they are framed before anything newer from the socket.
	early []byte

	// writeDeadline is set while a write deadline is armed (the soft
	// output limit); the next Read, which redcon makes only after
	// flushing, clears it.
	writeDeadline bool

	// yieldNext says the replies being flushed answer a pipelined batch
	// (answered), so the next socket read yields first (yieldBeforeRead).
	yieldNext bool

	mu     sync.Mutex
	client *Client // set once the client is registered
}

// SetWriteDeadline arms (or clears) a deadline for the pending flush.
func (g *guardConn) SetWriteDeadline(t time.Time) error {
	g.writeDeadline = !t.IsZero()
	return g.Conn.SetWriteDeadline(t)
}

func (g *guardConn) setClient(c *Client) {
	g.mu.Lock()
	g.client = c
	g.mu.Unlock()
}

func (g *guardConn) owner() *Client {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.client
}

// pushBack keeps bytes read outside Read, to be delivered first. It is
// called only while the connection's goroutine is parked in a blocking
// command, and that goroutine waits for the reader to finish before it
// reads again.
func (g *guardConn) pushBack(b []byte) { g.early = append(g.early, b...) }

func (g *guardConn) Read(p []byte) (int, error) {
	if g.writeDeadline {
		// The replies the deadline guarded have been written.
		g.SetWriteDeadline(time.Time{})
	}
	for {
		if len(g.ready) > 0 {
			n := copy(p, g.ready)
			g.ready = g.ready[n:]
			return n, nil
		}
		if g.fail != "" {
			if g.fail != errQueryBufferLimit {
				// Through Writer.Error, which turns CR and LF into spaces
				// as Redis does: the framer may quote the offending byte.
				w := protocol.NewWriter(2)
				w.Error(g.fail)
				g.Conn.Write(w.Bytes())
			}
			return 0, io.EOF
		}
		in := g.early
		g.early = nil
		if len(in) == 0 {
			if g.rbuf == nil {
				g.rbuf = make([]byte, 16*1024)
			}
			g.yieldBeforeRead()
			n, err := g.Conn.Read(g.rbuf)
			if n == 0 && err != nil {
				return 0, err
			}
			in = g.rbuf[:n]
			if n == len(g.rbuf) {
				// A full read: more is probably waiting, and this
				// goroutine would go on reading it until preempted
				// (10 ms), while clients with one small command wait
				// behind it for a P. Redis's event loop reads each
				// client once per turn; yielding here does the same.
				runtime.Gosched()
			}
		}
		g.frame(in)
	}
}

// answered notes how many commands, read together, the replies about to
// be flushed answer.
func (g *guardConn) answered(commands int) { g.yieldNext = commands > 1 }

// yieldBeforeRead lets the other runnable goroutines go first when this
// connection has just answered a pipelined batch. redcon reads again as
// soon as it has flushed, before the client can have read the replies and
// sent its next batch: that read would return nothing, and the goroutine
// would park until the netpoller woke it. Under load other connections are
// ready; serving them first gives the client that time, and the read finds
// the next batch (at 50 clients with -P 16: half the reads; 3-6% less CPU
// per GET, ~8% per SET or INCR, and a lower p99 for GET;
// docs/performance.md, session 9). With nothing else runnable Gosched
// returns at once.
//
// Only after a pipelined batch: clients sending one command at a time
// gained 8-12% of CPU per request too, but their p99 rose by 15-60%, as
// Gosched puts the goroutine behind every other runnable one.
func (g *guardConn) yieldBeforeRead() {
	if g.yieldNext {
		g.yieldNext = false
		runtime.Gosched()
	}
}

// errQueryBufferLimit marks a client closed for its query buffer: Redis
// closes it without a reply.
const errQueryBufferLimit = "query buffer limit"

// frame runs newly read bytes through the framer and splits the result into
// whole commands (ready) and the unfinished rest (carry).
func (g *guardConn) frame(in []byte) {
	c := g.owner()
	unauth := false
	if c != nil {
		// Any bytes count as activity for the idle timeout, as in Redis,
		// not only finished commands.
		c.lastActive.Store(time.Now().UnixNano())
		unauth = c.needsAuth()
	}
	g.compactCarry()
	g.growCarry(len(in))
	out, msg := g.framer.Feed(g.carry, in, unauth)
	g.buf = out
	g.fail = msg
	done := g.framer.Complete()
	if done < 0 {
		g.carry = out
	} else {
		// The rest stays where it is until redcon has taken ready; the
		// next frame moves it to the front of the same array.
		g.ready, g.carry = out[:done], out[done:]
		if unauth && len(g.ready) > 0 {
			g.compactUnauthenticated(c)
		}
	}
	if msg != "" {
		g.carry, g.buf = nil, nil
	}
	if len(g.carry) > queryBufferLimit && g.fail == "" {
		g.fail, g.carry, g.buf = errQueryBufferLimit, nil, nil
	}
}

// compactUnauthenticated cuts the arguments of the ready commands of a
// client that has not authenticated to what their refusal needs
// (protocol.CompactArgs). redcon copies every command it parses (and grows
// its buffer by reallocation): a flood of 147 KB unauthenticated requests
// otherwise allocates several times that per request, and the garbage
// collector it drives stalled every other client for tens of ms.
func (g *guardConn) compactUnauthenticated(c *Client) {
	table := c.srv.table
	keep := func(name []byte) bool {
		cmd := table.lookup(name)
		return cmd != nil && cmd.Flags&FlagNoAuth != 0
	}
	g.compact = protocol.CompactArgs(g.compact[:0], g.ready, protocol.UnauthArgPrefix, keep)
	g.ready = g.compact
	if cap(g.compact) > keepBufferMax {
		g.compact = nil // ready keeps the array until redcon has read it
	}
}

// keepBufferMax is the largest buffer a connection keeps between commands;
// a larger one, grown for a big command, is dropped once that is done.
const keepBufferMax = 1 << 20

// compactCarry moves the unfinished command to the front of the buffer
// once the whole commands before it have been read (frame runs only when
// ready is empty), so a connection reuses one buffer instead of allocating
// per read. A buffer grown past keepBufferMax for a big command is dropped
// once nothing is pending in it.
func (g *guardConn) compactCarry() {
	if g.buf == nil {
		return
	}
	if len(g.carry) == 0 && cap(g.buf) > keepBufferMax {
		g.buf, g.carry = nil, nil
		return
	}
	if len(g.carry) > 0 && &g.carry[0] == &g.buf[0] {
		return // already at the front: the common case while a big bulk arrives
	}
	n := copy(g.buf[:cap(g.buf)], g.carry)
	g.carry = g.buf[:n]
}

// growCarry makes room for the next n bytes of a large bulk being received:
// doubling, but never past what the bulk's header declared. append's own
// growth (1.25x for large slices) copies a 32 MB bulk some thirty times.
func (g *guardConn) growCarry(n int) {
	pending := g.framer.PendingBulk()
	if pending == 0 || cap(g.carry)-len(g.carry) >= n {
		return
	}
	need := len(g.carry) + int(min(pending, int64(queryBufferLimit)))
	newCap := min(need, max(2*cap(g.carry), len(g.carry)+n))
	grown := make([]byte, len(g.carry), max(newCap, len(g.carry)+n))
	copy(grown, g.carry)
	g.carry = grown
}
