package server

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
)

// Flags describe a command for dispatch, COMMAND and statistics.
type Flags uint32

const (
	FlagWrite    Flags = 1 << iota // may modify the keyspace
	FlagReadOnly                   // only reads
	FlagAdmin                      // server administration
	FlagNoAuth                     // allowed before AUTH
	FlagFast                       // O(1) or O(log n)
	FlagLoading                    // allowed while loading
	FlagStale                      // allowed with stale data
	FlagNoScript                   // not allowed in scripts
	FlagPubSub                     // pub/sub related
	FlagBlocking                   // may block the client
	FlagNoMulti                    // refused inside MULTI
)

var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagWrite, "write"}, {FlagReadOnly, "readonly"}, {FlagAdmin, "admin"},
	{FlagNoAuth, "no_auth"}, {FlagFast, "fast"}, {FlagLoading, "loading"},
	{FlagStale, "stale"}, {FlagNoScript, "noscript"}, {FlagPubSub, "pubsub"},
	{FlagBlocking, "blocking"}, {FlagNoMulti, "no_multi"},
}

// Names lists the flags as COMMAND INFO spells them.
func (f Flags) Names() []string {
	var out []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Handler runs one command. args[0] is the command name as sent. It writes
// exactly one reply to c.w.
type Handler func(c *Client, args [][]byte)

// Command is one entry of the command table: the single source for dispatch,
// arity errors, COMMAND's replies and per-command statistics.
type Command struct {
	Name  string // lower case; "client|setname" for a subcommand
	Arity int    // Redis convention: exact if positive, at least -Arity if negative
	Flags Flags
	// Key positions, as in COMMAND INFO: first, last (negative counts from
	// the end) and step. Zero first means no keys.
	FirstKey, LastKey, Step int
	Group                   string // docs group: string, generic, connection, server
	Summary                 string
	Since                   string
	Handler                 Handler
	Subcommands             map[string]*Command

	stats commandStats
}

type commandStats struct {
	calls, usec, rejected, failed atomic.Int64
}

// Table holds the commands of one server.
type Table struct {
	byName map[string]*Command
	sorted []*Command
}

// newTable validates and indexes commands. A malformed entry is a
// programming error: it stops startup rather than misbehave at run time.
func newTable(cmds []*Command) (*Table, error) {
	t := &Table{byName: map[string]*Command{}}
	for _, c := range cmds {
		if err := validate(c); err != nil {
			return nil, err
		}
		if _, dup := t.byName[c.Name]; dup {
			return nil, fmt.Errorf("command table: %q registered twice", c.Name)
		}
		for name, sub := range c.Subcommands {
			if sub.Name != c.Name+"|"+name {
				return nil, fmt.Errorf("command table: subcommand %q of %q misnamed", sub.Name, c.Name)
			}
			if err := validate(sub); err != nil {
				return nil, err
			}
		}
		t.byName[c.Name] = c
		t.sorted = append(t.sorted, c)
	}
	sortCommands(t.sorted)
	return t, nil
}

func validate(c *Command) error {
	switch {
	case c.Name == "" || c.Name != strings.ToLower(c.Name):
		return fmt.Errorf("command table: bad name %q", c.Name)
	case c.Arity == 0:
		return fmt.Errorf("command table: %s has no arity", c.Name)
	case c.Handler == nil && len(c.Subcommands) == 0:
		return fmt.Errorf("command table: %s has no handler", c.Name)
	case c.FirstKey < 0 || (c.FirstKey > 0 && c.Step <= 0):
		return fmt.Errorf("command table: %s has bad key positions", c.Name)
	case c.Flags&FlagWrite != 0 && c.Flags&FlagReadOnly != 0:
		return fmt.Errorf("command table: %s is both write and readonly", c.Name)
	}
	return nil
}

// lookup finds a command by name, ignoring case, without allocating for
// names up to 32 bytes.
func (t *Table) lookup(name []byte) *Command {
	var buf [32]byte
	if len(name) > len(buf) {
		return t.byName[strings.ToLower(string(name))]
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return t.byName[string(buf[:len(name)])]
}

// arityOK applies Redis's arity convention.
func (c *Command) arityOK(n int) bool {
	if c.Arity > 0 {
		return n == c.Arity
	}
	return n >= -c.Arity
}

// keys returns the key arguments of a call, per the table's positions.
func (c *Command) keys(args [][]byte) [][]byte {
	if c.FirstKey == 0 || c.FirstKey >= len(args) {
		return nil
	}
	last := c.LastKey
	if last < 0 {
		last += len(args)
	}
	var out [][]byte
	for i := c.FirstKey; i <= last && i < len(args); i += c.Step {
		out = append(out, args[i])
	}
	return out
}

func sortCommands(cs []*Command) {
	slices.SortFunc(cs, func(a, b *Command) int { return strings.Compare(a.Name, b.Name) })
}
