package server

import (
	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, parsed as
// Redis's zunionInterDiffGenericCommand: numkeys, then the keys' types, then
// the options.

// setOpArgs is a parsed set operation.
type setOpArgs struct {
	engine.ZSetOpArgs
	withScores bool
	limit      int64 // ZINTERCARD
}

// parseSetOpKeys parses numkeys and returns the keys and what follows.
func parseSetOpKeys(cmd string, args [][]byte) (keys, rest [][]byte, msg string) {
	n, ok := redisnum.ParseInt(args[0])
	switch {
	case !ok:
		return nil, nil, protocol.ErrNotInteger
	case n < 1:
		return nil, nil, "ERR at least 1 input key is needed for '" + cmd + "' command"
	case n > int64(len(args)-1):
		return nil, nil, protocol.ErrSyntax
	}
	return args[1 : 1+n], args[1+n:], ""
}

// parseSetOpOptions parses WEIGHTS, AGGREGATE, WITHSCORES (not for STORE
// forms) and LIMIT (ZINTERCARD only, which takes nothing else).
func parseSetOpOptions(op engine.ZSetOp, nkeys int, opts [][]byte, store, card bool) (setOpArgs, string) {
	var a setOpArgs
	for j := 0; j < len(opts); {
		left := len(opts) - j
		opt := opts[j]
		switch {
		case op != engine.ZOpDiff && !card && left >= nkeys+1 && protocol.EqualFold(opt, "WEIGHTS"):
			a.Weights = make([]float64, nkeys)
			for i := range a.Weights {
				w, ok := redisnum.ParseFloat(opts[j+1+i])
				if !ok {
					return a, "ERR weight value is not a float"
				}
				a.Weights[i] = w
			}
			j += 1 + nkeys
		case op != engine.ZOpDiff && !card && left >= 2 && protocol.EqualFold(opt, "AGGREGATE"):
			switch v := opts[j+1]; {
			case protocol.EqualFold(v, "SUM"):
				a.Aggregate = engine.ZAggSum
			case protocol.EqualFold(v, "MIN"):
				a.Aggregate = engine.ZAggMin
			case protocol.EqualFold(v, "MAX"):
				a.Aggregate = engine.ZAggMax
			default:
				return a, protocol.ErrSyntax
			}
			j += 2
		case !store && !card && protocol.EqualFold(opt, "WITHSCORES"):
			a.withScores = true
			j++
		case card && left >= 2 && protocol.EqualFold(opt, "LIMIT"):
			n, ok := redisnum.ParseInt(opts[j+1])
			if !ok || n < 0 {
				return a, "ERR LIMIT can't be negative"
			}
			a.limit = n
			j += 2
		default:
			return a, protocol.ErrSyntax
		}
	}
	return a, ""
}

// parseSetOpOrReply parses a whole set operation from numkeys on. An option error
// is only reported once the keys' types have been checked, as in Redis,
// where WRONGTYPE wins.
func (c *Client) parseSetOpOrReply(cmd string, op engine.ZSetOp, args [][]byte, store, card bool) (setOpArgs, bool) {
	keys, rest, msg := parseSetOpKeys(cmd, args)
	if msg != "" {
		c.w.Error(msg)
		return setOpArgs{}, false
	}
	a, msg := parseSetOpOptions(op, len(keys), rest, store, card)
	if msg != "" {
		for _, k := range keys {
			kind, err := c.store.Type(c.db, k)
			if !c.ok(cmd, err) {
				return a, false
			}
			if kind != engine.KindNone && kind != engine.KindZSet && kind != engine.KindSet {
				msg = protocol.ErrWrongType
				break
			}
		}
		c.w.Error(msg)
		return a, false
	}
	a.Op, a.Keys = op, keys
	return a, true
}

// setOpCmd builds ZUNION, ZINTER, ZDIFF (numkeys at 1) and their STORE
// forms (destination at 1, numkeys at 2).
func setOpCmd(cmd string, op engine.ZSetOp, store bool) Handler {
	return func(c *Client, args [][]byte) {
		if !store {
			a, ok := c.parseSetOpOrReply(cmd, op, args[1:], false, false)
			if !ok {
				return
			}
			ms, err := c.store.ZSetOpResult(c.db, a.ZSetOpArgs)
			if c.ok(cmd, err) {
				c.writeScored(ms, a.withScores)
			}
			return
		}
		a, ok := c.parseSetOpOrReply(cmd, op, args[2:], true, false)
		if !ok {
			return
		}
		n, err := c.store.ZSetOpStore(c.db, args[1], a.ZSetOpArgs)
		if c.ok(cmd, err) {
			c.w.Int(n)
		}
	}
}

func cmdZInterCard(c *Client, args [][]byte) {
	a, ok := c.parseSetOpOrReply("zintercard", engine.ZOpInter, args[1:], false, true)
	if !ok {
		return
	}
	n, err := c.store.ZInterCard(c.db, a.Keys, a.limit)
	if c.ok("zintercard", err) {
		c.w.Int(n)
	}
}
