package integration

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// kvd re-executes itself so that Go's sysmon never deep-sleeps
// (cmd/kvd/sysmon.go): the process the test started, same PID, must run
// with the setting in its environment.
func TestKVDRunsWithSysmonKeptAwake(t *testing.T) {
	if strings.Contains(","+os.Getenv("GODEBUG"), ",schedtrace=") {
		t.Skip("GODEBUG already sets schedtrace, which kvd then keeps as given")
	}
	k := startKVD(t)
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(k.proc.cmd.Process.Pid) + "/environ")
	if err != nil {
		t.Skipf("cannot read the process environment (no /proc?): %v", err)
	}
	var godebug string
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if v, ok := strings.CutPrefix(string(kv), "GODEBUG="); ok {
			godebug = v
			break
		}
	}
	if !strings.Contains(","+godebug+",", ",schedtrace=2147483647,") {
		t.Fatalf("kvd runs with GODEBUG=%q, want schedtrace=2147483647 in it", godebug)
	}
}
