package engine

import (
	"hash/maphash"
	"slices"
	"sync"
)

// stripeCount is the number of key lock stripes. Writers lock the stripes of
// the keys they touch before opening a badger transaction: badger detects
// conflicts only after the fact, and retrying hot keys collapses throughput
// (see docs/engine.md).
//
// A writer holds its stripes until its commit round ends, so the count sets
// how often writers of different keys wait for each other. With 1024, fifty
// clients sending MSET of 10 random keys held up to 500 keys' stripes (~400
// distinct), about 99% of new MSETs waited behind one of them, and 36 of the
// 50 connections sat in keyLocks.lock (docs/performance.md, session 7).
// With 16384 (768 KiB) about one in four waits.
const stripeCount = 16384

type keyLocks struct {
	seed    maphash.Seed
	stripes [stripeCount]sync.Mutex
	// queues hold single-stripe writes waiting for the stripe's combiner
	// (combine.go).
	queues [stripeCount]combineQueue
}

func newKeyLocks() *keyLocks { return &keyLocks{seed: maphash.MakeSeed()} }

func (l *keyLocks) stripe(ns uint32, key []byte) int {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.WriteByte(byte(ns))
	h.WriteByte(byte(ns >> 8))
	h.WriteByte(byte(ns >> 16))
	h.WriteByte(byte(ns >> 24))
	h.Write(key)
	return int(h.Sum64() % stripeCount)
}

// lockSet is a sorted set of stripes held together; sorting avoids deadlock
// between multi-key commands.
type lockSet struct {
	l   *keyLocks
	ids []int
	one [4]int
}

func (l *keyLocks) lock(set *lockSet) {
	ids := set.ids
	slices.Sort(ids)
	ids = slices.Compact(ids)
	set.ids = ids
	for _, id := range ids {
		l.stripes[id].Lock()
	}
	set.l = l
}

func (s *lockSet) add(id int) {
	if s.ids == nil {
		s.ids = s.one[:0]
	}
	s.ids = append(s.ids, id)
}

func (s *lockSet) unlock() {
	for i := len(s.ids) - 1; i >= 0; i-- {
		s.l.stripes[s.ids[i]].Unlock()
	}
}
