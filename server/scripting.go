package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, with Redis
// 7.0's semantics and replies, on gopher-lua. FUNCTION and FCALL, which
// share this machinery, are in functions.go.
//
// A script runs atomically, so no other command observes or interleaves
// with it: as an engine batch over its KEYS (one transaction; scripts on
// other keys run beside it), or, when it reaches past them, again under
// engine.Store.Exclusive as EXEC runs (see call). Its redis.call commands
// go through the ordinary dispatcher on a script client (its own reply
// buffer, the caller's database, the batch or exclusive store handle), and
// their replies are converted back into Lua values (scripting_convert.go). Like
// EXEC, a script marks its client as inside a transaction, so blocking
// commands do not block, and clients blocked on keys the script wrote are
// served once it is done.
//
// Runaway scripts: once a script has run longer than busyReplyThreshold,
// commands from other clients that reach the dispatcher get -BUSY, except
// those Redis allows (SCRIPT KILL, FUNCTION KILL/STATS, SHUTDOWN NOSAVE,
// AUTH, HELLO, MULTI, DISCARD, WATCH, UNWATCH, RESET, QUIT). Commands that
// were already waiting for the store when the threshold passed keep
// waiting: they run after the script. SCRIPT KILL stops a script that has
// not written, through the context the Lua VM checks before every
// instruction.

// busyReplyThreshold is Redis's busy-reply-threshold (lua-time-limit):
// how long a script runs before other clients get -BUSY and it may be
// killed.
const busyReplyThreshold = 5000 * time.Millisecond

// maxIdleReplyBuffer bounds the reply buffer a pooled script client keeps
// between calls.
const maxIdleReplyBuffer = 1 << 20

// Error replies of the scripting commands.
const (
	errNoScript        = "NOSCRIPT No matching script. Please use EVAL."
	errBusyEval        = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	errBusyFunction    = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
	errNotBusy         = "NOTBUSY No scripts in execution right now."
	errUnkillable      = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
	errNegativeKeys    = "ERR Number of keys can't be negative"
	errTooManyKeys     = "ERR Number of keys can't be greater than number of args"
	errROWithWriteFlag = "ERR Can not execute a script with write flag using *_ro command."
)

// scripting is one server's scripting engine: the script cache, the pool
// of Lua states, the function libraries and the script running now.
type scripting struct {
	srv *Server
	// busyThreshold is busyReplyThreshold; tests lower it.
	busyThreshold time.Duration

	mu      sync.RWMutex
	scripts map[string]*evalScript // by lower-case SHA1

	poolMu sync.Mutex
	pool   []*luaState

	runs scriptRuns
	rand *rand48
	fn   *functionEngine
}

// scriptRun is one script or function call in progress.
type scriptRun struct {
	name     string   // SHA1 or function name, as errors show it
	isEval   bool     // EVAL (SCRIPT KILL) or FCALL (FUNCTION KILL)
	readOnly bool     // *_RO, or a no-writes script
	argv     [][]byte // the caller's command, for FUNCTION STATS
	client   *Client  // the script client
	start    time.Time
	cancel   context.CancelFunc
	wrote    atomic.Bool // a write command was attempted: unkillable
	killed   atomic.Bool
}

func (r *scriptRun) busyError() string {
	if r.isEval {
		return errBusyEval
	}
	return errBusyFunction
}

func newScripting(s *Server) *scripting {
	e := &scripting{srv: s, busyThreshold: busyReplyThreshold, scripts: map[string]*evalScript{}, rand: newRand48()}
	e.fn = newFunctionEngine(e)
	return e
}

func (s *Server) scriptingCommands() []*Command {
	e := newScripting(s)
	s.scripting = e
	eval := func(name string, flags Flags, bySHA, ro bool, since, summary string) *Command {
		return &Command{Name: name, Arity: -3, Flags: flags | FlagNoScript | FlagStale, Group: "scripting",
			Since: since, Summary: summary,
			Handler: func(c *Client, args [][]byte) { e.cmdEval(c, args, bySHA, ro) }}
	}
	sub := func(name string, arity int, flags Flags, h Handler, summary string) *Command {
		return &Command{Name: "script|" + name, Arity: arity, Flags: flags, Group: "scripting", Since: "2.6.0",
			Summary: summary, Handler: h}
	}
	const ns = FlagNoScript
	script := map[string]*Command{
		"load":   sub("load", 3, ns|FlagStale, e.cmdScriptLoad, "Loads a server-side Lua script to the script cache."),
		"exists": sub("exists", -3, ns, e.cmdScriptExists, "Determines whether server-side Lua scripts exist in the script cache."),
		"flush":  sub("flush", -2, ns, e.cmdScriptFlush, "Removes all server-side Lua scripts from the script cache."),
		"kill":   sub("kill", 2, ns, func(c *Client, args [][]byte) { e.kill(c, true) }, "Terminates a server-side Lua script during execution."),
		"debug":  sub("debug", 3, ns, cmdScriptDebug, "Sets the debug mode of server-side Lua scripts."),
		"help":   sub("help", 2, FlagLoading|FlagStale, cmdScriptHelp, "Returns helpful text about the different subcommands."),
	}
	cmds := []*Command{
		eval("eval", 0, false, false, "2.6.0", "Executes a server-side Lua script."),
		eval("evalsha", 0, true, false, "2.6.0", "Executes a server-side Lua script by SHA1 digest."),
		eval("eval_ro", FlagReadOnly, false, true, "7.0.0", "Executes a read-only server-side Lua script."),
		eval("evalsha_ro", FlagReadOnly, true, true, "7.0.0", "Executes a read-only server-side Lua script by SHA1 digest."),
		{Name: "script", Arity: -2, Flags: ns, Group: "scripting", Since: "2.6.0",
			Summary: "A container for Lua scripts management commands.", Subcommands: script},
	}
	return append(cmds, e.fn.commands()...)
}

// scriptKeysOrReply splits the arguments after the script or function name
// into keys and arguments by numkeys, replying the error when numkeys is
// invalid. notInteger is the error for a numkeys that is not a number.
func scriptKeysOrReply(c *Client, args [][]byte, notInteger string) (keys, argv [][]byte, ok bool) {
	n, isInt := redisnum.ParseInt(args[2])
	switch {
	case !isInt:
		c.w.Error(notInteger)
	case n > int64(len(args)-3):
		c.w.Error(errTooManyKeys)
	case n < 0:
		c.w.Error(errNegativeKeys)
	default:
		return args[3 : 3+n], args[3+n:], true
	}
	return nil, nil, false
}

// cmdEval serves EVAL, EVALSHA, EVAL_RO and EVALSHA_RO.
func (e *scripting) cmdEval(c *Client, args [][]byte, bySHA, ro bool) {
	if bySHA && len(args[1]) != 40 {
		c.w.Error(errNoScript)
		return
	}
	keys, argv, ok := scriptKeysOrReply(c, args, protocol.ErrNotInteger)
	if !ok {
		return
	}
	var script *evalScript
	if bySHA {
		if script = e.lookupScript(string(args[1])); script == nil {
			c.w.Error(errNoScript)
			return
		}
	} else {
		var msg string
		if script, msg = e.loadScript(args[1]); script == nil {
			c.w.Error(msg)
			return
		}
	}
	readOnly, ok := prepareScriptRun(c, script.flags, ro)
	if !ok {
		return
	}
	r := &scriptRun{name: script.sha, isEval: true, readOnly: readOnly, argv: args}
	// KEYS and ARGV stay set in the pooled state until the next call
	// replaces them (as in Redis): clearing them cost two deletions and
	// two re-insertions in the globals table per call.
	e.call(c, keys, e.acquireState, e.releaseState, r, func(ls *luaState) int {
		L := ls.L
		ls.globals.RawSetString("KEYS", luaStringArray(L, keys))
		ls.globals.RawSetString("ARGV", luaStringArray(L, argv))
		L.Push(L.NewFunctionFromProto(script.proto))
		return 0
	})
}

// prepareScriptRun is Redis's scriptPrepareForRun for kvd: a script with a
// shebang (or a function) that may write cannot run from a *_RO command. It
// reports whether the run is read-only.
func prepareScriptRun(c *Client, flags scriptFlags, ro bool) (readOnly, ok bool) {
	if flags&flagEvalCompat == 0 && flags&flagNoWrites == 0 && ro {
		c.w.Error(errROWithWriteFlag)
		return false, false
	}
	return ro || (flags&flagEvalCompat == 0 && flags&flagNoWrites != 0), true
}

func luaStringArray(L *lua.LState, items [][]byte) *lua.LTable {
	t := L.CreateTable(len(items), 0)
	for i, it := range items {
		t.RawSetInt(i+1, lua.LString(it))
	}
	return t
}

// call runs one script or function call and writes its reply to c.w.
// setup pushes the function and its arguments and returns how many
// arguments it pushed.
//
// A call first runs as an engine batch over the keys it declares (KEYS, as
// Redis Cluster requires): its commands share one transaction, committed
// when it returns, so calls on different keys run side by side and none
// observes another half done. A call that touches anything else (an
// undeclared key, SCAN, FLUSHDB...) or writes more than one transaction
// holds is discarded, reply included, and runs again under
// engine.Store.Exclusive, as EXEC does. Inside EXEC the store is already
// exclusive and the call runs on it directly.
func (e *scripting) call(c *Client, keys [][]byte, acquire func() *luaState, release func(*luaState), r *scriptRun, setup func(ls *luaState) int) {
	var signals []blockKey
	mark := c.w.Len()
	run := func(st *engine.Store) error {
		c.w.Truncate(mark)
		signals = e.runOn(st, c, acquire, release, r, setup)
		return nil
	}
	declared := make([]engine.BatchKey, len(keys))
	for i, k := range keys {
		declared[i] = engine.BatchKey{DB: c.db, Key: k}
	}
	err := c.store.Batch(declared, run)
	if errors.Is(err, engine.ErrBatchScope) {
		err = c.store.Exclusive(run)
	}
	if err != nil {
		c.w.Truncate(mark)
		c.replyErr("eval", err)
		return
	}
	if c.tx.inExec {
		// Inside EXEC the transaction still holds the store: it signals.
		c.tx.signals = append(c.tx.signals, signals...)
		return
	}
	for _, k := range signals {
		e.srv.blocking.signal(k.db, []byte(k.key))
	}
}

// runOn runs the call on store handle st, writes its reply to c.w and
// returns the keys its write commands may have unblocked. The Lua state is
// acquired only once st is held (always in that order, so that EXEC running
// FCALL cannot deadlock with FCALL), and released before st is.
func (e *scripting) runOn(st *engine.Store, c *Client, acquire func() *luaState, release func(*luaState), r *scriptRun, setup func(ls *luaState) int) (signals []blockKey) {
	ls := acquire()
	defer release(ls)
	sc := ls.client
	sc.store, sc.db = st, c.db
	sc.w.Reset()
	sc.w.SetProto(2)
	sc.tx.inExec = true
	ctx, cancel := context.WithCancel(context.Background())
	// A fresh record per attempt: others may still read the last one's.
	r = &scriptRun{name: r.name, isEval: r.isEval, readOnly: r.readOnly, argv: r.argv,
		client: sc, cancel: cancel, start: time.Now()}
	ls.run = r
	L := ls.L
	L.SetContext(ctx)
	e.runs.add(r)
	defer func() {
		e.runs.remove(r)
		L.RemoveContext()
		cancel()
		ls.run = nil
		L.SetTop(0)
		signals, sc.tx.signals = sc.tx.signals, nil
		sc.store = nil
		if cap(sc.w.Bytes()) > maxIdleReplyBuffer {
			sc.w = protocol.NewWriter(2) // do not pin a huge reply
		}
	}()
	nargs := setup(ls)
	if perr := L.PCall(nargs, 1, ls.handler); perr != nil {
		e.replyScriptError(c, ls, r, perr)
		return
	}
	luaToResp(c.w, L.Get(-1), sc.w.Proto(), luaReplyBaseSlots)
	return
}

// replyScriptError writes the reply for a call that raised an error: the
// error table the handler built, with the script's name and position.
func (e *scripting) replyScriptError(c *Client, ls *luaState, r *scriptRun, perr error) {
	var obj lua.LValue = lua.LString(perr.Error())
	if aerr, ok := perr.(*lua.ApiError); ok {
		obj = aerr.Object
		if aerr.Type == lua.ApiErrorPanic {
			// A Go panic inside gopher-lua: the state may be inconsistent.
			ls.broken = true
			e.srv.log.Error("lua state panicked", "script", r.name, "panic", aerr.Error())
		}
	}
	t, ok := obj.(*lua.LTable)
	if !ok {
		// Only when the handler itself could not run: gopher-lua's call
		// stack overflowing (Lua 5.1 would report "stack overflow" at the
		// recursion's line), or a panic.
		msg := "execution failure"
		if s, isStr := obj.(lua.LString); isStr {
			msg = strings.Replace(string(s), "lua callstack overflow", "stack overflow", 1)
		}
		if len(msg) > 100 {
			msg = msg[:100]
		}
		c.w.Error("ERR Error running script " + r.name + ", " + strings.TrimRight(msg, "\r\n"))
		return
	}
	msg := "ERR unknown error"
	switch v := t.RawGetString("err").(type) {
	case lua.LString, lua.LNumber:
		msg = luaToString(v)
	}
	source, sok := t.RawGetString("source").(lua.LString)
	line := t.RawGetString("line")
	if _, lok := line.(lua.LNumber); sok && lok {
		msg += " script: " + r.name + ", on " + string(source) + ":" + luaToString(line) + "."
	}
	c.w.Error(msg)
}

// busyScript returns the script that has run past the busy threshold, if
// one has.
func (s *Server) busyScript() *scriptRun {
	if s.scripting == nil {
		return nil
	}
	return s.scripting.busy()
}

// busy returns the longest-running script if it is past the busy
// threshold: from then on other clients get -BUSY, and KILL and FUNCTION
// STATS see it.
func (e *scripting) busy() *scriptRun {
	if r := e.runs.oldest(); r != nil && time.Since(r.start) >= e.busyThreshold {
		return r
	}
	return nil
}

// refuseWhileScriptBusy is the dispatcher's BUSY check: once a script has
// run past the threshold, commands of other clients get -BUSY, except the
// few Redis allows. It reports whether it refused the command.
func (s *Server) refuseWhileScriptBusy(c *Client, cmd *Command, args [][]byte) bool {
	if c.inScript {
		return false // a script's own commands
	}
	r := s.busyScript()
	if r == nil {
		return false
	}
	switch cmd.Name {
	case "auth", "hello", "multi", "discard", "watch", "unwatch", "reset", "quit",
		"script|kill", "function|kill", "function|stats":
		return false
	case "shutdown":
		for _, a := range args[1:] {
			if protocol.EqualFold(a, "NOSAVE") {
				// The process is going away: stop the script even if it
				// wrote, or the shutdown would wait for it forever.
				r.killed.Store(true)
				r.cancel()
				return false
			}
		}
	}
	c.refuseInMulti()
	cmd.stats.rejected.Add(1)
	s.stats.rejectedCalls.Add(1)
	c.w.Error(r.busyError())
	return true
}

// kill serves SCRIPT KILL (eval) and FUNCTION KILL.
func (e *scripting) kill(c *Client, eval bool) {
	r := e.busy()
	switch {
	case r == nil:
		// Redis serves other clients only once a script is past the
		// threshold: before that, SCRIPT KILL would find it finished.
		c.w.Error(errNotBusy)
	case r.wrote.Load():
		c.w.Error(errUnkillable)
	case eval && !r.isEval:
		c.w.Error(errBusyFunction)
	case !eval && r.isEval:
		c.w.Error(errBusyEval)
	default:
		r.killed.Store(true)
		r.cancel()
		c.w.OK()
	}
}

func (e *scripting) cmdScriptLoad(c *Client, args [][]byte) {
	script, msg := e.loadScript(args[2])
	if script == nil {
		c.w.Error(msg)
		return
	}
	c.w.BulkString(script.sha)
}

func (e *scripting) cmdScriptExists(c *Client, args [][]byte) {
	c.w.Array(len(args) - 2)
	for _, sha := range args[2:] {
		c.w.Bool01(e.lookupScript(string(sha)) != nil)
	}
}

func (e *scripting) cmdScriptFlush(c *Client, args [][]byte) {
	if !flushModeOK(args[1:]) {
		c.w.Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
		return
	}
	e.flushScripts()
	c.w.OK()
}

// cmdScriptDebug: kvd has no Lua debugger, so only NO is accepted.
func cmdScriptDebug(c *Client, args [][]byte) {
	switch {
	case protocol.EqualFold(args[2], "no"):
		c.w.OK()
	case protocol.EqualFold(args[2], "yes"), protocol.EqualFold(args[2], "sync"):
		c.w.Error("ERR SCRIPT DEBUG is not supported: kvd has no Lua debugger")
	default:
		c.w.Error("ERR Use SCRIPT DEBUG YES/SYNC/NO")
	}
}

func cmdScriptHelp(c *Client, args [][]byte) {
	lines := []string{
		"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"DEBUG (YES|SYNC|NO)",
		"    Set the debug mode for subsequent scripts executed.",
		"EXISTS <sha1> [<sha1> ...]",
		"    Return information about the existence of the scripts in the script cache.",
		"FLUSH [ASYNC|SYNC]",
		"    Flush the Lua scripts cache. Very dangerous on replicas.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the scripts cache.",
		"    * SYNC: Synchronously flush the scripts cache.",
		"KILL",
		"    Kill the currently executing Lua script.",
		"LOAD <script>",
		"    Load a script into the scripts cache without executing it.",
		"HELP",
		"    Prints this help.",
	}
	c.w.Array(len(lines))
	for _, l := range lines {
		c.w.Status(l)
	}
}
