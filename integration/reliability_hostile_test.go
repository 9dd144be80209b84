package integration

// Hostile clients: each test attacks one kvd while a well-behaved client
// (latencyProbe) runs SET/GET beside it, and reports kvd's RSS before, at
// its peak during, and after the attack, kvd's CPU time and the
// well-behaved client's latency (p99 goal 10 ms; fails above 50 ms on this
// shared 2-core machine). See docs/reliability.md.
//
// TestProtocol* (protocol_test.go) already checks the exact replies to
// single oversized headers, the unauthenticated limits and maxclients 3;
// these tests add volume, concurrency, memory and latency.
//
// These tests do not call t.Parallel: they run before the package's
// parallel tests and one at a time, so that the latency measured is the
// attack's and not another test's.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// hostileDial opens a TCP connection with TCP_NODELAY.
func hostileDial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.(*net.TCPConn).SetNoDelay(true)
	return c
}

// hostileDrain reads until the server closes the connection or nothing
// arrives for idle; it returns what was read and whether it was closed.
func hostileDrain(c net.Conn, r io.Reader, idle time.Duration) ([]byte, bool) {
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return out, false
			}
			return out, true
		}
	}
}

// hostileFlood writes header then up to flood bytes of filler in 64 KB
// writes until the server closes or stops reading for 5 s; it returns the
// bytes written.
func hostileFlood(c net.Conn, header []byte, flood int64, filler byte) int64 {
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(header); err != nil {
		return 0
	}
	chunk := bytes.Repeat([]byte{filler}, 64<<10)
	var sent int64
	for sent < flood {
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Write(chunk)
		sent += int64(n)
		if err != nil {
			break
		}
	}
	return sent
}

// hostileRefused sends header plus a flood and expects the protocol error
// want followed by a close.
func hostileRefused(t *testing.T, addr, header, want string, flood int64) int64 {
	t.Helper()
	c := hostileDial(t, addr)
	defer c.Close()
	var sent atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sent.Store(hostileFlood(c, []byte(header), flood, 'x'))
	}()
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := r.ReadString('\n')
	if line != want {
		t.Errorf("sent %q: got %q (%v), want %q", short(header), line, err, want)
	}
	if rest, closed := hostileDrain(c, r, 5*time.Second); !closed {
		t.Errorf("sent %q: connection still open 5 s after the protocol error (%d more bytes)", short(header), len(rest))
	}
	c.Close()
	wg.Wait()
	return sent.Load()
}

// TestReliabilityHostileHugeBulk: four clients at once declare a 4 GB bulk
// and keep sending; then one declares a bulk just under the 512 MB limit,
// sends part of it and hangs up.
func TestReliabilityHostileHugeBulk(t *testing.T) {
	flood := byMode[int64](32<<20, 256<<20)
	partial := byMode[int64](32<<20, 128<<20)
	h := startHostile(t, "")
	var wg sync.WaitGroup
	var total atomic.Int64
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			total.Add(hostileRefused(t, h.k.Addr, "*3\r\n$3\r\nSET\r\n$5\r\nhuge1\r\n$4294967296\r\n",
				"-ERR Protocol error: invalid bulk length\r\n", flood))
		}()
	}
	wg.Wait()
	t.Logf("4 clients declaring $4294967296 pushed %s before kvd closed them", mb(total.Load()))
	refusedPeak := h.sampler.peak.Load()

	// A bulk kvd must accept (below proto-max-bulk-len), abandoned halfway:
	// memory follows the bytes received, and goes when the client does.
	c := hostileDial(t, h.k.Addr)
	sent := hostileFlood(c, []byte("*3\r\n$3\r\nSET\r\n$5\r\nhuge2\r\n$536870000\r\n"), partial, 'y')
	time.Sleep(300 * time.Millisecond)
	during, _ := procRSS(kvdPid(h.k))
	c.Close()
	time.Sleep(300 * time.Millisecond)
	t.Logf("declared $536870000 (allowed), sent %s then hung up: kvd RSS %s while pending", mb(sent), mb(during))
	res := h.finish(time.Second)
	if grew := refusedPeak - res.rssBefore; grew > 20<<20 {
		t.Errorf("kvd RSS grew %s while refusing 4 GB bulks (before %s, peak %s); want < 20 MB", mb(grew), mb(res.rssBefore), mb(refusedPeak))
	}
	if refusedPeak > 300<<20 {
		t.Errorf("kvd RSS peaked at %s while refusing 4 GB bulks; want < 300 MB", mb(refusedPeak))
	}
	if grew := during - res.rssBefore; grew > 3*sent+16<<20 {
		t.Errorf("a pending bulk of %s grew kvd's RSS by %s (> 3x the bytes received)", mb(sent), mb(grew))
	}
	v := dialRaw(t, h.k.Addr)
	if got := string(v.Do("EXISTS", "huge1", "huge2")); got != ":0\r\n" {
		t.Errorf("EXISTS huge1 huge2 after the refused and abandoned bulks = %q, want :0", got)
	}
}

// TestReliabilityHostileMultibulkCount: a 2^31 argument count is refused; a
// count of 2^31-1 (the largest Redis accepts) followed by a stream of
// one-byte arguments must cost kvd memory and CPU in proportion to the bytes
// received, not to their square.
func TestReliabilityHostileMultibulkCount(t *testing.T) {
	stream := byMode[int64](512<<10, 2<<20) // kvd's cost grows with the square
	h := startHostile(t, "")
	for i := 0; i < 4; i++ {
		hostileRefused(t, h.k.Addr, "*2147483648\r\n", "-ERR Protocol error: invalid multibulk length\r\n", 8<<20)
	}
	limit := byMode(6*time.Second, 120*time.Second)
	// The harness's well-behaved client keeps kvd busy at a low rate
	// (10-20% of a core on a 2-core machine): measure that first, so
	// that "settled" and the CPU charged to the stream leave it out.
	base := cpuRate(kvdPid(h.k), 500*time.Millisecond)
	cpu0, _ := procCPU(kvdPid(h.k))
	sent, took, settled := multibulkStream(t, h.k.Addr, kvdPid(h.k), stream, limit, base)
	cpu1, _ := procCPU(kvdPid(h.k))
	cpu1 -= time.Duration(base * float64(took))
	t.Logf("*2147483647 then %s of $1 arguments (%d arguments): sent and parsed in %v (settled: %v); kvd CPU %v meanwhile beyond its baseline of %.0f%% of a core",
		mb(sent), sent/7, took.Round(time.Millisecond), settled, (cpu1 - cpu0).Round(time.Millisecond), 100*base)
	res := h.finish(time.Second)
	if res.rssPeak > 300<<20 {
		t.Errorf("kvd RSS peaked at %s while buffering %s of arguments; want < 300 MB", mb(res.rssPeak), mb(sent))
	}
	// Redis parses each argument once: about 40 ms of CPU per MB here.
	cpuLimit := max(time.Second, time.Duration(sent>>20)*500*time.Millisecond)
	switch {
	case !settled:
		t.Errorf("kvd was still busy with %s of one unfinished command after %v, having used %v of CPU (limit %v): the partial command is re-parsed on every read",
			mb(sent), limit, cpu1-cpu0, cpuLimit)
	case cpu1-cpu0 > cpuLimit:
		t.Errorf("kvd used %v of CPU to receive %s of one unfinished command (limit %v, 0.5 s per MB): the partial command is re-parsed on every read",
			cpu1-cpu0, mb(sent), cpuLimit)
	}
	onRedisMeasure(t, func(addr string, pid int) {
		cpu0, _ := procCPU(pid)
		sent, took, _ := multibulkStream(t, addr, pid, stream, limit, 0)
		cpu1, _ := procCPU(pid)
		rss, _ := procRSS(pid)
		t.Logf("redis-server reference: %s of $1 arguments sent in %v; CPU %v; RSS %s", mb(sent), took.Round(time.Millisecond), cpu1-cpu0, mb(rss))
	})
}

// multibulkStream declares 2^31-1 arguments and sends n bytes of them,
// then waits (up to limit in all) until the server (pid) stops using CPU
// beyond its baseline (base, in cores), that is, has read and parsed
// everything. It returns the bytes sent, the
// time taken and whether the server settled within limit.
func multibulkStream(t *testing.T, addr string, pid int, n int64, limit time.Duration, base float64) (int64, time.Duration, bool) {
	c := hostileDial(t, addr)
	defer c.Close()
	start := time.Now()
	deadline := start.Add(limit)
	c.SetWriteDeadline(deadline)
	c.Write([]byte("*2147483647\r\n"))
	chunk := bytes.Repeat([]byte("$1\r\na\r\n"), 64<<10/7)
	var sent int64
	for sent < n {
		k, err := c.Write(chunk[:min(int64(len(chunk)), n-sent)])
		sent += int64(k)
		if err != nil {
			t.Logf("stream stopped after %s: %v", mb(sent), err)
			return sent, time.Since(start), false
		}
	}
	// The command is incomplete, so nothing comes back: wait until the
	// server's CPU time stops moving.
	const poll = 200 * time.Millisecond
	idle := 30*time.Millisecond + time.Duration(base*float64(poll))
	prev, _ := procCPU(pid)
	for time.Now().Before(deadline) {
		time.Sleep(poll)
		cur, _ := procCPU(pid)
		if cur-prev < idle {
			return sent, time.Since(start), true
		}
		prev = cur
	}
	return sent, time.Since(start), false
}

// onRedisMeasure runs f against a real redis-server for reference figures;
// skipped when redis-server is not installed.
func onRedisMeasure(t *testing.T, f func(addr string, pid int)) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Log("redis-server not installed: no reference figures")
		return
	}
	r := startRedis(t)
	pid := 0
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	if info, err := c.Info(context.Background(), "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "process_id:"); ok {
				pid, _ = strconv.Atoi(v)
			}
		}
	}
	f(r.Addr, pid)
}

// TestReliabilityHostileNegativeLengths: negative and malformed counts and
// lengths, each on its own connection, get Redis's reply (recorded from
// redis-server when installed) and never disturb other clients.
func TestReliabilityHostileNegativeLengths(t *testing.T) {
	cases := []string{
		"*-1\r\n*1\r\n$4\r\nPING\r\n",
		"*-5\r\n*1\r\n$4\r\nPING\r\n",
		"*-2147483649\r\n*1\r\n$4\r\nPING\r\n",
		"*-9223372036854775808\r\n*1\r\n$4\r\nPING\r\n",
		"*-9223372036854775809\r\n*1\r\n$4\r\nPING\r\n",
		"*-0\r\n*1\r\n$4\r\nPING\r\n",
		"*1\r\n$-1\r\n",
		"*1\r\n$-5\r\nPING\r\n",
		"*1\r\n$-0\r\n\r\n",
		"*1\r\n$-2147483648\r\n",
		"*1\r\n$-9223372036854775808\r\n",
		"*2\r\n$4\r\nECHO\r\n$-1\r\n",
		"*2\r\n$3\r\nGET\r\n$ -3\r\n",
		"*1\r\n$+4\r\nPING\r\n",
		"*+1\r\n$4\r\nPING\r\n",
		"* 1\r\n$4\r\nPING\r\n",
		"*1 \r\n$4\r\nPING\r\n",
		"*1\r\n$4 \r\nPING\r\n",
		"*1\r\n$04\r\nPING\r\n",
		"*01\r\n$4\r\nPING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$-1\r\n",
		"*1\r\n$9223372036854775808\r\n",
	}
	exchange := func(addr, in string) string {
		c := hostileDial(t, addr)
		defer c.Close()
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(in))
		out, closed := hostileDrain(c, c, 700*time.Millisecond)
		if closed {
			return string(out) + "<closed>"
		}
		return string(out)
	}
	all := func(addr string) []string {
		out := make([]string, len(cases))
		var wg sync.WaitGroup
		for i, in := range cases {
			wg.Add(1)
			go func() { defer wg.Done(); out[i] = exchange(addr, in) }()
		}
		wg.Wait()
		return out
	}
	want := make([]string, len(cases))
	onRedisMeasure(t, func(addr string, _ int) { want = all(addr) })
	h := startHostile(t, "")
	gotAll := all(h.k.Addr)
	for i, in := range cases {
		got := gotAll[i]
		switch {
		case want[i] == "":
			t.Logf("%q -> %q (no Redis reference)", in, got)
		case got != want[i]:
			t.Errorf("sent %q: kvd replied %q, Redis replied %q", in, got, want[i])
		}
	}
	h.finish(200 * time.Millisecond)
}

// TestReliabilityHostileGarbage: 1 MB of garbage per connection, in several
// forms; replies must be well-formed RESP, kvd must stay up and other
// clients unaffected. Where Redis is installed, the replies are compared.
func TestReliabilityHostileGarbage(t *testing.T) {
	seed := reliabilitySeed(t)
	rounds := byMode(1, 25)
	const size = 1 << 20
	type variant struct {
		name string
		gen  func(rng *rand.Rand) []byte
	}
	variants := []variant{
		{"random bytes", func(rng *rand.Rand) []byte {
			b := make([]byte, size)
			rng.Read(b)
			return b
		}},
		{"random bytes after a multibulk header", func(rng *rand.Rand) []byte {
			b := make([]byte, size)
			rng.Read(b)
			return append([]byte("*3\r\n"), b...)
		}},
		{"unknown inline commands", func(rng *rand.Rand) []byte {
			var b []byte
			for len(b) < size {
				b = append(b, "zz"...)
				for w := rng.Intn(8); w >= 0; w-- {
					for l := 1 + rng.Intn(12); l > 0; l-- {
						b = append(b, byte('a'+rng.Intn(26)))
					}
					b = append(b, ' ')
				}
				b = append(b, "\r\n"...)
			}
			return b
		}},
		{"valid pipeline with flipped bytes", func(rng *rand.Rand) []byte {
			var b []byte
			for i := 0; len(b) < size; i++ {
				key := fmt.Sprintf("fz:%d", rng.Intn(100))
				switch i % 3 {
				case 0:
					b = append(b, encodeCommand([]string{"SET", key, strings.Repeat("v", rng.Intn(100))})...)
				case 1:
					b = append(b, encodeCommand([]string{"GET", key})...)
				default:
					b = append(b, encodeCommand([]string{"APPEND", key, "tail"})...)
				}
			}
			for i := 0; i < len(b)/200; i++ {
				b[rng.Intn(len(b))] = byte(rng.Intn(256))
			}
			return b
		}},
	}
	send := func(addr string, data []byte) (replies []string, trailing []byte, closed bool) {
		c := hostileDial(t, addr)
		defer c.Close()
		go func() {
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			c.Write(data)
		}()
		r := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(time.Second))
			var f []byte
			if err := readFrame(r, &f); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() && len(f) == 0 {
					return replies, nil, false
				}
				if len(f) > 0 {
					return replies, f, true
				}
				return replies, nil, true
			}
			replies = append(replies, string(f))
		}
	}
	var redisAddr string
	onRedisMeasure(t, func(addr string, _ int) { redisAddr = addr })
	h := startHostile(t, "")
	for round := 0; round < rounds; round++ {
		for vi, v := range variants {
			data := v.gen(rand.New(rand.NewSource(seed + int64(round*10+vi))))
			replies, trailing, closed := send(h.k.Addr, data)
			if trailing != nil {
				t.Errorf("%s (round %d): malformed reply from kvd: %q", v.name, round, trailing)
			}
			errorsOnly := 0
			for _, r := range replies {
				if strings.HasPrefix(r, "-") {
					errorsOnly++
				}
			}
			t.Logf("%s (round %d): %d replies (%d errors), closed by kvd: %v", v.name, round, len(replies), errorsOnly, closed)
			if !kvdAlive(h.k) {
				t.Fatalf("kvd died on %s (round %d, seed %d)", v.name, round, seed)
			}
			if errorsOnly != len(replies) && vi != 3 {
				t.Errorf("%s (round %d, seed %d): kvd executed garbage: %d of %d replies are not errors", v.name, round, seed, len(replies)-errorsOnly, len(replies))
			}
			if redisAddr == "" || vi == 3 {
				continue // the flipped pipeline depends on state; checked for liveness only
			}
			want, _, wantClosed := send(redisAddr, data)
			d := firstDiff(replies, want)
			switch {
			case closed != wantClosed:
				t.Errorf("%s (round %d, seed %d): kvd closed the connection: %v, Redis: %v (%s)", v.name, round, seed, closed, wantClosed, d)
			case d != "" && vi == 2:
				t.Errorf("%s (round %d, seed %d): kvd and Redis differ: %s", v.name, round, seed, d)
			case d != "":
				// Redis looks for the end of a line with strchr, which stops
				// at the first NUL byte: on random bytes it reports a too big
				// request where kvd reports what is actually wrong. Both
				// refuse and close; only the text differs.
				t.Logf("%s (round %d): protocol error text differs (expected with NUL bytes): %s", v.name, round, d)
			}
		}
	}
	h.finish(200 * time.Millisecond)
}

// firstDiff describes the first difference between two reply streams.
func firstDiff(got, want []string) string {
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(got):
			return fmt.Sprintf("kvd sent %d replies, Redis %d; Redis's next: %q", len(got), len(want), short(want[i]))
		case i >= len(want):
			return fmt.Sprintf("kvd sent %d replies, Redis %d; kvd's next: %q", len(got), len(want), short(got[i]))
		case got[i] != want[i]:
			return fmt.Sprintf("reply %d: kvd %q, Redis %q", i, short(got[i]), short(want[i]))
		}
	}
	return ""
}

// TestReliabilityHostileBytePerPacket: 16 clients at once each send a SET
// and a GET one byte per packet (TCP_NODELAY, 1 ms apart); one more sends an
// MSET of 200 pairs one byte per write, without pauses.
func TestReliabilityHostileBytePerPacket(t *testing.T) {
	clients := byMode(16, 64)
	h := startHostile(t, "")
	dribble := func(c net.Conn, data []byte, gap time.Duration) error {
		for i := range data {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(data[i : i+1]); err != nil {
				return err
			}
			if gap > 0 {
				time.Sleep(gap)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := hostileDial(t, h.k.Addr)
			defer c.Close()
			r := bufio.NewReader(c)
			key, val := fmt.Sprintf("bp:%d", i), strings.Repeat(string(rune('a'+i%26)), 120)
			for _, s := range []struct {
				cmd  []string
				want string
			}{
				{[]string{"SET", key, val}, "+OK\r\n"},
				{[]string{"GET", key}, fmt.Sprintf("$%d\r\n%s\r\n", len(val), val)},
			} {
				if err := dribble(c, encodeCommand(s.cmd), time.Millisecond); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				var got []byte
				if err := readFrame(r, &got); err != nil || string(got) != s.want {
					t.Errorf("client %d: %s sent one byte per packet: got %q (%v), want %q", i, s.cmd[0], short(string(got)), err, short(s.want))
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := hostileDial(t, h.k.Addr)
		defer c.Close()
		args := []string{"MSET"}
		for i := 0; i < 200; i++ {
			args = append(args, fmt.Sprintf("bpm:%d", i), strconv.Itoa(i))
		}
		if err := dribble(c, encodeCommand(args), 0); err != nil {
			t.Errorf("MSET client: %v", err)
			return
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if line != "+OK\r\n" {
			t.Errorf("MSET of 200 pairs sent one byte per packet: %q (%v)", line, err)
		}
	}()
	wg.Wait()
	h.finish(200 * time.Millisecond)
	v := dialRaw(t, h.k.Addr)
	if got := string(v.Do("GET", "bpm:199")); got != "$3\r\n199\r\n" {
		t.Errorf("GET bpm:199 after the dribbled MSET = %q", got)
	}
}

// TestReliabilityHostileIdleConnections: thousands of idle connections,
// then one more than --maxclients is refused with Redis's error; the
// connections' memory is reported and freed slots are reusable.
func TestReliabilityHostileIdleConnections(t *testing.T) {
	n := byMode(2000, 10000)
	if got := raiseNoFile(t, uint64(n)+512); got < uint64(n)+64 {
		t.Fatalf("RLIMIT_NOFILE is %d and cannot be raised to %d: too low for %d connections", got, n+512, n)
	}
	// The probe is one client; n idle ones fill the rest.
	h := startHostile(t, "", "--maxclients", strconv.Itoa(n+1))
	time.Sleep(200 * time.Millisecond) // the readiness probe's connection is gone
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	var dialErrs atomic.Int64
	start := time.Now()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				c, err := net.DialTimeout("tcp", h.k.Addr, 10*time.Second)
				if err != nil {
					dialErrs.Add(1)
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if e := dialErrs.Load(); e > 0 {
		t.Fatalf("%d of %d connections failed to dial", e, n)
	}
	// Every 100th idle connection must be served; the others stay silent.
	for i := 0; i < n; i += 100 {
		c := conns[i]
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("PING\r\n"))
		line, err := bufio.NewReader(c).ReadString('\n')
		if line != "+PONG\r\n" {
			t.Fatalf("idle connection %d of %d: PING = %q (%v)", i, n, line, err)
		}
	}
	opened := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	withConns, _ := procRSS(kvdPid(h.k))
	t.Logf("%d idle connections opened in %v: kvd RSS %s -> %s (%.1f KB per connection)",
		n, opened.Round(time.Millisecond), mb(h.rssBefore), mb(withConns), float64(withConns-h.rssBefore)/float64(n)/1024)

	extra := hostileDial(t, h.k.Addr)
	defer extra.Close()
	extra.Write([]byte("PING\r\n"))
	out, closed := hostileDrain(extra, extra, 5*time.Second)
	if string(out) != "-ERR max number of clients reached\r\n" || !closed {
		t.Errorf("connection %d with --maxclients %d: got %q, closed %v; want \"-ERR max number of clients reached\\r\\n\" and a close",
			n+2, n+1, out, closed)
	}
	// Free half; new clients are served again.
	for i := 0; i < n/2; i++ {
		conns[i].Close()
		conns[i] = nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for pingOnce(h.k.Addr) != nil {
		if time.Now().After(deadline) {
			t.Errorf("after %d connections closed, a new connection is still refused", n/2)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res := h.finish(500 * time.Millisecond)
	if perConn := (withConns - res.rssBefore) / int64(n); perConn > 64<<10 {
		t.Errorf("each idle connection costs kvd %d KB of RSS; want < 64 KB", perConn>>10)
	}
}

// TestReliabilityHostileUnreadPipeline: a client pipelines many small
// commands and never reads a reply. kvd's memory must stay bounded (it stops
// reading that client when its replies back up) and others are served.
func TestReliabilityHostileUnreadPipeline(t *testing.T) {
	n := byMode(200_000, 1_000_000)
	h := startHostile(t, "")
	var buf []byte
	for i := 0; i < n; i++ {
		switch i % 4 {
		case 0:
			buf = append(buf, encodeCommand([]string{"SET", "pipe:" + strconv.Itoa(i%1000), "v" + strconv.Itoa(i)})...)
		case 1:
			buf = append(buf, encodeCommand([]string{"GET", "pipe:" + strconv.Itoa(i%1000)})...)
		case 2:
			buf = append(buf, encodeCommand([]string{"INCR", "pipe:ctr"})...)
		default:
			buf = append(buf, encodeCommand([]string{"PING"})...)
		}
	}
	c := hostileDial(t, h.k.Addr)
	defer c.Close()
	var sent int64
	start := time.Now()
	for sent < int64(len(buf)) {
		end := min(sent+64<<10, int64(len(buf)))
		c.SetWriteDeadline(time.Now().Add(3 * time.Second))
		k, err := c.Write(buf[sent:end])
		sent += int64(k)
		if err != nil {
			break // kvd stopped reading: the replies are backed up
		}
	}
	t.Logf("the client wrote %s of %s (%d commands) in %v without reading a reply",
		mb(sent), mb(int64(len(buf))), n, time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second) // the probe keeps running while the client sits there
	stuck, _ := procRSS(kvdPid(h.k))
	c.Close()
	time.Sleep(500 * time.Millisecond)
	res := h.finish(500 * time.Millisecond)
	t.Logf("kvd RSS while the replies were backed up: %s", mb(stuck))
	if res.rssPeak > 300<<20 {
		t.Errorf("kvd RSS peaked at %s with one client not reading its replies; want < 300 MB", mb(res.rssPeak))
	}
	ran, _ := newClient(t, h.k.Addr, 2).Get(context.Background(), "pipe:ctr").Result()
	t.Logf("the INCRs in the unread pipeline ran %s times of %d sent", ran, n/4)
}

// TestReliabilityHostileHalfSentTimeout: with --timeout 1, clients that send
// half a command and stop are closed like idle clients (Redis closes them
// after more than 1 s without input), and the half command never runs.
func TestReliabilityHostileHalfSentTimeout(t *testing.T) {
	clients := byMode(50, 500)
	h := startHostile(t, "", "--timeout", "1")
	half := "*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc"
	start := time.Now()
	closedAfter := make([]time.Duration, clients)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := hostileDial(t, h.k.Addr)
			defer c.Close()
			c.Write([]byte(half))
			out, closed := hostileDrain(c, c, 6*time.Second)
			if !closed {
				closedAfter[i] = -1
				return
			}
			closedAfter[i] = time.Since(start)
			if len(out) > 0 {
				t.Errorf("half-sent client %d got %q before being closed; want a silent close", i, out)
			}
		}()
	}
	wg.Wait()
	var lo, hi time.Duration = time.Hour, 0
	open := 0
	for _, d := range closedAfter {
		if d < 0 {
			open++
			continue
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	t.Logf("%d half-sent clients: closed between %v and %v after sending, %d still open after 6 s",
		clients, lo.Round(time.Millisecond), hi.Round(time.Millisecond), open)
	if open > 0 {
		t.Errorf("--timeout 1: %d of %d clients holding half a command were not closed within 6 s", open, clients)
	}
	if lo < 900*time.Millisecond {
		t.Errorf("--timeout 1: a half-sent client was closed after only %v", lo)
	}
	h.finish(200 * time.Millisecond)
	v := dialRaw(t, h.k.Addr)
	if got := string(v.Do("EXISTS", "half")); got != ":0\r\n" {
		t.Errorf("EXISTS half = %q: a half-sent command ran", got)
	}
}

// TestReliabilityHostileTrickleTimeout: with --timeout 1, a client that is
// sending a command one byte every 200 ms is not idle: Redis updates a
// client's last interaction on every read and keeps it. kvd must too, or a
// large value over a slow link is cut off.
func TestReliabilityHostileTrickleTimeout(t *testing.T) {
	trickle := func(t *testing.T, addr string) {
		c := hostileDial(t, addr)
		defer c.Close()
		cmd := []byte("*1\r\n$4\r\nPING\r\n") // 14 bytes: 2.8 s
		start := time.Now()
		for i := range cmd {
			c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write(cmd[i : i+1]); err != nil {
				t.Errorf("--timeout 1: connection closed after %v while the client was still sending (byte %d of %d, one every 200 ms): %v",
					time.Since(start).Round(time.Millisecond), i, len(cmd), err)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		var got []byte
		if err := readFrame(bufio.NewReader(c), &got); err != nil || string(got) != "+PONG\r\n" {
			t.Errorf("--timeout 1: a PING sent one byte every 200 ms over %v got %q (%v), want +PONG",
				time.Since(start).Round(time.Millisecond), got, err)
		}
	}
	t.Run("kvd", func(t *testing.T) {
		k := startKVD(t, "--timeout", "1")
		trickle(t, k.Addr)
	})
	t.Run("redis-reference", func(t *testing.T) {
		if _, err := exec.LookPath("redis-server"); err != nil {
			t.Skip("redis-server not installed")
		}
		trickle(t, startRedis(t, "--timeout", "1").Addr)
	})
}

// TestReliabilityHostileUnauthenticated: with --requirepass, every command
// kvd knows except AUTH, HELLO, QUIT and RESET is refused with NOAUTH before
// authentication and changes nothing; Redis 7's size limits for
// unauthenticated requests hold at their boundaries and under a flood.
func TestReliabilityHostileUnauthenticated(t *testing.T) {
	const pass = "s3cret"
	h := startHostile(t, pass, "--requirepass", pass)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: h.k.Addr, Password: pass})
	defer admin.Close()
	if err := admin.Set(ctx, "sentinel", "still-here", 0).Err(); err != nil {
		t.Fatalf("SET sentinel as an authenticated client: %v", err)
	}
	cmds, err := admin.Command(ctx).Result()
	if err != nil {
		t.Fatalf("COMMAND: %v", err)
	}
	allowed := map[string]bool{"auth": true, "hello": true, "quit": true, "reset": true}
	c := hostileDial(t, h.k.Addr)
	defer c.Close()
	r := bufio.NewReader(c)
	var names []string
	for name := range cmds {
		names = append(names, name)
	}
	refused := 0
	for _, name := range names {
		info := cmds[name]
		if allowed[name] {
			continue
		}
		n := int(info.Arity)
		if n < 0 {
			n = -n
		}
		args := []string{name}
		for len(args) < n {
			args = append(args, "x")
		}
		switch name { // containers: a real subcommand, so that only auth can refuse it
		case "client":
			args = []string{"client", "id"}
		case "config":
			args = []string{"config", "get", "maxclients"}
		case "command":
			args = []string{"command", "count"}
		}
		send := func(args []string) string {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write(encodeCommand(args))
			var got []byte
			if err := readFrame(r, &got); err != nil {
				t.Fatalf("unauthenticated %q: %v (kvd alive: %v)", args, err, kvdAlive(h.k))
			}
			return string(got)
		}
		got := send(args)
		if strings.HasPrefix(got, "-ERR unknown subcommand") {
			// A container: subcommands are checked before auth, as in
			// Redis; try one that every container has.
			args = []string{name, "help"}
			got = send(args)
			if strings.HasPrefix(got, "-ERR unknown subcommand") {
				t.Logf("%s: no HELP subcommand to test auth with (%q)", name, short(got))
				continue
			}
		}
		if got != "-NOAUTH Authentication required.\r\n" {
			t.Errorf("unauthenticated %q was served: %q", args, short(string(got)))
			continue
		}
		refused++
	}
	t.Logf("%d commands refused with NOAUTH before AUTH (%v allowed)", refused, []string{"auth", "hello", "quit", "reset"})
	if v, err := admin.Get(ctx, "sentinel").Result(); err != nil || v != "still-here" {
		t.Errorf("sentinel after the unauthenticated sweep = %q, %v: an unauthenticated command changed data", v, err)
	}

	// Limits at their boundaries.
	ten := encodeCommand(append([]string{"MSET"}, strings.Split("a 1 b 2 c 3 d 4 e", " ")...))
	runSteps(t, h.k.Addr, []step{{send: string(ten), want: "-NOAUTH Authentication required.\r\n"}})
	runSteps(t, h.k.Addr, []step{{send: string(encodeCommand([]string{"SET", "k", strings.Repeat("v", 16384)})), want: "-NOAUTH Authentication required.\r\n"}})
	hostileRefused(t, h.k.Addr, "*11\r\n", "-ERR Protocol error: unauthenticated multibulk length\r\n", 1<<20)
	hostileRefused(t, h.k.Addr, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16385\r\n", "-ERR Protocol error: unauthenticated bulk length\r\n", 1<<20)

	// A flood of the largest requests allowed before AUTH. (A long stream of
	// them on one connection is TestReliabilityHostileStreamedCommands.)
	unauthFlood(t, h.k.Addr)
	// This flood once gave a p99 of 30-100 ms (Redis: ~5 ms). Two fixes
	// brought it to 9-14 ms, beside Redis's 4-13 ms in the same runs: the
	// guard cuts unauthenticated arguments before redcon copies them
	// (protocol.CompactArgs), and a connection that fills its read buffer
	// yields its P (guard.go), as Redis reads each client once per turn.
	// The test now fails above the same 50 ms as the other floods.
	res := h.finish(500 * time.Millisecond)
	if res.rssPeak > 300<<20 {
		t.Errorf("kvd RSS peaked at %s under an unauthenticated flood; want < 300 MB", mb(res.rssPeak))
	}
	if v, err := admin.Get(ctx, "sentinel").Result(); err != nil || v != "still-here" {
		t.Errorf("sentinel after the unauthenticated flood = %q, %v", v, err)
	}
	onRedisMeasure(t, func(addr string, pid int) {
		rc := redis.NewClient(&redis.Options{Addr: addr})
		rc.ConfigSet(ctx, "requirepass", pass)
		rc.Close()
		before, _ := procRSS(pid)
		s := startRSSSampler(pid)
		p := startProbe(t, addr, pass)
		time.Sleep(200 * time.Millisecond)
		unauthFlood(t, addr)
		ps := p.Stop()
		t.Logf("redis-server reference, same flood: RSS %s -> peak %s; well-behaved client: %v", mb(before), mb(s.Stop()), ps)
	})
}

// unauthFlood: 20 clients each send 20 of the largest requests allowed
// before AUTH (10 arguments of 16384 bytes) and read the NOAUTH replies, and
// 20 more send an oversized bulk header with a megabyte behind it.
func unauthFlood(t *testing.T, addr string) {
	floods := byMode(20, 100)
	bigArgs := []string{"SET"}
	for len(bigArgs) < 10 {
		bigArgs = append(bigArgs, strings.Repeat("z", 16384))
	}
	big := encodeCommand(bigArgs)
	var wg sync.WaitGroup
	var noauth atomic.Int64
	for i := 0; i < floods; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Errorf("flood dial: %v", err)
				return
			}
			defer c.Close()
			go func() {
				for j := 0; j < 20; j++ {
					c.SetWriteDeadline(time.Now().Add(10 * time.Second))
					if _, err := c.Write(big); err != nil {
						return
					}
				}
			}()
			r := bufio.NewReader(c)
			for j := 0; j < 20; j++ {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				line, err := r.ReadString('\n')
				if err != nil {
					t.Errorf("flood client: reply %d: %v", j, err)
					return
				}
				if line == "-NOAUTH Authentication required.\r\n" {
					noauth.Add(1)
				}
			}
		}()
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return
			}
			defer c.Close()
			hostileFlood(c, []byte("*2\r\n$3\r\nGET\r\n$100000\r\n"), 1<<20, 'q')
		}()
	}
	wg.Wait()
	if got := noauth.Load(); got != int64(floods*20) {
		t.Errorf("flood on %s: %d NOAUTH replies, want %d", addr, got, floods*20)
	}
}

// TestReliabilityHostileStreamedCommands: one client streams large but legal
// commands back to back and reads every reply. Whatever the total, kvd's
// memory for that connection must stay about the size of one command, as in
// Redis: here commands refused with NOAUTH (10 arguments of 16384 bytes,
// the largest allowed before AUTH, so nothing is stored) and, after AUTH,
// ECHO of 16 KB.
func TestReliabilityHostileStreamedCommands(t *testing.T) {
	total := byMode[int64](96<<20, 1<<30)
	const pass = "s3cret"
	unauthArgs := []string{"SET"}
	for len(unauthArgs) < 10 {
		unauthArgs = append(unauthArgs, strings.Repeat("z", 16384))
	}
	cases := []struct {
		name  string
		auth  bool
		cmd   []byte
		reply string
	}{
		{"unauthenticated, refused with NOAUTH", false, encodeCommand(unauthArgs), "-NOAUTH Authentication required.\r\n"},
		{"authenticated ECHO of 16 KB", true, encodeCommand([]string{"ECHO", strings.Repeat("e", 16384)}), ""},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			password := ""
			if tc.auth {
				password = pass
			}
			h := startHostile(t, pass, "--requirepass", pass)
			n := int(total / int64(len(tc.cmd)))
			got, took := streamCommands(t, h.k.Addr, password, tc.cmd, tc.reply, n)
			t.Logf("streamed %d commands (%s) in %v, %d replies", n, mb(int64(n*len(tc.cmd))), took.Round(time.Millisecond), got)
			res := h.finish(200 * time.Millisecond)
			if got != n {
				t.Errorf("%d replies to %d commands", got, n)
			}
			if grew := res.rssPeak - res.rssBefore; grew > 64<<20 {
				t.Errorf("kvd RSS grew by %s (%s -> %s) while one client streamed %s of %d-byte commands; want < 64 MB "+
					"(the connection's read buffer seems to grow with the bytes streamed, not with the command size)",
					mb(grew), mb(res.rssBefore), mb(res.rssPeak), mb(int64(n*len(tc.cmd))), len(tc.cmd))
			}
			onRedisMeasure(t, func(addr string, pid int) {
				rc := redis.NewClient(&redis.Options{Addr: addr})
				rc.ConfigSet(context.Background(), "requirepass", pass)
				rc.Close()
				before, _ := procRSS(pid)
				s := startRSSSampler(pid)
				_, took := streamCommands(t, addr, password, tc.cmd, tc.reply, n)
				t.Logf("redis-server reference: same stream in %v, RSS %s -> peak %s", took.Round(time.Millisecond), mb(before), mb(s.Stop()))
			})
		})
	}
}

// streamCommands writes cmd n times on one connection while reading the
// replies; it returns how many replies arrived (each must equal want, or echo
// the argument when want is empty).
func streamCommands(t *testing.T, addr, password string, cmd []byte, want string, n int) (int, time.Duration) {
	c := hostileDial(t, addr)
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	if password != "" {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(encodeCommand([]string{"AUTH", password}))
		if line, err := r.ReadString('\n'); line != "+OK\r\n" {
			t.Fatalf("AUTH: %q %v", line, err)
		}
		c.SetDeadline(time.Time{})
	}
	start := time.Now()
	go func() {
		// Several commands per write, so that writes do not line up with
		// command boundaries (as with any client that pipelines).
		batch := bytes.Repeat(cmd, 7)
		for sent := 0; sent < n; sent += 7 {
			b := batch
			if n-sent < 7 {
				b = bytes.Repeat(cmd, n-sent)
			}
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	}()
	got := 0
	for ; got < n; got++ {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		var f []byte
		if err := readFrame(r, &f); err != nil {
			t.Errorf("reply %d: %v", got, err)
			break
		}
		if (want != "" && string(f) != want) || (want == "" && len(f) < 16384) {
			t.Errorf("reply %d: %q", got, short(string(f)))
			break
		}
	}
	return got, time.Since(start)
}

// cpuRate is the share of a core process pid uses over d.
func cpuRate(pid int, d time.Duration) float64 {
	c0, _ := procCPU(pid)
	time.Sleep(d)
	c1, _ := procCPU(pid)
	return float64(c1-c0) / float64(d)
}
