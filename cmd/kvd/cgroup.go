package main

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// containerMemoryLimit returns the memory limit of the cgroup this process
// runs in, or 0 when it has none: in `docker run --memory 512m` it is
// 512 MiB. Go does not read it (GOMAXPROCS follows a container's CPU limit
// since Go 1.25, the heap limit does not), so a heap sized for a machine
// of its own would reach the container's limit and be OOM-killed instead
// of collecting harder.
//
// It reads /proc/self/cgroup and takes the smallest limit set on the
// process's cgroup or any ancestor: memory.max under cgroup v2,
// memory.limit_in_bytes under v1's memory controller. Inside a container
// the cgroup file system is usually mounted at the container's own cgroup
// while /proc/self/cgroup may show the host's path, so each path is tried
// down to the mount's root. root is "/" except in tests.
func containerMemoryLimit(root string) int64 {
	data, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0
	}
	var limit int64
	for line := range strings.Lines(string(data)) {
		// hierarchy-ID:controller-list:cgroup-path
		fields := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(fields) != 3 {
			continue
		}
		var mount, file string
		switch {
		case fields[0] == "0" && fields[1] == "":
			mount, file = "sys/fs/cgroup", "memory.max"
		case slices.Contains(strings.Split(fields[1], ","), "memory"):
			mount, file = "sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		for dir := path.Clean("/" + fields[2]); ; dir = path.Dir(dir) {
			if v := readMemoryLimit(filepath.Join(root, mount, dir, file)); v > 0 && (limit == 0 || v < limit) {
				limit = v
			}
			if dir == "/" {
				break
			}
		}
	}
	return limit
}

// readMemoryLimit reads a cgroup memory limit file; "max" (v2) and v1's
// "unlimited" (a page-rounded 2^63-1) read as 0, as does a missing file.
func readMemoryLimit(file string) int64 {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || v <= 0 || v >= 1<<62 {
		return 0
	}
	return v
}
