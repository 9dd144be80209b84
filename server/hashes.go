package server

import (
	"math"
	"strconv"
	"strings"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// Hash commands. Storage semantics live in engine/hashes.go; these handlers
// parse arguments and write replies.

func (s *Server) hashCommands() []*Command {
	hash := func(name string, arity int, flags Flags, h Handler, since, summary string) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, FirstKey: 1, LastKey: 1, Step: 1, Group: "hash", Since: since, Summary: summary, Handler: h}
	}
	const w, r, f = FlagWrite, FlagReadOnly, FlagFast
	return []*Command{
		hash("hset", -4, w|f, cmdHSet, "2.0.0", "Creates or modifies the value of a field in a hash."),
		hash("hmset", -4, w|f, cmdHMSet, "2.0.0", "Sets the values of multiple fields."),
		hash("hsetnx", 4, w|f, cmdHSetNX, "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist."),
		hash("hget", 3, r|f, cmdHGet, "2.0.0", "Returns the value of a field in a hash."),
		hash("hmget", -3, r|f, cmdHMGet, "2.0.0", "Returns the values of all fields in a hash."),
		hash("hgetall", 2, r, cmdHGetAll, "2.0.0", "Returns all fields and values in a hash."),
		hash("hkeys", 2, r, cmdHKeys, "2.0.0", "Returns all fields in a hash."),
		hash("hvals", 2, r, cmdHVals, "2.0.0", "Returns all values in a hash."),
		hash("hdel", -3, w|f, cmdHDel, "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
		hash("hexists", 3, r|f, cmdHExists, "2.0.0", "Determines whether a field exists in a hash."),
		hash("hlen", 2, r|f, cmdHLen, "2.0.0", "Returns the number of fields in a hash."),
		hash("hstrlen", 3, r|f, cmdHStrLen, "3.2.0", "Returns the length of the value of a field."),
		hash("hincrby", 4, w|f, cmdHIncrBy, "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
		hash("hincrbyfloat", 4, w|f, cmdHIncrByFloat, "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
		hash("hrandfield", -2, r, cmdHRandField, "6.2.0", "Returns one or more random fields from a hash."),
		hash("hscan", -3, r, cmdHScan, "2.8.0", "Iterates over fields and values of a hash."),
	}
}

// hset is HSET and HMSET, which differ only in their reply. The arity error
// for an odd number of arguments names the command as called.
func hset(c *Client, cmd string, args [][]byte) (int64, bool) {
	if len(args)%2 == 1 {
		c.w.Error(protocol.ErrWrongArity(cmd))
		return 0, false
	}
	n, err := c.store.HSet(c.db, args[1], args[2:])
	return n, c.ok(cmd, err)
}

func cmdHSet(c *Client, args [][]byte) {
	if n, ok := hset(c, "hset", args); ok {
		c.w.Int(n)
	}
}

func cmdHMSet(c *Client, args [][]byte) {
	if _, ok := hset(c, "hmset", args); ok {
		c.w.OK()
	}
}

func cmdHSetNX(c *Client, args [][]byte) {
	set, err := c.store.HSetNX(c.db, args[1], args[2], args[3])
	if c.ok("hsetnx", err) {
		c.w.Bool01(set)
	}
}

func cmdHGet(c *Client, args [][]byte) {
	v, found, err := c.store.HGet(c.db, args[1], args[2])
	if c.ok("hget", err) {
		c.bulkOrNull(v, found)
	}
}

func cmdHMGet(c *Client, args [][]byte) {
	vals, err := c.store.HMGet(c.db, args[1], args[2:])
	if !c.ok("hmget", err) {
		return
	}
	c.w.Array(len(vals))
	for _, v := range vals {
		c.bulkOrNull(v, v != nil)
	}
}

func cmdHGetAll(c *Client, args [][]byte) {
	all, err := c.store.HGetAll(c.db, args[1])
	if !c.ok("hgetall", err) {
		return
	}
	c.w.Map(len(all))
	for _, fv := range all {
		c.w.Bulk(fv.Field)
		c.w.Bulk(fv.Value)
	}
}

func cmdHKeys(c *Client, args [][]byte) {
	all, err := c.store.HGetAll(c.db, args[1])
	if !c.ok("hkeys", err) {
		return
	}
	c.w.Array(len(all))
	for _, fv := range all {
		c.w.Bulk(fv.Field)
	}
}

func cmdHVals(c *Client, args [][]byte) {
	all, err := c.store.HGetAll(c.db, args[1])
	if !c.ok("hvals", err) {
		return
	}
	c.w.Array(len(all))
	for _, fv := range all {
		c.w.Bulk(fv.Value)
	}
}

func cmdHDel(c *Client, args [][]byte) {
	n, err := c.store.HDel(c.db, args[1], args[2:])
	if c.ok("hdel", err) {
		c.w.Int(n)
	}
}

func cmdHExists(c *Client, args [][]byte) {
	found, err := c.store.HExists(c.db, args[1], args[2])
	if c.ok("hexists", err) {
		c.w.Bool01(found)
	}
}

func cmdHLen(c *Client, args [][]byte) {
	n, err := c.store.HLen(c.db, args[1])
	if c.ok("hlen", err) {
		c.w.Int(n)
	}
}

func cmdHStrLen(c *Client, args [][]byte) {
	n, err := c.store.HStrLen(c.db, args[1], args[2])
	if c.ok("hstrlen", err) {
		c.w.Int(n)
	}
}

func cmdHIncrBy(c *Client, args [][]byte) {
	by, ok := redisnum.ParseInt(args[3])
	if !ok {
		c.w.Error(protocol.ErrNotInteger)
		return
	}
	n, err := c.store.HIncrBy(c.db, args[1], args[2], by)
	if c.ok("hincrby", err) {
		c.w.Int(n)
	}
}

func cmdHIncrByFloat(c *Client, args [][]byte) {
	// An infinite increment is refused before parsing: strtold accepts
	// every spelling of infinity, ParseLongDouble not "infinity".
	if isInfinity(args[3]) {
		c.w.Error(protocol.ErrNaNOrInfinity)
		return
	}
	by, ok := redisnum.ParseLongDouble(args[3])
	if !ok {
		c.w.Error(protocol.ErrNotFloat)
		return
	}
	v, err := c.store.HIncrByFloat(c.db, args[1], args[2], by)
	if c.ok("hincrbyfloat", err) {
		c.w.Bulk(v)
	}
}

// isInfinity reports whether num is how strtold spells infinity: "inf" or
// "infinity", any case, signed. A literal too large for a long double is
// not infinity to Redis but an invalid float.
func isInfinity(num []byte) bool {
	s := strings.TrimLeft(string(num), "+-")
	return strings.EqualFold(s, "inf") || strings.EqualFold(s, "infinity")
}

// cmdHRandField is HRANDFIELD key [count [WITHVALUES]]. Without a count it
// replies one field or null; with one, an array (flat field, value pairs
// in RESP2, an array of [field, value] arrays in RESP3, as Redis 7.0).
func cmdHRandField(c *Client, args [][]byte) {
	if len(args) == 2 {
		picks, exists, err := c.store.HRandField(c.db, args[1], 1)
		if !c.ok("hrandfield", err) {
			return
		}
		if !exists || len(picks) == 0 {
			c.w.Null()
			return
		}
		c.w.Bulk(picks[0].Field)
		return
	}
	count, ok := redisnum.ParseInt(args[2])
	if !ok {
		c.w.Error(protocol.ErrNotInteger)
		return
	}
	if count == math.MinInt64 {
		c.w.Error(protocol.ErrCountRange)
		return
	}
	if len(args) > 4 || (len(args) == 4 && !protocol.EqualFold(args[3], "WITHVALUES")) {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	withValues := len(args) == 4
	if withValues && (count < math.MinInt64/2 || count > math.MaxInt64/2) {
		c.w.Error(protocol.ErrOutOfRange)
		return
	}
	picks, _, err := c.store.HRandField(c.db, args[1], count)
	if !c.ok("hrandfield", err) {
		return
	}
	nested := withValues && c.w.Proto() >= 3
	switch {
	case withValues && !nested:
		c.w.Array(2 * len(picks))
	default:
		c.w.Array(len(picks))
	}
	for _, p := range picks {
		if nested {
			c.w.Array(2)
		}
		c.w.Bulk(p.Field)
		if withValues {
			c.w.Bulk(p.Value)
		}
	}
}

// cmdHScan is HSCAN key cursor [MATCH pattern] [COUNT count]. Cursors are
// numbers naming a saved position, as SCAN's (cursors.go). Redis looks the
// key up before it parses the options, so a missing key answers an empty
// scan and a key of another type WRONGTYPE even when an option is bad.
func cmdHScan(c *Client, args [][]byte) {
	cursor, ok := parseCursor(args[2])
	if !ok {
		c.w.Error(protocol.ErrInvalidCursor)
		return
	}
	o, optErr := parseScanOptions(args[3:], false)
	count, match := o.count, o.match
	if optErr != "" {
		kind, err := c.store.Type(c.db, args[1])
		switch {
		case err != nil:
			c.replyErr("hscan", err)
		case kind == engine.KindNone:
			c.w.Array(2)
			c.w.BulkString("0")
			c.w.Array(0)
		case kind != engine.KindHash:
			c.w.Error(protocol.ErrWrongType)
		default:
			c.w.Error(optErr)
		}
		return
	}
	items, next, err := c.store.HScan(c.db, args[1], c.srv.cursors.load(cursor), count, match)
	if !c.ok("hscan", err) {
		return
	}
	var nextID uint64
	if next != nil {
		nextID = c.srv.cursors.save(next)
	}
	c.w.Array(2)
	c.w.BulkString(strconv.FormatUint(nextID, 10))
	c.w.Array(2 * len(items))
	for _, fv := range items {
		c.w.Bulk(fv.Field)
		c.w.Bulk(fv.Value)
	}
}
