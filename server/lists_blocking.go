package server

import (
	"errors"
	"time"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/protocol"
)

// Blocking list commands: BLPOP, BRPOP, BLMPOP, BLMOVE and BRPOPLPUSH. Each
// runs its non-blocking form first, so that a ready key (or one of another
// type) answers at once exactly as LPOP, LMPOP or LMOVE would. When every
// key is empty the client parks in s.block (blocking.go), whose attempt
// retries the pop whenever a write signals one of the keys; attempts skip
// keys of another type, as Redis serves blocked clients only from lists.
// Timed-out calls answer a null array in RESP2, as Redis 7.0 does for all
// of them, BLMOVE included. Inside EXEC nothing blocks (block returns at
// once): BLMOVE and BRPOPLPUSH then answer a null bulk, the others a null
// array, as in Redis.

// blockingPopCmd builds BLPOP and BRPOP: "key [key ...] timeout", replying
// [key, element].
func blockingPopCmd(name string, end engine.ListEnd) Handler {
	return func(c *Client, args [][]byte) {
		timeout, ok := c.parseTimeoutOrReply(args[len(args)-1])
		if !ok {
			return
		}
		key, elems, ok := blockingMPop(c, name, args[1:len(args)-1], end, 1, timeout)
		switch {
		case !ok:
		case len(elems) == 0:
			c.w.NullArray()
		default:
			c.w.Array(2)
			c.w.Bulk(key)
			c.w.Bulk(elems[0])
		}
	}
}

func cmdBLMPop(c *Client, args [][]byte) {
	a, msg := parseMPop(args[2:]) // Redis checks these before the timeout
	if msg != "" {
		c.w.Error(msg)
		return
	}
	timeout, ok := c.parseTimeoutOrReply(args[1])
	if !ok {
		return
	}
	if key, elems, ok := blockingMPop(c, "blmpop", a.keys, a.end, a.count, timeout); ok {
		replyMPop(c, key, elems)
	}
}

// blockingMPop pops up to count elements from the first non-empty list
// among keys, waiting up to timeout (0: forever) for one to fill. elems is
// empty when the wait timed out. ok is false when no reply is to be
// written: an error was already written, or the client disconnected (and
// the connection is to close).
func blockingMPop(c *Client, name string, keys [][]byte, end engine.ListEnd, count int64, timeout time.Duration) (key []byte, elems [][]byte, ok bool) {
	key, elems, err := c.store.ListMPop(c.db, keys, end, count, false)
	if !c.ok(name, err) {
		return nil, nil, false
	}
	if len(elems) > 0 {
		return key, elems, true
	}
	var popErr error
	st, db := c.store, c.db // the attempt may run in another client's goroutine
	waitErr := c.srv.block(c, db, keys, timeout, func() bool {
		key, elems, popErr = st.ListMPop(db, keys, end, count, true)
		return popErr != nil || len(elems) > 0
	})
	switch {
	case errors.Is(waitErr, errClientGone):
		c.closing = true
		return nil, nil, false
	case waitErr != nil:
		return nil, nil, true
	case !c.ok(name, popErr):
		return nil, nil, false
	}
	return key, elems, true
}

func cmdBLMove(c *Client, args [][]byte) {
	from, to, ok := parseListEnds(args[3], args[4])
	if !ok {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	if timeout, ok := c.parseTimeoutOrReply(args[5]); ok {
		blockingMove(c, "blmove", args[1], args[2], from, to, timeout)
	}
}

func cmdBRPopLPush(c *Client, args [][]byte) {
	if timeout, ok := c.parseTimeoutOrReply(args[3]); ok {
		blockingMove(c, "brpoplpush", args[1], args[2], engine.ListRight, engine.ListLeft, timeout)
	}
}

// blockingMove is LMOVE that waits up to timeout for src to fill. Only src
// is waited on; a dst of another type is found when the move is tried, and
// the client then gets WRONGTYPE, as in Redis.
func blockingMove(c *Client, name string, src, dst []byte, from, to engine.ListEnd, timeout time.Duration) {
	v, moved, err := c.store.LMove(c.db, src, dst, from, to, false)
	if !c.ok(name, err) {
		return
	}
	if moved {
		c.w.Bulk(v)
		return
	}
	var moveErr error
	st, db := c.store, c.db // the attempt may run in another client's goroutine
	waitErr := c.srv.block(c, db, [][]byte{src}, timeout, func() bool {
		v, moved, moveErr = st.LMove(db, src, dst, from, to, true)
		return moved || moveErr != nil
	})
	switch {
	case errors.Is(waitErr, errClientGone):
		c.closing = true
	case waitErr != nil && c.tx.inExec:
		c.w.Null() // Redis's reply when BLMOVE may not block (EXEC)
	case waitErr != nil:
		c.w.NullArray()
	case c.ok(name, moveErr):
		// The push onto dst happened in whichever goroutine served us,
		// where attempts may not signal: wake dst's waiters now.
		c.srv.blocking.signal(c.db, dst)
		c.w.Bulk(v)
	}
}
