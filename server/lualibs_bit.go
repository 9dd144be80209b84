package server

// The "bit" library (LuaBitOp 1.0.2, as bundled by Redis): 32-bit bitwise
// operations on Lua numbers. Arguments are normalised the way LuaBitOp does
// it for double-based Lua, by adding 2^52+2^51 and keeping the low 32 bits
// of the mantissa (round to nearest even, modulo 2^32), and results are
// returned as signed 32-bit numbers.

import (
	"math"

	lua "github.com/yuin/gopher-lua"
)

func newLuaBitModule(L *lua.LState) *lua.LTable {
	mod := L.NewTable()
	unary := func(name string, op func(uint32) uint32) lua.LGFunction {
		return func(L *lua.LState) int {
			return luaBitReturn(L, op(luaBitArg(L, 1, name)))
		}
	}
	fold := func(name string, op func(a, b uint32) uint32) lua.LGFunction {
		return func(L *lua.LState) int {
			b := luaBitArg(L, 1, name)
			// LuaBitOp folds from the last argument down to the second.
			for i := L.GetTop(); i > 1; i-- {
				b = op(b, luaBitArg(L, i, name))
			}
			return luaBitReturn(L, b)
		}
	}
	shift := func(name string, op func(b, n uint32) uint32) lua.LGFunction {
		return func(L *lua.LState) int {
			b := luaBitArg(L, 1, name)
			n := luaBitArg(L, 2, name) & 31
			return luaBitReturn(L, op(b, n))
		}
	}
	luaLibSetFuncs(L, mod, map[string]lua.LGFunction{
		"tobit": unary("tobit", func(b uint32) uint32 { return b }),
		"bnot":  unary("bnot", func(b uint32) uint32 { return ^b }),
		"bswap": unary("bswap", func(b uint32) uint32 {
			return (b >> 24) | ((b >> 8) & 0xff00) | ((b & 0xff00) << 8) | (b << 24)
		}),
		"band":    fold("band", func(a, b uint32) uint32 { return a & b }),
		"bor":     fold("bor", func(a, b uint32) uint32 { return a | b }),
		"bxor":    fold("bxor", func(a, b uint32) uint32 { return a ^ b }),
		"lshift":  shift("lshift", func(b, n uint32) uint32 { return b << n }),
		"rshift":  shift("rshift", func(b, n uint32) uint32 { return b >> n }),
		"arshift": shift("arshift", func(b, n uint32) uint32 { return uint32(int32(b) >> n) }),
		"rol":     shift("rol", func(b, n uint32) uint32 { return (b << n) | (b >> ((32 - n) & 31)) }),
		"ror":     shift("ror", func(b, n uint32) uint32 { return (b << ((32 - n) & 31)) | (b >> n) }),
		"tohex":   luaBitToHex,
	})
	return mod
}

// luaBitArg is LuaBitOp's barg(): lua_tonumber, then the 2^52+2^51 trick.
func luaBitArg(L *lua.LState, idx int, fname string) uint32 {
	var n float64
	isNum := false
	if idx <= L.GetTop() {
		n, isNum = luaLibToNumber(L.Get(idx))
	}
	b := uint32(math.Float64bits(n + 6755399441055744.0))
	if b == 0 && !isNum {
		luaLibTypeError(L, idx, fname, "number")
	}
	return b
}

func luaBitReturn(L *lua.LState, b uint32) int {
	L.Push(lua.LNumber(int32(b)))
	return 1
}

func luaBitToHex(L *lua.LState) int {
	b := luaBitArg(L, 1, "tohex")
	n := int32(8)
	if L.GetTop() >= 2 {
		n = int32(luaBitArg(L, 2, "tohex"))
	}
	digits := "0123456789abcdef"
	if n < 0 {
		// LuaBitOp negates n here; -INT32_MIN overflows in C (and crashes
		// Redis before 7.0.16/7.2.6), later Redis versions clamp it instead.
		if n == math.MinInt32 {
			n = math.MinInt32 + 1
		}
		n = -n
		digits = "0123456789ABCDEF"
	}
	if n > 8 {
		n = 8
	}
	buf := make([]byte, n)
	for i := int(n) - 1; i >= 0; i-- {
		buf[i] = digits[b&15]
		b >>= 4
	}
	L.Push(lua.LString(buf))
	return 1
}
