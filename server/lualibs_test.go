package server

import (
	"math/rand"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// luaLibTestPrelude defines, on one line, helpers that render any Lua
// value(s) as a canonical string: D(v) dumps one value (tables with sorted
// keys, binary strings in hex, cjson.null as null), P(pcall(f)) dumps all
// results of f or "ERR:<message>". The expected strings in the tests were
// obtained by running the very same code in redis-server 7.0.15
// (EVAL "<prelude> return P(pcall(function() <body> end))" 0).
const luaLibTestPrelude = `local function HX(s) return (string.gsub(s,'.',function(c) return string.format('%02x',string.byte(c)) end)) end ` +
	`local D D=function(v) local t=type(v) if t=='nil' then return 'nil' elseif t=='boolean' then return tostring(v) elseif t=='number' then if v~=v then return 'nan' elseif v==1/0 then return 'inf' elseif v==-1/0 then return '-inf' elseif v==0 and 1/v<0 then return '-0' elseif v==math.floor(v) and math.abs(v)<2^53 then return string.format('%d',v) else return string.format('%.17g',v) end elseif t=='string' then if string.find(v,'[^%w%p ]') then return 'x:'..HX(v) else return '"'..v..'"' end elseif t=='table' then local ks={} for k,x in pairs(v) do ks[#ks+1]=D(k)..'='..D(x) end table.sort(ks) return '{'..table.concat(ks,',')..'}' elseif t=='userdata' then if v==cjson.null then return 'null' end return 'userdata' else return t end end ` +
	`local function R(...) local o={} for i=1,select('#',...) do o[i]=D((select(i,...))) end return table.concat(o,' | ') end ` +
	`local function P(ok,...) if ok then return R(...) else return 'ERR:'..tostring((...)) end end `

// runLuaLibCase runs body (the inside of a function) in a fresh state with
// the Redis libraries loaded and returns its dumped results.
func runLuaLibCase(t *testing.T, body string) string {
	t.Helper()
	// A growable registry, so that cases returning thousands of values (as
	// Redis' Lua allows) test the libraries rather than gopher-lua's default
	// stack size.
	L := lua.NewState(lua.Options{RegistrySize: 256 * 20, RegistryMaxSize: 256 * 400})
	defer L.Close()
	openLuaLibs(L)
	src := luaLibTestPrelude + "return P(pcall(function() " + body + " end))"
	fn, err := L.Load(strings.NewReader(src), "user_script")
	if err != nil {
		t.Fatalf("compile %q: %v", body, err)
	}
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		return "LUAERR:" + err.Error()
	}
	return L.ToString(-1)
}

type luaLibCase struct {
	body string
	want string
}

func runLuaLibCases(t *testing.T, cases []luaLibCase) {
	t.Helper()
	for _, c := range cases {
		if got := runLuaLibCase(t, c.body); got != c.want {
			t.Errorf("%s\n  got:  %s\n  want: %s", c.body, got, c.want)
		}
	}
}

// TestLuaLibRandomInput feeds random bytes to every decoder and random
// formats to struct: each call must return or raise a Lua error, never
// panic in Go.
func TestLuaLibRandomInput(t *testing.T) {
	L := lua.NewState(lua.Options{RegistrySize: 256 * 20, RegistryMaxSize: 256 * 400})
	defer L.Close()
	openLuaLibs(L)
	call := func(lib, fn string, args ...lua.LValue) {
		f := L.GetGlobal(lib).(*lua.LTable).RawGetString(fn)
		_ = L.CallByParam(lua.P{Fn: f, NRet: lua.MultRet, Protect: true}, args...)
		L.SetTop(0)
	}
	rng := rand.New(rand.NewSource(1))
	randBytes := func(alphabet string, max int) lua.LString {
		b := make([]byte, rng.Intn(max))
		for i := range b {
			if alphabet == "" {
				b[i] = byte(rng.Intn(256))
			} else {
				b[i] = alphabet[rng.Intn(len(alphabet))]
			}
		}
		return lua.LString(b)
	}
	const jsonChars = "{}[],:\"\\/ntrfuel0123456789+-.eExXpPaAiINn \t\r\nbdu\x00\xff"
	const structChars = "<>!=bBhHlLTiIfdscx 0123458q"
	for i := 0; i < 3000; i++ {
		call("cjson", "decode", randBytes(jsonChars, 40))
		call("cjson", "decode", randBytes("", 40))
		call("cmsgpack", "unpack", randBytes("", 40))
		call("cmsgpack", "unpack_one", randBytes("", 20), lua.LNumber(rng.Intn(5)))
		call("cmsgpack", "unpack_limit", randBytes("", 20), lua.LNumber(rng.Intn(4)-1), lua.LNumber(rng.Intn(5)-1))
		call("struct", "unpack", randBytes(structChars, 12), randBytes("", 40), lua.LNumber(rng.Intn(6)-1))
		call("struct", "pack", randBytes(structChars, 12), lua.LNumber(rng.NormFloat64()*1e10), lua.LString("abc"), lua.LNumber(rng.Intn(300)-150))
		call("struct", "size", randBytes(structChars, 12))
		call("bit", "tohex", lua.LNumber(rng.NormFloat64()*1e12), lua.LNumber(rng.Intn(40)-20))
	}
}

// TestLuaLibBitTohexInt32Min: LuaBitOp negates the width, which overflows
// for INT32_MIN; Redis 7.0.15 crashes there, and later Redis versions
// (7.2.6, 7.4.1) clamp it, which is what this implementation does.
func TestLuaLibBitTohexInt32Min(t *testing.T) {
	runLuaLibCases(t, []luaLibCase{
		{"return bit.tohex(65535, -2147483648)", `"0000FFFF"`},
		{"return bit.tohex(65535, 2147483647)", `"0000ffff"`},
	})
}

// TestLuaLibConfigPersists: like in Redis, cjson settings belong to the Lua
// state and survive between calls, while cjson.new() tables have their own.
func TestLuaLibConfigPersists(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	openLuaLibs(L)
	if err := L.DoString(`cjson.encode_max_depth(1)`); err != nil {
		t.Fatal(err)
	}
	err := L.DoString(`return cjson.encode({{1}})`)
	if err == nil || !strings.Contains(err.Error(), "Cannot serialise, excessive nesting (2)") {
		t.Fatalf("got %v", err)
	}
	if err := L.DoString(`assert(cjson.new().encode({{1}}) == "[[1]]")`); err != nil {
		t.Fatal(err)
	}
	if err := L.DoString(`assert(cjson.decode("null") == cjson.null and cjson.new().null == cjson.null)`); err != nil {
		t.Fatal(err)
	}
}
