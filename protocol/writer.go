// Package protocol is kvd's wire layer: RESP2/RESP3 reply writing, request
// framing limits, argument parsing helpers, Redis's exact error texts and glob
// matching. It knows nothing about storage.
package protocol

import (
	"strconv"

	"github.com/kvd/kvd/internal/redisnum"
)

// Writer appends RESP replies to a byte buffer for one connection. It knows the
// connection's protocol version so that handlers never branch on it: Null,
// Map, Set, Double and Bool write the RESP3 frame after HELLO 3 and Redis's
// RESP2 equivalent otherwise.
type Writer struct {
	buf   []byte
	proto int
}

// NewWriter returns a Writer for protocol version 2 or 3.
func NewWriter(proto int) *Writer { return &Writer{proto: proto} }

// Proto reports the protocol version replies are written in.
func (w *Writer) Proto() int { return w.proto }

// SetProto switches the protocol version for replies written after the call.
func (w *Writer) SetProto(p int) { w.proto = p }

// Bytes returns the replies written since the last Reset.
func (w *Writer) Bytes() []byte { return w.buf }

// Reset empties the buffer, keeping its capacity.
func (w *Writer) Reset() { w.buf = w.buf[:0] }

// Len is the number of buffered bytes.
func (w *Writer) Len() int { return len(w.buf) }

// Truncate drops everything written after the first n bytes.
func (w *Writer) Truncate(n int) { w.buf = w.buf[:n] }

// Raw appends pre-encoded RESP.
func (w *Writer) Raw(b []byte) { w.buf = append(w.buf, b...) }

// Status writes a simple string: +OK.
func (w *Writer) Status(s string) {
	w.buf = append(w.buf, '+')
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

// OK writes +OK.
func (w *Writer) OK() { w.buf = append(w.buf, "+OK\r\n"...) }

// Error writes an error reply. msg must carry its own prefix ("ERR ...",
// "WRONGTYPE ..."); newlines are replaced by spaces as Redis does, so a reply
// can never be split.
func (w *Writer) Error(msg string) {
	w.buf = append(w.buf, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		w.buf = append(w.buf, c)
	}
	w.buf = append(w.buf, '\r', '\n')
}

// Int writes an integer reply.
func (w *Writer) Int(n int64) {
	w.buf = append(w.buf, ':')
	w.buf = strconv.AppendInt(w.buf, n, 10)
	w.buf = append(w.buf, '\r', '\n')
}

// Bulk writes a bulk string.
func (w *Writer) Bulk(b []byte) {
	w.buf = append(w.buf, '$')
	w.buf = strconv.AppendInt(w.buf, int64(len(b)), 10)
	w.buf = append(w.buf, '\r', '\n')
	w.buf = append(w.buf, b...)
	w.buf = append(w.buf, '\r', '\n')
}

// BulkString writes a bulk string from a Go string.
func (w *Writer) BulkString(s string) {
	w.buf = append(w.buf, '$')
	w.buf = strconv.AppendInt(w.buf, int64(len(s)), 10)
	w.buf = append(w.buf, '\r', '\n')
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

// BulkInt writes an integer formatted as a bulk string, as Redis does for
// INCRBYFLOAT-like replies that carry numbers as text.
func (w *Writer) BulkInt(n int64) {
	var tmp [24]byte
	w.Bulk(strconv.AppendInt(tmp[:0], n, 10))
}

// Null writes the null bulk string: $-1 in RESP2, _ in RESP3.
func (w *Writer) Null() {
	if w.proto >= 3 {
		w.buf = append(w.buf, "_\r\n"...)
		return
	}
	w.buf = append(w.buf, "$-1\r\n"...)
}

// NullArray writes the null array: *-1 in RESP2, _ in RESP3.
func (w *Writer) NullArray() {
	if w.proto >= 3 {
		w.buf = append(w.buf, "_\r\n"...)
		return
	}
	w.buf = append(w.buf, "*-1\r\n"...)
}

// Array writes an array header of n elements.
func (w *Writer) Array(n int) { w.header('*', n) }

// Map writes a map header of n key/value pairs: % in RESP3, an array of 2n
// elements in RESP2.
func (w *Writer) Map(n int) {
	if w.proto >= 3 {
		w.header('%', n)
		return
	}
	w.header('*', 2*n)
}

// Set writes a set header: ~ in RESP3, an array in RESP2.
func (w *Writer) Set(n int) {
	if w.proto >= 3 {
		w.header('~', n)
		return
	}
	w.header('*', n)
}

// Double writes a floating point reply: , in RESP3, a bulk string in RESP2,
// formatted as Redis formats doubles (%.17g, inf and nan spelled out).
func (w *Writer) Double(f float64) {
	if w.proto >= 3 {
		w.buf = append(w.buf, ',')
		w.buf = redisnum.FormatFloat(w.buf, f)
		w.buf = append(w.buf, '\r', '\n')
		return
	}
	var tmp [32]byte
	w.Bulk(redisnum.FormatFloat(tmp[:0], f))
}

// Bool writes a boolean: # in RESP3, :1/:0 in RESP2.
func (w *Writer) Bool(b bool) {
	if w.proto >= 3 {
		if b {
			w.buf = append(w.buf, "#t\r\n"...)
		} else {
			w.buf = append(w.buf, "#f\r\n"...)
		}
		return
	}
	if b {
		w.Int(1)
	} else {
		w.Int(0)
	}
}

// Verbatim writes a verbatim string (RESP3 =, with a three letter format such
// as "txt"), or a bulk string in RESP2.
func (w *Writer) Verbatim(format, s string) {
	if w.proto < 3 {
		w.BulkString(s)
		return
	}
	w.buf = append(w.buf, '=')
	w.buf = strconv.AppendInt(w.buf, int64(len(s)+4), 10)
	w.buf = append(w.buf, '\r', '\n')
	w.buf = append(w.buf, format...)
	w.buf = append(w.buf, ':')
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

// BulkArray writes an array of bulk strings.
func (w *Writer) BulkArray(items [][]byte) {
	w.Array(len(items))
	for _, it := range items {
		w.Bulk(it)
	}
}

func (w *Writer) header(kind byte, n int) {
	w.buf = append(w.buf, kind)
	w.buf = strconv.AppendInt(w.buf, int64(n), 10)
	w.buf = append(w.buf, '\r', '\n')
}

// Bool01 writes :1 or :0 in both protocols, for commands such as SETNX and
// EXPIRE whose Redis replies are integers, not RESP3 booleans.
func (w *Writer) Bool01(b bool) {
	if b {
		w.buf = append(w.buf, ":1\r\n"...)
	} else {
		w.buf = append(w.buf, ":0\r\n"...)
	}
}
