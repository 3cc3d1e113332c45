// SPDX-License-Identifier: MIT
/*
 * pciem-lua: run a PCIe device described in Lua. Parses the command line,
 * sets up signals and the Lua state, and hands over to lua/pciem/host.lua.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <luajit.h>

#include "pl_backend.h"
#include "pl_log.h"
#include "pl_lua.h"
#include "pl_signal.h"

#ifndef PL_VERSION
#define PL_VERSION "0.0.0"
#endif

/* Exit codes (docs/cli.md). */
enum {
	EXIT_OK = 0,
	EXIT_SCRIPT = 1,	/* Lua error or invalid description */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_BACKEND = 3,	/* backend unavailable, or the kernel refused the device */
};

struct options {
	const char *backend;
	const char *script;
	int dump;
	int check;
	int verbose;
	int nargs;
	char **args;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pciem-lua [OPTIONS] SCRIPT.lua [ARGS...]\n"
		"Run the PCIe device SCRIPT.lua describes until SIGINT or SIGTERM.\n"
		"ARGS reach the script as `...`.\n"
		"\n"
		"  -b, --backend=NAME  kernel (default): a real device through /dev/pciem\n"
		"                      sim: an in-process bus, no kernel needed\n"
		"  -d, --dump          print a decoded config space dump once started\n"
		"  -c, --check         validate the description and exit (no backend)\n"
		"  -v, --verbose       Lua tracebacks and debug messages\n"
		"  -V, --version       print the versions and exit\n"
		"  -h, --help          print this help and exit\n"
		"\n"
		"Exit status: 0 ok, 1 script or description error, 2 usage error,\n"
		"3 backend unavailable or the kernel refused the device.\n"
		"See docs/cli.md and docs/lua-api.md.\n");
}

static int print_version(void)
{
	uint32_t abi;
	int rc;

	printf("pciem-lua %s\n", PL_VERSION);
	printf("%s\n", LUAJIT_VERSION);
	printf("uapi ABI %d\n", PCIEM_UAPI_VERSION);
	rc = pl_kernel_abi_version(&abi);
	if (!rc)
		printf("pciem.ko ABI %u\n", abi);
	else if (rc == -ENOENT)
		printf("pciem.ko not loaded\n");
	else
		printf("pciem.ko: %s\n", strerror(-rc));
	return EXIT_OK;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
	int i;

	o->backend = "kernel";
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			return print_version();
		} else if (!strcmp(a, "-d") || !strcmp(a, "--dump")) {
			o->dump = 1;
		} else if (!strcmp(a, "-c") || !strcmp(a, "--check")) {
			o->check = 1;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o->verbose = 1;
		} else if (!strncmp(a, "--backend=", 10)) {
			o->backend = a + 10;
		} else if (!strcmp(a, "-b") || !strcmp(a, "--backend")) {
			if (++i == argc) {
				pl_log(PL_LOG_ERR, "%s needs a value: kernel or sim", a);
				return EXIT_USAGE;
			}
			o->backend = argv[i];
		} else {
			pl_log(PL_LOG_ERR, "unknown option '%s' (try --help)", a);
			return EXIT_USAGE;
		}
	}
	if (strcmp(o->backend, "kernel") && strcmp(o->backend, "sim")) {
		pl_log(PL_LOG_ERR, "unknown backend '%s': use kernel or sim", o->backend);
		return EXIT_USAGE;
	}
	if (i == argc) {
		pl_log(PL_LOG_ERR, "no script given");
		usage(stderr);
		return EXIT_USAGE;
	}
	o->script = argv[i];
	o->args = argv + i + 1;
	o->nargs = argc - i - 1;
	return -1;
}

/* require("pciem.host").main(opts) -> exit code[, message] */
static int run_host(lua_State *L, const struct options *o)
{
	int i, code;

	lua_getglobal(L, "require");
	lua_pushstring(L, "pciem.host");
	if (pl_call(L, 1, 1))
		return EXIT_SCRIPT;
	lua_getfield(L, -1, "main");			/* stack: host, main */
	lua_remove(L, -2);				/* stack: main */
	lua_createtable(L, 0, 6);			/* stack: main, opts */
	lua_pushstring(L, o->script);
	lua_setfield(L, -2, "script");
	lua_pushstring(L, o->backend);
	lua_setfield(L, -2, "backend");
	lua_pushboolean(L, o->dump);
	lua_setfield(L, -2, "dump");
	lua_pushboolean(L, o->check);
	lua_setfield(L, -2, "check");
	lua_pushboolean(L, o->verbose);
	lua_setfield(L, -2, "verbose");
	lua_createtable(L, o->nargs, 0);		/* stack: main, opts, args */
	for (i = 0; i < o->nargs; i++) {
		lua_pushstring(L, o->args[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "args");			/* stack: main, opts */
	if (pl_call(L, 1, 2))
		return EXIT_SCRIPT;
	code = lua_isnumber(L, -2) ? (int)lua_tointeger(L, -2) : EXIT_SCRIPT;
	if (lua_isstring(L, -1))
		pl_log(PL_LOG_ERR, "%s", lua_tostring(L, -1));
	lua_pop(L, 2);
	return code;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	lua_State *L;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (o.verbose) {
		pl_log_level = PL_LOG_DEBUG;
		pl_lua_traceback = 1;
	}
	rc = pl_signal_setup();
	if (rc) {
		pl_log(PL_LOG_ERR, "cannot set up signal handling: %s", strerror(-rc));
		return EXIT_BACKEND;
	}
	L = pl_lua_new(pl_lua_dir());
	if (!L) {
		pl_log(PL_LOG_ERR, "cannot create the Lua state: out of memory");
		return EXIT_SCRIPT;
	}
	pl_log(PL_LOG_DEBUG, "lua library in %s", pl_lua_dir());
	rc = run_host(L, &o);
	/* closing the state runs the finalizers that free devices left open */
	lua_close(L);
	return rc;
}
