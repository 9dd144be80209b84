package server

import (
	"bytes"
	"math"
	"strconv"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// Keyspace (generic) commands: deletion, existence, TTLs, iteration,
// renaming and moving keys between databases.

func (s *Server) keyspaceCommands() []*Command {
	gen := func(name string, arity int, flags Flags, first, last, step int, h Handler, since, summary string) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: step, Group: "generic", Since: since, Summary: summary, Handler: h}
	}
	const w, r, f = FlagWrite, FlagReadOnly, FlagFast
	return []*Command{
		gen("del", -2, w, 1, -1, 1, cmdDel, "1.0.0", "Deletes one or more keys."),
		gen("unlink", -2, w|f, 1, -1, 1, cmdDel, "4.0.0", "Asynchronously deletes one or more keys."),
		gen("exists", -2, r|f, 1, -1, 1, cmdExists, "1.0.0", "Determines whether one or more keys exist."),
		gen("touch", -2, r|f, 1, -1, 1, cmdExists, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
		gen("type", 2, r|f, 1, 1, 1, cmdType, "1.0.0", "Determines the type of value stored at a key."),
		gen("expire", -3, w|f, 1, 1, 1, expireCmd("expire", expireUnit{}), "1.0.0", "Sets the expiration time of a key in seconds."),
		gen("pexpire", -3, w|f, 1, 1, 1, expireCmd("pexpire", expireUnit{ms: true}), "2.6.0", "Sets the expiration time of a key in milliseconds."),
		gen("expireat", -3, w|f, 1, 1, 1, expireCmd("expireat", expireUnit{absolute: true}), "1.2.0", "Sets the expiration time of a key to a Unix timestamp."),
		gen("pexpireat", -3, w|f, 1, 1, 1, expireCmd("pexpireat", expireUnit{ms: true, absolute: true}), "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
		gen("ttl", 2, r|f, 1, 1, 1, ttlCmd(false, false), "1.0.0", "Returns the expiration time in seconds of a key."),
		gen("pttl", 2, r|f, 1, 1, 1, ttlCmd(true, false), "2.6.0", "Returns the expiration time in milliseconds of a key."),
		gen("expiretime", 2, r|f, 1, 1, 1, ttlCmd(false, true), "7.0.0", "Returns the expiration time of a key as a Unix timestamp."),
		gen("pexpiretime", 2, r|f, 1, 1, 1, ttlCmd(true, true), "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
		gen("persist", 2, w|f, 1, 1, 1, cmdPersist, "2.2.0", "Removes the expiration time of a key."),
		gen("keys", 2, r, 0, 0, 0, cmdKeys, "1.0.0", "Returns all key names that match a pattern."),
		gen("scan", -2, r, 0, 0, 0, cmdScan, "2.8.0", "Iterates over the key names in the database."),
		gen("randomkey", 1, r, 0, 0, 0, cmdRandomKey, "1.0.0", "Returns a random key name from the database."),
		gen("rename", 3, w, 1, 2, 1, cmdRename, "1.0.0", "Renames a key and overwrites the destination."),
		gen("renamenx", 3, w|f, 1, 2, 1, cmdRenameNX, "1.0.0", "Renames a key only when the target key name doesn't exist."),
		gen("copy", -3, w, 1, 2, 1, cmdCopy, "6.2.0", "Copies the value of a key to a new key."),
		gen("move", 3, w|f, 1, 1, 1, cmdMove, "1.0.0", "Moves a key to another database."),
		gen("swapdb", 3, w|f, 0, 0, 0, cmdSwapDB, "4.0.0", "Swaps two Redis databases."),
		gen("delex", -2, w|f, 1, 1, 1, cmdDelEx, "8.4.0", "Conditionally removes the specified key based on value or digest comparison."),
		gen("delifeq", 3, w|f, 1, 1, 1, cmdDelIfEq, "9.0.0", "Deletes the key if its value equals the given value (Valkey)."),
	}
}

func cmdDel(c *Client, args [][]byte) {
	n, err := c.store.Del(c.db, args[1:])
	if c.ok("del", err) {
		c.w.Int(n)
	}
}

func cmdExists(c *Client, args [][]byte) {
	n, err := c.store.Exists(c.db, args[1:])
	if c.ok("exists", err) {
		c.w.Int(n)
	}
}

func cmdType(c *Client, args [][]byte) {
	k, err := c.store.Type(c.db, args[1])
	if c.ok("type", err) {
		c.w.Status(k.String())
	}
}

// expireCmd builds EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT, which differ only
// in unit and base time (Redis's expireGenericCommand).
func expireCmd(name string, u expireUnit) Handler {
	return func(c *Client, args [][]byte) {
		var cond engine.ExpireCond
		for _, opt := range args[3:] {
			switch {
			case protocol.EqualFold(opt, "NX"):
				cond |= engine.ExpireNX
			case protocol.EqualFold(opt, "XX"):
				cond |= engine.ExpireXX
			case protocol.EqualFold(opt, "GT"):
				cond |= engine.ExpireGT
			case protocol.EqualFold(opt, "LT"):
				cond |= engine.ExpireLT
			default:
				c.w.Error("ERR Unsupported option " + string(opt))
				return
			}
		}
		if cond&engine.ExpireNX != 0 && cond&(engine.ExpireXX|engine.ExpireGT|engine.ExpireLT) != 0 {
			c.w.Error(protocol.ErrNXXXIncompat)
			return
		}
		if cond&engine.ExpireGT != 0 && cond&engine.ExpireLT != 0 {
			c.w.Error(protocol.ErrGTLTIncompat)
			return
		}
		n, ok := redisnum.ParseInt(args[2])
		if !ok {
			c.w.Error(protocol.ErrNotInteger)
			return
		}
		if !u.ms {
			if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
				c.w.Error(protocol.ErrInvalidExpire(name))
				return
			}
			n *= 1000
		}
		e := engine.Expiry{Mode: engine.ExpiryIn, Ms: n}
		if u.absolute {
			e.Mode = engine.ExpiryAt
		}
		set, err := c.store.Expire(c.db, args[1], e, cond)
		if c.ok(name, err) {
			c.w.Bool01(set)
		}
	}
}

// ttlCmd builds TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for a missing key,
// -1 for one without a TTL.
func ttlCmd(ms, absolute bool) Handler {
	return func(c *Client, args [][]byte) {
		deadline, remaining, exists, err := c.store.Deadline(c.db, args[1])
		if !c.ok("ttl", err) {
			return
		}
		switch {
		case !exists:
			c.w.Int(-2)
		case deadline == 0:
			c.w.Int(-1)
		case absolute && ms:
			c.w.Int(deadline)
		case absolute:
			c.w.Int(deadline / 1000)
		case ms:
			c.w.Int(max(remaining, 0))
		default:
			c.w.Int((max(remaining, 0) + 500) / 1000)
		}
	}
}

func cmdPersist(c *Client, args [][]byte) {
	done, err := c.store.Persist(c.db, args[1])
	if c.ok("persist", err) {
		c.w.Bool01(done)
	}
}

// literalPrefix is the part of a glob pattern before its first special
// character: every match starts with it, so iteration can seek to it.
func literalPrefix(pattern []byte) []byte {
	if i := bytes.IndexAny(pattern, `*?[\`); i >= 0 {
		return pattern[:i]
	}
	return pattern
}

func matcher(pattern []byte) func([]byte) bool {
	if len(pattern) == 1 && pattern[0] == '*' {
		return nil
	}
	return func(key []byte) bool { return protocol.Match(pattern, key) }
}

func cmdKeys(c *Client, args [][]byte) {
	keys, err := c.store.Keys(c.db, literalPrefix(args[1]), engine.ScanFilter{Match: matcher(args[1])})
	if c.ok("keys", err) {
		c.w.BulkArray(keys)
	}
}

func cmdScan(c *Client, args [][]byte) {
	cursor, ok := parseCursor(args[1])
	if !ok {
		c.w.Error(protocol.ErrInvalidCursor)
		return
	}
	o, msg := parseScanOptions(args[2:], true)
	if msg != "" {
		c.w.Error(msg)
		return
	}
	keys, next, err := c.store.Scan(c.db, c.srv.cursors.load(cursor), o.count, o.filter())
	if !c.ok("scan", err) {
		return
	}
	var nextID uint64
	if next != nil {
		nextID = c.srv.cursors.save(next)
	}
	c.w.Array(2)
	c.w.BulkString(strconv.FormatUint(nextID, 10))
	c.w.BulkArray(keys)
}

func cmdRandomKey(c *Client, args [][]byte) {
	k, found, err := c.store.RandomKey(c.db)
	if c.ok("randomkey", err) {
		c.bulkOrNull(k, found)
	}
}

func cmdRename(c *Client, args [][]byte) {
	if _, err := c.store.Rename(c.db, args[1], args[2], false); c.ok("rename", err) {
		c.w.OK()
	}
}

func cmdRenameNX(c *Client, args [][]byte) {
	done, err := c.store.Rename(c.db, args[1], args[2], true)
	if c.ok("renamenx", err) {
		c.w.Bool01(done)
	}
}

// parseDBIndexOrReply parses a database number as getIntFromObjectOrReply
// then selectDb do: not an integer, then out of range.
func (c *Client) parseDBIndexOrReply(arg []byte, notInt string) (int, bool) {
	n, ok := redisnum.ParseInt(arg)
	if !ok || n < math.MinInt32 || n > math.MaxInt32 {
		c.w.Error(notInt)
		return 0, false
	}
	if n < 0 || n >= int64(c.store.Databases()) {
		c.w.Error(protocol.ErrDBIndex)
		return 0, false
	}
	return int(n), true
}

func cmdCopy(c *Client, args [][]byte) {
	dst, replace := c.db, false
	for i := 3; i < len(args); i++ {
		switch {
		case protocol.EqualFold(args[i], "REPLACE"):
			replace = true
		case protocol.EqualFold(args[i], "DB") && i+1 < len(args):
			n, ok := c.parseDBIndexOrReply(args[i+1], protocol.ErrNotInteger)
			if !ok {
				return
			}
			dst = n
			i++
		default:
			c.w.Error(protocol.ErrSyntax)
			return
		}
	}
	done, err := c.store.Copy(c.db, args[1], dst, args[2], replace)
	if c.ok("copy", err) {
		c.w.Bool01(done)
	}
}

func cmdMove(c *Client, args [][]byte) {
	dst, ok := c.parseDBIndexOrReply(args[2], protocol.ErrNotInteger)
	if !ok {
		return
	}
	done, err := c.store.Move(c.db, args[1], dst)
	if c.ok("move", err) {
		c.w.Bool01(done)
	}
}

func cmdSwapDB(c *Client, args [][]byte) {
	a, ok := c.parseDBIndexOrReply(args[1], "ERR invalid first DB index")
	if !ok {
		return
	}
	b, ok := c.parseDBIndexOrReply(args[2], "ERR invalid second DB index")
	if !ok {
		return
	}
	if err := c.store.SwapDB(a, b); c.ok("swapdb", err) {
		c.w.OK()
	}
}

// cmdDelEx is Redis 8.4's DELEX key [IFEQ v | IFNE v | IFDEQ d | IFDNE d].
func cmdDelEx(c *Client, args [][]byte) {
	cond, match := engine.CondNone, []byte(nil)
	switch len(args) {
	case 2:
	case 4:
		if cond = ifCond(args[2]); cond == engine.CondNone {
			c.w.Error(protocol.ErrSyntax)
			return
		}
		match = args[3]
	default:
		c.w.Error(protocol.ErrWrongArity("delex"))
		return
	}
	done, err := c.store.DelIf(c.db, args[1], cond, match)
	if c.ok("delex", err) {
		c.w.Bool01(done)
	}
}

// cmdDelIfEq is Valkey 9's DELIFEQ key value, for owner-safe lock release.
func cmdDelIfEq(c *Client, args [][]byte) {
	done, err := c.store.DelIf(c.db, args[1], engine.CondIfEq, args[2])
	if c.ok("delifeq", err) {
		c.w.Bool01(done)
	}
}
