package protocol

import (
	"strings"
	"testing"
)

func isAuth(name []byte) bool { return EqualFold(name, "auth") || EqualFold(name, "hello") }

func TestCompactArgsCutsArgumentsUntilAuth(t *testing.T) {
	long := strings.Repeat("z", 300)
	in := string(AppendCommand(nil, [][]byte{[]byte("SET"), []byte(long), []byte("v")})) +
		string(AppendCommand(nil, [][]byte{[]byte(long)})) +
		string(AppendCommand(nil, [][]byte{[]byte("auth"), []byte(long)})) +
		string(AppendCommand(nil, [][]byte{[]byte("SET"), []byte(long)}))
	want := string(AppendCommand(nil, [][]byte{[]byte("SET"), []byte(long[:128]), []byte("v")})) +
		string(AppendCommand(nil, [][]byte{[]byte(long[:128])})) +
		// AUTH and everything after it pass unchanged.
		string(AppendCommand(nil, [][]byte{[]byte("auth"), []byte(long)})) +
		string(AppendCommand(nil, [][]byte{[]byte("SET"), []byte(long)}))
	if got := string(CompactArgs(nil, []byte(in), UnauthArgPrefix, isAuth)); got != want {
		t.Fatalf("CompactArgs:\n got %q\nwant %q", got, want)
	}
}

func TestCompactArgsLeavesWhatItCannotParse(t *testing.T) {
	for _, in := range []string{"", "*1\r\n$3\r\nGE", "+OK\r\n", "*1\r\n$99999999999999999999\r\n"} {
		if got := string(CompactArgs(nil, []byte(in), 4, isAuth)); got != in {
			t.Errorf("CompactArgs(%q) = %q, want it unchanged", in, got)
		}
	}
}

func FuzzCompactArgs(f *testing.F) {
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n"), 2)
	f.Add([]byte("*1\r\n$4\r\nAUTH\r\n*1\r\n$4\r\nPING\r\n"), 1)
	f.Fuzz(func(t *testing.T, in []byte, maxArg int) {
		if maxArg < 0 || maxArg > 1<<20 {
			return
		}
		out := CompactArgs(nil, in, maxArg, isAuth)
		// Whatever came in framed still frames, command for command.
		var a, b Framer
		a.MaxBulk, b.MaxBulk = 1<<40, 1<<40
		fin, errIn := a.Feed(nil, in, false)
		fout, errOut := b.Feed(nil, out, false)
		if errIn == "" && a.Complete() == len(fin) && (errOut != "" || b.Complete() != len(fout)) {
			t.Fatalf("compacting %q gave %q, which no longer frames (%s)", in, out, errOut)
		}
	})
}
