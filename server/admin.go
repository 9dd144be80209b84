package server

import (
	"strconv"
	"strings"
	"time"

	"github.com/kvd/kvd/protocol"
)

// Server administration: INFO, CONFIG, COMMAND, DBSIZE, FLUSHDB, FLUSHALL,
// TIME, LASTSAVE, SHUTDOWN.

func (s *Server) adminCommands() []*Command {
	adm := func(name string, arity int, flags Flags, h Handler, since, summary string) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, Group: "server", Since: since, Summary: summary, Handler: h}
	}
	sub := func(parent, name string, arity int, flags Flags, h Handler, summary string) *Command {
		return &Command{Name: parent + "|" + name, Arity: arity, Flags: flags, Group: "server", Since: "2.0.0", Summary: summary, Handler: h}
	}
	const a, r, w = FlagAdmin | FlagNoScript, FlagReadOnly, FlagWrite
	config := map[string]*Command{
		"get":       sub("config", "get", -3, a|FlagLoading|FlagStale, cmdConfigGet, "Returns the effective values of configuration parameters."),
		"set":       sub("config", "set", -4, a|FlagLoading|FlagStale, cmdConfigSet, "Sets configuration parameters in-flight."),
		"resetstat": sub("config", "resetstat", 2, a|FlagLoading|FlagStale, cmdConfigResetStat, "Resets the server's statistics."),
		"help":      sub("config", "help", 2, FlagLoading|FlagStale, cmdConfigHelp, "Returns helpful text about the different subcommands."),
	}
	command := map[string]*Command{
		"count": sub("command", "count", 2, FlagLoading|FlagStale, cmdCommandCount, "Returns a count of commands."),
		"docs":  sub("command", "docs", -2, FlagLoading|FlagStale, cmdCommandDocs, "Returns documentary information about one, multiple or all commands."),
		"info":  sub("command", "info", -2, FlagLoading|FlagStale, cmdCommandInfo, "Returns information about one, multiple or all commands."),
		"list":  sub("command", "list", -2, FlagLoading|FlagStale, cmdCommandList, "Returns a list of command names."),
	}
	return []*Command{
		adm("info", -1, FlagLoading|FlagStale, cmdInfo, "1.0.0", "Returns information and statistics about the server."),
		{Name: "config", Arity: -2, Group: "server", Since: "2.0.0", Summary: "A container for server configuration commands.", Subcommands: config},
		{Name: "command", Arity: -1, Flags: FlagLoading | FlagStale, Group: "server", Since: "2.8.13", Summary: "Returns detailed information about all commands.", Handler: cmdCommand, Subcommands: command},
		adm("dbsize", 1, r|FlagFast, cmdDBSize, "1.0.0", "Returns the number of keys in the database."),
		adm("flushdb", -1, w, cmdFlushDB, "1.0.0", "Removes all keys from the current database."),
		adm("flushall", -1, w, cmdFlushAll, "1.0.0", "Removes all keys from all databases."),
		adm("time", 1, FlagLoading|FlagStale|FlagFast, cmdTime, "2.6.0", "Returns the server time."),
		adm("lastsave", 1, FlagLoading|FlagStale|FlagFast, cmdLastSave, "1.0.0", "Returns the Unix timestamp of the last successful save to disk."),
		adm("shutdown", -1, a|FlagLoading|FlagStale|FlagNoMulti, cmdShutdown, "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server."),
	}
}

func cmdDBSize(c *Client, args [][]byte) {
	n, _, err := c.store.DBStats(c.db)
	if c.ok("dbsize", err) {
		c.w.Int(n)
	}
}

// flushMode accepts FLUSHDB/FLUSHALL's optional ASYNC or SYNC. Both are O(1)
// in kvd: the data is unlinked at once and reclaimed in the background.
func flushModeOK(args [][]byte) bool {
	return len(args) == 1 || (len(args) == 2 && (protocol.EqualFold(args[1], "ASYNC") || protocol.EqualFold(args[1], "SYNC")))
}

func cmdFlushDB(c *Client, args [][]byte) {
	if !flushModeOK(args) {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	if err := c.store.FlushDB(c.db); c.ok("flushdb", err) {
		c.w.OK()
	}
}

func cmdFlushAll(c *Client, args [][]byte) {
	if !flushModeOK(args) {
		c.w.Error(protocol.ErrSyntax)
		return
	}
	if err := c.store.FlushAll(); c.ok("flushall", err) {
		c.w.OK()
	}
}

func cmdTime(c *Client, args [][]byte) {
	now := time.Now()
	c.w.Array(2)
	c.w.BulkString(strconv.FormatInt(now.Unix(), 10))
	c.w.BulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

// cmdLastSave reports the last completed fsync: kvd has no snapshots, and
// what LASTSAVE users want to know is when data last reached the disk.
func cmdLastSave(c *Client, args [][]byte) { c.w.Int(c.store.LastSync().Unix()) }

// cmdShutdown asks the binary to shut down gracefully. As in Redis, a
// successful SHUTDOWN sends no reply: the connection just closes.
func cmdShutdown(c *Client, args [][]byte) {
	for _, a := range args[1:] {
		switch {
		case protocol.EqualFold(a, "NOSAVE"), protocol.EqualFold(a, "SAVE"), protocol.EqualFold(a, "NOW"), protocol.EqualFold(a, "FORCE"):
		case protocol.EqualFold(a, "ABORT"):
			c.w.Error("ERR No shutdown in progress.")
			return
		default:
			c.w.Error(protocol.ErrSyntax)
			return
		}
	}
	c.srv.log.Warn("SHUTDOWN requested by client", "id", c.id)
	c.srv.requestShutdown()
	c.closing = true
}

func cmdConfigGet(c *Client, args [][]byte) {
	seen := map[string]bool{}
	var pairs [][2]string
	for _, pat := range args[2:] {
		for _, kv := range c.srv.params.get(pat) {
			if !seen[kv[0]] {
				seen[kv[0]] = true
				pairs = append(pairs, kv)
			}
		}
	}
	c.w.Map(len(pairs))
	for _, kv := range pairs {
		c.w.BulkString(kv[0])
		c.w.BulkString(kv[1])
	}
}

func cmdConfigSet(c *Client, args [][]byte) {
	if len(args)%2 != 0 {
		c.w.Error("ERR wrong number of arguments for 'config|set' command")
		return
	}
	if msg := c.srv.params.set(args[2:]); msg != "" {
		c.w.Error(msg)
		return
	}
	c.w.OK()
}

func cmdConfigResetStat(c *Client, args [][]byte) {
	c.srv.stats.reset()
	for _, cmd := range c.srv.table.sorted {
		resetCommandStats(cmd)
	}
	c.w.OK()
}

func resetCommandStats(cmd *Command) {
	cmd.stats.calls.Store(0)
	cmd.stats.usec.Store(0)
	cmd.stats.rejected.Store(0)
	cmd.stats.failed.Store(0)
	for _, sub := range cmd.Subcommands {
		resetCommandStats(sub)
	}
}

func cmdConfigHelp(c *Client, args [][]byte) {
	lines := []string{
		"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>", "    Set the configuration <directive> to <value>.",
		"RESETSTAT", "    Reset statistics reported by the INFO command.",
		"HELP", "    Print this help.",
	}
	c.w.Array(len(lines))
	for _, l := range lines {
		c.w.Status(l)
	}
}

func cmdCommand(c *Client, args [][]byte) {
	c.w.Array(len(c.srv.table.sorted))
	for _, cmd := range c.srv.table.sorted {
		writeCommandInfo(c, cmd)
	}
}

func cmdCommandCount(c *Client, args [][]byte) { c.w.Int(int64(len(c.srv.table.sorted))) }

func cmdCommandInfo(c *Client, args [][]byte) {
	if len(args) == 2 {
		cmdCommand(c, args)
		return
	}
	c.w.Array(len(args) - 2)
	for _, name := range args[2:] {
		if cmd := c.srv.table.lookup(name); cmd != nil {
			writeCommandInfo(c, cmd)
		} else {
			c.w.NullArray()
		}
	}
}

func cmdCommandList(c *Client, args [][]byte) {
	var match func(*Command) bool
	if len(args) > 2 {
		if len(args) != 5 || !protocol.EqualFold(args[2], "FILTERBY") {
			c.w.Error(protocol.ErrSyntax)
			return
		}
		v := args[4]
		switch {
		case protocol.EqualFold(args[3], "PATTERN"):
			match = func(cmd *Command) bool { return protocol.Match(v, []byte(cmd.Name)) }
		case protocol.EqualFold(args[3], "ACLCAT"):
			match = func(cmd *Command) bool {
				for _, cat := range aclCategories(cmd) {
					if strings.EqualFold(cat, "@"+string(v)) {
						return true
					}
				}
				return false
			}
		case protocol.EqualFold(args[3], "MODULE"):
			match = func(*Command) bool { return false }
		default:
			c.w.Error(protocol.ErrSyntax)
			return
		}
	}
	var names []string
	for _, cmd := range c.srv.table.sorted {
		if match == nil || match(cmd) {
			names = append(names, cmd.Name)
		}
	}
	c.w.Array(len(names))
	for _, n := range names {
		c.w.BulkString(n)
	}
}

// cmdCommandDocs gives each command's summary, since and group: what
// redis-cli uses for its hints.
func cmdCommandDocs(c *Client, args [][]byte) {
	var cmds []*Command
	if len(args) == 2 {
		cmds = c.srv.table.sorted
	} else {
		for _, name := range args[2:] {
			if cmd := c.srv.table.lookup(name); cmd != nil {
				cmds = append(cmds, cmd)
			}
		}
	}
	c.w.Map(len(cmds))
	for _, cmd := range cmds {
		c.w.BulkString(cmd.Name)
		writeCommandDoc(c, cmd)
	}
}

func writeCommandDoc(c *Client, cmd *Command) {
	n := 3
	if len(cmd.Subcommands) > 0 {
		n++
	}
	c.w.Map(n)
	c.w.BulkString("summary")
	c.w.BulkString(cmd.Summary)
	c.w.BulkString("since")
	c.w.BulkString(cmd.Since)
	c.w.BulkString("group")
	c.w.BulkString(cmd.Group)
	if len(cmd.Subcommands) > 0 {
		c.w.BulkString("subcommands")
		subs := sortedSubcommands(cmd)
		c.w.Map(len(subs))
		for _, sub := range subs {
			c.w.BulkString(sub.Name)
			writeCommandDoc(c, sub)
		}
	}
}

// writeCommandInfo writes COMMAND INFO's ten-element entry for cmd.
func writeCommandInfo(c *Client, cmd *Command) {
	c.w.Array(10)
	c.w.BulkString(cmd.Name)
	c.w.Int(int64(cmd.Arity))
	flags := cmd.Flags.Names()
	c.w.Set(len(flags))
	for _, f := range flags {
		c.w.Status(f)
	}
	c.w.Int(int64(cmd.FirstKey))
	c.w.Int(int64(cmd.LastKey))
	c.w.Int(int64(cmd.Step))
	cats := aclCategories(cmd)
	c.w.Set(len(cats))
	for _, cat := range cats {
		c.w.Status(cat)
	}
	c.w.Set(0)   // tips
	c.w.Array(0) // key specs: first/last/step above describe kvd's keys
	subs := sortedSubcommands(cmd)
	c.w.Array(len(subs))
	for _, sub := range subs {
		writeCommandInfo(c, sub)
	}
}

func sortedSubcommands(cmd *Command) []*Command {
	var out []*Command
	for _, sub := range cmd.Subcommands {
		out = append(out, sub)
	}
	sortCommands(out)
	return out
}

// groupCategories maps a command's docs group to its ACL category.
var groupCategories = map[string]string{
	"string": "@string", "generic": "@keyspace", "connection": "@connection",
	"hash": "@hash", "list": "@list", "set": "@set", "sorted-set": "@sortedset",
	"transactions": "@transaction", "scripting": "@scripting",
}

// aclCategories derives a command's ACL categories from its flags and group.
func aclCategories(cmd *Command) []string {
	var cats []string
	if cmd.Flags&FlagWrite != 0 {
		cats = append(cats, "@write")
	}
	if cmd.Flags&FlagReadOnly != 0 {
		cats = append(cats, "@read")
	}
	if cat, ok := groupCategories[cmd.Group]; ok {
		cats = append(cats, cat)
	}
	if cmd.Flags&FlagAdmin != 0 {
		cats = append(cats, "@admin", "@dangerous")
	}
	if cmd.Flags&FlagFast != 0 {
		cats = append(cats, "@fast")
	} else {
		cats = append(cats, "@slow")
	}
	return cats
}
