package server

import (
	"math"
	"sort"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/kvd/kvd/protocol"
)

// luaDump renders a converted value compactly so that tests can compare
// structure: tables as {k=v,...} with sorted keys.
func luaDump(v lua.LValue) string {
	switch x := v.(type) {
	case *lua.LTable:
		var keys []string
		vals := map[string]string{}
		x.ForEach(func(k, v lua.LValue) {
			ks := luaDump(k)
			keys = append(keys, ks)
			vals[ks] = luaDump(v)
		})
		sortStrings(keys)
		s := "{"
		for i, k := range keys {
			if i > 0 {
				s += ","
			}
			s += k + "=" + vals[k]
		}
		return s + "}"
	case lua.LString:
		return "'" + string(x) + "'"
	case lua.LNumber:
		return luaNumberToString(float64(x))
	}
	return v.String()
}

func sortStrings(s []string) { sort.Strings(s) }

func TestRespToLua(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	cases := []struct{ resp, want string }{
		{":42\r\n", "42"},
		{":-7\r\n", "-7"},
		{"$3\r\nabc\r\n", "'abc'"},
		{"$0\r\n\r\n", "''"},
		{"$-1\r\n", "false"},
		{"*-1\r\n", "false"},
		{"*0\r\n", "{}"},
		{"*3\r\n:1\r\n$1\r\na\r\n*1\r\n:2\r\n", "{1=1,2='a',3={1=2}}"},
		{"+OK\r\n", "{'ok'='OK'}"},
		{"-ERR bad thing\r\n", "{'err'='ERR bad thing','ignore_error_stats_update'=true}"},
		{"-NOSCRIPT No matching script\r\n", "{'err'='NOSCRIPT No matching script','ignore_error_stats_update'=true}"},
		{"-WEIRD\r\n", "{'err'='ERR WEIRD','ignore_error_stats_update'=true}"},
		// RESP3, as commands reply after redis.setresp(3).
		{"%1\r\n$1\r\nf\r\n$1\r\nv\r\n", "{'map'={'f'='v'}}"},
		{"~2\r\n$1\r\na\r\n$1\r\nb\r\n", "{'set'={'a'=true,'b'=true}}"},
		{",1.5\r\n", "{'double'=1.5}"},
		{",inf\r\n", "{'double'=inf}"},
		{",-inf\r\n", "{'double'=-inf}"},
		{"#t\r\n", "true"},
		{"#f\r\n", "false"},
		{"_\r\n", "nil"},
		{"(12345678901234567890\r\n", "{'big_number'='12345678901234567890'}"},
		{"=9\r\ntxt:hello\r\n", "{'verbatim_string'={'format'='txt','string'='hello'}}"},
		{"|1\r\n+key\r\n:1\r\n:5\r\n", "5"},
		{"*2\r\n_\r\n:1\r\n", "{2=1}"},
	}
	for _, tc := range cases {
		v, rest := respToLua(L, []byte(tc.resp))
		if got := luaDump(v); got != tc.want || len(rest) != 0 {
			t.Errorf("respToLua(%q) = %s (rest %q), want %s", tc.resp, got, rest, tc.want)
		}
	}
}

func TestLuaToResp(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	eval := func(src string) lua.LValue {
		if err := L.DoString("return " + src); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		v := L.Get(-1)
		L.Pop(1)
		return v
	}
	cases := []struct {
		lua        string
		scriptResp int
		resp2      string
		resp3      string
	}{
		{"42", 2, ":42\r\n", ":42\r\n"},
		{"3.99", 2, ":3\r\n", ":3\r\n"},
		{"-3.7", 2, ":-3\r\n", ":-3\r\n"},
		{"1e30", 2, ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"},
		{"0/0", 2, ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"},
		{"'abc'", 2, "$3\r\nabc\r\n", "$3\r\nabc\r\n"},
		{"true", 2, ":1\r\n", ":1\r\n"},
		{"false", 2, "$-1\r\n", "_\r\n"},
		{"nil", 2, "$-1\r\n", "_\r\n"},
		{"true", 3, ":1\r\n", "#t\r\n"},
		{"false", 3, ":0\r\n", "#f\r\n"},
		{"{1, 2, nil, 4}", 2, "*2\r\n:1\r\n:2\r\n", "*2\r\n:1\r\n:2\r\n"},
		{"{1, false, 'x'}", 2, "*3\r\n:1\r\n$-1\r\n$1\r\nx\r\n", "*3\r\n:1\r\n_\r\n$1\r\nx\r\n"},
		{"{a = 1}", 2, "*0\r\n", "*0\r\n"},
		{"{ok = 'fine'}", 2, "+fine\r\n", "+fine\r\n"},
		{"{ok = 'a\\r\\nb'}", 2, "+a  b\r\n", "+a  b\r\n"},
		{"{err = 'ERR bad'}", 2, "-ERR bad\r\n", "-ERR bad\r\n"},
		{"{err = 'x\\r\\n'}", 2, "-x\r\n", "-x\r\n"},
		{"{err = ''}", 2, "-\r\n", "-\r\n"},
		{"{err = 1}", 2, "*0\r\n", "*0\r\n"},
		{"{double = 1.5}", 2, "$3\r\n1.5\r\n", ",1.5\r\n"},
		{"{double = 1/0}", 2, "$3\r\ninf\r\n", ",inf\r\n"},
		{"{map = {a = 1}}", 2, "*2\r\n$1\r\na\r\n:1\r\n", "%1\r\n$1\r\na\r\n:1\r\n"},
		{"{set = {a = true}}", 2, "*1\r\n$1\r\na\r\n", "~1\r\n$1\r\na\r\n"},
		{"{big_number = '123'}", 2, "$3\r\n123\r\n", "(123\r\n"},
		{"{verbatim_string = {format = 'txt', string = 'hi'}}", 2, "$2\r\nhi\r\n", "=6\r\ntxt:hi\r\n"},
		{"{1, {err = 'E x'}, {ok = 'y'}}", 2, "*3\r\n:1\r\n-E x\r\n+y\r\n", "*3\r\n:1\r\n-E x\r\n+y\r\n"},
		{"function() end", 2, "$-1\r\n", "_\r\n"},
	}
	for _, tc := range cases {
		v := eval(tc.lua)
		for proto, want := range map[int]string{2: tc.resp2, 3: tc.resp3} {
			w := protocol.NewWriter(proto)
			luaToResp(w, v, tc.scriptResp, luaReplyBaseSlots)
			if got := string(w.Bytes()); got != want {
				t.Errorf("%s (setresp %d) in RESP%d = %q, want %q", tc.lua, tc.scriptResp, proto, got, want)
			}
		}
	}
}

// A table that contains itself converts as deep as Redis's Lua stack allows
// (7995 levels for an EVAL result) and then reports the limit, instead of
// recursing without end.
func TestLuaToRespStackLimit(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	self := L.NewTable()
	self.RawSetInt(1, self)
	w := protocol.NewWriter(2)
	luaToResp(w, self, 2, luaReplyBaseSlots)
	out := string(w.Bytes())
	const header = "*1\r\n"
	n := 0
	for len(out) >= len(header) && out[:len(header)] == header {
		out = out[len(header):]
		n++
	}
	if n != 7995 || out != "-ERR reached lua stack limit\r\n" {
		t.Fatalf("nesting %d, then %q", n, out)
	}
}

func TestLuaArgString(t *testing.T) {
	for v, want := range map[lua.LValue]string{
		lua.LString("x"):         "x",
		lua.LNumber(1.5):         "1.5",
		lua.LNumber(0.1):         "0.10000000000000001",
		lua.LNumber(1e20):        "1e+20",
		lua.LNumber(12345678901): "12345678901",
		lua.LNumber(math.Inf(1)): "inf",
	} {
		if got, ok := luaArgString(v); !ok || string(got) != want {
			t.Errorf("luaArgString(%v) = %q, %v; want %q", v, got, ok, want)
		}
	}
	for _, v := range []lua.LValue{lua.LTrue, lua.LNil, &lua.LTable{}} {
		if _, ok := luaArgString(v); ok {
			t.Errorf("luaArgString(%v) accepted", v)
		}
	}
}

func TestLuaErrorTable(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	for in, want := range map[string]string{
		"-ERR value is bad":    "ERR value is bad",
		"-WRONGTYPE Op":        "WRONGTYPE Op",
		"-FOO":                 "ERR FOO",
		"plain message":        "ERR plain message",
		"-ERR trailing\r\n":    "ERR trailing",
		"-CODE a\r\nb\r\n\r\n": "CODE a\r\nb",
	} {
		if got := luaErrorTable(L, in).RawGetString("err").String(); got != want {
			t.Errorf("luaErrorTable(%q) = %q, want %q", in, got, want)
		}
	}
}

// A compiled script does not ask for Lua 5.0's "arg" table, which
// gopher-lua would otherwise build (and a chunk could never reach) on
// every call.
func TestCompiledScriptBuildsNoArgTable(t *testing.T) {
	proto, msg := compileLua("return redis.call('GET', KEYS[1])", luaScriptChunk)
	if msg != "" {
		t.Fatal(msg)
	}
	if proto.IsVarArg&lua.VarArgNeedsArg != 0 {
		t.Fatal("the script's chunk still builds an arg table per call")
	}
}
