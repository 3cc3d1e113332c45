// SPDX-License-Identifier: MIT
/*
 * LuaJIT embedding: one state per process, package.path pointing at the
 * project's lua/ directory, and pl_call(), the only way C calls into Lua.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "pl_log.h"
#include "pl_lua.h"

#ifndef PL_LUA_DEFAULT_DIR
#define PL_LUA_DEFAULT_DIR "/usr/local/share/pciem-lua/lua"
#endif

int pl_lua_traceback;

static int has_library(const char *dir)
{
	char probe[PATH_MAX + 32];

	snprintf(probe, sizeof(probe), "%s/pciem/init.lua", dir);
	return access(probe, R_OK) == 0;
}

const char *pl_lua_dir(void)
{
	static char dir[PATH_MAX + 16];
	const char *env = getenv("PCIEM_LUA_PATH");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	/* <dir of the executable>/../lua: build/ in the repo, /pciem/bin in the guest */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(dir, sizeof(dir), "%s/../lua", exe);
			if (has_library(dir))
				return dir;
		}
	}
	return PL_LUA_DEFAULT_DIR;
}

lua_State *pl_lua_new(const char *lua_dir)
{
	lua_State *L = luaL_newstate();

	if (!L)
		return NULL;
	luaL_openlibs(L);
	lua_getglobal(L, "package");				/* stack: package */
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", lua_dir, lua_dir);
	lua_getfield(L, -2, "path");				/* stack: package, ours, old */
	lua_concat(L, 2);					/* stack: package, path */
	lua_setfield(L, -2, "path");				/* stack: package */
	lua_pop(L, 1);
	return L;
}

/* Message handler: make any error value a string, add a traceback with -v. */
static int on_error(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_isstring(L, -1))
			msg = lua_tostring(L, -1);
		else
			msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	if (pl_lua_traceback)
		luaL_traceback(L, L, msg, 1);
	else
		lua_pushstring(L, msg);
	return 1;
}

int pl_call(lua_State *L, int nargs, int nresults)
{
	int base = lua_gettop(L) - nargs;	/* index of the function */
	int rc;

	lua_pushcfunction(L, on_error);		/* stack: fn, args, handler */
	lua_insert(L, base);			/* stack: handler, fn, args */
	rc = lua_pcall(L, nargs, nresults, base);
	lua_remove(L, base);			/* stack: results or message */
	if (rc) {
		pl_log(PL_LOG_ERR, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return -1;
	}
	return 0;
}
