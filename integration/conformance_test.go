package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The conformance corpus: testdata/conformance/<family>.txt lists commands,
// <family>.resp2.golden and <family>.resp3.golden hold the exact replies real
// Redis gave to them. docs/conformance.md describes the formats.
//
//	go test ./integration -run Conformance                         # kvd vs goldens
//	KVD_CONFORMANCE=record go test ./integration -run Conformance  # redis-server -> goldens
//	KVD_CONFORMANCE=live go test ./integration -run Conformance    # kvd vs redis-server
const corpusDir = "testdata/conformance"

// handwrittenMarker as the first line of a case file means its goldens are
// written by hand (commands newer than the Redis we record from); recording
// never touches them and live mode skips them.
const handwrittenMarker = "# handwritten"

// requiresMarker names commands a case file needs beyond what it tests
// ("# requires: RPUSH" builds keys of another type). Replay skips such a
// file, saying why, while kvd answers that a required command is unknown:
// a deliberate, visible gap rather than a failure of what the file tests.
const requiresMarker = "# requires:"

var protocols = []int{2, 3}

// caseLine is one command of a case file.
type caseLine struct {
	num       int    // 1-based line number in the case file
	text      string // the line as written, directive included
	directive string // "", "type" or "sorted"
	args      []string
}

type caseFile struct {
	family      string // file name without .txt
	path        string
	handwritten bool
	requires    []string
	lines       []caseLine
}

func TestConformance(t *testing.T) {
	files := loadCaseFiles(t)
	switch mode := os.Getenv("KVD_CONFORMANCE"); mode {
	case "":
		replayGoldens(t, files)
	case "record":
		recordGoldens(t, files)
	case "live":
		compareLive(t, files)
	default:
		t.Fatalf("KVD_CONFORMANCE=%q: want empty, record or live", mode)
	}
}

// replayGoldens runs every case file against kvd and requires the recorded
// bytes. It needs no redis-server.
func replayGoldens(t *testing.T, files []caseFile) {
	kvd := startKVD(t)
	for _, cf := range files {
		for _, proto := range protocols {
			t.Run(fmt.Sprintf("%s/resp%d", cf.family, proto), func(t *testing.T) {
				gpath := goldenPath(cf.family, proto)
				want, err := readGolden(gpath)
				if err != nil {
					t.Fatalf("%v (record it with KVD_CONFORMANCE=record)", err)
				}
				if err := want.matches(cf); err != nil {
					t.Fatalf("%s is out of date with %s: %v (re-record)", gpath, cf.path, err)
				}
				skipUnlessSupported(t, kvd.Addr, cf)
				runCaseFile(t, kvd.Addr, proto, cf, func(i int, got []byte) {
					if l := cf.lines[i]; !sameReply(l.directive, want.replies[i], got) {
						t.Errorf("%s:%d: %s\n\texpected %q\n\tgot      %q", cf.path, l.num, l.text, want.replies[i], got)
					}
				})
			})
		}
	}
}

// recordGoldens rewrites the goldens of every non-handwritten case file
// from a real redis-server.
func recordGoldens(t *testing.T, files []caseFile) {
	redis := startRedis(t)
	version := redisVersion(t, redis.Addr)
	for _, cf := range files {
		if cf.handwritten {
			t.Logf("%s: handwritten, goldens left as they are", cf.path)
			continue
		}
		for _, proto := range protocols {
			t.Run(fmt.Sprintf("%s/resp%d", cf.family, proto), func(t *testing.T) {
				replies := collectReplies(t, redis.Addr, proto, cf)
				header := fmt.Sprintf("# %s, RESP%d, recorded from redis-server %s.\n"+
					"# Do not edit: KVD_CONFORMANCE=record go test ./integration -run Conformance\n",
					filepath.Base(cf.path), proto, version)
				if err := writeGolden(goldenPath(cf.family, proto), header, cf, replies); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// compareLive runs every recordable case file against both kvd and
// redis-server and compares them directly, without the goldens.
func compareLive(t *testing.T, files []caseFile) {
	redis := startRedis(t)
	kvd := startKVD(t)
	for _, cf := range files {
		if cf.handwritten { // the installed Redis predates these commands
			continue
		}
		for _, proto := range protocols {
			t.Run(fmt.Sprintf("%s/resp%d", cf.family, proto), func(t *testing.T) {
				want := collectReplies(t, redis.Addr, proto, cf)
				skipUnlessSupported(t, kvd.Addr, cf)
				runCaseFile(t, kvd.Addr, proto, cf, func(i int, got []byte) {
					if l := cf.lines[i]; !sameReply(l.directive, want[i], got) {
						t.Errorf("%s:%d: %s\n\tredis %q\n\tkvd   %q", cf.path, l.num, l.text, want[i], got)
					}
				})
			})
		}
	}
}

// runCaseFile runs cf on a new connection in the given protocol, after a
// FLUSHALL so that every file starts from empty databases, and passes each
// reply to check as it arrives: if the server drops the connection, the
// lines before are still checked. The HELLO and FLUSHALL replies are checked
// here and not passed on.
func runCaseFile(t *testing.T, addr string, proto int, cf caseFile, check func(i int, reply []byte)) {
	t.Helper()
	c := dialRaw(t, addr)
	if proto == 3 {
		if r := c.Do("HELLO", "3"); r[0] != '%' {
			t.Fatalf("HELLO 3 on %s: %q", addr, r)
		}
	}
	if r := c.Do("FLUSHALL"); string(r) != "+OK\r\n" {
		t.Fatalf("FLUSHALL on %s: %q", addr, r)
	}
	i := 0
	defer func() { // c.Do failed the test and ended the run; say where
		if i < len(cf.lines) {
			t.Errorf("%s:%d: %s: run aborted, no reply", cf.path, cf.lines[i].num, cf.lines[i].text)
		}
	}()
	for ; i < len(cf.lines); i++ {
		check(i, c.Do(cf.lines[i].args...))
	}
}

// collectReplies runs cf and returns all its replies.
func collectReplies(t *testing.T, addr string, proto int, cf caseFile) [][]byte {
	t.Helper()
	replies := make([][]byte, len(cf.lines))
	runCaseFile(t, addr, proto, cf, func(i int, reply []byte) { replies[i] = reply })
	return replies
}

// sameReply compares two replies as the line's directive asks.
func sameReply(directive string, want, got []byte) bool {
	switch directive {
	case "type": // LASTSAVE, TIME, error texts the docs do not give
		return len(want) > 0 && len(got) > 0 && want[0] == got[0]
	case "sorted": // element order is unspecified (KEYS, SCAN)
		return bytes.Equal(sortedReply(want), sortedReply(got))
	}
	return bytes.Equal(want, got)
}

// sortedReply re-encodes a reply with the elements of every array or set
// that holds no nested aggregate sorted, so that KEYS * or the key list of a
// SCAN reply compare regardless of order. Unparseable input is returned as is
// and so compares bytewise.
func sortedReply(b []byte) []byte {
	out, err := sortFrame(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		return b
	}
	return out
}

func sortFrame(r *bufio.Reader) ([]byte, error) {
	if p, err := r.Peek(1); err != nil || (p[0] != '*' && p[0] != '~') {
		var frame []byte
		err := readFrame(r, &frame)
		return frame, err
	}
	head, err := r.ReadBytes('\n')
	if err != nil || len(head) < 3 {
		return nil, fmt.Errorf("bad aggregate header %q", head)
	}
	n, err := strconv.Atoi(string(head[1 : len(head)-2]))
	if err != nil {
		return nil, err
	}
	var elems [][]byte
	leaves := true
	for i := 0; i < n; i++ {
		if p, err := r.Peek(1); err == nil && strings.IndexByte("*~%|>", p[0]) >= 0 {
			leaves = false
		}
		e, err := sortFrame(r)
		if err != nil {
			return nil, err
		}
		elems = append(elems, e)
	}
	if leaves {
		sort.Slice(elems, func(i, j int) bool { return bytes.Compare(elems[i], elems[j]) < 0 })
	}
	return bytes.Join(append([][]byte{head}, elems...), nil), nil
}

func redisVersion(t *testing.T, addr string) string {
	info := dialRaw(t, addr).Do("INFO", "server")
	for _, line := range strings.Split(string(info), "\r\n") {
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			return v
		}
	}
	t.Fatalf("no redis_version in INFO server: %q", info)
	return ""
}

func loadCaseFiles(t *testing.T) []caseFile {
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no case files in %s (%v)", corpusDir, err)
	}
	sort.Strings(paths)
	var files []caseFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := parseCaseFile(p, string(data))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, cf)
	}
	return files
}

func parseCaseFile(path, data string) (caseFile, error) {
	cf := caseFile{
		family:      strings.TrimSuffix(filepath.Base(path), ".txt"),
		path:        path,
		handwritten: strings.HasPrefix(data, handwrittenMarker),
	}
	for i, raw := range strings.Split(data, "\n") {
		text := strings.TrimSpace(raw)
		if req, ok := strings.CutPrefix(text, requiresMarker); ok {
			cf.requires = append(cf.requires, strings.Fields(req)...)
			continue
		}
		if text == "" || text[0] == '#' {
			continue
		}
		l := caseLine{num: i + 1, text: text}
		rest := text
		if text[0] == '!' {
			l.directive, rest, _ = strings.Cut(text[1:], " ")
			if l.directive != "type" && l.directive != "sorted" {
				return cf, fmt.Errorf("%s:%d: unknown directive !%s", path, l.num, l.directive)
			}
		}
		args, err := splitArgs(rest)
		if err != nil {
			return cf, fmt.Errorf("%s:%d: %v", path, l.num, err)
		}
		if len(args) == 0 {
			return cf, fmt.Errorf("%s:%d: directive without a command", path, l.num)
		}
		l.args = args
		cf.lines = append(cf.lines, l)
	}
	return cf, nil
}

// splitArgs splits a line the way redis-cli does: words separated by
// spaces, "double quotes" with \xHH \n \r \t \" \\ escapes, 'single quotes'
// with only \' escaped.
func splitArgs(line string) ([]string, error) {
	var args []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			return args, nil
		}
		var arg []byte
		switch q := line[i]; q {
		case '"', '\'':
			i++
			for ; ; i++ {
				if i == len(line) {
					return nil, fmt.Errorf("unterminated %c quote", q)
				}
				c := line[i]
				if c == q {
					i++
					break
				}
				if c == '\\' && i+1 < len(line) {
					if q == '\'' {
						if line[i+1] == '\'' {
							i++
							c = '\''
						}
					} else {
						esc, n, err := unescape(line[i+1:])
						if err != nil {
							return nil, err
						}
						c = esc
						i += n
					}
				}
				arg = append(arg, c)
			}
			if i < len(line) && line[i] != ' ' && line[i] != '\t' {
				return nil, fmt.Errorf("closing quote must be followed by a space")
			}
		default:
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				arg = append(arg, line[i])
				i++
			}
		}
		args = append(args, string(arg))
	}
}

// unescape decodes the escape after a backslash, returning the byte and how
// many characters it used.
func unescape(s string) (byte, int, error) {
	switch s[0] {
	case 'n':
		return '\n', 1, nil
	case 'r':
		return '\r', 1, nil
	case 't':
		return '\t', 1, nil
	case '"', '\\':
		return s[0], 1, nil
	case 'x':
		if len(s) >= 3 {
			if v, err := strconv.ParseUint(s[1:3], 16, 8); err == nil {
				return byte(v), 3, nil
			}
		}
		return 0, 0, fmt.Errorf("bad \\x escape %q", s)
	}
	return 0, 0, fmt.Errorf("unknown escape \\%c", s[0])
}

func goldenPath(family string, proto int) string {
	return filepath.Join(corpusDir, fmt.Sprintf("%s.resp%d.golden", family, proto))
}

// golden is a parsed golden file: for each case line, the command text and
// the reply bytes.
type golden struct {
	cmds    []string
	replies [][]byte
}

// matches reports whether g was recorded from exactly cf's lines, so a
// changed case file is never checked against stale replies.
func (g golden) matches(cf caseFile) error {
	for i, l := range cf.lines {
		if i >= len(g.cmds) {
			return fmt.Errorf("no reply for line %d %q", l.num, l.text)
		}
		if g.cmds[i] != l.text {
			return fmt.Errorf("line %d is %q, golden has %q", l.num, l.text, g.cmds[i])
		}
	}
	if len(g.cmds) > len(cf.lines) {
		return fmt.Errorf("golden has %d entries, case file %d lines", len(g.cmds), len(cf.lines))
	}
	return nil
}

// readGolden parses "> command" lines, each followed by the reply as a Go
// quoted string; lines starting with # are comments.
func readGolden(path string) (golden, error) {
	var g golden
	data, err := os.ReadFile(path)
	if err != nil {
		return g, err
	}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" || l[0] == '#' {
			continue
		}
		cmd, ok := strings.CutPrefix(l, "> ")
		if !ok || i+1 == len(lines) {
			return g, fmt.Errorf("%s:%d: want \"> command\" then a quoted reply", path, i+1)
		}
		reply, err := strconv.Unquote(lines[i+1])
		if err != nil {
			return g, fmt.Errorf("%s:%d: reply: %v", path, i+2, err)
		}
		g.cmds = append(g.cmds, cmd)
		g.replies = append(g.replies, []byte(reply))
		i++
	}
	return g, nil
}

func writeGolden(path, header string, cf caseFile, replies [][]byte) error {
	var b strings.Builder
	b.WriteString(header)
	for i, l := range cf.lines {
		reply := replies[i]
		if l.directive == "sorted" { // keep re-recordings from reshuffling the golden
			reply = sortedReply(reply)
		}
		fmt.Fprintf(&b, "> %s\n%s\n", l.text, strconv.Quote(string(reply)))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func TestSplitArgs(t *testing.T) {
	for line, want := range map[string][]string{
		`SET k v`:                  {"SET", "k", "v"},
		`  SET   k  `:              {"SET", "k"},
		`SET "a b" ""`:             {"SET", "a b", ""},
		`SET "\x00\xff\r\n\"\\" x`: {"SET", "\x00\xff\r\n\"\\", "x"},
		`SET 'it\'s' "\t"`:         {"SET", "it's", "\t"},
		`KEYS h\*llo`:              {"KEYS", `h\*llo`},
	} {
		got, err := splitArgs(line)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", line, got, err, want)
		}
	}
	for _, bad := range []string{`GET "k`, `GET "k"x`, `GET "\q"`, `GET "\xZZ"`} {
		if got, err := splitArgs(bad); err == nil {
			t.Errorf("splitArgs(%q) = %q, want an error", bad, got)
		}
	}
}

func TestSortedReply(t *testing.T) {
	a := "*2\r\n$1\r\n0\r\n*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n"
	b := "*2\r\n$1\r\n0\r\n*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
	if !sameReply("sorted", []byte(a), []byte(b)) {
		t.Errorf("SCAN replies differing only in key order compare unequal")
	}
	// The outer array mixes a cursor and a list: its order is significant.
	swapped := "*2\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\n0\r\n"
	if sameReply("sorted", []byte(a), []byte(swapped)) {
		t.Errorf("sorting reordered an array holding an aggregate")
	}
	if sameReply("sorted", []byte("*2\r\n+a\r\n+b\r\n"), []byte("*2\r\n+a\r\n+c\r\n")) {
		t.Errorf("different elements compare equal")
	}
}

// skipUnlessSupported skips a case file whose "# requires:" commands kvd
// does not have yet (COMMAND INFO answers a null for an unknown command).
func skipUnlessSupported(t *testing.T, addr string, cf caseFile) {
	t.Helper()
	if len(cf.requires) == 0 {
		return
	}
	c := dialRaw(t, addr)
	for _, name := range cf.requires {
		if reply := c.Do("COMMAND", "INFO", name); bytes.HasPrefix(reply, []byte("*1\r\n*-1")) {
			t.Skipf("%s needs %s, which kvd does not implement yet", cf.path, name)
		}
	}
}
