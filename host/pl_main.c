// SPDX-License-Identifier: MIT
/*
 * pciem-lua: run a PCIe device described in Lua, or list / attach to running
 * ones. Parses the command line, sets up signals and the Lua state, and hands
 * over to lua/pciem/host.lua.
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

#define MAX_FAULT_PLANS 32

struct options {
	const char *command;	/* "run", "list", "attach", "trace-summary" */
	const char *backend;
	const char *script;
	const char *target;	/* attach: NAME or PID */
	const char *eval;	/* attach -e CHUNK */
	const char *file;	/* trace-summary FILE */
	const char *trace;	/* --trace FILE */
	const char *faults[MAX_FAULT_PLANS];
	int nfaults;
	int dump;
	int check;
	int verbose;
	int interactive;
	int nargs;
	char **args;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pciem-lua [OPTIONS] SCRIPT.lua [ARGS...]\n"
		"       pciem-lua list\n"
		"       pciem-lua attach NAME|PID [-e LUA]\n"
		"       pciem-lua trace-summary FILE\n"
		"Run the PCIe device SCRIPT.lua describes until SIGINT or SIGTERM.\n"
		"ARGS reach the script as `...`. `list` shows the running devices,\n"
		"`attach` opens a REPL on one (-e: run one chunk and print the result).\n"
		"\n"
		"  -b, --backend=NAME  kernel (default): a real device through /dev/pciem\n"
		"                      sim: an in-process bus, no kernel needed\n"
		"  -i, --interactive   a REPL on the terminal while the device runs\n"
		"  --faults=PLAN.lua   load a fault plan once started (repeatable)\n"
		"  --trace=FILE        record every access, DMA and interrupt as JSON lines\n"
		"  -d, --dump          print a decoded config space dump once started\n"
		"  -c, --check         validate the description and exit (no backend)\n"
		"  -v, --verbose       Lua tracebacks and debug messages\n"
		"  -V, --version       print the versions and exit\n"
		"  -h, --help          print this help and exit\n"
		"\n"
		"Exit status: 0 ok, 1 script or description error, 2 usage error,\n"
		"3 backend unavailable or the kernel refused the device.\n"
		"See docs/cli.md, docs/repl.md and docs/lua-api.md.\n");
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

/* An option's value: "--name=value" or "--name value". NULL: none given. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (!strncmp(a, name, n) && a[n] == '=')
		return a + n + 1;
	if (*i + 1 == argc) {
		pl_log(PL_LOG_ERR, "%s needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

/* The words after a subcommand. Returns -1 to go on, else the exit code. */
static int parse_subcommand(int argc, char **argv, int i, struct options *o)
{
	const char *cmd = argv[i];
	int rest = argc - i - 1;

	o->command = cmd;
	if (!strcmp(cmd, "list")) {
		if (rest) {
			pl_log(PL_LOG_ERR, "list takes no arguments");
			return EXIT_USAGE;
		}
		return -1;
	}
	if (!strcmp(cmd, "trace-summary")) {
		if (rest != 1) {
			pl_log(PL_LOG_ERR, "usage: pciem-lua trace-summary FILE");
			return EXIT_USAGE;
		}
		o->file = argv[i + 1];
		return -1;
	}
	/* attach NAME|PID [-e LUA] */
	if (rest == 1 || (rest == 3 && (!strcmp(argv[i + 2], "-e") ||
					!strcmp(argv[i + 2], "--eval")))) {
		o->target = argv[i + 1];
		o->eval = rest == 3 ? argv[i + 3] : NULL;
		return -1;
	}
	pl_log(PL_LOG_ERR, "usage: pciem-lua attach NAME|PID [-e LUA]");
	return EXIT_USAGE;
}

static int is_subcommand(const char *a)
{
	return !strcmp(a, "list") || !strcmp(a, "attach") || !strcmp(a, "trace-summary");
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
	int i, forced = 0;

	o->backend = "kernel";
	o->command = "run";
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			forced = 1;
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
		} else if (!strcmp(a, "-i") || !strcmp(a, "--interactive")) {
			o->interactive = 1;
		} else if (!strncmp(a, "--faults", 8) && (!a[8] || a[8] == '=')) {
			const char *v = option_value(argc, argv, &i, "--faults");

			if (!v)
				return EXIT_USAGE;
			if (o->nfaults == MAX_FAULT_PLANS) {
				pl_log(PL_LOG_ERR, "at most %d --faults plans", MAX_FAULT_PLANS);
				return EXIT_USAGE;
			}
			o->faults[o->nfaults++] = v;
		} else if (!strncmp(a, "--trace", 7) && (!a[7] || a[7] == '=')) {
			o->trace = option_value(argc, argv, &i, "--trace");
			if (!o->trace)
				return EXIT_USAGE;
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
	if (!forced && is_subcommand(argv[i]))
		return parse_subcommand(argc, argv, i, o);
	o->script = argv[i];
	o->args = argv + i + 1;
	o->nargs = argc - i - 1;
	return -1;
}

/* require("pciem.host").main(opts) -> exit code[, message] */
/* opts[key] = value, for the table on top of the stack. */
static void set_string(lua_State *L, const char *key, const char *value)
{
	lua_pushstring(L, value);
	lua_setfield(L, -2, key);
}

static void set_bool(lua_State *L, const char *key, int value)
{
	lua_pushboolean(L, value);
	lua_setfield(L, -2, key);
}

static void set_list(lua_State *L, const char *key, const char *const *items, int n)
{
	int i;

	lua_createtable(L, n, 0);
	for (i = 0; i < n; i++) {
		lua_pushstring(L, items[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, key);
}

static int run_host(lua_State *L, const struct options *o)
{
	int code;

	lua_getglobal(L, "require");
	lua_pushstring(L, "pciem.host");
	if (pl_call(L, 1, 1))
		return EXIT_SCRIPT;
	lua_getfield(L, -1, "main");			/* stack: host, main */
	lua_remove(L, -2);				/* stack: main */
	lua_createtable(L, 0, 12);			/* stack: main, opts */
	set_string(L, "command", o->command);
	set_string(L, "script", o->script);
	set_string(L, "target", o->target);
	set_string(L, "eval", o->eval);
	set_string(L, "file", o->file);
	set_string(L, "trace", o->trace);
	set_string(L, "backend", o->backend);
	set_bool(L, "interactive", o->interactive);
	set_bool(L, "dump", o->dump);
	set_bool(L, "check", o->check);
	set_bool(L, "verbose", o->verbose);
	set_list(L, "faults", o->faults, o->nfaults);
	set_list(L, "args", (const char *const *)o->args, o->nargs);
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
