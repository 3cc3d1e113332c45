// SPDX-License-Identifier: MIT
/*
 * Native handler library of the bench device (tests/bench/bench.lua): the sync
 * register SYNC_NATIVE answered in C, to compare with the same read in Lua.
 */
#include <errno.h>

#include "pciem_native.h"

int pciem_native_init(struct pciem_native *nd, const char *args)
{
	(void)args;
	if (nd->abi != PCIEM_NATIVE_ABI)
		return -EPROTO;
	return 0;
}

/* A constant the driver can tell from a completion timeout's all-ones. */
int bench_sync_read(struct pciem_native *nd, const struct pciem_event *ev, uint64_t *answer)
{
	(void)nd;
	(void)ev;
	*answer = 0x4e415456;	/* "NATV" */
	return 0;
}
