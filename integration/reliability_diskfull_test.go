package integration

// Disk full: kvd's --dir is a small tmpfs; clients write 1 KB values until
// writes fail. Expected, as Redis does when its AOF cannot be written: writes
// fail with an error reply, the server stays up, reads of acknowledged keys
// keep working, nothing acknowledged is lost, and once space is available
// again (the tmpfs is grown) writes succeed without a restart. If kvd dies
// instead, the test says so, then grows the tmpfs, restarts kvd and counts
// what was lost. See docs/reliability.md.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// diskFullSize is the tmpfs size. badger preallocates sparsely (a 2 GB value
// log, memtable files), so kvd starts on a small tmpfs and fills it with
// real data until its free-space reserve (64 MB by default) is reached:
// 128 MB takes about 60,000 1 KB values first.
const diskFullSize = "128m"

func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs on %s (%v: %s): the disk-full test needs root and mount permission", dir, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

func dirUsage(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err.Error()
	}
	total := int64(st.Blocks) * st.Bsize
	free := int64(st.Bavail) * st.Bsize
	return fmt.Sprintf("%s used of %s", mb(total-free), mb(total))
}

func TestReliabilityDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the disk-full test mounts a tmpfs and needs root")
	}
	seed := reliabilitySeed(t)
	mnt := t.TempDir()
	mountTmpfs(t, mnt, diskFullSize)
	data := filepath.Join(mnt, "data")
	k := startKVD(t, "--dir", data, "--appendfsync", "always")
	ctx := context.Background()

	const writers = 8
	var mu sync.Mutex
	acked := map[string][]byte{}
	var errorTexts []string
	var firstFailure time.Time
	var refused, connErrs atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: k.Addr, PoolSize: 1, MaxRetries: -1, ReadTimeout: 10 * time.Second})
			defer c.Close()
			rng := rand.New(rand.NewSource(seed + int64(w)))
			failures := 0
			for i := 0; time.Since(start) < 60*time.Second; i++ {
				key := fmt.Sprintf("df:%d:%06d", w, i)
				val := make([]byte, 1024)
				rng.Read(val)
				err := c.Set(ctx, key, val, 0).Err()
				if err == nil {
					mu.Lock()
					acked[key] = val
					mu.Unlock()
					continue
				}
				mu.Lock()
				if firstFailure.IsZero() {
					firstFailure = time.Now()
				}
				if len(errorTexts) < 5 {
					errorTexts = append(errorTexts, err.Error())
				}
				mu.Unlock()
				var re redis.Error
				if errors.As(err, &re) {
					refused.Add(1)
				} else {
					connErrs.Add(1)
					time.Sleep(100 * time.Millisecond)
					if !kvdAlive(k) {
						return
					}
				}
				// Keep trying a little: further writes must fail the same way.
				if failures++; failures >= 20 || !kvdAlive(k) {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	usage := dirUsage(mnt)
	t.Logf("%d SETs of 1 KB acknowledged in %v; then %d error replies and %d connection errors; tmpfs %s; first errors: %q",
		len(acked), firstFailure.Sub(start).Round(time.Millisecond), refused.Load(), connErrs.Load(), usage, errorTexts)
	if firstFailure.IsZero() {
		t.Fatalf("no write failed within 60 s on a %s tmpfs (%s)", diskFullSize, usage)
	}

	verify := func(when string) int {
		c := redis.NewClient(&redis.Options{Addr: k.Addr, MaxRetries: -1, ReadTimeout: 10 * time.Second})
		defer c.Close()
		var keys []string
		for key := range acked {
			keys = append(keys, key)
		}
		lost := 0
		for i := 0; i < len(keys); i += 500 {
			batch := keys[i:min(i+500, len(keys))]
			vals, err := c.MGet(ctx, batch...).Result()
			if err != nil {
				t.Errorf("%s: MGET of acknowledged keys failed: %v", when, err)
				return -1
			}
			for j, key := range batch {
				if s, _ := vals[j].(string); !bytes.Equal([]byte(s), acked[key]) {
					if lost++; lost <= 5 {
						t.Errorf("%s: acknowledged SET %s lost or wrong: got %d bytes", when, key, len(s))
					}
				}
			}
		}
		if lost > 0 {
			t.Errorf("%s: %d of %d acknowledged SETs lost", when, lost, len(keys))
		}
		return lost
	}

	if !kvdAlive(k) {
		// The behaviour this test exists to catch: report it, then find out
		// what a restart recovers.
		out := k.out.String()
		t.Errorf("kvd died when the disk filled (exit: %v) instead of refusing writes with an error; its output ends:\n%s",
			k.proc.err, crashSummary(out))
		// Can it start again while the disk is still full?
		fullOut := &syncBuffer{}
		port := freePort(t)
		p := startProcess(t, fullOut, kvdBinary, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--dir", data, "--appendfsync", "always")
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		up := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !p.exited(); time.Sleep(50 * time.Millisecond) {
			if pingOnce(addr) == nil {
				up = true
				break
			}
		}
		if up {
			rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
			setErr := rc.Set(ctx, "df:probe-full", "x", 0).Err()
			rc.Close()
			t.Logf("restart on the still-full tmpfs: kvd starts and answers PING; a SET then returns %v (kvd alive after: %v)", setErr, !p.exited())
		} else {
			t.Logf("restart on the still-full tmpfs: kvd does not come up (exited: %v, %v); output:\n%s", p.exited(), p.err, crashSummary(fullOut.String()))
		}
		p.stop(syscall.SIGKILL)
		if out, err := exec.Command("mount", "-o", "remount,size=256m", mnt).CombinedOutput(); err != nil {
			t.Fatalf("grow the tmpfs: %v: %s", err, out)
		}
		restartAt := time.Now()
		k.Restart(t)
		t.Logf("after growing the tmpfs to 128 MB, kvd restarted in %v (tmpfs %s)", time.Since(restartAt).Round(time.Millisecond), dirUsage(mnt))
		lost := verify("after the crash and a restart")
		t.Logf("after the restart: %d of %d acknowledged SETs lost", lost, len(acked))
		return
	}

	// The server is up: it answers, and what it acknowledged is readable.
	if err := pingOnce(k.Addr); err != nil {
		t.Errorf("kvd does not answer PING with the disk full: %v", err)
	}
	if refused.Load() == 0 {
		t.Errorf("no write was refused with an error reply; clients saw only connection errors: %q", errorTexts)
	}
	verify("with the disk full")

	// Free space: grow the tmpfs. Writes must succeed again, no restart.
	if out, err := exec.Command("mount", "-o", "remount,size=256m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v: %s", err, out)
	}
	c := redis.NewClient(&redis.Options{Addr: k.Addr, MaxRetries: -1})
	defer c.Close()
	var lastErr error
	recovered := time.Now()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if lastErr = c.Set(ctx, "df:after", "space again", 0).Err(); lastErr == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("10 s after the tmpfs grew to 128 MB, writes still fail: %v", lastErr)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr == nil {
		t.Logf("writes succeed again %v after the tmpfs grew", time.Since(recovered).Round(time.Millisecond))
		for i := 0; i < 1000; i++ {
			if err := c.Set(ctx, fmt.Sprintf("df:more:%d", i), strings.Repeat("m", 1024), 0).Err(); err != nil {
				t.Errorf("write %d after space came back: %v", i, err)
				break
			}
		}
	}
	verify("after space came back")
	k.Restart(t)
	verify("after a clean restart")
}

// crashSummary keeps the lines of a Go crash that say what happened.
func crashSummary(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		l := strings.TrimSpace(line)
		if strings.Contains(l, "fatal error") || strings.Contains(l, "SIGBUS") || strings.Contains(l, "panic") ||
			strings.Contains(l, "unexpected fault") || strings.Contains(l, "level=ERROR") ||
			strings.HasPrefix(l, "github.com/dgraph-io/badger") || strings.HasPrefix(l, "github.com/kvd") {
			keep = append(keep, l)
		}
		if len(keep) >= 14 {
			break
		}
	}
	return strings.Join(keep, "\n")
}
