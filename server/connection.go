package server

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, RESET, CLIENT.

func (s *Server) connectionCommands() []*Command {
	conn := func(name string, arity int, flags Flags, h Handler, summary string) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags | FlagFast, Group: "connection", Summary: summary, Since: "1.0.0", Handler: h}
	}
	client := func(name string, arity int, h Handler, summary string) *Command {
		return &Command{Name: "client|" + name, Arity: arity, Flags: FlagNoScript | FlagLoading | FlagStale, Group: "connection", Summary: summary, Since: "2.4.0", Handler: h}
	}
	clientSubs := []*Command{
		client("setname", 3, cmdClientSetName, "Sets the connection name."),
		client("getname", 2, cmdClientGetName, "Returns the name of the connection."),
		client("id", 2, cmdClientID, "Returns the unique client ID of the connection."),
		client("info", 2, cmdClientInfo, "Returns information about the connection."),
		client("list", -2, cmdClientList, "Lists open connections."),
		client("kill", -3, cmdClientKill, "Terminates open connections."),
		client("no-evict", 3, cmdClientNoEvict, "Sets the client eviction mode of the connection."),
		client("setinfo", 4, cmdClientSetInfo, "Sets information specific to the client or connection."),
		client("help", 2, cmdClientHelp, "Returns helpful text about the different subcommands."),
	}
	subs := map[string]*Command{}
	for _, c := range clientSubs {
		subs[strings.TrimPrefix(c.Name, "client|")] = c
	}
	return []*Command{
		conn("ping", -1, 0, cmdPing, "Returns the server's liveliness response."),
		conn("echo", 2, 0, cmdEcho, "Returns the given string."),
		conn("quit", -1, FlagNoAuth|FlagLoading|FlagStale, cmdQuit, "Closes the connection."),
		conn("hello", -1, FlagNoAuth|FlagLoading|FlagStale|FlagNoScript, cmdHello, "Handshakes with the Redis server."),
		conn("auth", -2, FlagNoAuth|FlagLoading|FlagStale|FlagNoScript, cmdAuth, "Authenticates the connection."),
		conn("select", 2, FlagLoading|FlagStale, cmdSelect, "Changes the selected database."),
		conn("reset", 1, FlagNoAuth|FlagLoading|FlagStale|FlagNoScript, cmdReset, "Resets the connection."),
		{Name: "client", Arity: -2, Flags: FlagNoScript, Group: "connection", Summary: "A container for client connection commands.", Since: "2.4.0", Subcommands: subs},
	}
}

func cmdPing(c *Client, args [][]byte) {
	switch len(args) {
	case 1:
		c.w.Status("PONG")
	case 2:
		c.w.Bulk(args[1])
	default:
		c.w.Error(protocol.ErrWrongArity("ping"))
	}
}

func cmdEcho(c *Client, args [][]byte) { c.w.Bulk(args[1]) }

func cmdQuit(c *Client, args [][]byte) {
	c.w.OK()
	c.closing = true
}

const errHelloNoAuth = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"

func cmdHello(c *Client, args [][]byte) {
	proto := c.w.Proto()
	if len(args) >= 2 {
		v, ok := redisnum.ParseInt(args[1])
		if !ok {
			c.w.Error("ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.w.Error(protocol.ErrNoProto)
			return
		}
		proto = int(v)
	}
	var user, pass, name []byte
	setName := false
	for i := 2; i < len(args); i++ {
		more := len(args) - i - 1
		switch {
		case protocol.EqualFold(args[i], "AUTH") && more >= 2:
			user, pass = args[i+1], args[i+2]
			i += 2
		case protocol.EqualFold(args[i], "SETNAME") && more >= 1:
			name, setName = args[i+1], true
			i++
		default:
			c.w.Error("ERR Syntax error in HELLO option '" + string(args[i]) + "'")
			return
		}
	}
	if user != nil && !c.srv.checkPassword(user, pass) {
		c.w.Error(protocol.ErrWrongPass)
		return
	}
	if user != nil {
		c.authed = true
	}
	if c.needsAuth() {
		c.w.Error(errHelloNoAuth)
		return
	}
	if setName && !validClientName(name) {
		c.w.Error(protocol.ErrClientNameSpaces)
		return
	}
	if setName {
		c.setInfo(func(c *Client) { c.name = string(name) })
	}
	c.w.SetProto(proto)
	c.setInfo(func(c *Client) { c.proto = proto })
	c.w.Map(8)
	c.w.BulkString("server")
	c.w.BulkString("redis")
	c.w.BulkString("version")
	c.w.BulkString(RedisVersion)
	c.w.BulkString("proto")
	c.w.Int(int64(proto))
	c.w.BulkString("id")
	c.w.Int(c.id)
	c.w.BulkString("mode")
	c.w.BulkString("standalone")
	c.w.BulkString("role")
	c.w.BulkString("master")
	c.w.BulkString("modules")
	c.w.Array(0)
	c.w.BulkString("kvd_version")
	c.w.BulkString(Version)
}

// checkPassword authenticates user "default" (the only user) against
// requirepass. With no password set, the default user accepts any password,
// as Redis's nopass default user does.
func (s *Server) checkPassword(user, pass []byte) bool {
	if string(user) != "default" {
		return false
	}
	want := s.params.config().RequirePass
	return want == "" || string(pass) == want
}

func cmdAuth(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	user, pass := []byte("default"), args[1]
	if len(args) == 3 {
		user, pass = args[1], args[2]
	} else if c.srv.params.config().RequirePass == "" {
		c.w.Error(protocol.ErrAuthNotSet)
		return
	}
	if !c.srv.checkPassword(user, pass) {
		c.w.Error(protocol.ErrWrongPass)
		return
	}
	c.authed = true
	c.w.OK()
}

func cmdSelect(c *Client, args [][]byte) {
	n, ok := redisnum.ParseInt(args[1])
	if !ok || n < int64(-1<<31) || n > int64(1<<31-1) {
		c.w.Error(protocol.ErrNotInteger)
		return
	}
	if n < 0 || n >= int64(c.store.Databases()) {
		c.w.Error(protocol.ErrDBIndex)
		return
	}
	c.selectDB(int(n))
	c.w.OK()
}

func (c *Client) selectDB(n int) {
	c.db = n
	c.setInfo(func(c *Client) { c.dbShown = n })
}

func cmdReset(c *Client, args [][]byte) {
	c.endMulti()
	c.selectDB(0)
	c.authed = c.srv.params.config().RequirePass == ""
	c.w.SetProto(2)
	c.setInfo(func(c *Client) { c.proto, c.name = 2, "" })
	c.w.Status("RESET")
}

// validClientName applies Redis's rule: printable ASCII without spaces.
func validClientName(name []byte) bool {
	for _, ch := range name {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func cmdClientSetName(c *Client, args [][]byte) {
	if !validClientName(args[2]) {
		c.w.Error(protocol.ErrClientNameSpaces)
		return
	}
	c.setInfo(func(c *Client) { c.name = string(args[2]) })
	c.w.OK()
}

func cmdClientGetName(c *Client, args [][]byte) {
	c.mu.Lock()
	name := c.name
	c.mu.Unlock()
	if name == "" {
		c.w.Null()
		return
	}
	c.w.BulkString(name)
}

func cmdClientID(c *Client, args [][]byte) { c.w.Int(c.id) }

func cmdClientInfo(c *Client, args [][]byte) { c.w.Verbatim("txt", c.info(time.Now())) }

func cmdClientList(c *Client, args [][]byte) {
	var ids map[int64]bool
	for i := 2; i < len(args); i++ {
		switch {
		case protocol.EqualFold(args[i], "TYPE") && i+1 < len(args):
			t := strings.ToLower(string(args[i+1]))
			if t != "normal" && t != "master" && t != "replica" && t != "pubsub" {
				c.w.Error("ERR Unknown client type '" + string(args[i+1]) + "'")
				return
			}
			i++
		case protocol.EqualFold(args[i], "ID") && i+1 < len(args):
			ids = map[int64]bool{}
			for i++; i < len(args); i++ {
				id, ok := redisnum.ParseInt(args[i])
				if !ok || id <= 0 {
					c.w.Error("ERR Invalid client ID")
					return
				}
				ids[id] = true
			}
		default:
			c.w.Error(protocol.ErrSyntax)
			return
		}
	}
	now := time.Now()
	var b strings.Builder
	for _, cl := range c.srv.clientsByID() {
		if ids == nil || ids[cl.id] {
			b.WriteString(cl.info(now))
		}
	}
	c.w.Verbatim("txt", b.String())
}

func cmdClientKill(c *Client, args [][]byte) {
	if len(args) == 3 {
		// The old form: CLIENT KILL addr:port.
		for _, cl := range c.srv.clientsByID() {
			if cl.net.RemoteAddr().String() == string(args[2]) {
				c.srv.kill(c, cl)
				c.w.OK()
				return
			}
		}
		c.w.Error(protocol.ErrNoSuchClient)
		return
	}
	if len(args)%2 != 0 {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	var id int64
	var addr, laddr string
	skipMe := true
	for i := 2; i < len(args); i += 2 {
		v := args[i+1]
		switch {
		case protocol.EqualFold(args[i], "ID"):
			n, ok := redisnum.ParseInt(v)
			if !ok || n <= 0 {
				c.w.Error("ERR client-id should be greater than 0")
				return
			}
			id = n
		case protocol.EqualFold(args[i], "ADDR"):
			addr = string(v)
		case protocol.EqualFold(args[i], "LADDR"):
			laddr = string(v)
		case protocol.EqualFold(args[i], "SKIPME"):
			switch {
			case protocol.EqualFold(v, "yes"):
				skipMe = true
			case protocol.EqualFold(v, "no"):
				skipMe = false
			default:
				c.w.Error(protocol.ErrSyntax)
				return
			}
		case protocol.EqualFold(args[i], "TYPE"), protocol.EqualFold(args[i], "USER"), protocol.EqualFold(args[i], "MAXAGE"):
			// Accepted filters that match every kvd client (all are
			// normal clients of the default user).
		default:
			c.w.Error(protocol.ErrSyntax)
			return
		}
	}
	var killed int64
	for _, cl := range c.srv.clientsByID() {
		if (id != 0 && cl.id != id) ||
			(addr != "" && cl.net.RemoteAddr().String() != addr) ||
			(laddr != "" && cl.net.LocalAddr().String() != laddr) ||
			(skipMe && cl == c) {
			continue
		}
		c.srv.kill(c, cl)
		killed++
	}
	c.w.Int(killed)
}

// kill closes another client's connection; a client killing itself closes
// after this reply.
func (s *Server) kill(self, target *Client) {
	if self == target {
		self.closing = true
		return
	}
	target.net.Close()
}

func cmdClientNoEvict(c *Client, args [][]byte) {
	if !protocol.EqualFold(args[2], "on") && !protocol.EqualFold(args[2], "off") {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	c.w.OK()
}

// cmdClientSetInfo is Redis 7.2's CLIENT SETINFO, which client libraries
// send on connect; kvd accepts it and shows it in CLIENT LIST.
func cmdClientSetInfo(c *Client, args [][]byte) {
	v := string(args[3])
	switch {
	case protocol.EqualFold(args[2], "LIB-NAME"):
		if !validClientName(args[3]) {
			c.w.Error("ERR lib-name cannot contain spaces, newlines or special characters.")
			return
		}
		c.setInfo(func(c *Client) { c.libName = v })
	case protocol.EqualFold(args[2], "LIB-VER"):
		if !validClientName(args[3]) {
			c.w.Error("ERR lib-ver cannot contain spaces, newlines or special characters.")
			return
		}
		c.setInfo(func(c *Client) { c.libVer = v })
	default:
		c.w.Error("ERR Unrecognized option '" + string(args[2]) + "'")
		return
	}
	c.w.OK()
}

func cmdClientHelp(c *Client, args [][]byte) {
	lines := []string{
		"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"GETNAME", "    Return the name of the current connection.",
		"ID", "    Return the ID of the current connection.",
		"INFO", "    Return information about the current client connection.",
		"KILL <ip:port>", "    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are: ID, ADDR, LADDR, SKIPME (YES|NO).",
		"LIST [options ...]", "    Return information about client connections. Options: TYPE, ID.",
		"NO-EVICT (ON|OFF)", "    Accepted; kvd never evicts clients.",
		"SETINFO <option> <value>", "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
		"SETNAME <name>", "    Assign the name <name> to the current connection.",
		"HELP", "    Print this help.",
	}
	c.w.Array(len(lines))
	for _, l := range lines {
		c.w.Status(l)
	}
}

func (s *Server) clientsByID() []*Client {
	s.mu.Lock()
	out := make([]*Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *Client) int { return cmp.Compare(a.id, b.id) })
	return out
}
