package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestTableMappingsTakesTheDirectorysTables(t *testing.T) {
	maps := []byte(`55d0c8a00000-55d0c8c00000 r-xp 00000000 fd:01 1311                       /usr/bin/kvd
7f0000000000-7f0000800000 r--s 00000000 fd:01 4001                       /data/kvd/000012.sst
7f0000800000-7f0000900000 rw-s 00000000 fd:01 4002                       /data/kvd/00003.mem
7f0000900000-7f0000a00000 r--s 00000000 fd:01 4003                       /data/kvd/000004.vlog
7f0000a00000-7f0000b00000 r--s 00000000 fd:01 4004                       /data/kvd/000013.sst (deleted)
7f0000b00000-7f0000c00000 r--s 00000000 fd:01 4005                       /data/other/000014.sst
7f0000c00000-7f0000d00000 r--s 00000000 fd:01 4006                       /data/kvd/sub/000015.sst
7f0000d00000-7f0000e00000 rw-p 00000000 00:00 0 
7f0000e00000-7f0000f00000 r--s 00001000 fd:01 4007                       /data/my dir/000016.sst
zzzz-7f0000f00000 r--s 00000000 fd:01 4008                               /data/kvd/000017.sst
7f0001000000-7f0001100000 r--s 00000000 fd:01 4009                       /data/kvd/000018.sst`)
	got := tableMappings(maps, "/data/kvd")
	want := []tableMapping{
		{start: 0x7f0000000000, end: 0x7f0000800000, id: 12},
		{start: 0x7f0001000000, end: 0x7f0001100000, id: 18},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("tableMappings = %+v, want %+v", got, want)
	}
	// A directory with a space in its name: the path is the rest of the line.
	got = tableMappings(maps, "/data/my dir")
	if len(got) != 1 || got[0].id != 16 {
		t.Fatalf("tableMappings in %q = %+v", "/data/my dir", got)
	}
	// The root directory, which newTableAdvisor passes as "".
	got = tableMappings([]byte("7f0000000000-7f0000800000 r--s 00000000 fd:01 4001 /000019.sst\n"), "")
	if len(got) != 1 || got[0].id != 19 {
		t.Fatalf("tableMappings in the root = %+v", got)
	}
}

// fakeMaps builds /proc/self/maps lines for tables in /d, 8 MiB each.
func fakeMaps(inodes ...int) string {
	var b strings.Builder
	for _, i := range inodes {
		start := uint64(0x7f0000000000) + uint64(i)<<24
		fmt.Fprintf(&b, "%x-%x r--s 00000000 fd:01 %d /d/%06d.sst\n", start, start+8<<20, i, i)
	}
	return b.String()
}

type adviceLog struct {
	random, normal []uint64 // table ids advised
	failOn         uint64
}

func (l *adviceLog) advise(m tableMapping, random bool) error {
	if m.id == l.failOn {
		return errors.New("refused")
	}
	if random {
		l.random = append(l.random, m.id)
	} else {
		l.normal = append(l.normal, m.id)
	}
	return nil
}

func TestTableAdvisorFollowsTheMemoryTheTablesHave(t *testing.T) {
	var maps string
	reads := 0
	log := &adviceLog{}
	a := &tableAdvisor{
		dir:      "/d",
		readMaps: func() ([]byte, error) { reads++; return []byte(maps), nil },
		advise:   log.advise,
	}
	pass := func(wantRandom, wantNormal []uint64) {
		t.Helper()
		log.random, log.normal = nil, nil
		n, err := a.pass()
		if err != nil || n != len(wantRandom)+len(wantNormal) ||
			!slices.Equal(log.random, wantRandom) || !slices.Equal(log.normal, wantNormal) {
			t.Fatalf("pass() = %d, %v, advised random %v normal %v; want random %v normal %v",
				n, err, log.random, log.normal, wantRandom, wantNormal)
		}
	}

	maps = fakeMaps(1, 2) // 16 MiB of tables
	pass(nil, nil)        // memory unknown: the kernel's default
	if reads != 0 {
		t.Fatal("read /proc/self/maps with no memory to fit")
	}
	a.memory.Store(32 << 20)
	pass(nil, nil) // they fit
	maps = fakeMaps(1, 2, 3, 4, 5)
	pass([]uint64{1, 2, 3, 4, 5}, nil) // 40 MiB: they no longer do
	pass(nil, nil)                     // each mapping once
	maps = fakeMaps(2, 3, 4, 5, 6)
	pass([]uint64{6}, nil) // compaction replaced a table
	maps = fakeMaps(2, 3, 4, 5, 6, 1)
	pass([]uint64{1}, nil) // an address and inode seen before, after being gone

	// A failure is returned, and the mapping is tried again next time.
	maps += fakeMaps(7)
	log.failOn = 7
	if n, err := a.pass(); err == nil || n != 0 {
		t.Fatalf("pass() with a refusing madvise = %d, %v; want 0 and the error", n, err)
	}
	log.failOn = 0
	pass([]uint64{7}, nil)

	// Just under the memory is not enough to come back: 32 MiB of 8 MiB
	// tables with 35 MiB (the tables move by a table or two as compactions
	// write new ones before dropping old ones).
	maps = fakeMaps(2, 3, 4, 5)
	a.memory.Store(35 << 20)
	pass(nil, nil)
	maps = fakeMaps(2, 3, 4, 5, 6, 1, 7)

	// More memory (a raised cgroup limit): readahead comes back, once.
	a.memory.Store(1 << 30)
	pass(nil, []uint64{2, 3, 4, 5, 6, 1, 7})
	pass(nil, nil)
	maps += fakeMaps(8)
	pass(nil, nil) // a new table keeps the default
	a.memory.Store(16 << 20)
	pass([]uint64{2, 3, 4, 5, 6, 1, 7, 8}, nil)

	a.readMaps = func() ([]byte, error) { return nil, errors.New("no /proc") }
	if _, err := a.pass(); err == nil {
		t.Fatal("pass() without /proc/self/maps returned no error")
	}
}

func TestTableAdvisorRetriesAFailedRestore(t *testing.T) {
	maps := fakeMaps(1, 2)
	log := &adviceLog{}
	a := &tableAdvisor{dir: "/d", readMaps: func() ([]byte, error) { return []byte(maps), nil }, advise: log.advise}
	a.memory.Store(1)
	if n, err := a.pass(); n != 2 || err != nil {
		t.Fatalf("pass() = %d, %v", n, err)
	}
	a.memory.Store(1 << 30)
	log.failOn = 2
	if _, err := a.pass(); err == nil {
		t.Fatal("a refused MADV_NORMAL was not reported")
	}
	log.failOn, log.normal = 0, nil
	if n, err := a.pass(); n != 2 || err != nil || !slices.Contains(log.normal, 2) {
		t.Fatalf("the next pass = %d, %v, restored %v; want table 2 restored", n, err, log.normal)
	}
	log.normal = nil
	if n, _ := a.pass(); n != 0 {
		t.Fatalf("restored again: %v", log.normal)
	}
}

// BenchmarkTablePass is the advisor's work each second with 1000 tables
// mapped (20M keys of 100 bytes make ~330) when they fit their memory.
func BenchmarkTablePass(b *testing.B) {
	inodes := make([]int, 1000)
	for i := range inodes {
		inodes[i] = i + 1
	}
	maps := []byte(fakeMaps(inodes...))
	a := &tableAdvisor{dir: "/d", readMaps: func() ([]byte, error) { return maps, nil },
		advise: func(tableMapping, bool) error { return nil }}
	a.memory.Store(1 << 40)
	for b.Loop() {
		if _, err := a.pass(); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzTableMappings: any text, no panic, and only well-formed ranges.
func FuzzTableMappings(f *testing.F) {
	f.Add([]byte(fakeMaps(1, 2)+"7f0000d00000-7f0000e00000 rw-p 00000000 00:00 0 \n"), "/d")
	f.Add([]byte("7f0000a00000-7f0000b00000 r--s 00000000 fd:01 4004 /d/000013.sst (deleted)\n"), "/d")
	f.Add([]byte("7f0000a00000-7f0000b00000 r--s 00000000 fd:01 4004 /000019.sst"), "")
	f.Fuzz(func(t *testing.T, maps []byte, dir string) {
		for _, m := range tableMappings(maps, dir) {
			if m.end <= m.start {
				t.Fatalf("mapping %+v from %q", m, maps)
			}
		}
	})
}
