package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Store is kvd's keyspace on one badger database. A Store value is a handle
// on shared state: Exclusive hands its callback a second handle that runs
// operations without locking, because it alone holds the keyspace, and
// Batch one that runs them in a single transaction (batch.go).
type Store struct {
	*shared
	// exclusive is set on the handle Exclusive passes on: its goroutine
	// holds mapMu exclusively, so operations must not lock again.
	exclusive bool
	// batch is set on the handle Batch passes on.
	batch *batch
	// snap is set on the handle Snapshot passes on.
	snap *snapshot
}

type shared struct {
	db    *badger.DB
	opts  Options
	locks *keyLocks
	sync  *groupSync
	logs  *logSyncer // what sync runs: fsyncs badger's logs (logsync.go)
	ids   idSource
	disk  diskGuard
	// tables fits the readahead of badger's table mappings to
	// Options.TableMemory (readahead.go); nil where that is not supported.
	tables *tableAdvisor
	// valueLogGC is badger's RunValueLogGC; tests stand in a rewrite.
	valueLogGC func(discardRatio float64) error

	// orphanCursor is where the orphan sweeper resumes.
	orphanMu     sync.Mutex
	orphanCursor []byte

	// mapMu guards nsOf. Every operation holds it shared for its whole
	// duration; FLUSHDB, FLUSHALL and SWAPDB hold it exclusively so that
	// they are atomic with respect to every other command.
	mapMu  sync.RWMutex
	nsOf   []uint32
	nextNS uint32

	stop chan struct{}
	wg   sync.WaitGroup

	watcher atomic.Pointer[Watcher]

	// reads caches the records plain GETs read (readcache.go); nil when
	// ReadCacheSize is 0.
	reads *readCache

	// views is the read transaction single reads share (sharedread.go).
	views sharedReads

	// combinedWrites counts writes a combiner ran for another goroutine
	// (combine.go); tests read it to know combining happened.
	combinedWrites atomic.Int64

	// shares are the queues of writers sharing transactions (share.go);
	// sharedWrites counts units a leader ran for another goroutine.
	shares       [maxShareShards]shareQueue
	shareShards  int           // how many of shares are used: one per two cores
	shareWait    time.Duration // shareWaitLimit
	sharedWrites atomic.Int64
}

// Watcher is told about every committed change, so that the server can
// implement WATCH. Modified may also name keys an operation locked but left
// unchanged (DEL of a missing key among existing ones). Calls come right
// after the commit, on the writer's goroutine: they must be quick and must
// not call the store.
type Watcher interface {
	Modified(db int, key []byte)
	// Flushed reports that any key of db may have changed (FLUSHDB,
	// FLUSHALL, SWAPDB).
	Flushed(db int)
}

// SetWatcher installs w; call it before serving.
func (s *Store) SetWatcher(w Watcher) { s.watcher.Store(&w) }

func (s *Store) notifyWrite(targets []lockKey) {
	if w := s.watcher.Load(); w != nil {
		for _, t := range targets {
			(*w).Modified(t.db, t.key)
		}
	}
}

func (s *Store) notifyFlush(dbs []int) {
	if w := s.watcher.Load(); w != nil {
		for _, db := range dbs {
			(*w).Flushed(db)
		}
	}
}

// bloomFalsePositive is what kvd asks of badger's bloom filters, chosen
// for the filter it yields rather than for its face value. badger turns the
// rate into the number of probes a textbook filter would use
// (ceil(-log2 p)), then passes that number as bits per key to a filter that
// probes 0.69 times as often: its default of 1% gives 7 bits per key and 4
// probes, which is a false-positive rate of ~3.6%. 5e-5 gives 15 bits per key
// and 10 probes: ~0.07%, for one more byte of filter per key than the
// default. See Open for why it matters.
const bloomFalsePositive = 5e-5

// Open opens (creating if needed) the store in opts.Dir. A second process on
// the same directory fails here, on badger's directory lock.
func Open(opts Options) (*Store, error) {
	def := DefaultOptions(opts.Dir)
	if opts.Databases <= 0 {
		opts.Databases = def.Databases
	}
	if opts.Now == nil {
		opts.Now = def.Now
	}
	if opts.Logger == nil {
		opts.Logger = def.Logger
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = def.MemTableSize
	}
	if opts.NumMemtables == 0 {
		opts.NumMemtables = def.NumMemtables
	}
	// BlockCacheSize 0 is a choice, not a default to fill in: no block
	// cache (see DefaultOptions).
	if opts.IndexCacheSize == 0 {
		opts.IndexCacheSize = def.IndexCacheSize
	}
	if opts.ValueThreshold == 0 {
		opts.ValueThreshold = def.ValueThreshold
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = def.GCInterval
	}
	if opts.DiskReserve == 0 {
		opts.DiskReserve = 4 * opts.MemTableSize
	}
	bopts := badger.DefaultOptions(opts.Dir).
		WithLogger(badgerLogger{opts.Logger}).
		// kvd syncs itself (group commit); badger's SyncWrites costs one
		// msync per transaction and shares nothing between clients.
		WithSyncWrites(false).
		WithMemTableSize(opts.MemTableSize).
		WithNumMemtables(opts.NumMemtables).
		WithBlockCacheSize(opts.BlockCacheSize).
		WithIndexCacheSize(opts.IndexCacheSize).
		WithValueThreshold(opts.ValueThreshold).
		// Each compactor builds tables in memory; on a 2-core server the
		// default 4 add RSS and no throughput (docs/performance.md).
		WithNumCompactors(2).
		WithNumVersionsToKeep(1).
		// Compaction was half of a pipelined SET's CPU: every few
		// memtable flushes rewrote the base level. Letting L0 hold 10
		// tables before compacting (stalling writes at 30) and building
		// 8 MiB tables instead of 2 MiB ones cut SET -P 16's CPU per
		// request by a quarter, with pipelined GETs unchanged and no
		// memory added (docs/performance.md, session 4).
		WithNumLevelZeroTables(10).
		WithNumLevelZeroTablesStall(30).
		WithBaseTableSize(8 << 20).
		// Every write runs under its keys' stripe locks, taken before
		// the transaction opens (locks.go), so no two transactions
		// touch one key at once; badger's conflict tracking (a read
		// set per transaction, a map of written keys per commit,
		// checked against every commit since) would never fire.
		WithDetectConflicts(false).
		// badger's metrics are process-wide expvar maps: a sync.Map
		// lookup per table a read consults, 5% of a pipelined GET's
		// CPU. DiskSize measures the files itself.
		WithMetricsEnabled(false).
		// Reads that miss the block cache decompressed a whole block
		// (snappy) each time: a third of a GET's cost with a dataset
		// larger than the cache. Uncompressed blocks are read in place.
		// Each table records its own compression, so directories written
		// before this still read correctly.
		WithCompression(opts.tableCompression).
		// A Get consults the bloom filter of every L0 table (up to 30)
		// and of one table per level below; each false positive costs a
		// block seek, ~2 us. With badger's default filters a pipelined GET
		// over a keyspace a quarter full seeked 0.43 times, 0.17 of them
		// for nothing; with these, 0.32, and used 9% less CPU
		// (docs/performance.md, session 9).
		WithBloomFalsePositive(bloomFalsePositive)
	db, err := badger.Open(bopts)
	if err != nil {
		return nil, fmt.Errorf("open data directory %s: %w", opts.Dir, err)
	}
	s := &Store{shared: &shared{db: db, opts: opts, locks: newKeyLocks(), stop: make(chan struct{}),
		shareShards: min(max(runtime.GOMAXPROCS(0)/2, 1), maxShareShards), shareWait: shareWaitLimit}}
	s.reads = newReadCache(opts.ReadCacheSize)
	s.disk = diskGuard{dir: opts.Dir, reserve: uint64(max(opts.DiskReserve, 0))}
	s.valueLogGC = db.RunValueLogGC
	s.logs = newLogSyncer(opts.Dir)
	s.sync = newGroupSync(s.logs.sync)
	s.sync.setPolicy(opts.Fsync)
	if err := s.loadDBMap(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.seedIDs(); err != nil {
		db.Close()
		return nil, fmt.Errorf("read collection ids: %w", err)
	}
	s.tables = s.openTableAdvisor()
	s.startBackground()
	return s, nil
}

// Close stops background work, syncs and closes badger.
func (s *Store) Close() error {
	close(s.stop)
	s.wg.Wait()
	s.views.close()
	syncErr := s.db.Sync()
	s.logs.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close badger: %w", err)
	}
	if syncErr != nil {
		return fmt.Errorf("final sync: %w", syncErr)
	}
	return nil
}

// Exclusive runs fn while every other operation on the store waits, for
// MULTI/EXEC and scripts: nothing can observe or interleave with what fn
// does through the handle it is given. fn must use only that handle.
func (s *Store) Exclusive(fn func(st *Store) error) error {
	if err := s.outsideBatch(); err != nil {
		return err
	}
	if s.exclusive {
		return fn(s)
	}
	s.mapMu.Lock()
	defer s.mapMu.Unlock()
	defer s.invalidateReads()
	return fn(&Store{shared: s.shared, exclusive: true})
}

// invalidateReads makes every cached read stale, after an operation that
// held mapMu exclusively and wrote without the keys' locks.
func (s *Store) invalidateReads() {
	if s.reads != nil {
		s.reads.invalidateAll()
	}
}

// Databases is the number of logical databases.
func (s *Store) Databases() int { return s.opts.Databases }

// Fsync reports the durability policy in force.
func (s *Store) Fsync() FsyncPolicy { return s.sync.policy() }

// SetFsync changes the durability policy at run time (CONFIG SET appendfsync).
// The log syncer lets go of the files it followed: under "no" they may be
// long deleted (their descriptors would keep the space), and the next sync
// finds the current ones.
func (s *Store) SetFsync(p FsyncPolicy) {
	s.sync.setPolicy(p)
	s.logs.close()
}

// Sync forces everything written so far to disk.
func (s *Store) Sync() error { return s.sync.wait() }

// LastSync is the time of the last completed sync (LASTSAVE).
func (s *Store) LastSync() time.Time { return s.sync.last() }

// DiskSize reports the sizes in bytes of badger's tables (.sst) and value
// log (.vlog) files in the data directory. badger's own Size reads its
// metrics, which kvd turns off.
func (s *Store) DiskSize() (lsm, vlog int64) {
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		switch filepath.Ext(e.Name()) {
		case ".sst":
			lsm += info.Size()
		case ".vlog":
			vlog += info.Size()
		}
	}
	return lsm, vlog
}

func (s *Store) nowMs() int64 { return s.opts.Now().UnixMilli() }

// loadDBMap reads (or creates) the logical database to namespace map.
func (s *Store) loadDBMap() error {
	return s.rawUpdate(func(txn *badger.Txn) error {
		var stored []uint32
		item, err := txn.Get(metaDBMap)
		switch {
		case err == nil:
			v, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read database map: %w", err)
			}
			for i := 0; i+4 <= len(v); i += 4 {
				stored = append(stored, binary.BigEndian.Uint32(v[i:]))
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return fmt.Errorf("read database map: %w", err)
		}
		next := uint32(0)
		if item, err := txn.Get(metaNextNS); err == nil {
			v, err := item.ValueCopy(nil)
			if err != nil || len(v) != 4 {
				return fmt.Errorf("read namespace counter: %v", err)
			}
			next = binary.BigEndian.Uint32(v)
		}
		for _, ns := range stored {
			if ns >= next {
				next = ns + 1
			}
		}
		// Keep every stored mapping (a restart with fewer --databases must
		// not orphan data) and add namespaces for new databases.
		for len(stored) < s.opts.Databases {
			stored = append(stored, next)
			next++
		}
		s.nsOf, s.nextNS = stored, next
		return s.writeDBMap(txn)
	})
}

func (s *Store) writeDBMap(txn *badger.Txn) error {
	v := make([]byte, 4*len(s.nsOf))
	for i, ns := range s.nsOf {
		binary.BigEndian.PutUint32(v[i*4:], ns)
	}
	n := make([]byte, 4)
	binary.BigEndian.PutUint32(n, s.nextNS)
	if err := txn.Set(metaDBMap, v); err != nil {
		return err
	}
	return txn.Set(metaNextNS, n)
}

// checkDB validates a logical database index.
func (s *Store) checkDB(db int) error {
	if db < 0 || db >= s.opts.Databases {
		return ErrDBIndex
	}
	return nil
}
