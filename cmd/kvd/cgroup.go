package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// cgroupMemoryLimit returns the memory limit of the cgroup this process
// runs in, or 0 when it has none: in `docker run --memory 512m` it is
// 512 MiB; under systemd, the unit's MemoryMax= (or MemoryHigh=, above
// which the kernel throttles). Go does not read it (GOMAXPROCS follows a
// container's CPU limit since Go 1.25, the heap limit does not), so a heap
// sized for a machine of its own could reach it and be OOM-killed instead
// of collecting harder. It is read at startup and every 10 s after
// (cgroupLimitFollower, heaplimit.go).
//
// As Go's runtime does for CPU limits (internal/runtime/cgroup), it finds
// the cgroup file system in /proc/self/mountinfo (cgroup2, or the v1
// hierarchy with the memory controller), places the process's cgroup from
// /proc/self/cgroup under that mount, and takes the smallest limit on the
// cgroup and its ancestors up to the mount point: memory.max and
// memory.high under v2, memory.limit_in_bytes under v1. A cgroup path
// outside the mount's root (the host's path seen from a container without
// its own cgroup namespace) is not guessed at. Ancestors above the mount
// (a Kubernetes pod's limit, seen from its container) are not visible.
// Files that do not exist mean no limit (no cgroup file system, or no
// limit file at that level); any other failure to read one is an error,
// not "no limit": a process out of file descriptors must not lift its own
// cap. root is "/" except in tests.
func cgroupMemoryLimit(root string) (int64, error) {
	cgroups, err := readIfExists(filepath.Join(root, "proc/self/cgroup"))
	if err != nil || cgroups == nil {
		return 0, err
	}
	mountinfo, err := readIfExists(filepath.Join(root, "proc/self/mountinfo"))
	if err != nil || mountinfo == nil {
		return 0, err
	}
	var limit int64
	lower := func(v int64) {
		if v > 0 && (limit == 0 || v < limit) {
			limit = v
		}
	}
	for line := range strings.Lines(string(cgroups)) {
		// hierarchy-ID:controller-list:cgroup-path
		fields := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(fields) != 3 {
			continue
		}
		var m cgroupMount
		var files []string
		switch {
		case fields[0] == "0" && fields[1] == "":
			m = findCgroupMount(string(mountinfo), "cgroup2", "")
			files = []string{"memory.max", "memory.high"}
		case slices.Contains(strings.Split(fields[1], ","), "memory"):
			m = findCgroupMount(string(mountinfo), "cgroup", "memory")
			files = []string{"memory.limit_in_bytes"}
		default:
			continue
		}
		rel, ok := m.relative(fields[2])
		if !ok {
			continue
		}
		for dir := rel; ; dir = path.Dir(dir) {
			for _, f := range files {
				v, err := readMemoryLimit(filepath.Join(root, m.point, dir, f))
				if err != nil {
					return 0, err
				}
				lower(v)
			}
			if dir == "/" {
				break
			}
		}
	}
	return limit, nil
}

// readIfExists reads a file; nil, without error, if it does not exist.
func readIfExists(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// cgroupMount is where a cgroup hierarchy is mounted: point is the mount
// point, root the cgroup it shows at that point.
type cgroupMount struct{ root, point string }

// findCgroupMount finds the mount of fsType ("cgroup2", or "cgroup" with
// controller among its super options) in a /proc/self/mountinfo listing.
func findCgroupMount(mountinfo, fsType, controller string) cgroupMount {
	for line := range strings.Lines(mountinfo) {
		// ID parent major:minor root mount-point options [optional...] - type source super-options
		pre, post, ok := strings.Cut(strings.TrimSpace(line), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 || g[0] != fsType {
			continue
		}
		if controller != "" && !slices.Contains(strings.Split(g[2], ","), controller) {
			continue
		}
		return cgroupMount{root: unescapeMountinfo(f[3]), point: unescapeMountinfo(f[4])}
	}
	return cgroupMount{}
}

// relative places a cgroup path from /proc/self/cgroup under the mount:
// the path below the mount's root, or false when the cgroup is not under
// it (or the mount was not found).
func (m cgroupMount) relative(cgroup string) (string, bool) {
	if m.point == "" || strings.HasPrefix(cgroup, "/..") {
		return "", false // no mount, or a cgroup outside our cgroup namespace
	}
	cgroup = path.Clean("/" + cgroup)
	switch {
	case m.root == "/":
		return cgroup, true
	case cgroup == m.root:
		return "/", true
	case strings.HasPrefix(cgroup, m.root+"/"):
		return cgroup[len(m.root):], true
	}
	return "", false
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readMemoryLimit reads a cgroup memory limit file; "max" (v2) and v1's
// "unlimited" (a page-rounded 2^63-1) read as 0, as do 0 itself and a
// missing file. A file that cannot be read or parsed is an error.
func readMemoryLimit(file string) (int64, error) {
	data, err := readIfExists(file)
	if err != nil || data == nil {
		return 0, err
	}
	text := strings.TrimSpace(string(data))
	if text == "max" {
		return 0, nil
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgroup memory limit %s: %w", file, err)
	}
	if v <= 0 || v >= 1<<62 {
		return 0, nil
	}
	return v, nil
}
