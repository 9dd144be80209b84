package server

import (
	"runtime/debug"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/kvd/kvd/protocol"
)

// serveRESP is redcon's handler: one call per command, in order. Replies are
// buffered by redcon and flushed once per batch of pipelined commands.
func (s *Server) serveRESP(conn redcon.Conn, cmd redcon.Command) {
	c, ok := conn.Context().(*Client)
	if !ok || c.closing {
		return // after QUIT or a fatal error the rest of the pipeline is dropped
	}
	c.busy.Store(true)
	batch := 1
	if rest := conn.PeekPipeline(); len(rest) > 0 {
		// The rest of this read batch: run it now, grouping writes.
		batch += len(rest)
		s.servePipeline(c, append([]redcon.Command{cmd}, conn.ReadPipeline()...))
	} else {
		s.execute(c, cmd.Args)
		s.checkHardLimit(c)
	}
	// The batch's replies go to redcon, which flushes them when this
	// handler returns.
	s.armSoftLimit(c)
	conn.WriteRaw(c.w.Bytes())
	if c.guard != nil {
		c.guard.answered(batch)
	}
	c.w.Reset()
	c.written = 0
	c.lastActive.Store(time.Now().UnixNano())
	c.busy.Store(false)
	if c.closing {
		conn.Close()
	}
}

// execute looks a command up, applies the checks Redis applies before
// running it (unknown command, arity, authentication) in Redis's order, runs
// it and records its statistics.
func (s *Server) execute(c *Client, args [][]byte) {
	if len(args) == 0 {
		return
	}
	cmd := s.table.lookup(args[0])
	if cmd == nil {
		c.refuseInMulti()
		s.stats.rejectedCalls.Add(1)
		c.w.Error(protocol.ErrUnknownCommand(args[0], args[1:]))
		return
	}
	if cmd.Subcommands != nil && len(args) >= 2 {
		sub := cmd.Subcommands[strings.ToLower(string(args[1]))]
		if sub == nil {
			c.refuseInMulti()
			cmd.stats.rejected.Add(1)
			s.stats.rejectedCalls.Add(1)
			c.w.Error(protocol.ErrUnknownSubcommand(cmd.Name, args[1]))
			return
		}
		cmd = sub
	}
	if !cmd.arityOK(len(args)) {
		c.refuseInMulti()
		cmd.stats.rejected.Add(1)
		s.stats.rejectedCalls.Add(1)
		c.w.Error(protocol.ErrWrongArity(cmd.Name))
		return
	}
	if cmd.Flags&FlagNoAuth == 0 && c.needsAuth() {
		c.refuseInMulti()
		cmd.stats.rejected.Add(1)
		s.stats.rejectedCalls.Add(1)
		c.w.Error(protocol.ErrNoAuth)
		return
	}
	if s.refuseWhileScriptBusy(c, cmd, args) {
		return
	}
	if c.queueInMulti(cmd, args) {
		return
	}
	c.lastCmd.Store(cmd)
	mark := c.w.Len()
	start := time.Now()
	s.run(c, cmd, args, mark)
	cmd.stats.calls.Add(1)
	cmd.stats.usec.Add(time.Since(start).Microseconds())
	s.stats.commands.Add(1)
	if out := c.w.Bytes(); len(out) > mark && out[mark] == '-' {
		cmd.stats.failed.Add(1)
		s.stats.errorReplies.Add(1)
	} else if cmd.Flags&FlagWrite != 0 && s.blocking.blocked.Load() > 0 {
		for _, k := range cmd.keys(args) {
			if c.tx.inExec {
				// Serving a blocked client needs the store, which the
				// transaction holds: EXEC signals when it is done.
				c.tx.signals = append(c.tx.signals, blockKey{c.db, string(k)})
				continue
			}
			s.blocking.signal(c.db, k)
		}
	}
}

// run calls the handler. A panic is a bug in kvd, never the client's fault:
// it is logged with its stack, the client gets an error and only this
// connection is closed.
func (s *Server) run(c *Client, cmd *Command, args [][]byte, mark int) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("command handler panicked", "command", cmd.Name, "panic", r, "stack", string(debug.Stack()))
			c.w.Truncate(mark)
			c.w.Error("ERR internal error while running '" + cmd.Name + "'")
			c.closing = true
		}
	}()
	cmd.Handler(c, args)
}
