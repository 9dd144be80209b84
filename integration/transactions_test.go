package integration

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// go-redis's TxPipeline and Watch drive MULTI/EXEC exactly as applications
// use them.
func TestTransactionsGoRedis(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	for _, proto := range []int{2, 3} {
		c := newClient(t, k.Addr, proto)
		ctx := context.Background()
		var incr *redis.IntCmd
		var get *redis.StringCmd
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "tx", 10, 0)
			incr = p.IncrBy(ctx, "tx", 5)
			get = p.Get(ctx, "tx")
			return nil
		})
		if err != nil || incr.Val() != 15 || get.Val() != "15" {
			t.Fatalf("proto %d: TxPipelined: %v %d %q", proto, err, incr.Val(), get.Val())
		}

		// Optimistic increments from many goroutines: every one lands once.
		const workers, each = 8, 25
		c.Del(ctx, "opt")
		var wg sync.WaitGroup
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for done := 0; done < each; {
					err := c.Watch(ctx, func(tx *redis.Tx) error {
						n, err := tx.Get(ctx, "opt").Int()
						if err != nil && !errors.Is(err, redis.Nil) {
							return err
						}
						_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
							p.Set(ctx, "opt", n+1, 0)
							return nil
						})
						return err
					}, "opt")
					switch {
					case err == nil:
						done++
					case errors.Is(err, redis.TxFailedErr):
					default:
						t.Errorf("Watch: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if n, err := c.Get(ctx, "opt").Int(); err != nil || n != workers*each {
			t.Fatalf("proto %d: counter = %d (%v), want %d", proto, n, err, workers*each)
		}
	}
}
