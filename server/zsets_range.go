package server

import (
	"strings"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// ZRANGE and its older forms, ZRANGESTORE, ZCOUNT, ZLEXCOUNT and the
// ZREMRANGEBY* commands. They all share Redis's range parsing.

// parseScoreBound parses a score range end as zslParseRange: "(" makes it
// exclusive, then plain strtod, which skips leading spaces, reads "" as 0
// and takes overflows as ±inf; only trailing bytes and NaN are refused.
func parseScoreBound(b []byte) (engine.ScoreBound, bool) {
	var sb engine.ScoreBound
	if len(b) > 0 && b[0] == '(' {
		sb.Excl, b = true, b[1:]
	}
	if len(b) == 0 {
		return sb, true
	}
	f, ok, _ := redisnum.Strtod(strings.TrimLeft(string(b), " \t\n\v\f\r"))
	if !ok || f != f {
		return sb, false
	}
	sb.Value = f
	return sb, true
}

// parseLexBound parses a lex range end: "[a", "(a", "-" or "+".
func parseLexBound(b []byte) (engine.LexBound, bool) {
	if len(b) == 0 {
		return engine.LexBound{}, false
	}
	switch b[0] {
	case '+', '-':
		if len(b) != 1 {
			return engine.LexBound{}, false
		}
		inf := int8(1)
		if b[0] == '-' {
			inf = -1
		}
		return engine.LexBound{Inf: inf, Excl: true}, true
	case '(', '[':
		return engine.LexBound{Value: b[1:], Excl: b[0] == '('}, true
	}
	return engine.LexBound{}, false
}

// parseScoreRange and parseLexRange parse a min/max pair into spec.
func parseScoreRange(min, max []byte, spec *engine.ZRangeSpec) string {
	var ok1, ok2 bool
	spec.By = engine.ZByScore
	spec.Min, ok1 = parseScoreBound(min)
	spec.Max, ok2 = parseScoreBound(max)
	if !ok1 || !ok2 {
		return protocol.ErrMinMaxFloat
	}
	return ""
}

func parseLexRange(min, max []byte, spec *engine.ZRangeSpec) string {
	var ok1, ok2 bool
	spec.By = engine.ZByLex
	spec.LexMin, ok1 = parseLexBound(min)
	spec.LexMax, ok2 = parseLexBound(max)
	if !ok1 || !ok2 {
		return protocol.ErrMinMaxString
	}
	return ""
}

func parseRankRange(start, stop []byte, spec *engine.ZRangeSpec) string {
	var ok bool
	spec.By = engine.ZByRank
	if spec.Start, spec.Stop, ok = parseIntPair(start, stop); !ok {
		return protocol.ErrNotInteger
	}
	return ""
}

// rangeKind is what the command itself fixes of a range; auto lets the
// BYSCORE, BYLEX and REV options decide, as in ZRANGE.
type rangeKind uint8

const (
	rangeAuto rangeKind = iota
	rangeRank
	rangeScore
	rangeLex
)

type rangeDir uint8

const (
	dirAuto rangeDir = iota
	dirForward
	dirReverse
)

// zrangeArgs is a parsed ZRANGE-family command.
type zrangeArgs struct {
	spec       engine.ZRangeSpec
	withScores bool
}

// parseZRange parses key min max [options] starting at args[0] = key, as
// zrangeGenericCommand: options first, then their conflicts, then the
// range. store refuses WITHSCORES (ZRANGESTORE).
func parseZRange(args [][]byte, store bool, kind rangeKind, dir rangeDir) (zrangeArgs, string) {
	a := zrangeArgs{spec: engine.ZRangeSpec{Limit: -1}}
	for j := 3; j < len(args); j++ {
		left := len(args) - j - 1
		switch opt := args[j]; {
		case !store && protocol.EqualFold(opt, "WITHSCORES"):
			a.withScores = true
		case protocol.EqualFold(opt, "LIMIT") && left >= 2:
			off, cnt, ok := parseIntPair(args[j+1], args[j+2])
			if !ok {
				return a, protocol.ErrNotInteger
			}
			a.spec.Offset, a.spec.Limit = off, cnt
			j += 2
		case dir == dirAuto && protocol.EqualFold(opt, "REV"):
			dir = dirReverse
		case kind == rangeAuto && protocol.EqualFold(opt, "BYLEX"):
			kind = rangeLex
		case kind == rangeAuto && protocol.EqualFold(opt, "BYSCORE"):
			kind = rangeScore
		default:
			return a, protocol.ErrSyntax
		}
	}
	if kind == rangeAuto {
		kind = rangeRank
	}
	a.spec.Rev = dir == dirReverse
	// "LIMIT 0 -1" counts as no LIMIT: Redis tests opt_limit != -1.
	if a.spec.Limit != -1 && kind == rangeRank {
		return a, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
	}
	if a.withScores && kind == rangeLex {
		return a, "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
	}
	lo, hi := args[1], args[2]
	if a.spec.Rev && kind != rangeRank { // given as max, min
		lo, hi = hi, lo
	}
	switch kind {
	case rangeScore:
		return a, parseScoreRange(lo, hi, &a.spec)
	case rangeLex:
		return a, parseLexRange(lo, hi, &a.spec)
	}
	return a, parseRankRange(lo, hi, &a.spec)
}

func zrangeCmd(kind rangeKind, dir rangeDir) Handler {
	return func(c *Client, args [][]byte) {
		a, msg := parseZRange(args[1:], false, kind, dir)
		if msg != "" {
			c.w.Error(msg)
			return
		}
		ms, _, err := c.store.ZRange(c.db, args[1], a.spec)
		if c.ok("zrange", err) {
			c.writeScored(ms, a.withScores)
		}
	}
}

var (
	cmdZRange           = zrangeCmd(rangeAuto, dirAuto)
	cmdZRevRange        = zrangeCmd(rangeRank, dirReverse)
	cmdZRangeByScore    = zrangeCmd(rangeScore, dirForward)
	cmdZRevRangeByScore = zrangeCmd(rangeScore, dirReverse)
	cmdZRangeByLex      = zrangeCmd(rangeLex, dirForward)
	cmdZRevRangeByLex   = zrangeCmd(rangeLex, dirReverse)
)

// cmdZRangeStore is ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV]
// [LIMIT offset count].
func cmdZRangeStore(c *Client, args [][]byte) {
	a, msg := parseZRange(args[2:], true, rangeAuto, dirAuto)
	if msg != "" {
		c.w.Error(msg)
		return
	}
	n, err := c.store.ZRangeStore(c.db, args[1], args[2], a.spec)
	if c.ok("zrangestore", err) {
		c.w.Int(n)
	}
}

func cmdZCount(c *Client, args [][]byte) {
	var spec engine.ZRangeSpec
	zcount(c, "zcount", args, parseScoreRange(args[2], args[3], &spec), spec)
}

func cmdZLexCount(c *Client, args [][]byte) {
	var spec engine.ZRangeSpec
	zcount(c, "zlexcount", args, parseLexRange(args[2], args[3], &spec), spec)
}

func zcount(c *Client, cmd string, args [][]byte, msg string, spec engine.ZRangeSpec) {
	if msg != "" {
		c.w.Error(msg)
		return
	}
	n, err := c.store.ZCount(c.db, args[1], spec)
	if c.ok(cmd, err) {
		c.w.Int(n)
	}
}

func zremRangeCmd(cmd string, parse func(min, max []byte, spec *engine.ZRangeSpec) string) Handler {
	return func(c *Client, args [][]byte) {
		var spec engine.ZRangeSpec
		if msg := parse(args[2], args[3], &spec); msg != "" {
			c.w.Error(msg)
			return
		}
		n, err := c.store.ZRemRange(c.db, args[1], spec)
		if c.ok(cmd, err) {
			c.w.Int(n)
		}
	}
}

var (
	cmdZRemRangeByScore = zremRangeCmd("zremrangebyscore", parseScoreRange)
	cmdZRemRangeByRank  = zremRangeCmd("zremrangebyrank", parseRankRange)
	cmdZRemRangeByLex   = zremRangeCmd("zremrangebylex", parseLexRange)
)
