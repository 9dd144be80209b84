package server

// The "cmsgpack" library (lua-cmsgpack 0.4.0 as bundled by Redis):
// MessagePack encoding of Lua values.
//
//   cmsgpack.pack(v1, v2, ...)          -> concatenated encodings
//   cmsgpack.unpack(s)                  -> every value in s
//   cmsgpack.unpack_one(s [, offset])   -> next_offset, value
//   cmsgpack.unpack_limit(s, n [, off]) -> next_offset, up to n values
//
// Encoding choices follow the C code: numbers that are exactly an int64
// become the smallest integer encoding, other numbers float32 when that is
// exact and float64 otherwise; a table whose keys are exactly 1..n is an
// array (the empty table is an empty array), any other table a map; strings
// use fixstr/str8/str16/str32; tables nested 16 deep encode as nil, as do
// values of other types. Offsets are 0-based byte offsets and -1 means the
// whole input was consumed.

import (
	"encoding/binary"
	"math"

	lua "github.com/yuin/gopher-lua"
)

const luaCmsgpackMaxNesting = 16

func newLuaCmsgpackModule(L *lua.LState) *lua.LTable {
	mod := L.NewTable()
	luaLibSetFuncs(L, mod, map[string]lua.LGFunction{
		"pack":   luaCmsgpackPack,
		"unpack": func(L *lua.LState) int { return luaCmsgpackUnpackFull(L, 0, 0, "unpack") },
		"unpack_one": func(L *lua.LState) int {
			offset := luaLibOptInteger(L, 2, "unpack_one", 0)
			return luaCmsgpackUnpackFull(L, 1, offset, "unpack_one")
		},
		"unpack_limit": func(L *lua.LState) int {
			limit := luaLibCheckInteger(L, 2, "unpack_limit")
			offset := luaLibOptInteger(L, 3, "unpack_limit", 0)
			return luaCmsgpackUnpackFull(L, limit, offset, "unpack_limit")
		},
	})
	mod.RawSetString("_NAME", lua.LString("cmsgpack"))
	mod.RawSetString("_VERSION", lua.LString("lua-cmsgpack 0.4.0"))
	mod.RawSetString("_COPYRIGHT", lua.LString("Copyright (C) 2012, Salvatore Sanfilippo"))
	mod.RawSetString("_DESCRIPTION", lua.LString("MessagePack C implementation for Lua"))
	return mod
}

/* ===== Encoding ===== */

func luaMsgpackAppendInt(buf []byte, n int64) []byte {
	switch {
	case n >= 0 && n <= 127:
		return append(buf, byte(n))
	case n >= 0 && n <= 0xff:
		return append(buf, 0xcc, byte(n))
	case n >= 0 && n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(buf, 0xcd), uint16(n))
	case n >= 0 && n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(buf, 0xce), uint32(n))
	case n >= 0:
		return binary.BigEndian.AppendUint64(append(buf, 0xcf), uint64(n))
	case n >= -32:
		return append(buf, byte(int8(n)))
	case n >= -128:
		return append(buf, 0xd0, byte(n))
	case n >= -32768:
		return binary.BigEndian.AppendUint16(append(buf, 0xd1), uint16(n))
	case n >= -2147483648:
		return binary.BigEndian.AppendUint32(append(buf, 0xd2), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(buf, 0xd3), uint64(n))
}

func luaMsgpackAppendNumber(buf []byte, n float64) []byte {
	// IS_INT64_EQUIVALENT: finite and (int64_t)n == n.
	if !math.IsInf(n, 0) && float64(luaCInt64(n)) == n {
		return luaMsgpackAppendInt(buf, luaCInt64(n))
	}
	if f := float32(n); float64(f) == n {
		return binary.BigEndian.AppendUint32(append(buf, 0xca), math.Float32bits(f))
	}
	return binary.BigEndian.AppendUint64(append(buf, 0xcb), math.Float64bits(n))
}

func luaMsgpackAppendString(buf []byte, s string) []byte {
	l := len(s)
	switch {
	case l < 32:
		buf = append(buf, 0xa0|byte(l))
	case l <= 0xff:
		buf = append(buf, 0xd9, byte(l))
	case l <= 0xffff:
		buf = binary.BigEndian.AppendUint16(append(buf, 0xda), uint16(l))
	default:
		buf = binary.BigEndian.AppendUint32(append(buf, 0xdb), uint32(l))
	}
	return append(buf, s...)
}

func luaMsgpackAppendHeader(buf []byte, n int, fix, b16, b32 byte) []byte {
	switch {
	case n <= 15:
		return append(buf, fix|byte(n))
	case n <= 65535:
		return binary.BigEndian.AppendUint16(append(buf, b16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(buf, b32), uint32(n))
}

// luaMsgpackArrayLen is table_is_an_array: keys must all be numbers that
// are positive C ints, and the largest must equal their count.
func luaMsgpackArrayLen(t *lua.LTable) (int, bool) {
	count, max := 0, 0
	ok := true
	t.ForEach(func(k, _ lua.LValue) {
		if !ok {
			return
		}
		n, isNum := k.(lua.LNumber)
		if !isNum || n <= 0 || float64(luaCInt32(float64(n))) != float64(n) {
			ok = false
			return
		}
		if int(n) > max {
			max = int(n)
		}
		count++
	})
	return count, ok && max == count
}

func luaMsgpackAppendValue(buf []byte, v lua.LValue, level int) []byte {
	switch x := v.(type) {
	case lua.LString:
		return luaMsgpackAppendString(buf, string(x))
	case lua.LBool:
		if x {
			return append(buf, 0xc3)
		}
		return append(buf, 0xc2)
	case lua.LNumber:
		return luaMsgpackAppendNumber(buf, float64(x))
	case *lua.LTable:
		if level == luaCmsgpackMaxNesting {
			return append(buf, 0xc0)
		}
		if n, isArray := luaMsgpackArrayLen(x); isArray {
			buf = luaMsgpackAppendHeader(buf, n, 0x90, 0xdc, 0xdd)
			for j := 1; j <= n; j++ {
				buf = luaMsgpackAppendValue(buf, x.RawGet(lua.LNumber(j)), level+1)
			}
			return buf
		}
		n := 0
		x.ForEach(func(_, _ lua.LValue) { n++ })
		buf = luaMsgpackAppendHeader(buf, n, 0x80, 0xde, 0xdf)
		key, val := x.Next(lua.LNil)
		for key != lua.LNil {
			buf = luaMsgpackAppendValue(buf, key, level+1)
			buf = luaMsgpackAppendValue(buf, val, level+1)
			key, val = x.Next(key)
		}
		return buf
	}
	return append(buf, 0xc0)
}

func luaCmsgpackPack(L *lua.LState) int {
	nargs := L.GetTop()
	if nargs == 0 {
		luaLibArgError(L, 0, "pack", "MessagePack pack needs input.")
	}
	var buf []byte
	for i := 1; i <= nargs; i++ {
		buf = luaMsgpackAppendValue(buf, L.Get(i), 0)
	}
	L.Push(lua.LString(buf))
	return 1
}

/* ===== Decoding ===== */

type luaMsgpackErr int

const (
	luaMsgpackOK luaMsgpackErr = iota
	luaMsgpackEOF
	luaMsgpackBadFmt
)

type luaMsgpackDecoder struct {
	L     *lua.LState
	s     string
	p     int
	err   luaMsgpackErr
	slots int // Lua stack slots the C decoder would be using
}

func (d *luaMsgpackDecoder) left() int { return len(d.s) - d.p }

func (d *luaMsgpackDecoder) need(n int) bool {
	if d.left() < n {
		d.err = luaMsgpackEOF
		return false
	}
	return true
}

func (d *luaMsgpackDecoder) checkStack(msg string) {
	if d.slots+1 > luaCMaxStack {
		luaLibError(d.L, "stack overflow (%s)", msg)
	}
}

func (d *luaMsgpackDecoder) u16(at int) int {
	return int(binary.BigEndian.Uint16([]byte(d.s[at : at+2])))
}
func (d *luaMsgpackDecoder) u32(at int) uint32 {
	return binary.BigEndian.Uint32([]byte(d.s[at : at+4]))
}
func (d *luaMsgpackDecoder) u64(at int) uint64 {
	return binary.BigEndian.Uint64([]byte(d.s[at : at+8]))
}

func (d *luaMsgpackDecoder) str(hdr, l int) lua.LValue {
	if !d.need(hdr + l) {
		return lua.LNil
	}
	v := lua.LString(d.s[d.p+hdr : d.p+hdr+l])
	d.p += hdr + l
	return v
}

// decodeArray is mp_decode_to_lua_array. On error the partial table is
// returned and d.err is set.
func (d *luaMsgpackDecoder) decodeArray(n uint64) lua.LValue {
	t := d.L.NewTable()
	d.slots++ // the table
	d.checkStack("in function mp_decode_to_lua_array")
	defer func() { d.slots-- }()
	for i := uint64(1); i <= n; i++ {
		d.slots++ // the index
		v := d.decode()
		d.slots--
		if d.err != luaMsgpackOK {
			return t
		}
		if v != lua.LNil {
			t.RawSet(lua.LNumber(i), v)
		}
	}
	return t
}

func (d *luaMsgpackDecoder) decodeMap(n uint64) lua.LValue {
	t := d.L.NewTable()
	d.slots++ // the table
	defer func() { d.slots-- }()
	for ; n > 0; n-- {
		k := d.decode()
		if d.err != luaMsgpackOK {
			return t
		}
		d.slots++ // the key
		v := d.decode()
		d.slots--
		if d.err != luaMsgpackOK {
			return t
		}
		// lua_settable: nil/NaN keys are errors raised by the Lua core,
		// which adds no position to them.
		switch kk := k.(type) {
		case *lua.LNilType:
			d.L.Error(lua.LString("table index is nil"), 0)
		case lua.LNumber:
			if kk != kk {
				d.L.Error(lua.LString("table index is NaN"), 0)
			}
		}
		if v == lua.LNil {
			t.RawSet(k, lua.LNil)
		} else {
			t.RawSet(k, v)
		}
	}
	return t
}

// decode is mp_decode_to_lua_type: it returns the decoded value (LNil on
// error, with d.err set).
func (d *luaMsgpackDecoder) decode() lua.LValue {
	if !d.need(1) {
		return lua.LNil
	}
	d.checkStack("too many return values at once; use unpack_one or unpack_limit instead.")
	p := d.p
	c := d.s[p]
	switch c {
	case 0xcc:
		if !d.need(2) {
			return lua.LNil
		}
		d.p += 2
		return lua.LNumber(d.s[p+1])
	case 0xd0:
		if !d.need(2) {
			return lua.LNil
		}
		d.p += 2
		return lua.LNumber(int8(d.s[p+1]))
	case 0xcd:
		if !d.need(3) {
			return lua.LNil
		}
		d.p += 3
		return lua.LNumber(d.u16(p + 1))
	case 0xd1:
		if !d.need(3) {
			return lua.LNil
		}
		d.p += 3
		return lua.LNumber(int16(d.u16(p + 1)))
	case 0xce:
		if !d.need(5) {
			return lua.LNil
		}
		d.p += 5
		return lua.LNumber(d.u32(p + 1))
	case 0xd2:
		if !d.need(5) {
			return lua.LNil
		}
		d.p += 5
		return lua.LNumber(int32(d.u32(p + 1)))
	case 0xcf, 0xd3:
		// uint 64 goes through lua_pushinteger (a signed 64-bit type), so
		// values above 2^63 come out negative, as in Redis.
		if !d.need(9) {
			return lua.LNil
		}
		d.p += 9
		return lua.LNumber(float64(int64(d.u64(p + 1))))
	case 0xc0:
		d.p++
		return lua.LNil
	case 0xc3:
		d.p++
		return lua.LTrue
	case 0xc2:
		d.p++
		return lua.LFalse
	case 0xca:
		if !d.need(5) {
			return lua.LNil
		}
		d.p += 5
		return lua.LNumber(float64(math.Float32frombits(d.u32(p + 1))))
	case 0xcb:
		if !d.need(9) {
			return lua.LNil
		}
		d.p += 9
		return lua.LNumber(math.Float64frombits(d.u64(p + 1)))
	case 0xd9:
		if !d.need(2) {
			return lua.LNil
		}
		return d.str(2, int(d.s[p+1]))
	case 0xda:
		if !d.need(3) {
			return lua.LNil
		}
		return d.str(3, d.u16(p+1))
	case 0xdb:
		if !d.need(5) {
			return lua.LNil
		}
		l := d.u32(p + 1)
		d.p += 5
		if uint64(d.left()) < uint64(l) {
			d.err = luaMsgpackEOF
			return lua.LNil
		}
		return d.str(0, int(l))
	case 0xdc:
		if !d.need(3) {
			return lua.LNil
		}
		d.p += 3
		return d.decodeArray(uint64(d.u16(p + 1)))
	case 0xdd:
		if !d.need(5) {
			return lua.LNil
		}
		d.p += 5
		return d.decodeArray(uint64(d.u32(p + 1)))
	case 0xde:
		if !d.need(3) {
			return lua.LNil
		}
		d.p += 3
		return d.decodeMap(uint64(d.u16(p + 1)))
	case 0xdf:
		if !d.need(5) {
			return lua.LNil
		}
		d.p += 5
		return d.decodeMap(uint64(d.u32(p + 1)))
	}
	switch {
	case c&0x80 == 0: // positive fixnum
		d.p++
		return lua.LNumber(c)
	case c&0xe0 == 0xe0: // negative fixnum
		d.p++
		return lua.LNumber(int8(c))
	case c&0xe0 == 0xa0: // fixstr
		return d.str(1, int(c&0x1f))
	case c&0xf0 == 0x90: // fixarray
		d.p++
		return d.decodeArray(uint64(c & 0xf))
	case c&0xf0 == 0x80: // fixmap
		d.p++
		return d.decodeMap(uint64(c & 0xf))
	}
	d.err = luaMsgpackBadFmt
	return lua.LNil
}

// luaCmsgpackUnpackFull is mp_unpack_full. limit == 0 && offset == 0
// means "decode everything and return no offset".
func luaCmsgpackUnpackFull(L *lua.LState, limit, offset int64, fname string) int {
	// unpack_one and unpack_limit drop their extra arguments first.
	if L.GetTop() > 1 {
		L.SetTop(1)
	}
	s := luaLibCheckLString(L, 1, fname)
	decodeAll := limit == 0 && offset == 0
	if offset < 0 || limit < 0 {
		// The C code prints the input length where it means the limit.
		luaLibError(L, "Invalid request to unpack with offset of %d and limit of %d.", int32(offset), int32(len(s)))
	} else if uint64(offset) > uint64(len(s)) {
		luaLibError(L, "Start offset %d greater than input length %d.", int32(offset), int32(len(s)))
	}
	if decodeAll {
		limit = math.MaxInt32
	}
	d := &luaMsgpackDecoder{L: L, s: s, p: int(offset), slots: L.GetTop()}
	var results []lua.LValue
	for cnt := int64(0); d.left() > 0 && cnt < limit; cnt++ {
		v := d.decode()
		switch d.err {
		case luaMsgpackEOF:
			luaLibError(L, "Missing bytes in input.")
		case luaMsgpackBadFmt:
			luaLibError(L, "Bad data format in input.")
		}
		results = append(results, v)
		d.slots++
	}
	n := len(results)
	if !decodeAll {
		next := int64(d.p)
		if d.left() == 0 {
			next = -1
		}
		L.Push(lua.LNumber(next))
		n++
	}
	for _, v := range results {
		L.Push(v)
	}
	return n
}
