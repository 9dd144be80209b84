package server

import (
	"regexp"
	"strconv"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// Script errors as Redis 7.0 reports them.
//
// Every script runs under an error handler (Redis's __redis__err__handler)
// that turns the error into a table {err=..., source=..., line=...}: a
// string error becomes "ERR " .. message, and the position is that of the
// Lua code that raised it (the caller when a Go function such as redis.call
// or error raised it). The reply is then "-<err> script: <name>, on
// <source>:<line>.".
//
// gopher-lua words runtime errors differently from Lua 5.1 ("cannot perform
// add operation between number and nil" for "attempt to perform arithmetic
// on local 'x' (a nil value)"), so the handler rewrites its messages into
// Lua 5.1's, naming the variable involved the way Lua 5.1's getobjname does
// from the bytecode (gopher-lua compiles to Lua 5.1's instruction set).

const errScriptKilled = "Script killed by user with SCRIPT KILL..."

// errorHandler is the message handler of every script and function call.
func (ls *luaState) errorHandler(L *lua.LState) int {
	e := L.Get(1)
	if s, ok := e.(lua.LString); ok {
		e = lua.LString(translateLuaError(L, string(s)))
	}
	if ls.run != nil && ls.run.killed.Load() {
		e = luaErrorTable(L, errScriptKilled)
	}
	t, ok := e.(*lua.LTable)
	if !ok {
		t = L.CreateTable(0, 3)
		t.RawSetString("err", lua.LString("ERR "+luaToString(e)))
	}
	if dbg := luaErrorPosition(L); dbg != nil {
		t.RawSetString("source", lua.LString("@"+dbg.Source))
		t.RawSetString("line", lua.LNumber(dbg.CurrentLine))
	}
	L.Push(t)
	return 1
}

// newTranslator builds the message handler of pcall inside scripts and of
// FUNCTION LOAD: it only rewrites gopher-lua's messages, while the failing
// frame can still be inspected.
func newTranslator(L *lua.LState) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		e := L.Get(1)
		if s, ok := e.(lua.LString); ok {
			e = lua.LString(translateLuaError(L, string(s)))
		}
		L.Push(e)
		return 1
	})
}

// luaErrorPosition is the frame Redis's handler reports: the function that
// raised the error, or its caller when that function is a Go (C) function.
// Level 0 is the handler itself.
func luaErrorPosition(L *lua.LState) *lua.Debug {
	for level := 1; level <= 2; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			return nil
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
			return nil
		}
		if dbg.What != "G" {
			return dbg
		}
	}
	return nil
}

// luaFrame mirrors gopher-lua v1.1.2's unexported callFrame, which
// lua.Debug points to in its first field: the program counter of the failing
// frame is needed to name variables and is not otherwise exposed.
// luaFailingFrame checks the mirror against what the public API reports
// and gives up (messages lose their variable names) if they disagree.
type luaFrame struct {
	Idx        int
	Fn         *lua.LFunction
	Parent     *luaFrame
	Pc         int
	Base       int
	LocalBase  int
	ReturnBase int
	NArgs      int
	NRet       int
	TailCall   int
}

// luaFailingFrame returns the Lua frame in which the error being handled
// was raised by the VM, with the index of the failing instruction, or nil
// when the error came from a Go function.
func luaFailingFrame(L *lua.LState) (*lua.Debug, *luaFrame, int) {
	dbg, ok := L.GetStack(1)
	if !ok {
		return nil, nil, 0
	}
	fv, err := L.GetInfo("Slf", dbg, lua.LNil)
	if err != nil || dbg.What == "G" {
		return nil, nil, 0
	}
	fn, _ := fv.(*lua.LFunction)
	fr := *(**luaFrame)(unsafe.Pointer(dbg))
	if fr == nil || fn == nil || fr.Fn != fn || fn.IsG || fn.Proto == nil {
		return nil, nil, 0
	}
	pc := fr.Pc - 1
	if pc < 0 || pc >= len(fn.Proto.Code) || fn.Proto.DbgSourcePositions[pc] != dbg.CurrentLine {
		return nil, nil, 0
	}
	return dbg, fr, pc
}

// luaFrameAt returns the frame at level (0 is the running function), or
// nil if the mirror of gopher-lua's frame does not check out.
func luaFrameAt(L *lua.LState, level int) *luaFrame {
	dbg, ok := L.GetStack(level)
	if !ok {
		return nil
	}
	fv, err := L.GetInfo("f", dbg, lua.LNil)
	if err != nil {
		return nil
	}
	fr := *(**luaFrame)(unsafe.Pointer(dbg))
	if fr == nil || fr.Fn != fv {
		return nil
	}
	return fr
}

var (
	reArith   = regexp.MustCompile(`^cannot perform (\w+) operation between (\w+) and (\w+)$`)
	reIndex   = regexp.MustCompile(`^attempt to index a non-table object\((\w+)\) with key '.*'$`)
	reCompare = regexp.MustCompile(`^attempt to compare (\w+) with (\w+)$`)
	reBadArg  = regexp.MustCompile(`^bad argument #(\d+) to ([^ ']+) \((.*)\)$`)
)

// translateLuaError rewrites a gopher-lua runtime error message into the
// one Lua 5.1 gives for the same failure. Messages it does not recognise
// (including every error a script raises itself) are returned unchanged.
func translateLuaError(L *lua.LState, msg string) string {
	prefix, body := splitLuaPosition(msg)
	var out string
	switch {
	case body == "attempt to call a non-function object":
		out = describeOperand(L, "call", func(in uint32) (int, bool) {
			switch opcode(in) {
			case lua.OP_CALL, lua.OP_TAILCALL:
				return argA(in), true
			}
			return 0, false
		})
	case body == "__unm undefined":
		out = describeOperand(L, "perform arithmetic on", func(in uint32) (int, bool) {
			return argB(in), opcode(in) == lua.OP_UNM
		})
	case body == "__len undefined":
		out = describeOperand(L, "get length of", func(in uint32) (int, bool) {
			return argB(in), opcode(in) == lua.OP_LEN
		})
	case body == "for statement init must be a number":
		out = "'for' initial value must be a number"
	case body == "for statement limit must be a number":
		out = "'for' limit must be a number"
	case body == "for statement step must be a number":
		out = "'for' step must be a number"
	default:
		if m := reArith.FindStringSubmatch(body); m != nil {
			culprit := m[2]
			if m[1] == "concat" {
				out = describeConcat(L)
				if culprit == "string" || culprit == "number" {
					culprit = m[3]
				}
				if out == "" {
					out = "attempt to concatenate a " + culprit + " value"
				}
			} else {
				out = describeArith(L, m[2])
				if culprit == "number" {
					culprit = m[3]
				}
				if out == "" {
					out = "attempt to perform arithmetic on a " + culprit + " value"
				}
			}
		} else if m := reIndex.FindStringSubmatch(body); m != nil {
			out = describeOperand(L, "index", func(in uint32) (int, bool) {
				switch opcode(in) {
				case lua.OP_GETTABLE, lua.OP_GETTABLEKS, lua.OP_SELF:
					return argB(in), true
				case lua.OP_SETTABLE, lua.OP_SETTABLEKS:
					return argA(in), true
				}
				return 0, false
			})
			if out == "" {
				out = "attempt to index a " + m[1] + " value"
			}
		} else if m := reCompare.FindStringSubmatch(body); m != nil {
			if m[1] == m[2] {
				out = "attempt to compare two " + m[1] + " values"
			} else {
				out = body
			}
		} else if m := reBadArg.FindStringSubmatch(body); m != nil {
			detail := m[3]
			if n, _ := strconv.Atoi(m[1]); strings.HasSuffix(detail, "got nil") {
				// gopher-lua cannot tell a missing argument from nil.
				if fr := luaFrameAt(L, 1); fr != nil && fr.Fn.IsG && n > fr.NArgs {
					detail = strings.TrimSuffix(detail, "nil") + "no value"
				}
			}
			out = "bad argument #" + m[1] + " to '" + m[2] + "' (" + detail + ")"
		}
	}
	if out == "" {
		return msg
	}
	return prefix + out
}

// splitLuaPosition splits "source:line: message" into its prefix (with the
// trailing space) and the message.
func splitLuaPosition(msg string) (string, string) {
	i := strings.Index(msg, ": ")
	if i < 0 {
		return "", msg
	}
	head := msg[:i]
	j := strings.LastIndexByte(head, ':')
	if j < 0 {
		return "", msg
	}
	if _, err := strconv.Atoi(head[j+1:]); err != nil {
		return "", msg
	}
	return msg[:i+2], msg[i+2:]
}

func opcode(in uint32) int { return int(in >> 26) }
func argA(in uint32) int   { return int(in>>18) & 0xff }
func argB(in uint32) int   { return int(in & 0x1ff) }
func argC(in uint32) int   { return int(in>>9) & 0x1ff }
func argBx(in uint32) int  { return int(in & 0x3ffff) }
func argSBx(in uint32) int { return argBx(in) - (1<<18-1)>>1 }

const rkBit = 1 << 8 // BITRK: an RK operand naming a constant

// describeOperand words luaG_typeerror for the register operand that the
// failing instruction (recognised by pick) used: "attempt to <op> local
// 'x' (a nil value)" or "attempt to <op> a nil value".
func describeOperand(L *lua.LState, op string, pick func(uint32) (int, bool)) string {
	dbg, fr, pc := luaFailingFrame(L)
	if fr == nil {
		return ""
	}
	reg, ok := pick(fr.Fn.Proto.Code[pc])
	if !ok {
		return ""
	}
	return typeError(L, dbg, fr.Fn.Proto, pc, reg, op)
}

func typeError(L *lua.LState, dbg *lua.Debug, p *lua.FunctionProto, pc, reg int, op string) string {
	_, v := L.GetLocal(dbg, reg+1)
	t := luaTypeName(v)
	if kind, name := luaObjectName(p, pc, reg); kind != "" {
		return "attempt to " + op + " " + kind + " '" + name + "' (a " + t + " value)"
	}
	return "attempt to " + op + " a " + t + " value"
}

// describeArith is luaG_aritherror: the first operand is blamed unless it
// converts to a number.
func describeArith(L *lua.LState, lhsType string) string {
	dbg, fr, pc := luaFailingFrame(L)
	if fr == nil {
		return ""
	}
	p := fr.Fn.Proto
	in := p.Code[pc]
	switch opcode(in) {
	case lua.OP_ADD, lua.OP_SUB, lua.OP_MUL, lua.OP_DIV, lua.OP_MOD, lua.OP_POW:
	default:
		return ""
	}
	culprit := argC(in)
	lhs := rkValue(L, dbg, p, argB(in))
	if lhs == nil {
		if lhsType != "number" {
			culprit = argB(in)
		}
	} else if _, isNum := luaLibToNumber(lhs); !isNum {
		culprit = argB(in)
	}
	if culprit&rkBit != 0 {
		return "attempt to perform arithmetic on a " + luaTypeName(p.Constants[culprit&^rkBit]) + " value"
	}
	return typeError(L, dbg, p, pc, culprit, "perform arithmetic on")
}

// rkValue reads an RK operand: a constant or a register.
func rkValue(L *lua.LState, dbg *lua.Debug, p *lua.FunctionProto, rk int) lua.LValue {
	if rk&rkBit != 0 {
		return p.Constants[rk&^rkBit]
	}
	name, v := L.GetLocal(dbg, rk+1)
	if name == "" {
		return nil
	}
	return v
}

// describeConcat is luaG_concaterror for OP_CONCAT A B C, which Lua
// evaluates from the right: the first pair that cannot be concatenated
// decides, and its left operand is blamed unless it is a string or number.
func describeConcat(L *lua.LState) string {
	dbg, fr, pc := luaFailingFrame(L)
	if fr == nil {
		return ""
	}
	p := fr.Fn.Proto
	in := p.Code[pc]
	if opcode(in) != lua.OP_CONCAT {
		return ""
	}
	strnum := func(reg int) bool {
		_, v := L.GetLocal(dbg, reg+1)
		return v.Type() == lua.LTString || v.Type() == lua.LTNumber
	}
	b, c := argB(in), argC(in)
	for i := c - 1; i >= b; i-- {
		if !strnum(i) {
			return typeError(L, dbg, p, pc, i, "concatenate")
		}
		if i == c-1 && !strnum(c) {
			return typeError(L, dbg, p, pc, c, "concatenate")
		}
	}
	return ""
}

// luaObjectName is Lua 5.1's getobjname: what register reg holds at pc
// ("local", "global", "field", "upvalue" or "method") and its name, or ""
// when nothing useful is known.
func luaObjectName(p *lua.FunctionProto, pc, reg int) (string, string) {
	for depth := 0; depth < 32; depth++ {
		if name, ok := luaLocalName(p, reg+1, pc); ok {
			return "local", name
		}
		in, ok := luaSymbolicExec(p, pc, reg)
		if !ok {
			return "", ""
		}
		switch opcode(in) {
		case lua.OP_GETGLOBAL:
			if s, ok := p.Constants[argBx(in)].(lua.LString); ok {
				return "global", string(s)
			}
			return "", ""
		case lua.OP_MOVE:
			if a, b := argA(in), argB(in); b < a {
				reg = b
				continue
			}
			return "", ""
		case lua.OP_GETTABLE, lua.OP_GETTABLEKS:
			return "field", constantName(p, argC(in))
		case lua.OP_GETUPVAL:
			if b := argB(in); b < len(p.DbgUpvalues) {
				return "upvalue", p.DbgUpvalues[b]
			}
			return "upvalue", "?"
		case lua.OP_SELF:
			return "method", constantName(p, argC(in))
		}
		return "", ""
	}
	return "", ""
}

func constantName(p *lua.FunctionProto, rk int) string {
	if rk&rkBit != 0 {
		if s, ok := p.Constants[rk&^rkBit].(lua.LString); ok {
			return string(s)
		}
	}
	return "?"
}

// luaLocalName is luaF_getlocalname: the name of the n-th active local
// variable at pc.
func luaLocalName(p *lua.FunctionProto, n, pc int) (string, bool) {
	for _, l := range p.DbgLocals {
		if l.StartPc > pc {
			break
		}
		if pc < l.EndPc {
			n--
			if n == 0 {
				return l.Name, true
			}
		}
	}
	return "", false
}

// luaSymbolicExec is Lua 5.1's symbexec reduced to what getobjname needs:
// the last instruction before lastpc that set register reg, following
// forward jumps that do not skip lastpc.
func luaSymbolicExec(p *lua.FunctionProto, lastpc, reg int) (uint32, bool) {
	last := -1
	for pc := 0; pc < lastpc && pc < len(p.Code); pc++ {
		in := p.Code[pc]
		op, a, b, c := opcode(in), argA(in), argB(in), argC(in)
		switch op {
		case lua.OP_MOVE, lua.OP_LOADK, lua.OP_LOADBOOL, lua.OP_GETUPVAL, lua.OP_GETGLOBAL,
			lua.OP_GETTABLE, lua.OP_GETTABLEKS, lua.OP_NEWTABLE, lua.OP_SELF,
			lua.OP_ADD, lua.OP_SUB, lua.OP_MUL, lua.OP_DIV, lua.OP_MOD, lua.OP_POW,
			lua.OP_UNM, lua.OP_NOT, lua.OP_LEN, lua.OP_CONCAT, lua.OP_TESTSET,
			lua.OP_FORLOOP, lua.OP_FORPREP, lua.OP_CLOSURE, lua.OP_VARARG:
			if a == reg {
				last = pc
			}
		}
		switch op {
		case lua.OP_MOVEN:
			// gopher-lua: R(A) := R(B), then C more MOVE instructions follow.
			if a == reg {
				last = pc
			}
		case lua.OP_LOADNIL:
			if a <= reg && reg <= b {
				last = pc
			}
		case lua.OP_SELF:
			if reg == a+1 {
				last = pc
			}
		case lua.OP_TFORLOOP:
			if reg >= a+2 {
				last = pc
			}
		case lua.OP_CALL, lua.OP_TAILCALL:
			if reg >= a {
				last = pc
			}
		case lua.OP_JMP, lua.OP_FORLOOP, lua.OP_FORPREP:
			dest := pc + 1 + argSBx(in)
			if pc < dest && dest <= lastpc {
				pc += argSBx(in)
			}
		case lua.OP_SETLIST:
			if c == 0 {
				pc++
			}
		case lua.OP_CLOSURE:
			// The upvalue pseudo-instructions that follow are not executed.
			if bx := argBx(in); bx < len(p.FunctionPrototypes) {
				pc += int(p.FunctionPrototypes[bx].NumUpvalues)
			}
		}
	}
	if last < 0 {
		return 0, false
	}
	return p.Code[last], true
}
