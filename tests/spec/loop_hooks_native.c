// SPDX-License-Identifier: MIT
/*
 * Native library for tests/spec/loop_hooks_spec.lua: a handler that serves
 * even values and defers odd ones to its Lua fallback, an idle hook that
 * counts, and a data symbol the script reads through lib:symbol().
 */
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
