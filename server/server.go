// Package server is kvd's network layer: a redcon listener, connection state,
// the command table that drives dispatch, and the command handlers, one file
// per command family. Storage is the engine package; the wire format is the
// protocol package.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/protocol"
)

// Version is kvd's own version. RedisVersion is the Redis release whose
// behaviour kvd follows; clients gate features (RESP3, commands) on it.
const (
	Version      = "0.1.0"
	RedisVersion = "7.0.15"
)

// Server serves the Redis protocol over a Store.
type Server struct {
	store   *engine.Store
	log     *slog.Logger
	params  *params
	table   *Table
	stats   serverStats
	cursors *cursorTable
	// blocking holds the clients parked in blocking commands.
	blocking *blockRegistry
	watches  *watchRegistry
	// scripting is the Lua engine (EVAL, FUNCTION), made with the table.
	scripting *scripting
	started   time.Time
	runID     string

	rc       *redcon.Server
	ln       net.Listener
	nextID   atomic.Int64
	mu       sync.Mutex
	clients  map[int64]*Client
	conns    sync.WaitGroup
	draining atomic.Bool
	drained  chan struct{}
	stop     chan struct{}

	// shutdownRequested is closed by the SHUTDOWN command; the binary
	// watches it as it watches signals.
	shutdownRequested chan struct{}
	shutdownOnce      sync.Once
}

// New builds a server over an open store.
func New(cfg Config, store *engine.Store, log *slog.Logger) (*Server, error) {
	s := &Server{
		store:             store,
		log:               log,
		params:            newParams(cfg, store),
		cursors:           newCursorTable(100_000),
		blocking:          newBlockRegistry(),
		watches:           newWatchRegistry(),
		started:           time.Now(),
		runID:             newRunID(),
		clients:           map[int64]*Client{},
		drained:           make(chan struct{}),
		stop:              make(chan struct{}),
		shutdownRequested: make(chan struct{}),
	}
	t, err := newTable(s.commands())
	if err != nil {
		return nil, err
	}
	s.table = t
	store.SetWatcher(s.watches)
	// Function libraries saved by an earlier run (FUNCTION LOAD survives
	// restarts); failures are logged, not fatal.
	s.scripting.fn.restoreSaved()
	return s, nil
}

// ShutdownRequested is closed when a client sends SHUTDOWN.
func (s *Server) ShutdownRequested() <-chan struct{} { return s.shutdownRequested }

// Listen binds the configured address.
func (s *Server) Listen() (net.Addr, error) {
	cfg := s.params.config()
	addr := net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.ln = &drainListener{guardListener{ln, func() int64 { return s.params.config().ProtoMaxBulkLen }}, s}
	return ln.Addr(), nil
}

// Serve accepts connections until Shutdown. Listen must be called first.
func (s *Server) Serve() error {
	s.rc = redcon.NewServer("", s.serveRESP, s.accept, s.closed)
	go s.reapIdle()
	err := s.rc.Serve(s.ln)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting, lets every connection finish the commands it has
// read and receive their replies, then returns. Closing the store is the
// caller's job. If ctx ends first, remaining connections are cut.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.draining.CompareAndSwap(false, true) {
		return nil
	}
	close(s.stop)
	s.ln.(*drainListener).Listener.Close()
	// Wake every reader: the command in progress finishes and its reply is
	// flushed, then the next read fails and the connection closes.
	s.mu.Lock()
	for _, c := range s.clients {
		c.net.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.mu.Lock()
		for _, c := range s.clients {
			c.net.Close()
		}
		s.mu.Unlock()
	}
	close(s.drained)
	return err
}

// drainListener keeps redcon's accept loop parked during a drain: redcon
// closes every open connection as soon as Accept fails, which would cut the
// replies still in flight.
type drainListener struct {
	guardListener
	s *Server
}

func (l *drainListener) Accept() (net.Conn, error) {
	c, err := l.guardListener.Accept()
	if err != nil && l.s.draining.Load() {
		<-l.s.drained
		return nil, net.ErrClosed
	}
	return c, err
}

func (s *Server) accept(conn redcon.Conn) bool {
	if s.draining.Load() {
		return false
	}
	gc, _ := conn.NetConn().(*guardConn)
	s.mu.Lock()
	if len(s.clients) >= s.params.config().MaxClients {
		s.mu.Unlock()
		s.stats.rejectedConns.Add(1)
		conn.NetConn().Write([]byte("-" + protocol.ErrMaxClients + "\r\n"))
		return false
	}
	c := &Client{
		srv:     s,
		conn:    conn,
		net:     conn.NetConn(),
		guard:   gc,
		w:       protocol.NewWriter(2),
		store:   s.store,
		id:      s.nextID.Add(1),
		created: time.Now(),
		proto:   2,
		authed:  s.params.config().RequirePass == "",
	}
	c.lastActive.Store(c.created.UnixNano())
	s.clients[c.id] = c
	s.conns.Add(1)
	s.mu.Unlock()
	if gc != nil {
		gc.setClient(c)
	}
	s.stats.totalConns.Add(1)
	conn.SetContext(c)
	return true
}

func (s *Server) closed(conn redcon.Conn, err error) {
	c, ok := conn.Context().(*Client)
	if !ok {
		return
	}
	s.watches.unwatchAll(c)
	s.mu.Lock()
	delete(s.clients, c.id)
	s.mu.Unlock()
	s.conns.Done()
}

// reapIdle closes clients idle for longer than the timeout setting, as
// Redis's clientsCron does.
func (s *Server) reapIdle() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		timeout := time.Duration(s.params.config().Timeout) * time.Second
		if timeout <= 0 {
			continue
		}
		now := time.Now().UnixNano()
		s.mu.Lock()
		for _, c := range s.clients {
			if !c.busy.Load() && now-c.lastActive.Load() > int64(timeout) {
				c.net.Close()
			}
		}
		s.mu.Unlock()
	}
}

func (s *Server) requestShutdown() {
	s.shutdownOnce.Do(func() { close(s.shutdownRequested) })
}

func (s *Server) clientCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}
