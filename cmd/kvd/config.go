package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/server"
)

// settings are the directives kvd accepts, each both as a --flag and as a
// line of a redis.conf-style file. Flags given on the command line win over
// the file, as with redis-server.
type setting struct {
	name  string
	usage string
	apply func(cfg *server.Config, v string) error
}

var errIgnored = errors.New("ignored")

func settings() []setting {
	intSetting := func(name, usage string, min int, field func(*server.Config) *int) setting {
		return setting{name, usage, func(cfg *server.Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < min {
				return fmt.Errorf("%s must be an integer >= %d, got %q", name, min, v)
			}
			*field(cfg) = n
			return nil
		}}
	}
	memSetting := func(name, usage string, zeroOK bool, field func(*server.Config) *int64) setting {
		return setting{name, usage, func(cfg *server.Config, v string) error {
			n, err := server.ParseMemory(v)
			if err != nil || (n < 1<<20 && !(zeroOK && n == 0)) {
				if zeroOK {
					return fmt.Errorf("%s must be 0 or a memory value of at least 1mb, got %q", name, v)
				}
				return fmt.Errorf("%s must be a memory value of at least 1mb, got %q", name, v)
			}
			*field(cfg) = n
			return nil
		}}
	}
	return []setting{
		{"bind", "address to listen on (0.0.0.0 for all interfaces)", func(cfg *server.Config, v string) error {
			// redis.conf allows several addresses; kvd listens on the first.
			cfg.Bind = strings.Fields(v)[0]
			return nil
		}},
		intSetting("port", "TCP port", 1, func(c *server.Config) *int { return &c.Port }),
		{"dir", "data directory (created if missing)", func(cfg *server.Config, v string) error { cfg.Dir = v; return nil }},
		intSetting("databases", "number of databases", 1, func(c *server.Config) *int { return &c.Databases }),
		{"appendfsync", "always | everysec | no", func(cfg *server.Config, v string) error {
			p, err := engine.ParseFsyncPolicy(strings.ToLower(v))
			cfg.Fsync = p
			return err
		}},
		{"requirepass", "password clients must AUTH with", func(cfg *server.Config, v string) error { cfg.RequirePass = v; return nil }},
		intSetting("maxclients", "maximum connected clients", 1, func(c *server.Config) *int { return &c.MaxClients }),
		intSetting("timeout", "close clients idle for this many seconds (0 = never)", 0, func(c *server.Config) *int { return &c.Timeout }),
		{"proto-max-bulk-len", "largest accepted bulk string (e.g. 512mb)", func(cfg *server.Config, v string) error {
			n, err := server.ParseMemory(v)
			if err != nil || n < 1<<20 {
				return fmt.Errorf("proto-max-bulk-len must be at least 1mb, got %q", v)
			}
			cfg.ProtoMaxBulkLen = n
			return nil
		}},
		{"loglevel", "debug | verbose | notice | warning | nothing", func(cfg *server.Config, v string) error {
			v = strings.ToLower(v)
			if _, ok := server.SlogLevels[v]; !ok {
				return fmt.Errorf("loglevel must be one of debug, verbose, notice, warning, nothing; got %q", v)
			}
			cfg.LogLevel = v
			return nil
		}},
		// badger's memory: what RSS is made of, whatever the dataset's size
		// (docs/engine.md, "Memory sizing").
		memSetting("memtable-size", "write buffer per memtable, up to 3 in memory (default 16mb)", false, func(c *server.Config) *int64 { return &c.MemTableSize }),
		memSetting("block-cache-size", "cache of data blocks (default 0: none, the page cache serves memory-mapped tables)", true, func(c *server.Config) *int64 { return &c.BlockCacheSize }),
		memSetting("index-cache-size", "cache of table indexes and bloom filters (default 16mb)", false, func(c *server.Config) *int64 { return &c.IndexCacheSize }),
		memSetting("read-cache-size", "cache of the values GET reads, for read-mostly working sets (default 0: none)", true, func(c *server.Config) *int64 { return &c.ReadCacheSize }),
		// Redis persistence directives: kvd always persists, so these are
		// accepted in a redis.conf and otherwise ignored.
		{"appendonly", "accepted for redis.conf compatibility; kvd always persists", func(*server.Config, string) error { return errIgnored }},
		{"save", "accepted for redis.conf compatibility; kvd always persists", func(*server.Config, string) error { return errIgnored }},
	}
}

// parseArgs reads `kvd [config-file] [--flag value ...]`.
func parseArgs(args []string, stderr io.Writer, pprofAddr *string) (cfg server.Config, showVersion bool, err error) {
	cfg = server.DefaultConfig()
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cfg.ConfigFile = args[0]
		if err := applyFile(&cfg, args[0]); err != nil {
			return cfg, false, err
		}
		args = args[1:]
	}
	fs := flag.NewFlagSet("kvd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	fs.StringVar(pprofAddr, "pprof-addr", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); empty: off")
	var applyErr error
	for _, s := range settings() {
		s := s
		fs.Func(s.name, s.usage, func(v string) error {
			if err := s.apply(&cfg, v); err != nil && !errors.Is(err, errIgnored) {
				return err
			}
			return nil
		})
	}
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected argument %q (a config file must come first)", fs.Arg(0))
	}
	return cfg, showVersion, applyErr
}

// applyFile reads a redis.conf-style file: one directive per line, '#'
// comments, values optionally quoted.
func applyFile(cfg *server.Config, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open config file: %w", err)
	}
	defer f.Close()
	byName := map[string]setting{}
	for _, s := range settings() {
		byName[s.name] = s
	}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		name, value, _ := strings.Cut(text, " ")
		value = unquote(strings.TrimSpace(value))
		s, ok := byName[strings.ToLower(name)]
		if !ok {
			return fmt.Errorf("%s:%d: unknown directive %q", path, line, name)
		}
		if err := s.apply(cfg, value); err != nil && !errors.Is(err, errIgnored) {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	return nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		if u, err := strconv.Unquote(`"` + v[1:len(v)-1] + `"`); err == nil {
			return u
		}
		return v[1 : len(v)-1]
	}
	return v
}
