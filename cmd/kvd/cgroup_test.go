package main

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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

// mountinfo lines as Linux writes them: the cgroup2 file system at
// /sys/fs/cgroup, or v1's memory hierarchy at /sys/fs/cgroup/memory, each
// showing the cgroup root (the container's own cgroup in a namespace).
func v2Mount(root string) string {
	return "30 23 0:26 " + root + " /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
}

func v1Mount(root, controllers string) string {
	return "35 25 0:31 " + root + " /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw," + controllers + "\n"
}

func TestCgroupMemoryLimit(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		want    int64
		wantErr bool
	}{
		{
			name: "v2 in a container with its own cgroup namespace (docker run --memory 512m)",
			files: map[string]string{
				"proc/self/mountinfo":      v2Mount("/"),
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "536870912\n",
			},
			want: 512 << 20,
		},
		{
			name: "v2 without a limit",
			files: map[string]string{
				"proc/self/mountinfo":      v2Mount("/"),
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "max\n",
			},
		},
		{
			name: "v2 on a host: a service's limit under a slice's larger one",
			files: map[string]string{
				"proc/self/mountinfo": v2Mount("/"),
				"proc/self/cgroup":    "0::/system.slice/kvd.service\n",
				"sys/fs/cgroup/system.slice/kvd.service/memory.max": "268435456\n",
				"sys/fs/cgroup/system.slice/memory.max":             "1073741824\n",
			},
			want: 256 << 20,
		},
		{
			name: "v2 on a host: a slice's limit over a service without one",
			files: map[string]string{
				"proc/self/mountinfo": v2Mount("/"),
				"proc/self/cgroup":    "0::/system.slice/kvd.service\n",
				"sys/fs/cgroup/system.slice/kvd.service/memory.max": "1073741824\n",
				"sys/fs/cgroup/system.slice/memory.max":             "805306368\n",
			},
			want: 768 << 20,
		},
		{
			name: "v2 memory.high below memory.max",
			files: map[string]string{
				"proc/self/mountinfo":       v2Mount("/"),
				"proc/self/cgroup":          "0::/\n",
				"sys/fs/cgroup/memory.max":  "1073741824\n",
				"sys/fs/cgroup/memory.high": "268435456\n",
			},
			want: 256 << 20,
		},
		{
			name: "v2 bind-mounted at the container's cgroup, the host's path in /proc",
			files: map[string]string{
				"proc/self/mountinfo": v2Mount("/system.slice/docker-abc.scope"),
				"proc/self/cgroup":    "0::/system.slice/docker-abc.scope/kvd.slice/kvd.service\n",
				// A child cgroup of the container that shares a name with
				// the host path is not an ancestor and must not be read.
				"sys/fs/cgroup/system.slice/memory.max": "67108864\n",
				"sys/fs/cgroup/kvd.slice/memory.max":    "805306368\n",
				"sys/fs/cgroup/memory.max":              "1073741824\n",
			},
			want: 768 << 20,
		},
		{
			name: "a cgroup path outside the mount's root is not guessed at",
			files: map[string]string{
				"proc/self/mountinfo":      v2Mount("/docker/abc"),
				"proc/self/cgroup":         "0::/docker/other\n",
				"sys/fs/cgroup/memory.max": "1073741824\n",
			},
		},
		{
			name: "a cgroup outside the namespace's root is not guessed at",
			files: map[string]string{
				"proc/self/mountinfo":           v2Mount("/"),
				"proc/self/cgroup":              "0::/../../init\n",
				"sys/fs/cgroup/init/memory.max": "33554432\n",
			},
		},
		{
			name: "v1 Docker: the hierarchy mounted at the container's cgroup",
			files: map[string]string{
				"proc/self/mountinfo":                        v1Mount("/docker/abc", "memory"),
				"proc/self/cgroup":                           "4:memory:/docker/abc\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "805306368\n",
			},
			want: 768 << 20,
		},
		{
			name: "v1 Docker-in-Docker: a sibling's limit is not an ancestor's",
			files: map[string]string{
				"proc/self/mountinfo":                               v1Mount("/docker/outer", "memory"),
				"proc/self/cgroup":                                  "4:memory:/docker/outer\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes":        "1073741824\n",
				"sys/fs/cgroup/memory/docker/memory.limit_in_bytes": "134217728\n",
			},
			want: 1 << 30,
		},
		{
			name: "v1 unlimited, controllers listed together, beside a v2 line (this VM's layout)",
			files: map[string]string{
				"proc/self/mountinfo": v1Mount("/", "cpuacct,memory"),
				"proc/self/cgroup":    "9:name=systemd:/\n4:cpuacct,memory:/process_api/37ed\n0::/\n",
				"sys/fs/cgroup/memory/process_api/37ed/memory.limit_in_bytes": "9223372036854771712\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes":                  "9223372036854771712\n",
			},
		},
		{
			name: "v1 limit beside a v2 line whose mount has a larger one",
			files: map[string]string{
				"proc/self/mountinfo":                        v1Mount("/", "memory") + v2Mount("/"),
				"proc/self/cgroup":                           "0::/\n4:memory:/\n",
				"sys/fs/cgroup/memory.max":                   "1073741824\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n",
			},
			want: 256 << 20,
		},
		{
			name: "a hierarchy named memory is not the memory controller",
			files: map[string]string{
				"proc/self/mountinfo":                        v1Mount("/", "name=memory"),
				"proc/self/cgroup":                           "4:name=memory:/\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n",
			},
		},
		{
			name: "zero and max are no limit",
			files: map[string]string{
				"proc/self/mountinfo":         v2Mount("/"),
				"proc/self/cgroup":            "0::/a\n",
				"sys/fs/cgroup/a/memory.max":  "0\n",
				"sys/fs/cgroup/a/memory.high": "max\n",
			},
		},
		{
			// Not "no limit", which would lift the cap: a limit file
			// that cannot be read or parsed is an error.
			name: "a limit that does not parse",
			files: map[string]string{
				"proc/self/mountinfo":         v2Mount("/"),
				"proc/self/cgroup":            "0::/a\n",
				"sys/fs/cgroup/a/memory.max":  "536870912\n",
				"sys/fs/cgroup/a/memory.high": "lots\n",
			},
			wantErr: true,
		},
		{
			name: "a limit file that cannot be read",
			files: map[string]string{
				"proc/self/mountinfo":                 v2Mount("/"),
				"proc/self/cgroup":                    "0::/a\n",
				"sys/fs/cgroup/a/memory.max/unusable": "",
			},
			wantErr: true,
		},
		{
			name:  "no cgroup information",
			files: map[string]string{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cgroupMemoryLimit(fakeRoot(t, tc.files))
			if (err != nil) != tc.wantErr {
				t.Fatalf("cgroupMemoryLimit error %v, want an error: %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("cgroupMemoryLimit = %d MiB, want %d MiB", got>>20, tc.want>>20)
			}
		})
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/sys/fs/cgroup`:     "/sys/fs/cgroup",
		`/mnt/my\040cgroups`: "/mnt/my cgroups",
		`/a\134b`:            `/a\b`,
		`/trailing\04`:       `/trailing\04`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
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

// newTestFollower follows a cgroup whose reads return reads in turn,
// recording the heap limits it sets and logging to out.
func newTestFollower(t *testing.T, out io.Writer, reads ...cgroupRead) (*cgroupLimitFollower, *[]int64) {
	var set []int64
	return &cgroupLimitFollower{
		opts: engine.DefaultOptions(t.TempDir()),
		log:  slog.New(slog.NewTextHandler(out, nil)),
		read: func() (int64, error) {
			r := reads[0]
			reads = reads[1:]
			return r.limit, r.err
		},
		setLimit: func(v int64) { set = append(set, v) },
	}, &set
}

type cgroupRead struct {
	limit int64
	err   error
}

func TestFollowerStartSaysWhenTheCgroupLowersTheHeapLimit(t *testing.T) {
	for _, tc := range []struct {
		read cgroupRead
		want string // a word of the log line, or "" for none
	}{
		{cgroupRead{limit: 0}, ""},
		{cgroupRead{limit: 64 << 30}, ""},
		{cgroupRead{limit: 512 << 20}, "level=INFO"},
		{cgroupRead{limit: 64 << 20}, "level=WARN"},
		{cgroupRead{err: errors.New("too many open files")}, "level=WARN"},
	} {
		var out bytes.Buffer
		f, set := newTestFollower(t, &out, tc.read)
		f.start()
		if want := heapLimit(f.opts, tc.read.limit); !slices.Equal(*set, []int64{want}) {
			t.Errorf("cgroup %d MiB: heap limits set %v, want [%d]", tc.read.limit>>20, *set, want)
		}
		switch {
		case tc.want == "" && out.Len() > 0:
			t.Errorf("cgroup %d MiB: logged %q", tc.read.limit>>20, out.String())
		case tc.want != "" && !strings.Contains(out.String(), tc.want):
			t.Errorf("cgroup %d MiB: logged %q, want %s", tc.read.limit>>20, out.String(), tc.want)
		}
	}
}

// A cgroup limit changed while kvd runs (docker update --memory, a
// Kubernetes in-place resize) moves the heap limit with it, with one log
// line; a change that leaves the heap limit where it was sets and logs
// nothing, and a failed read keeps the last limit.
func TestCgroupLimitFollowerRefitsTheHeapLimitWhenTheLimitChanges(t *testing.T) {
	failed := cgroupRead{err: errors.New("too many open files")}
	var out bytes.Buffer
	f, set := newTestFollower(t, &out,
		cgroupRead{limit: 512 << 20}, // start: 384 MiB
		cgroupRead{limit: 512 << 20}, // unchanged
		failed, failed,               // keep 384 MiB
		cgroupRead{limit: 600 << 20}, // 450 MiB
		cgroupRead{limit: 8 << 30},   // the full 512 MiB
		cgroupRead{limit: 16 << 30},  // still 512 MiB
		cgroupRead{limit: 0},         // removed: still 512 MiB
		cgroupRead{limit: 256 << 20}, // 192 MiB
	)
	f.start()
	var changed []bool
	for range 8 {
		changed = append(changed, f.check())
	}
	if want := []bool{false, false, false, true, true, false, false, true}; !slices.Equal(changed, want) {
		t.Errorf("check() reported %v, want %v", changed, want)
	}
	if want := []int64{384 << 20, 450 << 20, 512 << 20, 192 << 20}; !slices.Equal(*set, want) {
		t.Errorf("heap limits set %v, want %v", *set, want)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 { // the start's cap, one failed read, three refits
		t.Fatalf("logged %d lines, want 5:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[1], "too many open files") || !strings.Contains(lines[4], "cgroup_limit=268435456 was=0") {
		t.Errorf("log:\n%s", out.String())
	}
}

// run reads the limit every interval until stopped.
func TestCgroupLimitFollowerRunsUntilStopped(t *testing.T) {
	reads := make(chan struct{}, 100)
	f := &cgroupLimitFollower{
		opts:     engine.DefaultOptions(t.TempDir()),
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		interval: time.Millisecond,
		read: func() (int64, error) {
			reads <- struct{}{}
			return 0, nil
		},
		setLimit: func(int64) {},
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		f.run(stop)
		close(done)
	}()
	for i := 0; i < 3; i++ {
		select {
		case <-reads:
		case <-time.After(5 * time.Second):
			t.Fatal("the follower stopped reading the cgroup's limit")
		}
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after stop")
	}
}
