// SPDX-License-Identifier: MIT
/*
 * Example native handler library (host/pciem_native.h): a free-running
 * counter register served in C, so reading it never enters Lua.
 *   BAR0 + 0x0  COUNT  read: the count, then count += STEP
 *   BAR0 + 0x4  STEP   write: the increment (also kept in the shadow)
 * Build: make examples (-> build/examples/native_counter.so); see
 * examples/native_counter.lua.
 */
#include <errno.h>
#include <stdlib.h>

#include "pciem_native.h"

struct counter {
	uint64_t count;
	uint32_t step;
};

int pciem_native_init(struct pciem_native *nd, const char *args)
{
	struct counter *c;

	if (nd->abi != PCIEM_NATIVE_ABI)
		return -EPROTO;
	if (!nd->bar[0] || nd->bar_len[0] < 8)
		return -ENODEV;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* args: the first value of COUNT, decimal or 0x-hex */
	c->count = args && *args ? strtoull(args, NULL, 0) : 0;
	c->step = 1;
	nd->priv = c;
	return 0;
}

void pciem_native_exit(struct pciem_native *nd)
{
	free(nd->priv);
	nd->priv = NULL;
}

int counter_read(struct pciem_native *nd, const struct pciem_event *ev, uint64_t *answer)
{
	struct counter *c = nd->priv;

	(void)ev;
	*answer = c->count;
	c->count += c->step;
	return 0;
}

int step_write(struct pciem_native *nd, const struct pciem_event *ev, uint64_t *answer)
{
	struct counter *c = nd->priv;

	(void)answer;
	if (ev->width != 4)
		return -EINVAL;
	c->step = (uint32_t)ev->value;
	return 0;
}
