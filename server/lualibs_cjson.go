package server

// The "cjson" library (Lua CJSON 2.1.0 as bundled by Redis 7.0):
// cjson.encode / cjson.decode plus the configuration functions, with the
// same defaults (sparse arrays: convert=false, ratio=2, safe=10; nesting
// depth 1000 both ways; NaN/Inf refused when encoding and accepted when
// decoding; numbers printed with "%.14g").
//
// Known difference: Lua objects are encoded in gopher-lua's table
// iteration order (array part, then keys in insertion order), which is not
// the hash order C Lua happens to use.

import (
	"math"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

type luaCjsonConfig struct {
	encodeSparseConvert   int
	encodeSparseRatio     int
	encodeSparseSafe      int
	encodeMaxDepth        int
	encodeInvalidNumbers  int // 0 off, 1 on, 2 "null"
	encodeNumberPrecision int
	encodeKeepBuffer      int
	decodeInvalidNumbers  int
	decodeMaxDepth        int
}

func newLuaCjsonConfig() *luaCjsonConfig {
	return &luaCjsonConfig{
		encodeSparseConvert:   0,
		encodeSparseRatio:     2,
		encodeSparseSafe:      10,
		encodeMaxDepth:        1000,
		encodeInvalidNumbers:  0,
		encodeNumberPrecision: 14,
		encodeKeepBuffer:      1,
		decodeInvalidNumbers:  1,
		decodeMaxDepth:        1000,
	}
}

// newLuaCjsonModule builds a cjson table with its own configuration, as
// lua_cjson_new does (cjson.new() returns another such table).
func newLuaCjsonModule(L *lua.LState, null *lua.LUserData) *lua.LTable {
	cfg := newLuaCjsonConfig()
	mod := L.NewTable()
	luaLibSetFuncs(L, mod, map[string]lua.LGFunction{
		"encode": func(L *lua.LState) int { return luaCjsonEncode(L, cfg, null) },
		"decode": func(L *lua.LState) int { return luaCjsonDecode(L, cfg, null) },
		"encode_sparse_array": func(L *lua.LState) int {
			const fname = "encode_sparse_array"
			luaCjsonArgInit(L, 3, fname)
			luaCjsonEnumOption(L, 1, &cfg.encodeSparseConvert, nil, fname)
			luaCjsonIntegerOption(L, 2, &cfg.encodeSparseRatio, 0, math.MaxInt32, fname)
			luaCjsonIntegerOption(L, 3, &cfg.encodeSparseSafe, 0, math.MaxInt32, fname)
			return 3
		},
		"encode_max_depth": func(L *lua.LState) int {
			const fname = "encode_max_depth"
			luaCjsonArgInit(L, 1, fname)
			luaCjsonIntegerOption(L, 1, &cfg.encodeMaxDepth, 1, math.MaxInt32, fname)
			return 1
		},
		"decode_max_depth": func(L *lua.LState) int {
			const fname = "decode_max_depth"
			luaCjsonArgInit(L, 1, fname)
			luaCjsonIntegerOption(L, 1, &cfg.decodeMaxDepth, 1, math.MaxInt32, fname)
			return 1
		},
		"encode_number_precision": func(L *lua.LState) int {
			const fname = "encode_number_precision"
			luaCjsonArgInit(L, 1, fname)
			luaCjsonIntegerOption(L, 1, &cfg.encodeNumberPrecision, 1, 14, fname)
			return 1
		},
		"encode_keep_buffer": func(L *lua.LState) int {
			const fname = "encode_keep_buffer"
			luaCjsonArgInit(L, 1, fname)
			luaCjsonEnumOption(L, 1, &cfg.encodeKeepBuffer, nil, fname)
			return 1
		},
		"encode_invalid_numbers": func(L *lua.LState) int {
			const fname = "encode_invalid_numbers"
			luaCjsonArgInit(L, 1, fname)
			luaCjsonEnumOption(L, 1, &cfg.encodeInvalidNumbers, []string{"off", "on", "null"}, fname)
			return 1
		},
		"decode_invalid_numbers": func(L *lua.LState) int {
			const fname = "decode_invalid_numbers"
			luaCjsonArgInit(L, 1, fname)
			luaCjsonEnumOption(L, 1, &cfg.decodeInvalidNumbers, nil, fname)
			return 1
		},
		"new": func(L *lua.LState) int {
			L.Push(newLuaCjsonModule(L, null))
			return 1
		},
	})
	mod.RawSetString("null", null)
	mod.RawSetString("_NAME", lua.LString("cjson"))
	mod.RawSetString("_VERSION", lua.LString("2.1.0"))
	return mod
}

// luaCjsonArgInit is json_arg_init: reject extra arguments and pad the
// missing ones with nil.
func luaCjsonArgInit(L *lua.LState, args int, fname string) {
	if L.GetTop() > args {
		luaLibArgError(L, args+1, fname, "found too many arguments")
	}
	for L.GetTop() < args {
		L.Push(lua.LNil)
	}
}

func luaCjsonIntegerOption(L *lua.LState, idx int, setting *int, min, max int, fname string) {
	if L.Get(idx) != lua.LNil {
		// luaL_checkinteger's 64-bit result is stored in a C int.
		value := int(int32(luaLibCheckInteger(L, idx, fname)))
		if value < min || value > max {
			// The C code always blames argument 1.
			luaLibArgError(L, 1, fname, "expected integer between "+luaItoa(min)+" and "+luaItoa(max))
		}
		*setting = value
	}
	L.Push(lua.LNumber(*setting))
}

func luaItoa(n int) string { return luaFormatG(float64(n), 14) }

func luaCjsonEnumOption(L *lua.LState, idx int, setting *int, options []string, fname string) {
	if options == nil {
		options = []string{"off", "on"}
	}
	if v := L.Get(idx); v != lua.LNil {
		if b, ok := v.(lua.LBool); ok {
			*setting = 0
			if b {
				*setting = 1
			}
		} else {
			// luaL_checkoption
			name := luaLibCheckLString(L, idx, fname)
			found := -1
			for i, o := range options {
				if o == name {
					found = i
					break
				}
			}
			if found < 0 {
				luaLibArgError(L, idx, fname, "invalid option '"+name+"'")
			}
			*setting = found
		}
	}
	if *setting == 0 || *setting == 1 {
		L.Push(lua.LBool(*setting == 1))
	} else {
		L.Push(lua.LString(options[*setting]))
	}
}

/* ===== Encoding ===== */

var luaCjsonEscapes = func() [256]string {
	var t [256]string
	for i := 0; i < 32; i++ {
		t[i] = "\\u00" + string("0123456789abcdef"[i>>4]) + string("0123456789abcdef"[i&15])
	}
	t['\b'] = "\\b"
	t['\t'] = "\\t"
	t['\n'] = "\\n"
	t['\f'] = "\\f"
	t['\r'] = "\\r"
	t['"'] = "\\\""
	t['\\'] = "\\\\"
	t['/'] = "\\/"
	t[127] = "\\u007f"
	return t
}()

type luaCjsonEncoder struct {
	L    *lua.LState
	cfg  *luaCjsonConfig
	null *lua.LUserData
	buf  strings.Builder
}

func (e *luaCjsonEncoder) fail(typeName, reason string) {
	luaLibError(e.L, "Cannot serialise %s: %s", typeName, reason)
}

func (e *luaCjsonEncoder) appendString(s string) {
	e.buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if esc := luaCjsonEscapes[s[i]]; esc != "" {
			e.buf.WriteString(esc)
		} else {
			e.buf.WriteByte(s[i])
		}
	}
	e.buf.WriteByte('"')
}

func (e *luaCjsonEncoder) appendNumber(num float64) {
	switch e.cfg.encodeInvalidNumbers {
	case 0:
		if math.IsInf(num, 0) || math.IsNaN(num) {
			e.fail("number", "must not be NaN or Inf")
		}
	case 1:
		if math.IsNaN(num) {
			e.buf.WriteString("nan")
			return
		}
	default:
		if math.IsInf(num, 0) || math.IsNaN(num) {
			e.buf.WriteString("null")
			return
		}
	}
	e.buf.WriteString(luaFormatG(num, e.cfg.encodeNumberPrecision))
}

// arrayLength is lua_array_length: the array size, or -1 when the table
// must be encoded as an object.
func (e *luaCjsonEncoder) arrayLength(t *lua.LTable) int {
	max := int32(0)
	items := 0
	isArray := true
	t.ForEach(func(k, _ lua.LValue) {
		if !isArray {
			return
		}
		if kn, ok := k.(lua.LNumber); ok && kn != 0 {
			f := float64(kn)
			if math.Floor(f) == f && f >= 1 {
				if f > float64(max) {
					max = luaCInt32(f)
				}
				items++
				return
			}
		}
		isArray = false
	})
	if !isArray {
		return -1
	}
	cfg := e.cfg
	if cfg.encodeSparseRatio > 0 && int(max) > items*cfg.encodeSparseRatio && int(max) > cfg.encodeSparseSafe {
		if cfg.encodeSparseConvert == 0 {
			e.fail("table", "excessively sparse array")
		}
		return -1
	}
	return int(max)
}

// appendValue is json_append_data. slots counts the Lua stack slots the C
// encoder would be using at this point (for its lua_checkstack limit).
func (e *luaCjsonEncoder) appendValue(v lua.LValue, depth, slots int) {
	switch x := v.(type) {
	case lua.LString:
		e.appendString(string(x))
	case lua.LNumber:
		e.appendNumber(float64(x))
	case lua.LBool:
		if x {
			e.buf.WriteString("true")
		} else {
			e.buf.WriteString("false")
		}
	case *lua.LTable:
		depth++
		if depth > e.cfg.encodeMaxDepth || slots+3 > luaCMaxStack {
			luaLibError(e.L, "Cannot serialise, excessive nesting (%d)", depth)
		}
		n := e.arrayLength(x)
		if n > 0 {
			e.buf.WriteByte('[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					e.buf.WriteByte(',')
				}
				e.appendValue(x.RawGet(lua.LNumber(i)), depth, slots+1)
			}
			e.buf.WriteByte(']')
			return
		}
		e.buf.WriteByte('{')
		comma := false
		key, val := x.Next(lua.LNil)
		for key != lua.LNil {
			if comma {
				e.buf.WriteByte(',')
			}
			comma = true
			switch k := key.(type) {
			case lua.LNumber:
				e.buf.WriteByte('"')
				e.appendNumber(float64(k))
				e.buf.WriteString("\":")
			case lua.LString:
				e.appendString(string(k))
				e.buf.WriteByte(':')
			default:
				e.fail(luaTypeName(key), "table key must be a number or string")
			}
			e.appendValue(val, depth, slots+2)
			key, val = x.Next(key)
		}
		e.buf.WriteByte('}')
	default:
		if v == lua.LNil || v == e.null {
			e.buf.WriteString("null")
			return
		}
		e.fail(luaTypeName(v), "type not supported")
	}
}

func luaCjsonEncode(L *lua.LState, cfg *luaCjsonConfig, null *lua.LUserData) int {
	if L.GetTop() != 1 {
		luaLibArgError(L, 1, "encode", "expected 1 argument")
	}
	e := &luaCjsonEncoder{L: L, cfg: cfg, null: null}
	// One slot is in use: the argument.
	e.appendValue(L.Get(1), 0, 1)
	L.Push(lua.LString(e.buf.String()))
	return 1
}

/* ===== Decoding ===== */

type luaCjsonTokenType int

const (
	tObjBegin luaCjsonTokenType = iota
	tObjEnd
	tArrBegin
	tArrEnd
	tString
	tNumber
	tBoolean
	tNull
	tColon
	tComma
	tEnd
	tWhitespace
	tError
	tUnknown
)

var luaCjsonTokenNames = [...]string{
	"T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END", "T_STRING",
	"T_NUMBER", "T_BOOLEAN", "T_NULL", "T_COLON", "T_COMMA", "T_END",
	"T_WHITESPACE", "T_ERROR", "T_UNKNOWN",
}

var luaCjsonCh2Token = func() [256]luaCjsonTokenType {
	var t [256]luaCjsonTokenType
	for i := range t {
		t[i] = tError
	}
	t['{'] = tObjBegin
	t['}'] = tObjEnd
	t['['] = tArrBegin
	t[']'] = tArrEnd
	t[','] = tComma
	t[':'] = tColon
	t[0] = tEnd
	t[' '] = tWhitespace
	t['\t'] = tWhitespace
	t['\n'] = tWhitespace
	t['\r'] = tWhitespace
	for _, c := range "fiInNt\"+-0123456789" {
		t[c] = tUnknown
	}
	return t
}()

var luaCjsonEscape2Char = func() [256]byte {
	var t [256]byte
	t['"'] = '"'
	t['\\'] = '\\'
	t['/'] = '/'
	t['b'] = '\b'
	t['t'] = '\t'
	t['n'] = '\n'
	t['f'] = '\f'
	t['r'] = '\r'
	t['u'] = 'u'
	return t
}()

type luaCjsonToken struct {
	typ    luaCjsonTokenType
	index  int
	str    string // T_STRING value, or the T_ERROR message
	number float64
	boolv  bool
}

type luaCjsonDecoder struct {
	L     *lua.LState
	cfg   *luaCjsonConfig
	null  *lua.LUserData
	data  string // NUL-terminated view: at() returns 0 past the end
	ptr   int
	depth int
	slots int
	tmp   []byte
}

func (d *luaCjsonDecoder) at(i int) byte {
	if i < len(d.data) {
		return d.data[i]
	}
	return 0
}

func (d *luaCjsonDecoder) setTokenError(tok *luaCjsonToken, msg string) {
	tok.typ = tError
	tok.index = d.ptr
	tok.str = msg
}

func luaCjsonHexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return int(c|0x20-'a') + 10
	}
	return -1
}

func (d *luaCjsonDecoder) hex4(at int) int {
	v := 0
	for i := 0; i < 4; i++ {
		h := luaCjsonHexDigit(d.at(at + i))
		if h < 0 {
			return -1
		}
		v = v<<4 | h
	}
	return v
}

// appendUnicodeEscape decodes \uXXXX (and surrogate pairs) at d.ptr.
func (d *luaCjsonDecoder) appendUnicodeEscape() bool {
	escapeLen := 6
	cp := d.hex4(d.ptr + 2)
	if cp < 0 {
		return false
	}
	if cp&0xF800 == 0xD800 {
		if cp&0x400 != 0 {
			return false
		}
		if d.at(d.ptr+escapeLen) != '\\' || d.at(d.ptr+escapeLen+1) != 'u' {
			return false
		}
		low := d.hex4(d.ptr + 2 + escapeLen)
		if low < 0 || low&0xFC00 != 0xDC00 {
			return false
		}
		cp = ((cp&0x3FF)<<10 | (low & 0x3FF)) + 0x10000
		escapeLen = 12
	}
	switch {
	case cp <= 0x7F:
		d.tmp = append(d.tmp, byte(cp))
	case cp <= 0x7FF:
		d.tmp = append(d.tmp, byte(cp>>6|0xC0), byte(cp&0x3F|0x80))
	case cp <= 0xFFFF:
		d.tmp = append(d.tmp, byte(cp>>12|0xE0), byte((cp>>6)&0x3F|0x80), byte(cp&0x3F|0x80))
	default:
		d.tmp = append(d.tmp, byte(cp>>18|0xF0), byte((cp>>12)&0x3F|0x80), byte((cp>>6)&0x3F|0x80), byte(cp&0x3F|0x80))
	}
	d.ptr += escapeLen
	return true
}

func (d *luaCjsonDecoder) nextStringToken(tok *luaCjsonToken) {
	d.ptr++ // skip "
	d.tmp = d.tmp[:0]
	for {
		ch := d.at(d.ptr)
		if ch == '"' {
			break
		}
		if ch == 0 {
			d.setTokenError(tok, "unexpected end of string")
			return
		}
		if ch == '\\' {
			ch = luaCjsonEscape2Char[d.at(d.ptr+1)]
			if ch == 'u' {
				if d.appendUnicodeEscape() {
					continue
				}
				d.setTokenError(tok, "invalid unicode escape code")
				return
			}
			if ch == 0 {
				d.setTokenError(tok, "invalid escape code")
				return
			}
			d.ptr++
		}
		d.tmp = append(d.tmp, ch)
		d.ptr++
	}
	d.ptr++ // closing quote
	tok.typ = tString
	tok.str = string(d.tmp)
}

// isInvalidNumber is json_is_invalid_number: numbers strtod accepts but
// strict JSON does not.
func (d *luaCjsonDecoder) isInvalidNumber() bool {
	p := d.ptr
	if d.at(p) == '+' {
		return true
	}
	if d.at(p) == '-' {
		p++
	}
	if d.at(p) == '0' {
		ch2 := d.at(p + 1)
		return ch2|0x20 == 'x' || (ch2 >= '0' && ch2 <= '9')
	} else if d.at(p) <= '9' {
		return false
	}
	rest := d.data[min(p, len(d.data)):]
	if len(rest) >= 3 && (strings.EqualFold(rest[:3], "inf") || strings.EqualFold(rest[:3], "nan")) {
		return true
	}
	return false
}

func (d *luaCjsonDecoder) nextNumberToken(tok *luaCjsonToken) {
	tok.typ = tNumber
	v, n := cStrtod(d.data[d.ptr:])
	if n == 0 {
		d.setTokenError(tok, "invalid number")
		return
	}
	tok.number = v
	d.ptr += n
}

func (d *luaCjsonDecoder) nextToken(tok *luaCjsonToken) {
	for {
		tok.typ = luaCjsonCh2Token[d.at(d.ptr)]
		if tok.typ != tWhitespace {
			break
		}
		d.ptr++
	}
	tok.index = d.ptr
	switch tok.typ {
	case tError:
		d.setTokenError(tok, "invalid token")
		return
	case tEnd:
		return
	case tUnknown:
	default:
		d.ptr++
		return
	}
	ch := d.at(d.ptr)
	rest := d.data[d.ptr:]
	switch {
	case ch == '"':
		d.nextStringToken(tok)
		return
	case ch == '-' || (ch >= '0' && ch <= '9'):
		if d.cfg.decodeInvalidNumbers == 0 && d.isInvalidNumber() {
			d.setTokenError(tok, "invalid number")
			return
		}
		d.nextNumberToken(tok)
		return
	case strings.HasPrefix(rest, "true"):
		tok.typ = tBoolean
		tok.boolv = true
		d.ptr += 4
		return
	case strings.HasPrefix(rest, "false"):
		tok.typ = tBoolean
		tok.boolv = false
		d.ptr += 5
		return
	case strings.HasPrefix(rest, "null"):
		tok.typ = tNull
		d.ptr += 4
		return
	case d.cfg.decodeInvalidNumbers != 0 && d.isInvalidNumber():
		d.nextNumberToken(tok)
		return
	}
	d.setTokenError(tok, "invalid token")
}

func (d *luaCjsonDecoder) throwParseError(expected string, tok *luaCjsonToken) {
	found := luaCjsonTokenNames[tok.typ]
	if tok.typ == tError {
		found = tok.str
	}
	luaLibError(d.L, "Expected %s but found %s at character %d", expected, found, tok.index+1)
}

func (d *luaCjsonDecoder) descend(slots int) {
	d.depth++
	if d.depth <= d.cfg.decodeMaxDepth && d.slots+slots <= luaCMaxStack {
		return
	}
	luaLibError(d.L, "Found too many nested data structures (%d) at character %d", d.depth, d.ptr)
}

func (d *luaCjsonDecoder) parseObject() lua.LValue {
	d.descend(3)
	t := d.L.NewTable()
	d.slots++ // the table
	var tok luaCjsonToken
	d.nextToken(&tok)
	if tok.typ == tObjEnd {
		d.depth--
		d.slots--
		return t
	}
	for {
		if tok.typ != tString {
			d.throwParseError("object key string", &tok)
		}
		key := tok.str
		d.nextToken(&tok)
		if tok.typ != tColon {
			d.throwParseError("colon", &tok)
		}
		d.nextToken(&tok)
		d.slots++ // the key
		val := d.processValue(&tok)
		d.slots--
		t.RawSetString(key, val)
		d.nextToken(&tok)
		if tok.typ == tObjEnd {
			d.depth--
			d.slots--
			return t
		}
		if tok.typ != tComma {
			d.throwParseError("comma or object end", &tok)
		}
		d.nextToken(&tok)
	}
}

func (d *luaCjsonDecoder) parseArray() lua.LValue {
	d.descend(2)
	t := d.L.NewTable()
	d.slots++ // the table
	var tok luaCjsonToken
	d.nextToken(&tok)
	if tok.typ == tArrEnd {
		d.depth--
		d.slots--
		return t
	}
	for i := 1; ; i++ {
		t.RawSetInt(i, d.processValue(&tok))
		d.nextToken(&tok)
		if tok.typ == tArrEnd {
			d.depth--
			d.slots--
			return t
		}
		if tok.typ != tComma {
			d.throwParseError("comma or array end", &tok)
		}
		d.nextToken(&tok)
	}
}

func (d *luaCjsonDecoder) processValue(tok *luaCjsonToken) lua.LValue {
	switch tok.typ {
	case tString:
		return lua.LString(tok.str)
	case tNumber:
		return lua.LNumber(tok.number)
	case tBoolean:
		return lua.LBool(tok.boolv)
	case tObjBegin:
		return d.parseObject()
	case tArrBegin:
		return d.parseArray()
	case tNull:
		return d.null
	}
	d.throwParseError("value", tok)
	return lua.LNil
}

func luaCjsonDecode(L *lua.LState, cfg *luaCjsonConfig, null *lua.LUserData) int {
	if L.GetTop() != 1 {
		luaLibArgError(L, 1, "decode", "expected 1 argument")
	}
	s := luaLibCheckLString(L, 1, "decode")
	if len(s) >= 2 && (s[0] == 0 || s[1] == 0) {
		luaLibError(L, "JSON parser does not support UTF-16 or UTF-32")
	}
	// The C parser works on a NUL-terminated string: nothing past the
	// first NUL is ever looked at.
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	d := &luaCjsonDecoder{L: L, cfg: cfg, null: null, data: s, slots: 1}
	var tok luaCjsonToken
	d.nextToken(&tok)
	v := d.processValue(&tok)
	d.nextToken(&tok)
	if tok.typ != tEnd {
		d.throwParseError("the end", &tok)
	}
	L.Push(v)
	return 1
}
