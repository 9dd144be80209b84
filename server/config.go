package server

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/protocol"
)

// Config is what the binary passes to the server. Settings that CONFIG SET
// may change at run time are kept in params afterwards.
type Config struct {
	Bind            string
	Port            int
	Dir             string
	Databases       int
	Fsync           engine.FsyncPolicy
	RequirePass     string
	MaxClients      int
	Timeout         int // idle seconds; 0 = never
	ProtoMaxBulkLen int64
	// Memory sizing of the store (engine.Options), in bytes; -1 keeps the
	// engine's default. The binary applies them when it opens the store.
	MemTableSize, BlockCacheSize, IndexCacheSize, ReadCacheSize int64
	LogLevel                                                    string
	ConfigFile                                                  string
	// Level, when set, is the logger's level: CONFIG SET loglevel changes it.
	Level *slog.LevelVar
}

// SlogLevels maps Redis's log levels onto slog's.
var SlogLevels = map[string]slog.Level{
	"debug":   slog.LevelDebug,
	"verbose": slog.LevelDebug,
	"notice":  slog.LevelInfo,
	"warning": slog.LevelWarn,
	"nothing": slog.LevelError + 100,
}

// DefaultConfig is kvd's configuration without flags.
func DefaultConfig() Config {
	return Config{
		Bind:            "127.0.0.1",
		Port:            6379,
		Dir:             "./kvd-data",
		Databases:       16,
		Fsync:           engine.FsyncEverySec,
		MaxClients:      10000,
		ProtoMaxBulkLen: 512 << 20,
		MemTableSize:    -1,
		BlockCacheSize:  -1,
		IndexCacheSize:  -1,
		ReadCacheSize:   -1,
		LogLevel:        "notice",
	}
}

// params is the live configuration behind CONFIG GET/SET. Each parameter
// knows how to read and (if mutable) change itself.
type params struct {
	mu     sync.RWMutex
	cfg    Config
	save   string
	aof    string
	output outputLimits
	// normalOutput mirrors output[0] for the check after every read
	// batch, which must not take mu.
	normalOutput atomic.Pointer[outputLimit]
	order        []string
	defs         map[string]param
}

type param struct {
	get func(p *params) string
	set func(p *params, v string) error // nil: immutable
}

func newParams(cfg Config, store *engine.Store) *params {
	p := &params{cfg: cfg, save: "", aof: "yes", output: defaultOutputLimits()}
	p.normalOutput.Store(&p.output[0])
	intParam := func(name string, field *int, min, max int) param {
		return param{
			get: func(p *params) string { return strconv.Itoa(*field) },
			set: func(p *params, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil {
					return fmt.Errorf("argument couldn't be parsed into an integer")
				}
				if n < min || n > max {
					return fmt.Errorf("argument must be between %d and %d inclusive", min, max)
				}
				*field = n
				return nil
			},
		}
	}
	fixed := func(get func(p *params) string) param { return param{get: get} }
	p.defs = map[string]param{
		"bind":      fixed(func(p *params) string { return p.cfg.Bind }),
		"port":      fixed(func(p *params) string { return strconv.Itoa(p.cfg.Port) }),
		"dir":       fixed(func(p *params) string { return p.cfg.Dir }),
		"databases": fixed(func(p *params) string { return strconv.Itoa(p.cfg.Databases) }),
		"appendfsync": {
			get: func(p *params) string { return store.Fsync().String() },
			set: func(p *params, v string) error {
				pol, err := engine.ParseFsyncPolicy(strings.ToLower(v))
				if err != nil {
					return fmt.Errorf("argument(s) must be one of the following: everysec, always, no")
				}
				store.SetFsync(pol)
				return nil
			},
		},
		"requirepass": {
			get: func(p *params) string { return p.cfg.RequirePass },
			set: func(p *params, v string) error { p.cfg.RequirePass = v; return nil },
		},
		"maxclients": intParam("maxclients", &p.cfg.MaxClients, 1, 1<<31-1),
		"timeout":    intParam("timeout", &p.cfg.Timeout, 0, 1<<31-1),
		"proto-max-bulk-len": {
			get: func(p *params) string { return strconv.FormatInt(p.cfg.ProtoMaxBulkLen, 10) },
			set: func(p *params, v string) error {
				n, err := ParseMemory(v)
				if err != nil || n < 1024*1024 {
					return fmt.Errorf("argument must be a memory value of at least 1mb")
				}
				p.cfg.ProtoMaxBulkLen = n
				return nil
			},
		},
		"loglevel": {
			get: func(p *params) string { return p.cfg.LogLevel },
			set: func(p *params, v string) error {
				v = strings.ToLower(v)
				level, ok := SlogLevels[v]
				if !ok {
					return fmt.Errorf("argument(s) must be one of the following: debug, verbose, notice, warning, nothing")
				}
				p.cfg.LogLevel = v
				if p.cfg.Level != nil {
					p.cfg.Level.Set(level)
				}
				return nil
			},
		},
		"client-output-buffer-limit": {
			get: func(p *params) string { return p.output.String() },
			set: func(p *params, v string) error {
				l, err := parseOutputLimits(p.output, v)
				p.output = l
				return err
			},
		},
		// kvd is always durable; these are accepted and reported because
		// tools (redis-benchmark, managed-service probes) read and set them.
		"save": {
			get: func(p *params) string { return p.save },
			set: func(p *params, v string) error { p.save = v; return nil },
		},
		"appendonly": {
			get: func(p *params) string { return p.aof },
			set: func(p *params, v string) error {
				v = strings.ToLower(v)
				if v != "yes" && v != "no" {
					return fmt.Errorf("argument must be 'yes' or 'no'")
				}
				p.aof = v
				return nil
			},
		},
	}
	for name := range p.defs {
		p.order = append(p.order, name)
	}
	sort.Strings(p.order)
	return p
}

// outputLimit is the normal class's client-output-buffer-limit.
func (p *params) outputLimit() outputLimit { return *p.normalOutput.Load() }

// config returns a copy of the current configuration.
func (p *params) config() Config {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cfg
}

// get returns name/value pairs of the parameters matching pattern.
func (p *params) get(pattern []byte) [][2]string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out [][2]string
	for _, name := range p.order {
		if protocol.Match([]byte(strings.ToLower(string(pattern))), []byte(name)) {
			out = append(out, [2]string{name, p.defs[name].get(p)})
		}
	}
	return out
}

// set applies CONFIG SET name value pairs all or nothing, returning Redis's
// error text on failure.
func (p *params) set(pairs [][]byte) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	saved := p.cfg
	savedSave, savedAOF, savedOutput := p.save, p.aof, p.output
	for i := 0; i < len(pairs); i += 2 {
		name := strings.ToLower(string(pairs[i]))
		def, ok := p.defs[name]
		if !ok {
			return fmt.Sprintf("ERR Unknown option or number of arguments for CONFIG SET - '%s'", pairs[i])
		}
		fail := func(why string) string {
			p.cfg, p.save, p.aof, p.output = saved, savedSave, savedAOF, savedOutput
			return fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - %s", name, why)
		}
		if def.set == nil {
			return fail("can't set immutable config")
		}
		if err := def.set(p, string(pairs[i+1])); err != nil {
			return fail(err.Error())
		}
	}
	normal := p.output[0]
	p.normalOutput.Store(&normal)
	return ""
}

// ParseMemory parses Redis memory units: 512mb, 1gb, 100k, 42.
func ParseMemory(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"kb", 1024}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1000}, {"m", 1000 * 1000}, {"g", 1000 * 1000 * 1000}, {"b", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid memory value %q", s)
	}
	return n * mult, nil
}
