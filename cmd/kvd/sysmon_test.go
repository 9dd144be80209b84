package main

import (
	"slices"
	"testing"
)

func TestSysmonEnvAddsTheSettingOnce(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want []string // nil: no re-execution
	}{
		{"no GODEBUG", []string{"HOME=/root"}, []string{"HOME=/root", "GODEBUG=" + sysmonAwake}},
		{"empty GODEBUG", []string{"GODEBUG=", "A=1"}, []string{"GODEBUG=" + sysmonAwake, "A=1"}},
		{"other settings stay and win", []string{"GODEBUG=madvdontneed=1"}, []string{"GODEBUG=" + sysmonAwake + ",madvdontneed=1"}},
		{"already re-executed", []string{"GODEBUG=" + sysmonAwake}, nil},
		{"operator's schedtrace", []string{"GODEBUG=gctrace=1,schedtrace=0"}, nil},
		{"first GODEBUG counts", []string{"GODEBUG=gctrace=1", "GODEBUG=schedtrace=0"}, []string{"GODEBUG=" + sysmonAwake + ",gctrace=1", "GODEBUG=schedtrace=0"}},
		{"a name that only ends like it", []string{"GODEBUG=xschedtrace=1"}, []string{"GODEBUG=" + sysmonAwake + ",xschedtrace=1"}},
	}
	for _, c := range cases {
		in := slices.Clone(c.in)
		got := sysmonEnv(in)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: sysmonEnv(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("%s: sysmonEnv changed its argument to %q", c.name, in)
		}
	}
}
