package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// newTableAdvisor returns the advisor for the tables in dir.
func newTableAdvisor(dir string) (*tableAdvisor, error) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve data directory %s: %w", dir, err)
	}
	return &tableAdvisor{
		dir:      strings.TrimSuffix(abs, "/"), // only the root has one
		readMaps: func() ([]byte, error) { return os.ReadFile("/proc/self/maps") },
		advise:   adviseReadahead,
	}, nil
}

// adviseReadahead applies madvise(MADV_RANDOM) to m, or MADV_NORMAL when
// random is false. ENOMEM means the range is no longer mapped: compaction
// unmapped the table since /proc/self/maps was read.
func adviseReadahead(m tableMapping, random bool) error {
	advice, name := syscall.MADV_NORMAL, "MADV_NORMAL"
	if random {
		advice, name = syscall.MADV_RANDOM, "MADV_RANDOM"
	}
	_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, uintptr(advice))
	if errno != 0 && !errors.Is(errno, syscall.ENOMEM) {
		return fmt.Errorf("madvise(%s) on table mapping %#x-%#x: %w", name, m.start, m.end, errno)
	}
	return nil
}
