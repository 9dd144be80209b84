package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kvd/kvd/engine"
)

// fakeRoot writes files (path relative to root -> contents) under a temp
// directory standing for "/".
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, contents := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(contents), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestContainerMemoryLimit(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{
			name: "cgroup v2 in a container (docker run --memory 512m)",
			files: map[string]string{
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "536870912\n",
			},
			want: 512 << 20,
		},
		{
			name: "cgroup v2 without a limit",
			files: map[string]string{
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "max\n",
			},
		},
		{
			name: "cgroup v2 on a host: the smallest limit of the cgroup and its ancestors",
			files: map[string]string{
				"proc/self/cgroup": "0::/system.slice/kvd.service\n",
				"sys/fs/cgroup/system.slice/kvd.service/memory.max": "max\n",
				"sys/fs/cgroup/system.slice/memory.max":             "1073741824\n",
			},
			want: 1 << 30,
		},
		{
			name: "cgroup v2 mounted at the container's cgroup, host path in /proc",
			files: map[string]string{
				"proc/self/cgroup":         "0::/system.slice/docker-abc.scope\n",
				"sys/fs/cgroup/memory.max": "268435456\n",
			},
			want: 256 << 20,
		},
		{
			name: "cgroup v1 memory controller, unlimited (this VM)",
			files: map[string]string{
				"proc/self/cgroup": "9:name=systemd:/\n4:memory:/process_api/37ed\n0::/\n",
				"sys/fs/cgroup/memory/process_api/37ed/memory.limit_in_bytes": "9223372036854771712\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes":                  "9223372036854771712\n",
			},
		},
		{
			name: "cgroup v1 with a limit, controllers listed together",
			files: map[string]string{
				"proc/self/cgroup":                           "5:cpuacct,memory:/docker/abc\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "805306368\n",
			},
			want: 768 << 20,
		},
		{
			name:  "no cgroup information",
			files: map[string]string{},
		},
		{
			name: "unreadable limit",
			files: map[string]string{
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "lots\n",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := containerMemoryLimit(fakeRoot(t, tc.files)); got != tc.want {
				t.Fatalf("containerMemoryLimit = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestHeapLimitFitsTheContainer(t *testing.T) {
	opts := engine.DefaultOptions(t.TempDir())
	full := softMemoryLimit(opts)
	if got := heapLimit(opts, 0); got != full {
		t.Fatalf("without a container limit: %d MiB, want %d MiB", got>>20, full>>20)
	}
	if got := heapLimit(opts, 64<<30); got != full {
		t.Fatalf("a 64 GiB container raised or lowered the limit to %d MiB", got>>20)
	}
	if got, want := heapLimit(opts, 512<<20), int64(384<<20); got != want {
		t.Fatalf("in a 512 MiB container: %d MiB, want %d MiB", got>>20, want>>20)
	}
}
