package integration

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// With --read-cache-size, a GET read again is served from the cache (INFO
// counts the hit) and still sees every later write, whoever makes it and
// however: another client's SET, MULTI/EXEC, FLUSHDB.
func TestReadCacheServesGetsAndSeesWrites(t *testing.T) {
	t.Parallel()
	k := startKVD(t, "--read-cache-size", "8mb")
	ctx := context.Background()
	reader, writer := newClient(t, k.Addr, 2), newClient(t, k.Addr, 3)
	wantGet := func(want string) {
		t.Helper()
		got, err := reader.Get(ctx, "k").Result()
		if want == "" {
			if err != redis.Nil {
				t.Fatalf("GET k = %q, %v; want nil", got, err)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("GET k = %q, %v; want %q", got, err, want)
		}
	}
	if err := writer.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	wantGet("v1")
	hits := infoInt(t, reader, "stats", "kvd_read_cache_hits")
	wantGet("v1")
	if after := infoInt(t, reader, "stats", "kvd_read_cache_hits"); after != hits+1 {
		t.Fatalf("kvd_read_cache_hits %d -> %d after reading k again", hits, after)
	}

	if err := writer.Set(ctx, "k", "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	wantGet("v2")
	wantGet("v2")
	if _, err := writer.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "k", "v3", 0)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantGet("v3")
	wantGet("v3")
	if err := writer.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	wantGet("")
}
