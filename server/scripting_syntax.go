package server

import (
	"strconv"
)

// A syntax checker that follows Lua 5.1's lexer and parser (llex.c and
// lparser.c, without code generation), so that a script that does not
// compile gets the very message Redis's Lua gives: "user_script:1:
// unexpected symbol near '+'", "'end' expected (to close 'function' at line
// 1) near '<eof>'", "unfinished string near ''abc'" and so on. gopher-lua's
// own parser reports only "syntax error", and accepts a few things Lua 5.1
// rejects (empty statements, "\300" escapes, "f\n(x)" calls).

// luaSyntaxError returns the error Lua 5.1 gives for src, or "" if Lua 5.1
// would compile it.
func luaSyntaxError(src, chunk string) (msg string) {
	p := &luaParser{lex: luaLexer{src: src, chunk: chunk, line: 1}}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(luaSyntaxErr)
			if !ok {
				panic(r)
			}
			msg = string(e)
		}
	}()
	p.lex.current = p.lex.char(0)
	p.mainFunc()
	return ""
}

// The parser. Expression kinds matter only as far as Lua's errors do: a
// call can be a statement, a variable can be assigned.
const (
	expOther = iota
	expCall
	expVar
	expVararg
)

type luaFuncState struct {
	parent   *luaFuncState
	actvars  []string // active locals, innermost last
	upvals   []string
	blocks   []luaBlock
	isVararg bool
	line     int // linedefined; 0 for the main function
}

type luaBlock struct {
	nactvar     int
	isBreakable bool
}

type luaParser struct {
	lex    luaLexer
	fs     *luaFuncState
	levels int
}

func (p *luaParser) t() int { return p.lex.t.kind }

func (p *luaParser) next() { p.lex.advance() }

func (p *luaParser) errorExpected(tok int) {
	p.lex.syntaxError("'" + luaTokenString(tok) + "' expected")
}

func (p *luaParser) testNext(tok int) bool {
	if p.t() == tok {
		p.next()
		return true
	}
	return false
}

func (p *luaParser) check(tok int) {
	if p.t() != tok {
		p.errorExpected(tok)
	}
}

func (p *luaParser) checkNext(tok int) {
	p.check(tok)
	p.next()
}

func (p *luaParser) checkMatch(what, who, where int) {
	if !p.testNext(what) {
		if where == p.lex.line {
			p.errorExpected(what)
		}
		p.lex.syntaxError("'" + luaTokenString(what) + "' expected (to close '" + luaTokenString(who) +
			"' at line " + strconv.Itoa(where) + ")")
	}
}

func (p *luaParser) checkName() string {
	p.check(tkName)
	name := p.lex.t.text
	p.next()
	return name
}

func (p *luaParser) enterLevel() {
	p.levels++
	if p.levels > luaMaxCCalls {
		p.lex.lexError("chunk has too many syntax levels", 0)
	}
}

func (p *luaParser) leaveLevel() { p.levels-- }

func (p *luaParser) errorLimit(limit int, what string) {
	msg := "main function has more than " + strconv.Itoa(limit) + " " + what
	if p.fs.line != 0 {
		msg = "function at line " + strconv.Itoa(p.fs.line) + " has more than " + strconv.Itoa(limit) + " " + what
	}
	p.lex.lexError(msg, 0)
}

// newLocal declares a local, pending until activate (Lua's
// new_localvar/adjustlocalvars); n is its index among the pending ones.
func (p *luaParser) newLocal(n int) {
	if len(p.fs.actvars)+n+1 > luaMaxVars {
		p.errorLimit(luaMaxVars, "local variables")
	}
}

func (p *luaParser) activate(names ...string) { p.fs.actvars = append(p.fs.actvars, names...) }

func (p *luaParser) openFunc(line int) {
	p.fs = &luaFuncState{parent: p.fs, line: line}
}

func (p *luaParser) closeFunc() { p.fs = p.fs.parent }

func (p *luaParser) enterBlock(breakable bool) {
	p.fs.blocks = append(p.fs.blocks, luaBlock{nactvar: len(p.fs.actvars), isBreakable: breakable})
}

func (p *luaParser) leaveBlock() {
	b := p.fs.blocks[len(p.fs.blocks)-1]
	p.fs.blocks = p.fs.blocks[:len(p.fs.blocks)-1]
	p.fs.actvars = p.fs.actvars[:b.nactvar]
}

// resolve is singlevar's search: a local of fs, an upvalue (counted against
// the limit), or a global.
func (p *luaParser) resolve(fs *luaFuncState, name string) bool {
	if fs == nil {
		return false
	}
	for i := len(fs.actvars) - 1; i >= 0; i-- {
		if fs.actvars[i] == name {
			return true
		}
	}
	if !p.resolve(fs.parent, name) {
		return false
	}
	for _, u := range fs.upvals {
		if u == name {
			return true
		}
	}
	if len(fs.upvals)+1 > luaMaxUpvalues {
		saved := p.fs
		p.fs = fs
		p.errorLimit(luaMaxUpvalues, "upvalues")
		p.fs = saved
	}
	fs.upvals = append(fs.upvals, name)
	return true
}

func (p *luaParser) mainFunc() {
	p.openFunc(0)
	p.fs.isVararg = true
	p.next()
	p.chunk()
	p.check(tkEOS)
}

func blockFollow(tok int) bool {
	switch tok {
	case tkElse, tkElseif, tkEnd, tkUntil, tkEOS:
		return true
	}
	return false
}

func (p *luaParser) chunk() {
	p.enterLevel()
	for last := false; !last && !blockFollow(p.t()); {
		last = p.statement()
		p.testNext(';')
	}
	p.leaveLevel()
}

func (p *luaParser) block() {
	p.enterBlock(false)
	p.chunk()
	p.leaveBlock()
}

func (p *luaParser) statement() bool {
	line := p.lex.line
	switch p.t() {
	case tkIf:
		p.ifStat(line)
	case tkWhile:
		p.next()
		p.expr()
		p.enterBlock(true)
		p.checkNext(tkDo)
		p.block()
		p.checkMatch(tkEnd, tkWhile, line)
		p.leaveBlock()
	case tkDo:
		p.next()
		p.block()
		p.checkMatch(tkEnd, tkDo, line)
	case tkFor:
		p.forStat(line)
	case tkRepeat:
		p.enterBlock(true)
		p.enterBlock(false)
		p.next()
		p.chunk()
		p.checkMatch(tkUntil, tkRepeat, line)
		p.expr()
		p.leaveBlock()
		p.leaveBlock()
	case tkFunction:
		p.next()
		p.resolve(p.fs, p.checkName())
		needSelf := false
		for p.t() == '.' {
			p.field()
		}
		if p.t() == ':' {
			needSelf = true
			p.field()
		}
		p.body(needSelf, line)
	case tkLocal:
		p.next()
		if p.testNext(tkFunction) {
			name := p.checkName()
			p.newLocal(0)
			p.activate(name)
			p.body(false, p.lex.line)
		} else {
			p.localStat()
		}
	case tkReturn:
		p.next()
		if !blockFollow(p.t()) && p.t() != ';' {
			p.exprList()
		}
		return true
	case tkBreak:
		p.next()
		breakable := false
		for _, b := range p.fs.blocks {
			breakable = breakable || b.isBreakable
		}
		if !breakable {
			p.lex.syntaxError("no loop to break")
		}
		return true
	default:
		p.exprStat()
	}
	return false
}

func (p *luaParser) ifStat(line int) {
	p.testThenBlock()
	for p.t() == tkElseif {
		p.testThenBlock()
	}
	if p.t() == tkElse {
		p.next()
		p.block()
	}
	p.checkMatch(tkEnd, tkIf, line)
}

func (p *luaParser) testThenBlock() {
	p.next()
	p.expr()
	p.checkNext(tkThen)
	p.block()
}

func (p *luaParser) forStat(line int) {
	p.enterBlock(true)
	p.next()
	name := p.checkName()
	switch p.t() {
	case '=':
		for i := 0; i < 4; i++ {
			p.newLocal(i)
		}
		p.checkNext('=')
		p.expr()
		p.checkNext(',')
		p.expr()
		if p.testNext(',') {
			p.expr()
		}
		p.forBody([]string{name})
	case ',', tkIn:
		n := 0
		for ; n < 4; n++ {
			p.newLocal(n)
		}
		names := []string{name}
		for p.testNext(',') {
			names = append(names, p.checkName())
			p.newLocal(n)
			n++
		}
		p.checkNext(tkIn)
		p.exprList()
		p.forBody(names)
	default:
		p.lex.syntaxError("'=' or 'in' expected")
	}
	p.checkMatch(tkEnd, tkFor, line)
	p.leaveBlock()
}

func (p *luaParser) forBody(names []string) {
	p.activate("(for 1)", "(for 2)", "(for 3)")
	p.checkNext(tkDo)
	p.enterBlock(false)
	p.activate(names...)
	p.block()
	p.leaveBlock()
}

func (p *luaParser) localStat() {
	var names []string
	for {
		name := p.checkName()
		p.newLocal(len(names))
		names = append(names, name)
		if !p.testNext(',') {
			break
		}
	}
	if p.testNext('=') {
		p.exprList()
	}
	p.activate(names...)
}

func (p *luaParser) exprStat() {
	kind := p.primaryExp()
	if kind == expCall {
		return
	}
	p.assignment(kind, 1)
}

func (p *luaParser) assignment(kind, nvars int) {
	if kind != expVar {
		p.lex.syntaxError("syntax error")
	}
	if p.testNext(',') {
		next := p.primaryExp()
		if nvars > luaMaxCCalls-p.levels {
			p.errorLimit(luaMaxCCalls-p.levels, "variables in assignment")
		}
		p.assignment(next, nvars+1)
		return
	}
	p.checkNext('=')
	p.exprList()
}

func (p *luaParser) exprList() {
	p.expr()
	for p.testNext(',') {
		p.expr()
	}
}

func (p *luaParser) expr() int { k, _ := p.subExpr(0); return k }

var luaBinaryPriority = map[int][2]int{
	'+': {6, 6}, '-': {6, 6}, '*': {7, 7}, '/': {7, 7}, '%': {7, 7},
	'^': {10, 9}, tkConcat: {5, 4},
	tkNe: {3, 3}, tkEq: {3, 3}, '<': {3, 3}, tkLe: {3, 3}, '>': {3, 3}, tkGe: {3, 3},
	tkAnd: {2, 2}, tkOr: {1, 1},
}

const luaUnaryPriority = 8

// subExpr parses an expression whose operators bind tighter than limit and
// returns its kind and the first operator it did not consume.
func (p *luaParser) subExpr(limit int) (int, int) {
	p.enterLevel()
	kind := expOther
	if t := p.t(); t == tkNot || t == '-' || t == '#' {
		p.next()
		p.subExpr(luaUnaryPriority)
	} else {
		kind = p.simpleExp()
	}
	op := p.t()
	for {
		prio, isOp := luaBinaryPriority[op]
		if !isOp || prio[0] <= limit {
			break
		}
		p.next()
		_, op = p.subExpr(prio[1])
		kind = expOther
	}
	p.leaveLevel()
	return kind, op
}

func (p *luaParser) simpleExp() int {
	switch p.t() {
	case tkNumber, tkString, tkNil, tkTrue, tkFalse:
		p.next()
		return expOther
	case tkDots:
		if !p.fs.isVararg {
			p.lex.syntaxError("cannot use '...' outside a vararg function")
		}
		p.next()
		return expVararg
	case '{':
		p.constructor()
		return expOther
	case tkFunction:
		p.next()
		p.body(false, p.lex.line)
		return expOther
	}
	return p.primaryExp()
}

func (p *luaParser) primaryExp() int {
	kind := p.prefixExp()
	for {
		switch p.t() {
		case '.':
			p.field()
			kind = expVar
		case '[':
			p.next()
			p.expr()
			p.checkNext(']')
			kind = expVar
		case ':':
			p.next()
			p.checkName()
			p.funcArgs()
			kind = expCall
		case '(', tkString, '{':
			p.funcArgs()
			kind = expCall
		default:
			return kind
		}
	}
}

func (p *luaParser) prefixExp() int {
	switch p.t() {
	case '(':
		line := p.lex.line
		p.next()
		p.expr()
		p.checkMatch(')', '(', line)
		return expOther
	case tkName:
		p.resolve(p.fs, p.checkName())
		return expVar
	}
	p.lex.syntaxError("unexpected symbol")
	return expOther
}

func (p *luaParser) field() {
	p.next()
	p.checkName()
}

func (p *luaParser) funcArgs() {
	line := p.lex.line
	switch p.t() {
	case '(':
		if line != p.lex.lastline {
			p.lex.syntaxError("ambiguous syntax (function call x new statement)")
		}
		p.next()
		if p.t() != ')' {
			p.exprList()
		}
		p.checkMatch(')', '(', line)
	case '{':
		p.constructor()
	case tkString:
		p.next()
	default:
		p.lex.syntaxError("function arguments expected")
	}
}

func (p *luaParser) constructor() {
	line := p.lex.line
	p.checkNext('{')
	for {
		if p.t() == '}' {
			break
		}
		switch p.t() {
		case tkName:
			p.lex.lookahead()
			if p.lex.ahead.kind != '=' {
				p.expr()
			} else {
				p.checkName()
				p.checkNext('=')
				p.expr()
			}
		case '[':
			p.next()
			p.expr()
			p.checkNext(']')
			p.checkNext('=')
			p.expr()
		default:
			p.expr()
		}
		if !p.testNext(',') && !p.testNext(';') {
			break
		}
	}
	p.checkMatch('}', '{', line)
}

func (p *luaParser) body(needSelf bool, line int) {
	p.openFunc(line)
	defer p.closeFunc()
	p.checkNext('(')
	if needSelf {
		p.newLocal(0)
		p.activate("self")
	}
	var params []string
	if p.t() != ')' {
		for {
			switch p.t() {
			case tkName:
				name := p.checkName()
				p.newLocal(len(params))
				params = append(params, name)
			case tkDots:
				p.next()
				p.newLocal(len(params)) // LUA_COMPAT_VARARG: the implicit 'arg'
				params = append(params, "arg")
				p.fs.isVararg = true
			default:
				p.lex.syntaxError("<name> or '...' expected")
			}
			if p.fs.isVararg || !p.testNext(',') {
				break
			}
		}
	}
	p.activate(params...)
	p.checkNext(')')
	p.chunk()
	p.checkMatch(tkEnd, tkFunction, line)
}
