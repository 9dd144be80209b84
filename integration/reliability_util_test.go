package integration

// Shared machinery of the reliability campaign (reliability_*_test.go, see
// docs/reliability.md): short/long mode, seeds, kvd's process figures (RSS,
// CPU time) and the well-behaved client (tools/kvdprobe) that measures its
// latency while something else attacks the server.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// reliabilityLong reports whether the campaign runs in long mode
// (KVD_RELIABILITY=long). Short mode is the default, sized so that the whole
// campaign adds about a minute to `go test ./...` on a 2-core machine.
func reliabilityLong() bool { return os.Getenv("KVD_RELIABILITY") == "long" }

// byMode returns short in short mode and long in long mode.
func byMode[T any](short, long T) T {
	if reliabilityLong() {
		return long
	}
	return short
}

// reliabilitySeed returns the seed of a test's random choices:
// KVD_RELIABILITY_SEED when set, otherwise the clock. It is logged so that a
// failing run's workload can be replayed (timing, of course, cannot).
func reliabilitySeed(t testing.TB) int64 {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("KVD_RELIABILITY_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("KVD_RELIABILITY_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("seed %d (replay with KVD_RELIABILITY_SEED=%d), mode %s", seed, seed, byMode("short", "long"))
	return seed
}

// kvdPid is the process id of the running kvd.
func kvdPid(k *kvdProc) int { return k.proc.cmd.Process.Pid }

// kvdAlive reports whether the kvd process is still running.
func kvdAlive(k *kvdProc) bool { return k.proc != nil && !k.proc.exited() }

// procRSS reads VmRSS of pid in bytes.
func procRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

// procCPU is the user+system CPU time pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: fields are
	// counted after the last ')'. utime and stime are fields 14 and 15.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// rssSampler polls a process's RSS every 20 ms and keeps the peak.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	peak atomic.Int64
}

func startRSSSampler(pid int) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := procRSS(pid); err == nil && rss > s.peak.Load() {
				s.peak.Store(rss)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) Stop() int64 {
	close(s.stop)
	<-s.done
	return s.peak.Load()
}

// Latency budget of the well-behaved client. The goal is a p99 under 10 ms;
// on this noisy 2-core machine, where kvd, the attacker and the test share the
// cores, a test fails only above 50 ms, and logs the measured figure.
const (
	probeP99Goal = 10 * time.Millisecond
	probeP99Fail = 50 * time.Millisecond
)

// latencyProbe is the well-behaved client: tools/kvdprobe, run as its own
// process so that it measures the server, not the scheduling of this test
// process while it generates an attack. It alternates SET and GET on its own
// keys, about one command per millisecond, checks every reply and records
// each round trip.
type latencyProbe struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out bytes.Buffer
}

var (
	probeOnce   sync.Once
	probeBinary string
	probeErr    error
)

// buildProbe compiles tools/kvdprobe next to the kvd binary (TestMain
// removes that directory at the end).
func buildProbe() (string, error) {
	probeOnce.Do(func() {
		if buildErr != nil {
			probeErr = buildErr
			return
		}
		wd, err := os.Getwd()
		if err != nil {
			probeErr = err
			return
		}
		probeBinary = filepath.Join(filepath.Dir(kvdBinary), "kvdprobe")
		cmd := exec.Command("go", "build", "-o", probeBinary, "./tools/kvdprobe")
		cmd.Dir = filepath.Dir(wd)
		if out, err := cmd.CombinedOutput(); err != nil {
			probeErr = fmt.Errorf("go build ./tools/kvdprobe: %v\n%s", err, out)
		}
	})
	return probeBinary, probeErr
}

func startProbe(t testing.TB, addr, password string) *latencyProbe {
	t.Helper()
	bin, err := buildProbe()
	if err != nil {
		t.Fatalf("latency probe: %v", err)
	}
	p := &latencyProbe{cmd: exec.Command(bin, "-addr", addr, "-password", password)}
	p.cmd.Stdout = &p.out
	p.cmd.Stderr = &p.out
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		t.Fatalf("latency probe: %v", err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("latency probe: %v", err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// probeStats are the probe's figures over a run.
type probeStats struct {
	n                   int
	p50, p99, p999, max time.Duration
	errs                []string
}

func (s probeStats) String() string {
	return fmt.Sprintf("%d commands, p50 %v, p99 %v, p99.9 %v, max %v",
		s.n, s.p50.Round(10*time.Microsecond), s.p99.Round(10*time.Microsecond),
		s.p999.Round(10*time.Microsecond), s.max.Round(10*time.Microsecond))
}

// Stop ends the probe and returns its figures.
func (p *latencyProbe) Stop() probeStats {
	p.in.Close()
	err := p.cmd.Wait()
	var raw struct {
		N      int      `json:"n"`
		P50    int64    `json:"p50_us"`
		P99    int64    `json:"p99_us"`
		P999   int64    `json:"p999_us"`
		Max    int64    `json:"max_us"`
		Errors []string `json:"errors"`
	}
	if jerr := json.Unmarshal(p.out.Bytes(), &raw); jerr != nil || err != nil {
		return probeStats{errs: []string{fmt.Sprintf("probe process: %v %v: %q", err, jerr, p.out.String())}}
	}
	us := func(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
	return probeStats{n: raw.N, p50: us(raw.P50), p99: us(raw.P99), p999: us(raw.P999), max: us(raw.Max), errs: raw.Errors}
}

// hostileRun is one hostile scenario against one kvd: RSS before, peak
// during and after, kvd's CPU time, and the latency a well-behaved client
// saw meanwhile.
type hostileRun struct {
	t        *testing.T
	k        *kvdProc
	password string

	rssBefore int64
	cpuBefore time.Duration
	sampler   *rssSampler
	probe     *latencyProbe
	started   time.Time
}

// startHostile starts kvd with args and a latency probe (authenticating with
// password when it is not empty).
func startHostile(t *testing.T, password string, args ...string) *hostileRun {
	t.Helper()
	k := startKVD(t, args...)
	h := &hostileRun{t: t, k: k, password: password}
	time.Sleep(100 * time.Millisecond) // let startup settle before the baseline
	h.rssBefore, _ = procRSS(kvdPid(k))
	h.cpuBefore, _ = procCPU(kvdPid(k))
	h.sampler = startRSSSampler(kvdPid(k))
	h.probe = startProbe(t, k.Addr, password)
	time.Sleep(200 * time.Millisecond) // a baseline of probe samples
	h.started = time.Now()
	return h
}

// hostileResult is what finish measured.
type hostileResult struct {
	rssBefore, rssPeak, rssAfter int64
	cpu                          time.Duration
	probe                        probeStats
}

// finish ends the scenario: it stops the probe, waits settle for memory to
// come back, reports the figures and fails the test if kvd died, the probe saw
// errors, or its p99 exceeded probeP99Fail.
func (h *hostileRun) finish(settle time.Duration) hostileResult {
	t := h.t
	t.Helper()
	ps := h.probe.Stop()
	time.Sleep(settle)
	var res hostileResult
	res.probe = ps
	res.rssBefore = h.rssBefore
	res.rssPeak = h.sampler.Stop()
	if !kvdAlive(h.k) {
		t.Errorf("kvd is no longer running after the attack: %v", h.k.proc.err)
		return res
	}
	res.rssAfter, _ = procRSS(kvdPid(h.k))
	cpu, _ := procCPU(kvdPid(h.k))
	res.cpu = cpu - h.cpuBefore
	t.Logf("kvd RSS before %s, peak during %s, after %s; kvd CPU %v over %v",
		mb(res.rssBefore), mb(res.rssPeak), mb(res.rssAfter), res.cpu, time.Since(h.started).Round(time.Millisecond))
	limit := probeP99Fail
	t.Logf("well-behaved client: %v (goal p99 < %v, fails above %v)", ps, probeP99Goal, limit)
	if len(ps.errs) > 0 {
		t.Errorf("well-behaved client saw %d errors during the attack, first: %s", len(ps.errs), strings.Join(ps.errs, "; "))
	}
	if ps.n < 50 {
		t.Errorf("well-behaved client completed only %d commands during the attack", ps.n)
	}
	if ps.p99 > limit {
		t.Errorf("well-behaved client p99 %v during the attack, above the %v limit (goal %v)", ps.p99, limit, probeP99Goal)
	}
	if pingOnce(h.k.Addr) != nil && h.password == "" {
		t.Errorf("kvd does not answer PING after the attack")
	}
	return res
}

// raiseNoFile raises the soft RLIMIT_NOFILE of the test process (inherited
// by the kvd processes it starts afterwards) to at least n, up to the hard
// limit; it returns the soft limit in force.
func raiseNoFile(t testing.TB, n uint64) uint64 {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur >= n {
		return lim.Cur
	}
	want := lim
	want.Cur = min(n, lim.Max)
	if want.Max < n && os.Geteuid() == 0 {
		want.Max, want.Cur = n, n // root may raise the hard limit
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		want.Cur, want.Max = min(n, lim.Max), lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
	}
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}

// newRand is a seeded source for one test.
func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
