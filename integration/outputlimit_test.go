package integration

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// pipelineBigGets sends n GETs of key in one write and returns the
// connection without reading anything.
func pipelineBigGets(t *testing.T, addr, key string, n int) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var buf []byte
	for range n {
		buf = append(buf, encodeCommand([]string{"GET", key})...)
	}
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(buf); err != nil {
		t.Fatalf("write the pipeline: %v", err)
	}
	return conn
}

// drain reads until the connection ends or stays silent for idle; it
// returns the bytes read and whether the server closed the connection.
func drain(conn net.Conn, idle time.Duration) (int64, bool) {
	var total int64
	buf := make([]byte, 1<<16)
	for {
		conn.SetReadDeadline(time.Now().Add(idle))
		n, err := conn.Read(buf)
		total += int64(n)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return total, false
			}
			return total, true // EOF or reset: closed by the server
		}
	}
}

func TestClientOutputBufferLimits(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	ctx := context.Background()
	admin := newClient(t, k.Addr, 2)
	value := strings.Repeat("v", 100<<10)
	if err := admin.Set(ctx, "big", value, 0).Err(); err != nil {
		t.Fatal(err)
	}
	const gets = 2000 // 200 MB of replies if all were queued
	reply := int64(len("$102400\r\n") + len(value) + 2)

	// Redis's default for normal clients: no limit. kvd stops reading the
	// client while its replies back up, and everything arrives once it reads.
	conn := pipelineBigGets(t, k.Addr, "big", gets)
	time.Sleep(time.Second)
	if n, closed := drain(conn, 2*time.Second); closed || n != gets*reply {
		t.Fatalf("without a limit: read %d bytes (want %d), closed %v", n, gets*reply, closed)
	}

	// A hard limit closes the client that passes it, without its replies.
	if err := admin.ConfigSet(ctx, "client-output-buffer-limit", "normal 1mb 0 0").Err(); err != nil {
		t.Fatal(err)
	}
	conn = pipelineBigGets(t, k.Addr, "big", gets)
	n, closed := drain(conn, 5*time.Second)
	if !closed || n > 2<<20 {
		t.Fatalf("hard limit 1mb: read %d bytes, closed %v; want closed after at most about 1 MB", n, closed)
	}

	// A soft limit closes a client whose replies stay above it for
	// soft_seconds; one that reads in time is left alone.
	if err := admin.ConfigSet(ctx, "client-output-buffer-limit", "normal 0 512kb 1").Err(); err != nil {
		t.Fatal(err)
	}
	slow := pipelineBigGets(t, k.Addr, "big", gets)
	time.Sleep(2500 * time.Millisecond)
	if n, closed := drain(slow, 5*time.Second); !closed || n >= gets*reply {
		t.Fatalf("soft limit, reading after 2.5 s: read %d bytes, closed %v; want closed early", n, closed)
	}
	fast := pipelineBigGets(t, k.Addr, "big", 50) // 5 MB, read at once
	if n, closed := drain(fast, 2*time.Second); closed || n != 50*reply {
		t.Fatalf("soft limit, reading at once: read %d bytes, closed %v", n, closed)
	}

	// Others were served throughout.
	if err := admin.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after the limits: %v", err)
	}
	if !strings.Contains(k.out.String(), "output buffer limits") {
		t.Errorf("no log line for the client closed by the hard limit")
	}
}
