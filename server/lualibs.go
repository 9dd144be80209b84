package server

// Lua libraries that Redis bundles with its scripting engine (cjson,
// cmsgpack, bit and struct), re-implemented in Go for gopher-lua.
//
// The behaviour follows the C versions shipped with Redis 7.0
// (deps/lua/src/lua_cjson.c, lua_cmsgpack.c, lua_bit.c and lua_struct.c),
// including their error messages and the quirks scripts may observe. This
// file holds the registration entry point and the helpers shared by the
// four libraries: C-Lua-compatible argument checking, number/string
// conversions and error raising.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// openLuaLibs registers the globals cjson, cmsgpack, bit and struct in L,
// as Redis does when it creates its scripting Lua state.
func openLuaLibs(L *lua.LState) {
	// cjson.null is a NULL lightuserdata in C. gopher-lua has no light
	// userdata, so one userdata value per state plays that role: JSON null
	// decodes to it and it encodes back to null.
	null := L.NewUserData()
	L.SetGlobal("cjson", newLuaCjsonModule(L, null))
	L.SetGlobal("cmsgpack", newLuaCmsgpackModule(L))
	L.SetGlobal("bit", newLuaBitModule(L))
	L.SetGlobal("struct", newLuaStructModule(L))
}

// luaCMaxStack mirrors LUAI_MAXCSTACK of Lua 5.1: the number of stack slots
// a single C function may use. The C libraries fail with "stack overflow"
// style errors when they would exceed it; the Go versions count the slots
// the C code would have used so that they fail at the same place (and so
// that hostile input cannot drive unbounded Go recursion).
const luaCMaxStack = 8000

// luaLibWhere returns the "source:line: " prefix luaL_error adds: the
// position of the Lua function that called the running Go function, or ""
// when the caller is not a Lua function (for instance pcall).
func luaLibWhere(L *lua.LState) string {
	dbg, ok := L.GetStack(1)
	if !ok {
		return ""
	}
	if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
		return ""
	}
	if dbg.What == "G" || dbg.CurrentLine <= 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d: ", dbg.Source, dbg.CurrentLine)
}

// luaLibError raises a Lua error like luaL_error does.
func luaLibError(L *lua.LState, format string, args ...interface{}) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	L.Error(lua.LString(luaLibWhere(L)+msg), 0)
}

// luaLibFuncName is the name C Lua reports for the running function in
// argument errors: the name it was called by ("tobit" for bit.tobit(...),
// "f" for a local alias f(...)), or "?" when that cannot be known (called
// from a Go function such as pcall, or through a computed key).
func luaLibFuncName(L *lua.LState, fallback string) string {
	caller, ok := L.GetStack(1)
	if !ok {
		return "?"
	}
	if _, err := L.GetInfo("S", caller, lua.LNil); err != nil || caller.What == "G" {
		return "?"
	}
	self, ok := L.GetStack(0)
	if !ok {
		return fallback
	}
	if _, err := L.GetInfo("n", self, lua.LNil); err != nil {
		return fallback
	}
	switch name := self.Name; {
	case name == "":
		return fallback
	case name == "(anonymous)" || name == "main chunk" || name == "corountine" || strings.HasPrefix(name, "<"):
		return "?"
	default:
		return name
	}
}

// luaLibArgError raises the error luaL_argerror would.
func luaLibArgError(L *lua.LState, narg int, fname, extramsg string) {
	luaLibError(L, "bad argument #%d to '%s' (%s)", narg, luaLibFuncName(L, fname), extramsg)
}

// luaLibTypeName is lua_typename(lua_type(v)) as C Lua 5.1 spells it.
func luaLibTypeName(L *lua.LState, idx int) string {
	if idx > L.GetTop() {
		return "no value"
	}
	return luaTypeName(L.Get(idx))
}

// luaLibTypeError raises the error luaL_typerror would.
func luaLibTypeError(L *lua.LState, narg int, fname, tname string) {
	luaLibArgError(L, narg, fname, fmt.Sprintf("%s expected, got %s", tname, luaLibTypeName(L, narg)))
}

// luaLibToNumber is lua_tonumber: numbers, and strings that Lua 5.1 would
// convert to a number.
func luaLibToNumber(v lua.LValue) (float64, bool) {
	switch x := v.(type) {
	case lua.LNumber:
		return float64(x), true
	case lua.LString:
		return luaStr2Number(string(x))
	}
	return 0, false
}

// luaLibCheckNumber is luaL_checknumber.
func luaLibCheckNumber(L *lua.LState, idx int, fname string) float64 {
	if idx <= L.GetTop() {
		if n, ok := luaLibToNumber(L.Get(idx)); ok {
			return n
		}
	}
	luaLibTypeError(L, idx, fname, "number")
	return 0
}

// luaLibCheckInteger is luaL_checkinteger (lua_Integer is 64 bits).
func luaLibCheckInteger(L *lua.LState, idx int, fname string) int64 {
	return luaCInt64(luaLibCheckNumber(L, idx, fname))
}

// luaLibOptInteger is luaL_optinteger.
func luaLibOptInteger(L *lua.LState, idx int, fname string, def int64) int64 {
	if idx > L.GetTop() || L.Get(idx) == lua.LNil {
		return def
	}
	return luaLibCheckInteger(L, idx, fname)
}

// luaLibCheckLString is luaL_checklstring: strings, and numbers converted
// the way Lua 5.1 converts them ("%.14g").
func luaLibCheckLString(L *lua.LState, idx int, fname string) string {
	if idx <= L.GetTop() {
		switch x := L.Get(idx).(type) {
		case lua.LString:
			return string(x)
		case lua.LNumber:
			return luaNumberToString(float64(x))
		}
	}
	luaLibTypeError(L, idx, fname, "string")
	return ""
}

// luaNumberToString formats a number as Lua 5.1 does (LUA_NUMBER_FMT is
// "%.14g", printed by glibc).
func luaNumberToString(f float64) string {
	return luaFormatG(f, 14)
}

// luaFormatG is C's printf("%.<prec>g", f) as glibc prints it.
func luaFormatG(f float64, prec int) string {
	switch {
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if prec == 0 {
		prec = 1
	}
	// strconv's 'g' format follows C's %g rules (exponent when it is below
	// -4 or at least the precision, trailing zeros removed, two-digit
	// exponent minimum).
	return strconv.FormatFloat(f, 'g', prec, 64)
}

// luaCInt64 converts a double to int64 as a C cast does on x86-64
// (out-of-range values and NaN give INT64_MIN).
func luaCInt64(f float64) int64 {
	if f != f || f >= 9223372036854775808.0 || f < -9223372036854775808.0 {
		return math.MinInt64
	}
	return int64(f)
}

// luaCInt32 converts a double to int as a C cast does on x86-64.
func luaCInt32(f float64) int32 {
	if f != f || f >= 2147483648.0 || f < -2147483648.0 {
		return math.MinInt32
	}
	return int32(f)
}

// luaCUint64 converts a double to uint64 as gcc's cast does on x86-64.
func luaCUint64(f float64) uint64 {
	if f < 9223372036854775808.0 { // false for NaN
		return uint64(luaCInt64(f))
	}
	if f != f {
		return 1 << 63
	}
	return uint64(luaCInt64(f-9223372036854775808.0)) ^ (1 << 63)
}

func luaIsSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

func luaIsDigit(c byte) bool { return c >= '0' && c <= '9' }

// luaExponent reads an exponent at s[j:] introduced by marker ('e', or 'p'
// for hex floats; either case): it returns the signed digits and the end
// of the exponent, or end == j when there is no complete exponent there.
func luaExponent(s string, j int, marker byte) (exp string, end int) {
	if j >= len(s) || s[j]|0x20 != marker {
		return "", j
	}
	k := j + 1
	sign := ""
	if k < len(s) && (s[k] == '+' || s[k] == '-') {
		sign = s[k : k+1]
		k++
	}
	start := k
	for k < len(s) && luaIsDigit(s[k]) {
		k++
	}
	if k == start {
		return "", j
	}
	return sign + s[start:k], k
}

func luaIsHexDigit(c byte) bool {
	return luaIsDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

// luaStr2Number is luaO_str2d of Lua 5.1: strtod of the whole string,
// allowing surrounding whitespace.
func luaStr2Number(s string) (float64, bool) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i] // C string
	}
	v, n := cStrtod(s)
	if n == 0 {
		return 0, false
	}
	// luaO_str2d retries with strtoul when strtod stops at an 'x'; with
	// glibc's strtod (which reads hex itself) that retry can never reach
	// the end of the string, so such strings are not numbers.
	for _, c := range []byte(s[n:]) {
		if !luaIsSpace(c) {
			return 0, false
		}
	}
	return v, true
}

// cStrtod parses the longest prefix of s that glibc's strtod accepts in the
// C locale and returns its value and length (0 when nothing was parsed).
func cStrtod(s string) (float64, int) {
	i := 0
	for i < len(s) && luaIsSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	sign := func(f float64) float64 {
		if neg {
			return -f
		}
		return f
	}
	hasPrefixFold := func(at int, p string) bool {
		return len(s)-at >= len(p) && strings.EqualFold(s[at:at+len(p)], p)
	}
	switch {
	case hasPrefixFold(i, "inf"):
		if hasPrefixFold(i, "infinity") {
			return sign(math.Inf(1)), i + 8
		}
		return sign(math.Inf(1)), i + 3
	case hasPrefixFold(i, "nan"):
		j := i + 3
		if j < len(s) && s[j] == '(' {
			k := j + 1
			for k < len(s) && (luaIsDigit(s[k]) || (s[k]|0x20 >= 'a' && s[k]|0x20 <= 'z') || s[k] == '_') {
				k++
			}
			if k < len(s) && s[k] == ')' {
				j = k + 1
			}
		}
		// glibc returns the default quiet NaN (no payload bits), which
		// matters to code that looks at the bits (bit.tobit).
		bits := uint64(0x7FF8000000000000)
		if neg {
			bits |= 1 << 63
		}
		return math.Float64frombits(bits), j
	}
	// Hexadecimal: 0x followed by at least one hex digit (possibly after
	// the point).
	if i+1 < len(s) && s[i] == '0' && s[i+1]|0x20 == 'x' {
		j := i + 2
		mant := strings.Builder{}
		digits := 0
		for j < len(s) && luaIsHexDigit(s[j]) {
			mant.WriteByte(s[j])
			j++
			digits++
		}
		if j < len(s) && s[j] == '.' {
			k := j + 1
			frac := strings.Builder{}
			for k < len(s) && luaIsHexDigit(s[k]) {
				frac.WriteByte(s[k])
				k++
			}
			if digits > 0 || frac.Len() > 0 {
				j = k
				digits += frac.Len()
				if frac.Len() > 0 {
					mant.WriteByte('.')
					mant.WriteString(frac.String())
				}
			}
		}
		if digits > 0 {
			exp := "0"
			if e, end := luaExponent(s, j, 'p'); end > j {
				exp, j = e, end
			}
			m := mant.String()
			if m[0] == '.' {
				m = "0" + m
			}
			v, _ := strconv.ParseFloat("0x"+m+"p"+exp, 64)
			return sign(v), j
		}
		// "0x" without digits: strtod reads just the "0".
		return sign(0), i + 1
	}
	j := i
	digits := 0
	for j < len(s) && luaIsDigit(s[j]) {
		j++
		digits++
	}
	if j < len(s) && s[j] == '.' {
		k := j + 1
		for k < len(s) && luaIsDigit(s[k]) {
			k++
			digits++
		}
		if digits > 0 {
			j = k
		}
	}
	if digits == 0 {
		return 0, 0
	}
	mantEnd := j
	expPart := ""
	if e, end := luaExponent(s, j, 'e'); end > j {
		expPart, j = "e"+e, end
	}
	v, _ := strconv.ParseFloat(s[i:mantEnd]+expPart, 64)
	return sign(v), j
}

// luaLibSetFuncs fills t with Go functions, like luaL_register.
func luaLibSetFuncs(L *lua.LState, t *lua.LTable, funcs map[string]lua.LGFunction) {
	for name, fn := range funcs {
		t.RawSetString(name, L.NewFunction(fn))
	}
}
