package engine

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(record{kind: KindString, payload: []byte("hello")}.encode())
	f.Add(record{kind: KindString, deadline: 1700000000123}.encode())
	f.Add(record{kind: KindString, deadline: -1, payload: []byte{0}}.encode())
	f.Add(append([]byte{0}, make([]byte, 12)...))
	f.Add([]byte("0\x7f\xff\xff\xff\xff\xff\xff0"))
	f.Add([]byte{7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'x'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(data)
		if err != nil {
			if r.kind != KindNone || r.payload != nil || r.deadline != 0 {
				t.Fatalf("decodeRecord(%x) failed but returned %+v", data, r)
			}
			if len(data) >= recordHdrLen && data[0] != byte(KindNone) {
				t.Fatalf("decodeRecord(%x) refused a well-formed record: %v", data, err)
			}
			return
		}
		if len(data) < recordHdrLen || r.kind == KindNone {
			t.Fatalf("decodeRecord(%x) accepted a malformed record: %+v", data, r)
		}
		// encode(decode(x)) == x for every valid record.
		if enc := r.encode(); !bytes.Equal(enc, data) {
			t.Fatalf("encode(decode(%x)) = %x", data, enc)
		}
		if r.deadline != int64(binary.BigEndian.Uint64(data[1:9])) {
			t.Fatalf("deadline %d from %x", r.deadline, data[1:9])
		}
		// Expiry never applies to a record without a positive deadline.
		if r.deadline <= 0 && (r.expiredAt(r.deadline+1) || r.expiredAt(1<<62)) {
			t.Fatalf("record with deadline %d expired", r.deadline)
		}
		if r.deadline > 0 && (r.expiredAt(r.deadline) || (r.deadline < 1<<62 && !r.expiredAt(r.deadline+1))) {
			t.Fatalf("record with deadline %d: wrong expiry edge", r.deadline)
		}
		// The badger expiry is strictly after the deadline (whole seconds).
		if r.deadline > 0 {
			if exp := badgerExpiresAt(r.deadline); int64(exp) <= r.deadline/1000 {
				t.Fatalf("badgerExpiresAt(%d) = %d s, not after the deadline", r.deadline, exp)
			}
		} else if badgerExpiresAt(r.deadline) != 0 {
			t.Fatalf("badgerExpiresAt(%d) != 0", r.deadline)
		}
	})
}

func FuzzRecordRoundTrip(f *testing.F) {
	f.Add(byte(1), int64(0), []byte("v"))
	f.Add(byte(1), int64(-1), []byte{})
	f.Add(byte(200), int64(1<<62), []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, kind byte, deadline int64, payload []byte) {
		if kind == byte(KindNone) {
			kind = byte(KindString)
		}
		in := record{kind: Kind(kind), deadline: deadline, payload: payload}
		out, err := decodeRecord(in.encode())
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", in, err)
		}
		if out.kind != in.kind || out.deadline != in.deadline || !bytes.Equal(out.payload, in.payload) {
			t.Fatalf("decode(encode(%+v)) = %+v", in, out)
		}
	})
}

func FuzzKeyEncoding(f *testing.F) {
	f.Add(uint32(0), []byte(""), uint32(0), []byte("a"))
	f.Add(uint32(1), []byte("key"), uint32(1), []byte("key\x00"))
	f.Add(uint32(0xffffffff), []byte("\xff\xff"), uint32(0), []byte("\x00"))
	f.Add(uint32(255), []byte("x"), uint32(256), []byte("x"))
	f.Fuzz(func(t *testing.T, ns1 uint32, k1 []byte, ns2 uint32, k2 []byte) {
		e1, e2 := encodeKey(ns1, k1), encodeKey(ns2, k2)
		if got := userKey(e1); !bytes.Equal(got, k1) {
			t.Fatalf("userKey(encodeKey(%d, %q)) = %q", ns1, k1, got)
		}
		if e1[0] != prefixKey || e1[0] == prefixMeta {
			t.Fatalf("encoded key %x does not start with the key prefix", e1)
		}
		if !bytes.HasPrefix(e1, nsPrefix(ns1)) {
			t.Fatalf("encodeKey(%d, %q) = %x lacks nsPrefix %x", ns1, k1, e1, nsPrefix(ns1))
		}
		if ns1 != ns2 && bytes.HasPrefix(e2, nsPrefix(ns1)) {
			t.Fatalf("key of ns %d has the prefix of ns %d", ns2, ns1)
		}
		// Order: by namespace, then by user key bytes, so that iterating a
		// namespace prefix visits its keys in byte order (SCAN cursors).
		want := 0
		switch {
		case ns1 < ns2:
			want = -1
		case ns1 > ns2:
			want = 1
		default:
			want = bytes.Compare(k1, k2)
		}
		if got := bytes.Compare(e1, e2); got != want {
			t.Fatalf("compare(encodeKey(%d,%q), encodeKey(%d,%q)) = %d, want %d", ns1, k1, ns2, k2, got, want)
		}
		// SCAN resumes at cursor+"\x00": the smallest key after the cursor.
		next := append(append([]byte(nil), k1...), 0)
		if ns1 == ns2 && bytes.Compare(k2, k1) > 0 && bytes.Compare(encodeKey(ns1, next), e2) > 0 {
			t.Fatalf("resuming after %q skips %q", k1, k2)
		}
		// Meta keys never collide with user keys.
		for _, m := range [][]byte{metaDBMap, metaNextNS, metaGarbage, metaFunctions} {
			if bytes.HasPrefix(m, nsPrefix(ns1)) || bytes.Equal(m, e1) {
				t.Fatalf("meta key %q inside ns %d", m, ns1)
			}
		}
	})
}
