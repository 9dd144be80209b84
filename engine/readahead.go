package engine

import (
	"bytes"
	"errors"
	"strconv"
	"sync/atomic"
	"time"
)

// Why kvd may tell the kernel that badger's tables are read at random
//
// badger maps every table (.sst) into memory and reads a block by touching
// its pages. On a page fault in a file mapping, Linux reads around the
// faulting page: read_ahead_kb of the device, half before and half after.
// That is 128 KiB on many disks and 8 MiB on this project's virtio disk,
// for a GET that needs one 4 KiB block.
//
//   - While the tables fit in the page cache, readahead is what warms it:
//     after a restart with 2.6 GB of tables and 24 GiB of RAM, GET at 50
//     clients reached 21k per second within 4 s, the whole dataset read in
//     8 MiB pieces. Read one 4 KiB page at a time, it ran at 4.1-5.4k per
//     second over the first 140k GETs, with half the tables read.
//   - When they do not fit (a dataset larger than the memory kvd may use,
//     as in `docker run --memory`), every GET evicts what other GETs need:
//     under a 1 GiB memory cgroup with the same tables, GET at 50 clients
//     ran at 238 per second, p99 688 ms, with the disk reading 1.1 GB/s.
//     Without readahead, 6.5k per second, p99 28 ms.
//
// So kvd turns readahead off for the tables only while they add up to
// more than the page cache they can count on (Options.TableMemory, which
// cmd/kvd derives from the cgroup's or the machine's memory), and back on
// once they fit in nine tenths of it: compactions write their new tables
// before they unmap the old ones, so the total moves by tens of MB, and
// without the margin the advice would flap (docs/performance.md, session 11).
//
// badger gives no access to its mappings, so kvd finds them in
// /proc/self/maps and applies madvise to each: MADV_RANDOM turns the
// read-around off for that mapping only, MADV_NORMAL restores it. Both are
// hints that only set or clear the mapping's readahead flags: they drop no
// data. On a range unmapped meanwhile the call fails with ENOMEM; if other
// mappings took its place, their readahead changes, and a mapping only
// partly covered is split in two (one more VMA). New tables appear with
// every memtable flush and compaction, so the store looks again every
// second (tableAdviceLoop). The value log and the WALs are read in order
// and are left alone.

// tableMapping is one memory mapping of a table file, as /proc/self/maps
// lists it. id is the table's number (000012.sst is 12), which badger
// never reuses: an address and an inode can both be reused by a table a
// compaction writes as it drops another.
type tableMapping struct {
	start, end uintptr
	id         uint64
}

// tableMappings returns the mappings in maps (the text of /proc/self/maps)
// of .sst files directly inside dir, which must be absolute, free of
// symbolic links, as the kernel prints paths, and without a trailing slash
// ("" for the root). Mappings of files deleted while mapped
// (" (deleted)") are skipped: badger unmaps a table before removing it, so
// only someone else's deletion leaves those.
func tableMappings(maps []byte, dir string) []tableMapping {
	var out []tableMapping
	prefix := []byte(dir + "/")
	for len(maps) > 0 {
		line := maps
		if i := bytes.IndexByte(maps, '\n'); i >= 0 {
			line, maps = maps[:i], maps[i+1:]
		} else {
			maps = nil
		}
		if m, ok := parseTableMapping(line, prefix); ok {
			out = append(out, m)
		}
	}
	return out
}

// parseTableMapping reads one line of /proc/self/maps:
//
//	7f1c2a000000-7f1c2a800000 r--s 00000000 fd:01 1234567    /data/000012.sst
//
// The path is everything after the fifth field and may contain spaces; it
// must be prefix (the directory and a slash) and a table's file name.
func parseTableMapping(line, prefix []byte) (tableMapping, bool) {
	rest := line
	var addresses []byte
	for i := range 5 { // address, perms, offset, device, inode
		rest = bytes.TrimLeft(rest, " ")
		j := bytes.IndexByte(rest, ' ')
		if j < 0 {
			return tableMapping{}, false
		}
		if i == 0 {
			addresses = rest[:j]
		}
		rest = rest[j:]
	}
	path := bytes.TrimLeft(rest, " ")
	name, ok := bytes.CutPrefix(path, prefix)
	if !ok || bytes.IndexByte(name, '/') >= 0 {
		return tableMapping{}, false
	}
	number, ok := bytes.CutSuffix(name, []byte(".sst"))
	if !ok { // also "... (deleted)"
		return tableMapping{}, false
	}
	lo, hi, ok := bytes.Cut(addresses, []byte{'-'})
	if !ok {
		return tableMapping{}, false
	}
	start, err1 := strconv.ParseUint(string(lo), 16, 64)
	end, err2 := strconv.ParseUint(string(hi), 16, 64)
	id, err3 := strconv.ParseUint(string(number), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || end <= start {
		return tableMapping{}, false
	}
	return tableMapping{start: uintptr(start), end: uintptr(end), id: id}, true
}

// tableAdvisor keeps the table mappings' readahead fitted to TableMemory.
// pass is called by one goroutine at a time: Open, then tableAdviceLoop.
type tableAdvisor struct {
	dir      string // absolute, symbolic links resolved
	readMaps func() ([]byte, error)
	advise   func(m tableMapping, random bool) error
	memory   atomic.Int64 // Options.TableMemory; 0: unknown

	random  bool                      // the tables are read without readahead
	advised map[tableMapping]struct{} // mappings advised random, as of the last pass
	size    uint64                    // the tables' mappings, as of the last pass
	failing bool                      // the last pass failed (logged once per run of failures)
}

// pass compares the tables' mappings with the memory they can count on.
// Over it, it advises random reads for every mapping not advised before;
// back under nine tenths of it, it restores readahead on all of them. It
// returns how many mappings it advised. A mapping that went away meanwhile
// is not an error. The first other failure is returned after the rest are
// tried; a mapping that refused MADV_RANDOM is tried again in the next
// pass, and after a refused MADV_NORMAL the next pass restores them all
// again.
func (a *tableAdvisor) pass() (int, error) {
	memory := a.memory.Load()
	if memory <= 0 && !a.random {
		return 0, nil // nothing to fit, nothing to undo
	}
	maps, err := a.readMaps()
	if err != nil {
		return 0, err
	}
	tables := tableMappings(maps, a.dir)
	var size uint64
	for _, m := range tables {
		size += uint64(m.end - m.start)
	}
	a.size = size
	limit := uint64(max(memory, 0))
	if a.random {
		limit = limit / 10 * 9
	}
	random := memory > 0 && size > limit
	if !random && !a.random {
		return 0, nil // the kernel's default, as badger mapped them
	}
	n := 0
	var first error
	now := make(map[tableMapping]struct{}, len(tables))
	for _, m := range tables {
		if _, done := a.advised[m]; random && done {
			now[m] = struct{}{}
			continue
		}
		if err := a.advise(m, random); err != nil {
			if first == nil {
				first = err
			}
			if !random {
				now[m] = struct{}{} // still random: undo it next time
			}
			continue
		}
		n++
		if random {
			now[m] = struct{}{}
		}
	}
	a.advised = now
	a.random = random || len(now) > 0
	return n, first
}

// openTableAdvisor advises the tables badger opened and returns the
// advisor, or nil where table mappings cannot be advised.
func (s *Store) openTableAdvisor() *tableAdvisor {
	a, err := newTableAdvisor(s.opts.Dir)
	if err != nil {
		if !errors.Is(err, errors.ErrUnsupported) {
			s.opts.Logger.Warn("tables keep the kernel's readahead", "err", err)
		}
		return nil
	}
	a.memory.Store(s.opts.TableMemory)
	s.adviseTables(a)
	return a
}

// SetTableMemory sets the page cache the tables can count on
// (Options.TableMemory); the advice follows within a second.
func (s *Store) SetTableMemory(n int64) {
	if s.tables != nil {
		s.tables.memory.Store(n)
	}
}

// tableAdviceLoop fits the readahead of the tables to the memory they can
// count on, and advises those flushes and compactions create, once a
// second.
func (s *Store) tableAdviceLoop() {
	defer s.wg.Done()
	s.every(time.Second, func() { s.adviseTables(s.tables) })
}

// adviseTables runs a pass of a, and logs when the tables outgrow their
// memory or fit it again, and the first failure of a run of them (the
// hint only matters for performance; the next pass tries again).
func (s *Store) adviseTables(a *tableAdvisor) {
	was := a.random
	_, err := a.pass()
	switch {
	case a.random && !was:
		s.opts.Logger.Info("the tables outgrew the memory they can count on: reading them without readahead",
			"tables_bytes", a.size, "table_memory", a.memory.Load())
	case was && !a.random:
		s.opts.Logger.Info("the tables fit the memory they can count on: readahead restored",
			"tables_bytes", a.size, "table_memory", a.memory.Load())
	}
	if err != nil && !a.failing {
		s.opts.Logger.Warn("cannot fit the tables' readahead to their memory", "err", err)
	}
	a.failing = err != nil
}
