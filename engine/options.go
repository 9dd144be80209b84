package engine

import (
	"fmt"
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
	MemTableSize   int64
	NumMemtables   int
	BlockCacheSize int64
	IndexCacheSize int64
	ValueThreshold int64

	// DiskReserve is the free space below which writes are refused with
	// ErrDiskFull (0: never). The default is four memtables' worth.
	DiskReserve int64

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
		BlockCacheSize: 32 << 20,
		IndexCacheSize: 16 << 20,
		ValueThreshold: 64 << 10,
		GCInterval:     time.Minute,
		DiskReserve:    4 * (16 << 20),
	}
}
