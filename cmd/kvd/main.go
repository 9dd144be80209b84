// Command kvd is a Redis-compatible server that keeps every key on disk.
//
//	kvd [config-file] [--port 6379] [--dir ./kvd-data] [--appendfsync everysec] ...
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/server"
)

// drainTimeout bounds a graceful shutdown: connections still busy after it
// are cut. A second signal cuts them at once.
const drainTimeout = 10 * time.Second

func main() {
	if err := keepSysmonAwake(); err != nil {
		// Only slower at low load (sysmon.go), so run as we are.
		slog.New(slog.NewTextHandler(os.Stderr, nil)).Warn("running with Go's default sysmon", "err", err)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var pprofAddr string
	cfg, showVersion, err := parseArgs(args, stderr, &pprofAddr)
	if err != nil {
		fmt.Fprintln(stderr, "kvd:", err)
		return 2
	}
	if showVersion {
		fmt.Fprintf(stdout, "kvd %s (Redis %s compatible)\n", server.Version, server.RedisVersion)
		return 0
	}
	cfg.Level = new(slog.LevelVar)
	cfg.Level.Set(server.SlogLevels[cfg.LogLevel])
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.Level}))
	if pprofAddr != "" {
		go servePprof(pprofAddr, log)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		log.Error("cannot create data directory", "dir", cfg.Dir, "err", err)
		return 1
	}
	opts := engine.DefaultOptions(cfg.Dir)
	opts.Databases = cfg.Databases
	opts.Fsync = cfg.Fsync
	opts.Logger = log
	if cfg.MemTableSize >= 0 {
		opts.MemTableSize = cfg.MemTableSize
		opts.DiskReserve = 4 * cfg.MemTableSize
	}
	if cfg.BlockCacheSize >= 0 {
		opts.BlockCacheSize = cfg.BlockCacheSize
	}
	if cfg.IndexCacheSize >= 0 {
		opts.IndexCacheSize = cfg.IndexCacheSize
	}
	if cfg.ReadCacheSize >= 0 {
		opts.ReadCacheSize = cfg.ReadCacheSize
	}
	var cgroupLimit *cgroupLimitFollower
	if os.Getenv("GOMEMLIMIT") == "" {
		cgroupLimit = newCgroupLimitFollower(opts, log)
		cgroupLimit.start()
	}
	tables := newTableMemoryFollower(opts)
	opts.TableMemory = tables.current()
	store, err := engine.Open(opts)
	if err != nil {
		log.Error("cannot open the data directory (is another kvd using it?)", "dir", cfg.Dir, "err", err)
		return 1
	}
	stopMemoryWork := make(chan struct{})
	var memoryWork sync.WaitGroup
	memoryWork.Go(func() { newMemoryTrimmer().run(stopMemoryWork) })
	memoryWork.Go(func() { tables.run(stopMemoryWork, store.SetTableMemory) })
	if cgroupLimit != nil {
		memoryWork.Go(func() { cgroupLimit.run(stopMemoryWork) })
	}
	code := serve(cfg, store, log)
	close(stopMemoryWork)
	memoryWork.Wait()
	if err := store.Close(); err != nil {
		log.Error("closing the store", "err", err)
		return 1
	}
	log.Info("kvd stopped")
	return code
}

// servePprof exposes runtime profiles for performance work (docs/performance.md).
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Error("pprof server", "err", err)
	}
}

func serve(cfg server.Config, store *engine.Store, log *slog.Logger) int {
	srv, err := server.New(cfg, store, log)
	if err != nil {
		log.Error("building the server", "err", err)
		return 1
	}
	addr, err := srv.Listen()
	if err != nil {
		log.Error("cannot listen", "err", err)
		return 1
	}
	log.Info("kvd ready", "addr", addr.String(), "dir", cfg.Dir, "appendfsync", cfg.Fsync.String(), "version", server.Version)
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String())
	case <-srv.ShutdownRequested():
		log.Info("shutting down", "reason", "SHUTDOWN command")
	case err := <-served:
		log.Error("server stopped", "err", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	go func() {
		<-sigs
		log.Warn("second signal: cutting open connections")
		cancel()
	}()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("connections cut during shutdown", "err", err)
	}
	<-served
	return 0
}
