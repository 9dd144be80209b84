// Package bench holds the benchmark scripts; this test checks the shell
// helpers of lib.sh that decide what kvd is started with.
package bench

import (
	"os/exec"
	"strings"
	"testing"
)

// sourceLib runs script in bash after sourcing lib.sh, with env added.
func sourceLib(t *testing.T, script string, env ...string) (string, error) {
	t.Helper()
	for _, tool := range []string{"bash", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("lib.sh needs %s, not installed", tool)
		}
	}
	cmd := exec.Command("bash", "-c", "set -euo pipefail; source ./lib.sh; "+script)
	cmd.Env = append(cmd.Environ(), env...)
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
	// The flags after redis_cmd's 15 words for everysec.
	const extra = `bench_env; mapfile -t RCMD < <(redis_cmd 1 /d everysec); printf '<%s>' "${RCMD[@]:15}"`
	out, err := sourceLib(t, extra, "REDIS_EXTRA_ARGS=--save '' --maxclients 64")
	if want := "<--save><><--maxclients><64>"; err != nil || out != want {
		t.Errorf("got %q, %v; want %q", out, err, want)
	}
	out, err = sourceLib(t, extra, "REDIS_EXTRA_ARGS=")
	if err != nil || out != "<>" { // printf prints its format once, with no words
		t.Errorf("no REDIS_EXTRA_ARGS: got %q, %v; want no extra flags", out, err)
	}
	out, err = sourceLib(t, `bench_env; echo started`, "REDIS_EXTRA_ARGS=--save '")
	if err == nil || strings.Contains(out, "started") || !strings.Contains(out, "cannot split") {
		t.Errorf("unclosed quote: got %q, %v; want an error and no start", out, err)
	}
}
