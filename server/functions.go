package server

import (
	"context"
	"errors"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/protocol"
)

// Redis 7 functions: FUNCTION LOAD|LIST|DELETE|FLUSH|DUMP|RESTORE|KILL|
// STATS|HELP and FCALL / FCALL_RO.
//
// A library is Lua source starting with "#!lua name=<lib>"; loading runs it
// once with a minimal API (redis.register_function, redis.log, the log and
// version constants; nothing else, as in Redis) and keeps the callbacks it
// registers. Calls run like EVAL scripts (scripting.go), on one dedicated
// Lua state whose globals switch between the load-time API and the normal
// script globals.
//
// Libraries survive restarts, as Redis keeps them in its RDB/AOF: every
// change of the set (FUNCTION LOAD, DELETE, FLUSH, RESTORE) saves the whole
// set in the store (engine.Store.SaveFunctions, one reserved metadata key
// outside every database, so FLUSHALL keeps it) before the reply, with the
// store's fsync policy. The blob is the FUNCTION DUMP payload
// (functions_dump.go). At startup restoreSaved runs it through FUNCTION
// RESTORE's path (loadPayload, install); a blob that does not load is
// logged and kvd starts with no libraries.
//
// A change whose save fails is rolled back in memory, and the client gets
// the storage error (MISCONF when the disk guard refuses writes): see
// change.
//
// Lock order: the store (a script's batch or Exclusive) comes before
// stateMu (scripting.runOn), and stateMu before mu (state() rebuilding
// libraries under a call). A change holds mu, and not stateMu, while it
// saves; SaveFunctions takes no store lock (not mapMu, not a stripe) and
// waits only for badger and the group fsync, which never wait for any of
// these locks, so holding mu across it closes no cycle. It also works
// inside EXEC, whose exclusive hold of the store it does not need.

const (
	functionLoadTimeout = 500 * time.Millisecond // LOAD_TIMEOUT_MS

	errFunctionNotFound = "ERR Function not found"
	errBadFunctionName  = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
)

type functionEngine struct {
	e *scripting

	// stateMu serialises use of the Lua state: one call or one load at a
	// time. Calls take it after the store (see scripting.call).
	stateMu sync.Mutex
	ls      *luaState
	loadAPI *lua.LTable  // the globals a library sees while it loads
	loading *functionLib // the library being loaded, for register_function

	// mu guards libs and funcs. A change holds it until the new set is
	// saved in the store (change).
	mu    sync.RWMutex
	libs  map[string]*functionLib // by name, case-sensitive as in Redis
	funcs map[string]*luaFunction // by lower-case name: names are case-insensitive
}

type functionLib struct {
	name  string
	code  string
	funcs []*luaFunction // sorted by name
}

type luaFunction struct {
	name    string
	desc    string
	hasDesc bool
	flags   scriptFlags
	fn      *lua.LFunction
	lib     *functionLib
}

func newFunctionEngine(e *scripting) *functionEngine {
	return &functionEngine{e: e, libs: map[string]*functionLib{}, funcs: map[string]*luaFunction{}}
}

func (fe *functionEngine) commands() []*Command {
	sub := func(name string, arity int, flags Flags, h Handler, summary string) *Command {
		return &Command{Name: "function|" + name, Arity: arity, Flags: flags, Group: "scripting", Since: "7.0.0",
			Summary: summary, Handler: h}
	}
	const ns, w = FlagNoScript, FlagWrite
	subs := map[string]*Command{
		"load":    sub("load", -3, w|ns, fe.cmdLoad, "Creates a library."),
		"delete":  sub("delete", 3, w|ns, fe.cmdDelete, "Deletes a library and its functions."),
		"flush":   sub("flush", -2, w|ns, fe.cmdFlush, "Deletes all libraries and functions."),
		"kill":    sub("kill", 2, ns, func(c *Client, args [][]byte) { fe.e.kill(c, false) }, "Terminates a function during execution."),
		"list":    sub("list", -2, ns, fe.cmdList, "Returns information about all libraries."),
		"dump":    sub("dump", 2, ns, fe.cmdDump, "Dumps all libraries into a serialized binary payload."),
		"restore": sub("restore", -3, w|ns, fe.cmdRestore, "Restores all libraries from a payload."),
		"stats":   sub("stats", 2, ns, fe.cmdStats, "Returns information about a function during execution."),
		"help":    sub("help", 2, FlagLoading|FlagStale, cmdFunctionHelp, "Returns helpful text about the different subcommands."),
	}
	fcall := func(name string, flags Flags, ro bool, summary string) *Command {
		return &Command{Name: name, Arity: -3, Flags: flags | ns | FlagStale, Group: "scripting", Since: "7.0.0",
			Summary: summary, Handler: func(c *Client, args [][]byte) { fe.cmdFcall(c, args, ro) }}
	}
	return []*Command{
		fcall("fcall", 0, false, "Invokes a function."),
		fcall("fcall_ro", FlagReadOnly, true, "Invokes a read-only function."),
		{Name: "function", Arity: -2, Group: "scripting", Since: "7.0.0",
			Summary: "A container for function commands.", Subcommands: subs},
	}
}

// state returns the functions' Lua state, building it on first use. The
// caller holds stateMu. A state a Go panic went through is replaced, and
// the libraries are loaded again into the new one: their callbacks belong to
// the state that ran their code.
func (fe *functionEngine) state() *luaState {
	if fe.ls != nil && !fe.ls.broken {
		return fe.ls
	}
	rebuild := fe.ls != nil
	fe.newState()
	if rebuild {
		for _, lib := range fe.sortedLibs() {
			fresh, msg := fe.loadLibrary(lib.code, func(string) bool { return false })
			if fresh == nil {
				fe.e.srv.log.Error("reloading a function library failed", "library", lib.name, "err", msg)
				continue
			}
			fe.mu.Lock()
			for _, f := range fresh.funcs {
				if old := fe.funcs[strings.ToLower(f.name)]; old != nil && old.lib == lib {
					old.fn = f.fn
				}
			}
			fe.mu.Unlock()
		}
	}
	return fe.ls
}

func (fe *functionEngine) newState() {
	ls := newLuaState(fe.e)
	L := ls.L
	api := L.NewTable()
	rt := L.NewTable()
	rt.RawSetString("register_function", L.NewFunction(fe.registerFunction))
	ls.addLogAPI(rt)
	addVersionAPI(rt)
	for _, t := range []*lua.LTable{api, rt} {
		mt := L.NewTable()
		mt.RawSetString("__index", ls.noGlobal)
		t.Metatable = mt
	}
	api.RawSetString("redis", ls.protect(rt))
	fe.ls, fe.loadAPI = ls, api
}

// lookupFunction finds a function by name, ignoring case.
func (fe *functionEngine) lookupFunction(name string) *luaFunction {
	fe.mu.RLock()
	defer fe.mu.RUnlock()
	return fe.funcs[strings.ToLower(name)]
}

func (fe *functionEngine) cmdFcall(c *Client, args [][]byte, ro bool) {
	f := fe.lookupFunction(string(args[1]))
	if f == nil {
		c.w.Error(errFunctionNotFound)
		return
	}
	keys, argv, ok := scriptKeysOrReply(c, args, "ERR Bad number of keys provided")
	if !ok {
		return
	}
	readOnly, ok := prepareScriptRun(c, f.flags, ro)
	if !ok {
		return
	}
	r := &scriptRun{name: f.name, readOnly: readOnly, argv: args}
	acquire := func() *luaState {
		fe.stateMu.Lock()
		return fe.state()
	}
	release := func(*luaState) { fe.stateMu.Unlock() }
	fe.e.call(c, keys, acquire, release, r, func(ls *luaState) int {
		L := ls.L
		L.Push(f.fn)
		L.Push(luaStringArray(L, keys))
		L.Push(luaStringArray(L, argv))
		return 2
	})
}

// registerFunction is redis.register_function, available while a library
// loads: (name, callback) or a table of named arguments.
func (fe *functionEngine) registerFunction(L *lua.LState) int {
	lib := fe.loading
	if lib == nil {
		raiseLua(L, "redis.register_function can only be called on FUNCTION LOAD command")
	}
	f := &luaFunction{lib: lib}
	switch L.GetTop() {
	case 1:
		t, ok := L.Get(1).(*lua.LTable)
		if !ok {
			raiseLua(L, "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
		}
		if msg := readNamedFunctionArgs(t, f); msg != "" {
			raiseLua(L, msg)
		}
	case 2:
		switch v := L.Get(1).(type) {
		case lua.LString, lua.LNumber:
			f.name = luaToString(v)
		default:
			raiseLua(L, "first argument to redis.register_function must be a string")
		}
		fn, ok := L.Get(2).(*lua.LFunction)
		if !ok {
			raiseLua(L, "second argument to redis.register_function must be a function")
		}
		f.fn = fn
	default:
		raiseLua(L, "wrong number of arguments to redis.register_function")
	}
	if !validFunctionName(f.name) {
		raiseLua(L, errBadFunctionName)
	}
	// Within a library names are case-sensitive; across libraries (and for
	// FCALL) they are not, as in Redis.
	for _, other := range lib.funcs {
		if other.name == f.name {
			raiseLua(L, "Function already exists in the library")
		}
	}
	lib.funcs = append(lib.funcs, f)
	return 0
}

func readNamedFunctionArgs(t *lua.LTable, f *luaFunction) string {
	msg := ""
	t.ForEach(func(k, v lua.LValue) {
		if msg != "" {
			return
		}
		var key string
		switch x := k.(type) {
		case lua.LString, lua.LNumber:
			key = luaToString(x)
		default:
			msg = "named argument key given to redis.register_function is not a string"
			return
		}
		switch strings.ToLower(key) {
		case "function_name":
			switch x := v.(type) {
			case lua.LString, lua.LNumber:
				f.name = luaToString(x)
			default:
				msg = "function_name argument given to redis.register_function must be a string"
			}
		case "description":
			switch x := v.(type) {
			case lua.LString, lua.LNumber:
				f.desc, f.hasDesc = luaToString(x), true
			default:
				msg = "description argument given to redis.register_function must be a string"
			}
		case "callback":
			fn, ok := v.(*lua.LFunction)
			if !ok {
				msg = "callback argument given to redis.register_function must be a function"
				return
			}
			f.fn = fn
		case "flags":
			ft, ok := v.(*lua.LTable)
			if !ok {
				msg = "flags argument to redis.register_function must be a table representing function flags"
				return
			}
			for i := 1; ; i++ {
				fv := ft.RawGetInt(i)
				if fv == lua.LNil {
					break
				}
				name, isStr := fv.(lua.LString)
				flag, known := scriptFlagByName(string(name), true)
				if !isStr || !known {
					msg = "unknown flag given"
					return
				}
				f.flags |= flag
			}
		default:
			msg = "unknown argument given to redis.register_function"
		}
	})
	switch {
	case msg != "":
		return msg
	case f.name == "":
		return "redis.register_function must get a function name argument"
	case f.fn == nil:
		return "redis.register_function must get a callback argument"
	}
	return ""
}

// validFunctionName is Redis's functionsVerifyName.
func validFunctionName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// parseLibraryHeader is Redis's functionExtractLibMetaData: the first line
// "#!<engine> name=<lib>" and the code after it (its newline included, so
// that line numbers count from the header).
func parseLibraryHeader(payload string) (engineName, name, code, errMsg string) {
	if !strings.HasPrefix(payload, "#!") {
		return "", "", "", "Missing library metadata"
	}
	end := strings.IndexByte(payload, '\n')
	if end < 0 {
		return "", "", "", "Invalid library metadata"
	}
	parts, ok := sdsSplitArgs(payload[:end])
	if !ok || len(parts) == 0 {
		return "", "", "", "Invalid library metadata"
	}
	engineName = parts[0][2:]
	seen := false
	for _, p := range parts[1:] {
		if len(p) >= 5 && strings.EqualFold(p[:5], "name=") {
			if seen {
				return "", "", "", "Invalid metadata value, name argument was given multiple times"
			}
			name, seen = p[5:], true
			continue
		}
		return "", "", "", "Invalid metadata value given: " + p
	}
	if !seen {
		return "", "", "", "Library name was not given"
	}
	return engineName, name, payload[end:], ""
}

// loadLibrary compiles and runs a library's code and returns the library
// with its functions, without installing it. exists reports whether a
// library name is taken (checked before compiling, as Redis does). The
// caller holds stateMu.
func (fe *functionEngine) loadLibrary(payload string, exists func(name string) bool) (*functionLib, string) {
	engineName, name, code, msg := parseLibraryHeader(payload)
	if msg != "" {
		return nil, msg
	}
	if !validFunctionName(name) {
		return nil, errBadFunctionName
	}
	if !strings.EqualFold(engineName, "lua") {
		return nil, "Engine '" + engineName + "' not found"
	}
	if exists(name) {
		return nil, "Library '" + name + "' already exists"
	}
	proto, msg := compileLua(code, luaFunctionChunk)
	if msg != "" {
		return nil, "Error compiling function: " + msg
	}
	lib := &functionLib{name: name, code: payload}
	ls := fe.state()
	L := ls.L
	ctx, cancel := context.WithTimeout(context.Background(), functionLoadTimeout)
	defer cancel()
	L.SetContext(ctx)
	ls.globalsMeta.RawSetString("__index", fe.loadAPI)
	fe.loading = lib
	L.Push(L.NewFunctionFromProto(proto))
	err := L.PCall(0, 0, ls.translator)
	fe.loading = nil
	ls.globalsMeta.RawSetString("__index", ls.globals)
	L.RemoveContext()
	L.SetTop(0)
	if err != nil {
		var obj lua.LValue = lua.LString(err.Error())
		if aerr, ok := err.(*lua.ApiError); ok {
			obj = aerr.Object
			if aerr.Type == lua.ApiErrorPanic {
				ls.broken = true
			}
		}
		text := "ERR " + luaToString(obj)
		if t, ok := obj.(*lua.LTable); ok {
			text = luaToString(t.RawGetString("err"))
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			text = "ERR FUNCTION LOAD timeout"
		}
		return nil, "Error registering functions: " + text
	}
	if len(lib.funcs) == 0 {
		return nil, "No functions registered"
	}
	sort.Slice(lib.funcs, func(i, j int) bool { return lib.funcs[i].name < lib.funcs[j].name })
	return lib, ""
}

// install links libraries into the engine. With replace, a library of the
// same name is replaced; without it, it is an error (FUNCTION LOAD quotes
// the name in it, RESTORE does not). Function names must not collide with
// other libraries'. All or nothing. The caller holds mu.
func (fe *functionEngine) install(libs []*functionLib, replace, quoteName bool) string {
	replaced := map[string]bool{}
	for _, lib := range libs {
		if _, exists := fe.libs[lib.name]; exists {
			if !replace {
				if quoteName {
					return "Library '" + lib.name + "' already exists"
				}
				return "Library " + lib.name + " already exists"
			}
			replaced[lib.name] = true
		}
	}
	for _, lib := range libs {
		for _, f := range lib.funcs {
			if old := fe.funcs[strings.ToLower(f.name)]; old != nil && !replaced[old.lib.name] {
				return "Function " + f.name + " already exists"
			}
		}
	}
	for name := range replaced {
		fe.unlink(fe.libs[name])
	}
	for _, lib := range libs {
		fe.libs[lib.name] = lib
		for _, f := range lib.funcs {
			// Names differing only in case within one library: the first
			// one answers FCALL (Redis keeps whichever its hash table
			// yields first).
			if key := strings.ToLower(f.name); fe.funcs[key] == nil {
				fe.funcs[key] = f
			}
		}
	}
	return ""
}

func (fe *functionEngine) unlink(lib *functionLib) {
	delete(fe.libs, lib.name)
	for _, f := range lib.funcs {
		if key := strings.ToLower(f.name); fe.funcs[key] != nil && fe.funcs[key].lib == lib {
			delete(fe.funcs, key)
		}
	}
}

func (fe *functionEngine) cmdLoad(c *Client, args [][]byte) {
	replace := false
	pos := 2
	for ; pos < len(args)-1; pos++ {
		if !protocol.EqualFold(args[pos], "replace") {
			c.w.Error("ERR Unknown option given: " + string(args[pos]))
			return
		}
		replace = true
	}
	exists := func(name string) bool {
		fe.mu.RLock()
		defer fe.mu.RUnlock()
		return !replace && fe.libs[name] != nil
	}
	fe.stateMu.Lock()
	lib, msg := fe.loadLibrary(string(args[pos]), exists)
	fe.stateMu.Unlock()
	if lib == nil {
		c.w.Error("ERR " + msg)
		return
	}
	msg, err := fe.change(func() string { return fe.install([]*functionLib{lib}, replace, true) })
	if !replyChange(c, "function|load", msg, err) {
		return
	}
	c.w.BulkString(lib.name)
}

func (fe *functionEngine) cmdDelete(c *Client, args [][]byte) {
	msg, err := fe.change(func() string {
		lib := fe.libs[string(args[2])]
		if lib == nil {
			return "Library not found"
		}
		fe.unlink(lib)
		return ""
	})
	if replyChange(c, "function|delete", msg, err) {
		c.w.OK()
	}
}

func (fe *functionEngine) cmdFlush(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.w.Error(errSubcommandSyntax("FUNCTION", args[1]))
		return
	}
	if !flushModeOK(args[1:]) {
		c.w.Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
		return
	}
	msg, err := fe.change(func() string {
		fe.libs = map[string]*functionLib{}
		fe.funcs = map[string]*luaFunction{}
		return ""
	})
	if replyChange(c, "function|flush", msg, err) {
		c.w.OK()
	}
}

// change applies a change of the library set and saves the new set in the
// store, holding mu throughout: no FCALL or FUNCTION LIST sees a set that
// is not saved, and saves cannot commit out of order. apply returns an
// error message (without "ERR ") when it refuses, leaving the set as it
// was. If the save fails, the change is rolled back: the set before it is
// put back (apply may have changed the maps in place, hence the clones)
// and saved again, best effort, in case the failed save had committed
// and only its fsync failed. Nothing to undo when the disk guard refused
// the write.
func (fe *functionEngine) change(apply func() string) (string, error) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	libs, funcs := maps.Clone(fe.libs), maps.Clone(fe.funcs)
	if msg := apply(); msg != "" {
		fe.libs, fe.funcs = libs, funcs
		return msg, nil
	}
	store := fe.e.srv.store
	err := store.SaveFunctions(dumpLibraries(fe.sortedLibsLocked()))
	if err == nil {
		return "", nil
	}
	fe.libs, fe.funcs = libs, funcs
	if !errors.Is(err, engine.ErrDiskFull) {
		if rerr := store.SaveFunctions(dumpLibraries(fe.sortedLibsLocked())); rerr != nil {
			fe.e.srv.log.Error("saving the function libraries back after a failed change failed", "err", rerr)
		}
	}
	return "", err
}

// replyChange replies to a change that was refused (msg) or whose save
// failed (err, through replyErr: "ERR storage error: ..." or MISCONF), and
// reports whether it succeeded, leaving the success reply to the caller.
func replyChange(c *Client, cmd, msg string, err error) bool {
	switch {
	case err != nil:
		c.replyErr(cmd, err)
	case msg != "":
		c.w.Error("ERR " + msg)
	default:
		return true
	}
	return false
}

// restoreSaved installs the libraries saved in the store, at startup, by
// FUNCTION RESTORE's path. Libraries that do not load (a corrupt blob, or
// code an upgrade of kvd no longer accepts) are logged and skipped: kvd
// starts with none rather than not at all, and the next change of the set
// replaces the saved ones.
func (fe *functionEngine) restoreSaved() {
	blob, err := fe.e.srv.store.LoadFunctions()
	if err != nil {
		fe.e.srv.log.Error("reading the saved function libraries failed; starting with none", "err", err)
		return
	}
	if blob == nil {
		return // never saved
	}
	if !verifyDumpPayload(blob) {
		fe.e.srv.log.Error("the saved function libraries are corrupt (bad version or checksum); starting with none",
			"bytes", len(blob))
		return
	}
	libs, msg := fe.loadPayload(blob)
	if msg == "" {
		fe.mu.Lock()
		msg = fe.install(libs, false, false)
		fe.mu.Unlock()
	}
	if msg != "" {
		fe.e.srv.log.Error("loading the saved function libraries failed; starting with none", "err", msg)
		return
	}
	if len(libs) > 0 {
		fe.e.srv.log.Info("function libraries loaded", "libraries", len(libs))
	}
}

// errSubcommandSyntax is Redis's addReplySubcommandSyntaxError.
func errSubcommandSyntax(container string, sub []byte) string {
	s := string(sub)
	if len(s) > 128 {
		s = s[:128]
	}
	return "ERR unknown subcommand or wrong number of arguments for '" + s + "'. Try " + container + " HELP."
}

// sortedLibs returns the libraries by name. Redis lists them in hash table
// order, which varies from process to process.
func (fe *functionEngine) sortedLibs() []*functionLib {
	fe.mu.RLock()
	defer fe.mu.RUnlock()
	return fe.sortedLibsLocked()
}

// sortedLibsLocked is sortedLibs for a caller that holds mu.
func (fe *functionEngine) sortedLibsLocked() []*functionLib {
	libs := make([]*functionLib, 0, len(fe.libs))
	for _, l := range fe.libs {
		libs = append(libs, l)
	}
	sort.Slice(libs, func(i, j int) bool { return libs[i].name < libs[j].name })
	return libs
}

func (fe *functionEngine) cmdList(c *Client, args [][]byte) {
	withCode := false
	var pattern []byte
	havePattern := false
	for i := 2; i < len(args); i++ {
		switch {
		case !withCode && protocol.EqualFold(args[i], "withcode"):
			withCode = true
		case !havePattern && protocol.EqualFold(args[i], "libraryname"):
			if i >= len(args)-1 {
				c.w.Error("ERR library name argument was not given")
				return
			}
			i++
			pattern, havePattern = args[i], true
		default:
			c.w.Error("ERR Unknown argument " + string(args[i]))
			return
		}
	}
	var libs []*functionLib
	for _, lib := range fe.sortedLibs() {
		if havePattern && !protocol.Match([]byte(strings.ToLower(string(pattern))), []byte(strings.ToLower(lib.name))) {
			continue
		}
		libs = append(libs, lib)
	}
	c.w.Array(len(libs))
	for _, lib := range libs {
		if withCode {
			c.w.Map(4)
		} else {
			c.w.Map(3)
		}
		c.w.BulkString("library_name")
		c.w.BulkString(lib.name)
		c.w.BulkString("engine")
		c.w.BulkString("LUA")
		c.w.BulkString("functions")
		c.w.Array(len(lib.funcs))
		for _, f := range lib.funcs {
			c.w.Map(3)
			c.w.BulkString("name")
			c.w.BulkString(f.name)
			c.w.BulkString("description")
			if f.hasDesc {
				c.w.BulkString(f.desc)
			} else {
				c.w.Null()
			}
			c.w.BulkString("flags")
			var names []string
			for _, fl := range scriptFlagNames {
				if f.flags&fl.flag != 0 {
					names = append(names, fl.name)
				}
			}
			c.w.Set(len(names))
			for _, n := range names {
				c.w.Status(n)
			}
		}
		if withCode {
			c.w.BulkString("library_code")
			c.w.BulkString(lib.code)
		}
	}
}

func (fe *functionEngine) cmdStats(c *Client, args [][]byte) {
	e := fe.e
	r := e.busy()
	busy := r != nil
	if busy && r.isEval {
		c.w.Error(errBusyEval)
		return
	}
	c.w.Map(2)
	c.w.BulkString("running_script")
	if busy {
		c.w.Map(3)
		c.w.BulkString("name")
		c.w.BulkString(r.name)
		c.w.BulkString("command")
		c.w.BulkArray(r.argv)
		c.w.BulkString("duration_ms")
		c.w.Int(time.Since(r.start).Milliseconds())
	} else {
		c.w.Null()
	}
	fe.mu.RLock()
	nlibs, nfuncs := len(fe.libs), len(fe.funcs)
	fe.mu.RUnlock()
	c.w.BulkString("engines")
	c.w.Map(1)
	c.w.BulkString("LUA")
	c.w.Map(2)
	c.w.BulkString("libraries_count")
	c.w.Int(int64(nlibs))
	c.w.BulkString("functions_count")
	c.w.Int(int64(nfuncs))
}

func cmdFunctionHelp(c *Client, args [][]byte) {
	lines := []string{
		"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"LOAD [REPLACE] <FUNCTION CODE>",
		"    Create a new library with the given library name and code.",
		"DELETE <LIBRARY NAME>",
		"    Delete the given library.",
		"LIST [LIBRARYNAME PATTERN] [WITHCODE]",
		"    Return general information on all the libraries:",
		"    * Library name",
		"    * The engine used to run the Library",
		"    * Library description",
		"    * Functions list",
		"    * Library code (if WITHCODE is given)",
		"    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
		"STATS",
		"    Return information about the current function running:",
		"    * Function name",
		"    * Command used to run the function",
		"    * Duration in MS that the function is running",
		"    If no function is running, return nil",
		"    In addition, returns a list of available engines.",
		"KILL",
		"    Kill the current running function.",
		"FLUSH [ASYNC|SYNC]",
		"    Delete all the libraries.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the libraries.",
		"    * SYNC: Synchronously flush the libraries.",
		"DUMP",
		"    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
		"RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
		"    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
		"    control how to handle existing libraries (default APPEND):",
		"    * FLUSH: delete all existing libraries.",
		"    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
		"    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
		"      libraries with the new libraries (notice that even on this option there is a chance of failure",
		"      in case of functions name collision with another library).",
		"HELP",
		"    Prints this help.",
	}
	c.w.Array(len(lines))
	for _, l := range lines {
		c.w.Status(l)
	}
}
