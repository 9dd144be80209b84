package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// sysmonAwake is the GODEBUG setting kvd runs with: it keeps the Go
// runtime's monitor thread (sysmon) out of its deep sleep.
//
// Why: sysmon goes into a deep sleep whenever every P is idle, and the next
// goroutine to enter a system call must then wake it with a futex. A server
// answering one client at a time is idle between every request, so each
// request paid for that wake-up and the monitor's sleep that follows: 0.8
// futex calls, 0.4 nanosleeps and 2.3 context switches per GET at one
// client, where Redis makes one. Keeping sysmon out of the deep sleep
// (it then backs off to a 10 ms tick while idle) took GET at one client from
// 47-60 to 30-33 us of CPU per request and 12.8-13.7k to 15.6-19.8k requests/s
// (docs/performance.md, session 10).
//
// The only switch for it is schedtrace > 0, which also prints a line of
// scheduler state to stderr once CLOCK_MONOTONIC (time since boot) passes
// schedtrace ms, and every schedtrace ms after that: with 2^31-1 ms (24.8
// days), a line at startup on a machine up longer than that, and one every
// 24.8 days. It also makes a fatal runtime error print a scheduler dump
// first (README.md). GODEBUG is read only when the process starts, and
// //go:debug accepts only registered settings, hence the re-execution.
const sysmonAwake = "schedtrace=2147483647"

// sysmonEnv returns the environment to re-execute kvd with so that it runs
// with sysmonAwake, or nil when there is nothing to change: GODEBUG already
// sets schedtrace (kvd's own re-execution, or an operator's choice;
// GODEBUG=schedtrace=0 restores Go's default).
func sysmonEnv(environ []string) []string {
	godebug, at := "", -1
	for i, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			godebug, at = v, i
			break // the runtime reads the first one
		}
	}
	for _, field := range strings.Split(godebug, ",") {
		if strings.HasPrefix(field, "schedtrace=") {
			return nil
		}
	}
	env := append([]string(nil), environ...)
	if at < 0 {
		return append(env, "GODEBUG="+sysmonAwake)
	}
	if godebug == "" {
		env[at] = "GODEBUG=" + sysmonAwake
	} else {
		// First, so that it overrides nothing the operator set (later settings win).
		env[at] = "GODEBUG=" + sysmonAwake + "," + godebug
	}
	return env
}

// keepSysmonAwake re-executes the running binary with sysmonAwake added to
// GODEBUG (same process ID, arguments and the rest of the environment), and
// returns only if that is not needed or not possible.
func keepSysmonAwake() error {
	env := sysmonEnv(os.Environ())
	if env == nil {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	if err := syscall.Exec(exe, os.Args, env); err != nil {
		return fmt.Errorf("re-execute %s with GODEBUG=%s: %w", exe, sysmonAwake, err)
	}
	return nil // not reached
}
