package server

import (
	"errors"
	"time"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// ZPOPMIN, ZPOPMAX, ZMPOP and the blocking BZPOPMIN, BZPOPMAX and BZMPOP.

func cmdZPopMin(c *Client, args [][]byte) { zpop(c, "zpopmin", args, false) }
func cmdZPopMax(c *Client, args [][]byte) { zpop(c, "zpopmax", args, true) }

func zpop(c *Client, cmd string, args [][]byte, max bool) {
	if len(args) > 3 {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	count := int64(1)
	if len(args) == 3 {
		n, ok := redisnum.ParseInt(args[2])
		if !ok || n < 0 {
			c.w.Error(protocol.ErrMustBePositive)
			return
		}
		count = n
	}
	res, err := c.store.ZPop(c.db, args[1:2], max, count, false)
	if !c.ok(cmd, err) {
		return
	}
	// With a count, RESP3 gets [member, score] pairs; otherwise the reply
	// is flat.
	c.writeMembers(res.Members, true, len(args) == 3 && c.w.Proto() >= 3)
}

func cmdBZPopMin(c *Client, args [][]byte) { bzpop(c, "bzpopmin", args, false) }
func cmdBZPopMax(c *Client, args [][]byte) { bzpop(c, "bzpopmax", args, true) }

// bzpop is BZPOPMIN/BZPOPMAX key [key ...] timeout: the reply is [key,
// member, score].
func bzpop(c *Client, cmd string, args [][]byte, max bool) {
	timeout, ok := c.parseTimeoutOrReply(args[len(args)-1])
	if !ok {
		return
	}
	res, ok := c.zpopOrBlock(cmd, args[1:len(args)-1], max, 1, timeout)
	if !ok {
		return
	}
	c.w.Array(3)
	c.w.Bulk(res.Key)
	c.w.Bulk(res.Members[0].Member)
	c.w.Double(res.Members[0].Score)
}

// zmpopArgs are ZMPOP's arguments after numkeys' position.
type zmpopArgs struct {
	keys  [][]byte
	max   bool
	count int64
}

// parseZMPop parses numkeys key [key ...] MIN|MAX [COUNT count], as
// zmpopGenericCommand.
func parseZMPop(args [][]byte) (zmpopArgs, string) {
	var a zmpopArgs
	numkeys, ok := redisnum.ParseInt(args[0])
	if !ok || numkeys < 1 {
		return a, protocol.ErrNumKeys
	}
	if numkeys >= int64(len(args)-1) { // no room for MIN|MAX
		return a, protocol.ErrSyntax
	}
	a.keys = args[1 : 1+numkeys]
	rest := args[1+numkeys:]
	switch {
	case protocol.EqualFold(rest[0], "MIN"):
	case protocol.EqualFold(rest[0], "MAX"):
		a.max = true
	default:
		return a, protocol.ErrSyntax
	}
	a.count = -1
	for i := 1; i < len(rest); i++ {
		if a.count != -1 || !protocol.EqualFold(rest[i], "COUNT") || i+1 >= len(rest) {
			return a, protocol.ErrSyntax
		}
		i++
		n, ok := redisnum.ParseInt(rest[i])
		if !ok || n < 1 {
			return a, protocol.ErrMPopCount
		}
		a.count = n
	}
	if a.count == -1 {
		a.count = 1
	}
	return a, ""
}

func cmdZMPop(c *Client, args [][]byte) {
	a, msg := parseZMPop(args[1:])
	if msg != "" {
		c.w.Error(msg)
		return
	}
	res, err := c.store.ZPop(c.db, a.keys, a.max, a.count, false)
	if !c.ok("zmpop", err) {
		return
	}
	if !res.Found {
		c.w.NullArray()
		return
	}
	c.writeZMPop(res)
}

// cmdBZMPop is BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count].
// As in Redis, the timeout is checked after the other arguments.
func cmdBZMPop(c *Client, args [][]byte) {
	a, msg := parseZMPop(args[2:])
	if msg != "" {
		c.w.Error(msg)
		return
	}
	timeout, ok := c.parseTimeoutOrReply(args[1])
	if !ok {
		return
	}
	res, ok := c.zpopOrBlock("bzmpop", a.keys, a.max, a.count, timeout)
	if ok {
		c.writeZMPop(res)
	}
}

// writeZMPop writes [key, [[member, score], ...]].
func (c *Client) writeZMPop(res engine.ZPopResult) {
	c.w.Array(2)
	c.w.Bulk(res.Key)
	c.writeMembers(res.Members, true, true)
}

// zpopOrBlock pops from the first of keys holding a sorted set, or waits
// for one. It reports false when it has replied itself: an error, the null
// array of a timeout, or nothing for a client that went away.
func (c *Client) zpopOrBlock(cmd string, keys [][]byte, max bool, count int64, timeout time.Duration) (engine.ZPopResult, bool) {
	res, err := c.store.ZPop(c.db, keys, max, count, false)
	if !c.ok(cmd, err) {
		return res, false
	}
	if res.Found {
		return res, true
	}
	db := c.db
	var got engine.ZPopResult
	err = c.srv.block(c, db, keys, timeout, func() bool {
		r, err := c.store.ZPop(db, keys, max, count, true)
		if err != nil {
			c.srv.log.Error("storage error serving a blocked client", "command", cmd, "err", err)
			return false
		}
		got = r
		return r.Found
	})
	switch {
	case errors.Is(err, errBlockTimeout):
		c.w.NullArray()
		return got, false
	case err != nil: // errClientGone: nobody to reply to
		c.closing = true
		return got, false
	}
	return got, true
}
