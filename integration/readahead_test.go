package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memoryCgroup creates a memory cgroup limited to limit bytes and returns
// its cgroup.procs file, or skips the test where that is not possible (not
// root, no memory controller). It is removed when the test ends, after the
// kvd started later has stopped (cleanups run last-registered first).
func memoryCgroup(t *testing.T, limit int64) string {
	t.Helper()
	name := fmt.Sprintf("kvd-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	v1 := "/sys/fs/cgroup/memory"
	v2 := "/sys/fs/cgroup/unified"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		v2 = "/sys/fs/cgroup"
	}
	var dir, limitFile string
	if _, err := os.Stat(filepath.Join(v1, "memory.limit_in_bytes")); err == nil {
		dir, limitFile = filepath.Join(v1, name), "memory.limit_in_bytes"
	} else if b, err := os.ReadFile(filepath.Join(v2, "cgroup.subtree_control")); err == nil && bytes.Contains(b, []byte("memory")) {
		dir, limitFile = filepath.Join(v2, name), "memory.max"
	} else {
		t.Skip("no cgroup file system with the memory controller")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a memory cgroup (needs root): %v", err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	if err := os.WriteFile(filepath.Join(dir, limitFile), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		t.Fatalf("set the cgroup's limit: %v", err)
	}
	return filepath.Join(dir, "cgroup.procs")
}

// tableReadahead counts the mappings of kvd's tables (pid, data directory
// dir) that are read at random ("rr" in /proc/PID/smaps) and the others.
func tableReadahead(t *testing.T, pid int, dir string) (random, normal int) {
	t.Helper()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatalf("read kvd's smaps: %v", err)
	}
	table := false
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			if table {
				if strings.Contains(flags+" ", " rr ") {
					random++
				} else {
					normal++
				}
			}
			continue
		}
		// A mapping's header: "start-end perms offset dev inode [path]";
		// anonymous mappings have no path.
		if f := strings.Fields(line); len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			table = len(f) >= 6 && filepath.Dir(f[5]) == dir && strings.HasSuffix(f[5], ".sst")
		}
	}
	return random, normal
}

// A kvd whose tables outgrow the memory it may use reads them without the
// kernel's readahead (engine/readahead.go); here the memory shrinks under it,
// as with `docker update --memory`, and it follows within the 10 s at which
// it reads its cgroup's limit.
func TestTablesLargerThanTheMemoryLoseReadahead(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~100 MB and waits for kvd to notice a cgroup change (~15 s)")
	}
	// 256 MiB: the heap limit is three quarters of it, which leaves the
	// tables 64 MiB.
	procs := memoryCgroup(t, 256<<20)
	k := startKVD(t)
	pid := k.proc.cmd.Process.Pid
	c := newClient(t, k.Addr, 2)
	ctx := context.Background()

	value := strings.Repeat("v", 1000)
	var size int64
	for batch := 0; size < 100<<20; batch++ {
		if batch > 200 {
			t.Fatalf("only %d bytes of tables after 200k SETs", size)
		}
		pipe := c.Pipeline()
		for i := range 1000 {
			pipe.Set(ctx, fmt.Sprintf("key:%d:%d", batch, i), value, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		size = 0
		tables, _ := filepath.Glob(filepath.Join(k.Dir, "*.sst"))
		for _, name := range tables {
			if st, err := os.Stat(name); err == nil {
				size += st.Size()
			}
		}
	}
	time.Sleep(1500 * time.Millisecond) // a pass of the engine's advisor
	random, normal := tableReadahead(t, pid, k.Dir)
	if normal == 0 {
		t.Fatalf("%d MB of tables, but none mapped with readahead and %d at random", size>>20, random)
	}
	if random != 0 {
		t.Skipf("kvd already reads its tables at random (this test runs under a memory limit of its own): %d of %d",
			random, random+normal)
	}

	if err := os.WriteFile(procs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		t.Skipf("cannot move kvd into the cgroup: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		random, normal = tableReadahead(t, pid, k.Dir)
		if random > 0 && normal == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s in a 256 MiB cgroup with %d MB of tables: %d tables read at random, %d with readahead",
				size>>20, random, normal)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// It still serves what it holds.
	if got, err := c.Get(ctx, "key:0:0").Result(); err != nil || got != value {
		t.Fatalf("GET key:0:0 = %.20q, %v", got, err)
	}
}
