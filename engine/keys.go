// Package engine is kvd's storage layer on badger: key encoding, typed
// records, millisecond TTLs and atomic operations. It is a plain Go API and
// knows nothing about RESP.
//
// Layout of badger keys:
//
//	'k' ns(uint32 BE) userkey      a key's record (see record.go), one per key
//	'm' id(uint64 BE) member       a collection member (see collections.go)
//	'z' id score(8) member         a sorted set's score index
//	'o' id                         a collection's owner: the ns and key whose
//	                               record holds id, for the orphan sweeper
//	'x' name                       engine metadata (database map, garbage
//	                               list, function libraries; see metadata.go)
//
// A logical database (SELECT n) maps to a namespace number. FLUSHDB and
// SWAPDB change only that map, so they are O(1); namespaces no longer mapped
// are deleted in the background (sweepGarbage in databases.go).
package engine

import "encoding/binary"

const (
	prefixKey    = 'k'
	prefixMember = 'm'
	prefixScore  = 'z'
	prefixOwner  = 'o'
	prefixMeta   = 'x'
	nsLen        = 4
	keyHdrLen    = 1 + nsLen
)

var (
	metaDBMap   = []byte("xdbmap")  // ns of each logical db, uint32 BE each
	metaNextNS  = []byte("xnextns") // the next unused namespace number
	metaGarbage = []byte("xgarbage")
	// metaFunctions holds the server's function libraries, one opaque blob
	// (metadata.go). Like every 'x' key it is outside each namespace, so
	// SCAN, KEYS, DBSIZE and FLUSHDB/FLUSHALL never see it.
	metaFunctions = []byte("xfunctions")
)

// encodeKey returns the badger key of userkey in namespace ns.
func encodeKey(ns uint32, userkey []byte) []byte {
	b := make([]byte, keyHdrLen+len(userkey))
	b[0] = prefixKey
	binary.BigEndian.PutUint32(b[1:], ns)
	copy(b[keyHdrLen:], userkey)
	return b
}

// nsPrefix is the badger prefix of every key in namespace ns.
func nsPrefix(ns uint32) []byte {
	b := make([]byte, keyHdrLen)
	b[0] = prefixKey
	binary.BigEndian.PutUint32(b[1:], ns)
	return b
}

// userKey strips the namespace header from a badger key.
func userKey(bkey []byte) []byte { return bkey[keyHdrLen:] }
