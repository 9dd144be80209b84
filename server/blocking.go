package server

import (
	"container/list"
	"errors"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// Blocking commands (BLPOP, BLMOVE, BZPOPMIN, ...) park the client's own
// goroutine until a key they wait on can serve them. Only that connection
// waits: every other client goes on.
//
// Waiters queue per key in arrival order. After any successful write command,
// dispatch calls signal for the command's keys (from the command table), so
// whatever makes a key ready — a push, RENAME, MOVE into the key — wakes its
// waiters. signal runs each waiter's attempt in FIFO order in the writer's
// goroutine, as Redis serves blocked clients right after the command that
// readied the key, and stops at the first attempt that finds nothing.

type blockKey struct {
	db  int
	key string
}

// waiter is one blocked client. attempt runs the command's non-blocking
// form and reports whether it served the client (the caller's closure keeps
// the result to reply with). attempt runs with the registry locked, maybe
// in another client's goroutine: it must not call signal or block, and it
// must not write to the client's reply buffer. A command that writes a
// second key when served (BLMOVE's destination) signals that key itself,
// after block returns.
type waiter struct {
	keys    []blockKey
	elems   []*list.Element
	attempt func() bool
	served  bool          // guarded by blockRegistry.mu
	wake    chan struct{} // closed when served
}

type blockRegistry struct {
	mu      sync.Mutex
	byKey   map[blockKey]*list.List
	blocked atomic.Int64 // INFO blocked_clients
}

func newBlockRegistry() *blockRegistry {
	return &blockRegistry{byKey: map[blockKey]*list.List{}}
}

// signal serves the clients blocked on db/key, oldest first.
func (r *blockRegistry) signal(db int, key []byte) {
	if r.blocked.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.byKey[blockKey{db, string(key)}]
	for q != nil && q.Len() > 0 {
		w := q.Front().Value.(*waiter)
		if !w.attempt() {
			return
		}
		w.served = true
		r.remove(w)
		close(w.wake)
	}
}

func (r *blockRegistry) add(w *waiter) {
	for _, k := range w.keys {
		q := r.byKey[k]
		if q == nil {
			q = list.New()
			r.byKey[k] = q
		}
		w.elems = append(w.elems, q.PushBack(w))
	}
	r.blocked.Add(1)
}

func (r *blockRegistry) remove(w *waiter) {
	for i, k := range w.keys {
		q := r.byKey[k]
		q.Remove(w.elems[i])
		if q.Len() == 0 {
			delete(r.byKey, k)
		}
	}
	w.elems = nil
	r.blocked.Add(-1)
}

// errBlockTimeout is returned by block when the timeout passed.
var errBlockTimeout = errors.New("timeout")

// errClientGone is returned by block when the client disconnected or the
// server is shutting down; no reply can or need be sent.
var errClientGone = errors.New("client gone")

// block waits until attempt serves the client, the timeout passes (0: wait
// forever), the client disconnects or the server stops. The caller has
// already tried attempt once; block tries again after registering, so that
// a push between that try and the registration is not missed.
func (s *Server) block(c *Client, db int, keys [][]byte, timeout time.Duration, attempt func() bool) error {
	if c.tx.inExec {
		return errBlockTimeout // inside MULTI/EXEC a blocking command does not block, as in Redis
	}
	w := &waiter{attempt: attempt, wake: make(chan struct{})}
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[string(k)] {
			seen[string(k)] = true
			w.keys = append(w.keys, blockKey{db, string(k)})
		}
	}
	r := s.blocking
	r.mu.Lock()
	if attempt() {
		r.mu.Unlock()
		return nil
	}
	r.add(w)
	r.mu.Unlock()

	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	gone, finish := watchPeer(c.net)
	var err error
	select {
	case <-w.wake:
	case <-timer:
		err = errBlockTimeout
	case <-gone:
		err = errClientGone
	case <-s.stop:
		err = errClientGone
	}
	finish()
	if s.draining.Load() {
		c.net.SetReadDeadline(time.Now()) // keep the drain's wake-up
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if w.served {
		return nil // served while the timer fired: the result stands
	}
	r.remove(w)
	return err
}

// watchPeer notices a client disconnecting while its goroutine is parked in
// a blocking command, when nothing reads its socket. It reads from the
// connection in the background; bytes that arrive (the client may pipeline
// more commands) are kept for the command reader. finish stops the watch
// and returns once the reading goroutine is done.
func watchPeer(conn net.Conn) (gone <-chan struct{}, finish func()) {
	g, ok := conn.(*guardConn)
	if !ok {
		return nil, func() {}
	}
	goneCh := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		buf := make([]byte, 4096)
		n, err := g.Conn.Read(buf)
		if n > 0 {
			g.pushBack(buf[:n])
		}
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			close(goneCh)
		}
	}()
	return goneCh, func() {
		g.Conn.SetReadDeadline(time.Now())
		<-exited
		g.Conn.SetReadDeadline(time.Time{})
	}
}

// parseTimeoutOrReply parses a blocking command's timeout in seconds, as
// Redis's getTimeoutFromObjectOrReply: a long double ("0.5", "0x10",
// "1e400"), rounded up to whole milliseconds; 0 waits forever.
func (c *Client) parseTimeoutOrReply(arg []byte) (time.Duration, bool) {
	ld, ok := redisnum.ParseLongDouble(arg)
	if !ok {
		c.w.Error(protocol.ErrTimeoutNotFloat)
		return 0, false
	}
	ms := math.Ceil(ld.Float64() * 1000)
	// Redis 7.0 converts to a long long without a range check: a value
	// past its range (inf, 1e100) wraps negative and is refused as such.
	if ms < 0 || ms >= math.MaxInt64 {
		c.w.Error("ERR timeout is negative")
		return 0, false
	}
	if ms >= math.MaxInt64/float64(time.Millisecond) {
		return 0, true // longer than time.Duration holds: wait forever
	}
	return time.Duration(ms) * time.Millisecond, true
}
