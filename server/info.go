package server

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// INFO. Field names follow Redis 7.0 so that monitoring tools and client
// ready-checks (ioredis reads loading:0) parse them; kvd-specific fields
// carry a kvd_ prefix.

var defaultInfoSections = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "keyspace"}

var allInfoSections = append(slices.Clone(defaultInfoSections), "commandstats")

func cmdInfo(c *Client, args [][]byte) {
	var sections []string
	if len(args) == 1 {
		sections = defaultInfoSections
	}
	for _, a := range args[1:] {
		switch name := strings.ToLower(string(a)); name {
		case "default":
			sections = append(sections, defaultInfoSections...)
		case "all", "everything":
			sections = append(sections, allInfoSections...)
		default:
			sections = append(sections, name)
		}
	}
	var parts []string
	seen := map[string]bool{}
	for _, name := range sections {
		if seen[name] {
			continue
		}
		seen[name] = true
		if body, ok := c.srv.infoSection(c, name); ok {
			parts = append(parts, body)
		}
	}
	c.w.Verbatim("txt", strings.Join(parts, "\r\n"))
}

type infoBuilder struct{ b strings.Builder }

func (ib *infoBuilder) title(t string) { ib.b.WriteString("# " + t + "\r\n") }
func (ib *infoBuilder) kv(k string, v any) {
	fmt.Fprintf(&ib.b, "%s:%v\r\n", k, v)
}

func (s *Server) infoSection(c *Client, name string) (string, bool) {
	var ib infoBuilder
	cfg := s.params.config()
	now := time.Now()
	switch name {
	case "server":
		ib.title("Server")
		ib.kv("redis_version", RedisVersion)
		ib.kv("kvd_version", Version)
		ib.kv("redis_git_sha1", "00000000")
		ib.kv("redis_git_dirty", 0)
		ib.kv("redis_mode", "standalone")
		ib.kv("os", runtime.GOOS+" "+runtime.GOARCH)
		ib.kv("arch_bits", strconv.IntSize)
		ib.kv("go_version", runtime.Version())
		ib.kv("process_id", os.Getpid())
		ib.kv("run_id", s.runID)
		ib.kv("tcp_port", cfg.Port)
		ib.kv("server_time_usec", now.UnixMicro())
		up := now.Sub(s.started)
		ib.kv("uptime_in_seconds", int64(up/time.Second))
		ib.kv("uptime_in_days", int64(up/(24*time.Hour)))
		ib.kv("hz", 10)
		ib.kv("executable", executable())
		ib.kv("config_file", cfg.ConfigFile)
	case "clients":
		ib.title("Clients")
		ib.kv("connected_clients", s.clientCount())
		ib.kv("maxclients", cfg.MaxClients)
		ib.kv("blocked_clients", s.blocking.blocked.Load())
		ib.kv("tracking_clients", 0)
	case "memory":
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss := residentBytes()
		ib.title("Memory")
		ib.kv("used_memory", ms.HeapAlloc)
		ib.kv("used_memory_human", humanBytes(int64(ms.HeapAlloc)))
		ib.kv("used_memory_rss", rss)
		ib.kv("used_memory_rss_human", humanBytes(rss))
		ib.kv("used_memory_peak", ms.HeapSys)
		ib.kv("total_system_memory", SystemMemoryBytes())
		ib.kv("maxmemory", 0)
		ib.kv("maxmemory_policy", "noeviction")
		ib.kv("mem_allocator", "go")
		// The Go heap limit and how often the collector ran: a heap held
		// near its limit collects dozens of times a second (README,
		// "Memory"), which shows here as a fast-rising count.
		ib.kv("kvd_heap_limit", debug.SetMemoryLimit(-1))
		ib.kv("kvd_gc_cycles", ms.NumGC)
	case "persistence":
		lsm, vlog := s.store.DiskSize()
		ib.title("Persistence")
		ib.kv("loading", 0)
		ib.kv("async_loading", 0)
		ib.kv("rdb_changes_since_last_save", 0)
		ib.kv("rdb_bgsave_in_progress", 0)
		ib.kv("rdb_last_save_time", s.store.LastSync().Unix())
		ib.kv("rdb_last_bgsave_status", "ok")
		ib.kv("aof_enabled", 1)
		ib.kv("aof_rewrite_in_progress", 0)
		ib.kv("aof_last_write_status", "ok")
		ib.kv("kvd_appendfsync", s.store.Fsync().String())
		ib.kv("kvd_disk_lsm_bytes", lsm)
		ib.kv("kvd_disk_vlog_bytes", vlog)
	case "stats":
		ib.title("Stats")
		ib.kv("total_connections_received", s.stats.totalConns.Load())
		ib.kv("total_commands_processed", s.stats.commands.Load())
		ib.kv("instantaneous_ops_per_sec", 0)
		ib.kv("rejected_connections", s.stats.rejectedConns.Load())
		ib.kv("expired_keys", 0)
		ib.kv("evicted_keys", 0)
		ib.kv("keyspace_hits", s.stats.hits.Load())
		ib.kv("keyspace_misses", s.stats.misses.Load())
		ib.kv("pubsub_channels", 0)
		ib.kv("pubsub_patterns", 0)
		ib.kv("total_error_replies", s.stats.errorReplies.Load())
		ib.kv("unexpected_error_replies", 0)
		ib.kv("total_reads_processed", s.stats.commands.Load())
		hits, misses := s.store.ReadCacheStats()
		ib.kv("kvd_read_cache_hits", hits)
		ib.kv("kvd_read_cache_misses", misses)
	case "replication":
		ib.title("Replication")
		ib.kv("role", "master")
		ib.kv("connected_slaves", 0)
		ib.kv("master_failover_state", "no-failover")
		ib.kv("master_replid", s.runID)
		ib.kv("master_repl_offset", 0)
	case "cpu":
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		ib.title("CPU")
		ib.kv("used_cpu_sys", fmt.Sprintf("%.6f", tvSeconds(ru.Stime)))
		ib.kv("used_cpu_user", fmt.Sprintf("%.6f", tvSeconds(ru.Utime)))
	case "modules":
		ib.title("Modules")
	case "errorstats":
		ib.title("Errorstats")
	case "commandstats":
		ib.title("Commandstats")
		for _, cmd := range s.table.sorted {
			writeCommandStats(&ib, cmd)
		}
	case "keyspace":
		ib.title("Keyspace")
		for db := 0; db < s.store.Databases(); db++ {
			keys, expires, err := s.store.DBStats(db)
			if err != nil {
				s.log.Error("INFO keyspace", "db", db, "err", err)
				continue
			}
			if keys > 0 {
				ib.kv("db"+strconv.Itoa(db), fmt.Sprintf("keys=%d,expires=%d,avg_ttl=0", keys, expires))
			}
		}
	default:
		return "", false
	}
	return ib.b.String(), true
}

func writeCommandStats(ib *infoBuilder, cmd *Command) {
	calls := cmd.stats.calls.Load()
	rejected, failed := cmd.stats.rejected.Load(), cmd.stats.failed.Load()
	if calls > 0 || rejected > 0 || failed > 0 {
		usec := cmd.stats.usec.Load()
		per := 0.0
		if calls > 0 {
			per = float64(usec) / float64(calls)
		}
		ib.kv("cmdstat_"+cmd.Name, fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d", calls, usec, per, rejected, failed))
	}
	for _, sub := range sortedSubcommands(cmd) {
		writeCommandStats(ib, sub)
	}
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// residentBytes reads the process's RSS from /proc (0 where unavailable).
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// SystemMemoryBytes is the machine's RAM (MemTotal in /proc/meminfo), as
// Redis reports it; 0 where that file is missing.
func SystemMemoryBytes() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v) // "16384256 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

func executable() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	return p
}
