package protocol

import (
	"bytes"
	"testing"
)

func feedAll(f *Framer, in []byte, unauth bool) ([]byte, string) {
	return f.Feed(nil, in, unauth)
}

func TestFramerPassesValidRequests(t *testing.T) {
	in := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nPING\r\n")
	want := "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"
	out, msg := feedAll(&Framer{MaxBulk: 512 << 20}, in, false)
	if msg != "" || string(out) != want {
		t.Fatalf("got %q %q", out, msg)
	}
}

func TestFramerInlineCommands(t *testing.T) {
	cases := []struct{ in, want, err string }{
		{"SET a \"b c\"\r\n", "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$3\r\nb c\r\n", ""},
		{"SET e \"\\x41\\n\\t\"\n", "*3\r\n$3\r\nSET\r\n$1\r\ne\r\n$3\r\nA\n\t\r\n", ""},
		{"ECHO 'it\\'s'\n", "*2\r\n$4\r\nECHO\r\n$4\r\nit's\r\n", ""},
		{"ECHO \"\"\n", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", ""},
		{"   \r\n\n", "", ""},
		{"*1\r\n$4\r\nPING\r\nSET g \"x\"y\r\n", "*1\r\n$4\r\nPING\r\n", ErrProtoUnbalanced},
		{"SET g \"x\n", "", ErrProtoUnbalanced},
	}
	for _, c := range cases {
		out, msg := feedAll(&Framer{MaxBulk: 100}, []byte(c.in), false)
		if string(out) != c.want || msg != c.err {
			t.Errorf("%q: got (%q, %q) want (%q, %q)", c.in, out, msg, c.want, c.err)
		}
	}
}

func TestFramerDropsEmptyMultibulk(t *testing.T) {
	in := []byte("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n")
	out, msg := feedAll(&Framer{MaxBulk: 100}, in, false)
	if msg != "" || string(out) != "*1\r\n$4\r\nPING\r\n" {
		t.Fatalf("got %q %q", out, msg)
	}
}

func TestFramerSplitAnywhereMatchesWhole(t *testing.T) {
	in := []byte("*0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nINLINE cmd\r\n*1\r\n$4\r\nPING\r\n")
	whole, _ := feedAll(&Framer{MaxBulk: 100}, in, false)
	for cut := 0; cut <= len(in); cut++ {
		f := &Framer{MaxBulk: 100}
		out, msg := f.Feed(nil, in[:cut], false)
		out, msg2 := f.Feed(out, in[cut:], false)
		if msg != "" || msg2 != "" || !bytes.Equal(out, whole) {
			t.Fatalf("cut %d: got %q want %q (%q %q)", cut, out, whole, msg, msg2)
		}
	}
	// One byte at a time, as a slow client sends it.
	f := &Framer{MaxBulk: 100}
	var out []byte
	for i := range in {
		out, _ = f.Feed(out, in[i:i+1], false)
	}
	if !bytes.Equal(out, whole) {
		t.Fatalf("bytewise: got %q want %q", out, whole)
	}
}

func TestFramerLimits(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		unauth bool
		want   string
		pass   string
	}{
		{"huge bulk", "*1\r\n$4294967296\r\n", false, ErrProtoInvalidBulk, "*1\r\n$4294967296"},
		{"over max bulk", "*1\r\n$101\r\n", false, ErrProtoInvalidBulk, "*1\r\n$101"},
		{"negative bulk", "*1\r\n$-5\r\n", false, ErrProtoInvalidBulk, "*1\r\n$-5"},
		{"huge count", "*2147483648\r\n", false, ErrProtoInvalidMultibulk, ""},
		{"garbage count", "*x\r\n", false, ErrProtoInvalidMultibulk, ""},
		{"not dollar", "*1\r\n:1\r\n", false, "ERR Protocol error: expected '$', got ':'", "*1\r\n"},
		{"unauth count", "*11\r\n", true, ErrProtoUnauthMultibulk, ""},
		{"unauth bulk", "*1\r\n$16385\r\n", true, ErrProtoUnauthBulk, "*1\r\n$16385"},
		{"earlier command kept", "PING\r\n*1\r\n$999\r\n", false, ErrProtoInvalidBulk, "*1\r\n$4\r\nPING\r\n*1\r\n$999"},
	}
	// A bad header's own bytes may pass through: the parser never sees the
	// rest of that command, because the connection closes.
	for _, c := range cases {
		max := int64(100)
		if c.unauth {
			max = 1 << 20
		}
		out, msg := feedAll(&Framer{MaxBulk: max}, []byte(c.in), c.unauth)
		if msg != c.want || string(out) != c.pass {
			t.Errorf("%s: got (%q, %q) want (%q, %q)", c.name, out, msg, c.pass, c.want)
		}
	}
	// Limits that apply to unauthenticated clients only.
	if _, msg := feedAll(&Framer{MaxBulk: 1 << 20}, []byte("*11\r\n$16385\r\n"), false); msg != "" {
		t.Errorf("authenticated client refused: %q", msg)
	}
}

func TestFramerLongLines(t *testing.T) {
	long := bytes.Repeat([]byte("a"), InlineMax+1)
	if _, msg := feedAll(&Framer{MaxBulk: 100}, long, false); msg != ErrProtoBigInline {
		t.Errorf("inline: %q", msg)
	}
	if _, msg := feedAll(&Framer{MaxBulk: 100}, append([]byte("*"), long...), false); msg != ErrProtoBigMultibulk {
		t.Errorf("count line: %q", msg)
	}
	if _, msg := feedAll(&Framer{MaxBulk: 100}, append([]byte("*1\r\n$"), long...), false); msg != ErrProtoBigBulkCount {
		t.Errorf("bulk line: %q", msg)
	}
	f := &Framer{MaxBulk: 100}
	f.Feed(nil, []byte("*x\r\n"), false)
	if _, msg := f.Feed(nil, []byte("PING\r\n"), false); msg == "" {
		t.Error("a failed stream must stay failed")
	}
}

func FuzzFramer(f *testing.F) {
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), 3)
	f.Add([]byte("*0\r\nPING\r\n*-1\r\n"), 1)
	f.Add([]byte("*1\r\n$99999999999\r\n"), 5)
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		whole, wmsg := feedAll(&Framer{MaxBulk: 1 << 20}, in, false)
		if cut < 0 {
			cut = -cut
		}
		if len(in) > 0 {
			cut %= len(in) + 1
		} else {
			cut = 0
		}
		fr := &Framer{MaxBulk: 1 << 20}
		out, msg := fr.Feed(nil, in[:cut], false)
		if msg == "" {
			out, msg = fr.Feed(out, in[cut:], false)
		}
		if msg != wmsg || !bytes.Equal(out, whole) {
			t.Fatalf("split at %d differs: %q/%q vs %q/%q", cut, out, msg, whole, wmsg)
		}
		if wmsg == "" && len(whole) > 0 && whole[0] != '*' {
			t.Fatalf("the parser must only see multibulks, got %q", whole)
		}
	})
}

func TestFramerCompleteMarksCommandBoundaries(t *testing.T) {
	f := &Framer{MaxBulk: 100}
	in := "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r"
	out, _ := f.Feed(nil, []byte(in), false)
	if got := string(out[:f.Complete()]); got != "*1\r\n$4\r\nPING\r\n" {
		t.Fatalf("complete prefix %q of %q", got, out)
	}
	carry := out[f.Complete():]
	out, _ = f.Feed(append([]byte(nil), carry...), []byte("\nk\r\nPI"), false)
	if got := string(out[:f.Complete()]); got != "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" {
		t.Fatalf("second prefix %q", got)
	}
	f2 := &Framer{MaxBulk: 100}
	out, _ = f2.Feed(nil, []byte("*3\r\n$3\r\nSET\r\n"), false)
	if f2.Complete() != 0 {
		t.Fatalf("only the start is a boundary: %d", f2.Complete())
	}
	f2.Feed(out, []byte("$1\r\nk\r\n"), false)
	if f2.Complete() != -1 {
		t.Fatalf("a feed inside one command has no boundary: %d", f2.Complete())
	}
	f3 := &Framer{MaxBulk: 100}
	out, _ = f3.Feed(nil, []byte("SET a b\r\n\r\n*0\r\n"), false)
	if f3.Complete() != len(out) || string(out) != "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n" {
		t.Fatalf("inline, empty line and empty multibulk: %q %d", out, f3.Complete())
	}
}
