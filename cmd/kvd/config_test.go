package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvd/kvd/engine"
)

func TestMemorySettings(t *testing.T) {
	cfg, _, err := parseArgs([]string{"--block-cache-size", "64mb", "--index-cache-size", "1gb", "--memtable-size", "8388608"}, io.Discard, new(string))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BlockCacheSize != 64<<20 || cfg.IndexCacheSize != 1<<30 || cfg.MemTableSize != 8<<20 {
		t.Fatalf("sizes = %d %d %d", cfg.BlockCacheSize, cfg.IndexCacheSize, cfg.MemTableSize)
	}
	for _, bad := range []string{"100k", "lots", "-1mb"} {
		if _, _, err := parseArgs([]string{"--block-cache-size", bad}, io.Discard, new(string)); err == nil || !strings.Contains(err.Error(), "block-cache-size") {
			t.Errorf("--block-cache-size %s: err %v, want a refusal naming the setting", bad, err)
		}
	}
	// A zero block cache is a choice (none); a zero memtable is refused.
	cfg, _, err = parseArgs([]string{"--block-cache-size", "0", "--read-cache-size", "0"}, io.Discard, new(string))
	if err != nil || cfg.BlockCacheSize != 0 || cfg.ReadCacheSize != 0 {
		t.Fatalf("--block-cache-size 0 --read-cache-size 0: %d %d, %v", cfg.BlockCacheSize, cfg.ReadCacheSize, err)
	}
	cfg, _, err = parseArgs([]string{"--read-cache-size", "256mb"}, io.Discard, new(string))
	if err != nil || cfg.ReadCacheSize != 256<<20 {
		t.Fatalf("--read-cache-size 256mb: %d, %v", cfg.ReadCacheSize, err)
	}
	if _, _, err := parseArgs([]string{"--memtable-size", "0"}, io.Discard, new(string)); err == nil {
		t.Error("--memtable-size 0 was accepted")
	}
	// The same directives in a redis.conf-style file.
	conf := filepath.Join(t.TempDir(), "kvd.conf")
	if err := os.WriteFile(conf, []byte("block-cache-size 128mb\nmemtable-size 32mb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err = parseArgs([]string{conf}, io.Discard, new(string))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BlockCacheSize != 128<<20 || cfg.MemTableSize != 32<<20 || cfg.IndexCacheSize != -1 {
		t.Fatalf("from the file: %d %d %d", cfg.BlockCacheSize, cfg.MemTableSize, cfg.IndexCacheSize)
	}
}

func TestSoftMemoryLimitCoversBadgersMemory(t *testing.T) {
	opts := engine.DefaultOptions(t.TempDir())
	if got, want := softMemoryLimit(opts), int64(448<<20+3*(16<<20)+16<<20); got != want {
		t.Fatalf("default limit %d MiB, want %d MiB", got>>20, want>>20)
	}
	opts.BlockCacheSize = 1 << 30
	if got := softMemoryLimit(opts); got < 1<<30+448<<20 {
		t.Fatalf("a 1 GiB block cache gives a limit of %d MiB", got>>20)
	}
}
