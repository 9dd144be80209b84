package server

import (
	"bytes"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/kvd/kvd/protocol"
)

// Conversions between RESP replies and Lua values, as Redis 7.0's
// script_lua.c does them.
//
// RESP -> Lua (what redis.call returns): integer -> number, bulk -> string,
// null bulk or null array -> false, array -> table, status -> {ok=s},
// error -> {err=s}; with redis.setresp(3) also map -> {map={...}},
// set -> {set={member=true}}, double -> {double=n}, boolean -> true/false,
// null -> nil, big number -> {big_number=s}, verbatim string ->
// {verbatim_string={format=f, string=s}}.
//
// Lua -> RESP (what a script returns): number -> integer (truncated as a C
// cast does), string -> bulk, table -> array up to the first nil, or the
// reply a single-field table stands for ({err=}, {ok=}, {double=},
// {big_number=}, {verbatim_string=}, {map=}, {set=}), true -> 1 and false
// -> null (or RESP3 booleans after redis.setresp(3)), anything else -> null.

// luaStackLimit mirrors the Lua C stack limit (LUAI_MAXCSTACK) that bounds
// how deep Redis converts a reply: it fails with "reached lua stack limit"
// at the same nesting depth, and a table containing itself cannot drive an
// unbounded Go recursion.
const luaStackLimit = 8000

// luaReplyBaseSlots is how many Lua stack slots are in use when Redis
// starts converting a script's result (the error handler and the result).
const luaReplyBaseSlots = 2

// luaErrorTable builds the error table luaPushErrorBuff builds: "-CODE msg"
// keeps its code, anything else gets "ERR"; trailing CR/LF is trimmed.
func luaErrorTable(L *lua.LState, text string) *lua.LTable {
	code, msg := "ERR", text
	if strings.HasPrefix(text, "-") {
		if sp := strings.IndexByte(text, ' '); sp < 0 {
			msg = text[1:]
		} else {
			code, msg = text[1:sp], text[sp+1:]
		}
	}
	msg = strings.Trim(msg, "\r\n")
	t := L.CreateTable(0, 2)
	t.RawSetString("err", lua.LString(code+" "+msg))
	return t
}

// luaCommandErrorTable is the table redis.pcall returns (and redis.call
// raises) for an error reply or a refused command. Redis marks it so that
// the error is not counted twice in the error statistics; scripts can see
// the field.
func luaCommandErrorTable(L *lua.LState, text string) *lua.LTable {
	t := luaErrorTable(L, text)
	t.RawSetString("ignore_error_stats_update", lua.LTrue)
	return t
}

// respToLua converts the first reply in b into a Lua value and returns the
// rest of b. The replies come from kvd's own writer, so they are well formed;
// a truncated buffer converts to nil rather than failing.
func respToLua(L *lua.LState, b []byte) (lua.LValue, []byte) {
	if len(b) < 3 {
		return lua.LNil, nil
	}
	kind := b[0]
	end := bytes.Index(b, []byte("\r\n"))
	if end < 0 {
		return lua.LNil, nil
	}
	line, rest := b[1:end], b[end+2:]
	switch kind {
	case '+':
		t := L.CreateTable(0, 1)
		t.RawSetString("ok", lua.LString(line))
		return t, rest
	case '-':
		return luaCommandErrorTable(L, "-"+string(line)), rest
	case ':':
		n, _ := strconv.ParseInt(string(line), 10, 64)
		return lua.LNumber(n), rest
	case '$', '=':
		n, _ := strconv.Atoi(string(line))
		if n < 0 {
			return lua.LFalse, rest
		}
		if len(rest) < n+2 {
			return lua.LNil, nil
		}
		data := rest[:n]
		rest = rest[n+2:]
		if kind == '$' {
			return lua.LString(data), rest
		}
		// Verbatim string: "fmt:payload".
		v := L.CreateTable(0, 2)
		if len(data) >= 4 {
			v.RawSetString("string", lua.LString(data[4:]))
			v.RawSetString("format", lua.LString(data[:3]))
		}
		t := L.CreateTable(0, 1)
		t.RawSetString("verbatim_string", v)
		return t, rest
	case '*':
		n, _ := strconv.Atoi(string(line))
		if n < 0 {
			return lua.LFalse, rest
		}
		t := L.CreateTable(n, 0)
		for i := 1; i <= n; i++ {
			var v lua.LValue
			v, rest = respToLua(L, rest)
			t.RawSetInt(i, v)
		}
		return t, rest
	case '%':
		n, _ := strconv.Atoi(string(line))
		m := L.CreateTable(0, n)
		for i := 0; i < n; i++ {
			var k, v lua.LValue
			k, rest = respToLua(L, rest)
			v, rest = respToLua(L, rest)
			if k != lua.LNil {
				m.RawSet(k, v)
			}
		}
		t := L.CreateTable(0, 1)
		t.RawSetString("map", m)
		return t, rest
	case '~':
		n, _ := strconv.Atoi(string(line))
		s := L.CreateTable(0, n)
		for i := 0; i < n; i++ {
			var k lua.LValue
			k, rest = respToLua(L, rest)
			if k != lua.LNil {
				s.RawSet(k, lua.LTrue)
			}
		}
		t := L.CreateTable(0, 1)
		t.RawSetString("set", s)
		return t, rest
	case '_':
		return lua.LNil, rest
	case '#':
		return lua.LBool(len(line) > 0 && line[0] == 't'), rest
	case ',':
		f, err := strconv.ParseFloat(string(line), 64)
		if err != nil {
			f, _ = luaStr2Number(string(line))
		}
		t := L.CreateTable(0, 1)
		t.RawSetString("double", lua.LNumber(f))
		return t, rest
	case '(':
		t := L.CreateTable(0, 1)
		t.RawSetString("big_number", lua.LString(line))
		return t, rest
	case '|':
		// An attribute annotates the reply that follows; scripts never see
		// it.
		n, _ := strconv.Atoi(string(line))
		for i := 0; i < 2*n; i++ {
			_, rest = respToLua(nil, rest)
		}
		return respToLua(L, rest)
	}
	return lua.LNil, nil
}

// luaToResp writes v to w as Redis converts a script's result. scriptResp is
// the protocol the script selected with redis.setresp: it decides how
// booleans convert. slots is the Lua stack use Redis would have at this
// depth (luaReplyBaseSlots at the top).
func luaToResp(w *protocol.Writer, v lua.LValue, scriptResp, slots int) {
	if slots+4 > luaStackLimit {
		w.Error("ERR reached lua stack limit")
		return
	}
	switch x := v.(type) {
	case lua.LString:
		w.BulkString(string(x))
	case lua.LBool:
		if scriptResp == 2 {
			if x {
				w.Int(1)
			} else {
				w.Null()
			}
			return
		}
		w.Bool(bool(x))
	case lua.LNumber:
		w.Int(luaCInt64(float64(x)))
	case *lua.LTable:
		luaTableToResp(w, x, scriptResp, slots)
	default:
		w.Null()
	}
}

func luaTableToResp(w *protocol.Writer, t *lua.LTable, scriptResp, slots int) {
	if e, ok := t.RawGetString("err").(lua.LString); ok {
		// Redis trims trailing CR/LF; the writer turns any other into
		// spaces.
		w.Error(strings.TrimRight(string(e), "\r\n"))
		return
	}
	if s, ok := t.RawGetString("ok").(lua.LString); ok {
		w.Status(oneLine(string(s)))
		return
	}
	if d, ok := t.RawGetString("double").(lua.LNumber); ok {
		w.Double(float64(d))
		return
	}
	if s, ok := t.RawGetString("big_number").(lua.LString); ok {
		if w.Proto() >= 3 {
			w.Raw([]byte("(" + oneLine(string(s)) + "\r\n"))
		} else {
			w.BulkString(oneLine(string(s)))
		}
		return
	}
	if v, ok := t.RawGetString("verbatim_string").(*lua.LTable); ok {
		format, fok := v.RawGetString("format").(lua.LString)
		str, sok := v.RawGetString("string").(lua.LString)
		if fok && sok {
			f := string(format) + "\x00\x00\x00"
			w.Verbatim(f[:3], string(str))
			return
		}
	}
	if m, ok := t.RawGetString("map").(*lua.LTable); ok {
		n := 0
		m.ForEach(func(lua.LValue, lua.LValue) { n++ })
		w.Map(n)
		m.ForEach(func(k, v lua.LValue) {
			luaToResp(w, k, scriptResp, slots+4)
			luaToResp(w, v, scriptResp, slots+3)
		})
		return
	}
	if s, ok := t.RawGetString("set").(*lua.LTable); ok {
		n := 0
		s.ForEach(func(lua.LValue, lua.LValue) { n++ })
		w.Set(n)
		s.ForEach(func(k, _ lua.LValue) { luaToResp(w, k, scriptResp, slots+3) })
		return
	}
	n := 0
	for t.RawGetInt(n+1) != lua.LNil {
		n++
	}
	w.Array(n)
	for i := 1; i <= n; i++ {
		luaToResp(w, t.RawGetInt(i), scriptResp, slots+1)
	}
}

// oneLine replaces CR and LF as Redis's sdsmapchars does for status
// replies, so a reply can never be split.
func oneLine(s string) string {
	if strings.IndexAny(s, "\r\n") < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// luaArgString converts one argument of redis.call to the bytes of a
// command argument: strings as they are, numbers as "%.17g" (Redis does not
// use Lua's lossy "%.14g" here). ok is false for any other type.
func luaArgString(v lua.LValue) ([]byte, bool) {
	switch x := v.(type) {
	case lua.LString:
		return []byte(x), true
	case lua.LNumber:
		return []byte(luaFormatG(float64(x), 17)), true
	}
	return nil, false
}
