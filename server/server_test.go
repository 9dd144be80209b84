package server

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/protocol"
)

// lockedBuffer collects log output from handlers running on any goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestServer builds a server over a store in a temp dir, without a
// listener: tests drive execute directly.
func newTestServer(t testing.TB, logTo io.Writer) *Server {
	t.Helper()
	opts := engine.DefaultOptions(t.TempDir())
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := engine.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s, err := New(DefaultConfig(), store, slog.New(slog.NewTextHandler(logTo, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newTestClient is a client as accept makes it: authenticated on connect
// when no password is set.
func newTestClient(s *Server) *Client {
	return &Client{srv: s, w: protocol.NewWriter(2), id: s.nextID.Add(1), proto: 2,
		store: s.store, authed: s.params.config().RequirePass == ""}
}

func run(c *Client, args ...string) string {
	c.w.Reset()
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	c.srv.execute(c, bargs)
	return string(c.w.Bytes())
}

func TestTableIsValidAndComplete(t *testing.T) {
	s := newTestServer(t, io.Discard)
	for _, cmd := range s.table.sorted {
		if cmd.Summary == "" || cmd.Since == "" || cmd.Group == "" {
			t.Errorf("%s lacks docs (summary/since/group)", cmd.Name)
		}
	}
	bad := &Command{Name: "Bad", Arity: 1, Handler: cmdPing}
	if _, err := newTable([]*Command{bad}); err == nil {
		t.Error("an upper-case name must be refused")
	}
	dup := &Command{Name: "x", Arity: 1, Handler: cmdPing}
	if _, err := newTable([]*Command{dup, dup}); err == nil {
		t.Error("a duplicate must be refused")
	}
	noKeys := &Command{Name: "y", Arity: 2, FirstKey: 1, Handler: cmdPing}
	if _, err := newTable([]*Command{noKeys}); err == nil {
		t.Error("a first key without a step must be refused")
	}
}

func TestDispatchOrderAndErrors(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"NOPE", "a"}, "-ERR unknown command 'NOPE', with args beginning with: 'a' \r\n"},
		{[]string{"get"}, "-ERR wrong number of arguments for 'get' command\r\n"},
		{[]string{"client", "nope"}, "-ERR unknown subcommand 'nope'. Try CLIENT HELP.\r\n"},
		{[]string{"client", "setname"}, "-ERR wrong number of arguments for 'client|setname' command\r\n"},
		{[]string{"GeT", "missing"}, "$-1\r\n"},
	}
	for _, tc := range cases {
		if got := run(c, tc.args...); got != tc.want {
			t.Errorf("%q: got %q want %q", tc.args, got, tc.want)
		}
	}
	s.params.set([][]byte{[]byte("requirepass"), []byte("pw")})
	if got := run(c, "get", "k"); got != "$-1\r\n" {
		t.Errorf("a client connected before requirepass was set stays authenticated, as in Redis: %q", got)
	}
	c = newTestClient(s)
	if got := run(c, "nope"); !strings.HasPrefix(got, "-ERR unknown command") {
		t.Errorf("unknown command must win over NOAUTH, as in Redis: %q", got)
	}
	if got := run(c, "get", "k"); got != "-NOAUTH Authentication required.\r\n" {
		t.Errorf("before AUTH: %q", got)
	}
	if got := run(c, "auth", "pw"); got != "+OK\r\n" {
		t.Errorf("AUTH: %q", got)
	}
	if got := run(c, "get", "k"); got != "$-1\r\n" {
		t.Errorf("after AUTH: %q", got)
	}
}

func TestCommandStatsCountCallsAndFailures(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	run(c, "set", "k", "v")
	run(c, "incr", "k") // fails: not an integer
	run(c, "get")       // rejected: arity
	body, _ := s.infoSection(c, "commandstats")
	for _, want := range []string{
		"cmdstat_set:calls=1,",
		"cmdstat_incr:calls=1,",
		"rejected_calls=0,failed_calls=1",
		"cmdstat_get:calls=0,",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("commandstats lacks %q:\n%s", want, body)
		}
	}
}

func TestPanicInHandlerClosesOnlyThatClient(t *testing.T) {
	var logs lockedBuffer
	s := newTestServer(t, &logs)
	boom := &Command{Name: "boom", Arity: 1, Group: "server", Summary: "x", Since: "0", Handler: func(c *Client, args [][]byte) {
		c.w.Status("partial")
		panic("handler bug")
	}}
	s.table.byName["boom"] = boom
	c := newTestClient(s)
	got := run(c, "boom")
	if got != "-ERR internal error while running 'boom'\r\n" || !c.closing {
		t.Fatalf("got %q closing=%v", got, c.closing)
	}
	if !strings.Contains(logs.String(), "handler bug") {
		t.Error("the panic must be logged")
	}
	other := newTestClient(s)
	if got := run(other, "ping"); got != "+PONG\r\n" {
		t.Errorf("another client: %q", got)
	}
}

// FuzzExecute sends arbitrary argument vectors through dispatch and every
// handler. Handlers must never panic (a panic is recovered and logged, so
// the log is checked) and must always write exactly one reply.
func FuzzExecute(f *testing.F) {
	for _, seed := range []string{
		"SET\x00k\x00v\x00EX\x0010", "SET\x00k\x00v\x00PXAT\x00-1\x00GET", "GETEX\x00k\x00PERSIST",
		"SETRANGE\x00k\x00100000\x00x", "GETRANGE\x00k\x00-9223372036854775808\x009223372036854775807",
		"INCRBYFLOAT\x00k\x001e308", "EXPIRE\x00k\x00-9223372036854775808", "SCAN\x000\x00COUNT\x000",
		"CLIENT\x00KILL\x00ID\x001", "CONFIG\x00SET\x00timeout", "HELLO\x003\x00AUTH\x00default",
		"COPY\x00a\x00b\x00DB\x0099", "DELEX\x00k\x00IFDEQ\x00zz", "KEYS\x00[", "SWAPDB\x000\x0015",
	} {
		f.Add(seed)
	}
	var logs lockedBuffer
	s := newTestServer(f, &logs)
	c := newTestClient(s)
	f.Fuzz(func(t *testing.T, in string) {
		args := strings.Split(in, "\x00")
		if strings.EqualFold(args[0], "shutdown") || strings.EqualFold(args[0], "flushall") {
			return
		}
		c.closing = false
		got := run(c, args...)
		if strings.Contains(logs.String(), "panicked") {
			t.Fatalf("%q panicked: %s", args, logs.String())
		}
		if len(got) == 0 || !strings.HasSuffix(got, "\r\n") {
			t.Fatalf("%q: no complete reply: %q", args, got)
		}
		if c.db != 0 {
			c.selectDB(0)
		}
	})
}

func TestParseCursorFollowsStrtoul(t *testing.T) {
	cases := map[string]uint64{"0": 0, "17": 17, "+5": 5, "-1": ^uint64(0), "": 0}
	for in, want := range cases {
		if got, ok := parseCursor([]byte(in)); !ok || got != want {
			t.Errorf("parseCursor(%q) = %d, %v", in, got, ok)
		}
	}
	for _, in := range []string{" 1", "1 ", "x", "-", "18446744073709551616"} {
		if _, ok := parseCursor([]byte(in)); ok {
			t.Errorf("parseCursor(%q) accepted", in)
		}
	}
}

// An unknown TYPE matches nothing, whatever MATCH comes after it (the
// options used to overwrite each other's filter).
func TestScanUnknownTypeMatchesNothing(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	run(c, "set", "k", "v")
	if got := run(c, "scan", "0", "type", "nosuchtype", "match", "*"); got != "*2\r\n$1\r\n0\r\n*0\r\n" {
		t.Fatalf("SCAN TYPE nosuchtype MATCH *: %q", got)
	}
	if got := run(c, "scan", "0", "type", "string", "match", "k*"); got != "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n" {
		t.Fatalf("SCAN TYPE string MATCH k*: %q", got)
	}
}

func TestInfoMemoryReportsTheMachineAndTheCollector(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	field := func(name string) int64 {
		t.Helper()
		body, _ := s.infoSection(c, "memory")
		for line := range strings.Lines(body) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("%s: %q", name, line)
				}
				return n
			}
		}
		t.Fatalf("INFO memory has no %s:\n%s", name, body)
		return 0
	}
	if _, err := os.Stat("/proc/meminfo"); err == nil {
		if got := field("total_system_memory"); got < 64<<20 {
			t.Errorf("total_system_memory %d on a machine with /proc/meminfo", got)
		}
	}
	if got, want := field("kvd_heap_limit"), debug.SetMemoryLimit(-1); got != want {
		t.Errorf("kvd_heap_limit %d, runtime's limit %d", got, want)
	}
	before := field("kvd_gc_cycles")
	runtime.GC()
	if after := field("kvd_gc_cycles"); after <= before {
		t.Errorf("kvd_gc_cycles %d -> %d across a collection", before, after)
	}
}
