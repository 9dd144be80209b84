package server

import (
	"container/list"
	"math/rand/v2"
	"strconv"
	"sync"
)

// cursorTable maps SCAN's numeric cursors to the key a scan resumes after.
// Redis cursors are numbers (go-redis parses them as uint64), but kvd's
// keyspace is ordered by key, so each unfinished scan gets a number that
// names its position. The table is bounded: the oldest cursors are
// forgotten, and a forgotten cursor restarts its scan from the beginning.
type cursorTable struct {
	mu    sync.Mutex
	max   int
	next  uint64
	byID  map[uint64]*list.Element
	order *list.List
}

type cursorEntry struct {
	id    uint64
	after []byte
}

// newCursorTable starts numbering at a random point, so that a cursor from
// before a restart is unknown (and restarts its scan) rather than naming
// another scan's position.
func newCursorTable(max int) *cursorTable {
	start := rand.Uint64()>>16 | 1
	return &cursorTable{max: max, next: start, byID: map[uint64]*list.Element{}, order: list.New()}
}

// save records a position and returns its cursor.
func (t *cursorTable) save(after []byte) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.next
	t.next++
	t.byID[id] = t.order.PushBack(&cursorEntry{id, after})
	for t.order.Len() > t.max {
		old := t.order.Remove(t.order.Front()).(*cursorEntry)
		delete(t.byID, old.id)
	}
	return id
}

// load returns the position of a cursor; 0 and unknown cursors mean the start.
func (t *cursorTable) load(id uint64) []byte {
	if id == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.byID[id]; ok {
		return e.Value.(*cursorEntry).after
	}
	return nil
}

// parseCursor parses a SCAN cursor as Redis does, with strtoul: an
// optional sign (a negative cursor wraps around, so "-1" is valid), then
// decimal digits, no spaces; "" reads as 0.
func parseCursor(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, true
	}
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}
