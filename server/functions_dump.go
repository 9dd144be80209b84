package server

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/kvd/kvd/protocol"
)

// FUNCTION DUMP and FUNCTION RESTORE, in Redis's payload format so that
// payloads move between kvd and Redis 7.0 in both directions: for each
// library the RDB opcode FUNCTION2 and the library code as an RDB string
// (LZF-compressed when that saves space, as Redis does), then the RDB
// version (2 bytes, little endian) and a CRC64 (Jones polynomial, as
// Redis's crc64) of everything before it (8 bytes, little endian).

const (
	rdbOpcodeFunction2     = 245
	rdbOpcodeFunctionPreGA = 246
	rdbVersion             = 10 // RDB_VERSION of Redis 7.0

	errRestorePayload = "ERR DUMP payload version or checksum are wrong"
)

func (fe *functionEngine) cmdDump(c *Client, args [][]byte) {
	c.w.Bulk(dumpLibraries(fe.sortedLibs()))
}

// dumpLibraries is the FUNCTION DUMP payload of libs. It is also what the
// store keeps (functionEngine.change) and restoreSaved loads at startup.
func dumpLibraries(libs []*functionLib) []byte {
	var out []byte
	for _, lib := range libs {
		out = append(out, rdbOpcodeFunction2)
		out = rdbAppendString(out, []byte(lib.code))
	}
	return appendDumpFooter(out)
}

// appendDumpFooter adds the RDB version and the checksum.
func appendDumpFooter(b []byte) []byte {
	b = append(b, rdbVersion&0xff, rdbVersion>>8)
	return binary.LittleEndian.AppendUint64(b, crc64Jones(0, b))
}

// verifyDumpPayload is Redis's verifyDumpPayload.
func verifyDumpPayload(p []byte) bool {
	if len(p) < 10 {
		return false
	}
	footer := p[len(p)-10:]
	if ver := int(footer[0]) | int(footer[1])<<8; ver > rdbVersion {
		return false
	}
	return crc64Jones(0, p[:len(p)-8]) == binary.LittleEndian.Uint64(footer[2:])
}

func (fe *functionEngine) cmdRestore(c *Client, args [][]byte) {
	if len(args) > 4 {
		c.w.Error(errSubcommandSyntax("FUNCTION", args[1]))
		return
	}
	policy := "append"
	if len(args) == 4 {
		switch {
		case protocol.EqualFold(args[3], "append"):
		case protocol.EqualFold(args[3], "replace"):
			policy = "replace"
		case protocol.EqualFold(args[3], "flush"):
			policy = "flush"
		default:
			c.w.Error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
			return
		}
	}
	data := args[2]
	if !verifyDumpPayload(data) {
		c.w.Error(errRestorePayload)
		return
	}
	libs, msg := fe.loadPayload(data)
	if msg != "" {
		c.w.Error("ERR " + msg)
		return
	}
	msg, err := fe.change(func() string {
		if policy == "flush" {
			fe.libs = map[string]*functionLib{}
			fe.funcs = map[string]*luaFunction{}
		}
		return fe.install(libs, policy == "replace", false)
	})
	if replyChange(c, "function|restore", msg, err) {
		c.w.OK()
	}
}

// loadPayload compiles and runs every library of a dump payload, without
// installing them.
func (fe *functionEngine) loadPayload(data []byte) ([]*functionLib, string) {
	fe.stateMu.Lock()
	defer fe.stateMu.Unlock()
	var libs []*functionLib
	names := map[string]bool{}
	funcs := map[string]bool{}
	pos := 0
	for len(data)-pos > 10 {
		var code string
		switch data[pos] {
		case rdbOpcodeFunction2:
			pos++
			b, n, ok := rdbReadString(data[pos:])
			if !ok {
				return nil, "Failed loading library payload"
			}
			pos += n
			code = string(b)
		case rdbOpcodeFunctionPreGA:
			pos++
			var msg string
			if code, pos, msg = readPreGAFunction(data, pos); msg != "" {
				return nil, msg
			}
		default:
			return nil, "given type is not a function"
		}
		lib, msg := fe.loadLibrary(code, func(name string) bool { return names[name] })
		if msg != "" {
			return nil, msg
		}
		for _, f := range lib.funcs {
			if funcs[strings.ToLower(f.name)] {
				return nil, "Function " + f.name + " already exists"
			}
		}
		for _, f := range lib.funcs {
			funcs[strings.ToLower(f.name)] = true
		}
		names[lib.name] = true
		libs = append(libs, lib)
	}
	return libs, ""
}

// readPreGAFunction reads the function format of Redis 7.0 release
// candidates (library name, engine, optional description, code) and turns
// it into a library payload, as Redis 7.0 does.
func readPreGAFunction(data []byte, pos int) (string, int, string) {
	name, n, ok := rdbReadString(data[pos:])
	if !ok {
		return "", pos, "Failed loading library name"
	}
	pos += n
	engineName, n, ok := rdbReadString(data[pos:])
	if !ok {
		return "", pos, "Failed loading engine name"
	}
	pos += n
	hasDesc, _, n, ok := rdbReadLen(data[pos:])
	if !ok {
		return "", pos, "Failed loading library description indicator"
	}
	pos += n
	if hasDesc != 0 {
		if _, n, ok = rdbReadString(data[pos:]); !ok {
			return "", pos, "Failed loading library description"
		}
		pos += n
	}
	blob, n, ok := rdbReadString(data[pos:])
	if !ok {
		return "", pos, "Failed loading library blob"
	}
	pos += n
	return "#!" + string(engineName) + " name=" + string(name) + "\n" + string(blob), pos, ""
}

// rdbAppendString is rdbSaveRawString for a string that is never a
// number: LZF-compressed if longer than 20 bytes and compressible into at
// most len-4 bytes, verbatim otherwise.
func rdbAppendString(out, s []byte) []byte {
	if len(s) > 20 {
		if comp := lzfCompress(s, len(s)-4); comp != nil {
			out = append(out, 0xC3) // RDB_ENCVAL<<6 | RDB_ENC_LZF
			out = rdbAppendLen(out, uint64(len(comp)))
			out = rdbAppendLen(out, uint64(len(s)))
			return append(out, comp...)
		}
	}
	out = rdbAppendLen(out, uint64(len(s)))
	return append(out, s...)
}

// rdbAppendLen is rdbSaveLen.
func rdbAppendLen(out []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(out, byte(n))
	case n < 1<<14:
		return append(out, byte(n>>8)|0x40, byte(n))
	case n <= 0xffffffff:
		out = append(out, 0x80)
		return binary.BigEndian.AppendUint32(out, uint32(n))
	}
	out = append(out, 0x81)
	return binary.BigEndian.AppendUint64(out, n)
}

// rdbReadLen is rdbLoadLen: the length, whether it is an encoding marker
// (the low 6 bits then say which), and the bytes used.
func rdbReadLen(b []byte) (n uint64, encoded bool, used int, ok bool) {
	if len(b) == 0 {
		return 0, false, 0, false
	}
	switch b[0] >> 6 {
	case 0:
		return uint64(b[0] & 0x3f), false, 1, true
	case 1:
		if len(b) < 2 {
			return 0, false, 0, false
		}
		return uint64(b[0]&0x3f)<<8 | uint64(b[1]), false, 2, true
	case 3:
		return uint64(b[0] & 0x3f), true, 1, true
	}
	switch b[0] {
	case 0x80:
		if len(b) < 5 {
			return 0, false, 0, false
		}
		return uint64(binary.BigEndian.Uint32(b[1:])), false, 5, true
	case 0x81:
		if len(b) < 9 {
			return 0, false, 0, false
		}
		return binary.BigEndian.Uint64(b[1:]), false, 9, true
	}
	return 0, false, 0, false
}

// rdbReadString is rdbGenericLoadStringObject: raw, integer-encoded or LZF
// strings. It returns the string and the bytes used.
func rdbReadString(b []byte) ([]byte, int, bool) {
	n, encoded, used, ok := rdbReadLen(b)
	if !ok {
		return nil, 0, false
	}
	if !encoded {
		if uint64(len(b)-used) < n {
			return nil, 0, false
		}
		return b[used : used+int(n)], used + int(n), true
	}
	rest := b[used:]
	switch n {
	case 0, 1, 2: // RDB_ENC_INT8, INT16, INT32
		size := 1 << n
		if len(rest) < size {
			return nil, 0, false
		}
		var v int64
		switch size {
		case 1:
			v = int64(int8(rest[0]))
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(rest)))
		case 4:
			v = int64(int32(binary.LittleEndian.Uint32(rest)))
		}
		return []byte(strconv.FormatInt(v, 10)), used + size, true
	case 3: // RDB_ENC_LZF
		clen, _, u1, ok1 := rdbReadLen(rest)
		if !ok1 {
			return nil, 0, false
		}
		ulen, _, u2, ok2 := rdbReadLen(rest[u1:])
		if !ok2 || uint64(len(rest)-u1-u2) < clen || ulen > 512<<20 {
			return nil, 0, false
		}
		start := u1 + u2
		out, okd := lzfDecompress(rest[start:start+int(clen)], int(ulen))
		if !okd {
			return nil, 0, false
		}
		return out, used + start + int(clen), true
	}
	return nil, 0, false
}

// LZF (liblzf 3.6 as Redis builds it: HLOG 16, VERY_FAST), so that kvd's
// dumps match Redis's byte for byte when Redis's hash table starts clean.

const (
	lzfHLog   = 16
	lzfHSize  = 1 << lzfHLog
	lzfMaxLit = 1 << 5
	lzfMaxOff = 1 << 13
	lzfMaxRef = 1<<8 + 1<<3
)

// lzfCompress compresses in into at most outLen bytes, or returns nil when
// it does not fit (lzf_compress returning 0).
func lzfCompress(in []byte, outLen int) []byte {
	if len(in) == 0 || outLen <= 0 {
		return nil
	}
	htab := make([]int32, lzfHSize) // positions + 1; 0 is empty
	idx := func(h uint32) uint32 { return ((h >> (3*8 - lzfHLog)) - h*5) & (lzfHSize - 1) }
	// Room past outLen only so that a bug could never index out of range;
	// the checks below keep the output within outLen as liblzf does.
	out := make([]byte, outLen+8)
	ip, op, lit := 0, 1, 0 // op starts past the first run's length byte
	inEnd := len(in)
	hval := uint32(in[0])<<8 | uint32(at(in, 1))
	for ip < inEnd-2 {
		hval = hval<<8 | uint32(in[ip+2])
		slot := idx(hval)
		ref := int(htab[slot]) - 1
		htab[slot] = int32(ip + 1)
		if ref > 0 && ref < ip && ip-ref-1 < lzfMaxOff &&
			in[ref+2] == in[ip+2] && in[ref] == in[ip] && in[ref+1] == in[ip+1] {
			off := ip - ref - 1
			length := 2
			maxlen := inEnd - ip - length
			if maxlen > lzfMaxRef {
				maxlen = lzfMaxRef
			}
			if op+3+1 >= outLen {
				notLit := 0
				if lit == 0 {
					notLit = 1
				}
				if op-notLit+3+1 >= outLen {
					return nil
				}
			}
			out[op-lit-1] = byte(lit - 1)
			if lit == 0 {
				op--
			}
			matched := false
			if maxlen > 16 {
				for k := 0; k < 16; k++ {
					length++
					if in[ref+length] != in[ip+length] {
						matched = true
						break
					}
				}
			}
			if !matched {
				for {
					length++
					if !(length < maxlen && in[ref+length] == in[ip+length]) {
						break
					}
				}
			}
			length -= 2
			ip++
			if length < 7 {
				out[op] = byte(off>>8) + byte(length<<5)
				op++
			} else {
				out[op] = byte(off>>8) + 7<<5
				out[op+1] = byte(length - 7)
				op += 2
			}
			out[op] = byte(off)
			op++
			lit = 0
			op++
			ip += length + 1
			if ip >= inEnd-2 {
				break
			}
			ip -= 2
			hval = uint32(in[ip])<<8 | uint32(in[ip+1])
			hval = hval<<8 | uint32(in[ip+2])
			htab[idx(hval)] = int32(ip + 1)
			ip++
			hval = hval<<8 | uint32(in[ip+2])
			htab[idx(hval)] = int32(ip + 1)
			ip++
			continue
		}
		if op >= outLen {
			return nil
		}
		lit++
		out[op] = in[ip]
		op++
		ip++
		if lit == lzfMaxLit {
			out[op-lit-1] = byte(lit - 1)
			lit = 0
			op++
		}
	}
	if op+3 > outLen {
		return nil
	}
	for ip < inEnd {
		lit++
		out[op] = in[ip]
		op++
		ip++
		if lit == lzfMaxLit {
			out[op-lit-1] = byte(lit - 1)
			lit = 0
			op++
		}
	}
	out[op-lit-1] = byte(lit - 1)
	if lit == 0 {
		op--
	}
	return out[:op]
}

func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

// lzfDecompress is lzf_decompress into exactly outLen bytes.
func lzfDecompress(in []byte, outLen int) ([]byte, bool) {
	out := make([]byte, 0, outLen)
	ip := 0
	for ip < len(in) {
		ctrl := int(in[ip])
		ip++
		if ctrl < 1<<5 {
			ctrl++
			if ip+ctrl > len(in) || len(out)+ctrl > outLen {
				return nil, false
			}
			out = append(out, in[ip:ip+ctrl]...)
			ip += ctrl
			continue
		}
		length := ctrl >> 5
		ref := len(out) - (ctrl&0x1f)<<8 - 1
		if length == 7 {
			if ip >= len(in) {
				return nil, false
			}
			length += int(in[ip])
			ip++
		}
		if ip >= len(in) {
			return nil, false
		}
		ref -= int(in[ip])
		ip++
		length += 2
		if ref < 0 || len(out)+length > outLen {
			return nil, false
		}
		for k := 0; k < length; k++ {
			out = append(out, out[ref+k])
		}
	}
	if len(out) != outLen {
		return nil, false
	}
	return out, true
}

// crc64Jones is Redis's crc64: the Jones polynomial, reflected, no final
// xor.
func crc64Jones(crc uint64, b []byte) uint64 {
	for _, c := range b {
		crc = crc64Table[byte(crc)^c] ^ crc>>8
	}
	return crc
}

var crc64Table = func() (t [256]uint64) {
	const poly = 0x95AC9329AC4BC9B5 // 0xad93d23594c935a9 reflected
	for i := range t {
		c := uint64(i)
		for k := 0; k < 8; k++ {
			if c&1 != 0 {
				c = c>>1 ^ poly
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()
