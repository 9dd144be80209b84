package server

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
)

// serverStats are INFO's counters.
type serverStats struct {
	commands      atomic.Int64
	totalConns    atomic.Int64
	rejectedConns atomic.Int64
	rejectedCalls atomic.Int64
	errorReplies  atomic.Int64
	hits          atomic.Int64
	misses        atomic.Int64
}

// lookup records a keyspace hit or miss.
func (s *serverStats) lookup(found bool) {
	if found {
		s.hits.Add(1)
	} else {
		s.misses.Add(1)
	}
}

func (s *serverStats) reset() {
	s.commands.Store(0)
	s.totalConns.Store(0)
	s.rejectedConns.Store(0)
	s.rejectedCalls.Store(0)
	s.errorReplies.Store(0)
	s.hits.Store(0)
	s.misses.Store(0)
}

func newRunID() string {
	b := make([]byte, 20)
	rand.Read(b)
	return hex.EncodeToString(b)
}
