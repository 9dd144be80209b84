package integration

// RESP at the byte level over raw connections: inline commands, pipelining,
// binary safety, request limits, authentication limits, max clients, idle
// timeout and slow writers. Where the exact bytes matter, the same script is
// also run against a real redis-server (subtest "redis-reference", skipped
// when redis-server is not installed) to show the expectation is Redis's.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// step is one exchange of a script on one connection.
type step struct {
	send   string // raw bytes written as they are
	want   string // the exact reply; "" reads nothing
	closed bool   // after want, the server must close the connection
}

// runSteps runs steps on a new connection to addr and reports every
// mismatch. It stops at the first read that fails.
func runSteps(t *testing.T, addr string, steps []step) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for i, s := range steps {
		if s.send != "" {
			conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write([]byte(s.send)); err != nil {
				t.Errorf("step %d: write %q: %v", i, s.send, err)
				return
			}
		}
		if s.want != "" {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			var got []byte
			err := readFrame(r, &got)
			if err != nil {
				t.Errorf("step %d: sent %q: want %q, read %q then %v", i, short(s.send), s.want, got, err)
				return
			}
			if string(got) != s.want {
				t.Errorf("step %d: sent %q: got %q, want %q", i, short(s.send), got, s.want)
			}
		}
		if s.closed {
			rest, closed := readUntilClosed(conn, r, 3*time.Second)
			if !closed {
				t.Errorf("step %d: sent %q: connection still open 3 s after the reply (extra bytes %q)", i, short(s.send), rest)
			} else if len(rest) > 0 {
				t.Errorf("step %d: sent %q: extra bytes %q before the server closed", i, short(s.send), rest)
			}
			return
		}
	}
}

// readUntilClosed reads until EOF (or reset), returning what arrived and
// whether the connection was closed within the timeout.
func readUntilClosed(conn net.Conn, r *bufio.Reader, timeout time.Duration) ([]byte, bool) {
	conn.SetReadDeadline(time.Now().Add(timeout))
	data, err := io.ReadAll(r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return data, false
	}
	return data, true // EOF (err nil) or reset
}

func short(s string) string {
	if len(s) > 80 {
		return s[:60] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// onRedis runs check against a real redis-server started with args, as the
// reference for the expected bytes; it is skipped without redis-server.
func onRedis(t *testing.T, args []string, check func(t *testing.T, addr string)) {
	t.Helper()
	t.Run("redis-reference", func(t *testing.T) {
		if _, err := exec.LookPath("redis-server"); err != nil {
			t.Skip("redis-server not installed; Redis comparison skipped")
		}
		r := startRedis(t, args...)
		check(t, r.Addr)
	})
}

func TestProtocolInline(t *testing.T) {
	t.Parallel()
	steps := []step{
		{send: "PING\r\n", want: "+PONG\r\n"},
		{send: "SET a \"b c\"\r\n", want: "+OK\r\n"},
		{send: "GET a\r\n", want: "$3\r\nb c\r\n"},
		{send: "*2\r\n$3\r\nGET\r\n$1\r\na\r\n", want: "$3\r\nb c\r\n"},
		{send: "SET q 'single quoted' \r\n", want: "+OK\r\n"},
		{send: "GET q\r\n", want: "$13\r\nsingle quoted\r\n"},
		{send: "SET e \"\\x41\\n\\t\"\r\n", want: "+OK\r\n"},
		{send: "STRLEN e\r\n", want: ":3\r\n"},
		{send: "ping\n", want: "+PONG\r\n"},                              // LF alone ends an inline command
		{send: "\r\n\r\nECHO   spaced   \r\n", want: "$6\r\nspaced\r\n"}, // empty lines are ignored
		{send: "PING\r\nECHO x\r\n"},
		{want: "+PONG\r\n"},
		{want: "$1\r\nx\r\n"},
		{send: "SET a \"unbalanced\r\n", want: "-ERR Protocol error: unbalanced quotes in request\r\n", closed: true},
	}
	k := startKVD(t)
	runSteps(t, k.Addr, steps)
	onRedis(t, nil, func(t *testing.T, addr string) { runSteps(t, addr, steps) })
}

// TestProtocolErrorAfterCommands: commands that arrive in the same write
// ahead of a protocol error are executed and answered before the error.
func TestProtocolErrorAfterCommands(t *testing.T) {
	t.Parallel()
	scripts := [][]step{
		{{send: "SET before 1\r\nINCR before\r\n*abc\r\n", want: "+OK\r\n"}, {want: ":2\r\n"},
			{want: "-ERR Protocol error: invalid multibulk length\r\n", closed: true}},
		{{send: "*1\r\n$4\r\nPING\r\nSET g \"x\"y\r\n", want: "+PONG\r\n"},
			{want: "-ERR Protocol error: unbalanced quotes in request\r\n", closed: true}},
		{{send: "GET before\r\n", want: "$1\r\n2\r\n"}},
	}
	check := func(t *testing.T, addr string) {
		for _, s := range scripts {
			runSteps(t, addr, s)
		}
	}
	k := startKVD(t)
	check(t, k.Addr)
	onRedis(t, nil, check)
}

// TestProtocolPipeline: 1000 commands in one write, 1000 replies in order.
func TestProtocolPipeline(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	c := dialRaw(t, k.Addr)
	var buf []byte
	want := make([]string, 1000)
	for i := 0; i < 1000; i++ {
		switch i % 3 {
		case 0:
			buf = append(buf, encodeCommand([]string{"INCR", "ctr"})...)
			want[i] = fmt.Sprintf(":%d\r\n", i/3+1)
		case 1:
			msg := fmt.Sprintf("msg-%d", i)
			buf = append(buf, encodeCommand([]string{"ECHO", msg})...)
			want[i] = fmt.Sprintf("$%d\r\n%s\r\n", len(msg), msg)
		case 2:
			buf = append(buf, encodeCommand([]string{"SET", fmt.Sprintf("k%d", i), strconv.Itoa(i)})...)
			want[i] = "+OK\r\n"
		}
	}
	c.Send(buf)
	for i := range want {
		if got := string(c.ReadReply()); got != want[i] {
			t.Fatalf("pipelined reply %d = %q, want %q", i, got, want[i])
		}
	}
	if got := string(c.Do("GET", "k998")); got != "$3\r\n998\r\n" {
		t.Errorf("GET k998 after the pipeline = %q", got)
	}
	if got := string(c.Do("DBSIZE")); got != ":334\r\n" {
		t.Errorf("DBSIZE after the pipeline = %q, want :334", got)
	}
}

// TestProtocolBinarySafe: keys and values holding every byte value and
// CRLF sequences that look like RESP.
func TestProtocolBinarySafe(t *testing.T) {
	t.Parallel()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	key := string(all) + "\r\n$3\r\nkey"
	value := strings.Repeat(string(all), 4) + "\r\n*1\r\n$4\r\nPING\r\n\r\n"
	bulk := func(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }
	steps := []step{
		{send: string(encodeCommand([]string{"SET", key, value})), want: "+OK\r\n"},
		{send: string(encodeCommand([]string{"GET", key})), want: bulk(value)},
		{send: string(encodeCommand([]string{"STRLEN", key})), want: fmt.Sprintf(":%d\r\n", len(value))},
		{send: string(encodeCommand([]string{"KEYS", "*"})), want: "*1\r\n" + bulk(key)},
		{send: string(encodeCommand([]string{"EXISTS", string(all)})), want: ":0\r\n"},
		{send: string(encodeCommand([]string{"APPEND", key, "\x00\r\n"})), want: fmt.Sprintf(":%d\r\n", len(value)+3)},
		{send: string(encodeCommand([]string{"GETRANGE", key, "0", "255"})), want: bulk(string(all))},
		{send: string(encodeCommand([]string{"SET", "", ""})), want: "+OK\r\n"},
		{send: string(encodeCommand([]string{"GET", ""})), want: "$0\r\n\r\n"},
		{send: string(encodeCommand([]string{"MSET", "\x00", "\xff", "\r\n", "\n"})), want: "+OK\r\n"},
		{send: string(encodeCommand([]string{"MGET", "\x00", "\r\n", "missing"})), want: "*3\r\n$1\r\n\xff\r\n$1\r\n\n\r\n$-1\r\n"},
		{send: string(encodeCommand([]string{"DEL", key, "", "\x00", "\r\n"})), want: ":4\r\n"},
		{send: string(encodeCommand([]string{"DBSIZE"})), want: ":0\r\n"},
	}
	k := startKVD(t)
	runSteps(t, k.Addr, steps)
	onRedis(t, nil, func(t *testing.T, addr string) { runSteps(t, addr, steps) })
}

// vmRSS returns the resident set size of pid in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read /proc/%d/status: %v", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return kb * 1024
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// oversized sends header, expects wantErr and a close, while a writer keeps
// pushing payload bytes (up to flood) as a client would that means it.
func oversized(t *testing.T, addr, header, wantErr string, flood int) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(header)); err != nil {
		t.Fatalf("write header: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // keep sending payload; stops when the server closes
		defer wg.Done()
		chunk := make([]byte, 64<<10)
		for i := range chunk {
			chunk[i] = 'x'
		}
		for sent := 0; sent < flood; sent += len(chunk) {
			if _, err := conn.Write(chunk); err != nil {
				return
			}
		}
	}()
	r := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := r.ReadString('\n')
	if line != wantErr {
		t.Errorf("sent %q: got %q (%v), want %q", short(header), line, err, wantErr)
	}
	if rest, closed := readUntilClosed(conn, r, 5*time.Second); !closed {
		t.Errorf("sent %q: connection still open after the protocol error (read %d more bytes)", short(header), len(rest))
	}
	conn.Close() // unblocks the writer if the server kept reading
	wg.Wait()
}

// TestProtocolRequestLimits: oversized bulk and multibulk headers are
// refused before any memory is committed to them.
func TestProtocolRequestLimits(t *testing.T) {
	t.Parallel()
	const flood = 48 << 20
	cases := []struct{ name, header, want string }{
		{"bulk 4294967296", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4294967296\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"bulk 536870913 (> default 512mb)", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"bulk -5", "*2\r\n$3\r\nGET\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"multibulk 2147483648", "*2147483648\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"multibulk not a number", "*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"bulk without $", "*1\r\n:5\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
	}
	k := startKVD(t)
	pid := k.proc.cmd.Process.Pid
	before := vmRSS(t, pid)
	for _, tc := range cases {
		oversized(t, k.Addr, tc.header, tc.want, flood)
	}
	time.Sleep(200 * time.Millisecond)
	after := vmRSS(t, pid)
	if grew := after - before; grew > 20<<20 {
		t.Errorf("kvd RSS grew %d MB (%d -> %d MB) while clients pushed %d MB after refused headers; want < 20 MB",
			grew>>20, before>>20, after>>20, len(cases)*flood>>20)
	}
	t.Logf("kvd RSS %d MB -> %d MB", before>>20, after>>20)
	runSteps(t, k.Addr, []step{{send: "PING\r\n", want: "+PONG\r\n"}})

	// --proto-max-bulk-len is honoured, at its boundary.
	small := startKVD(t, "--proto-max-bulk-len", "1048576")
	atLimit := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n" + strings.Repeat("y", 1048576) + "\r\n"
	runSteps(t, small.Addr, []step{{send: atLimit, want: "+OK\r\n"}, {send: "STRLEN k\r\n", want: ":1048576\r\n"}})
	oversized(t, small.Addr, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n", "-ERR Protocol error: invalid bulk length\r\n", 2<<20)

	onRedis(t, []string{"--proto-max-bulk-len", "1048576"}, func(t *testing.T, addr string) {
		for _, tc := range cases {
			if strings.Contains(tc.name, "536870913") {
				continue // redis here runs with a 1mb limit
			}
			oversized(t, addr, tc.header, tc.want, 1<<20)
		}
		runSteps(t, addr, []step{{send: atLimit, want: "+OK\r\n"}})
		oversized(t, addr, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n", "-ERR Protocol error: invalid bulk length\r\n", 2<<20)
	})
}

// TestProtocolEmptyMultibulk: Redis ignores "*0" and "*-1" without a reply.
func TestProtocolEmptyMultibulk(t *testing.T) {
	t.Parallel()
	steps := []step{
		{send: "*0\r\n"},
		{send: "*1\r\n$4\r\nPING\r\n", want: "+PONG\r\n"},
		{send: "*0\r\n*0\r\n*1\r\n$4\r\nECHO\r\n", want: "-ERR wrong number of arguments for 'echo' command\r\n"},
		{send: "*-1\r\n"},
		{send: "*1\r\n$4\r\nPING\r\n", want: "+PONG\r\n"},
	}
	k := startKVD(t)
	runSteps(t, k.Addr, steps)
	onRedis(t, nil, func(t *testing.T, addr string) { runSteps(t, addr, steps) })
}

// TestProtocolAuth: --requirepass limits unauthenticated clients exactly as
// Redis 7 does.
func TestProtocolAuth(t *testing.T) {
	t.Parallel()
	mset11 := string(encodeCommand([]string{"MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"}))
	args10 := string(encodeCommand([]string{"MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e"}))
	big := strings.Repeat("z", 20000)
	set20000 := string(encodeCommand([]string{"SET", "big", big}))
	set16384 := string(encodeCommand([]string{"SET", "big", big[:16384]}))
	noauth := "-NOAUTH Authentication required.\r\n"
	wrongpass := "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
	scripts := map[string][]step{
		"commands before AUTH": {
			{send: "*2\r\n$3\r\nGET\r\n$1\r\na\r\n", want: noauth},
			{send: "SET a b\r\n", want: noauth},
			{send: args10, want: noauth},   // 10 arguments: still allowed to arrive
			{send: set16384, want: noauth}, // 16384 bytes: still allowed to arrive
			{send: "AUTH wrong\r\n", want: wrongpass},
			{send: "AUTH default wrong\r\n", want: wrongpass},
			{send: "GET a\r\n", want: noauth},
			{send: "AUTH secret\r\n", want: "+OK\r\n"},
			{send: "GET a\r\n", want: "$-1\r\n"},
		},
		"11 arguments before AUTH": {
			{send: mset11, want: "-ERR Protocol error: unauthenticated multibulk length\r\n", closed: true},
		},
		"20000-byte bulk before AUTH": {
			{send: set20000, want: "-ERR Protocol error: unauthenticated bulk length\r\n", closed: true},
		},
		"after AUTH": {
			{send: "AUTH default secret\r\n", want: "+OK\r\n"},
			{send: mset11, want: "+OK\r\n"},
			{send: "GET e\r\n", want: "$1\r\n5\r\n"},
			{send: set20000, want: "+OK\r\n"},
			{send: "STRLEN big\r\n", want: ":20000\r\n"},
		},
		"HELLO with AUTH": {
			{send: "HELLO 2 AUTH default wrong\r\n", want: wrongpass},
			{send: "GET a\r\n", want: noauth},
		},
	}
	names := []string{"commands before AUTH", "11 arguments before AUTH", "20000-byte bulk before AUTH", "after AUTH", "HELLO with AUTH"}
	check := func(t *testing.T, addr string) {
		for _, name := range names {
			t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) { runSteps(t, addr, scripts[name]) })
		}
	}
	k := startKVD(t, "--requirepass", "secret")
	check(t, k.Addr)
	t.Run("redis-reference", func(t *testing.T) {
		check(t, startRedis(t, "--requirepass", "secret").Addr)
	})
}

// maxClientsCheck opens max connections, expects the next one refused with
// Redis's error and closed, and a slot to free up when one disconnects.
func maxClientsCheck(t *testing.T, addr string, max int) {
	time.Sleep(100 * time.Millisecond) // let the readiness probe's connection go
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < max; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("PING\r\n"))
		if line, err := bufio.NewReader(c).ReadString('\n'); line != "+PONG\r\n" {
			t.Fatalf("connection %d of maxclients %d: PING = %q, %v", i+1, max, line, err)
		}
	}
	extra, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.Write([]byte("PING\r\n")) // may fail if already closed
	r := bufio.NewReader(extra)
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := r.ReadString('\n')
	if line != "-ERR max number of clients reached\r\n" {
		t.Errorf("connection %d with maxclients %d: got %q (%v), want \"-ERR max number of clients reached\\r\\n\"", max+1, max, line, err)
	}
	if rest, closed := readUntilClosed(extra, r, 3*time.Second); !closed || len(rest) > 0 {
		t.Errorf("refused connection: closed=%v, extra bytes %q; want closed with nothing more", closed, rest)
	}
	// Free a slot: a new connection is served again.
	conns[0].Close()
	conns = conns[1:]
	deadline := time.Now().Add(3 * time.Second)
	for {
		if err := pingOnce(addr); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Errorf("after one of %d clients disconnected, a new connection still fails: %v", max, err)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestProtocolMaxClients(t *testing.T) {
	t.Parallel()
	k := startKVD(t, "--maxclients", "3")
	maxClientsCheck(t, k.Addr, 3)
	onRedis(t, []string{"--maxclients", "3"}, func(t *testing.T, addr string) { maxClientsCheck(t, addr, 3) })
}

// TestProtocolIdleTimeout: with --timeout 1 an idle client is closed within
// a few seconds, silently, while an active one stays connected.
func TestProtocolIdleTimeout(t *testing.T) {
	t.Parallel()
	k := startKVD(t, "--timeout", "1")
	idle, err := net.Dial("tcp", k.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	active := dialRaw(t, k.Addr)
	start := time.Now()
	idle.Write([]byte("PING\r\n"))
	ir := bufio.NewReader(idle)
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if line, err := ir.ReadString('\n'); line != "+PONG\r\n" {
		t.Fatalf("PING on the idle connection = %q, %v", line, err)
	}

	closedAt := make(chan time.Duration, 1)
	var leftover []byte
	go func() {
		var closed bool
		leftover, closed = readUntilClosed(idle, ir, 4*time.Second)
		if !closed {
			closedAt <- -1
			return
		}
		closedAt <- time.Since(start)
	}()
	// The active connection sends a command every 300 ms for 2.7 s.
	for i := 0; i < 9; i++ {
		time.Sleep(300 * time.Millisecond)
		if got := string(active.Do("PING")); got != "+PONG\r\n" {
			t.Fatalf("active connection, PING %d after %v: %q", i, time.Since(start), got)
		}
	}
	d := <-closedAt
	switch {
	case d < 0:
		t.Errorf("--timeout 1: idle connection still open after %v", time.Since(start))
	case d < 900*time.Millisecond:
		t.Errorf("--timeout 1: idle connection closed after only %v", d)
	case d > 3*time.Second:
		t.Errorf("--timeout 1: idle connection closed after %v, want within ~3 s", d)
	}
	if len(leftover) > 0 {
		t.Errorf("idle connection got %q before being closed, want nothing (Redis closes silently)", leftover)
	}
	t.Logf("idle connection closed after %v", d)
}

// TestProtocolSlowWriter: a command arriving one byte at a time, in RESP
// and inline form, gets the right reply.
func TestProtocolSlowWriter(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, addr string) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetNoDelay(true)
		r := bufio.NewReader(conn)
		for _, tc := range []struct{ send, want string }{
			{"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$11\r\nvalue\r\nwith\r\n", "+OK\r\n"},
			{"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", "$11\r\nvalue\r\nwith\r\n"},
			{"APPEND key \"!\"\r\n", ":12\r\n"},
			{"PING\r\n", "+PONG\r\n"},
		} {
			for i := 0; i < len(tc.send); i++ {
				conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if _, err := conn.Write([]byte{tc.send[i]}); err != nil {
					t.Fatalf("write byte %d of %q: %v", i, tc.send, err)
				}
				time.Sleep(2 * time.Millisecond)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			var got []byte
			if err := readFrame(r, &got); err != nil || string(got) != tc.want {
				t.Errorf("sent %q one byte at a time: got %q (%v), want %q", tc.send, got, err, tc.want)
			}
		}
	}
	k := startKVD(t)
	check(t, k.Addr)
	onRedis(t, nil, check)
}
