package server

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	lua "github.com/yuin/gopher-lua"
)

// The Lua sandbox: one luaState is a gopher-lua state set up as Redis 7.0
// sets up its scripting state. States are pooled and reused across calls
// (see scripting_cache.go); nothing a script does can leak into the next
// one, because everything reachable from the globals is read-only:
//
//   - The globals a script sees are an empty proxy table whose metatable
//     reads through to the real globals and refuses writes ("Attempt to
//     modify a readonly table"); reading a missing global raises "Script
//     attempted to access nonexistent global variable".
//   - Every library table (string, math, redis, cjson, ...) is replaced by
//     such a proxy too, and rawset, setmetatable and the table functions
//     refuse to touch a proxy, as Redis's read-only tables do.
//   - Only Redis's allow-listed globals exist: no os, io, print, dofile,
//     loadfile, require, module, setfenv, getfenv, debug or newproxy.
//     loadstring and load exist (gopher-lua compiles source only, never
//     bytecode) and compile into the same protected environment.
//
// gopher-lua has no read-only table flag, which is why proxies stand in for
// Redis's patched Lua; pairs, next and rawget see through them.

// Sources as Redis names them in error positions.
const (
	luaScriptChunk   = "user_script"   // EVAL scripts
	luaFunctionChunk = "user_function" // FUNCTION libraries
)

const (
	errLuaReadonly      = "Attempt to modify a readonly table"
	errLuaNoGlobalFmt   = "Script attempted to access nonexistent global variable '%s'"
	luaMaxCallFrames    = 20000   // LUAI_MAXCALLS
	luaRegistryMaxSlots = 1 << 20 // bounds the value stack of a runaway recursion
)

// luaGlobalsAllowed are the globals an EVAL script can see, as listed by
// pairs(_G) in Redis 7.0 (KEYS and ARGV are added per call).
var luaGlobalsAllowed = []string{
	"_G", "_VERSION", "__redis__err__handler", "assert", "bit", "cjson", "cmsgpack",
	"collectgarbage", "coroutine", "error", "gcinfo", "getmetatable", "ipairs", "load",
	"loadstring", "math", "next", "pairs", "pcall", "rawequal", "rawget", "rawset", "redis",
	"select", "setmetatable", "string", "struct", "table", "tonumber", "tostring", "type",
	"unpack", "xpcall",
}

// luaState is one pooled Lua state with its sandbox.
type luaState struct {
	L       *lua.LState
	eng     *scripting
	globals *lua.LTable // the real globals behind the proxy
	// globalsMeta is the proxy's metatable; the function engine points its
	// __index at the load-time API while FUNCTION LOAD runs.
	globalsMeta *lua.LTable
	realOf      map[*lua.LTable]*lua.LTable // proxy -> protected table
	proxyOf     map[*lua.LTable]*lua.LTable
	readonly    *lua.LFunction // __newindex of every proxy
	noGlobal    *lua.LFunction // __index of the globals: missing global
	handler     *lua.LFunction // the error handler every call runs under
	translator  *lua.LFunction // the message handler of pcall
	stringMeta  *lua.LTable    // what getmetatable returns for strings

	// client runs redis.call's commands; run is the call in progress.
	client *Client
	run    *scriptRun
	broken bool // a Go panic went through the state: do not reuse it
}

func newLuaState(e *scripting) *luaState {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       luaMaxCallFrames,
		MinimizeStackMemory: true,
		RegistrySize:        1024,
		RegistryMaxSize:     luaRegistryMaxSlots,
	})
	ls := &luaState{
		L: L, eng: e,
		realOf:  map[*lua.LTable]*lua.LTable{},
		proxyOf: map[*lua.LTable]*lua.LTable{},
	}
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	openLuaLibs(L)

	g := L.G.Global
	ls.globals = g
	ls.readonly = L.NewFunction(func(L *lua.LState) int {
		L.RaiseError(errLuaReadonly)
		return 0
	})
	ls.noGlobal = L.NewFunction(func(L *lua.LState) int {
		k := L.Get(2)
		switch k.(type) {
		case lua.LString, lua.LNumber:
		default:
			L.RaiseError("Second argument to luaProtectedTableError must be a string or number")
		}
		L.RaiseError(errLuaNoGlobalFmt, luaToString(k))
		return 0
	})
	ls.handler = L.NewFunction(ls.errorHandler)
	ls.translator = newTranslator(L)

	ls.installBaseOverrides()
	ls.installStdlibOverrides()
	g.RawSetString("redis", ls.newRedisAPI())
	g.RawSetString("__redis__err__handler", ls.handler)

	// Keep only Redis's allow list.
	allowed := map[string]bool{}
	for _, name := range luaGlobalsAllowed {
		allowed[name] = true
	}
	var drop []lua.LValue
	g.ForEach(func(k, _ lua.LValue) {
		if s, ok := k.(lua.LString); !ok || !allowed[string(s)] {
			drop = append(drop, k)
		}
	})
	for _, k := range drop {
		g.RawSet(k, lua.LNil)
	}

	// The string metatable: a fresh {__index = string} (gopher-lua uses the
	// string table itself, which would show an __index field).
	strlib := g.RawGetString("string").(*lua.LTable)
	strlib.RawSetString("__index", lua.LNil)

	// Protect every library table, then the globals themselves.
	g.ForEach(func(k, v lua.LValue) {
		if t, ok := v.(*lua.LTable); ok && t != g {
			g.RawSet(k, ls.protect(t))
		}
	})
	strMeta := L.NewTable()
	strMeta.RawSetString("__index", ls.proxyOf[strlib])
	L.SetMetatable(lua.LString(""), strMeta)
	ls.stringMeta = ls.protect(strMeta)

	gmeta := L.NewTable()
	gmeta.RawSetString("__index", ls.noGlobal)
	g.Metatable = gmeta
	proxy := L.NewTable()
	ls.globalsMeta = L.NewTable()
	ls.globalsMeta.RawSetString("__index", g)
	ls.globalsMeta.RawSetString("__newindex", ls.readonly)
	proxy.Metatable = ls.globalsMeta
	ls.realOf[proxy] = g
	ls.proxyOf[g] = proxy
	g.RawSetString("_G", proxy)
	L.G.Global = proxy
	L.Env = proxy

	ls.client = e.newScriptClient()
	return ls
}

// protect returns the read-only proxy of t, protecting the tables t holds
// as well.
func (ls *luaState) protect(t *lua.LTable) *lua.LTable {
	if p, ok := ls.proxyOf[t]; ok {
		return p
	}
	if _, isProxy := ls.realOf[t]; isProxy {
		return t
	}
	p := ls.L.NewTable()
	mt := ls.L.NewTable()
	mt.RawSetString("__index", t)
	mt.RawSetString("__newindex", ls.readonly)
	p.Metatable = mt
	ls.realOf[p] = t
	ls.proxyOf[t] = p
	var nested []lua.LValue
	t.ForEach(func(k, v lua.LValue) {
		if _, ok := v.(*lua.LTable); ok {
			nested = append(nested, k)
		}
	})
	for _, k := range nested {
		t.RawSet(k, ls.protect(t.RawGet(k).(*lua.LTable)))
	}
	return p
}

// unwrap returns the table a proxy stands for, or v itself.
func (ls *luaState) unwrap(v lua.LValue) lua.LValue {
	if t, ok := v.(*lua.LTable); ok {
		if real, isProxy := ls.realOf[t]; isProxy {
			return real
		}
	}
	return v
}

func (ls *luaState) isProtected(v lua.LValue) bool {
	t, ok := v.(*lua.LTable)
	if !ok {
		return false
	}
	_, isProxy := ls.realOf[t]
	_, isReal := ls.proxyOf[t]
	return isProxy || isReal
}

// raiseReadonly raises Redis's read-only error the way a C function does:
// without a position.
func raiseReadonly(L *lua.LState) {
	L.Error(lua.LString(errLuaReadonly), 0)
}

// installBaseOverrides replaces the base functions that must respect the
// read-only proxies, plus pcall (Redis's version hands back the message of
// an error table) and Redis's math.random.
func (ls *luaState) installBaseOverrides() {
	L, g := ls.L, ls.L.G.Global
	orig := func(name string) *lua.LFunction { return g.RawGetString(name).(*lua.LFunction) }
	origNext, origPairs, origRawget := orig("next"), orig("pairs"), orig("rawget")
	origRawset, origSetmeta, origGetmeta := orig("rawset"), orig("setmetatable"), orig("getmetatable")
	// delegate calls fn with the arguments of the running call, the first
	// one unwrapped from its proxy.
	delegate := func(fn *lua.LFunction) lua.LGFunction {
		return func(L *lua.LState) int {
			n := L.GetTop()
			if n >= 1 {
				L.Replace(1, ls.unwrap(L.Get(1)))
			}
			L.Insert(fn, 1)
			L.Call(n, lua.MultRet)
			return L.GetTop()
		}
	}
	guard := func(fn *lua.LFunction) lua.LGFunction {
		return func(L *lua.LState) int {
			if L.GetTop() >= 1 && ls.isProtected(L.Get(1)) {
				raiseReadonly(L)
			}
			n := L.GetTop()
			L.Insert(fn, 1)
			L.Call(n, lua.MultRet)
			return L.GetTop()
		}
	}
	g.RawSetString("next", L.NewFunction(delegate(origNext)))
	g.RawSetString("pairs", L.NewFunction(delegate(origPairs)))
	g.RawSetString("rawget", L.NewFunction(delegate(origRawget)))
	g.RawSetString("rawset", L.NewFunction(guard(origRawset)))
	g.RawSetString("setmetatable", L.NewFunction(guard(origSetmeta)))
	g.RawSetString("getmetatable", L.NewFunction(func(L *lua.LState) int {
		if L.GetTop() >= 1 {
			switch v := L.Get(1).(type) {
			case *lua.LTable:
				if _, isProxy := ls.realOf[v]; isProxy {
					L.Push(lua.LNil) // library tables have no metatable in Redis
					return 1
				}
			case lua.LString:
				L.Push(ls.stringMeta) // read-only, as in Redis
				return 1
			}
		}
		n := L.GetTop()
		L.Insert(origGetmeta, 1)
		L.Call(n, lua.MultRet)
		return L.GetTop()
	}))
	g.RawSetString("pcall", L.NewFunction(ls.pcall))
	g.RawSetString("gcinfo", L.NewFunction(func(L *lua.LState) int {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		L.Push(lua.LNumber(m.HeapAlloc / 1024))
		return 1
	}))

	tbl := g.RawGetString("table").(*lua.LTable)
	for _, name := range []string{"insert", "remove", "sort"} {
		tbl.RawSetString(name, L.NewFunction(guard(tbl.RawGetString(name).(*lua.LFunction))))
	}

	mathlib := g.RawGetString("math").(*lua.LTable)
	mathlib.RawSetString("random", L.NewFunction(ls.mathRandom))
	mathlib.RawSetString("randomseed", L.NewFunction(ls.mathRandomSeed))
}

// pcall is Redis 7.0's pcall: errors raised as tables (redis.call's) come
// back as their err string, as they did before Redis 7.
func (ls *luaState) pcall(L *lua.LState) int {
	// Redis's pcall pushes its result placeholder first, so that pcall()
	// tries to call that boolean.
	var fn lua.LValue = lua.LTrue
	if L.GetTop() > 0 {
		fn = L.Get(1)
	}
	if _, ok := fn.(*lua.LFunction); !ok && L.GetMetaField(fn, "__call").Type() != lua.LTFunction {
		L.SetTop(0)
		L.Push(lua.LFalse)
		L.Push(lua.LString("attempt to call a " + luaTypeName(fn) + " value"))
		return 2
	}
	err := L.PCall(L.GetTop()-1, lua.MultRet, ls.translator)
	if err != nil {
		var obj lua.LValue = lua.LString(err.Error())
		if aerr, ok := err.(*lua.ApiError); ok {
			obj = aerr.Object
			if aerr.Type == lua.ApiErrorPanic {
				ls.broken = true
			}
		}
		if t, ok := obj.(*lua.LTable); ok {
			switch e := t.RawGetString("err").(type) {
			case lua.LString, lua.LNumber:
				obj = e
			}
		}
		L.SetTop(0)
		L.Push(lua.LFalse)
		L.Push(obj)
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

// luaToString is tostring for the values error messages show.
func luaToString(v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return luaNumberToString(float64(x))
	case lua.LBool:
		if x {
			return "true"
		}
		return "false"
	case *lua.LNilType:
		return "nil"
	}
	return fmt.Sprintf("%s: %p", luaTypeName(v), v)
}

// luaTypeName is Lua 5.1's name for a value's type.
func luaTypeName(v lua.LValue) string {
	switch v.Type() {
	case lua.LTNil:
		return "nil"
	case lua.LTBool:
		return "boolean"
	case lua.LTNumber:
		return "number"
	case lua.LTString:
		return "string"
	case lua.LTTable:
		return "table"
	case lua.LTFunction:
		return "function"
	case lua.LTThread:
		return "thread"
	}
	return "userdata"
}

// rand48 is Redis's redisLrand48/redisSrand48 (POSIX lrand48 arithmetic).
// Redis 7.0 keeps one generator for the whole process and does not reseed
// it per script: the sequence continues from call to call and starts from
// the unseeded state at startup. kvd keeps one per server.
type rand48 struct {
	mu sync.Mutex
	x  uint64 // 48-bit state
}

const (
	rand48Mask    = 1<<48 - 1
	rand48Initial = 0x1234ABCD330E
	rand48Max     = math.MaxInt32 // REDIS_LRAND48_MAX
)

func newRand48() *rand48 { return &rand48{x: rand48Initial} }

func (r *rand48) seed(v int32) {
	r.mu.Lock()
	r.x = (uint64(uint32(v))<<16 | 0x330E) & rand48Mask
	r.mu.Unlock()
}

func (r *rand48) next() int32 {
	r.mu.Lock()
	r.x = (0x5DEECE66D*r.x + 0xB) & rand48Mask
	v := int32(r.x >> 17)
	r.mu.Unlock()
	return v
}

// mathRandom is Redis's redis_math_random: Lua 5.1's math.random over
// rand48.
func (ls *luaState) mathRandom(L *lua.LState) int {
	r := float64(ls.eng.rand.next()%rand48Max) / float64(rand48Max)
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(r))
	case 1:
		u := luaCheckInt(L, 1, "random")
		if u < 1 {
			luaLibArgError(L, 1, "random", "interval is empty")
		}
		L.Push(lua.LNumber(math.Floor(r*float64(u)) + 1))
	case 2:
		l := luaCheckInt(L, 1, "random")
		u := luaCheckInt(L, 2, "random")
		if l > u {
			luaLibArgError(L, 2, "random", "interval is empty")
		}
		L.Push(lua.LNumber(math.Floor(r*float64(u-l+1)) + float64(l)))
	default:
		luaLibError(L, "wrong number of arguments")
	}
	return 1
}

func (ls *luaState) mathRandomSeed(L *lua.LState) int {
	ls.eng.rand.seed(luaCheckInt(L, 1, "randomseed"))
	return 0
}

// luaCheckInt is luaL_checkint: a number truncated to a C int.
func luaCheckInt(L *lua.LState, idx int, fname string) int32 {
	return int32(luaCInt64(luaLibCheckNumber(L, idx, fname)))
}
