/* SPDX-License-Identifier: MIT */
/* The embedded LuaJIT state: creation, where lua/ lives, the one pcall wrapper. */
#ifndef PL_LUA_H
#define PL_LUA_H

#include <lua.h>

/* Full tracebacks in Lua error messages (-v). */
extern int pl_lua_traceback;

/* The lua/ directory: $PCIEM_LUA_PATH, <exe dir>/../lua, or the built-in default. */
const char *pl_lua_dir(void);
/* A new state with the standard libraries and package.path set to @lua_dir. */
lua_State *pl_lua_new(const char *lua_dir);
/*
 * pl_call - lua_pcall with a message handler: the function and its @nargs
 * arguments are on the stack. On error the message ("file:line: msg", plus a
 * traceback with -v) is logged and -1 returned, else 0.
 */
int pl_call(lua_State *L, int nargs, int nresults);

#endif /* PL_LUA_H */
