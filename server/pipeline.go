package server

import (
	"errors"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/kvd/kvd/engine"
)

// Pipelined writes run in groups: consecutive keyed commands of one
// connection's read batch execute in a single engine batch (one badger
// transaction, one commit, one fsync wait under appendfsync always) and
// their replies go out after the commit. Each command stays atomic and the
// order of replies is the order of commands; other clients see the whole
// group or none of it, which is as if it ran without interleaving.
//
// A run of two reads or more (no write among them) takes no locks: it is
// served from one engine snapshot (Store.Snapshot), one read transaction
// instead of one per command, and every read in it sees the same moment.
// Runs form within what one read from the socket delivered: redcon reads
// into the rest of a 4 KiB buffer, so a pipeline that straddles its end
// arrives in two reads, and other clients' writes may land in between, as
// in Redis when a pipeline arrives in two reads.
//
// A group holds the stripe locks of every key its commands name (from the
// command table's key positions). A command that reaches further (SORT ...
// BY, a key position the table does not describe) makes the engine refuse
// the batch; the group is then discarded, replies included, and its
// commands run one by one as usual. Their statistics count that attempt
// too: the price of not parsing each command twice.
const (
	maxGroupCommands = 64
	maxGroupKeys     = 512
)

// groupable reports whether a command may join a group: a data command
// with keys, not blocking, not a script, not queued by MULTI. args are
// checked for arity so that the key positions are meaningful; everything
// else (auth, BUSY) execute checks again for each command.
func (s *Server) groupable(c *Client, args [][]byte) (cmd *Command, ok bool) {
	if len(args) == 0 || c.tx.inMulti || c.needsAuth() {
		return nil, false
	}
	cmd = s.table.lookup(args[0])
	if cmd == nil || cmd.Subcommands != nil || cmd.FirstKey == 0 || !cmd.arityOK(len(args)) {
		return nil, false
	}
	if cmd.Flags&(FlagBlocking|FlagNoScript|FlagAdmin|FlagPubSub|FlagNoMulti) != 0 {
		return nil, false
	}
	return cmd, cmd.Flags&(FlagWrite|FlagReadOnly) != 0
}

// servePipeline runs the first command and the rest of the connection's
// read batch, grouping what it can; the replies collect in c.w.
func (s *Server) servePipeline(c *Client, cmds []redcon.Command) {
	for len(cmds) > 0 && !c.closing {
		n, keys, reads := s.nextRun(c, cmds)
		switch {
		case keys != nil:
			s.executeGroup(c, cmds[:n], keys)
		case reads:
			s.executeReads(c, cmds[:n])
		default:
			s.executeEach(c, cmds[:n])
		}
		if !s.checkHardLimit(c) {
			return
		}
		cmds = cmds[n:]
	}
}

// executeEach runs cmds one by one.
func (s *Server) executeEach(c *Client, cmds []redcon.Command) {
	for _, rc := range cmds {
		if c.closing {
			break
		}
		if c.w.Len() > 0 && s.mayBlock(c, rc.Args) {
			s.writeAhead(c)
		}
		s.execute(c, rc.Args)
	}
}

// mayBlock reports whether a command may block the client (BLPOP and the
// like outside MULTI).
func (s *Server) mayBlock(c *Client, args [][]byte) bool {
	cmd := s.table.lookup(args[0])
	return cmd != nil && cmd.Flags&FlagBlocking != 0 && !c.tx.inMulti
}

// writeAhead writes the replies collected so far before a command that may
// block, as Redis sends a blocked client's earlier replies while it waits;
// redcon would hold them until the whole batch is done. Nothing of this
// batch has gone to redcon's buffer yet, so the order is kept.
func (s *Server) writeAhead(c *Client) {
	n, err := c.net.Write(c.w.Bytes())
	c.written += int64(n)
	c.w.Reset()
	if err != nil {
		c.closing = true
	}
}

// nextRun returns how many of cmds (at least one) to run next, and how:
// with keys, as a group locking them (two commands or more, one of them a
// write); with reads, as a run of two reads or more in one snapshot, which
// needs no locks; otherwise one by one.
func (s *Server) nextRun(c *Client, cmds []redcon.Command) (n int, keys []engine.BatchKey, reads bool) {
	if s.busyScript() != nil {
		// One by one, so that each command gets its -BUSY at once: a
		// group or a snapshot would first wait for the store.
		return 1, nil, false
	}
	writes := false
	for _, rc := range cmds {
		cmd, ok := s.groupable(c, rc.Args)
		if !ok || n == maxGroupCommands {
			break
		}
		ks := cmd.keys(rc.Args)
		if len(keys)+len(ks) > maxGroupKeys {
			break
		}
		for _, k := range ks {
			keys = append(keys, engine.BatchKey{DB: c.db, Key: k})
		}
		writes = writes || cmd.Flags&FlagWrite != 0
		n++
	}
	switch {
	case n == 0:
		return 1, nil, false // not groupable: alone
	case n == 1:
		return 1, nil, false
	case !writes:
		return n, nil, true
	}
	return n, keys, false
}

// executeGroup runs cmds in one engine batch, or one by one when the batch
// fails.
func (s *Server) executeGroup(c *Client, cmds []redcon.Command, keys []engine.BatchKey) {
	mark, closing := c.w.Len(), c.closing
	err := c.store.Batch(keys, s.groupBody(c, cmds))
	signals := c.tx.signals
	c.tx.signals = nil
	switch {
	case errors.Is(err, engine.ErrBatchScope):
		// Nothing was committed: the commands run again one by one.
		c.w.Truncate(mark)
		c.closing = closing
		s.executeEach(c, cmds)
		return
	case err != nil:
		// The group may have committed (a failed fsync, a panic after
		// the commit): running it again could apply INCR twice. Every
		// command gets the error, as each would alone.
		c.w.Truncate(mark)
		for _, rc := range cmds {
			c.replyErr(strings.ToLower(string(rc.Args[0])), err)
		}
		return
	}
	for _, k := range signals {
		s.blocking.signal(k.db, []byte(k.key))
	}
}

// executeReads runs cmds, all reads, in one engine snapshot, or one by one
// when a command reached past what a snapshot serves (a script, SORT ...
// STORE is not a read and never gets here).
func (s *Server) executeReads(c *Client, cmds []redcon.Command) {
	mark, closing, shared := c.w.Len(), c.closing, c.store
	err := shared.Snapshot(func(st *engine.Store) error {
		c.store = st
		defer func() { c.store = shared }()
		for _, rc := range cmds {
			if c.closing {
				break
			}
			s.execute(c, rc.Args)
		}
		return nil
	})
	if err != nil {
		c.w.Truncate(mark)
		c.closing = closing
		s.executeEach(c, cmds)
	}
}

// groupBody is the batch function of a group: it runs cmds on the batch's
// handle. The engine may run it more than once (when the transaction it
// shared with other writers could not commit), so each run starts from
// the replies and state the first found.
func (s *Server) groupBody(c *Client, cmds []redcon.Command) func(st *engine.Store) error {
	mark, closing, shared := c.w.Len(), c.closing, c.store
	return func(st *engine.Store) error {
		c.w.Truncate(mark)
		c.tx.signals, c.closing = nil, closing
		// As in EXEC: the batch holds its keys until it commits, so
		// clients blocked on them are served afterwards (tx.signals).
		c.store, c.tx.inExec = st, true
		defer func() { c.store, c.tx.inExec = shared, false }()
		for _, rc := range cmds {
			if c.closing {
				break
			}
			s.execute(c, rc.Args)
		}
		return nil
	}
}
