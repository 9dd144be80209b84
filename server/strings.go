package server

import (
	"math"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// String commands. Storage semantics live in engine/strings.go; these
// handlers parse arguments and write replies.

func (s *Server) stringCommands() []*Command {
	str := func(name string, arity int, flags Flags, first, last, step int, h Handler, since, summary string) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: step, Group: "string", Since: since, Summary: summary, Handler: h}
	}
	const w, r, f = FlagWrite, FlagReadOnly, FlagFast
	return []*Command{
		str("get", 2, r|f, 1, 1, 1, cmdGet, "1.0.0", "Returns the string value of a key."),
		str("set", -3, w, 1, 1, 1, cmdSet, "1.0.0", "Sets the string value of a key, ignoring its type."),
		str("setnx", 3, w|f, 1, 1, 1, cmdSetNX, "1.0.0", "Set the string value of a key only when the key doesn't exist."),
		str("setex", 4, w, 1, 1, 1, cmdSetEx, "2.0.0", "Sets the string value and expiration time of a key."),
		str("psetex", 4, w, 1, 1, 1, cmdPSetEx, "2.6.0", "Sets both string value and expiration time in milliseconds of a key."),
		str("getset", 3, w|f, 1, 1, 1, cmdGetSet, "1.0.0", "Returns the previous string value of a key after setting it to a new value."),
		str("getdel", 2, w|f, 1, 1, 1, cmdGetDel, "6.2.0", "Returns the string value of a key after deleting the key."),
		str("getex", -2, w|f, 1, 1, 1, cmdGetEx, "6.2.0", "Returns the string value of a key after setting its expiration time."),
		str("mget", -2, r|f, 1, -1, 1, cmdMGet, "1.0.0", "Atomically returns the string values of one or more keys."),
		str("mset", -3, w, 1, -1, 2, cmdMSet, "1.0.1", "Atomically creates or modifies the string values of one or more keys."),
		str("msetnx", -3, w, 1, -1, 2, cmdMSetNX, "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
		str("incr", 2, w|f, 1, 1, 1, cmdIncr, "1.0.0", "Increments the integer value of a key by one."),
		str("decr", 2, w|f, 1, 1, 1, cmdDecr, "1.0.0", "Decrements the integer value of a key by one."),
		str("incrby", 3, w|f, 1, 1, 1, cmdIncrBy, "1.0.0", "Increments the integer value of a key by a number."),
		str("decrby", 3, w|f, 1, 1, 1, cmdDecrBy, "1.0.0", "Decrements a number from the integer value of a key."),
		str("incrbyfloat", 3, w|f, 1, 1, 1, cmdIncrByFloat, "2.6.0", "Increment the floating point value of a key by a number."),
		str("append", 3, w, 1, 1, 1, cmdAppend, "2.0.0", "Appends a string to the value of a key."),
		str("strlen", 2, r|f, 1, 1, 1, cmdStrlen, "2.2.0", "Returns the length of a string value."),
		str("getrange", 4, r, 1, 1, 1, cmdGetRange, "2.4.0", "Returns a substring of the string stored at a key."),
		str("substr", 4, r, 1, 1, 1, cmdGetRange, "1.0.0", "Returns a substring from a string value."),
		str("setrange", 4, w, 1, 1, 1, cmdSetRange, "2.2.0", "Overwrites a part of a string value with another by an offset."),
		str("digest", 2, r|f, 1, 1, 1, cmdDigest, "8.4.0", "Returns the XXH3 hash digest of a string value."),
	}
}

func cmdGet(c *Client, args [][]byte) {
	v, found, err := c.store.Get(c.db, args[1])
	if !c.ok("get", err) {
		return
	}
	c.srv.stats.lookup(found)
	c.bulkOrNull(v, found)
}

func cmdSet(c *Client, args [][]byte) {
	o, msg := parseStringOptions("set", args[3:], true)
	if msg != "" {
		c.w.Error(msg)
		return
	}
	exp, ok := o.expiryOrReply(c, "set")
	if !ok {
		return
	}
	res, err := c.store.Set(c.db, args[1], args[2], engine.SetArgs{Cond: o.cond, Match: o.match, Expiry: exp, Get: o.get})
	if !c.ok("set", err) {
		return
	}
	switch {
	case o.get:
		c.bulkOrNull(res.Old, res.HadOld)
	case res.Written:
		c.w.OK()
	default:
		c.w.Null()
	}
}

func cmdSetNX(c *Client, args [][]byte) {
	res, err := c.store.Set(c.db, args[1], args[2], engine.SetArgs{Cond: engine.CondNX})
	if c.ok("setnx", err) {
		c.w.Bool01(res.Written)
	}
}

func cmdSetEx(c *Client, args [][]byte)  { setWithTTL(c, "setex", args, expireUnit{}) }
func cmdPSetEx(c *Client, args [][]byte) { setWithTTL(c, "psetex", args, expireUnit{ms: true}) }

func setWithTTL(c *Client, cmd string, args [][]byte, u expireUnit) {
	exp, msg := parseExpireArg(cmd, args[2], u)
	if msg != "" {
		c.w.Error(msg)
		return
	}
	_, err := c.store.Set(c.db, args[1], args[3], engine.SetArgs{Expiry: exp})
	if c.ok(cmd, err) {
		c.w.OK()
	}
}

func cmdGetSet(c *Client, args [][]byte) {
	res, err := c.store.Set(c.db, args[1], args[2], engine.SetArgs{Get: true})
	if c.ok("getset", err) {
		c.bulkOrNull(res.Old, res.HadOld)
	}
}

func cmdGetDel(c *Client, args [][]byte) {
	v, found, err := c.store.GetDel(c.db, args[1])
	if !c.ok("getdel", err) {
		return
	}
	c.srv.stats.lookup(found)
	c.bulkOrNull(v, found)
}

func cmdGetEx(c *Client, args [][]byte) {
	o, msg := parseStringOptions("getex", args[2:], false)
	if msg != "" {
		c.w.Error(msg)
		return
	}
	if o.hasExpire {
		// Redis looks the key up and checks its type before it validates
		// the expire argument: a missing key answers null even for EX 0.
		if _, msg := parseExpireArg("getex", o.expireArg, o.unit); msg != "" {
			v, found, err := c.store.Get(c.db, args[1])
			switch {
			case err != nil:
				c.replyErr("getex", err)
			case !found:
				c.bulkOrNull(v, found)
			default:
				c.w.Error(msg)
			}
			return
		}
	}
	exp, ok := o.expiryOrReply(c, "getex")
	if !ok {
		return
	}
	v, found, err := c.store.GetEx(c.db, args[1], exp)
	if !c.ok("getex", err) {
		return
	}
	c.srv.stats.lookup(found)
	c.bulkOrNull(v, found)
}

func cmdMGet(c *Client, args [][]byte) {
	vals, err := c.store.MGet(c.db, args[1:])
	if !c.ok("mget", err) {
		return
	}
	c.w.Array(len(vals))
	for _, v := range vals {
		c.srv.stats.lookup(v != nil)
		c.bulkOrNull(v, v != nil)
	}
}

func cmdMSet(c *Client, args [][]byte) {
	if len(args)%2 == 0 {
		c.w.Error(protocol.ErrWrongArity("mset"))
		return
	}
	if _, err := c.store.MSet(c.db, args[1:], false); c.ok("mset", err) {
		c.w.OK()
	}
}

func cmdMSetNX(c *Client, args [][]byte) {
	if len(args)%2 == 0 {
		c.w.Error(protocol.ErrWrongArity("msetnx"))
		return
	}
	done, err := c.store.MSet(c.db, args[1:], true)
	if c.ok("msetnx", err) {
		c.w.Bool01(done)
	}
}

func cmdIncr(c *Client, args [][]byte) { incrBy(c, "incr", args[1], 1) }
func cmdDecr(c *Client, args [][]byte) { incrBy(c, "decr", args[1], -1) }

func cmdIncrBy(c *Client, args [][]byte) {
	n, ok := redisnum.ParseInt(args[2])
	if !ok {
		c.w.Error(protocol.ErrNotInteger)
		return
	}
	incrBy(c, "incrby", args[1], n)
}

func cmdDecrBy(c *Client, args [][]byte) {
	n, ok := redisnum.ParseInt(args[2])
	if !ok {
		c.w.Error(protocol.ErrNotInteger)
		return
	}
	if n == math.MinInt64 {
		c.w.Error("ERR decrement would overflow")
		return
	}
	incrBy(c, "decrby", args[1], -n)
}

func incrBy(c *Client, cmd string, key []byte, delta int64) {
	n, err := c.store.IncrBy(c.db, key, delta)
	if c.ok(cmd, err) {
		c.w.Int(n)
	}
}

func cmdIncrByFloat(c *Client, args [][]byte) {
	v, err := c.store.IncrByFloat(c.db, args[1], args[2])
	if c.ok("incrbyfloat", err) {
		c.w.Bulk(v)
	}
}

func cmdAppend(c *Client, args [][]byte) {
	n, err := c.store.Append(c.db, args[1], args[2])
	if c.ok("append", err) {
		c.w.Int(n)
	}
}

func cmdStrlen(c *Client, args [][]byte) {
	n, err := c.store.Strlen(c.db, args[1])
	if c.ok("strlen", err) {
		c.w.Int(n)
	}
}

func cmdGetRange(c *Client, args [][]byte) {
	start, end, ok := c.parseIntPairOrReply(args[2], args[3])
	if !ok {
		return
	}
	v, err := c.store.GetRange(c.db, args[1], start, end)
	if c.ok("getrange", err) {
		c.w.Bulk(v)
	}
}

func cmdSetRange(c *Client, args [][]byte) {
	off, ok := redisnum.ParseInt(args[2])
	if !ok {
		c.w.Error(protocol.ErrNotInteger)
		return
	}
	if off < 0 {
		c.w.Error(protocol.ErrOffsetOutOfRange)
		return
	}
	n, err := c.store.SetRange(c.db, args[1], off, args[3])
	if c.ok("setrange", err) {
		c.w.Int(n)
	}
}

func cmdDigest(c *Client, args [][]byte) {
	d, found, err := c.store.DigestOf(c.db, args[1])
	if c.ok("digest", err) {
		c.bulkOrNull([]byte(d), found)
	}
}
