package server

import "strconv"

// Lua 5.1's lexer (llex.c), for the syntax checker in scripting_syntax.go:
// the same tokens, the same line counting and the same texts in errors
// ("unfinished string near ''abc'", "malformed number near '1x'").

type luaSyntaxErr string

// Tokens: single characters are their byte value; the rest follow.
const (
	tkAnd = 257 + iota
	tkBreak
	tkDo
	tkElse
	tkElseif
	tkEnd
	tkFalse
	tkFor
	tkFunction
	tkIf
	tkIn
	tkLocal
	tkNil
	tkNot
	tkOr
	tkRepeat
	tkReturn
	tkThen
	tkTrue
	tkUntil
	tkWhile
	tkConcat
	tkDots
	tkEq
	tkGe
	tkLe
	tkNe
	tkNumber
	tkName
	tkString
	tkEOS
)

var luaTokenNames = []string{
	"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
	"local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
	"..", "...", "==", ">=", "<=", "~=", "<number>", "<name>", "<string>", "<eof>",
}

var luaReserved = func() map[string]int {
	m := map[string]int{}
	for i, name := range luaTokenNames[:tkWhile-tkAnd+1] {
		m[name] = tkAnd + i
	}
	return m
}()

const (
	luaMaxVars     = 200 // LUAI_MAXVARS
	luaMaxUpvalues = 60  // LUAI_MAXUPVALUES
	luaMaxCCalls   = 200 // LUAI_MAXCCALLS
	luaEOZ         = -1
)

type luaToken struct {
	kind int
	text string // the lexer buffer for names, strings and numbers
}

type luaLexer struct {
	src      string
	chunk    string
	pos      int // index of current
	current  int
	line     int
	lastline int
	buf      []byte
	t        luaToken
	ahead    luaToken // the lookahead token, when hasAhead
	hasAhead bool
}

func (l *luaLexer) char(i int) int {
	if i < len(l.src) {
		return int(l.src[i])
	}
	return luaEOZ
}

func (l *luaLexer) next() {
	l.pos++
	l.current = l.char(l.pos)
}

func (l *luaLexer) save(c int)   { l.buf = append(l.buf, byte(c)) }
func (l *luaLexer) saveAndNext() { l.save(l.current); l.next() }

func (l *luaLexer) isNewline() bool { return l.current == '\n' || l.current == '\r' }

func luaSynAlpha(c int) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func luaSynDigit(c int) bool { return c >= '0' && c <= '9' }
func luaSynAlnum(c int) bool { return luaSynAlpha(c) || luaSynDigit(c) }

// tokenString is luaX_token2str.
func luaTokenString(tok int) string {
	if tok < 257 {
		if tok < 32 || tok == 127 {
			return "char(" + strconv.Itoa(tok) + ")"
		}
		return string([]byte{byte(tok)})
	}
	return luaTokenNames[tok-257]
}

// txtToken is txtToken: the buffer for names, strings and numbers.
func (l *luaLexer) txtToken(tok int) string {
	switch tok {
	case tkName, tkString, tkNumber:
		return string(l.buf)
	}
	return luaTokenString(tok)
}

// lexError is luaX_lexerror; token 0 means no "near" part.
func (l *luaLexer) lexError(msg string, tok int) {
	m := l.chunk + ":" + strconv.Itoa(l.line) + ": " + msg
	if tok != 0 {
		m += " near '" + l.txtToken(tok) + "'"
	}
	panic(luaSyntaxErr(m))
}

// syntaxError is luaX_syntaxerror. Like Lua's, the text shown for a name,
// string or number is the lexer buffer: that of the current token, or of
// the lookahead when one was read.
func (l *luaLexer) syntaxError(msg string) { l.lexError(msg, l.t.kind) }

func (l *luaLexer) incLine() {
	old := l.current
	l.next()
	if l.isNewline() && l.current != old {
		l.next()
	}
	l.line++
}

func (l *luaLexer) advance() {
	l.lastline = l.line
	if l.hasAhead {
		l.t = l.ahead
		l.hasAhead = false
		return
	}
	l.t = l.lex()
}

func (l *luaLexer) lookahead() {
	l.ahead = l.lex()
	l.hasAhead = true
}

func (l *luaLexer) tok(kind int) luaToken { return luaToken{kind: kind} }

func (l *luaLexer) lex() luaToken {
	l.buf = l.buf[:0]
	for {
		switch c := l.current; {
		case c == '\n' || c == '\r':
			l.incLine()
		case c == '-':
			l.next()
			if l.current != '-' {
				return l.tok('-')
			}
			l.next()
			if l.current == '[' {
				sep := l.skipSep()
				l.buf = l.buf[:0]
				if sep >= 0 {
					l.readLongString(false, sep)
					l.buf = l.buf[:0]
					continue
				}
			}
			for !l.isNewline() && l.current != luaEOZ {
				l.next()
			}
		case c == '[':
			sep := l.skipSep()
			if sep >= 0 {
				l.readLongString(true, sep)
				return luaToken{tkString, string(l.buf)}
			} else if sep == -1 {
				return l.tok('[')
			}
			l.lexError("invalid long string delimiter", tkString)
		case c == '=':
			l.next()
			if l.current != '=' {
				return l.tok('=')
			}
			l.next()
			return l.tok(tkEq)
		case c == '<':
			l.next()
			if l.current != '=' {
				return l.tok('<')
			}
			l.next()
			return l.tok(tkLe)
		case c == '>':
			l.next()
			if l.current != '=' {
				return l.tok('>')
			}
			l.next()
			return l.tok(tkGe)
		case c == '~':
			l.next()
			if l.current != '=' {
				return l.tok('~')
			}
			l.next()
			return l.tok(tkNe)
		case c == '"' || c == '\'':
			l.readString(c)
			return luaToken{tkString, string(l.buf)}
		case c == '.':
			l.saveAndNext()
			if l.current == '.' {
				l.saveAndNext()
				if l.current == '.' {
					l.saveAndNext()
					return l.tok(tkDots)
				}
				return l.tok(tkConcat)
			}
			if !luaSynDigit(l.current) {
				return l.tok('.')
			}
			l.readNumeral()
			return luaToken{tkNumber, string(l.buf)}
		case c == luaEOZ:
			return l.tok(tkEOS)
		case c == ' ' || c == '\t' || c == '\v' || c == '\f':
			l.next()
		case luaSynDigit(c):
			l.readNumeral()
			return luaToken{tkNumber, string(l.buf)}
		case luaSynAlpha(c) || c == '_':
			for luaSynAlnum(l.current) || l.current == '_' {
				l.saveAndNext()
			}
			if r, ok := luaReserved[string(l.buf)]; ok {
				return l.tok(r)
			}
			return luaToken{tkName, string(l.buf)}
		default:
			l.next()
			return l.tok(c)
		}
	}
}

func (l *luaLexer) skipSep() int {
	count := 0
	s := l.current
	l.saveAndNext()
	for l.current == '=' {
		l.saveAndNext()
		count++
	}
	if l.current == s {
		return count
	}
	return -count - 1
}

func (l *luaLexer) readLongString(isString bool, sep int) {
	l.saveAndNext() // the second '['
	if l.isNewline() {
		l.incLine()
	}
	for {
		switch l.current {
		case luaEOZ:
			if isString {
				l.lexError("unfinished long string", tkEOS)
			}
			l.lexError("unfinished long comment", tkEOS)
		case ']':
			if l.skipSep() == sep {
				l.saveAndNext()
				return
			}
		case '\n', '\r':
			l.save('\n')
			l.incLine()
			if !isString {
				l.buf = l.buf[:0]
			}
		default:
			if isString {
				l.saveAndNext()
			} else {
				l.next()
			}
		}
	}
}

func (l *luaLexer) readString(del int) {
	l.saveAndNext()
	for l.current != del {
		switch l.current {
		case luaEOZ:
			l.lexError("unfinished string", tkEOS)
		case '\n', '\r':
			l.lexError("unfinished string", tkString)
		case '\\':
			l.next()
			switch l.current {
			case 'a', 'b', 'f', 'n', 'r', 't', 'v':
				l.save(map[int]int{'a': 7, 'b': 8, 'f': 12, 'n': 10, 'r': 13, 't': 9, 'v': 11}[l.current])
				l.next()
			case '\n', '\r':
				l.save('\n')
				l.incLine()
			case luaEOZ:
			default:
				if !luaSynDigit(l.current) {
					l.saveAndNext()
					continue
				}
				c := 0
				for i := 0; i < 3 && luaSynDigit(l.current); i++ {
					c = 10*c + l.current - '0'
					l.next()
				}
				if c > 255 {
					l.lexError("escape sequence too large", tkString)
				}
				l.save(c)
			}
		default:
			l.saveAndNext()
		}
	}
	l.saveAndNext()
}

func (l *luaLexer) readNumeral() {
	for luaSynDigit(l.current) || l.current == '.' {
		l.saveAndNext()
	}
	if l.current == 'E' || l.current == 'e' {
		l.saveAndNext()
		if l.current == '+' || l.current == '-' {
			l.saveAndNext()
		}
	}
	for luaSynAlnum(l.current) || l.current == '_' {
		l.saveAndNext()
	}
	if _, ok := luaStr2Number(string(l.buf)); !ok {
		l.lexError("malformed number", tkNumber)
	}
}
