package server

import (
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// parseIntPair parses two integer arguments (a range's start and stop, a
// LIMIT's offset and count), as Redis's string2ll.
func parseIntPair(a, b []byte) (x, y int64, ok bool) {
	x, ok1 := redisnum.ParseInt(a)
	y, ok2 := redisnum.ParseInt(b)
	return x, y, ok1 && ok2
}

// parseIntPairOrReply is parseIntPair that replies Redis's "not an integer"
// error when either argument is not one.
func (c *Client) parseIntPairOrReply(a, b []byte) (x, y int64, ok bool) {
	x, y, ok = parseIntPair(a, b)
	if !ok {
		c.w.Error(protocol.ErrNotInteger)
	}
	return x, y, ok
}
