// Package bench holds the benchmark scripts; this test checks the shell
// helpers of lib.sh that decide what kvd is started with.
package bench

import (
	"os/exec"
	"strings"
	"testing"
)

// sourceLib runs script in bash after sourcing lib.sh, with env added.
// KVD_ENV and REDIS_EXTRA_ARGS start empty whatever the caller's shell has.
func sourceLib(t *testing.T, script string, env ...string) (string, error) {
	t.Helper()
	for _, tool := range []string{"bash", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("lib.sh needs %s, not installed", tool)
		}
	}
	cmd := exec.Command("bash", "-c", "set -euo pipefail; source ./lib.sh; "+script)
	cmd.Env = append(cmd.Environ(), "KVD_ENV=", "REDIS_EXTRA_ARGS=", "TMPDIR="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// showKvdEnv runs bench_env over a stale KENV (a helper that kept old
// words would leak them) and prints the words and the result-file line.
const showKvdEnv = `KENV=(stale); bench_env; echo "${#KENV[@]} words"; printf '<%s>' "${KENV[@]}"; echo; kvd_env_line`

func TestKvdEnvPrefixesOnlyWhatKVD_ENVNames(t *testing.T) {
	for _, empty := range []string{"", "   "} {
		out, err := sourceLib(t, showKvdEnv, "KVD_ENV="+empty)
		if want := "0 words\n<>\n"; err != nil || out != want {
			t.Errorf("KVD_ENV=%q: got %q, %v; want %q", empty, out, err, want)
		}
	}
	const kvdEnv = `GOMAXPROCS=8 GODEBUG='gctrace=1,x=y z'`
	out, err := sourceLib(t, showKvdEnv, "KVD_ENV="+kvdEnv)
	if err != nil {
		t.Fatalf("bench_env: %v\n%s", err, out)
	}
	want := "3 words\n<env><GOMAXPROCS=8><GODEBUG=gctrace=1,x=y z>\n" +
		"- kvd's environment adds (KVD_ENV): `" + kvdEnv + "`\n"
	if out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

func TestKvdEnvRefusesWhatIsNotAssignments(t *testing.T) {
	// env would run any other word as the command, in kvd's place; an
	// unsplittable value must not be dropped silently either.
	for bad, msg := range map[string]string{
		"GOMAXPROCS":      "is not NAME=VALUE",
		"--port=1":        "is not NAME=VALUE",
		"8=GOMAXPROCS":    "is not NAME=VALUE",
		"GOMAXPROCS=8 sh": "is not NAME=VALUE",
		"GOMAXPROCS=8 ''": "is not NAME=VALUE",
		"GODEBUG='x=1":    "cannot split",
	} {
		out, err := sourceLib(t, `bench_env; echo started`, "KVD_ENV="+bad)
		if err == nil || strings.Contains(out, "started") || !strings.Contains(out, msg) {
			t.Errorf("KVD_ENV=%s: got %q, %v; want %q and no start", bad, out, err, msg)
		}
	}
}

func TestRedisExtraArgsKeepEmptyWordsAndRefuseUnclosedQuotes(t *testing.T) {
	// The number of words, then the flags after redis_cmd's 15 for
	// everysec (printf prints "<>" for no words and for one empty word
	// alike, hence the count).
	const extra = `bench_env; mapfile -t RCMD < <(redis_cmd 1 /d everysec); echo "${#RCMD[@]}"; printf '<%s>' "${RCMD[@]:15}"`
	for value, want := range map[string]string{
		"--save '' --maxclients 64": "19\n<--save><><--maxclients><64>",
		"":                          "15\n<>",
		"   ":                       "15\n<>",
	} {
		out, err := sourceLib(t, extra, "REDIS_EXTRA_ARGS="+value)
		if err != nil || out != want {
			t.Errorf("REDIS_EXTRA_ARGS=%q: got %q, %v; want %q", value, out, err, want)
		}
	}
	out, err := sourceLib(t, `bench_env; echo started`, "REDIS_EXTRA_ARGS=--save '")
	if err == nil || strings.Contains(out, "started") || !strings.Contains(out, "cannot split") {
		t.Errorf("unclosed quote: got %q, %v; want an error and no start", out, err)
	}
}

func TestStartPairGivesKVD_ENVToKvdAndExtraArgsToRedis(t *testing.T) {
	// bench_setup reads both variables; start_pair, with the process
	// starting stubbed out, shows each server's command line.
	const script = `bench_setup
free_ports() { echo "1 2"; }
start_server() { local name=$1; shift 3; echo "$name: $*"; STARTED_PID=$$; }
wait_ready() { :; }
KVD_BIN=/bin/kvd KDIR=$WORK/k RDIR=$WORK/r
start_pair everysec everysec t`
	out, err := sourceLib(t, script, "KVD_ENV=GOMAXPROCS=8", "REDIS_EXTRA_ARGS=--maxclients 64")
	if err != nil {
		t.Fatalf("start_pair: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %q, want a kvd line and a redis line", out)
	}
	kvd, redis := lines[0], lines[1]
	if !strings.HasPrefix(kvd, "kvd (t): env GOMAXPROCS=8 /bin/kvd --bind 127.0.0.1 --port 1 ") || strings.Contains(kvd, "maxclients") {
		t.Errorf("kvd started as %q; want env GOMAXPROCS=8 before it, and no redis flags", kvd)
	}
	if !strings.HasPrefix(redis, "redis (t): redis-server --bind 127.0.0.1 --port 2 ") ||
		!strings.HasSuffix(redis, " --maxclients 64") || strings.Contains(redis, "GOMAXPROCS") {
		t.Errorf("redis started as %q; want its extra flags and not kvd's environment", redis)
	}
}
