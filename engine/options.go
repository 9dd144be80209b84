package engine

import (
	"fmt"
	"github.com/dgraph-io/badger/v4/options"
	"log/slog"
	"time"
)

// FsyncPolicy is when acknowledged writes reach the disk, as appendfsync.
type FsyncPolicy int

const (
	// FsyncEverySec syncs once a second: a power loss loses at most about a
	// second of writes. A process crash loses nothing (badger writes go
	// through mmap).
	FsyncEverySec FsyncPolicy = iota
	// FsyncAlways returns from a write only after it is on disk. Concurrent
	// writers share one fsync (group commit).
	FsyncAlways
	// FsyncNo leaves syncing to the OS.
	FsyncNo
)

// ParseFsyncPolicy parses "always", "everysec" or "no".
func ParseFsyncPolicy(s string) (FsyncPolicy, error) {
	switch s {
	case "always":
		return FsyncAlways, nil
	case "everysec":
		return FsyncEverySec, nil
	case "no":
		return FsyncNo, nil
	}
	return 0, fmt.Errorf("invalid appendfsync %q: want always, everysec or no", s)
}

func (p FsyncPolicy) String() string {
	switch p {
	case FsyncAlways:
		return "always"
	case FsyncNo:
		return "no"
	default:
		return "everysec"
	}
}

// Options configures a Store. Zero values take the defaults of DefaultOptions.
type Options struct {
	Dir       string
	Databases int
	Fsync     FsyncPolicy
	// Now is the clock; tests inject their own. One reading is taken per
	// operation so that a command sees one consistent "now".
	Now    func() time.Time
	Logger *slog.Logger

	// Memory sizing, in bytes. badger's defaults (64 MiB memtables x5,
	// 256 MiB block cache, all indexes in RAM) cost hundreds of MB of RSS
	// for a small dataset; these are sized for a server.
	MemTableSize int64
	NumMemtables int
	// BlockCacheSize 0 (the default) means no block cache: tables are
	// written uncompressed and memory-mapped, so a block is read in place
	// and the kernel's page cache does the caching. A cache only added a
	// copy and ristretto's bookkeeping: GET -P 16 ran 12% faster without
	// it, with 24 MB less anonymous memory. Tables a kvd before
	// uncompressed tables wrote (snappy) still read, decompressed per read.
	BlockCacheSize int64
	IndexCacheSize int64
	// ReadCacheSize bounds the cache of records GETs read (readcache.go);
	// 0 (the default) means none. It pays for read-mostly working sets
	// that fit it: GET -P 16 over 100k hot keys used 30% less CPU. With
	// uniformly random reads over more keys than it holds, or keys
	// rewritten as often as read, filling it cost more than its hits
	// saved: GET -P 16 over 1M keys +35% CPU, the usage mix -10% ops/s.
	ReadCacheSize  int64
	ValueThreshold int64
	// TableMemory is the page cache badger's tables can count on. While
	// their mappings add up to more, kvd turns the kernel's readahead off
	// for them (readahead.go); Store.SetTableMemory changes it later. 0
	// (the default) means unknown: the kernel's readahead stays.
	TableMemory int64

	// DiskReserve is the free space below which writes are refused with
	// ErrDiskFull (0: never). The default is four memtables' worth.
	DiskReserve int64

	// tableCompression is how new tables are written: options.None, except
	// in tests that write the snappy tables older versions of kvd wrote.
	tableCompression options.CompressionType

	// GCInterval is how often the value log is garbage collected and flushed
	// databases are swept.
	GCInterval time.Duration
}

// DefaultOptions returns the options kvd runs with.
func DefaultOptions(dir string) Options {
	return Options{
		Dir:            dir,
		Databases:      16,
		Fsync:          FsyncEverySec,
		Now:            time.Now,
		Logger:         slog.Default(),
		MemTableSize:   16 << 20,
		NumMemtables:   3,
		BlockCacheSize: 0,
		IndexCacheSize: 16 << 20,
		ReadCacheSize:  0,
		ValueThreshold: 64 << 10,
		GCInterval:     time.Minute,
		DiskReserve:    4 * (16 << 20),
	}
}
