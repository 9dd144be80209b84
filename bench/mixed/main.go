// Command mixed is a load generator that replays kvd's expected usage mix
// against any Redis-compatible server and reports throughput and latency.
//
// The mix, per operation (users drawn uniformly from -users):
//
//	70% sessions:    GET session:<u>, or SET session:<u> <1 KB JSON> EX 3600 (half/half)
//	20% rate limits: INCR rl:<u>:<minute> + EXPIRE rl:<u>:<minute> 60 NX, one pipeline
//	10% locks:       SET lock:<u> <token> NX PX 30000, then (if acquired)
//	                 DELIFEQ lock:<u> <token>; if the server lacks DELIFEQ,
//	                 GET + compare + DEL (not atomic; the output says so)
//
// Each of the -clients workers owns one connection and runs operations back
// to back (closed loop). Latency is per operation (a pipeline or a lock
// acquire+release counts as one), recorded in a log-linear histogram with
// at most 1/64 relative error. The run stops by itself after -duration.
//
//	go run ./bench/mixed -addr 127.0.0.1:6379 -clients 50 -duration 20s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ---------------------------------------------------------------------------
// Latency histogram: HDR-like, log-linear buckets over nanoseconds. Values
// below 128 ns get their own bucket; above that every power of two is split
// into 64 buckets, so a bucket's width is at most 1/64 of its lower bound.

const (
	subBits    = 7
	subCount   = 1 << subBits // 128
	halfSub    = subCount / 2 // 64
	numBuckets = (64-subBits+1)*halfSub + halfSub
)

type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    uint64
	max    uint64
}

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits
	return shift*halfSub + int(v>>uint(shift))
}

// bucketUpper is the largest value that falls into bucket i.
func bucketUpper(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := (i - halfSub) / halfSub
	sub := uint64(i - shift*halfSub)
	return (sub+1)<<uint(shift) - 1
}

func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the upper bound of the bucket holding the q-th value
// (so it never understates), capped at the largest value seen.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if float64(rank) < q*float64(h.n) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketUpper(i), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// ---------------------------------------------------------------------------
// Operations.

type kind int

const (
	sessionGet kind = iota
	sessionSet
	rateLimit
	lockCycle
	numKinds
)

var kindNames = [numKinds]string{"session GET", "session SET", "rate limit", "lock"}

type stats struct {
	hist      [numKinds]histogram
	errs      [numKinds]uint64
	cmds      uint64
	lockBusy  uint64 // SET NX found the lock taken
	lockLost  uint64 // release found another token (or none)
	firstErrs []string
}

func (s *stats) merge(o *stats) {
	for k := range numKinds {
		s.hist[k].merge(&o.hist[k])
		s.errs[k] += o.errs[k]
	}
	s.cmds += o.cmds
	s.lockBusy += o.lockBusy
	s.lockLost += o.lockLost
	for _, e := range o.firstErrs {
		if len(s.firstErrs) < 5 {
			s.firstErrs = append(s.firstErrs, e)
		}
	}
}

type config struct {
	addr     string
	clients  int
	duration time.Duration
	users    int
	seed     uint64
	label    string
	prefill  bool
	timeout  time.Duration
	delifeq  bool // use DELIFEQ (else GET+compare+DEL)
}

type worker struct {
	cfg  *config
	rdb  *redis.Client
	rng  *rand.Rand
	st   stats
	sess []byte
}

func newClient(cfg *config) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:             cfg.addr,
		PoolSize:         1,  // one connection per worker: -clients is the connection count
		PipelinePoolSize: -1, // pipelines use that same connection
		DialTimeout:      cfg.timeout,
		ReadTimeout:      cfg.timeout,
		WriteTimeout:     cfg.timeout,
		MaxRetries:       -1, // a failed command is an error, not a hidden retry
		DisableIdentity:  true,
	})
}

// sessionJSON writes a 1024-byte JSON session document for user u into buf.
func sessionJSON(buf []byte, u int, now int64, rng *rand.Rand) []byte {
	buf = buf[:0]
	buf = fmt.Appendf(buf, `{"user_id":%d,"name":"user%d","roles":["reader","writer"],"created_at":%d,"csrf":"%016x","prefs":{"theme":"dark","lang":"en"},"pad":"`,
		u, u, now, rng.Uint64())
	const size = 1024
	for len(buf) < size-2 {
		buf = append(buf, 'x')
	}
	return append(buf, '"', '}')
}

func (w *worker) fail(k kind, err error) {
	w.st.errs[k]++
	if len(w.st.firstErrs) < 5 {
		w.st.firstErrs = append(w.st.firstErrs, kindNames[k]+": "+err.Error())
	}
}

// one runs a single operation and returns its kind, or an error.
func (w *worker) one(ctx context.Context) (kind, error) {
	u := w.rng.IntN(w.cfg.users)
	p := w.rng.IntN(100)
	switch {
	case p < 70: // sessions
		key := "session:" + strconv.Itoa(u)
		if w.rng.IntN(2) == 0 {
			w.st.cmds++
			err := w.rdb.Get(ctx, key).Err()
			if errors.Is(err, redis.Nil) {
				err = nil
			}
			return sessionGet, err
		}
		w.sess = sessionJSON(w.sess, u, time.Now().Unix(), w.rng)
		w.st.cmds++
		return sessionSet, w.rdb.Set(ctx, key, w.sess, time.Hour).Err()
	case p < 90: // rate-limit counter for the current minute
		key := "rl:" + strconv.Itoa(u) + ":" + strconv.FormatInt(time.Now().Unix()/60, 10)
		pipe := w.rdb.Pipeline()
		pipe.Incr(ctx, key)
		pipe.ExpireNX(ctx, key, time.Minute)
		w.st.cmds += 2
		_, err := pipe.Exec(ctx)
		return rateLimit, err
	default: // lock acquire + owner-safe release
		key := "lock:" + strconv.Itoa(u)
		token := strconv.FormatUint(w.rng.Uint64(), 16)
		w.st.cmds++
		ok, err := w.rdb.SetNX(ctx, key, token, 30*time.Second).Result()
		if err != nil {
			return lockCycle, err
		}
		if !ok {
			w.st.lockBusy++
			return lockCycle, nil
		}
		return lockCycle, w.release(ctx, key, token)
	}
}

func (w *worker) release(ctx context.Context, key, token string) error {
	if w.cfg.delifeq {
		w.st.cmds++
		n, err := w.rdb.Do(ctx, "DELIFEQ", key, token).Int()
		if err == nil && n != 1 {
			w.st.lockLost++
		}
		return err
	}
	// Fallback without DELIFEQ or Lua: a racy check-then-delete.
	w.st.cmds++
	cur, err := w.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		w.st.lockLost++
		return nil
	}
	if err != nil {
		return err
	}
	if cur != token {
		w.st.lockLost++
		return nil
	}
	w.st.cmds++
	return w.rdb.Del(ctx, key).Err()
}

func (w *worker) run(start <-chan struct{}, deadline *time.Time, wg *sync.WaitGroup) {
	defer wg.Done()
	<-start
	end := *deadline
	for {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.timeout)
		k, err := w.one(ctx)
		cancel()
		if err != nil {
			w.fail(k, err)
			continue
		}
		w.st.hist[k].record(time.Since(t0))
	}
}

// ---------------------------------------------------------------------------

// probeDELIFEQ reports whether the server knows DELIFEQ.
func probeDELIFEQ(ctx context.Context, rdb *redis.Client) (bool, error) {
	err := rdb.Do(ctx, "DELIFEQ", "mixed:probe:delifeq", "x").Err()
	if err == nil {
		return true, nil
	}
	msg := strings.ToLower(err.Error())
	if strings.Contains(msg, "unknown command") {
		return false, nil
	}
	return false, err
}

// prefill stores a session for every user, so session GETs hit from the start.
func prefill(cfg *config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n := min(cfg.clients, 8)
	errc := make(chan error, n)
	for i := range n {
		go func() {
			rdb := newClient(cfg)
			defer rdb.Close()
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(1000+i)))
			var buf []byte
			pipe := rdb.Pipeline()
			for u := i; u < cfg.users; u += n {
				buf = sessionJSON(buf, u, time.Now().Unix(), rng)
				pipe.Set(ctx, "session:"+strconv.Itoa(u), string(buf), time.Hour)
				if pipe.Len() == 500 {
					if _, err := pipe.Exec(ctx); err != nil {
						errc <- err
						return
					}
				}
			}
			_, err := pipe.Exec(ctx)
			errc <- err
		}()
	}
	var first error
	for range n {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/1e6) }

func main() {
	cfg := &config{}
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:6379", "server address")
	flag.IntVar(&cfg.clients, "clients", 50, "concurrent clients (one connection each)")
	flag.DurationVar(&cfg.duration, "duration", 20*time.Second, "measured run time; the program stops by itself after it")
	flag.IntVar(&cfg.users, "users", 100000, "number of distinct users")
	flag.Uint64Var(&cfg.seed, "seed", 1, "random seed (per-worker streams derive from it)")
	flag.StringVar(&cfg.label, "label", "", "name printed in the RESULT line (default: the address)")
	flag.BoolVar(&cfg.prefill, "prefill", true, "store a session for every user before measuring")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "per-command network timeout")
	release := flag.String("release", "auto", "lock release: auto (DELIFEQ if the server has it), delifeq, or get-del")
	flag.Parse()
	if cfg.clients < 1 || cfg.users < 1 || cfg.duration <= 0 {
		fmt.Fprintln(os.Stderr, "mixed: -clients, -users and -duration must be positive")
		os.Exit(2)
	}
	if cfg.label == "" {
		cfg.label = cfg.addr
	}

	// Watchdog: whatever happens (a server that stops answering), exit.
	limit := cfg.duration + 5*time.Minute + 2*cfg.timeout + 30*time.Second
	time.AfterFunc(limit, func() {
		fmt.Fprintf(os.Stderr, "mixed: watchdog: still running after %s, exiting\n", limit)
		os.Exit(3)
	})

	probe := newClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	if err := probe.Ping(ctx).Err(); err != nil {
		fmt.Fprintf(os.Stderr, "mixed: cannot reach %s: %v\n", cfg.addr, err)
		os.Exit(2)
	}
	has, err := probeDELIFEQ(ctx, probe)
	cancel()
	probe.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mixed: probing DELIFEQ: %v\n", err)
		os.Exit(2)
	}
	releaseNote := ""
	switch *release {
	case "auto":
		cfg.delifeq = has
		if !has {
			releaseNote = "server lacks DELIFEQ: locks released with GET+compare+DEL (not atomic, one more round trip)"
		}
	case "delifeq":
		if !has {
			fmt.Fprintln(os.Stderr, "mixed: -release delifeq but the server lacks DELIFEQ")
			os.Exit(2)
		}
		cfg.delifeq = true
	case "get-del":
		releaseNote = "locks released with GET+compare+DEL (forced by -release get-del)"
	default:
		fmt.Fprintln(os.Stderr, "mixed: -release must be auto, delifeq or get-del")
		os.Exit(2)
	}
	releaseMode := "get-del"
	if cfg.delifeq {
		releaseMode = "delifeq"
	}

	fmt.Printf("mixed: %s addr=%s clients=%d duration=%s users=%d seed=%d release=%s\n",
		cfg.label, cfg.addr, cfg.clients, cfg.duration, cfg.users, cfg.seed, releaseMode)
	if releaseNote != "" {
		fmt.Println("note:", releaseNote)
	}
	if cfg.prefill {
		t := time.Now()
		if err := prefill(cfg); err != nil {
			fmt.Fprintf(os.Stderr, "mixed: prefill: %v\n", err)
			os.Exit(2)
		}
		fmt.Printf("prefill: %d sessions in %.1fs\n", cfg.users, time.Since(t).Seconds())
	}

	// Connect every worker first so dialing is not measured.
	workers := make([]*worker, cfg.clients)
	for i := range workers {
		w := &worker{cfg: cfg, rdb: newClient(cfg), rng: rand.New(rand.NewPCG(cfg.seed, uint64(i)))}
		ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
		err := w.rdb.Ping(ctx).Err()
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "mixed: connecting client %d: %v\n", i, err)
			os.Exit(2)
		}
		workers[i] = w
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	var deadline time.Time
	for _, w := range workers {
		wg.Add(1)
		go w.run(start, &deadline, &wg)
	}
	t0 := time.Now()
	deadline = t0.Add(cfg.duration)
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	for _, w := range workers {
		w.rdb.Close()
	}

	var total stats
	for _, w := range workers {
		total.merge(&w.st)
	}
	var all histogram
	var errs uint64
	for k := range numKinds {
		all.merge(&total.hist[k])
		errs += total.errs[k]
	}
	secs := elapsed.Seconds()
	fmt.Printf("%-12s %10s %6s %9s %9s %9s %9s %9s %7s\n", "operation", "count", "share", "ops/s", "p50 ms", "p99 ms", "p999 ms", "max ms", "errors")
	for k := range numKinds {
		h := &total.hist[k]
		fmt.Printf("%-12s %10d %5.1f%% %9.0f %9s %9s %9s %9s %7d\n", kindNames[k], h.n,
			100*float64(h.n)/float64(max(all.n, 1)), float64(h.n)/secs,
			ms(h.quantile(0.50)), ms(h.quantile(0.99)), ms(h.quantile(0.999)), ms(time.Duration(h.max)), total.errs[k])
	}
	fmt.Printf("%-12s %10d %5.1f%% %9.0f %9s %9s %9s %9s %7d\n", "all", all.n, 100.0, float64(all.n)/secs,
		ms(all.quantile(0.50)), ms(all.quantile(0.99)), ms(all.quantile(0.999)), ms(time.Duration(all.max)), errs)
	fmt.Printf("commands: %.0f/s; locks busy: %d, releases that found another owner: %d; mean latency %s ms\n",
		float64(total.cmds)/secs, total.lockBusy, total.lockLost, ms(all.mean()))
	for _, e := range total.firstErrs {
		fmt.Println("error:", e)
	}
	fmt.Printf("RESULT label=%s ops=%d seconds=%.2f ops_per_sec=%.0f cmds_per_sec=%.0f p50_ms=%s p99_ms=%s p999_ms=%s max_ms=%s errors=%d release=%s\n",
		cfg.label, all.n, secs, float64(all.n)/secs, float64(total.cmds)/secs,
		ms(all.quantile(0.50)), ms(all.quantile(0.99)), ms(all.quantile(0.999)), ms(time.Duration(all.max)), errs, releaseMode)
}
