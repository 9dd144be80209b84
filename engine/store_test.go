package engine

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4/options"
)

// fakeClock is an injectable Options.Now that only moves when told to.
//
// It starts an hour ahead of the real clock: badger hides items whose
// whole-second ExpiresAt is past the *real* time, so a fake time in the future
// keeps every expiry decision with kvd's millisecond deadline, which is what
// these tests check.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Now().Add(time.Hour).Truncate(time.Second).Add(123 * time.Millisecond)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Ms is the clock's reading in Unix milliseconds, as the engine sees it.
func (c *fakeClock) Ms() int64 { return c.Now().UnixMilli() }

// testOptions are small, quiet options on dir with the given clock.
func testOptions(dir string, clock *fakeClock) Options {
	return Options{
		Dir:            dir,
		Databases:      16,
		Now:            clock.Now,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		MemTableSize:   8 << 20,
		NumMemtables:   2,
		IndexCacheSize: 4 << 20,
		ReadCacheSize:  1 << 20, // every Get in the tests goes through the read cache
		ValueThreshold: 1 << 10,
		GCInterval:     time.Hour, // tests call sweepGarbage themselves
	}
}

// openTestStore opens a store in a fresh temporary directory with a fake
// clock; it is closed when the test ends.
func openTestStore(t testing.TB, mods ...func(*Options)) (*Store, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	s, _ := openStoreAt(t, t.TempDir(), clock, mods...)
	return s, clock
}

// openStoreAt opens a store on dir and closes it at cleanup unless the test
// closed it first (closeStore).
func openStoreAt(t testing.TB, dir string, clock *fakeClock, mods ...func(*Options)) (*Store, *closeOnce) {
	t.Helper()
	opts := testOptions(dir, clock)
	for _, m := range mods {
		m(&opts)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	c := &closeOnce{s: s}
	t.Cleanup(func() {
		if err := c.close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, c
}

type closeOnce struct {
	once sync.Once
	s    *Store
	err  error
}

func (c *closeOnce) close() error {
	c.once.Do(func() { c.err = c.s.Close() })
	return c.err
}

// b is shorthand for a byte slice key or value.
func b(s string) []byte { return []byte(s) }

func bs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func mustSet(t testing.TB, s *Store, db int, key, value string, e Expiry) {
	t.Helper()
	res, err := s.Set(db, b(key), b(value), SetArgs{Expiry: e})
	if err != nil || !res.Written {
		t.Fatalf("Set(%d, %q, %q, %+v) = %+v, %v", db, key, value, e, res, err)
	}
}

func mustSetPlain(t testing.TB, s *Store, db int, key, value string) {
	t.Helper()
	mustSet(t, s, db, key, value, Expiry{})
}

// wantValue checks that key holds value (ok=true).
func wantValue(t testing.TB, s *Store, db int, key, value string) {
	t.Helper()
	got, ok, err := s.Get(db, b(key))
	if err != nil || !ok || string(got) != value {
		t.Fatalf("Get(%d, %q) = %q, %v, %v; want %q, true, nil", db, key, got, ok, err, value)
	}
}

// wantMissing checks that key does not exist.
func wantMissing(t testing.TB, s *Store, db int, key string) {
	t.Helper()
	got, ok, err := s.Get(db, b(key))
	if err != nil || ok {
		t.Fatalf("Get(%d, %q) = %q, %v, %v; want missing", db, key, got, ok, err)
	}
	if n, err := s.Exists(db, bs(key)); err != nil || n != 0 {
		t.Fatalf("Exists(%d, %q) = %d, %v; want 0", db, key, n, err)
	}
}

// wantDeadline checks key's deadline (0: no TTL).
func wantDeadline(t testing.TB, s *Store, db int, key string, want int64) {
	t.Helper()
	d, _, exists, err := s.Deadline(db, b(key))
	if err != nil || !exists || d != want {
		t.Fatalf("Deadline(%d, %q) = %d, exists=%v, %v; want %d", db, key, d, exists, err, want)
	}
}

func wantErr(t testing.TB, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: error %v, want %v", what, got, want)
	}
}

// allKeys returns every live key of db, sorted.
func allKeys(t testing.TB, s *Store, db int) []string {
	t.Helper()
	keys, err := s.Keys(db, nil, ScanFilter{})
	if err != nil {
		t.Fatalf("Keys(%d): %v", db, err)
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	slices.Sort(out)
	return out
}

func sortedStrings(keys [][]byte) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	slices.Sort(out)
	return out
}

func TestOpenAppliesDefaults(t *testing.T) {
	s, _ := openTestStore(t, func(o *Options) { o.Databases = 0 })
	if got := s.Databases(); got != 16 {
		t.Fatalf("Databases() = %d, want the default 16", got)
	}
	if err := s.checkDB(15); err != nil {
		t.Fatalf("checkDB(15): %v", err)
	}
	if err := s.checkDB(16); !errors.Is(err, ErrDBIndex) {
		t.Fatalf("checkDB(16) = %v, want ErrDBIndex", err)
	}
	_, _, err := s.Get(16, b("k"))
	wantErr(t, "Get on db 16", err, ErrDBIndex)
	_, _, err = s.Get(-1, b("k"))
	wantErr(t, "Get on db -1", err, ErrDBIndex)
	_, err = s.Set(16, b("k"), b("v"), SetArgs{})
	wantErr(t, "Set on db 16", err, ErrDBIndex)
	wantErr(t, "SwapDB(0, 16)", s.SwapDB(0, 16), ErrDBIndex)
	wantErr(t, "FlushDB(16)", s.FlushDB(16), ErrDBIndex)
}

// kvd writes uncompressed tables and runs without a block cache; tables an
// older kvd wrote with snappy still read (decompressed per read).
func TestNoBlockCacheReadsOldCompressedTables(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	old, closer := openStoreAt(t, dir, clock, func(o *Options) {
		o.tableCompression = options.Snappy
		o.BlockCacheSize = 8 << 20 // badger refuses compression without one
	})
	for i := range 5000 {
		mustSetPlain(t, old, 0, fmt.Sprintf("k%d", i), strings.Repeat("v", 100))
	}
	if err := closer.close(); err != nil { // flushes the memtable: compressed tables
		t.Fatal(err)
	}
	s, _ := openStoreAt(t, dir, clock, func(o *Options) { o.BlockCacheSize = DefaultOptions(dir).BlockCacheSize })
	if s.db.BlockCacheMetrics() != nil {
		t.Fatalf("the default options give a block cache (%d bytes)", s.opts.BlockCacheSize)
	}
	for _, i := range []int{0, 1234, 4999} {
		wantValue(t, s, 0, fmt.Sprintf("k%d", i), strings.Repeat("v", 100))
	}
}

// Tables carry bloom filters of 15 bits per key (bloomFalsePositive), not
// badger's default 7: each false positive costs a GET a block seek in that
// table.
func TestTablesHaveBloomFiltersForTheLowFalsePositiveRate(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s, closer := openStoreAt(t, dir, clock)
	for i := range 20000 {
		mustSetPlain(t, s, 0, fmt.Sprintf("k%d", i), "v")
	}
	if err := closer.close(); err != nil { // flushes the memtable into a table
		t.Fatal(err)
	}
	s, _ = openStoreAt(t, dir, clock)
	var keys, filterBytes int
	for _, ti := range s.db.Tables() {
		keys += int(ti.KeyCount)
		filterBytes += ti.BloomFilterSize
	}
	if keys < 20000 {
		t.Fatalf("tables hold %d keys, want the 20000 written", keys)
	}
	if bits := float64(filterBytes*8) / float64(keys); bits < 14.5 {
		t.Fatalf("bloom filters have %.1f bits per key, want 15", bits)
	}
}
