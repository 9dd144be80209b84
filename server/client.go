package server

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/protocol"
)

// Client is one connection's state. Its fields are touched only by the
// connection's own goroutine, except those marked otherwise.
type Client struct {
	srv  *Server
	conn redcon.Conn
	net  net.Conn
	// guard is net as the guardConn it is when the server accepted it
	// (nil for clients tests build by hand).
	guard *guardConn
	w     *protocol.Writer
	// store is what handlers use: the server's store, or during EXEC the
	// exclusive handle the transaction holds.
	store *engine.Store
	tx    txState

	id      int64
	db      int
	authed  bool
	closing bool // close after this reply (QUIT, protocol errors)
	// inScript marks the client that runs a script's redis.call commands.
	inScript bool
	// written counts the reply bytes of the current read batch already
	// written out ahead of a blocking command (servePipeline), for
	// client-output-buffer-limit (outputlimit.go).
	written int64
	created time.Time

	// Read by CLIENT LIST and the idle reaper on other goroutines.
	mu         sync.Mutex
	name       string
	libName    string
	libVer     string
	lastCmd    atomic.Pointer[Command] // nil before the first command
	dbShown    int
	proto      int
	lastActive atomic.Int64 // unix nanoseconds
	busy       atomic.Bool  // a command is running
}

func (c *Client) setInfo(f func(c *Client)) {
	c.mu.Lock()
	f(c)
	c.mu.Unlock()
}

// needsAuth reports whether the client must still authenticate. As in Redis,
// a client is authenticated on connect (and on RESET) when no password is
// set, so setting requirepass later does not lock out open connections.
func (c *Client) needsAuth() bool { return !c.authed }

// info formats the client as one CLIENT LIST / CLIENT INFO line.
func (c *Client) info(now time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	idle := now.Sub(time.Unix(0, c.lastActive.Load())) / time.Second
	b.WriteString("id=" + strconv.FormatInt(c.id, 10))
	b.WriteString(" addr=" + c.net.RemoteAddr().String())
	b.WriteString(" laddr=" + c.net.LocalAddr().String())
	b.WriteString(" fd=-1 name=" + c.name)
	b.WriteString(" age=" + strconv.FormatInt(int64(now.Sub(c.created)/time.Second), 10))
	b.WriteString(" idle=" + strconv.FormatInt(int64(idle), 10))
	b.WriteString(" flags=N db=" + strconv.Itoa(c.dbShown))
	b.WriteString(" sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r")
	last := "NULL"
	if cmd := c.lastCmd.Load(); cmd != nil {
		last = cmd.Name
	}
	b.WriteString(" cmd=" + last)
	b.WriteString(" user=default redir=-1 resp=" + strconv.Itoa(c.proto))
	if c.libName != "" || c.libVer != "" {
		b.WriteString(" lib-name=" + c.libName + " lib-ver=" + c.libVer)
	}
	b.WriteString("\n")
	return b.String()
}
