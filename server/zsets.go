package server

import (
	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
	"math"
	"strconv"
)

// Sorted set commands. Storage semantics live in engine/zsets*.go; these
// handlers parse arguments in Redis's order (so that the same error wins)
// and write replies. Ranges are in zsets_range.go, set operations in
// zsets_setops.go.

func (s *Server) zsetCommands() []*Command {
	z := func(name string, arity int, flags Flags, first, last, step int, h Handler, since, summary string) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: step, Group: "sorted-set", Since: since, Summary: summary, Handler: h}
	}
	const w, r, f, b = FlagWrite, FlagReadOnly, FlagFast, FlagBlocking
	return []*Command{
		z("zadd", -4, w|f, 1, 1, 1, cmdZAdd, "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
		z("zincrby", 4, w|f, 1, 1, 1, cmdZIncrBy, "1.2.0", "Increments the score of a member in a sorted set."),
		z("zrem", -3, w|f, 1, 1, 1, cmdZRem, "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
		z("zscore", 3, r|f, 1, 1, 1, cmdZScore, "1.2.0", "Returns the score of a member in a sorted set."),
		z("zmscore", -3, r|f, 1, 1, 1, cmdZMScore, "6.2.0", "Returns the score of one or more members in a sorted set."),
		z("zcard", 2, r|f, 1, 1, 1, cmdZCard, "1.2.0", "Returns the number of members in a sorted set."),
		z("zcount", 4, r|f, 1, 1, 1, cmdZCount, "2.0.0", "Returns the count of members in a sorted set that have scores within a range."),
		z("zlexcount", 4, r|f, 1, 1, 1, cmdZLexCount, "2.8.9", "Returns the number of members in a sorted set within a lexicographical range."),
		z("zrange", -4, r, 1, 1, 1, cmdZRange, "1.2.0", "Returns members in a sorted set within a range of indexes."),
		z("zrangebyscore", -4, r, 1, 1, 1, cmdZRangeByScore, "1.0.5", "Returns members in a sorted set within a range of scores."),
		z("zrevrangebyscore", -4, r, 1, 1, 1, cmdZRevRangeByScore, "2.2.0", "Returns members in a sorted set within a range of scores in reverse order."),
		z("zrangebylex", -4, r, 1, 1, 1, cmdZRangeByLex, "2.8.9", "Returns members in a sorted set within a lexicographical range."),
		z("zrevrangebylex", -4, r, 1, 1, 1, cmdZRevRangeByLex, "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order."),
		z("zrevrange", -4, r, 1, 1, 1, cmdZRevRange, "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order."),
		z("zrangestore", -5, w, 1, 2, 1, cmdZRangeStore, "6.2.0", "Stores a range of members from sorted set in a key."),
		z("zrank", 3, r|f, 1, 1, 1, cmdZRank, "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores."),
		z("zrevrank", 3, r|f, 1, 1, 1, cmdZRevRank, "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores."),
		z("zremrangebyscore", 4, w, 1, 1, 1, cmdZRemRangeByScore, "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
		z("zremrangebyrank", 4, w, 1, 1, 1, cmdZRemRangeByRank, "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
		z("zremrangebylex", 4, w, 1, 1, 1, cmdZRemRangeByLex, "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
		z("zpopmin", -2, w|f, 1, 1, 1, cmdZPopMin, "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
		z("zpopmax", -2, w|f, 1, 1, 1, cmdZPopMax, "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
		z("bzpopmin", -3, w|f|b|FlagNoScript, 1, -2, 1, cmdBZPopMin, "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
		z("bzpopmax", -3, w|f|b|FlagNoScript, 1, -2, 1, cmdBZPopMax, "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped."),
		z("zmpop", -4, w, 0, 0, 0, cmdZMPop, "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."),
		z("bzmpop", -5, w|b, 0, 0, 0, cmdBZMPop, "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
		z("zrandmember", -2, r, 1, 1, 1, cmdZRandMember, "6.2.0", "Returns one or more random members from a sorted set."),
		z("zunion", -3, r, 0, 0, 0, setOpCmd("zunion", engine.ZOpUnion, false), "6.2.0", "Returns the union of multiple sorted sets."),
		z("zinter", -3, r, 0, 0, 0, setOpCmd("zinter", engine.ZOpInter, false), "6.2.0", "Returns the intersect of multiple sorted sets."),
		z("zdiff", -3, r, 0, 0, 0, setOpCmd("zdiff", engine.ZOpDiff, false), "6.2.0", "Returns the difference between multiple sorted sets."),
		z("zunionstore", -4, w, 1, 1, 1, setOpCmd("zunionstore", engine.ZOpUnion, true), "2.0.0", "Stores the union of multiple sorted sets in a key."),
		z("zinterstore", -4, w, 1, 1, 1, setOpCmd("zinterstore", engine.ZOpInter, true), "2.0.0", "Stores the intersect of multiple sorted sets in a key."),
		z("zdiffstore", -4, w, 1, 1, 1, setOpCmd("zdiffstore", engine.ZOpDiff, true), "6.2.0", "Stores the difference of multiple sorted sets in a key."),
		z("zintercard", -3, r, 0, 0, 0, cmdZInterCard, "7.0.0", "Returns the number of members of the intersect of multiple sorted sets."),
		z("zscan", -3, r, 1, 1, 1, cmdZScan, "2.8.0", "Iterates over members and scores of a sorted set."),
	}
}

// zaddArgs are ZADD's options, parsed.
type zaddArgs struct {
	flags engine.ZAddFlags
	ch    bool
	pairs []engine.ZMember
}

// parseZAdd parses ZADD's arguments after the key as zaddGenericCommand
// does (ZINCRBY is ZADD with INCR, parsed the same way). It returns an error
// text, or "".
func parseZAdd(args [][]byte, flags engine.ZAddFlags) (zaddArgs, string) {
	a := zaddArgs{flags: flags}
	i := 0
options:
	for ; i < len(args); i++ {
		switch opt := args[i]; {
		case protocol.EqualFold(opt, "NX"):
			a.flags |= engine.ZAddNX
		case protocol.EqualFold(opt, "XX"):
			a.flags |= engine.ZAddXX
		case protocol.EqualFold(opt, "CH"):
			a.ch = true
		case protocol.EqualFold(opt, "INCR"):
			a.flags |= engine.ZAddIncr
		case protocol.EqualFold(opt, "GT"):
			a.flags |= engine.ZAddGT
		case protocol.EqualFold(opt, "LT"):
			a.flags |= engine.ZAddLT
		default:
			break options
		}
	}
	rest := args[i:]
	if len(rest) == 0 || len(rest)%2 != 0 {
		return a, protocol.ErrSyntax
	}
	has := func(f engine.ZAddFlags) bool { return a.flags&f != 0 }
	switch {
	case has(engine.ZAddNX) && has(engine.ZAddXX):
		return a, protocol.ErrZXXNX
	case has(engine.ZAddNX) && (has(engine.ZAddGT) || has(engine.ZAddLT)), has(engine.ZAddGT) && has(engine.ZAddLT):
		return a, protocol.ErrZGTLTNX
	case has(engine.ZAddIncr) && len(rest) > 2:
		return a, protocol.ErrZIncrPair
	}
	a.pairs = make([]engine.ZMember, len(rest)/2)
	for j := range a.pairs {
		score, ok := redisnum.ParseFloat(rest[2*j])
		if !ok {
			return a, protocol.ErrNotFloat
		}
		a.pairs[j] = engine.ZMember{Score: score, Member: rest[2*j+1]}
	}
	return a, ""
}

func cmdZAdd(c *Client, args [][]byte)    { zadd(c, "zadd", args, 0) }
func cmdZIncrBy(c *Client, args [][]byte) { zadd(c, "zincrby", args, engine.ZAddIncr) }

func zadd(c *Client, cmd string, args [][]byte, flags engine.ZAddFlags) {
	a, msg := parseZAdd(args[2:], flags)
	if msg != "" {
		c.w.Error(msg)
		return
	}
	res, err := c.store.ZAdd(c.db, args[1], a.flags, a.pairs)
	if !c.ok(cmd, err) {
		return
	}
	switch {
	case a.flags&engine.ZAddIncr == 0 && a.ch:
		c.w.Int(res.Added + res.Updated)
	case a.flags&engine.ZAddIncr == 0:
		c.w.Int(res.Added)
	case res.Processed:
		c.w.Double(res.Score)
	default:
		c.w.Null()
	}
}

func cmdZRem(c *Client, args [][]byte) {
	n, err := c.store.ZRem(c.db, args[1], args[2:])
	if c.ok("zrem", err) {
		c.w.Int(n)
	}
}

func cmdZScore(c *Client, args [][]byte) {
	score, found, err := c.store.ZScore(c.db, args[1], args[2])
	if !c.ok("zscore", err) {
		return
	}
	if !found {
		c.w.Null()
		return
	}
	c.w.Double(score)
}

func cmdZMScore(c *Client, args [][]byte) {
	scores, found, err := c.store.ZMScore(c.db, args[1], args[2:])
	if !c.ok("zmscore", err) {
		return
	}
	c.w.Array(len(scores))
	for i, s := range scores {
		if found[i] {
			c.w.Double(s)
		} else {
			c.w.Null()
		}
	}
}

func cmdZCard(c *Client, args [][]byte) {
	n, err := c.store.ZCard(c.db, args[1])
	if c.ok("zcard", err) {
		c.w.Int(n)
	}
}

func cmdZRank(c *Client, args [][]byte)    { zrank(c, "zrank", args, false) }
func cmdZRevRank(c *Client, args [][]byte) { zrank(c, "zrevrank", args, true) }

func zrank(c *Client, cmd string, args [][]byte, rev bool) {
	rank, found, err := c.store.ZRank(c.db, args[1], args[2], rev)
	if !c.ok(cmd, err) {
		return
	}
	if !found {
		c.w.Null()
		return
	}
	c.w.Int(rank)
}

// writeScored writes members as ZRANGE does: members alone, or with their
// scores, flat in RESP2 and as [member, score] pairs in RESP3.
func (c *Client) writeScored(ms []engine.ZMember, withScores bool) {
	c.writeMembers(ms, withScores, withScores && c.w.Proto() >= 3)
}

// writeMembers writes members, each followed by its score when withScores;
// nested puts each member and score in an array of their own.
func (c *Client) writeMembers(ms []engine.ZMember, withScores, nested bool) {
	n := len(ms)
	if withScores && !nested {
		n *= 2
	}
	c.w.Array(n)
	for _, m := range ms {
		if nested {
			c.w.Array(2)
		}
		c.w.Bulk(m.Member)
		if withScores {
			c.w.Double(m.Score)
		}
	}
}

func cmdZRandMember(c *Client, args [][]byte) {
	if len(args) == 2 {
		ms, _, err := c.store.ZRandMember(c.db, args[1], 1, true)
		if !c.ok("zrandmember", err) {
			return
		}
		if len(ms) == 0 {
			c.w.Null()
			return
		}
		c.w.Bulk(ms[0].Member)
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
	withScores := len(args) == 4
	if len(args) > 4 || (withScores && !protocol.EqualFold(args[3], "WITHSCORES")) {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	if withScores && (count < -math.MaxInt64/2 || count > math.MaxInt64/2) {
		c.w.Error(protocol.ErrOutOfRange)
		return
	}
	unique := count >= 0
	if count < 0 {
		count = -count
	}
	ms, _, err := c.store.ZRandMember(c.db, args[1], count, unique)
	if c.ok("zrandmember", err) {
		c.writeScored(ms, withScores)
	}
}

// zscanScore formats a score as ZSCAN shows it: a compact (listpack) set
// stores integral scores as integers; otherwise as %.17g.
func zscanScore(f float64, compact bool) []byte {
	if compact && f >= -math.MaxInt64/2 && f <= math.MaxInt64/2 && f == math.Trunc(f) {
		return strconv.AppendInt(nil, int64(f), 10)
	}
	return redisnum.FormatFloat(nil, f)
}

func cmdZScan(c *Client, args [][]byte) {
	cursor, ok := parseCursor(args[2])
	if !ok {
		c.w.Error(protocol.ErrInvalidCursor)
		return
	}
	o, msg := parseScanOptions(args[3:], false)
	count, match := o.count, o.match
	if msg != "" {
		// Redis looks the key up before it reads the options.
		switch k, err := c.store.Type(c.db, args[1]); {
		case err != nil:
			c.replyErr("zscan", err)
		case k == engine.KindNone:
			c.writeZScan(0, nil, false)
		case k != engine.KindZSet:
			c.w.Error(protocol.ErrWrongType)
		default:
			c.w.Error(msg)
		}
		return
	}
	res, err := c.store.ZScan(c.db, args[1], c.srv.cursors.load(cursor), count, match)
	if !c.ok("zscan", err) {
		return
	}
	var next uint64
	if res.Next != nil {
		next = c.srv.cursors.save(res.Next)
	}
	c.writeZScan(next, res.Members, res.Compact)
}

func (c *Client) writeZScan(next uint64, ms []engine.ZMember, compact bool) {
	c.w.Array(2)
	c.w.BulkString(strconv.FormatUint(next, 10))
	c.w.Array(2 * len(ms))
	for _, m := range ms {
		c.w.Bulk(m.Member)
		c.w.Bulk(zscanScore(m.Score, compact))
	}
}
