package engine

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// readCache keeps the stored records of recently read keys (and the
// absence of missing ones) in memory, so that a GET of a key in the working
// set skips badger's lookup. badger searches every memtable and every level
// for each Get, even after finding the key in the newest memtable (value-log
// GC may have rewritten an older version above a newer one), which made the
// lookup a third of a GET's CPU at 50 clients.
//
// Correctness rests on versions, not on invalidating entries in time:
//
//   - Every key hashes to a slot, a word of a version (high 32 bits) and
//     in-flight writers (low 32 bits). A writer calls begin for each key before
//     its transaction can commit, and end after the commit returned; both
//     bump the version.
//   - A reader takes a ticket (the slot word) before it opens its badger
//     transaction, and may fill the entry only if no writer was in flight.
//     The entry remembers the ticket.
//   - An entry is valid while its slot still holds the ticket's word and
//     the cache's epoch is unchanged. So a value read before a commit can
//     never serve a read after it: the commit's writer changed the word
//     before committing, and keeps it "in flight" until after.
//   - Exclusive operations (MULTI/EXEC run exclusively, FLUSHDB, SWAPDB)
//     bump the epoch before releasing the map lock, which every reader of
//     the cache holds shared: every entry becomes invalid at once.
//
// A hit thus returns the latest committed record as of the moment the slot
// was read, which lies within the GET: reads stay linearizable. Only plain
// GETs use the cache; reads inside transactions, snapshots and batches see
// their own moment in badger.
type readCache struct {
	seed   maphash.Seed
	slots  []atomic.Uint64
	epoch  atomic.Uint64
	shards [readCacheShards]readShard
	budget int64 // bytes per shard

	// begun and ended count write operations (not keys) that called
	// begin and end: a snapshot may use the cache only while no write
	// was in flight at its opening and none has begun since.
	begun, ended atomic.Int64

	hits, misses atomic.Int64
}

const (
	readCacheShards = 64
	// readCacheSlots bounds false sharing of versions: keys in one slot
	// invalidate each other's entries. 256k slots cost 2 MiB.
	readCacheSlots = 1 << 18
	// readEntryOverhead approximates what an entry costs beyond its key and
	// value: the map's bucket slot, the entry and two slice headers.
	readEntryOverhead = 96

	// The version is the high half so that its overflow falls off the
	// word instead of carrying into the count of writers in flight.
	versionOne   = uint64(1) << 32
	beginWrite   = versionOne + 1 // new version, one more writer in flight
	endWrite     = versionOne - 1 // new version, one writer fewer (the borrow is the version's carry)
	inFlightMask = versionOne - 1 // the writers-in-flight half of a word
)

type readShard struct {
	mu      sync.Mutex
	entries map[string]readEntry
	bytes   int64
}

// readEntry is a key's stored record (nil: the key was absent) and the
// slot word and epoch it was read under.
type readEntry struct {
	raw   []byte
	word  uint64
	epoch uint64
}

// readTicket is what a reader took before opening its transaction.
type readTicket struct {
	slot  int
	word  uint64
	epoch uint64
}

// newReadCache returns a cache holding about budget bytes, or nil for a
// budget too small to hold anything useful.
func newReadCache(budget int64) *readCache {
	if budget < readCacheShards*1024 {
		return nil
	}
	c := &readCache{seed: maphash.MakeSeed(), slots: make([]atomic.Uint64, readCacheSlots), budget: budget / readCacheShards}
	for i := range c.shards {
		c.shards[i].entries = make(map[string]readEntry)
	}
	return c
}

func (c *readCache) hash(key []byte) uint64 { return maphash.Bytes(c.seed, key) }

func (c *readCache) slotOf(h uint64) int { return int(h % readCacheSlots) }

func (c *readCache) shardOf(h uint64) *readShard {
	return &c.shards[(h/readCacheSlots)%readCacheShards]
}

// begin marks a write of key (an encoded key) as in flight; end must
// follow once its commit has returned, whatever the outcome.
func (c *readCache) begin(key []byte) { c.bump(key, beginWrite) }

func (c *readCache) end(key []byte) { c.bump(key, endWrite) }

// bump changes key's slot word. When the version wraps around (after 2^31
// writes of the slot) a word could come back that an old entry still
// holds: the epoch changes too, which makes every entry stale.
func (c *readCache) bump(key []byte, delta uint64) {
	if w := c.slots[c.slotOf(c.hash(key))].Add(delta); w < versionOne {
		c.epoch.Add(1)
	}
}

// invalidateAll makes every entry stale; the caller holds the map lock
// exclusively.
func (c *readCache) invalidateAll() { c.epoch.Add(1) }

// lookup returns a copy of key's cached record, found reporting whether the
// key existed; hit is false when the cache cannot answer.
func (c *readCache) lookup(key []byte) (raw []byte, found, hit bool) {
	h := c.hash(key)
	word := c.slots[c.slotOf(h)].Load()
	epoch := c.epoch.Load()
	if word&inFlightMask != 0 {
		return nil, false, false
	}
	sh := c.shardOf(h)
	sh.mu.Lock()
	e, ok := sh.entries[string(key)]
	if ok && (e.word != word || e.epoch != epoch) {
		sh.drop(string(key), e)
		ok = false
	}
	if ok && e.raw != nil {
		raw = append([]byte(nil), e.raw...)
	}
	sh.mu.Unlock()
	if !ok {
		return nil, false, false
	}
	return raw, e.raw != nil, true
}

// ticket reads key's slot before the reader opens its transaction.
func (c *readCache) ticket(key []byte) readTicket {
	slot := c.slotOf(c.hash(key))
	return readTicket{slot: slot, word: c.slots[slot].Load(), epoch: c.epoch.Load()}
}

// fill stores what a reader holding t read (raw nil: absent). Nothing is
// stored when a writer was in flight as the ticket was taken; an entry
// stored after a later write is stale from the start and never served.
func (c *readCache) fill(t readTicket, key, raw []byte, found bool) {
	if t.word&inFlightMask != 0 {
		return
	}
	size := int64(len(key)+len(raw)) + readEntryOverhead
	if size > c.budget/4 {
		return // one big value would evict a quarter of the shard
	}
	e := readEntry{word: t.word, epoch: t.epoch}
	if found {
		e.raw = append(make([]byte, 0, len(raw)), raw...)
	}
	sh := c.shardOf(c.hash(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, ok := sh.entries[string(key)]; ok {
		sh.drop(string(key), old)
	}
	for k, old := range sh.entries {
		if sh.bytes+size <= c.budget {
			break
		}
		sh.drop(k, old) // map order is random: random eviction
	}
	sh.entries[string(key)] = e
	sh.bytes += size
}

func (sh *readShard) drop(key string, e readEntry) {
	delete(sh.entries, key)
	sh.bytes -= entrySize([]byte(key), e)
}

func entrySize(key []byte, e readEntry) int64 {
	return int64(len(key)+len(e.raw)) + readEntryOverhead
}

// getCached is Get through the read cache (readcache.go), on a plain handle
// or a snapshot the cache may serve. A plain read takes its ticket before
// its transaction opens, so that a value read before a concurrent commit
// is never served after it. A snapshot's reads use the cache only while
// nothing was written since the snapshot opened: then the cache's entries
// are the snapshot's values.
func (s *Store) getCached(db int, key []byte) (value []byte, ok bool, err error) {
	if err := s.checkDB(db); err != nil {
		return nil, false, err
	}
	if s.snap == nil {
		s.mapMu.RLock()
		defer s.mapMu.RUnlock()
	}
	ck := encodeKey(s.nsOf[db], key)
	raw, found, hit := s.reads.lookup(ck)
	if hit && s.snap != nil && !s.snap.unchanged(s.reads) {
		hit = false
	}
	if hit {
		s.reads.hits.Add(1)
	} else {
		s.reads.misses.Add(1)
		if raw, found, err = s.readToCache(ck); err != nil {
			return nil, false, err
		}
	}
	if !found {
		return nil, false, nil
	}
	now := s.nowMs() // within the GET, after its moment was chosen
	if s.snap != nil {
		now = s.snap.now
	}
	r, ok, err := liveRecord(raw, now)
	if err != nil || !ok {
		return nil, false, err
	}
	if r.kind != KindString {
		return nil, false, ErrWrongType
	}
	return r.payload, true, nil
}

// readToCache reads an encoded key's record from badger and offers it to
// the read cache.
func (s *Store) readToCache(ck []byte) (raw []byte, found bool, err error) {
	if s.snap != nil {
		raw, found, err = readRecord(s.snap.txn, ck)
		t := s.reads.ticket(ck)
		if err == nil && s.snap.unchanged(s.reads) {
			s.reads.fill(t, ck, raw, found)
		}
		return raw, found, err
	}
	t := s.reads.ticket(ck)
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	if raw, found, err = readRecord(txn, ck); err == nil {
		s.reads.fill(t, ck, raw, found)
	}
	return raw, found, err
}

// ReadCacheStats reports the read cache's hits and misses since start.
func (s *Store) ReadCacheStats() (hits, misses int64) {
	if s.reads == nil {
		return 0, 0
	}
	return s.reads.hits.Load(), s.reads.misses.Load()
}

// beginWrites and endWrites bracket a commit that writes keys (encoded).
func (s *Store) beginWrites(keys [][]byte) {
	if s.reads != nil {
		s.reads.begun.Add(1)
		for _, k := range keys {
			s.reads.begin(k)
		}
	}
}

func (s *Store) endWrites(keys [][]byte) {
	if s.reads != nil {
		for _, k := range keys {
			s.reads.end(k)
		}
		s.reads.ended.Add(1)
	}
}

// quietSince is what a snapshot opening records: the count of writes
// begun, and whether every write begun had ended, read in that order
// (ended first) so that a write straddling the two reads counts as in
// flight.
func (c *readCache) quietSince() (begun int64, quiet bool) {
	ended := c.ended.Load()
	begun = c.begun.Load()
	return begun, begun == ended
}
