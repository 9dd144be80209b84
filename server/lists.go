package server

import (
	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// List commands. Storage semantics live in engine/lists.go and
// engine/lists_range.go; the blocking commands are in lists_blocking.go.

func (s *Server) listCommands() []*Command {
	list := func(name string, arity int, flags Flags, first, last, step int, h Handler, since, summary string) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: step, Group: "list", Since: since, Summary: summary, Handler: h}
	}
	const w, r, f, b, ns = FlagWrite, FlagReadOnly, FlagFast, FlagBlocking, FlagNoScript
	return []*Command{
		list("lpush", -3, w|f, 1, 1, 1, pushCmd("lpush", engine.ListLeft, false), "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
		list("rpush", -3, w|f, 1, 1, 1, pushCmd("rpush", engine.ListRight, false), "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
		list("lpushx", -3, w|f, 1, 1, 1, pushCmd("lpushx", engine.ListLeft, true), "2.2.0", "Prepends one or more elements to a list only when the list exists."),
		list("rpushx", -3, w|f, 1, 1, 1, pushCmd("rpushx", engine.ListRight, true), "2.2.0", "Appends an element to a list only when the list exists."),
		list("lpop", -2, w|f, 1, 1, 1, popCmd("lpop", engine.ListLeft), "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
		list("rpop", -2, w|f, 1, 1, 1, popCmd("rpop", engine.ListRight), "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
		list("llen", 2, r|f, 1, 1, 1, cmdLLen, "1.0.0", "Returns the length of a list."),
		list("lrange", 4, r, 1, 1, 1, cmdLRange, "1.0.0", "Returns a range of elements from a list."),
		list("lindex", 3, r, 1, 1, 1, cmdLIndex, "1.0.0", "Returns an element from a list by its index."),
		list("lset", 4, w, 1, 1, 1, cmdLSet, "1.0.0", "Sets the value of an element in a list by its index."),
		list("linsert", 5, w, 1, 1, 1, cmdLInsert, "2.2.0", "Inserts an element before or after another element in a list."),
		list("lrem", 4, w, 1, 1, 1, cmdLRem, "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed."),
		list("ltrim", 4, w, 1, 1, 1, cmdLTrim, "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
		list("lpos", -3, r, 1, 1, 1, cmdLPos, "6.0.6", "Returns the index of matching elements in a list."),
		list("lmove", 5, w, 1, 2, 1, cmdLMove, "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
		list("rpoplpush", 3, w, 1, 2, 1, cmdRPopLPush, "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
		// LMPOP and BLMPOP find their keys from numkeys; like Redis's
		// COMMAND INFO (movablekeys) they declare no fixed key positions.
		// Pops never make a key ready, so dispatch need not signal them.
		list("lmpop", -4, w, 0, 0, 0, cmdLMPop, "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."),
		list("blpop", -3, w|ns|b, 1, -2, 1, blockingPopCmd("blpop", engine.ListLeft), "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
		list("brpop", -3, w|ns|b, 1, -2, 1, blockingPopCmd("brpop", engine.ListRight), "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
		list("blmove", 6, w|ns|b, 1, 2, 1, cmdBLMove, "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
		list("brpoplpush", 4, w|ns|b, 1, 2, 1, cmdBRPopLPush, "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
		list("blmpop", -5, w|b, 0, 0, 0, cmdBLMPop, "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
	}
}

// parseListEnd parses LEFT or RIGHT.
func parseListEnd(arg []byte) (engine.ListEnd, bool) {
	switch {
	case protocol.EqualFold(arg, "LEFT"):
		return engine.ListLeft, true
	case protocol.EqualFold(arg, "RIGHT"):
		return engine.ListRight, true
	}
	return 0, false
}

// parseListEnds parses LMOVE's and BLMOVE's wherefrom and whereto.
func parseListEnds(a, b []byte) (from, to engine.ListEnd, ok bool) {
	from, ok1 := parseListEnd(a)
	to, ok2 := parseListEnd(b)
	return from, to, ok1 && ok2
}

// pushCmd builds LPUSH, RPUSH, LPUSHX and RPUSHX.
func pushCmd(name string, end engine.ListEnd, onlyIfExists bool) Handler {
	return func(c *Client, args [][]byte) {
		n, err := c.store.ListPush(c.db, args[1], end, args[2:], onlyIfExists)
		if c.ok(name, err) {
			c.w.Int(n)
		}
	}
}

// popCmd builds LPOP and RPOP. Without a count the reply is one element
// (null when missing); with one it is an array (a null array when missing).
func popCmd(name string, end engine.ListEnd) Handler {
	return func(c *Client, args [][]byte) {
		if len(args) > 3 {
			c.w.Error(protocol.ErrWrongArity(name))
			return
		}
		withCount := len(args) == 3
		count := int64(1)
		if withCount {
			var ok bool
			if count, ok = redisnum.ParseInt(args[2]); !ok || count < 0 {
				c.w.Error(protocol.ErrMustBePositive)
				return
			}
		}
		elems, exists, err := c.store.ListPop(c.db, args[1], end, count)
		switch {
		case !c.ok(name, err):
		case !exists && withCount:
			c.w.NullArray()
		case !exists:
			c.w.Null()
		case withCount:
			c.w.BulkArray(elems)
		default:
			c.w.Bulk(elems[0])
		}
	}
}

func cmdLLen(c *Client, args [][]byte) {
	n, err := c.store.LLen(c.db, args[1])
	if c.ok("llen", err) {
		c.srv.stats.lookup(n > 0)
		c.w.Int(n)
	}
}

func cmdLRange(c *Client, args [][]byte) {
	start, stop, ok := c.parseIntPairOrReply(args[2], args[3])
	if !ok {
		return
	}
	elems, exists, err := c.store.LRange(c.db, args[1], start, stop)
	if c.ok("lrange", err) {
		c.srv.stats.lookup(exists)
		c.w.BulkArray(elems)
	}
}

// indexOrReply parses LINDEX's and LSET's index. Redis looks the key up
// before it parses the index, so a bad index on a missing key or one of
// another type answers as the lookup does: missing is the caller's reply.
func indexOrReply(c *Client, name string, key, arg []byte, missing func()) (int64, bool) {
	if i, ok := redisnum.ParseInt(arg); ok {
		return i, true
	}
	k, err := c.store.Type(c.db, key)
	switch {
	case !c.ok(name, err):
	case k == engine.KindNone:
		missing()
	case k != engine.KindList:
		c.w.Error(protocol.ErrWrongType)
	default:
		c.w.Error(protocol.ErrNotInteger)
	}
	return 0, false
}

func cmdLIndex(c *Client, args [][]byte) {
	i, ok := indexOrReply(c, "lindex", args[1], args[2], c.w.Null)
	if !ok {
		return
	}
	v, found, exists, err := c.store.LIndex(c.db, args[1], i)
	if c.ok("lindex", err) {
		c.srv.stats.lookup(exists)
		c.bulkOrNull(v, found)
	}
}

func cmdLSet(c *Client, args [][]byte) {
	i, ok := indexOrReply(c, "lset", args[1], args[2], func() { c.w.Error(protocol.ErrNoSuchKey) })
	if !ok {
		return
	}
	if err := c.store.LSet(c.db, args[1], i, args[3]); c.ok("lset", err) {
		c.w.OK()
	}
}

func cmdLInsert(c *Client, args [][]byte) {
	var after bool
	switch {
	case protocol.EqualFold(args[2], "AFTER"):
		after = true
	case protocol.EqualFold(args[2], "BEFORE"):
	default:
		c.w.Error(protocol.ErrSyntax)
		return
	}
	n, err := c.store.LInsert(c.db, args[1], after, args[3], args[4])
	if c.ok("linsert", err) {
		c.w.Int(n)
	}
}

func cmdLRem(c *Client, args [][]byte) {
	count, ok := redisnum.ParseInt(args[2])
	if !ok {
		c.w.Error(protocol.ErrNotInteger)
		return
	}
	n, err := c.store.LRem(c.db, args[1], count, args[3])
	if c.ok("lrem", err) {
		c.w.Int(n)
	}
}

func cmdLTrim(c *Client, args [][]byte) {
	start, stop, ok := c.parseIntPairOrReply(args[2], args[3])
	if !ok {
		return
	}
	if c.ok("ltrim", c.store.LTrim(c.db, args[1], start, stop)) {
		c.w.OK()
	}
}

// parseLPos parses LPOS's options; msg is the error to reply with.
func parseLPos(opts [][]byte) (a engine.LPosArgs, msg string) {
	a = engine.LPosArgs{Rank: 1, Count: -1}
	for i := 0; i < len(opts); i++ {
		more := i+1 < len(opts)
		switch {
		case protocol.EqualFold(opts[i], "RANK") && more:
			i++
			rank, ok := redisnum.ParseInt(opts[i])
			if !ok {
				return a, protocol.ErrNotInteger
			}
			if rank == 0 {
				return a, protocol.ErrRankZero
			}
			a.Rank = rank
		case protocol.EqualFold(opts[i], "COUNT") && more:
			i++
			n, ok := redisnum.ParseInt(opts[i])
			if !ok || n < 0 {
				return a, protocol.ErrCountNegative
			}
			a.Count = n
		case protocol.EqualFold(opts[i], "MAXLEN") && more:
			i++
			n, ok := redisnum.ParseInt(opts[i])
			if !ok || n < 0 {
				return a, protocol.ErrMaxLenNegative
			}
			a.MaxLen = n
		default:
			return a, protocol.ErrSyntax
		}
	}
	return a, ""
}

func cmdLPos(c *Client, args [][]byte) {
	a, msg := parseLPos(args[3:])
	if msg != "" {
		c.w.Error(msg)
		return
	}
	idx, exists, err := c.store.LPos(c.db, args[1], args[2], a)
	if !c.ok("lpos", err) {
		return
	}
	c.srv.stats.lookup(exists)
	if a.Count >= 0 {
		c.w.Array(len(idx))
		for _, i := range idx {
			c.w.Int(i)
		}
		return
	}
	if len(idx) == 0 {
		c.w.Null()
		return
	}
	c.w.Int(idx[0])
}

func cmdLMove(c *Client, args [][]byte) {
	from, to, ok := parseListEnds(args[3], args[4])
	if !ok {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	lmove(c, "lmove", args[1], args[2], from, to)
}

func cmdRPopLPush(c *Client, args [][]byte) {
	lmove(c, "rpoplpush", args[1], args[2], engine.ListRight, engine.ListLeft)
}

func lmove(c *Client, name string, src, dst []byte, from, to engine.ListEnd) {
	v, ok, err := c.store.LMove(c.db, src, dst, from, to, false)
	if c.ok(name, err) {
		c.bulkOrNull(v, ok)
	}
}

// mpopArgs are LMPOP's and BLMPOP's arguments after the timeout.
type mpopArgs struct {
	keys  [][]byte
	end   engine.ListEnd
	count int64
}

// parseMPop parses "numkeys key [key ...] LEFT|RIGHT [COUNT count]" as
// Redis does, returning the error to reply with when it fails.
func parseMPop(args [][]byte) (a mpopArgs, msg string) {
	numkeys, ok := redisnum.ParseInt(args[0])
	if !ok || numkeys < 1 {
		return a, protocol.ErrNumKeys
	}
	if numkeys >= int64(len(args)-1) {
		return a, protocol.ErrSyntax // no room for LEFT|RIGHT
	}
	a.keys = args[1 : 1+numkeys]
	rest := args[1+numkeys:]
	if a.end, ok = parseListEnd(rest[0]); !ok {
		return a, protocol.ErrSyntax
	}
	a.count = -1
	for i := 1; i < len(rest); i++ {
		if a.count == -1 && protocol.EqualFold(rest[i], "COUNT") && i+1 < len(rest) {
			i++
			if a.count, ok = redisnum.ParseInt(rest[i]); !ok || a.count < 1 {
				return a, protocol.ErrMPopCount
			}
			continue
		}
		return a, protocol.ErrSyntax
	}
	if a.count == -1 {
		a.count = 1
	}
	return a, ""
}

func cmdLMPop(c *Client, args [][]byte) {
	a, msg := parseMPop(args[1:])
	if msg != "" {
		c.w.Error(msg)
		return
	}
	key, elems, err := c.store.ListMPop(c.db, a.keys, a.end, a.count, false)
	if c.ok("lmpop", err) {
		replyMPop(c, key, elems)
	}
}

// replyMPop writes [key, [elements]], or a null array when nothing popped.
func replyMPop(c *Client, key []byte, elems [][]byte) {
	if len(elems) == 0 {
		c.w.NullArray()
		return
	}
	c.w.Array(2)
	c.w.Bulk(key)
	c.w.BulkArray(elems)
}
