// Package integration runs kvd as a real process and talks to it over TCP,
// the way clients do. It also holds the byte-exact conformance corpus recorded
// from real Redis (see conformance_test.go and docs/conformance.md).
package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	readyTimeout = 10 * time.Second // how long a server may take to answer PING
	stopTimeout  = 10 * time.Second // how long SIGTERM may take before SIGKILL
	replyTimeout = 10 * time.Second // how long one reply may take on a rawConn
)

// kvdBinary is the kvd built once by TestMain; buildErr holds the compiler
// output when that failed. A failed build does not abort the package: tests
// that need kvd fail with the output, tests that only need Redis (recording
// the corpus) still run.
var (
	kvdBinary string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kvd-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: temp dir:", err)
		os.Exit(1)
	}
	kvdBinary = filepath.Join(dir, "kvd")
	buildErr = buildKVD(kvdBinary)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildKVD compiles ./cmd/kvd from the module root, the parent of this
// package's directory (go test runs in the package directory).
func buildKVD(out string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/kvd")
	cmd.Dir = filepath.Dir(wd)
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/kvd: %v\n%s", err, output)
	}
	return nil
}

// freePort asks the kernel for an unused loopback port. The listener is
// closed before the server binds it, so another process could take it in
// between; on loopback in a test run that race is rare enough to accept.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// syncBuffer collects a child's stdout and stderr; it is read by the test
// goroutine while the child may still be writing.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is one running server child: kvd or redis-server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when Wait returns
	err  error         // Wait's result, valid once done is closed
}

func startProcess(t testing.TB, out io.Writer, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig and waits; if the process outlives stopTimeout it is
// killed. It returns the exit error (nil for a clean exit 0).
func (p *process) stop(sig os.Signal) error {
	if !p.exited() {
		p.cmd.Process.Signal(sig)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("did not exit within %v of %v, killed: %v", stopTimeout, sig, p.err)
	}
	return p.err
}

// waitReady polls addr until a PING gets +PONG, failing early if the
// process dies first (a bad flag or a port clash shows up immediately). The
// caller's cleanup prints the process output when the test fails.
func waitReady(t testing.TB, p *process, addr string) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		if p.exited() {
			t.Fatalf("%s exited before answering PING: %v", p.cmd.Path, p.err)
		}
		if lastErr = pingOnce(addr); lastErr == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.cmd.Process.Kill()
	<-p.done
	t.Fatalf("%s did not answer PING on %s within %v (last error: %v)",
		p.cmd.Path, addr, readyTimeout, lastErr)
}

func pingOnce(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// A server that requires a password answers -NOAUTH: it is up too.
	if line != "+PONG\r\n" && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("PING replied %q", line)
	}
	return nil
}

// kvdProc is a kvd server owned by one test.
type kvdProc struct {
	Addr string
	Dir  string
	Port int

	args []string // extra arguments, reused by Restart
	out  *syncBuffer
	proc *process
}

// startKVD runs the kvd built by TestMain on a free loopback port with a
// fresh data directory, and waits until it answers PING. The test's cleanup
// stops it, and prints its output if the test failed.
func startKVD(t testing.TB, extraArgs ...string) *kvdProc {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("kvd binary unavailable: %v", buildErr)
	}
	port := freePort(t)
	k := &kvdProc{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Dir:  t.TempDir(),
		Port: port,
		args: extraArgs,
		out:  &syncBuffer{},
	}
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			t.Logf("kvd output (%s):\n%s", k.Addr, k.out)
		}
	})
	k.start(t)
	return k
}

func (k *kvdProc) start(t testing.TB) {
	t.Helper()
	args := append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(k.Port), "--dir", k.Dir}, k.args...)
	k.proc = startProcess(t, k.out, kvdBinary, args...)
	waitReady(t, k.proc, k.Addr)
}

// Stop sends SIGTERM and waits for kvd to exit (SIGKILL after 10s). It
// returns the exit error, so a test can assert a clean shutdown. Stopping an
// already stopped kvd returns its earlier exit error.
func (k *kvdProc) Stop() error {
	if k.proc == nil { // the start itself failed
		return nil
	}
	return k.proc.stop(syscall.SIGTERM)
}

// Kill simulates a crash: SIGKILL, no chance to flush anything.
func (k *kvdProc) Kill() {
	if k.proc != nil {
		k.proc.stop(syscall.SIGKILL)
	}
}

// Restart starts a new kvd process on the same port and data directory, to
// check what survives a restart. A still running process is stopped
// gracefully first; call Kill before Restart to test crash recovery.
func (k *kvdProc) Restart(t testing.TB) {
	t.Helper()
	if err := k.Stop(); err != nil {
		t.Logf("kvd exit before restart: %v", err)
	}
	fmt.Fprintf(k.out, "\n--- restart ---\n")
	k.start(t)
}

// redisProc is a real redis-server, the reference the corpus is recorded from.
type redisProc struct {
	Addr string
	Dir  string
	Port int
}

// startRedis runs redis-server from PATH with persistence off, skipping the
// test when it is not installed so the rest of the suite runs without it.
func startRedis(t testing.TB, extraArgs ...string) *redisProc {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not on PATH: ", err)
	}
	port := freePort(t)
	r := &redisProc{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Dir:  t.TempDir(),
		Port: port,
	}
	args := append([]string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", r.Dir,
	}, extraArgs...)
	out := &syncBuffer{}
	p := startProcess(t, out, bin, args...)
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("redis-server output (%s):\n%s", r.Addr, out)
		}
	})
	waitReady(t, p, r.Addr)
	return r
}

// newClient returns a go-redis client speaking RESP protocol (2 or 3),
// closed when the test ends.
func newClient(t testing.TB, addr string, protocol int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: protocol})
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn is a bare RESP connection that returns replies as the exact bytes
// the server sent, for byte-level comparisons no client library would allow.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, readyTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, conn: c, r: bufio.NewReader(c)}
}

// Do sends one command as a RESP multibulk and returns its reply.
func (c *rawConn) Do(args ...string) []byte {
	c.t.Helper()
	c.Send(encodeCommand(args))
	return c.ReadReply()
}

// Send writes raw bytes as they are, e.g. inline commands or broken frames.
func (c *rawConn) Send(raw []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(replyTimeout))
	if _, err := c.conn.Write(raw); err != nil {
		c.t.Fatalf("write to %s: %v", c.conn.RemoteAddr(), err)
	}
}

// ReadReply returns the bytes of exactly one complete reply.
func (c *rawConn) ReadReply() []byte {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(replyTimeout))
	var buf []byte
	if err := readFrame(c.r, &buf); err != nil {
		c.t.Fatalf("read reply from %s: %v (partial: %q)", c.conn.RemoteAddr(), err, buf)
	}
	return buf
}

func encodeCommand(args []string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// readFrame appends one RESP2/RESP3 frame to buf, recursing into
// aggregates. An attribute (|) belongs to the reply that follows it, so that
// reply is read too: the result is always one whole reply.
func readFrame(r *bufio.Reader, buf *[]byte) error {
	line, err := r.ReadBytes('\n')
	*buf = append(*buf, line...)
	if err != nil {
		return err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return fmt.Errorf("malformed line %q", line)
	}
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return fmt.Errorf("bad length in %q", line)
		}
		if n == -1 { // RESP2 null bulk
			return nil
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(r, data); err != nil {
			return err
		}
		*buf = append(*buf, data...)
		if !bytes.HasSuffix(data, []byte("\r\n")) {
			return errors.New("string not terminated by CRLF")
		}
		return nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return fmt.Errorf("bad count in %q", line)
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ { // n == -1 is the RESP2 null array
			if err := readFrame(r, buf); err != nil {
				return err
			}
		}
		if line[0] == '|' {
			return readFrame(r, buf)
		}
		return nil
	}
	return fmt.Errorf("unknown reply type %q", line)
}

// TestReadFrame checks that readFrame consumes exactly one reply of each
// kind, since every byte comparison in this package relies on it.
func TestReadFrame(t *testing.T) {
	frames := []string{
		"+OK\r\n",
		"-ERR x\r\n",
		":-1\r\n",
		"$-1\r\n",
		"$0\r\n\r\n",
		"$4\r\na\r\nb\r\n", // CRLF inside the payload
		"*-1\r\n",
		"*0\r\n",
		"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
		"_\r\n",
		",1.5\r\n",
		"#t\r\n",
		"(123\r\n",
		"=7\r\ntxt:abc\r\n",
		"!3\r\nERR\r\n",
		"%1\r\n+k\r\n*2\r\n:1\r\n_\r\n",
		"~2\r\n+a\r\n+b\r\n",
		">2\r\n+message\r\n+x\r\n",
		"|1\r\n+ttl\r\n:5\r\n$1\r\nv\r\n", // an attribute and the reply it annotates
	}
	for _, f := range frames {
		r := bufio.NewReader(strings.NewReader(f + "+NEXT\r\n"))
		var got []byte
		if err := readFrame(r, &got); err != nil || string(got) != f {
			t.Errorf("readFrame(%q) = %q, %v", f, got, err)
			continue
		}
		if rest, _ := io.ReadAll(r); string(rest) != "+NEXT\r\n" {
			t.Errorf("readFrame(%q) left %q", f, rest)
		}
	}
	for _, bad := range []string{"?x\r\n", "$3\r\nab\r\n", "*1\r\n", "+OK\n"} {
		var got []byte
		if err := readFrame(bufio.NewReader(strings.NewReader(bad)), &got); err == nil {
			t.Errorf("readFrame(%q) accepted a broken frame: %q", bad, got)
		}
	}
}
