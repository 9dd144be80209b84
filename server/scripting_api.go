package server

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"log/slog"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The redis table scripts see: call, pcall, error_reply, status_reply,
// sha1hex, log, setresp, replicate_commands, set_repl, breakpoint, debug,
// acl_check_cmd and the LOG_*, REPL_* and version constants (Redis 7.0's
// script_lua.c and eval.c).

const (
	redisVersionNum = 0x07000f // REDIS_VERSION_NUM of 7.0.15

	errLuaCallOutside   = "redis.call/pcall can only be called inside a script invocation"
	errLuaNoArgs        = "Please specify at least one argument for this redis lib call"
	errLuaBadArgType    = "Lua redis lib command arguments must be strings or integers"
	errScriptUnknownCmd = "Unknown Redis command called from script"
	errScriptArity      = "Wrong number of args calling Redis command from script"
	errScriptNoScript   = "This Redis command is not allowed from script"
	errScriptROWrite    = "Write commands are not allowed from read-only scripts."
)

// Redis's log levels (LL_*) and replication flags (PROPAGATE_*).
var (
	luaLogLevels = []struct {
		name  string
		level slog.Level
	}{
		{"LOG_DEBUG", slog.LevelDebug}, {"LOG_VERBOSE", slog.LevelDebug},
		{"LOG_NOTICE", slog.LevelInfo}, {"LOG_WARNING", slog.LevelWarn},
	}
	luaReplFlags = []struct {
		name string
		flag int
	}{
		{"REPL_NONE", 0}, {"REPL_AOF", 1}, {"REPL_SLAVE", 2}, {"REPL_REPLICA", 2}, {"REPL_ALL", 3},
	}
)

// newRedisAPI builds the runtime redis table of a state.
func (ls *luaState) newRedisAPI() *lua.LTable {
	L := ls.L
	t := L.NewTable()
	set := func(name string, fn lua.LGFunction) { t.RawSetString(name, L.NewFunction(fn)) }
	set("call", ls.redisCall(true))
	set("pcall", ls.redisCall(false))
	set("error_reply", luaErrorReply)
	set("status_reply", luaStatusReply)
	set("sha1hex", luaSha1hex)
	set("setresp", ls.luaSetResp)
	set("set_repl", ls.luaSetRepl)
	set("replicate_commands", func(L *lua.LState) int {
		L.Push(lua.LTrue)
		return 1
	})
	set("breakpoint", func(L *lua.LState) int {
		L.Push(lua.LFalse) // no debugger session is ever active
		return 1
	})
	set("debug", func(L *lua.LState) int { return 0 })
	set("acl_check_cmd", ls.luaACLCheckCmd)
	ls.addLogAPI(t)
	addVersionAPI(t)
	for _, f := range luaReplFlags {
		t.RawSetString(f.name, lua.LNumber(f.flag))
	}
	return t
}

// addLogAPI adds redis.log and the LOG_* constants (shared with the API a
// function library sees while it loads).
func (ls *luaState) addLogAPI(t *lua.LTable) {
	t.RawSetString("log", ls.L.NewFunction(ls.luaLog))
	for i, l := range luaLogLevels {
		t.RawSetString(l.name, lua.LNumber(i))
	}
}

func addVersionAPI(t *lua.LTable) {
	t.RawSetString("REDIS_VERSION_NUM", lua.LNumber(redisVersionNum))
	t.RawSetString("REDIS_VERSION", lua.LString(RedisVersion))
}

// raiseLua raises the error table luaPushError builds from msg.
func raiseLua(L *lua.LState, msg string) {
	L.Error(luaErrorTable(L, msg), 0)
}

// redisCall is redis.call (raise) and redis.pcall.
func (ls *luaState) redisCall(raise bool) lua.LGFunction {
	return func(L *lua.LState) int {
		fail := func(t *lua.LTable) int {
			if raise {
				L.Error(t, 0)
			}
			L.Push(t)
			return 1
		}
		run := ls.run
		if run == nil {
			raiseLua(L, errLuaCallOutside)
		}
		argc := L.GetTop()
		if argc == 0 {
			return fail(luaErrorTable(L, errLuaNoArgs))
		}
		args := make([][]byte, argc)
		for i := range args {
			b, ok := luaArgString(L.Get(i + 1))
			if !ok {
				return fail(luaErrorTable(L, errLuaBadArgType))
			}
			args[i] = b
		}
		L.SetTop(0)
		if msg := ls.eng.checkScriptCommand(run, args); msg != "" {
			return fail(luaCommandErrorTable(L, msg))
		}
		sc := ls.client
		sc.w.Reset()
		ls.eng.srv.execute(sc, args)
		reply := sc.w.Bytes()
		v, _ := respToLua(L, reply)
		if raise && len(reply) > 0 && reply[0] == '-' {
			L.Error(v, 0)
		}
		L.Push(v)
		return 1
	}
}

// checkScriptCommand applies the checks Redis's scriptCall makes before a
// script runs a command, returning the refusal, and records writes (a
// script that wrote cannot be killed).
func (e *scripting) checkScriptCommand(run *scriptRun, args [][]byte) string {
	cmd := e.srv.table.lookup(args[0])
	if cmd != nil && cmd.Subcommands != nil && len(args) >= 2 {
		cmd = cmd.Subcommands[strings.ToLower(string(args[1]))]
	}
	switch {
	case cmd == nil:
		return errScriptUnknownCmd
	case !cmd.arityOK(len(args)):
		return errScriptArity
	case cmd.Flags&FlagNoScript != 0:
		return errScriptNoScript
	case run.readOnly && cmd.Flags&FlagWrite != 0:
		return errScriptROWrite
	}
	if cmd.Flags&FlagWrite != 0 {
		run.wrote.Store(true)
	}
	return ""
}

// luaErrorReply is redis.error_reply: "-CODE msg" or "msg" (code ERR).
func luaErrorReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(luaErrorTable(L, "wrong number or type of arguments"))
		return 1
	}
	msg := string(s)
	if !strings.HasPrefix(msg, "-") {
		msg = "-" + msg
	}
	L.Push(luaErrorTable(L, msg))
	return 1
}

// luaStatusReply is redis.status_reply.
func luaStatusReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(luaErrorTable(L, "wrong number or type of arguments"))
		return 1
	}
	t := L.CreateTable(0, 1)
	t.RawSetString("ok", s)
	L.Push(t)
	return 1
}

// luaSha1hex is redis.sha1hex; values that are neither strings nor numbers
// hash as the empty string, as lua_tolstring gives NULL for them.
func luaSha1hex(L *lua.LState) int {
	if L.GetTop() != 1 {
		raiseLua(L, "wrong number of arguments")
	}
	var s string
	switch v := L.Get(1).(type) {
	case lua.LString:
		s = string(v)
	case lua.LNumber:
		s = luaNumberToString(float64(v))
	}
	L.Push(lua.LString(sha1Hex(s)))
	return 1
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// luaLog is redis.log(level, message...).
func (ls *luaState) luaLog(L *lua.LState) int {
	argc := L.GetTop()
	if argc < 2 {
		raiseLua(L, "redis.log() requires two arguments or more.")
	}
	n, ok := luaLibToNumber(L.Get(1))
	if !ok {
		raiseLua(L, "First argument must be a number (log level).")
	}
	level := int(luaCInt32(n))
	if level < 0 || level >= len(luaLogLevels) {
		raiseLua(L, "Invalid debug level.")
	}
	var parts []string
	for i := 2; i <= argc; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			parts = append(parts, string(v))
		case lua.LNumber:
			parts = append(parts, luaNumberToString(float64(v)))
		}
	}
	ls.eng.srv.log.Log(context.Background(), luaLogLevels[level].level, strings.Join(parts, " "), "source", "script")
	return 0
}

// luaSetResp is redis.setresp(2|3): the protocol commands reply in to the
// script, and how the script's booleans convert.
func (ls *luaState) luaSetResp(L *lua.LState) int {
	if ls.run == nil {
		raiseLua(L, "redis.setresp can only be called inside a script invocation")
	}
	if L.GetTop() != 1 {
		raiseLua(L, "redis.setresp() requires one argument.")
	}
	n, _ := luaLibToNumber(L.Get(1))
	resp := int(luaCInt32(n))
	if resp != 2 && resp != 3 {
		raiseLua(L, "RESP version must be 2 or 3.")
	}
	ls.client.w.SetProto(resp)
	return 0
}

// luaSetRepl is redis.set_repl: kvd does not replicate, so it only
// validates its argument.
func (ls *luaState) luaSetRepl(L *lua.LState) int {
	if ls.run == nil {
		raiseLua(L, "redis.set_repl can only be called inside a script invocation")
	}
	if L.GetTop() != 1 {
		raiseLua(L, "redis.set_repl() requires two arguments.")
	}
	n, _ := luaLibToNumber(L.Get(1))
	if flags := luaCInt32(n); flags&^3 != 0 {
		raiseLua(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
	}
	return 0
}

// luaACLCheckCmd is redis.acl_check_cmd: kvd's only user may run every
// command, so any existing command is allowed.
func (ls *luaState) luaACLCheckCmd(L *lua.LState) int {
	if ls.run == nil {
		raiseLua(L, "redis.acl_check_cmd can only be called inside a script invocation")
	}
	argc := L.GetTop()
	if argc == 0 {
		raiseLua(L, errLuaNoArgs)
	}
	args := make([][]byte, argc)
	for i := range args {
		b, ok := luaArgString(L.Get(i + 1))
		if !ok {
			raiseLua(L, errLuaBadArgType)
		}
		args[i] = b
	}
	cmd := ls.eng.srv.table.lookup(args[0])
	if cmd != nil && cmd.Subcommands != nil && len(args) >= 2 {
		cmd = cmd.Subcommands[strings.ToLower(string(args[1]))]
	}
	if cmd == nil {
		raiseLua(L, "Invalid command passed to redis.acl_check_cmd()")
	}
	L.Push(lua.LTrue)
	return 1
}
