package integration

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"
)

// A pipeline that ends in a blocking command gets the replies before it
// while it waits, as from Redis; and a soft output limit does not run out
// while it waits, however long, for a client that reads.
func TestPipelineRepliesBeforeABlockingCommand(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, addr string, extra func()) {
		ctx := context.Background()
		admin := newClient(t, addr, 2)
		value := strings.Repeat("v", 100<<10)
		if err := admin.Set(ctx, "big", value, 0).Err(); err != nil {
			t.Fatal(err)
		}
		extra()
		c := dialRaw(t, addr)
		var buf []byte
		for range 20 { // 2 MB of replies, above a 1mb soft limit
			buf = append(buf, encodeCommand([]string{"GET", "big"})...)
		}
		buf = append(buf, encodeCommand([]string{"BLPOP", "q", "0"})...)
		c.Send(buf)
		for i := range 20 {
			if got := c.ReadReply(); len(got) != len(value)+len("$102400\r\n\r\n") {
				t.Fatalf("GET %d while BLPOP waits: %d bytes", i, len(got))
			}
		}
		time.Sleep(2500 * time.Millisecond) // past soft_seconds
		if err := admin.LPush(ctx, "q", "job").Err(); err != nil {
			t.Fatal(err)
		}
		if got := string(c.ReadReply()); got != "*2\r\n$1\r\nq\r\n$3\r\njob\r\n" {
			t.Fatalf("BLPOP reply %q", got)
		}
		c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := bufio.NewReader(c.conn).Peek(1); err == nil {
			t.Fatal("unexpected bytes after the BLPOP reply")
		}
	}
	t.Run("kvd", func(t *testing.T) {
		k := startKVD(t)
		check(t, k.Addr, func() {
			if err := newClient(t, k.Addr, 2).ConfigSet(context.Background(), "client-output-buffer-limit", "normal 0 1mb 1").Err(); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("redis", func(t *testing.T) {
		r := startRedis(t)
		check(t, r.Addr, func() {
			newClient(t, r.Addr, 2).ConfigSet(context.Background(), "client-output-buffer-limit", "normal 0 1mb 1")
		})
	})
}
