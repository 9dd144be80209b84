package server

import (
	"bytes"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kvd/kvd/engine"
)

// openTestServerAt builds a server over a store on dir, as a kvd process
// started on that directory would. stop closes the store (idempotent, and
// run at cleanup too), so that the next server can open dir: together they
// are a restart.
func openTestServerAt(t *testing.T, dir string, logTo io.Writer) (s *Server, stop func()) {
	t.Helper()
	opts := engine.DefaultOptions(dir)
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := engine.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := store.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	s, err = New(DefaultConfig(), store, slog.New(slog.NewTextHandler(logTo, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s, stop
}

// libCode is a library named name with one function, name_f, that returns
// its first argument prefixed with tag.
func libCode(name, tag string) string {
	return "#!lua name=" + name + "\nredis.register_function('" + name + "_f', function(keys, args) return '" + tag + "' .. args[1] end)"
}

// bulk is a RESP2 bulk string reply.
func bulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

// wantLibraries checks, through FUNCTION LIST, that exactly names are
// loaded, in that (name) order.
func wantLibraries(t *testing.T, c *Client, names ...string) {
	t.Helper()
	got := run(c, "function", "list")
	if !strings.HasPrefix(got, "*"+strconv.Itoa(len(names))+"\r\n") {
		t.Fatalf("FUNCTION LIST = %q, want %d libraries %q", got, len(names), names)
	}
	pos := 0
	for _, n := range names {
		i := strings.Index(got[pos:], "$12\r\nlibrary_name\r\n"+bulk(n))
		if i < 0 {
			t.Fatalf("FUNCTION LIST = %q, want libraries %q in order", got, names)
		}
		pos += i + 1
	}
}

// Every change of the library set is saved and comes back after a restart:
// LOAD, LOAD REPLACE, DELETE, RESTORE (APPEND and FLUSH) and FLUSH.
func TestFunctionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s, stop := openTestServerAt(t, dir, io.Discard)
	c := newTestClient(s)
	restart := func() {
		t.Helper()
		stop()
		s, stop = openTestServerAt(t, dir, io.Discard)
		c = newTestClient(s)
	}

	for _, lib := range []string{"alpha", "beta"} {
		if got := run(c, "function", "load", libCode(lib, "v1:")); got != bulk(lib) {
			t.Fatalf("FUNCTION LOAD %s: %q", lib, got)
		}
	}
	dump := run(c, "function", "dump")
	restart()
	wantLibraries(t, c, "alpha", "beta")
	if got := run(c, "fcall", "alpha_f", "0", "x"); got != bulk("v1:x") {
		t.Fatalf("FCALL alpha_f after restart: %q", got)
	}
	if got := run(c, "function", "dump"); got != dump {
		t.Fatalf("FUNCTION DUMP after restart = %q, want %q", got, dump)
	}

	if got := run(c, "function", "load", "replace", libCode("beta", "v2:")); got != bulk("beta") {
		t.Fatalf("FUNCTION LOAD REPLACE: %q", got)
	}
	if got := run(c, "function", "delete", "alpha"); got != "+OK\r\n" {
		t.Fatalf("FUNCTION DELETE: %q", got)
	}
	restart()
	wantLibraries(t, c, "beta")
	if got := run(c, "fcall", "beta_f", "0", "x"); got != bulk("v2:x") {
		t.Fatalf("FCALL beta_f after LOAD REPLACE and restart: %q", got)
	}
	if got := run(c, "fcall", "alpha_f", "0", "x"); got != "-"+errFunctionNotFound+"\r\n" {
		t.Fatalf("FCALL of a deleted library's function after restart: %q", got)
	}

	// RESTORE APPEND of the first dump's alpha (beta would collide).
	payload := dumpLibraries([]*functionLib{{name: "alpha", code: libCode("alpha", "v1:")}})
	if got := run(c, "function", "restore", string(payload)); got != "+OK\r\n" {
		t.Fatalf("FUNCTION RESTORE: %q", got)
	}
	restart()
	wantLibraries(t, c, "alpha", "beta")

	if got := run(c, "function", "restore", string(payload), "flush"); got != "+OK\r\n" {
		t.Fatalf("FUNCTION RESTORE FLUSH: %q", got)
	}
	restart()
	wantLibraries(t, c, "alpha")

	if got := run(c, "function", "flush"); got != "+OK\r\n" {
		t.Fatalf("FUNCTION FLUSH: %q", got)
	}
	restart()
	wantLibraries(t, c)
	if got := run(c, "fcall", "alpha_f", "0", "x"); got != "-"+errFunctionNotFound+"\r\n" {
		t.Fatalf("FCALL after FUNCTION FLUSH and restart: %q", got)
	}
}

// FLUSHALL and FLUSHDB empty the databases, not the function libraries
// (as in Redis), before and after a restart; and the saved libraries are
// no key: DBSIZE and KEYS do not count them.
func TestFunctionsKeptByFlushAll(t *testing.T) {
	dir := t.TempDir()
	s, stop := openTestServerAt(t, dir, io.Discard)
	c := newTestClient(s)
	run(c, "function", "load", libCode("kept", ""))
	run(c, "set", "k", "v")
	for _, cmd := range [][]string{{"flushall"}, {"flushdb"}} {
		if got := run(c, cmd...); got != "+OK\r\n" {
			t.Fatalf("%s: %q", cmd[0], got)
		}
	}
	if got := run(c, "dbsize"); got != ":0\r\n" {
		t.Fatalf("DBSIZE = %q", got)
	}
	wantLibraries(t, c, "kept")
	stop()
	s, _ = openTestServerAt(t, dir, io.Discard)
	c = newTestClient(s)
	wantLibraries(t, c, "kept")
	if got := run(c, "dbsize"); got != ":0\r\n" {
		t.Fatalf("DBSIZE after restart = %q", got)
	}
	if got := run(c, "keys", "*"); got != "*0\r\n" {
		t.Fatalf("KEYS * after restart = %q", got)
	}
}

// A change whose save fails gets the storage error and is rolled back; a
// refused change (nothing to save) keeps its usual reply.
func TestFunctionsSaveFailureRollsBack(t *testing.T) {
	var logs bytes.Buffer
	s, stop := openTestServerAt(t, t.TempDir(), &logs)
	c := newTestClient(s)
	run(c, "function", "load", libCode("before", ""))
	dump := run(c, "function", "dump")
	stop() // every write to the store fails from now on
	for _, cmd := range [][]string{
		{"function", "load", libCode("after", "")},
		{"function", "load", "replace", libCode("before", "new")},
		{"function", "delete", "before"},
		{"function", "flush"},
		{"function", "restore", string(dumpLibraries([]*functionLib{{code: libCode("after", "")}}))},
		{"function", "restore", string(dumpLibraries([]*functionLib{{code: libCode("before", "")}})), "flush"},
	} {
		if got := run(c, cmd...); !strings.HasPrefix(got, "-ERR storage error: ") {
			t.Errorf("FUNCTION %s with the store closed = %q, want a storage error", cmd[1], got)
		}
		wantLibraries(t, c, "before")
		if got := run(c, "function", "dump"); got != dump {
			t.Errorf("FUNCTION %s changed the libraries although its save failed", cmd[1])
		}
	}
	if got := run(c, "function", "delete", "missing"); got != "-ERR Library not found\r\n" {
		t.Errorf("FUNCTION DELETE of a missing library = %q", got)
	}
	if got := run(c, "function", "load", libCode("before", "")); got != "-ERR Library 'before' already exists\r\n" {
		t.Errorf("FUNCTION LOAD of an existing library = %q", got)
	}
	if !strings.Contains(logs.String(), "storage error") {
		t.Errorf("the storage errors were not logged: %s", logs.String())
	}
}

// Saved libraries that do not load (a corrupt blob, a library that fails)
// are logged and kvd starts with none; the next change saves afresh.
func TestFunctionsUnloadableSavedLibraries(t *testing.T) {
	for name, blob := range map[string][]byte{
		"corrupt": []byte("not a dump payload"),
		"failing": dumpLibraries([]*functionLib{{code: "#!lua name=bad\nerror('no')"}}),
		"empty":   {},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			opts := engine.DefaultOptions(dir)
			opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			store, err := engine.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.SaveFunctions(blob); err != nil {
				t.Fatal(err)
			}
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			s, stop := openTestServerAt(t, dir, &logs)
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "starting with none") {
				t.Errorf("no error logged for saved libraries that do not load: %q", logs.String())
			}
			c := newTestClient(s)
			wantLibraries(t, c)
			if got := run(c, "function", "load", libCode("fresh", "")); got != bulk("fresh") {
				t.Fatalf("FUNCTION LOAD: %q", got)
			}
			stop()
			s, _ = openTestServerAt(t, dir, io.Discard)
			wantLibraries(t, newTestClient(s), "fresh")
		})
	}
}

// FUNCTION LOAD inside EXEC saves too (the transaction holds the store
// exclusively; the save must not wait for it).
func TestFunctionsLoadInsideExecIsSaved(t *testing.T) {
	dir := t.TempDir()
	s, stop := openTestServerAt(t, dir, io.Discard)
	c := newTestClient(s)
	run(c, "multi")
	run(c, "set", "k", "v")
	run(c, "function", "load", libCode("inexec", ""))
	if got := run(c, "exec"); got != "*2\r\n+OK\r\n"+bulk("inexec") {
		t.Fatalf("EXEC = %q", got)
	}
	stop()
	s, _ = openTestServerAt(t, dir, io.Discard)
	wantLibraries(t, newTestClient(s), "inexec")
}

// Concurrent changes and calls: every library whose LOAD succeeded is
// saved (saves do not commit out of order), and FCALL keeps working while
// libraries change (no deadlock between the store, the Lua state and the
// library set). Run with -race.
func TestFunctionsConcurrentChangesAreAllSaved(t *testing.T) {
	dir := t.TempDir()
	s, stop := openTestServerAt(t, dir, io.Discard)
	run(newTestClient(s), "function", "load", libCode("base", ""))
	const loaders = 8
	var wg sync.WaitGroup
	done := make(chan struct{})
	callerDone := make(chan struct{})
	go func() {
		defer close(callerDone)
		c := newTestClient(s)
		for {
			select {
			case <-done:
				return
			default:
			}
			if got := run(c, "fcall", "base_f", "1", "key", "x"); got != bulk("x") {
				t.Errorf("FCALL during changes: %q", got)
				return
			}
			run(c, "function", "list")
		}
	}()
	var names []string
	for i := 0; i < loaders; i++ {
		name := "lib" + strconv.Itoa(i)
		names = append(names, name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newTestClient(s)
			for j := 0; j < 5; j++ {
				if got := run(c, "function", "load", libCode(name, "")); got != bulk(name) {
					t.Errorf("FUNCTION LOAD %s: %q", name, got)
					return
				}
				if j < 4 {
					if got := run(c, "function", "delete", name); got != "+OK\r\n" {
						t.Errorf("FUNCTION DELETE %s: %q", name, got)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	<-callerDone
	stop()
	s, _ = openTestServerAt(t, dir, io.Discard)
	wantLibraries(t, newTestClient(s), append([]string{"base"}, names...)...)
}
