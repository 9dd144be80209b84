package server

import (
	"sync"
	"sync/atomic"

	"github.com/kvd/kvd/engine"
)

// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//
// Queued commands are checked (unknown command, arity, authentication) when
// they arrive, as in Redis, and run by EXEC under engine.Store.Exclusive:
// every other command waits, so no client observes or interleaves with a
// partial transaction. WATCH is served by watchRegistry, which the engine
// tells about every committed change (engine.Watcher).

func (s *Server) transactionCommands() []*Command {
	tx := func(name string, arity int, flags Flags, first, last, step int, h Handler, summary string) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags | FlagNoScript | FlagLoading | FlagStale | FlagFast,
			FirstKey: first, LastKey: last, Step: step, Group: "transactions", Since: "1.2.0", Summary: summary, Handler: h}
	}
	return []*Command{
		tx("multi", 1, 0, 0, 0, 0, cmdMulti, "Starts a transaction."),
		tx("exec", 1, 0, 0, 0, 0, cmdExec, "Executes all commands in a transaction."),
		tx("discard", 1, 0, 0, 0, 0, cmdDiscard, "Discards a transaction."),
		{Name: "watch", Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast, FirstKey: 1, LastKey: -1, Step: 1,
			Group: "transactions", Since: "2.2.0", Summary: "Monitors changes to keys to determine the execution of a transaction.", Handler: cmdWatch},
		tx("unwatch", 1, 0, 0, 0, 0, cmdUnwatch, "Forgets about watched keys of a transaction."),
	}
}

// txState is a client's transaction state. Only the client's goroutine
// touches it, except dirty, which writers set.
type txState struct {
	inMulti bool
	aborted bool       // a command was refused while queuing: EXEC fails
	queue   [][][]byte // queued argument vectors
	inExec  bool       // running EXEC: blocking commands must not block
	signals []blockKey // keys written during EXEC, signalled after it

	watched []watchedKey
	dirty   atomic.Bool // a watched key changed since WATCH
}

type watchedKey struct {
	key blockKey
	// deadline is the key's expiry when it was watched (0: none or
	// missing): EXEC fails if it has passed since, as in Redis 7.0.
	deadline int64
}

// runsInMulti lists the commands that run at once inside MULTI instead of
// being queued.
var runsInMulti = map[string]bool{"exec": true, "discard": true, "multi": true, "watch": true, "quit": true, "reset": true}

// queueInMulti queues a checked command while the client is in MULTI and
// replies QUEUED. It reports false when the command must run now.
func (c *Client) queueInMulti(cmd *Command, args [][]byte) bool {
	if !c.tx.inMulti || runsInMulti[cmd.Name] {
		return false
	}
	if cmd.Flags&FlagNoMulti != 0 {
		c.tx.aborted = true
		c.w.Error("ERR Command not allowed inside a transaction")
		return true
	}
	c.tx.queue = append(c.tx.queue, args)
	c.w.Status("QUEUED")
	return true
}

// refuseInMulti records, inside MULTI, that a command was refused while
// queuing (unknown, wrong arity, not authenticated): EXEC will fail.
func (c *Client) refuseInMulti() {
	if c.tx.inMulti {
		c.tx.aborted = true
	}
}

func cmdMulti(c *Client, args [][]byte) {
	if c.tx.inMulti {
		c.w.Error("ERR MULTI calls can not be nested")
		return
	}
	c.tx.inMulti = true
	c.w.OK()
}

func cmdDiscard(c *Client, args [][]byte) {
	if !c.tx.inMulti {
		c.w.Error("ERR DISCARD without MULTI")
		return
	}
	c.endMulti()
	c.w.OK()
}

func (c *Client) endMulti() {
	c.tx.inMulti, c.tx.aborted, c.tx.queue = false, false, nil
	c.srv.watches.unwatchAll(c)
}

func cmdExec(c *Client, args [][]byte) {
	if !c.tx.inMulti {
		c.w.Error("ERR EXEC without MULTI")
		return
	}
	queue, aborted := c.tx.queue, c.tx.aborted
	c.tx.inMulti, c.tx.aborted, c.tx.queue = false, false, nil
	if aborted {
		c.srv.watches.unwatchAll(c)
		c.w.Error("EXECABORT Transaction discarded because of previous errors.")
		return
	}
	var signals []blockKey
	err := c.store.Exclusive(func(st *engine.Store) error {
		// Checked under the exclusive hold: no write can slip in between
		// this check and the queued commands.
		if c.watchBroken(st) {
			c.w.NullArray()
			return nil
		}
		shared := c.store
		c.store, c.tx.inExec = st, true
		defer func() { c.store, c.tx.inExec = shared, false }()
		c.w.Array(len(queue))
		for _, q := range queue {
			c.srv.execute(c, q)
		}
		signals, c.tx.signals = c.tx.signals, nil
		return nil
	})
	c.srv.watches.unwatchAll(c)
	if err != nil {
		c.replyErr("exec", err)
		return
	}
	// Blocked clients are served only now: serving them needs the store,
	// which the transaction held.
	for _, k := range signals {
		c.srv.blocking.signal(k.db, []byte(k.key))
	}
}

// watchBroken reports whether a watched key changed or expired since WATCH.
func (c *Client) watchBroken(st *engine.Store) bool {
	if c.tx.dirty.Load() {
		return true
	}
	for _, wk := range c.tx.watched {
		if wk.deadline == 0 {
			continue
		}
		_, _, exists, err := st.Deadline(wk.key.db, []byte(wk.key.key))
		if err != nil || !exists {
			return true // expired (or unreadable): Redis aborts
		}
	}
	return false
}

func cmdWatch(c *Client, args [][]byte) {
	if c.tx.inMulti {
		c.w.Error("ERR WATCH inside MULTI is not allowed")
		return
	}
	for _, k := range args[1:] {
		deadline, _, _, err := c.store.Deadline(c.db, k)
		if !c.ok("watch", err) {
			return
		}
		c.srv.watches.watch(c, watchedKey{key: blockKey{c.db, string(k)}, deadline: deadline})
	}
	c.w.OK()
}

func cmdUnwatch(c *Client, args [][]byte) {
	c.srv.watches.unwatchAll(c)
	c.w.OK()
}

// watchRegistry maps watched keys to the clients watching them. It is the
// engine's Watcher: every committed change marks the watchers of its keys.
type watchRegistry struct {
	mu      sync.Mutex
	byKey   map[blockKey]map[*Client]struct{}
	byDB    map[int]map[*Client]int // watch counts per db, for flushes
	watches atomic.Int64
}

func newWatchRegistry() *watchRegistry {
	return &watchRegistry{byKey: map[blockKey]map[*Client]struct{}{}, byDB: map[int]map[*Client]int{}}
}

func (r *watchRegistry) watch(c *Client, wk watchedKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.byKey[wk.key]
	if set == nil {
		set = map[*Client]struct{}{}
		r.byKey[wk.key] = set
	}
	if _, dup := set[c]; dup {
		return
	}
	set[c] = struct{}{}
	if r.byDB[wk.key.db] == nil {
		r.byDB[wk.key.db] = map[*Client]int{}
	}
	r.byDB[wk.key.db][c]++
	c.tx.watched = append(c.tx.watched, wk)
	r.watches.Add(1)
}

func (r *watchRegistry) unwatchAll(c *Client) {
	if len(c.tx.watched) > 0 {
		r.mu.Lock()
		for _, wk := range c.tx.watched {
			set := r.byKey[wk.key]
			delete(set, c)
			if len(set) == 0 {
				delete(r.byKey, wk.key)
			}
			if n := r.byDB[wk.key.db][c] - 1; n > 0 {
				r.byDB[wk.key.db][c] = n
			} else {
				delete(r.byDB[wk.key.db], c)
			}
			r.watches.Add(-1)
		}
		r.mu.Unlock()
	}
	c.tx.watched = nil
	c.tx.dirty.Store(false)
}

// Modified implements engine.Watcher.
func (r *watchRegistry) Modified(db int, key []byte) {
	if r.watches.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.byKey[blockKey{db, string(key)}] {
		c.tx.dirty.Store(true)
	}
}

// Flushed implements engine.Watcher. Redis touches only watched keys that
// existed; kvd cannot tell after the fact and marks every watcher of the
// database, which can only make EXEC fail more often, never less.
func (r *watchRegistry) Flushed(db int) {
	if r.watches.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.byDB[db] {
		c.tx.dirty.Store(true)
	}
}

var _ engine.Watcher = (*watchRegistry)(nil)
