package integration

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Function libraries survive restarts of kvd, as Redis keeps them in its
// RDB/AOF: every change of the set (FUNCTION LOAD, DELETE, FLUSH) is there
// after a restart, and FLUSHALL keeps them.

const persistLib = "#!lua name=persisted\n" +
	"redis.register_function('p_set', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n" +
	"redis.register_function{function_name='p_echo', callback=function(keys, args) return 'echo ' .. args[1] end, flags={'no-writes'}, description='echoes'}"

// loadPersistLib loads persistLib and checks that it works before any
// restart.
func loadPersistLib(t *testing.T, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	if name, err := c.FunctionLoad(ctx, persistLib).Result(); err != nil || name != "persisted" {
		t.Fatalf("FUNCTION LOAD: %q, %v", name, err)
	}
	if v, err := c.FCall(ctx, "p_echo", nil, "x").Result(); err != nil || v != "echo x" {
		t.Fatalf("FCALL before restart: %v, %v", v, err)
	}
}

// wantFunctionLibs checks FUNCTION LIST WITHCODE: exactly the libraries
// named, persistLib's with its code and functions.
func wantFunctionLibs(t *testing.T, c *redis.Client, names ...string) {
	t.Helper()
	libs, err := c.FunctionList(context.Background(), redis.FunctionListQuery{WithCode: true}).Result()
	if err != nil {
		t.Fatalf("FUNCTION LIST: %v", err)
	}
	if len(libs) != len(names) {
		t.Fatalf("FUNCTION LIST = %+v, want libraries %q", libs, names)
	}
	for i, lib := range libs {
		if lib.Name != names[i] {
			t.Fatalf("FUNCTION LIST = %+v, want libraries %q", libs, names)
		}
		if lib.Name == "persisted" && (lib.Code != persistLib || len(lib.Functions) != 2 ||
			lib.Functions[0].Name != "p_echo" || lib.Functions[0].Description != "echoes" ||
			len(lib.Functions[0].Flags) != 1 || lib.Functions[0].Flags[0] != "no-writes") {
			t.Fatalf("FUNCTION LIST: library persisted = %+v", lib)
		}
	}
}

func TestFunctionPersistLoadSurvivesRestart(t *testing.T) {
	t.Parallel()
	k := startKVD(t)
	loadPersistLib(t, newClient(t, k.Addr, 2))
	k.Restart(t)

	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		c := newClient(t, k.Addr, proto)
		wantFunctionLibs(t, c, "persisted")
		if v, err := c.FCall(ctx, "p_echo", nil, "after").Result(); err != nil || v != "echo after" {
			t.Fatalf("proto %d: FCALL p_echo after restart: %v, %v", proto, v, err)
		}
		if err := c.FCall(ctx, "p_set", []string{"k"}, "v").Err(); err != nil {
			t.Fatalf("proto %d: FCALL p_set after restart: %v", proto, err)
		}
		if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
			t.Fatalf("proto %d: GET after FCALL p_set: %q, %v", proto, v, err)
		}
	}
}

// A crash (kill -9) right after the acknowledgement keeps the library too.
func TestFunctionPersistLoadSurvivesKill(t *testing.T) {
	t.Parallel()
	k := startKVD(t, "--appendfsync", "always")
	loadPersistLib(t, newClient(t, k.Addr, 2))
	k.Kill()
	k.Restart(t)
	c := newClient(t, k.Addr, 2)
	wantFunctionLibs(t, c, "persisted")
	if v, err := c.FCall(context.Background(), "p_echo", nil, "x").Result(); err != nil || v != "echo x" {
		t.Fatalf("FCALL after kill -9 and restart: %v, %v", v, err)
	}
}

func TestFunctionPersistDeleteSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := startKVD(t)
	c := newClient(t, k.Addr, 2)
	loadPersistLib(t, c)
	other := "#!lua name=other\nredis.register_function('o_f', function() return 'other' end)"
	if err := c.FunctionLoad(ctx, other).Err(); err != nil {
		t.Fatalf("FUNCTION LOAD other: %v", err)
	}
	k.Restart(t)
	c = newClient(t, k.Addr, 2)
	wantFunctionLibs(t, c, "other", "persisted")
	if err := c.FunctionDelete(ctx, "persisted").Err(); err != nil {
		t.Fatalf("FUNCTION DELETE: %v", err)
	}
	k.Restart(t)
	c = newClient(t, k.Addr, 2)
	wantFunctionLibs(t, c, "other")
	if err := c.FCall(ctx, "p_echo", nil, "x").Err(); err == nil || err.Error() != "ERR Function not found" {
		t.Fatalf("FCALL of a deleted function after restart: %v", err)
	}
	if v, err := c.FCall(ctx, "o_f", nil).Result(); err != nil || v != "other" {
		t.Fatalf("FCALL o_f after restart: %v, %v", v, err)
	}
}

func TestFunctionPersistFlushSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := startKVD(t)
	c := newClient(t, k.Addr, 2)
	loadPersistLib(t, c)
	k.Restart(t)
	c = newClient(t, k.Addr, 2)
	wantFunctionLibs(t, c, "persisted")
	if err := c.FunctionFlush(ctx).Err(); err != nil {
		t.Fatalf("FUNCTION FLUSH: %v", err)
	}
	k.Restart(t)
	c = newClient(t, k.Addr, 2)
	wantFunctionLibs(t, c)
	if err := c.FCall(ctx, "p_echo", nil, "x").Err(); err == nil || err.Error() != "ERR Function not found" {
		t.Fatalf("FCALL after FUNCTION FLUSH and restart: %v", err)
	}
}

// FLUSHALL empties the databases and keeps the functions, as in Redis,
// and the saved libraries are no key of any database.
func TestFunctionPersistFlushAllKeepsFunctions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := startKVD(t)
	c := newClient(t, k.Addr, 2)
	loadPersistLib(t, c)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	wantFunctionLibs(t, c, "persisted")
	k.Restart(t)
	c = newClient(t, k.Addr, 2)
	wantFunctionLibs(t, c, "persisted")
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("DBSIZE after FLUSHALL and restart: %d, %v", n, err)
	}
	if keys, err := c.Keys(ctx, "*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("KEYS * after restart: %q, %v", keys, err)
	}
	if v, err := c.FCall(ctx, "p_echo", nil, "x").Result(); err != nil || v != "echo x" {
		t.Fatalf("FCALL after FLUSHALL and restart: %v, %v", v, err)
	}
}
