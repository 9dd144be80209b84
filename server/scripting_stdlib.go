package server

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Base and library functions whose gopher-lua versions behave differently
// from Lua 5.1's in ways scripts observe: error levels, tostring and
// tonumber of numbers, string.format, and table functions gopher-lua lacks.
//
// One difference remains: gopher-lua converts numbers to strings in
// concatenation ('x' .. 1/3) with Go's shortest form instead of "%.14g";
// integers below 10^14, the common case, come out the same.

// installStdlibOverrides puts the Lua 5.1 versions in place.
func (ls *luaState) installStdlibOverrides() {
	L, g := ls.L, ls.L.G.Global
	g.RawSetString("error", L.NewFunction(luaBaseError))
	g.RawSetString("tostring", L.NewFunction(luaBaseToString))
	g.RawSetString("tonumber", L.NewFunction(luaBaseToNumber))
	strlib := g.RawGetString("string").(*lua.LTable)
	strlib.RawSetString("format", L.NewFunction(luaStringFormat))
	tbl := g.RawGetString("table").(*lua.LTable)
	tbl.RawSetString("foreach", L.NewFunction(luaTableForeach))
	tbl.RawSetString("foreachi", L.NewFunction(luaTableForeachi))
	tbl.RawSetString("setn", L.NewFunction(func(L *lua.LState) int {
		luaLibError(L, "'setn' is obsolete")
		return 0
	}))
}

// luaBaseError is Lua 5.1's error(message [, level]): a string or number
// message gets the position of the function at that level, or none when
// that function is not a Lua function (gopher-lua skips Go functions).
func luaBaseError(L *lua.LState) int {
	level := 1
	if L.GetTop() >= 2 {
		level = int(luaCInt32(luaLibCheckNumber(L, 2, "error")))
	}
	v := L.Get(1)
	switch v.(type) {
	case lua.LString, lua.LNumber:
		if level > 0 {
			v = lua.LString(luaWhere(L, level) + luaToString(v))
		}
	}
	L.Error(v, 0)
	return 0
}

// luaBaseToString is tostring with Lua 5.1's number format ("%.14g");
// gopher-lua prints integral numbers in full and others in Go's shortest
// form.
func luaBaseToString(L *lua.LState) int {
	if L.GetTop() == 0 {
		luaLibArgError(L, 1, "tostring", "value expected")
	}
	v := L.Get(1)
	if n, ok := v.(lua.LNumber); ok {
		L.Push(lua.LString(luaNumberToString(float64(n))))
		return 1
	}
	L.Push(L.ToStringMeta(v))
	return 1
}

// luaTableForeach is Lua 5.1's table.foreach.
func luaTableForeach(L *lua.LState) int {
	t := L.CheckTable(1)
	f := L.CheckFunction(2)
	k, v := t.Next(lua.LNil)
	for k != lua.LNil {
		L.Push(f)
		L.Push(k)
		L.Push(v)
		L.Call(2, 1)
		if r := L.Get(-1); r != lua.LNil {
			return 1
		}
		L.Pop(1)
		k, v = t.Next(k)
	}
	return 0
}

// luaTableForeachi is Lua 5.1's table.foreachi.
func luaTableForeachi(L *lua.LState) int {
	t := L.CheckTable(1)
	f := L.CheckFunction(2)
	n := t.Len()
	for i := 1; i <= n; i++ {
		L.Push(f)
		L.Push(lua.LNumber(i))
		L.Push(t.RawGetInt(i))
		L.Call(2, 1)
		if r := L.Get(-1); r != lua.LNil {
			return 1
		}
		L.Pop(1)
	}
	return 0
}

// luaWhere is luaL_where: "source:line: " of the function at level (0 is
// the running Go function), or "" when it is not a Lua function.
func luaWhere(L *lua.LState, level int) string {
	dbg, ok := L.GetStack(level)
	if !ok {
		return ""
	}
	if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil || dbg.What == "G" || dbg.CurrentLine <= 0 {
		return ""
	}
	return dbg.Source + ":" + strconv.Itoa(dbg.CurrentLine) + ": "
}

// luaBaseToNumber is Lua 5.1's tonumber(e [, base]).
func luaBaseToNumber(L *lua.LState) int {
	base := 10
	if L.GetTop() >= 2 {
		base = int(luaCInt32(luaLibCheckNumber(L, 2, "tonumber")))
	}
	if base == 10 {
		if L.GetTop() == 0 {
			luaLibArgError(L, 1, "tonumber", "value expected")
		}
		if n, ok := luaLibToNumber(L.Get(1)); ok {
			L.Push(lua.LNumber(n))
			return 1
		}
		L.Push(lua.LNil)
		return 1
	}
	s := luaLibCheckLString(L, 1, "tonumber")
	if base < 2 || base > 36 {
		luaLibArgError(L, 2, "tonumber", "base out of range")
	}
	if n, ok := luaStrtoul(s, base); ok {
		L.Push(lua.LNumber(n))
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

// luaStrtoul is tonumber's use of strtoul: leading space, an optional sign,
// digits of the base, then nothing but space.
func luaStrtoul(s string, base int) (float64, bool) {
	i := 0
	for i < len(s) && luaIsSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 16 && i+1 < len(s) && s[i] == '0' && (s[i+1]|0x20) == 'x' {
		i += 2
	}
	start := i
	var n uint64
	for ; i < len(s); i++ {
		d := 99
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c|0x20 >= 'a' && c|0x20 <= 'z':
			d = int(c|0x20-'a') + 10
		}
		if d >= base {
			break
		}
		n = n*uint64(base) + uint64(d)
	}
	if i == start {
		return 0, false
	}
	for i < len(s) && luaIsSpace(s[i]) {
		i++
	}
	if i != len(s) {
		return 0, false
	}
	if neg {
		n = -n
	}
	return float64(n), true
}

// luaStringFormat is Lua 5.1's string.format, on top of C printf
// semantics (which Go's fmt shares for these verbs, except where noted).
func luaStringFormat(L *lua.LState) int {
	top := L.GetTop()
	format := luaLibCheckLString(L, 1, "format")
	arg := 1
	var b strings.Builder
	for i := 0; i < len(format); {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			i++
			continue
		}
		i++
		if i < len(format) && format[i] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		arg++
		if arg > top {
			luaLibArgError(L, arg, "format", "no value")
		}
		// scanformat: flags, up to two digits of width and of precision.
		p := i
		for p < len(format) && strings.IndexByte("-+ #0", format[p]) >= 0 {
			p++
		}
		if p-i >= len("-+ #0")+1 {
			luaLibError(L, "invalid format (repeated flags)")
		}
		digits := func() {
			for k := 0; k < 2 && p < len(format) && luaIsDigit(format[p]); k++ {
				p++
			}
		}
		digits()
		if p < len(format) && format[p] == '.' {
			p++
			digits()
		}
		if p < len(format) && luaIsDigit(format[p]) {
			luaLibError(L, "invalid format (width or precision too long)")
		}
		spec := format[i:p]
		verb := byte(0)
		if p < len(format) {
			verb = format[p]
		}
		i = p + 1
		switch verb {
		case 'c':
			n := luaLibCheckNumber(L, arg, "format")
			b.WriteString(cFormatString(spec, string([]byte{byte(luaCInt32(n))})))
		case 'd', 'i':
			n := luaLibCheckNumber(L, arg, "format")
			b.WriteString(fmt.Sprintf("%"+spec+"d", luaCInt64(n)))
		case 'o', 'u', 'x', 'X':
			n := luaLibCheckNumber(L, arg, "format")
			v := verb
			if v == 'u' {
				v = 'd'
			}
			b.WriteString(fmt.Sprintf("%"+spec+string(v), uint64(luaCInt64(n))))
		case 'e', 'E', 'f', 'g', 'G':
			b.WriteString(cFormatFloat(spec, verb, luaLibCheckNumber(L, arg, "format")))
		case 'q':
			s := luaLibCheckLString(L, arg, "format")
			b.WriteByte('"')
			for k := 0; k < len(s); k++ {
				switch ch := s[k]; ch {
				case '"', '\\', '\n':
					b.WriteByte('\\')
					b.WriteByte(ch)
				case '\r':
					b.WriteString("\\r")
				case 0:
					b.WriteString("\\000")
				default:
					b.WriteByte(ch)
				}
			}
			b.WriteByte('"')
		case 's':
			s := luaLibCheckLString(L, arg, "format")
			if !strings.Contains(spec, ".") && len(s) >= 100 {
				b.WriteString(s)
			} else {
				b.WriteString(cFormatString(spec, s))
			}
		default:
			luaLibError(L, "invalid option '%%%c' to 'format'", verb)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// cFormatString is printf("%<spec>s", s): precision and width count bytes.
func cFormatString(spec, s string) string {
	left := strings.Contains(spec, "-")
	spec = strings.TrimLeft(spec, "-+ #0")
	width, prec := 0, -1
	if w, p, hasDot := strings.Cut(spec, "."); hasDot {
		width, _ = strconv.Atoi(w)
		prec, _ = strconv.Atoi(p)
	} else {
		width, _ = strconv.Atoi(spec)
	}
	if prec >= 0 && len(s) > prec {
		s = s[:prec]
	}
	if pad := width - len(s); pad > 0 {
		if left {
			return s + strings.Repeat(" ", pad)
		}
		return strings.Repeat(" ", pad) + s
	}
	return s
}

// cFormatFloat is printf("%<spec><verb>", f): Go's fmt with C's default
// precision for %g and C's spelling of infinities and NaN.
func cFormatFloat(spec string, verb byte, f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		s := "inf"
		if math.IsNaN(f) {
			s = "nan"
		}
		if verb == 'E' || verb == 'G' {
			s = strings.ToUpper(s)
		}
		switch {
		case math.Signbit(f):
			s = "-" + s
		case strings.Contains(spec, "+"):
			s = "+" + s
		case strings.Contains(spec, " "):
			s = " " + s
		}
		if w, _, _ := strings.Cut(strings.TrimLeft(spec, "-+ #0"), "."); w != "" {
			left := ""
			if strings.Contains(spec, "-") {
				left = "-"
			}
			return cFormatString(left+w, s)
		}
		return s
	}
	if !strings.Contains(spec, ".") && (verb == 'g' || verb == 'G') {
		spec += ".6"
	}
	return fmt.Sprintf("%"+spec+string(verb), f)
}
