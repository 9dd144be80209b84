package server

// The "struct" library (Roberto Ierusalimschy's struct.c as patched by
// Redis): struct.pack, struct.unpack and struct.size with the C type sizes
// and the native (little-endian) byte order of x86-64 Linux.
//
// Format options:
//   > < !n   big endian, little endian, maximum alignment n (default 8)
//   b B h H  signed/unsigned char and short
//   l L T    signed/unsigned long, size_t (8 bytes)
//   i I in In signed/unsigned int of n bytes (default 4, at most 32)
//   f d      float, double
//   s        zero-terminated string
//   cn       n chars; c0 packs the whole string / unpacks with the
//            previously read number as length
//   x        one byte of padding
//   ' '      ignored

import (
	"encoding/binary"
	"math"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

const (
	luaStructMaxIntSize = 32
	luaStructMaxAlign   = 8
)

type luaStructHeader struct {
	little bool
	align  int
}

func newLuaStructModule(L *lua.LState) *lua.LTable {
	mod := L.NewTable()
	luaLibSetFuncs(L, mod, map[string]lua.LGFunction{
		"pack":   luaStructPack,
		"unpack": luaStructUnpack,
		"size":   luaStructSize,
	})
	return mod
}

// luaStructFmt walks a format string.
type luaStructFmt struct {
	s   string
	pos int
}

func (f *luaStructFmt) more() bool { return f.pos < len(f.s) && f.s[f.pos] != 0 }

func (f *luaStructFmt) next() byte {
	c := f.s[f.pos]
	f.pos++
	return c
}

func (f *luaStructFmt) getnum(L *lua.LState, df int) int {
	if !f.more() || !luaIsDigit(f.s[f.pos]) {
		return df
	}
	a := 0
	for f.more() && luaIsDigit(f.s[f.pos]) {
		d := int(f.s[f.pos] - '0')
		if a > math.MaxInt32/10 || a*10 > math.MaxInt32-d {
			luaLibError(L, "integral size overflow")
		}
		a = a*10 + d
		f.pos++
	}
	return a
}

func (f *luaStructFmt) optsize(L *lua.LState, opt byte) int {
	switch opt {
	case 'B', 'b':
		return 1
	case 'H', 'h':
		return 2
	case 'L', 'l', 'T':
		return 8
	case 'f':
		return 4
	case 'd':
		return 8
	case 'x':
		return 1
	case 'c':
		return f.getnum(L, 1)
	case 'i', 'I':
		sz := f.getnum(L, 4)
		if sz > luaStructMaxIntSize {
			luaLibError(L, "integral size %d is larger than limit of %d", sz, luaStructMaxIntSize)
		}
		return sz
	}
	return 0
}

func luaStructToAlign(length uint64, h *luaStructHeader, opt byte, size int) uint64 {
	if size == 0 || opt == 'c' {
		return 0
	}
	sz := uint64(size)
	if sz > uint64(h.align) {
		sz = uint64(h.align)
	}
	return (sz - (length & (sz - 1))) & (sz - 1)
}

func (f *luaStructFmt) controloptions(L *lua.LState, opt byte, h *luaStructHeader, fname string) {
	switch opt {
	case ' ':
	case '>':
		h.little = false
	case '<':
		h.little = true
	case '!':
		a := f.getnum(L, luaStructMaxAlign)
		if a <= 0 || a&(a-1) != 0 {
			luaLibError(L, "alignment %d is not a power of 2", a)
		}
		h.align = a
	default:
		luaLibArgError(L, 1, fname, "invalid format option '"+string([]byte{opt})+"'")
	}
}

func luaStructPutInteger(out []byte, n float64, little bool, size int) []byte {
	var value uint64
	if n < 0 {
		value = uint64(luaCInt64(n))
	} else {
		value = luaCUint64(n)
	}
	buf := make([]byte, size)
	if little {
		for i := 0; i < size; i++ {
			buf[i] = byte(value)
			value >>= 8
		}
	} else {
		for i := size - 1; i >= 0; i-- {
			buf[i] = byte(value)
			value >>= 8
		}
	}
	return append(out, buf...)
}

func luaStructPack(L *lua.LState) int {
	const fname = "pack"
	f := luaStructFmt{s: luaLibCheckLString(L, 1, fname)}
	h := luaStructHeader{little: true, align: 1}
	arg := 2
	// The C code pushes a nil "to separate arguments from string buffer",
	// so the first missing argument reads as nil rather than no value.
	L.Push(lua.LNil)
	var out []byte
	for f.more() {
		opt := f.next()
		size := f.optsize(L, opt)
		toalign := luaStructToAlign(uint64(len(out)), &h, opt, size)
		for ; toalign > 0; toalign-- {
			out = append(out, 0)
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			n := luaLibCheckNumber(L, arg, fname)
			arg++
			out = luaStructPutInteger(out, n, h.little, size)
		case 'x':
			out = append(out, 0)
		case 'f':
			bits := math.Float32bits(float32(luaLibCheckNumber(L, arg, fname)))
			arg++
			if h.little {
				out = binary.LittleEndian.AppendUint32(out, bits)
			} else {
				out = binary.BigEndian.AppendUint32(out, bits)
			}
		case 'd':
			bits := math.Float64bits(luaLibCheckNumber(L, arg, fname))
			arg++
			if h.little {
				out = binary.LittleEndian.AppendUint64(out, bits)
			} else {
				out = binary.BigEndian.AppendUint64(out, bits)
			}
		case 'c', 's':
			s := luaLibCheckLString(L, arg, fname)
			arg++
			l := len(s)
			if size == 0 {
				size = l
			}
			if l < size {
				// The C code checks after incrementing arg, so it blames
				// the argument after the string.
				luaLibArgError(L, arg, fname, "string too short")
			}
			out = append(out, s[:size]...)
			if opt == 's' {
				out = append(out, 0)
			}
		default:
			f.controloptions(L, opt, &h, fname)
		}
	}
	L.Push(lua.LString(out))
	return 1
}

func luaStructGetInteger(buf string, little, signed bool, size int) float64 {
	var l uint64
	if !little {
		for i := 0; i < size; i++ {
			l <<= 8
			l |= uint64(buf[i])
		}
	} else {
		for i := size - 1; i >= 0; i-- {
			l <<= 8
			l |= uint64(buf[i])
		}
	}
	if !signed {
		return float64(l)
	}
	// x86 masks the shift count to 6 bits, which matters for sizes above 8.
	mask := ^uint64(0) << (uint(size*8-1) & 63)
	if l&mask != 0 {
		l |= mask
	}
	return float64(int64(l))
}

func luaStructUnpack(L *lua.LState) int {
	const fname = "unpack"
	f := luaStructFmt{s: luaLibCheckLString(L, 1, fname)}
	data := luaLibCheckLString(L, 2, fname)
	ld := uint64(len(data))
	pos := uint64(luaLibOptInteger(L, 3, fname, 1))
	if pos == 0 {
		luaLibArgError(L, 3, fname, "offset must be 1 or greater")
	}
	pos--
	h := luaStructHeader{little: true, align: 1}
	var results []lua.LValue
	// Stack slots the C function would be using: its arguments plus the
	// results pushed so far.
	base := L.GetTop()
	for f.more() {
		opt := f.next()
		size := f.optsize(L, opt)
		pos += luaStructToAlign(pos, &h, opt, size)
		usize := uint64(size)
		if !(usize <= ld && pos <= ld-usize) {
			luaLibArgError(L, 2, fname, "data string too short")
		}
		if base+len(results)+2 > luaCMaxStack {
			luaLibError(L, "stack overflow (too many results)")
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			signed := opt >= 'a' && opt <= 'z'
			results = append(results, lua.LNumber(luaStructGetInteger(data[pos:], h.little, signed, size)))
		case 'x':
		case 'f':
			var bits uint32
			if h.little {
				bits = binary.LittleEndian.Uint32([]byte(data[pos : pos+4]))
			} else {
				bits = binary.BigEndian.Uint32([]byte(data[pos : pos+4]))
			}
			results = append(results, lua.LNumber(float64(math.Float32frombits(bits))))
		case 'd':
			var bits uint64
			if h.little {
				bits = binary.LittleEndian.Uint64([]byte(data[pos : pos+8]))
			} else {
				bits = binary.BigEndian.Uint64([]byte(data[pos : pos+8]))
			}
			results = append(results, lua.LNumber(math.Float64frombits(bits)))
		case 'c':
			if size == 0 {
				var prev float64
				ok := false
				if len(results) > 0 {
					prev, ok = luaLibToNumber(results[len(results)-1])
				}
				if !ok {
					luaLibError(L, "format 'c0' needs a previous size")
				}
				results = results[:len(results)-1]
				usize = luaCUint64(prev)
				if !(usize <= ld && pos <= ld-usize) {
					luaLibArgError(L, 2, fname, "data string too short")
				}
			}
			results = append(results, lua.LString(data[pos:pos+usize]))
		case 's':
			e := strings.IndexByte(data[pos:], 0)
			if e < 0 {
				luaLibError(L, "unfinished string in data")
			}
			results = append(results, lua.LString(data[pos:pos+uint64(e)]))
			usize = uint64(e) + 1
		default:
			f.controloptions(L, opt, &h, fname)
		}
		pos += usize
	}
	for _, v := range results {
		L.Push(v)
	}
	L.Push(lua.LNumber(float64(int64(pos + 1))))
	return len(results) + 1
}

func luaStructSize(L *lua.LState) int {
	const fname = "size"
	f := luaStructFmt{s: luaLibCheckLString(L, 1, fname)}
	h := luaStructHeader{little: true, align: 1}
	var pos uint64
	for f.more() {
		opt := f.next()
		size := f.optsize(L, opt)
		pos += luaStructToAlign(pos, &h, opt, size)
		if opt == 's' {
			luaLibArgError(L, 1, fname, "option 's' has no fixed size")
		} else if opt == 'c' && size == 0 {
			luaLibArgError(L, 1, fname, "option 'c0' has no fixed size")
		}
		if !luaIsAlnum(opt) {
			f.controloptions(L, opt, &h, fname)
		}
		pos += uint64(size)
	}
	L.Push(lua.LNumber(float64(int64(pos))))
	return 1
}

func luaIsAlnum(c byte) bool {
	return luaIsDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}
