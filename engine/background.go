package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// startBackground starts the once-a-second sync (everysec), the periodic
// value log GC and namespace sweeper, and the advice on new table mappings.
// Close stops them.
func (s *Store) startBackground() {
	s.wg.Add(2)
	go s.everySecLoop()
	go s.gcLoop()
	if s.tables != nil {
		s.wg.Add(1)
		go s.tableAdviceLoop()
	}
}

func (s *Store) everySecLoop() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var synced uint64
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		w := s.sync.writes.Load()
		s.views.retireStale(w)
		if s.sync.policy() != FsyncEverySec {
			continue
		}
		if w == synced {
			continue
		}
		if err := s.sync.wait(); err != nil {
			s.opts.Logger.Error("background fsync failed", "err", err)
			continue
		}
		synced = w
	}
}

func (s *Store) gcLoop() {
	defer s.wg.Done()
	s.every(s.opts.GCInterval, func() {
		if s.disk.check() != nil {
			return // sweeping and GC write too: wait for space
		}
		if err := s.sweepGarbage(); err != nil {
			s.opts.Logger.Error("sweeping flushed databases", "err", err)
		}
		if _, err := s.sweepOrphans(orphanBatch); err != nil {
			s.opts.Logger.Error("sweeping deleted collections", "err", err)
		}
		s.collectValueLog()
	})
}

// every calls fn every interval, on the calling goroutine, until Close.
func (s *Store) every(interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		fn()
	}
}

// collectValueLog rewrites value log files until badger finds none worth it.
// Without this the value log only grows: expired and overwritten values are
// reclaimed from the LSM by compaction, but from the value log only here.
func (s *Store) collectValueLog() {
	for i := 0; i < 16; i++ {
		select {
		case <-s.stop:
			return
		default:
		}
		if !s.valueLogGCPass() {
			return
		}
	}
}

// valueLogGCPass runs one RunValueLogGC and reports whether it rewrote a
// file. A pass writes live values into the newest value log and their
// pointers into the memtable WAL, in several batches, and then deletes
// the old file, syncing nothing. While it runs every sync includes the
// value log, since a writer's sync also makes the pass's WAL entries
// durable; afterwards, whatever the outcome, the value log is marked and
// synced, at once under always (no writer waits for it) and within a
// second under everysec.
func (s *Store) valueLogGCPass() bool {
	s.sync.valueLogBusy.Add(1)
	// A sync already past its check of valueLogBusy may still fsync the
	// WAL once the pass has written to it: let it finish first. Every
	// later one sees the count.
	s.sync.waitIdle()
	s.views.pause()
	err := s.valueLogGC(0.5)
	s.sync.noteWrite(true) // before the pass stops counting as busy
	s.views.resume()
	s.sync.valueLogBusy.Add(-1)
	if err := s.sync.afterCommit(); err != nil {
		s.opts.Logger.Error("fsync after value log GC", "err", err)
	}
	if err != nil {
		if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
			s.opts.Logger.Warn("value log GC", "err", err)
		}
		return false
	}
	return true
}

// badgerLogger sends badger's logs to slog; badger's info lines (compactions,
// flushes) are debug noise for a kvd operator.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Log(context.Background(), slog.LevelError, "badger: "+trim(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Log(context.Background(), slog.LevelWarn, "badger: "+trim(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Log(context.Background(), slog.LevelDebug, "badger: "+trim(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Debugf(f string, a ...any) {}

func trim(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}
