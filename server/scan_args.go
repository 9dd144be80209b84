package server

import (
	"strings"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// scanOptions are the options of SCAN, HSCAN, SSCAN and ZSCAN.
type scanOptions struct {
	count int
	match func([]byte) bool // nil: every key or member
	kind  engine.Kind       // SCAN ... TYPE; KindNone: any
	// noKind is set when TYPE names no type kvd has: Redis 7.0 accepts
	// any name, and an unknown one matches nothing.
	noKind bool
}

// parseScanOptions parses COUNT, MATCH and, for SCAN only (withType), TYPE.
// It returns the first bad option's error text, or "".
func parseScanOptions(opts [][]byte, withType bool) (scanOptions, string) {
	o := scanOptions{count: 10}
	for i := 0; i < len(opts); i += 2 {
		if i+1 >= len(opts) {
			return o, protocol.ErrSyntax
		}
		v := opts[i+1]
		switch {
		case protocol.EqualFold(opts[i], "COUNT"):
			n, ok := redisnum.ParseInt(v)
			if !ok {
				return o, protocol.ErrNotInteger
			}
			if n < 1 {
				return o, protocol.ErrSyntax
			}
			o.count = int(min(n, 1<<20))
		case protocol.EqualFold(opts[i], "MATCH"):
			o.match = matcher(v)
		case withType && protocol.EqualFold(opts[i], "TYPE"):
			o.kind = engine.KindByName(strings.ToLower(string(v)))
			o.noKind = o.kind == engine.KindNone
		default:
			return o, protocol.ErrSyntax
		}
	}
	return o, ""
}

// filter is the engine filter SCAN applies.
func (o scanOptions) filter() engine.ScanFilter {
	if o.noKind {
		return engine.ScanFilter{Match: func([]byte) bool { return false }}
	}
	return engine.ScanFilter{Match: o.match, Kind: o.kind}
}
