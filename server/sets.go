package server

import (
	"math"
	"strconv"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// Set commands. Storage semantics live in engine/sets.go; these handlers
// parse arguments and write replies. Multi-member replies are RESP3 sets,
// except SRANDMEMBER's (an array: with a negative count it may repeat) and
// SMISMEMBER's.

func (s *Server) setCommands() []*Command {
	set := func(name string, arity int, flags Flags, first, last, step int, h Handler, since, summary string) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: step, Group: "set", Since: since, Summary: summary, Handler: h}
	}
	const w, r, f = FlagWrite, FlagReadOnly, FlagFast
	return append([]*Command{
		set("sadd", -3, w|f, 1, 1, 1, cmdSAdd, "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist."),
		set("srem", -3, w|f, 1, 1, 1, cmdSRem, "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed."),
		set("smembers", 2, r, 1, 1, 1, cmdSMembers, "1.0.0", "Returns all members of a set."),
		set("sismember", 3, r|f, 1, 1, 1, cmdSIsMember, "1.0.0", "Determines whether a member belongs to a set."),
		set("smismember", -3, r|f, 1, 1, 1, cmdSMIsMember, "6.2.0", "Determines whether multiple members belong to a set."),
		set("scard", 2, r|f, 1, 1, 1, cmdSCard, "1.0.0", "Returns the number of members in a set."),
		set("spop", -2, w|f, 1, 1, 1, cmdSPop, "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
		set("srandmember", -2, r, 1, 1, 1, cmdSRandMember, "1.0.0", "Get one or multiple random members from a set"),
		set("smove", 4, w|f, 1, 2, 1, cmdSMove, "1.0.0", "Moves a member from one set to another."),
		set("sinter", -2, r, 1, -1, 1, setAlgebraCmd("sinter", engine.SetInter), "1.0.0", "Returns the intersect of multiple sets."),
		set("sunion", -2, r, 1, -1, 1, setAlgebraCmd("sunion", engine.SetUnion), "1.0.0", "Returns the union of multiple sets."),
		set("sdiff", -2, r, 1, -1, 1, setAlgebraCmd("sdiff", engine.SetDiff), "1.0.0", "Returns the difference of multiple sets."),
		set("sinterstore", -3, w, 1, -1, 1, setAlgebraStoreCmd("sinterstore", engine.SetInter), "1.0.0", "Stores the intersect of multiple sets in a key."),
		set("sunionstore", -3, w, 1, -1, 1, setAlgebraStoreCmd("sunionstore", engine.SetUnion), "1.0.0", "Stores the union of multiple sets in a key."),
		set("sdiffstore", -3, w, 1, -1, 1, setAlgebraStoreCmd("sdiffstore", engine.SetDiff), "1.0.0", "Stores the difference of multiple sets in a key."),
		// SINTERCARD's keys move (numkeys): COMMAND INFO shows no positions.
		set("sintercard", -3, r, 0, 0, 0, cmdSInterCard, "7.0.0", "Returns the number of members of the intersect of multiple sets."),
		set("sscan", -3, r, 1, 1, 1, cmdSScan, "2.8.0", "Iterates over members of a set."),
	}, s.sortCommands()...) // SORT and SORT_RO (server/sort.go) are appended here
}

// setMembersReply writes members as a set (RESP3 ~, an array in RESP2).
func (c *Client) setMembersReply(members [][]byte) {
	c.w.Set(len(members))
	for _, m := range members {
		c.w.Bulk(m)
	}
}

func cmdSAdd(c *Client, args [][]byte) {
	n, err := c.store.SAdd(c.db, args[1], args[2:])
	if c.ok("sadd", err) {
		c.w.Int(n)
	}
}

func cmdSRem(c *Client, args [][]byte) {
	n, err := c.store.SRem(c.db, args[1], args[2:])
	if c.ok("srem", err) {
		c.w.Int(n)
	}
}

func cmdSMembers(c *Client, args [][]byte) {
	members, err := c.store.SMembers(c.db, args[1])
	if c.ok("smembers", err) {
		c.setMembersReply(members)
	}
}

func cmdSIsMember(c *Client, args [][]byte) {
	in, err := c.store.SMIsMember(c.db, args[1], args[2:3])
	if c.ok("sismember", err) {
		c.w.Bool01(in[0])
	}
}

func cmdSMIsMember(c *Client, args [][]byte) {
	in, err := c.store.SMIsMember(c.db, args[1], args[2:])
	if !c.ok("smismember", err) {
		return
	}
	c.w.Array(len(in))
	for _, b := range in {
		c.w.Bool01(b)
	}
}

func cmdSCard(c *Client, args [][]byte) {
	n, err := c.store.SCard(c.db, args[1])
	if c.ok("scard", err) {
		c.w.Int(n)
	}
}

// cmdSPop is SPOP key [count]: without a count one member or null, with one
// a set of up to count members.
func cmdSPop(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	if len(args) == 2 {
		members, err := c.store.SPop(c.db, args[1], 1)
		if c.ok("spop", err) {
			c.bulkOrNull(firstMember(members))
		}
		return
	}
	n, ok := redisnum.ParseInt(args[2])
	if !ok || n < 0 {
		c.w.Error(protocol.ErrMustBePositive)
		return
	}
	members, err := c.store.SPop(c.db, args[1], n)
	if c.ok("spop", err) {
		c.setMembersReply(members)
	}
}

// cmdSRandMember is SRANDMEMBER key [count]: without a count one member or
// null; with one an array of up to count distinct members, or of exactly
// -count members that may repeat.
func cmdSRandMember(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	if len(args) == 2 {
		members, err := c.store.SRandMember(c.db, args[1], 1)
		if c.ok("srandmember", err) {
			c.bulkOrNull(firstMember(members))
		}
		return
	}
	n, ok := redisnum.ParseInt(args[2])
	if !ok {
		c.w.Error(protocol.ErrNotInteger)
		return
	}
	if n == math.MinInt64 {
		c.w.Error(protocol.ErrCountRange)
		return
	}
	members, err := c.store.SRandMember(c.db, args[1], n)
	if c.ok("srandmember", err) {
		c.w.BulkArray(members)
	}
}

// firstMember returns the first member, if any.
func firstMember(members [][]byte) ([]byte, bool) {
	if len(members) == 0 {
		return nil, false
	}
	return members[0], true
}

func cmdSMove(c *Client, args [][]byte) {
	moved, err := c.store.SMove(c.db, args[1], args[2], args[3])
	if c.ok("smove", err) {
		c.w.Bool01(moved)
	}
}

// setAlgebraCmd builds SINTER, SUNION and SDIFF.
func setAlgebraCmd(name string, op engine.SetOp) Handler {
	return func(c *Client, args [][]byte) {
		members, err := c.store.SetOp(c.db, op, args[1:])
		if c.ok(name, err) {
			c.setMembersReply(members)
		}
	}
}

// setAlgebraStoreCmd builds SINTERSTORE, SUNIONSTORE and SDIFFSTORE.
func setAlgebraStoreCmd(name string, op engine.SetOp) Handler {
	return func(c *Client, args [][]byte) {
		n, err := c.store.SetOpStore(c.db, op, args[1], args[2:])
		if c.ok(name, err) {
			c.w.Int(n)
		}
	}
}

// cmdSInterCard is SINTERCARD numkeys key [key ...] [LIMIT limit].
func cmdSInterCard(c *Client, args [][]byte) {
	numKeys, ok := redisnum.ParseInt(args[1])
	if !ok || numKeys < 1 {
		c.w.Error(protocol.ErrNumKeys)
		return
	}
	if numKeys > int64(len(args)-2) {
		c.w.Error(protocol.ErrNumKeysArgs)
		return
	}
	keys := args[2 : 2+numKeys]
	var limit int64
	for i := 2 + int(numKeys); i < len(args); i++ {
		if !protocol.EqualFold(args[i], "LIMIT") || i+1 == len(args) {
			c.w.Error(protocol.ErrSyntax)
			return
		}
		i++
		if limit, ok = redisnum.ParseInt(args[i]); !ok || limit < 0 {
			c.w.Error(protocol.ErrLimitNegative)
			return
		}
	}
	n, err := c.store.SInterCard(c.db, keys, limit)
	if c.ok("sintercard", err) {
		c.w.Int(n)
	}
}

// cmdSScan is SSCAN key cursor [MATCH pattern] [COUNT count]. Cursors are
// numbers naming a saved position, as SCAN's are (server/cursors.go). As in
// Redis, a missing key answers an empty scan before the options are looked
// at, and a key of another type WRONGTYPE.
func cmdSScan(c *Client, args [][]byte) {
	cursor, ok := parseCursor(args[2])
	if !ok {
		c.w.Error(protocol.ErrInvalidCursor)
		return
	}
	o, errText := parseScanOptions(args[3:], false)
	count, match := o.count, o.match
	if errText != "" {
		// Redis looks the key up before parsing the options.
		n, err := c.store.SCard(c.db, args[1])
		switch {
		case !c.ok("sscan", err):
		case n == 0:
			c.sscanReply(0, nil)
		default:
			c.w.Error(errText)
		}
		return
	}
	members, next, err := c.store.SScan(c.db, args[1], c.srv.cursors.load(cursor), count, match)
	if !c.ok("sscan", err) {
		return
	}
	var nextID uint64
	if next != nil {
		nextID = c.srv.cursors.save(next)
	}
	c.sscanReply(nextID, members)
}

func (c *Client) sscanReply(cursor uint64, members [][]byte) {
	c.w.Array(2)
	c.w.BulkString(strconv.FormatUint(cursor, 10))
	c.w.BulkArray(members)
}
