package server

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/kvd/kvd/protocol"
)

// The script cache and the pool of Lua states.
//
// Scripts are cached by the SHA1 of their body, compiled once: EVALSHA of a
// cached script only wraps the compiled *lua.FunctionProto in a closure of
// a pooled state. Like Redis 7.0, the cache keeps every script until SCRIPT
// FLUSH. States are built once and reused: the sandbox makes them
// stateless between calls (scripting_state.go).

// evalScript is one cached script.
type evalScript struct {
	sha   string
	proto *lua.FunctionProto
	flags scriptFlags
}

// scriptFlags are the flags of an EVAL shebang or a registered function.
type scriptFlags uint8

const (
	flagNoWrites scriptFlags = 1 << iota
	flagAllowOOM
	flagAllowStale
	flagNoCluster
	flagAllowCrossSlot
	// flagEvalCompat marks an EVAL script without a shebang: it may write
	// unless run by EVAL_RO.
	flagEvalCompat
)

// scriptFlagNames in Redis's definition order (FUNCTION LIST prints them in
// this order).
var scriptFlagNames = []struct {
	flag scriptFlags
	name string
}{
	{flagNoWrites, "no-writes"}, {flagAllowOOM, "allow-oom"}, {flagAllowStale, "allow-stale"},
	{flagNoCluster, "no-cluster"}, {flagAllowCrossSlot, "allow-cross-slot-keys"},
}

// maxIdleStates bounds the pool: one state per script running at once,
// and scripts on different keys run side by side.
const maxIdleStates = 64

// lookupScript finds a cached script by SHA1, in any letter case.
func (e *scripting) lookupScript(sha string) *evalScript {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.scripts[strings.ToLower(sha)]
}

// loadScript compiles and caches body, or finds it already cached. On
// failure it returns the error reply.
func (e *scripting) loadScript(body []byte) (*evalScript, string) {
	sha := sha1Hex(string(body))
	if s := e.lookupScript(sha); s != nil {
		return s, ""
	}
	flags, shebangLen, errMsg := parseEvalShebang(body)
	if errMsg != "" {
		return nil, "ERR " + errMsg
	}
	proto, errMsg := compileLua(string(body[shebangLen:]), luaScriptChunk)
	if errMsg != "" {
		return nil, "ERR Error compiling script (new function): " + errMsg
	}
	s := &evalScript{sha: sha, proto: proto, flags: flags}
	e.mu.Lock()
	if old := e.scripts[sha]; old != nil {
		s = old
	} else {
		e.scripts[sha] = s
	}
	e.mu.Unlock()
	return s, ""
}

// flushScripts is SCRIPT FLUSH: the cache and the idle states go.
func (e *scripting) flushScripts() {
	e.mu.Lock()
	e.scripts = map[string]*evalScript{}
	e.mu.Unlock()
	e.poolMu.Lock()
	idle := e.pool
	e.pool = nil
	e.poolMu.Unlock()
	for _, ls := range idle {
		ls.L.Close()
	}
}

// parseEvalShebang is Redis's evalExtractShebangFlags: an EVAL body may
// start with "#!lua" and flags=... on its first line. It returns the flags,
// the length of the shebang line (kept out of compilation, its newline kept
// so that line numbers stay right) and an error text.
func parseEvalShebang(body []byte) (scriptFlags, int, string) {
	if !strings.HasPrefix(string(body), "#!") {
		return flagEvalCompat, 0, ""
	}
	end := strings.IndexByte(string(body), '\n')
	if end < 0 {
		return 0, 0, "Invalid script shebang"
	}
	parts, ok := sdsSplitArgs(string(body[:end]))
	if !ok || len(parts) == 0 {
		return 0, 0, "Invalid engine in script shebang"
	}
	if parts[0] != "#!lua" {
		return 0, 0, "Unexpected engine in script shebang: " + parts[0]
	}
	var flags scriptFlags
	for _, p := range parts[1:] {
		list, ok := strings.CutPrefix(p, "flags=")
		if !ok {
			return 0, 0, "Unknown lua shebang option: " + p
		}
		if list == "" {
			continue
		}
		for _, name := range strings.Split(list, ",") {
			f, known := scriptFlagByName(name, false)
			if !known {
				return 0, 0, "Unexpected flag in script shebang: " + name
			}
			flags |= f
		}
	}
	return flags, end, ""
}

func scriptFlagByName(name string, foldCase bool) (scriptFlags, bool) {
	for _, f := range scriptFlagNames {
		if f.name == name || (foldCase && strings.EqualFold(f.name, name)) {
			return f.flag, true
		}
	}
	return 0, false
}

// sdsSplitArgs is Redis's sdssplitargs: words separated by white space,
// "double quotes" with escapes, 'single quotes'. ok is false for unbalanced
// quotes or a closing quote not followed by a space.
func sdsSplitArgs(line string) ([]string, bool) {
	isSpace := func(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	var out []string
	p := 0
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p >= len(line) {
			return out, true
		}
		var cur []byte
		inq, insq := false, false
		for done := false; !done; {
			c := at(p)
			switch {
			case inq:
				switch {
				case c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
					v, _ := strconv.ParseUint(line[p+2:p+4], 16, 8)
					cur = append(cur, byte(v))
					p += 3
				case c == '\\' && at(p+1) != 0:
					p++
					e := line[p]
					switch e {
					case 'n':
						e = '\n'
					case 'r':
						e = '\r'
					case 't':
						e = '\t'
					case 'b':
						e = '\b'
					case 'a':
						e = '\a'
					}
					cur = append(cur, e)
				case c == '"':
					if n := at(p + 1); n != 0 && !isSpace(n) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
				}
			case insq:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					cur = append(cur, '\'')
				case c == '\'':
					if n := at(p + 1); n != 0 && !isSpace(n) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					cur = append(cur, c)
				}
			}
			if p < len(line) {
				p++
			}
		}
		out = append(out, string(cur))
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// compileLua compiles src as a chunk named chunk. On failure it returns
// the error as Lua 5.1's compiler words it ("user_script:1: unexpected
// symbol near '+'"). Lua 5.1's grammar is checked first: gopher-lua accepts
// a few things Lua 5.1 (and so Redis) rejects, such as empty statements.
func compileLua(src, chunk string) (*lua.FunctionProto, string) {
	if msg := luaSyntaxError(src, chunk); msg != "" {
		return nil, msg
	}
	ast, err := parse.Parse(strings.NewReader(src), chunk)
	if err == nil {
		proto, cerr := lua.Compile(ast, chunk)
		if cerr == nil {
			// gopher-lua builds Lua 5.0's "arg" table of a vararg
			// function on every call unless the body uses "...". A
			// main chunk has no local named arg to reach that table,
			// so it was garbage: a table and a map per EVALSHA.
			proto.IsVarArg &^= lua.VarArgNeedsArg
			return proto, ""
		}
		err = cerr
	}
	return nil, translateCompileError(src, chunk, err.Error())
}

var (
	reParseNear = regexp.MustCompile(`^\S+ line:(\d+)\(column:\d+\) near '(.*)':\s+(.*?)\s*$`)
	reParseEOF  = regexp.MustCompile(`^\S+ at EOF:\s+(.*?)\s*$`)
)

// translateCompileError words a gopher-lua compile error the way Lua 5.1
// would in the common case, for the rare sources Lua 5.1 accepts but
// gopher-lua does not.
func translateCompileError(src, chunk, msg string) string {
	if m := reParseNear.FindStringSubmatch(msg); m != nil {
		return chunk + ":" + m[1] + ": unexpected symbol near '" + m[2] + "'"
	}
	if reParseEOF.MatchString(msg) {
		return chunk + ":" + strconv.Itoa(strings.Count(src, "\n")+1) + ": unexpected symbol near '<eof>'"
	}
	return strings.TrimSpace(msg)
}

// acquireState takes an idle state from the pool or builds one.
func (e *scripting) acquireState() *luaState {
	e.poolMu.Lock()
	if n := len(e.pool); n > 0 {
		ls := e.pool[n-1]
		e.pool = e.pool[:n-1]
		e.poolMu.Unlock()
		return ls
	}
	e.poolMu.Unlock()
	return newLuaState(e)
}

// releaseState returns a state to the pool, unless a Go panic went through
// it or the pool is full.
func (e *scripting) releaseState(ls *luaState) {
	if !ls.broken {
		e.poolMu.Lock()
		if len(e.pool) < maxIdleStates {
			e.pool = append(e.pool, ls)
			e.poolMu.Unlock()
			return
		}
		e.poolMu.Unlock()
	}
	ls.L.Close()
}

// newScriptClient is the client a script's commands run on: authenticated,
// RESP2 until redis.setresp, never blocking (tx.inExec).
func (e *scripting) newScriptClient() *Client {
	return &Client{srv: e.srv, w: protocol.NewWriter(2), authed: true, proto: 2,
		created: time.Now(), inScript: true}
}
