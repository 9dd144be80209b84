package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tableFlags returns the VmFlags of every mapping of a table in dir, read
// from /proc/self/smaps ("rr" is MADV_RANDOM).
func tableFlags(t *testing.T, dir string) map[string][]string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	flags := map[string][]string{}
	var current string
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		if f, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			if current != "" {
				flags[current] = append(flags[current], strings.Join(strings.Fields(f), " "))
			}
			continue
		}
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			current = ""
			if _, ok := parseTableMapping([]byte(line), []byte(dir+"/")); ok {
				current = fields[len(fields)-1]
			}
		}
	}
	return flags
}

// mappingsWhere lists the table mappings in flags whose random-read flag
// ("rr") is set when random is true, and missing when it is false.
func mappingsWhere(flags map[string][]string, random bool) []string {
	var out []string
	for path, fs := range flags {
		for _, f := range fs {
			if strings.Contains(" "+f+" ", " rr ") == random {
				out = append(out, path+": "+f)
			}
		}
	}
	return out
}

// advisedWithin waits up to 5 s for every table mapping in dir to have
// random (or, when random is false, no mapping to have it), and fails the
// test with what it last saw otherwise.
func advisedWithin(t *testing.T, dir string, random bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		flags := tableFlags(t, dir)
		if len(flags) == 0 {
			t.Fatal("no table is mapped")
		}
		bad := mappingsWhere(flags, !random)
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s, want random reads %v, but: %v", random, bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// storeWithATable writes a few keys into dir and closes the store, which
// flushes its memtable into a table.
func storeWithATable(t *testing.T, dir string) {
	s, c := openStoreAt(t, dir, newFakeClock())
	for i := range 1000 {
		mustSetPlain(t, s, 0, fmt.Sprintf("key%d", i), "value")
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenMarksTablesLargerThanTheirMemory(t *testing.T) {
	dir := t.TempDir()
	storeWithATable(t, dir)
	s, c := openStoreAt(t, dir, newFakeClock(), func(o *Options) { o.TableMemory = 1 })
	flags := tableFlags(t, dir)
	if len(flags) == 0 {
		t.Fatal("no table of the reopened store is mapped")
	}
	if bad := mappingsWhere(flags, false); len(bad) > 0 { // at once, before serving
		t.Fatalf("tables mapped with the kernel's readahead: %v", bad)
	}
	s.SetTableMemory(1 << 40)
	advisedWithin(t, dir, false)
	if err := c.close(); err != nil {
		t.Fatal(err)
	}

	s, _ = openStoreAt(t, dir, newFakeClock(), func(o *Options) { o.TableMemory = 1 << 40 })
	if bad := mappingsWhere(tableFlags(t, dir), true); len(bad) > 0 {
		t.Fatalf("tables that fit their memory lost the kernel's readahead: %v", bad)
	}
	s.SetTableMemory(1)
	advisedWithin(t, dir, true)
}

func TestNewTablesAreMarkedForRandomReads(t *testing.T) {
	s, _ := openTestStore(t, func(o *Options) {
		o.MemTableSize = 1 << 20
		o.TableMemory = 1
	})
	tables := func() []string {
		names, err := filepath.Glob(filepath.Join(s.opts.Dir, "*.sst"))
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	if len(tables()) != 0 {
		t.Fatal("a fresh store has tables")
	}
	value := strings.Repeat("v", 500)
	for i := 0; len(tables()) == 0; i++ {
		if i > 200000 {
			t.Fatal("no memtable was flushed into a table")
		}
		mustSetPlain(t, s, 0, fmt.Sprintf("k%d", i), value)
	}
	advisedWithin(t, s.opts.Dir, true)
}
