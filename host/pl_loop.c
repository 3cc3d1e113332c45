// SPDX-License-Identifier: MIT
/*
 * The host's event loop: takes events from the device's ring in order, serves
 * native handlers and unhandled accesses in C, hands the rest to Lua in a
 * reusable batch (pull, not callbacks), and answers sync accesses.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "pciem_ffi.h"
#include "pl_loop.h"
#include "pl_signal.h"

struct pl_dev *pl_loop_dev(struct pl_loop *lp)
{
	return lp->dev;
}

void pl_loop_add_native(struct pl_loop *lp, struct pl_native *lib)
{
	lib->next = lp->natives;
	lp->natives = lib;
}

/* The ring's control page comes from the module: trust nothing in it. */
static int check_ring(struct pl_loop *lp, uint64_t len)
{
	const struct pciem_ring_ctrl *c = lp->ctrl;
	uint64_t ev_end = (uint64_t)c->events_offset + (uint64_t)c->entries * sizeof(struct pciem_event);
	uint64_t ans_end = (uint64_t)c->answers_offset +
			   (uint64_t)c->answer_slots * sizeof(struct pciem_answer);

	if (!c->entries || (c->entries & (c->entries - 1)) ||
	    c->event_size != sizeof(struct pciem_event) || ev_end > len || ans_end > len ||
	    !c->answer_slots || c->events_offset % 8 || c->answers_offset % 8)
		return pl_dev_error(lp->dev, -EPROTO,
				    "event ring: inconsistent layout (entries %u, event_size %u, "
				    "answers at %u x %u, events at %u, map_size %llu)",
				    c->entries, c->event_size, c->answers_offset, c->answer_slots,
				    c->events_offset, (unsigned long long)len);
	lp->answers = (struct pciem_answer *)((uint8_t *)lp->ring + c->answers_offset);
	lp->events = (struct pciem_event *)((uint8_t *)lp->ring + c->events_offset);
	lp->mask = c->entries - 1;
	lp->nslots = c->answer_slots;
	return 0;
}

static struct pl_loop *loop_alloc(struct pl_dev *dev)
{
	struct pl_loop *lp = calloc(1, sizeof(*lp));
	int i;

	if (!lp) {
		pl_dev_error(dev, -ENOMEM, "event loop: out of memory");
		return NULL;
	}
	lp->dev = dev;
	lp->efd = -1;
	for (i = 0; i < PL_LOOP_MAX_FDS; i++)
		lp->fds[i] = -1;
	lp->spin_max_ns = DEFAULT_SPIN_NS;
	lp->stats.spin_ns = DEFAULT_SPIN_NS;
	return lp;
}

int pciem_ffi_loop_new(struct pl_dev *dev, struct pl_loop **out)
{
	struct pl_loop *lp;
	uint64_t len;
	void *ring;
	int rc;

	*out = NULL;
	if (dev->state < PL_DEV_CREATED)
		return pl_dev_error(dev, -EINVAL, "event loop: device not created yet");
	if (!dev->ops->ring_map || !dev->ops->set_eventfd)
		return pl_dev_error(dev, -EOPNOTSUPP, "event loop: the %s backend has no event ring",
				    dev->ops->name);
	if (dev->ring_ptr)
		return pl_dev_error(dev, -EBUSY, "event loop: the device already has one");
	lp = loop_alloc(dev);
	if (!lp)
		return -ENOMEM;
	rc = dev->ops->ring_map(dev, &ring, &len);
	if (rc)
		goto err_free;
	lp->ring = ring;
	lp->ring_len = len;
	lp->ctrl = ring;
	dev->ring_ptr = ring;
	dev->ring_len = len;
	rc = check_ring(lp, len);
	if (rc)
		goto err_unmap;
	lp->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (lp->efd < 0) {
		rc = pl_dev_error(dev, -errno, "event loop: eventfd: %s", strerror(errno));
		goto err_unmap;
	}
	rc = dev->ops->set_eventfd(dev, lp->efd);
	if (rc)
		goto err_close;
	*out = lp;
	return 0;

err_close:
	close(lp->efd);
err_unmap:
	dev->ops->ring_unmap(dev, ring, len);
	dev->ring_ptr = NULL;
	dev->ring_len = 0;
err_free:
	free(lp);
	return rc;
}

int pciem_ffi_loop_new_private(struct pl_dev *dev, uint32_t entries, struct pl_loop **out)
{
	struct pciem_ring_ctrl *c;
	struct pl_loop *lp;
	uint64_t len;

	*out = NULL;
	if (entries < 64 || entries > 65536 || (entries & (entries - 1)))
		return pl_dev_error(dev, -EINVAL, "private ring: %u entries is not a power of two "
				    "in 64..65536", entries);
	lp = loop_alloc(dev);
	if (!lp)
		return -ENOMEM;
	len = 4096 + (uint64_t)entries * sizeof(struct pciem_event);
	lp->ring = aligned_alloc(4096, len);
	lp->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!lp->ring || lp->efd < 0) {
		if (lp->efd >= 0)
			close(lp->efd);
		free(lp->ring);
		free(lp);
		return pl_dev_error(dev, -ENOMEM, "private ring: out of memory or eventfds");
	}
	memset(lp->ring, 0, len);
	c = lp->ctrl = lp->ring;
	c->entries = entries;
	c->event_size = sizeof(struct pciem_event);
	c->answers_offset = 256;
	c->answer_slots = PRIVATE_SLOTS;
	c->events_offset = 4096;
	c->map_size = (uint32_t)len;
	lp->ring_len = len;
	lp->private_ring = true;
	check_ring(lp, len);
	*out = lp;
	return 0;
}

void pciem_ffi_loop_free(struct pl_loop *lp)
{
	struct pl_dev *dev;
	int i;

	if (!lp)
		return;
	dev = lp->dev;
	pl_native_unload_all(lp->natives);
	if (lp->private_ring) {
		free(lp->ring);
	} else {
		dev->ops->set_eventfd(dev, -1);
		dev->ops->ring_unmap(dev, lp->ring, lp->ring_len);
		dev->ring_ptr = NULL;
		dev->ring_len = 0;
	}
	if (lp->efd >= 0)
		close(lp->efd);
	for (i = 0; i < LOOP_TABLES; i++) {
		free(lp->table[i][0].r);
		free(lp->table[i][1].r);
	}
	free(lp);
}

/* ---- handler table ---- */

/* Index of the first range whose end is above @off (binary search). */
static uint32_t table_lower(const struct pl_table *t, uint64_t off)
{
	uint32_t lo = 0, hi = t->n;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (t->r[mid].end <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct pl_range *table_find(const struct pl_table *t, uint64_t off)
{
	uint32_t i;

	if (!t->n)
		return NULL;
	i = table_lower(t, off);
	if (i < t->n && t->r[i].start <= off)
		return &t->r[i];
	return NULL;
}

static uint64_t space_len(const struct pl_loop *lp, uint32_t bar)
{
	return bar == PL_LOOP_CFG_BAR ? PCIEM_CFG_SIZE : lp->dev->bar_len[bar];
}

int pciem_ffi_loop_on(struct pl_loop *lp, uint32_t bar, uint32_t access, uint64_t start,
		      uint64_t end, uint32_t lua_id, struct pl_native *lib, void *fn)
{
	struct pl_dev *dev = lp->dev;
	struct pl_table *t;
	struct pl_range *r;
	uint32_t i;

	if (bar >= LOOP_TABLES || (bar < PCIEM_NUM_BARS && !dev->bar_len[bar]))
		return pl_dev_error(dev, -EINVAL, "handler: BAR %u is not described", bar);
	if (access > PL_ON_WRITE || (bar == PL_LOOP_CFG_BAR && access != PL_ON_WRITE))
		return pl_dev_error(dev, -EINVAL, "handler: access %u is not read or write", access);
	if (start >= end || end > space_len(lp, bar))
		return pl_dev_error(dev, -EINVAL, "handler: range 0x%llx..0x%llx is empty or outside "
				    "the BAR (0x%llx bytes)", (unsigned long long)start,
				    (unsigned long long)end, (unsigned long long)space_len(lp, bar));
	if (fn && !lib)
		return pl_dev_error(dev, -EINVAL, "handler: a native handler needs its library");
	t = &lp->table[bar][access];
	i = table_lower(t, start);
	if (i < t->n && t->r[i].start == start && t->r[i].end == end) {
		if (!lua_id && !fn) {
			memmove(&t->r[i], &t->r[i + 1], (t->n - i - 1) * sizeof(*r));
			t->n--;
			return 0;
		}
		r = &t->r[i];
		goto fill;
	}
	if (!lua_id && !fn)
		return pl_dev_error(dev, -ENOENT, "handler: no handler on exactly 0x%llx..0x%llx",
				    (unsigned long long)start, (unsigned long long)end);
	if (i < t->n && t->r[i].start < end)
		return pl_dev_error(dev, -EEXIST, "handler: 0x%llx..0x%llx overlaps the handler on "
				    "0x%llx..0x%llx", (unsigned long long)start,
				    (unsigned long long)end, (unsigned long long)t->r[i].start,
				    (unsigned long long)t->r[i].end);
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 8;
		struct pl_range *nr = realloc(t->r, cap * sizeof(*nr));

		if (!nr)
			return pl_dev_error(dev, -ENOMEM, "handler: out of memory");
		t->r = nr;
		t->cap = cap;
	}
	memmove(&t->r[i + 1], &t->r[i], (t->n - i) * sizeof(*r));
	t->n++;
	r = &t->r[i];
	r->start = start;
	r->end = end;
fill:
	r->lua_id = lua_id;
	r->fn = (pciem_native_handler_fn *)fn;
	r->nd = fn ? &lib->ctx : NULL;
	return 0;
}

/* ---- dispatch ---- */

/* What a plain memory read of the shadow returns (all-ones outside it). */
static uint64_t shadow_value(const struct pl_loop *lp, const struct pciem_event *ev)
{
	const uint8_t *p;
	uint64_t v = 0;

	if (ev->bar >= PCIEM_NUM_BARS || !lp->dev->bar_ptr[ev->bar] || ev->width > 8 ||
	    (uint64_t)ev->offset + ev->width > lp->dev->bar_len[ev->bar])
		return ~0ull;
	p = (const uint8_t *)lp->dev->bar_ptr[ev->bar] + ev->offset;
	switch (ev->width) {
	case 1: v = *(const volatile uint8_t *)p; break;
	case 2: v = *(const volatile uint16_t *)p; break;
	case 4: v = *(const volatile uint32_t *)p; break;
	case 8: v = *(const volatile uint64_t *)p; break;
	default: memcpy(&v, p, ev->width);
	}
	return v;
}

static bool wants_answer(const struct pciem_event *ev)
{
	return ev->kind == PCIEM_EVENT_MMIO_READ || (ev->flags & PCIEM_EVENT_F_SYNC);
}

static void answer(struct pl_loop *lp, const struct pciem_event *ev, uint64_t value)
{
	struct pciem_answer *a;

	if (ev->answer >= lp->nslots)
		return;
	a = &lp->answers[ev->answer];
	__atomic_store_n(&a->value, value, __ATOMIC_RELAXED);
	__atomic_store_n(&a->seq, ev->seq, __ATOMIC_RELEASE);
	lp->stats.answers++;
}

static const struct pl_range *resolve(const struct pl_loop *lp, const struct pciem_event *ev)
{
	uint32_t bar = ev->kind == PCIEM_EVENT_CFG_WRITE ? PL_LOOP_CFG_BAR : ev->bar;
	uint32_t access = ev->kind == PCIEM_EVENT_MMIO_READ ? PL_ON_READ : PL_ON_WRITE;

	if (bar >= LOOP_TABLES)
		return NULL;
	return table_find(&lp->table[bar][access], ev->offset);
}

/*
 * The C side of an event: its native handler, or the default (the shadow's
 * value for a read, nothing for a write). *value starts as the shadow as it
 * is now (an earlier handler of the batch may have changed it). Returns 0,
 * PCIEM_NATIVE_DEFER or -errno (then *value is all-ones).
 */
static int serve_c(struct pl_loop *lp, const struct pciem_event *ev, const struct pl_range *r,
		   uint64_t *value)
{
	int rc;

	*value = ev->kind == PCIEM_EVENT_MMIO_READ ? shadow_value(lp, ev) : 0;
	if (!r || !r->fn) {
		lp->stats.default_events++;
		return 0;
	}
	lp->stats.native_events++;
	rc = r->fn(r->nd, ev, value);
	if (rc < 0) {
		lp->stats.native_errors++;
		*value = ~0ull;
	}
	return rc;
}

static void answer_masked(struct pl_loop *lp, const struct pciem_event *ev, uint64_t value)
{
	if (!wants_answer(ev))
		return;
	if (ev->width < 8)
		value &= (1ull << (ev->width * 8)) - 1;
	answer(lp, ev, value);
}

int pciem_ffi_loop_serve(struct pl_loop *lp, uint32_t i)
{
	struct pl_lua_event *b;

	if (i >= lp->pending)
		return pl_dev_error(lp->dev, -EINVAL, "serve: batch entry %u of %u", i, lp->pending);
	b = &lp->batch[i];
	return serve_c(lp, &b->ev, resolve(lp, &b->ev), &b->answer);
}

void pciem_ffi_loop_reshadow(struct pl_loop *lp, uint32_t i)
{
	if (i < lp->pending && lp->batch[i].ev.kind == PCIEM_EVENT_MMIO_READ)
		lp->batch[i].answer = shadow_value(lp, &lp->batch[i].ev);
}

void pciem_ffi_loop_done(struct pl_loop *lp, uint32_t n)
{
	uint32_t i;

	if (n > lp->pending)
		n = lp->pending;
	for (i = 0; i < n; i++)
		answer_masked(lp, &lp->batch[i].ev, lp->batch[i].answer);
	lp->pending = 0;
}

static void to_batch(struct pl_loop *lp, uint32_t n, const struct pciem_event *ev,
		     const struct pl_range *r, uint64_t value)
{
	struct pl_lua_event *b = &lp->batch[n];

	b->ev = *ev;
	b->handler = r ? r->lua_id : 0;
	b->flags = r && r->fn ? PL_EV_NATIVE : 0;
	b->answer = value;
}

/*
 * Take what the ring holds, in order. Returns the number of events put in the
 * batch; *served counts those handled in C.
 */
static uint32_t drain(struct pl_loop *lp, uint32_t *served)
{
	struct pciem_ring_ctrl *c = lp->ctrl;
	uint64_t head = c->head, tail = load_tail(lp);
	uint32_t n = 0, taken = 0;

	/* bounded, so a stream of native events still lets signals through */
	while (head != tail && n < PL_LOOP_BATCH && taken++ < DRAIN_MAX) {
		const struct pciem_event *ev = &lp->events[head & lp->mask];
		const struct pl_range *r = resolve(lp, ev);
		uint64_t value;

		if (lp->intercept || (r && r->lua_id && !r->fn)) {
			value = ev->kind == PCIEM_EVENT_MMIO_READ ? shadow_value(lp, ev) : 0;
			to_batch(lp, n++, ev, r, value);
		} else {
			/* Lua events taken so far must run first: stop at the boundary */
			if (n)
				break;
			if (serve_c(lp, ev, r, &value) == PCIEM_NATIVE_DEFER && r->lua_id) {
				to_batch(lp, n++, ev, r, value);
			} else {
				answer_masked(lp, ev, value);
				(*served)++;
			}
		}
		head++;
		/*
		 * Hand the slot back at once: a drain serving a long stream in
		 * C must not leave the producer seeing a full ring (it fails
		 * the access after its deadline).
		 */
		__atomic_store_n(&c->head, head, __ATOMIC_RELEASE);
		lp->stats.events++;
		if (head == tail)
			tail = load_tail(lp);
	}
	if (taken)
		lp->active = true;
	lp->stats.lua_events += n;
	lp->pending = n;
	return n;
}

/* The ring drained after activity: run the native idle hooks. True: tell Lua. */
static bool idle_point(struct pl_loop *lp)
{
	struct pl_native *lib;

	if (!lp->active)
		return false;
	lp->active = false;
	for (lib = lp->natives; lib; lib = lib->next)
		if (lib->idle)
			lib->idle(&lib->ctx);
	return lp->lua_idle;
}

int pciem_ffi_loop_poll(struct pl_loop *lp, int timeout_ms)
{
	uint64_t deadline = timeout_ms > 0 ? pl_now_ns() + (uint64_t)timeout_ms * 1000000ull : 0;
	uint32_t n, served, rounds = 0;
	int rc, signo = 0;

	if (lp->pending)
		pciem_ffi_loop_done(lp, lp->pending);
	lp->stats.polls++;
	lp->stats.signo = 0;
	if (lp->stats.polls % SIGNAL_CHECK_EVERY == 0) {
		signo = pl_wait_signal(pl_signal_fd(), 0);
		if (signo)
			goto signalled;
		if (pl_wait_fds_check(lp))
			return PL_LOOP_FDS;
	}
	for (;;) {
		if (lp->dev->ops->step && !lp->private_ring)
			lp->dev->ops->step(lp->dev);
		served = 0;
		n = drain(lp, &served);
		if (n)
			return (int)n;
		if (served) {
			/*
			 * Busy with events served in C: come back for more at
			 * once (and spin when it pauses), but keep the deadline
			 * and let termination signals and watched fds through.
			 */
			lp->stats.spin_ns = lp->spin_max_ns;
			if (++rounds % SIGNAL_CHECK_EVERY == 0) {
				signo = pl_wait_signal(pl_signal_fd(), 0);
				if (signo)
					goto signalled;
				if (pl_wait_fds_check(lp))
					return PL_LOOP_FDS;
			}
			if (timeout_ms > 0 && pl_now_ns() >= deadline)
				return 0;
			continue;
		}
		if (idle_point(lp))
			return PL_LOOP_IDLE;
		if (lp->fds_ready || (!timeout_ms && pl_wait_fds_check(lp)))
			return PL_LOOP_FDS;
		if (!timeout_ms)
			return 0;
		if (lp->stats.spin_ns && pl_wait_spin(lp, lp->stats.spin_ns)) {
			uint32_t more = lp->stats.spin_ns * 2;

			lp->stats.spin_ns = more > lp->spin_max_ns ? lp->spin_max_ns : more;
			continue;
		}
		lp->stats.spin_ns /= 2;
		if (lp->stats.spin_ns < MIN_SPIN_NS)
			lp->stats.spin_ns = 0;
		if (timeout_ms > 0) {
			uint64_t now = pl_now_ns();

			if (now >= deadline)
				return 0;
			rc = pl_wait_sleep(lp, (int)((deadline - now + 999999) / 1000000), &signo);
		} else {
			rc = pl_wait_sleep(lp, -1, &signo);
		}
		if (signo)
			goto signalled;
		if (rc < 0)
			return rc;
		if (rc > 0)
			lp->stats.spin_ns = lp->spin_max_ns;
		else if (lp->fds_ready)
			return PL_LOOP_FDS;
	}

signalled:
	lp->stats.signo = signo;
	return PL_LOOP_SIGNAL;
}

struct pl_lua_event *pciem_ffi_loop_batch(struct pl_loop *lp)
{
	return lp->batch;
}

const struct pl_loop_stats *pciem_ffi_loop_stats(const struct pl_loop *lp)
{
	return &lp->stats;
}

void pciem_ffi_loop_set_spin(struct pl_loop *lp, uint32_t max_ns)
{
	lp->spin_max_ns = max_ns;
	lp->stats.spin_ns = max_ns;
}

void pciem_ffi_loop_set_idle(struct pl_loop *lp, int on)
{
	lp->lua_idle = on != 0;
}

void pciem_ffi_loop_set_intercept(struct pl_loop *lp, int on)
{
	lp->intercept = on != 0;
}

int64_t pciem_ffi_loop_inject(struct pl_loop *lp, uint32_t kind, uint32_t bar, uint32_t offset,
			      uint32_t width, uint64_t value, uint32_t flags)
{
	struct pciem_ring_ctrl *c = lp->ctrl;
	struct pciem_event *ev;
	uint64_t seq;

	if (!lp->private_ring)
		return pl_dev_error(lp->dev, -EOPNOTSUPP, "inject: not a private ring");
	seq = c->tail + 1;
	if (seq - __atomic_load_n(&c->head, __ATOMIC_ACQUIRE) > c->entries)
		return pl_dev_error(lp->dev, -ENOSPC, "inject: the ring is full");
	ev = &lp->events[(seq - 1) & lp->mask];
	memset(ev, 0, sizeof(*ev));
	ev->seq = seq;
	ev->value = value;
	ev->offset = offset;
	ev->kind = (uint8_t)kind;
	ev->bar = kind == PCIEM_EVENT_CFG_WRITE ? 0xff : (uint8_t)bar;
	ev->width = (uint8_t)width;
	ev->flags = (uint16_t)flags;
	ev->answer = 0;
	__atomic_store_n(&c->tail, seq, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&c->host_sleeping, __ATOMIC_RELAXED)) {
		c->host_sleeping = 0;
		pciem_ffi_eventfd_add(lp->efd, 1);
	}
	return (int64_t)seq;
}

int pciem_ffi_loop_answer(const struct pl_loop *lp, uint32_t slot, uint64_t *seq, uint64_t *value)
{
	if (slot >= lp->nslots)
		return pl_dev_error(lp->dev, -EINVAL, "answer slot %u: the ring has %u", slot,
				    lp->nslots);
	*seq = __atomic_load_n(&lp->answers[slot].seq, __ATOMIC_ACQUIRE);
	*value = lp->answers[slot].value;
	return 0;
}
