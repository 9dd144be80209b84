package server

import (
	"bytes"
	"io"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

func TestCRC64MatchesRedis(t *testing.T) {
	// Redis's crc64 test vector (src/crc64.c).
	if got := crc64Jones(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64(123456789) = %#x", got)
	}
}

// A payload recorded from Redis 7.0.15's FUNCTION DUMP: kvd produces the
// same bytes (LZF compression included) and restores it.
func TestFunctionDumpMatchesRedis(t *testing.T) {
	const code = "#!lua name=dumped\nredis.register_function('d1', function(keys, args) return 'restored ' .. args[1] end)"
	const redisDump = "\xf5\xc3@b@g\x1f#!lua name=dumped\nredis.register\x0f_function('d1', \xe0\x00\x0e\x18keys, args) return 'resto ?\x04 ' ..`\x1b\x07[1] end)\n\x00\x98\xcf\xc1)a':\x04"
	s := newTestServer(t, io.Discard)
	c := newTestClient(s)
	if got := run(c, "function", "load", code); got != "$6\r\ndumped\r\n" {
		t.Fatalf("FUNCTION LOAD: %q", got)
	}
	want := "$" + strconv.Itoa(len(redisDump)) + "\r\n" + redisDump + "\r\n"
	if got := run(c, "function", "dump"); got != want {
		t.Fatalf("FUNCTION DUMP = %q, want %q", got, want)
	}
	run(c, "function", "flush")
	if got := run(c, "function", "restore", redisDump); got != "+OK\r\n" {
		t.Fatalf("FUNCTION RESTORE: %q", got)
	}
	if got := run(c, "fcall", "d1", "0", "x"); got != "$10\r\nrestored x\r\n" {
		t.Fatalf("FCALL after RESTORE: %q", got)
	}
}

func TestLZFRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	inputs := [][]byte{
		[]byte(strings.Repeat("abcabcabc", 100)),
		[]byte(strings.Repeat("a", 5000)),
		[]byte("#!lua name=x\n" + strings.Repeat("redis.register_function('f', function() return 1 end)\n", 30)),
	}
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.Intn(3000)+21)
		alphabet := rng.Intn(255) + 1
		for j := range b {
			b[j] = byte(rng.Intn(alphabet))
		}
		inputs = append(inputs, b)
	}
	for _, in := range inputs {
		comp := lzfCompress(in, len(in)-4)
		if comp == nil {
			continue // incompressible: stored verbatim
		}
		if len(comp) > len(in)-4 {
			t.Fatalf("compressed %d bytes into %d, over the limit", len(in), len(comp))
		}
		out, ok := lzfDecompress(comp, len(in))
		if !ok || !bytes.Equal(out, in) {
			t.Fatalf("round trip of %d bytes failed", len(in))
		}
	}
	if _, ok := lzfDecompress([]byte{0xe0, 0xff, 0xff}, 10); ok {
		t.Fatal("a back reference before the start was accepted")
	}
}

func TestRDBStringEncodings(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 16383, 16384, 70000} {
		s := bytes.Repeat([]byte{'x'}, n)
		enc := rdbAppendString(nil, s)
		got, used, ok := rdbReadString(enc)
		if !ok || used != len(enc) || !bytes.Equal(got, s) {
			t.Fatalf("string of %d bytes: ok %v, used %d of %d", n, ok, used, len(enc))
		}
	}
	for enc, want := range map[string]string{
		"\xc0\x7f":             "127",
		"\xc1\x00\x80":         "-32768",
		"\xc2\xff\xff\xff\xff": "-1",
	} {
		if got, _, ok := rdbReadString([]byte(enc)); !ok || string(got) != want {
			t.Errorf("integer encoding %q = %q, %v; want %q", enc, got, ok, want)
		}
	}
}

// A library whose Lua state broke (a Go panic went through it) is loaded
// again into a fresh state: its functions keep working.
func TestFunctionsSurviveStateRebuild(t *testing.T) {
	s := newTestServer(t, io.Discard)
	e := testScripting(t, s, busyReplyThreshold)
	c := newTestClient(s)
	run(c, "function", "load", "#!lua name=lib\nredis.register_function('f', function(keys, args) return redis.call('echo', args[1]) end)")
	if got := run(c, "fcall", "f", "0", "a"); got != "$1\r\na\r\n" {
		t.Fatalf("FCALL: %q", got)
	}
	e.fn.stateMu.Lock()
	e.fn.ls.broken = true
	e.fn.stateMu.Unlock()
	if got := run(c, "fcall", "f", "0", "b"); got != "$1\r\nb\r\n" {
		t.Fatalf("FCALL after a rebuild: %q", got)
	}
}

// The syntax checker follows Lua 5.1's grammar: valid programs pass.
func TestLuaSyntaxAcceptsValidPrograms(t *testing.T) {
	programs := []string{
		"",
		"return",
		"return;",
		"local a, b = 1, 2; local c = a + b * 2 ^ 3 .. 'x' return c",
		"local t = {1, 2, [3] = 3, x = 4, ['y'] = 5; 6,}",
		"local function f(a, b, ...) local n = select('#', ...) return a, b, ... end",
		"function a.b.c:m(x) return self, x end",
		"for i = 1, 10, 2 do end for k, v in pairs({}) do end",
		"while false do break end repeat local x = 1 until x == 1",
		"if a then elseif b then else end",
		"do local x = -1 local y = not x local z = #'abc' end",
		"local s = [[long\nstring]] .. [==[with ]] inside]==] -- comment\n--[[ long\ncomment ]] return s",
		"f{1} f'x' f\"y\" f[[z]] a.b:c{} a:b'x'",
		"local x = ((1)) ; (f)()",
		"return 0x1F + 1e10 + .5 + 3. + 1.5e-3",
		"return 'esc\\n\\t\\\\\\'\\\"\\065\\z'",
		"local t = {f = function() return 1 end, [1] = function(...) return ... end}",
		"return a and b or c, a == b, a ~= b, a <= b, a >= b, a < b, a > b",
		"local x = 1 x = x + 1 a, b.c, d[1] = 1, 2, 3",
		"local function f() return function() return function() end end end",
		"return redis.call('get', KEYS[1])",
		"#!not a shebang",
	}
	for _, p := range programs[:len(programs)-1] {
		if msg := luaSyntaxError(p, "user_script"); msg != "" {
			t.Errorf("%q: %s", p, msg)
		}
	}
	if msg := luaSyntaxError(programs[len(programs)-1], "user_script"); msg != "user_script:1: unexpected symbol near '#'" {
		t.Errorf("a shebang line is not Lua: %q", msg)
	}
}

func TestLuaSyntaxLimits(t *testing.T) {
	locals := "local a0"
	for i := 1; i < 201; i++ {
		locals += ", a" + strconv.Itoa(i)
	}
	if msg := luaSyntaxError(locals, "user_script"); msg != "user_script:1: main function has more than 200 local variables" {
		t.Errorf("201 locals: %q", msg)
	}
	deep := strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300)
	if msg := luaSyntaxError("return "+deep, "user_script"); msg != "user_script:1: chunk has too many syntax levels" {
		t.Errorf("300 parentheses: %q", msg)
	}
}
