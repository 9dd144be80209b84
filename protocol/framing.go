package protocol

import (
	"math"

	"github.com/kvd/kvd/internal/redisnum"
)

// Request size limits Redis applies while reading a query (networking.c).
const (
	// InlineMax is PROTO_INLINE_MAX_SIZE: the longest inline command, and the
	// longest multibulk or bulk header line, before a protocol error.
	InlineMax = 64 * 1024
	// UnauthMaxArgs and UnauthMaxBulk are Redis 7's limits for clients that
	// have not authenticated while a password is required.
	UnauthMaxArgs = 10
	UnauthMaxBulk = 16384
	// headerMax is longer than any valid "*n" or "$n" header; a longer header
	// line is only counted, since it cannot parse anyway.
	headerMax = 24
)

type frameState uint8

const (
	stateStart     frameState = iota // at a command boundary
	stateInline                      // inside an inline command, until '\n'
	stateCountLine                   // "*<n>" until '\r'
	stateBulkLine                    // "$<n>" until '\r'
	stateSkipLF                      // the byte after a header's '\r'
	stateBulkData                    // bulk payload plus its CRLF
	stateFailed                      // a protocol error was found
)

// Framer checks the framing of a client's request stream before the command
// parser buffers it, so that a declared 4 GB bulk or a 2^31 argument count is
// refused by its header, before memory grows. It applies Redis's limits and
// error texts, and drops empty multibulks ("*0", "*-1") that Redis silently
// ignores. Multibulk arguments pass through uncopied. Inline commands
// ("SET a \"b c\"") are split here with Redis's quoting rules and passed on
// as multibulks, so the parser below only ever sees RESP.
type Framer struct {
	// MaxBulk is proto-max-bulk-len.
	MaxBulk int64

	state    frameState
	afterLF  frameState // the state entered after stateSkipLF
	dropLF   bool       // the header being ended is an empty multibulk
	line     [headerMax]byte
	lineLen  int    // bytes of the current header line seen so far
	inline   []byte // the inline command being read, up to InlineMax
	argsLeft int64  // bulks still expected in the current multibulk
	dataLeft int64  // bulk payload bytes (plus CRLF) still expected
	complete int    // see Complete
}

// Feed scans the next bytes of the stream and appends to dst the bytes that
// should reach the command parser. unauthenticated applies Redis 7's
// stricter limits. On a protocol error, errMsg is the reply to send before
// closing the connection; dst then holds everything before the bad header, so
// the complete commands ahead of it still run, as in Redis.
//
// A "*n" header is held back until its line is complete, because only then is
// it known whether it is an empty multibulk to drop.
func (f *Framer) Feed(dst, b []byte, unauthenticated bool) (out []byte, errMsg string) {
	f.complete = -1
	if f.state == stateStart {
		f.complete = len(dst)
	}
	if f.state == stateFailed {
		return dst, ErrProtoInvalidMultibulk
	}
	start := 0 // first byte of the run being passed through, or -1 while holding
	if f.state == stateCountLine || f.state == stateInline || (f.state == stateSkipLF && f.dropLF) {
		start = -1
	}
	fail := func(i int, msg string) ([]byte, string) {
		f.state = stateFailed
		if start >= 0 {
			dst = append(dst, b[start:i]...)
		}
		return dst, msg
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch f.state {
		case stateStart:
			// Everything before this byte is whole commands.
			dst = append(dst, b[start:i]...)
			f.complete = len(dst)
			f.lineLen = 0
			switch c {
			case '*':
				start = -1
				f.line[0] = '*'
				f.lineLen = 1
				f.state = stateCountLine
			case '\n':
				start = i + 1 // an empty inline line: dropped
			default:
				start = -1
				f.inline = append(f.inline[:0], c)
				f.state = stateInline
			}
		case stateInline:
			if c != '\n' {
				if len(f.inline) >= InlineMax {
					return fail(i, ErrProtoBigInline)
				}
				f.inline = append(f.inline, c)
				continue
			}
			line := f.inline
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			args, ok := SplitArgs(line)
			if !ok {
				return fail(i, ErrProtoUnbalanced)
			}
			if len(args) > 0 {
				dst = AppendCommand(dst, args)
			}
			if cap(f.inline) > 4096 {
				f.inline = nil // do not keep a large line's buffer per connection
			}
			start = i + 1
			f.state = stateStart
		case stateCountLine:
			if c != '\r' {
				if !f.headerByte(c) {
					return fail(i, ErrProtoBigMultibulk)
				}
				continue
			}
			n, ok := f.header()
			switch {
			case !ok || n > math.MaxInt32:
				return fail(i, ErrProtoInvalidMultibulk)
			case n > UnauthMaxArgs && unauthenticated:
				return fail(i, ErrProtoUnauthMultibulk)
			case n <= 0:
				f.dropLF = true
				f.afterLF = stateStart
			default:
				f.argsLeft = n
				f.afterLF = stateBulkLine
				dst = append(dst, f.line[:f.lineLen]...)
				dst = append(dst, '\r')
				start = i + 1
			}
			f.state = stateSkipLF
		case stateSkipLF:
			// Like Redis, the byte after '\r' is skipped unchecked.
			f.state = f.afterLF
			f.lineLen = 0
			if f.dropLF {
				f.dropLF = false
				start = i + 1
			}
		case stateBulkLine:
			if f.lineLen == 0 && c != '$' {
				return fail(i, ErrExpectedDollar(c))
			}
			if c != '\r' {
				if !f.headerByte(c) {
					return fail(i, ErrProtoBigBulkCount)
				}
				continue
			}
			n, ok := f.header()
			switch {
			case !ok || n < 0 || n > f.MaxBulk:
				return fail(i, ErrProtoInvalidBulk)
			case n > UnauthMaxBulk && unauthenticated:
				return fail(i, ErrProtoUnauthBulk)
			}
			f.dataLeft = n + 2
			f.afterLF = stateBulkData
			f.state = stateSkipLF
		case stateBulkData:
			// Skip the payload in one step rather than byte by byte.
			if avail := int64(len(b) - i); avail >= f.dataLeft {
				i += int(f.dataLeft) - 1
				f.dataLeft = 0
				f.endBulk()
			} else {
				f.dataLeft -= avail
				i = len(b) - 1
			}
		}
	}
	if start >= 0 {
		dst = append(dst, b[start:]...)
	}
	if f.state == stateStart {
		f.complete = len(dst)
	}
	return dst, ""
}

// Complete reports how much of the output of the last Feed (counting the dst
// it was given) is whole commands: the parser can take that prefix and leave
// the rest for later. -1 means the output holds no command boundary at all,
// not even at its start. A parser that only ever sees whole commands never
// re-parses a partial one as more of it arrives.
func (f *Framer) Complete() int { return f.complete }

// PendingBulk is how many bytes of a bulk payload are still expected (0 when
// not inside one), so that a caller can size its buffer for them.
func (f *Framer) PendingBulk() int64 {
	if f.state == stateBulkData {
		return f.dataLeft
	}
	return 0
}

func (f *Framer) endBulk() {
	f.argsLeft--
	f.lineLen = 0
	if f.argsLeft > 0 {
		f.state = stateBulkLine
	} else {
		f.state = stateStart
	}
}

// headerByte adds a byte to the "*n" or "$n" line being read; false when the
// line passes Redis's 64 KB limit without ending.
func (f *Framer) headerByte(c byte) bool {
	if f.lineLen < headerMax {
		f.line[f.lineLen] = c
	}
	f.lineLen++
	return f.lineLen <= InlineMax
}

// header parses the number in the held "*n" or "$n" line.
func (f *Framer) header() (int64, bool) {
	if f.lineLen > headerMax {
		return 0, false
	}
	return redisnum.ParseInt(f.line[1:f.lineLen])
}
