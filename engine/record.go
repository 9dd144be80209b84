package engine

import (
	"encoding/binary"
	"errors"
)

// Kind is the Redis type of a key.
type Kind byte

// The kinds of value a key can hold. Numbers are stored on disk: never reuse.
const (
	KindNone   Kind = 0
	KindString Kind = 1
	KindHash   Kind = 2
	KindList   Kind = 3
	KindSet    Kind = 4
	KindZSet   Kind = 5
)

var kindNames = map[Kind]string{
	KindNone: "none", KindString: "string", KindHash: "hash",
	KindList: "list", KindSet: "set", KindZSet: "zset",
}

// String is the name TYPE replies with.
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return "none"
}

// KindByName is the kind TYPE calls name (SCAN ... TYPE); KindNone if none.
func KindByName(name string) Kind {
	for k, n := range kindNames {
		if n == name {
			return k
		}
	}
	return KindNone
}

// isCollection reports whether records of kind k hold their members in
// separate entries (see collections.go).
func (k Kind) isCollection() bool { return k >= KindHash && k <= KindZSet }

// recordHdrLen is the kind byte plus the millisecond deadline.
const recordHdrLen = 1 + 8

// record is one key's stored value: its kind, its expiry deadline in Unix
// milliseconds (0 = none) and the payload. The deadline in the record is the
// only authority on expiry; badger's own ExpiresAt is whole seconds and is
// set past the deadline only so that compaction reclaims the space later.
type record struct {
	kind     Kind
	deadline int64
	payload  []byte
}

var errCorruptRecord = errors.New("engine: corrupt record")

func (r record) encode() []byte {
	b := make([]byte, recordHdrLen+len(r.payload))
	b[0] = byte(r.kind)
	binary.BigEndian.PutUint64(b[1:], uint64(r.deadline))
	copy(b[recordHdrLen:], r.payload)
	return b
}

// decodeRecord parses a stored value. The payload aliases b.
func decodeRecord(b []byte) (record, error) {
	if len(b) < recordHdrLen || b[0] == byte(KindNone) {
		return record{}, errCorruptRecord
	}
	return record{
		kind:     Kind(b[0]),
		deadline: int64(binary.BigEndian.Uint64(b[1:])),
		payload:  b[recordHdrLen:],
	}, nil
}

// expiredAt reports whether the record is expired at now (ms). Redis's rule:
// a key is expired once now is past its deadline.
func (r record) expiredAt(now int64) bool {
	return r.deadline > 0 && now > r.deadline
}

// badgerExpiresAt is the whole second after the deadline, for badger.
func badgerExpiresAt(deadline int64) uint64 {
	if deadline <= 0 {
		return 0
	}
	return uint64(deadline/1000 + 1)
}
