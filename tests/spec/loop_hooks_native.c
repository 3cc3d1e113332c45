// SPDX-License-Identifier: MIT
/*
 * Native library for tests/spec/loop_hooks_spec.lua: a handler that serves
 * even values and defers odd ones to its Lua fallback, an idle hook that
 * counts, a data symbol the script reads through lib:symbol(), and a
 * scatter-gather DMA through nd->dma_sg.
 */
#include <string.h>

#include "pciem_native.h"

struct hooks_state {
	uint64_t served;
	uint64_t deferred;
	uint64_t idles;
	uint64_t last;
};

struct hooks_state hooks_state;

int pciem_native_init(struct pciem_native *nd, const char *args)
{
	(void)args;
	nd->priv = &hooks_state;
	hooks_state = (struct hooks_state){ 0 };
	return 0;
}

int even_write(struct pciem_native *nd, const struct pciem_event *ev, uint64_t *answer)
{
	struct hooks_state *s = nd->priv;

	(void)answer;
	if (ev->value & 1) {
		s->deferred++;
		return PCIEM_NATIVE_DEFER;
	}
	s->served++;
	s->last = ev->value;
	return 0;
}

int even_read(struct pciem_native *nd, const struct pciem_event *ev, uint64_t *answer)
{
	struct hooks_state *s = nd->priv;

	if (ev->offset & 4)
		return PCIEM_NATIVE_DEFER;
	*answer = s->served;
	return 0;
}

void pciem_native_idle(struct pciem_native *nd)
{
	struct hooks_state *s = nd->priv;

	s->idles++;
}

/*
 * A write of bus address A: read 8 bytes at A and 8 at A + 0x100 in one
 * scatter-gather call, write them back swapped in another.
 */
int swap_write(struct pciem_native *nd, const struct pciem_event *ev, uint64_t *answer)
{
	uint8_t lo[8], hi[8];
	struct pciem_dma_seg seg[2] = {
		{ .bus_addr = ev->value, .user_addr = (uintptr_t)lo, .length = 8 },
		{ .bus_addr = ev->value + 0x100, .user_addr = (uintptr_t)hi, .length = 8 },
	};
	int rc;

	(void)answer;
	rc = nd->dma_sg(nd, PCIEM_DMA_FROM_HOST, seg, 2);
	if (rc)
		return rc;
	seg[0].user_addr = (uintptr_t)hi;
	seg[1].user_addr = (uintptr_t)lo;
	return nd->dma_sg(nd, PCIEM_DMA_TO_HOST, seg, 2);
}
