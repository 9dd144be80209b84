package integration

// Crash loop: 16 clients write (SET with and without TTL, MSET, DEL, EXPIRE,
// INCR) to a small shared key set; kvd is killed with SIGKILL at a random
// moment and restarted on the same directory; what it serves afterwards is
// checked against every client's record of what was acknowledged and what
// was only attempted. See docs/reliability.md.
//
// Rules, for each key, with values unique per write:
//   - every mode: the database opens within 2 s; no key exists that no
//     client wrote; no key holds a value that no client wrote to it; a TTL is
//     never longer than one that some command set; counters are integers,
//     never above the number of INCRs sent and never below what the previous
//     restart showed.
//   - --appendfsync always, in addition: the value is the one of a write W
//     that no acknowledged write follows (its call after W's reply), with an
//     unacknowledged write's reply time taken as infinite (it may have been
//     applied); so an acknowledged DEL not followed by a write leaves the key
//     absent. A counter is at least the last INCR reply. A value written with
//     a TTL still has one, and an acknowledged EXPIRE (reply 1) after the
//     value's write left a TTL.
//
// Under everysec the stronger rules are evaluated too and logged, not
// enforced (a process crash is expected to lose nothing there either, since
// badger writes through mmap, but only power loss tests would tell).

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const crashNever = math.MaxInt64 // reply time of a command that got no reply

// crashOp is one command a crash-loop client sent.
type crashOp struct {
	kind    string // SET, MSET, DEL, EXPIRE, INCR, or BASE (the state before the round)
	key     string
	value   string // SET, MSET, BASE: the value (BASE: "" with absent)
	absent  bool   // DEL, or BASE of a missing key
	ttlMs   int64  // SET EX/PX, EXPIRE; BASE: 0, see baseDeadline
	call    int64  // ns since the campaign's start, before sending
	ret     int64  // ns after the reply, or crashNever
	wallRet int64  // unix ms after the reply, or at the kill when there was none
	acked   bool
	reply   int64 // INCR: the new value; EXPIRE: 1 or 0; DEL: count
	worker  int
	round   int

	baseDeadline int64 // BASE: latest possible unix-ms deadline observed, 0 = none
}

func (o *crashOp) String() string {
	ret := "no reply"
	if o.acked {
		ret = fmt.Sprintf("acked %.1fms", float64(o.ret)/1e6)
	}
	switch o.kind {
	case "BASE":
		if o.absent {
			return "state before the round: absent"
		}
		return fmt.Sprintf("state before the round: %q", short(o.value))
	case "DEL":
		return fmt.Sprintf("r%d w%d DEL %s [call %.1fms, %s, reply %d]", o.round, o.worker, o.key, float64(o.call)/1e6, ret, o.reply)
	case "EXPIRE":
		return fmt.Sprintf("r%d w%d EXPIRE %s %d [call %.1fms, %s, reply %d]", o.round, o.worker, o.key, o.ttlMs/1000, float64(o.call)/1e6, ret, o.reply)
	case "INCR":
		return fmt.Sprintf("r%d w%d INCR %s [call %.1fms, %s, reply %d]", o.round, o.worker, o.key, float64(o.call)/1e6, ret, o.reply)
	}
	ttl := ""
	if o.ttlMs > 0 {
		ttl = fmt.Sprintf(" PX %d", o.ttlMs)
	}
	return fmt.Sprintf("r%d w%d %s %s %q%s [call %.1fms, %s]", o.round, o.worker, o.kind, o.key, short(o.value), ttl, float64(o.call)/1e6, ret)
}

// crashKeyState is what a key held when last verified.
type crashKeyState struct {
	present  bool
	value    string
	deadline int64 // unix ms upper bound, 0 = no TTL
}

// crashCampaign is one crash loop against one kvd.
type crashCampaign struct {
	t      *testing.T
	fsync  string
	strict bool // enforce the acknowledged-write rules
	rng    *rand.Rand
	epoch  time.Time

	strKeys, ctrKeys []string

	base        map[string]crashKeyState
	written     map[string]map[string]bool // key -> every value ever sent for it
	maxDeadline map[string]int64           // key -> latest deadline any command could have set
	counters    map[string]int64           // counter -> value at the last verification
	incrSent    map[string]int64           // counter -> INCRs ever sent

	totalOps, totalAcked, totalUnknown int
	startups                           []time.Duration
	strictNotes                        int // strict-rule findings under a non-strict policy
}

func (cc *crashCampaign) clock() int64 { return int64(time.Since(cc.epoch)) }

func TestReliabilityCrashLoop(t *testing.T) {
	t.Parallel()
	rounds := byMode(5, 50)
	seed := reliabilitySeed(t)
	for i, fsync := range []string{"always", "everysec"} {
		t.Run(fsync, func(t *testing.T) {
			cc := &crashCampaign{
				t: t, fsync: fsync, strict: fsync == "always",
				rng: newRand(seed + int64(i)), epoch: time.Now(),
				base: map[string]crashKeyState{}, written: map[string]map[string]bool{},
				maxDeadline: map[string]int64{}, counters: map[string]int64{}, incrSent: map[string]int64{},
			}
			for i := 0; i < 48; i++ {
				cc.strKeys = append(cc.strKeys, fmt.Sprintf("s:%02d", i))
			}
			for i := 0; i < 8; i++ {
				cc.ctrKeys = append(cc.ctrKeys, fmt.Sprintf("c:%d", i))
			}
			cc.run(rounds)
		})
	}
}

func (cc *crashCampaign) run(rounds int) {
	t := cc.t
	const workers = 16
	k := startKVD(t, "--appendfsync", cc.fsync)
	for round := 0; round < rounds; round++ {
		ops, unexpected := cc.workload(k, round, workers)
		for _, u := range unexpected {
			t.Errorf("round %d: kvd answered a valid command with an error: %s", round, u)
		}
		start := time.Now()
		k.Restart(t)
		startup := time.Since(start)
		cc.startups = append(cc.startups, startup)
		if startup > 2*time.Second {
			t.Errorf("round %d: kvd took %v to answer PING after kill -9 (limit 2 s)", round, startup)
		}
		cc.verify(k, round, ops)
		if t.Failed() && !reliabilityLong() {
			// One failed round is enough to report; the others would repeat it.
			break
		}
	}
	slices.Sort(cc.startups)
	t.Logf("appendfsync %s: %d rounds, %d commands (%d acknowledged, %d without reply); restart to PING: median %v, max %v",
		cc.fsync, len(cc.startups), cc.totalOps, cc.totalAcked, cc.totalUnknown,
		cc.startups[len(cc.startups)/2].Round(time.Millisecond), cc.startups[len(cc.startups)-1].Round(time.Millisecond))
	if !cc.strict {
		t.Logf("appendfsync %s: %d findings under the acknowledged-write rules (informational under this policy)", cc.fsync, cc.strictNotes)
	}
}

// workload runs the clients until kvd is killed, 100-600 ms after they
// start, and returns every command sent.
func (cc *crashCampaign) workload(k *kvdProc, round, workers int) ([]*crashOp, []string) {
	ctx := context.Background()
	seeds := make([]int64, workers)
	for i := range seeds {
		seeds[i] = cc.rng.Int63()
	}
	killAfter := time.Duration(100+cc.rng.Intn(501)) * time.Millisecond

	var mu sync.Mutex
	var all []*crashOp
	var unexpected []string
	var wg sync.WaitGroup
	var killWall int64
	killed := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{
				Addr: k.Addr, PoolSize: 1, MaxRetries: -1,
				DialTimeout: time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
			})
			defer c.Close()
			rng := rand.New(rand.NewSource(seeds[w]))
			var mine []*crashOp
			for seq := 0; ; seq++ {
				group := cc.nextOps(rng, round, w, seq)
				args := crashArgs(group)
				call := cc.clock()
				res, err := c.Do(ctx, args...).Result()
				ret, wall := cc.clock(), time.Now().UnixMilli()
				var opErr *net.OpError
				if err != nil && errors.As(err, &opErr) && opErr.Op == "dial" {
					break // never sent: the server is gone
				}
				for _, o := range group {
					o.call = call
				}
				if err == nil {
					n, _ := res.(int64)
					for _, o := range group {
						o.ret, o.wallRet, o.acked, o.reply = ret, wall, true, n
					}
					mine = append(mine, group...)
					continue
				}
				// No reply, or an error reply: possibly applied.
				for _, o := range group {
					o.ret = crashNever
				}
				mine = append(mine, group...)
				var re redis.Error
				if errors.As(err, &re) {
					select {
					case <-killed:
					default:
						mu.Lock()
						unexpected = append(unexpected, fmt.Sprintf("%q -> %v", args, err))
						mu.Unlock()
					}
				}
				break
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(killAfter)
	killWall = time.Now().UnixMilli()
	close(killed)
	k.Kill()
	wg.Wait()
	acked, unknown := 0, 0
	for _, o := range all {
		if o.acked {
			acked++
		} else {
			unknown++
			o.wallRet = killWall
		}
	}
	cc.totalOps += len(all)
	cc.totalAcked += acked
	cc.totalUnknown += unknown
	cc.t.Logf("round %d: killed after %v: %d commands, %d acknowledged, %d without reply", round, killAfter, len(all), acked, unknown)
	return all, unexpected
}

// nextOps picks a client's next command; MSET yields one op per key.
func (cc *crashCampaign) nextOps(rng *rand.Rand, round, w, seq int) []*crashOp {
	value := func(i int) string {
		return fmt.Sprintf("r%d.w%d.%d.%d.", round, w, seq, i) + strings.Repeat(string(rune('a'+seq%26)), rng.Intn(200))
	}
	key := func() string { return cc.strKeys[rng.Intn(len(cc.strKeys))] }
	op := func(kind, k string) *crashOp { return &crashOp{kind: kind, key: k, worker: w, round: round} }
	switch r := rng.Intn(100); {
	case r < 30:
		o := op("SET", key())
		o.value = value(0)
		if rng.Intn(2) == 0 {
			o.ttlMs = int64(1000+rng.Intn(4000)) * 1000 // far beyond the test: nothing expires
			if rng.Intn(2) == 0 {
				o.kind = "SETEX" // sent as SET ... EX, recorded in ms
			}
		}
		return []*crashOp{o}
	case r < 45:
		n := 2 + rng.Intn(2)
		var group []*crashOp
		seen := map[string]bool{}
		for len(group) < n {
			k := key()
			if seen[k] {
				continue
			}
			seen[k] = true
			o := op("MSET", k)
			o.value = value(len(group))
			group = append(group, o)
		}
		return group
	case r < 58:
		o := op("DEL", key())
		o.absent = true
		return []*crashOp{o}
	case r < 68:
		o := op("EXPIRE", key())
		o.ttlMs = int64(1000+rng.Intn(4000)) * 1000
		return []*crashOp{o}
	default:
		return []*crashOp{op("INCR", cc.ctrKeys[rng.Intn(len(cc.ctrKeys))])}
	}
}

func crashArgs(group []*crashOp) []any {
	o := group[0]
	switch o.kind {
	case "SET":
		if o.ttlMs > 0 {
			return []any{"SET", o.key, o.value, "PX", strconv.FormatInt(o.ttlMs, 10)}
		}
		return []any{"SET", o.key, o.value}
	case "SETEX":
		return []any{"SET", o.key, o.value, "EX", strconv.FormatInt(o.ttlMs/1000, 10)}
	case "MSET":
		args := []any{"MSET"}
		for _, g := range group {
			args = append(args, g.key, g.value)
		}
		return args
	case "DEL":
		return []any{"DEL", o.key}
	case "EXPIRE":
		return []any{"EXPIRE", o.key, strconv.FormatInt(o.ttlMs/1000, 10)}
	case "INCR":
		return []any{"INCR", o.key}
	}
	panic(o.kind)
}

// crashObserved is what one key holds after the restart.
type crashObserved struct {
	present bool
	value   string
	pttl    int64 // -1: no TTL
	readLo  int64 // unix ms before the read was sent
	readHi  int64 // unix ms after the reply
}

func (cc *crashCampaign) verify(k *kvdProc, round int, ops []*crashOp) {
	t := cc.t
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: k.Addr, MaxRetries: -1, ReadTimeout: 10 * time.Second})
	defer c.Close()

	// Bookkeeping of everything ever sent, before judging.
	for _, o := range ops {
		switch o.kind {
		case "SET", "SETEX", "MSET":
			if cc.written[o.key] == nil {
				cc.written[o.key] = map[string]bool{}
			}
			cc.written[o.key][o.value] = true
		case "INCR":
			cc.incrSent[o.key]++
		}
		if o.ttlMs > 0 {
			cc.maxDeadline[o.key] = max(cc.maxDeadline[o.key], o.wallRet+o.ttlMs)
		}
	}

	var problems, notes []string
	report := func(strictRule bool, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if strictRule && !cc.strict {
			notes = append(notes, msg)
		} else {
			problems = append(problems, msg)
		}
	}

	// Every key that exists must be one of ours.
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatalf("round %d: KEYS * after restart: %v", round, err)
	}
	known := map[string]bool{}
	for _, key := range cc.strKeys {
		known[key] = true
	}
	for _, key := range cc.ctrKeys {
		known[key] = true
	}
	for _, key := range keys {
		if !known[key] {
			report(false, "key %q exists but no client ever wrote it", key)
		}
	}

	obs := map[string]crashObserved{}
	for _, key := range cc.strKeys {
		lo := time.Now().UnixMilli()
		pipe := c.Pipeline()
		get := pipe.Do(ctx, "GET", key)
		pttl := pipe.Do(ctx, "PTTL", key)
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			t.Fatalf("round %d: GET/PTTL %s after restart: %v", round, key, err)
		}
		o := crashObserved{readLo: lo, readHi: time.Now().UnixMilli(), pttl: -1}
		if v, err := get.Text(); err == nil {
			o.present, o.value = true, v
		}
		if n, err := pttl.Int64(); err == nil {
			o.pttl = n
		}
		obs[key] = o
	}

	byKey := map[string][]*crashOp{}
	for _, o := range ops {
		byKey[o.key] = append(byKey[o.key], o)
	}
	for _, key := range cc.strKeys {
		cc.checkString(key, obs[key], byKey[key], report)
	}

	// Counters.
	for _, key := range cc.ctrKeys {
		v, err := c.Get(ctx, key).Result()
		var n int64
		switch {
		case err == redis.Nil:
			n = 0
		case err != nil:
			t.Fatalf("round %d: GET %s: %v", round, key, err)
		default:
			n, err = strconv.ParseInt(v, 10, 64)
			if err != nil {
				report(false, "counter %s holds %q, which is not an integer", key, short(v))
				continue
			}
		}
		if n < cc.counters[key] {
			report(false, "counter %s went backwards across the restart: %d, was %d after the previous restart", key, n, cc.counters[key])
		}
		if n > cc.incrSent[key] {
			report(false, "counter %s = %d, but only %d INCRs were ever sent to it", key, n, cc.incrSent[key])
		}
		var lastAck *crashOp
		for _, o := range byKey[key] {
			if o.acked && (lastAck == nil || o.reply > lastAck.reply) {
				lastAck = o
			}
		}
		if lastAck != nil && n < lastAck.reply {
			report(true, "counter %s = %d after the restart, below acknowledged %v", key, n, lastAck)
		}
		cc.counters[key] = n
	}

	// The observed state is the base of the next round.
	for _, key := range cc.strKeys {
		o := obs[key]
		st := crashKeyState{present: o.present, value: o.value}
		if o.present && o.pttl > 0 {
			st.deadline = o.readHi + o.pttl
		}
		cc.base[key] = st
	}

	cc.strictNotes += len(notes)
	for i, n := range notes {
		if i < 5 {
			t.Logf("round %d (appendfsync %s, informational): %s", round, cc.fsync, n)
		}
	}
	for i, p := range problems {
		if i < 15 {
			t.Errorf("round %d (appendfsync %s): %s", round, cc.fsync, p)
		}
	}
	if len(problems) > 15 {
		t.Errorf("round %d: ... and %d more", round, len(problems)-15)
	}
}

// checkString judges one string key.
func (cc *crashCampaign) checkString(key string, o crashObserved, ops []*crashOp, report func(bool, string, ...any)) {
	b := cc.base[key]
	base := &crashOp{kind: "BASE", key: key, value: b.value, absent: !b.present,
		call: math.MinInt64, ret: math.MinInt64, acked: true, baseDeadline: b.deadline}
	var writes, expires []*crashOp
	writes = append(writes, base)
	for _, op := range ops {
		switch op.kind {
		case "EXPIRE":
			expires = append(expires, op)
		default:
			writes = append(writes, op)
		}
	}

	// Every mode: the value was written by someone, the TTL was set by someone.
	if o.present && !cc.written[key][o.value] {
		report(false, "%s holds %q, a value no client ever wrote to it", key, short(o.value))
		return
	}
	if o.present && o.pttl > 0 {
		if got, limit := o.readLo+o.pttl, cc.maxDeadline[key]; got > limit+5 {
			report(false, "%s has PTTL %d ms: its deadline is %d ms later than any TTL a client set", key, o.pttl, got-limit)
		}
	}

	// The write whose state is observed, among those allowed to be last.
	var latestAcked *crashOp // the acknowledged write that started last
	for _, w := range writes {
		if w.acked && (latestAcked == nil || w.call > latestAcked.call) {
			latestAcked = w
		}
	}
	var match, allowed *crashOp
	for _, w := range writes {
		if w.absent != !o.present || (!w.absent && w.value != o.value) {
			continue
		}
		match = w
		superseded := false
		for _, w2 := range writes {
			if w2 != w && w2.acked && w2.call > w.ret {
				superseded = true
				break
			}
		}
		if !superseded {
			allowed = w
			break
		}
	}
	if allowed == nil {
		state := "absent"
		if o.present {
			state = fmt.Sprintf("%q", short(o.value))
		}
		from := "no write of this round"
		if match != nil {
			from = match.String()
		}
		report(true, "%s is %s after the restart (from %s), but acknowledged %v came later", key, state, from, latestAcked)
		return
	}
	if !o.present {
		return
	}

	// TTL of the observed value: sources are its own write and EXPIREs not
	// entirely before it.
	w := allowed
	var srcDeadline int64 // latest deadline a source could have set
	mustHaveTTL := false
	switch {
	case w.kind == "BASE" && w.baseDeadline > 0:
		srcDeadline, mustHaveTTL = w.baseDeadline, true
	case w.ttlMs > 0:
		srcDeadline, mustHaveTTL = w.wallRet+w.ttlMs, true
	}
	var ackedExpire *crashOp
	for _, e := range expires {
		if e.ret < w.call || (e.acked && e.reply == 0) {
			continue // before the value was written, or found no key
		}
		srcDeadline = max(srcDeadline, e.wallRet+e.ttlMs)
		if e.acked && e.call > w.ret {
			ackedExpire = e
		}
	}
	if ackedExpire != nil {
		mustHaveTTL = true
	}
	switch {
	case o.pttl > 0 && srcDeadline == 0:
		report(true, "%s = %q has PTTL %d ms, but neither its write (%v) nor a later EXPIRE set a TTL", key, short(o.value), o.pttl, w)
	case o.pttl > 0 && o.readLo+o.pttl > srcDeadline+5:
		report(true, "%s = %q has PTTL %d ms, %d ms longer than what its write or a later EXPIRE set", key, short(o.value), o.pttl, o.readLo+o.pttl-srcDeadline)
	case o.pttl < 0 && mustHaveTTL:
		why := w.String()
		if ackedExpire != nil {
			why = "acknowledged " + ackedExpire.String()
		}
		report(true, "%s = %q has no TTL after the restart, but %s set one", key, short(o.value), why)
	}
}

// TestReliabilityCrashCheckerRejects feeds the crash-loop checker hand-made
// outcomes that break each rule, and one that keeps them, so that a passing
// crash loop means something.
func TestReliabilityCrashCheckerRejects(t *testing.T) {
	const now = int64(1_700_000_000_000) // unix ms of the reads
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	set := func(v string, call, ret int64, acked bool) *crashOp {
		o := &crashOp{kind: "SET", key: "k", value: v, call: ms(call), ret: ms(ret), wallRet: now - 1000 + ret, acked: acked}
		if !acked {
			o.ret = crashNever
		}
		return o
	}
	del := func(call, ret int64) *crashOp {
		return &crashOp{kind: "DEL", key: "k", absent: true, call: ms(call), ret: ms(ret), wallRet: now - 1000 + ret, acked: true, reply: 1}
	}
	withTTL := func(o *crashOp, ttl int64) *crashOp { o.ttlMs = ttl; return o }
	expire := func(ttl, call, ret int64) *crashOp {
		return &crashOp{kind: "EXPIRE", key: "k", ttlMs: ttl, call: ms(call), ret: ms(ret), wallRet: now - 1000 + ret, acked: true, reply: 1}
	}
	present := func(v string, pttl int64) crashObserved {
		return crashObserved{present: true, value: v, pttl: pttl, readLo: now, readHi: now}
	}
	absent := crashObserved{pttl: -1, readLo: now, readHi: now}

	cases := []struct {
		name string
		ops  []*crashOp
		obs  crashObserved
		bad  bool
	}{
		{"last acked value survives", []*crashOp{set("a", 0, 1, true), set("b", 2, 3, true)}, present("b", -1), false},
		{"in-flight later write applied", []*crashOp{set("a", 0, 1, true), set("b", 2, 0, false)}, present("b", -1), false},
		{"in-flight later write not applied", []*crashOp{set("a", 0, 1, true), set("b", 2, 0, false)}, present("a", -1), false},
		{"concurrent writes: either wins", []*crashOp{set("a", 0, 5, true), set("b", 1, 4, true)}, present("a", -1), false},
		{"acked write lost (older value)", []*crashOp{set("a", 0, 1, true), set("b", 2, 3, true)}, present("a", -1), true},
		{"acked write lost (absent)", []*crashOp{set("a", 0, 1, true)}, absent, true},
		{"acked DEL undone", []*crashOp{set("a", 0, 1, true), del(2, 3)}, present("a", -1), true},
		{"acked DEL kept", []*crashOp{set("a", 0, 1, true), del(2, 3)}, absent, false},
		{"value never written", []*crashOp{set("a", 0, 1, true)}, present("zzz", -1), true},
		{"TTL kept", []*crashOp{withTTL(set("a", 0, 1, true), 100_000)}, present("a", 99_000), false},
		{"TTL lost", []*crashOp{withTTL(set("a", 0, 1, true), 100_000)}, present("a", -1), true},
		{"TTL longer than set", []*crashOp{withTTL(set("a", 0, 1, true), 100_000)}, present("a", 150_000), true},
		{"TTL from nowhere", []*crashOp{set("a", 0, 1, true)}, present("a", 5_000), true},
		{"acked EXPIRE lost", []*crashOp{set("a", 0, 1, true), expire(100_000, 2, 3)}, present("a", -1), true},
		{"acked EXPIRE kept", []*crashOp{set("a", 0, 1, true), expire(100_000, 2, 3)}, present("a", 99_000), false},
	}
	for _, tc := range cases {
		cc := &crashCampaign{
			t: t, strict: true, base: map[string]crashKeyState{},
			written: map[string]map[string]bool{"k": {}}, maxDeadline: map[string]int64{},
		}
		for _, o := range tc.ops {
			if o.kind == "SET" {
				cc.written["k"][o.value] = true
			}
			if o.ttlMs > 0 {
				cc.maxDeadline["k"] = max(cc.maxDeadline["k"], o.wallRet+o.ttlMs)
			}
		}
		var got []string
		cc.checkString("k", tc.obs, tc.ops, func(_ bool, f string, a ...any) { got = append(got, fmt.Sprintf(f, a...)) })
		if tc.bad && len(got) == 0 {
			t.Errorf("%s: the checker accepted it", tc.name)
		}
		if !tc.bad && len(got) > 0 {
			t.Errorf("%s: the checker rejected a valid outcome: %v", tc.name, got)
		}
	}
}
