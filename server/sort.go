package server

import (
	"bytes"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/protocol"
)

// SORT and SORT_RO. They belong to no single family; setCommands appends
// them to the set family's table entries (server/sets.go). Semantics live in
// engine/sort.go.

func (s *Server) sortCommands() []*Command {
	return []*Command{
		// Redis marks both movablekeys (STORE, BY and GET name more keys);
		// the table lists the sorted key, as COMMAND INFO does.
		{Name: "sort", Arity: -2, Flags: FlagWrite, FirstKey: 1, LastKey: 1, Step: 1, Group: "generic", Since: "1.0.0",
			Summary: "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.", Handler: sortCmd(false)},
		{Name: "sort_ro", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Group: "generic", Since: "7.0.0",
			Summary: "Returns the sorted elements of a list, a set, or a sorted set.", Handler: sortCmd(true)},
	}
}

// sortCmd builds SORT key [BY pattern] [LIMIT offset count] [GET pattern
// ...] [ASC|DESC] [ALPHA] [STORE destination], and SORT_RO without STORE.
func sortCmd(readOnly bool) Handler {
	name := "sort"
	if readOnly {
		name = "sort_ro"
	}
	return func(c *Client, args [][]byte) {
		a, dst, store, msg := parseSortArgs(args[2:], readOnly)
		if msg != "" {
			c.w.Error(msg)
			return
		}
		if !store {
			out, err := c.store.Sort(c.db, args[1], a)
			if !c.ok(name, err) {
				return
			}
			c.w.Array(len(out))
			for _, v := range out {
				c.bulkOrNull(v, v != nil)
			}
			return
		}
		n, err := c.store.SortStore(c.db, args[1], dst, a)
		if !c.ok(name, err) {
			return
		}
		c.w.Int(n)
		// Dispatch wakes the clients blocked on the sorted key only; the
		// destination is a list a BLPOP may be waiting for.
		c.srv.blocking.signal(c.db, dst)
	}
}

// parseSortArgs parses SORT's options left to right as Redis does, the
// first bad one deciding the error. dst is STORE's destination, if store.
func parseSortArgs(opts [][]byte, readOnly bool) (a engine.SortArgs, dst []byte, store bool, errText string) {
	a.Count = -1
	for i := 0; i < len(opts); i++ {
		left := len(opts) - i - 1
		switch opt := opts[i]; {
		case protocol.EqualFold(opt, "ASC"):
			a.Desc = false
		case protocol.EqualFold(opt, "DESC"):
			a.Desc = true
		case protocol.EqualFold(opt, "ALPHA"):
			a.Alpha = true
		case protocol.EqualFold(opt, "LIMIT") && left >= 2:
			var ok bool
			if a.Offset, a.Count, ok = parseIntPair(opts[i+1], opts[i+2]); !ok {
				return a, nil, false, protocol.ErrNotInteger
			}
			i += 2
		case !readOnly && protocol.EqualFold(opt, "STORE") && left >= 1:
			dst, store = opts[i+1], true
			i++
		case protocol.EqualFold(opt, "BY") && left >= 1:
			a.By = opts[i+1]
			if bytes.IndexByte(a.By, '*') < 0 {
				a.NoSort = true // and it stays set, whatever BY follows
			}
			i++
		case protocol.EqualFold(opt, "GET") && left >= 1:
			a.Get = append(a.Get, opts[i+1])
			i++
		default:
			return a, nil, false, protocol.ErrSyntax
		}
	}
	return a, dst, store, ""
}
