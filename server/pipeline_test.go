package server

import (
	"io"
	"testing"
	"time"

	"github.com/kvd/kvd/engine"
	"github.com/tidwall/redcon"
)

// The engine runs a batch again when the transaction it shared with other
// writers could not commit (engine/share.go). A pipeline group's second
// run must replace the replies of the first, not add to them: a client
// that got four replies for two commands would be out of step for good.
func TestPipelineGroupBodyRunsAgainCleanly(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	c.w.Reset()
	c.w.Status("OK") // a reply before the group, which must stay
	cmds := []redcon.Command{
		{Args: [][]byte{[]byte("SET"), []byte("k"), []byte("v")}},
		{Args: [][]byte{[]byte("APPEND"), []byte("k"), []byte("w")}},
	}
	body := s.groupBody(c, cmds)
	keys := []engine.BatchKey{{DB: 0, Key: []byte("k")}}
	err := c.store.Batch(keys, func(st *engine.Store) error {
		if err := body(st); err != nil {
			return err
		}
		// As the engine would after a broken round: run it again in
		// the same state (SET first, so the rerun's replies repeat).
		return body(st)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(c.w.Bytes()), "+OK\r\n+OK\r\n:2\r\n"; got != want {
		t.Fatalf("replies after the group ran twice: %q, want %q", got, want)
	}
	if c.store != s.store || c.tx.inExec {
		t.Fatal("the group left the client on the batch's handle")
	}
}

// A pipelined run of reads while a script is busy gets -BUSY for each
// command at once, as commands one by one do; served from a snapshot it
// would first wait for the store, which a script rerun exclusively holds.
func TestPipelinedReadsWhileAScriptIsBusy(t *testing.T) {
	s := newTestServer(t, io.Discard)
	testScripting(t, s, 50*time.Millisecond)
	// Reaching past its (no) keys sends the script to the exclusive rerun,
	// where it spins holding the whole store.
	spinning := runAsync(newTestClient(s), "eval", "redis.call('GET', 'elsewhere') "+spinScript, "0")
	b := newTestClient(s)
	waitBusy(t, b)
	c := newTestClient(s)
	c.w.Reset()
	done := make(chan struct{})
	go func() {
		s.servePipeline(c, []redcon.Command{
			{Args: [][]byte{[]byte("GET"), []byte("a")}},
			{Args: [][]byte{[]byte("GET"), []byte("b")}},
		})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("pipelined reads waited for the busy script")
	}
	want := "-" + errBusyEval + "\r\n-" + errBusyEval + "\r\n"
	if got := string(c.w.Bytes()); got != want {
		t.Fatalf("replies %q, want two -BUSY", got)
	}
	run(b, "script", "kill")
	waitReply(t, spinning)
}
