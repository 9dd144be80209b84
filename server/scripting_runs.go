package server

import (
	"sync"
	"sync/atomic"
)

// scriptRuns is the set of scripts and functions in progress. Calls on
// different keys run side by side (each in its own engine batch), so there
// can be several at once; BUSY, SCRIPT KILL and FUNCTION STATS look at the
// one that has run longest, as Redis, which runs one at a time, looks at
// its only one.
type scriptRuns struct {
	n   atomic.Int32 // len(set), read without the lock on every command
	mu  sync.Mutex
	set map[*scriptRun]struct{}
}

func (rs *scriptRuns) add(r *scriptRun) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.set == nil {
		rs.set = map[*scriptRun]struct{}{}
	}
	rs.set[r] = struct{}{}
	rs.n.Store(int32(len(rs.set)))
}

func (rs *scriptRuns) remove(r *scriptRun) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.set, r)
	rs.n.Store(int32(len(rs.set)))
}

// oldest returns the call that started first, nil when none runs.
func (rs *scriptRuns) oldest() *scriptRun {
	if rs.n.Load() == 0 {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var first *scriptRun
	for r := range rs.set {
		if first == nil || r.start.Before(first.start) {
			first = r
		}
	}
	return first
}
