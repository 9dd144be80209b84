package server

import (
	"io"
	"strconv"
	"testing"
)

// CONFIG GET/SET client-output-buffer-limit, as redis-server 7.0.15 answers.
func TestClientOutputBufferLimitConfig(t *testing.T) {
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	get := func() string { return run(c, "config", "get", "client-output-buffer-limit") }
	bulk := func(v string) string { return "$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n" }
	head := "*2\r\n" + bulk("client-output-buffer-limit")
	if got, want := get(), head+bulk("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"); got != want {
		t.Fatalf("default: %q, want %q", got, want)
	}
	if got := run(c, "config", "set", "client-output-buffer-limit", "normal 10mb 5mb 10"); got != "+OK\r\n" {
		t.Fatalf("set: %q", got)
	}
	if got, want := get(), head+bulk("normal 10485760 5242880 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60"); got != want {
		t.Fatalf("after set: %q, want %q", got, want)
	}
	if lim := s.params.outputLimit(); lim.hard != 10<<20 || lim.soft != 5<<20 || lim.seconds != 10 {
		t.Fatalf("enforced limit %+v", lim)
	}
	for _, bad := range []struct{ v, why string }{
		{"normal 10mb", "Wrong number of arguments in buffer limit configuration."},
		{"foo 1 2 3", "Invalid client class specified in buffer limit configuration."},
		{"normal 1k 2x 3", "Error in hard, soft or soft_seconds setting in buffer limit configuration."},
	} {
		want := "-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - " + bad.why + "\r\n"
		if got := run(c, "config", "set", "client-output-buffer-limit", bad.v); got != want {
			t.Errorf("set %q: %q, want %q", bad.v, got, want)
		}
	}
	run(c, "config", "set", "client-output-buffer-limit", "replica 1 2 3")
	if got, want := get(), head+bulk("normal 10485760 5242880 10 slave 1 2 3 pubsub 33554432 8388608 60"); got != want {
		t.Fatalf("replica alias: %q, want %q", got, want)
	}
}
