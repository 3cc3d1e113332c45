// SPDX-License-Identifier: MIT
/*
 * Sim backend, trapped accesses: bus decode, per-range policies, the event
 * ring (uapi layout, so the host's one dispatch loop serves both backends),
 * sync answers and the counters -- the rules pciem.ko applies, in process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include "pl_log.h"
#include "pl_sim.h"
#include "pl_sim_os.h"

#define CACHE_LINE	64u

static uint64_t all_ones(uint32_t width)
{
	return width == 8 ? ~0ull : (1ull << (8 * width)) - 1;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* ---- ring --------------------------------------------------------------- */

int pl_sim_mmio_create(struct pl_dev *dev, const struct pciem_device_desc *desc)
{
	struct pl_sim *s = pl_sim_of(dev);
	uint32_t entries = desc->ring_entries ? desc->ring_entries : PCIEM_RING_DEFAULT_ENTRIES;
	uint32_t timeout = desc->sync_timeout_us ? desc->sync_timeout_us :
			   PCIEM_SYNC_DEFAULT_TIMEOUT_US;
	uint64_t answers_off, events_off, size;
	void *p;

	if (entries < 64 || entries > 65536 || (entries & (entries - 1)))
		return pl_dev_error(dev, -EINVAL,
				    "device: ring_entries %u is not a power of two in 64..65536 (0 = %u)",
				    desc->ring_entries, PCIEM_RING_DEFAULT_ENTRIES);
	if (timeout > 10000000)
		return pl_dev_error(dev, -EINVAL,
				    "device: sync_timeout_us %u is not in 1..10000000 (0 = %u)",
				    desc->sync_timeout_us, PCIEM_SYNC_DEFAULT_TIMEOUT_US);
	if (s->dry)
		return 0;
	answers_off = align_up(sizeof(struct pciem_ring_ctrl), CACHE_LINE);
	events_off = align_up(answers_off + SIM_ANSWER_SLOTS * sizeof(struct pciem_answer),
			      CACHE_LINE);
	size = align_up(events_off + (uint64_t)entries * sizeof(struct pciem_event),
			(uint64_t)sysconf(_SC_PAGESIZE));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return pl_dev_error(dev, -ENOMEM, "cannot allocate a %llu byte event ring: %s",
				    (unsigned long long)size, strerror(errno));
	s->ring = p;
	s->ring_size = size;
	s->ctrl = p;
	s->answers = (struct pciem_answer *)((char *)p + answers_off);
	s->events = (struct pciem_event *)((char *)p + events_off);
	s->ctrl->entries = entries;
	s->ctrl->event_size = sizeof(struct pciem_event);
	s->ctrl->answers_offset = (uint32_t)answers_off;
	s->ctrl->answer_slots = SIM_ANSWER_SLOTS;
	s->ctrl->events_offset = (uint32_t)events_off;
	s->ctrl->map_size = (uint32_t)size;
	s->sync_timeout_us = timeout;
	return 0;
}

/* A BAR's policy table, made on first use: one POSTED range covering it. */
static int ensure_ranges(struct pl_dev *dev, uint32_t bar)
{
	struct pl_sim *s = pl_sim_of(dev);

	if (s->ranges[bar])
		return 0;
	s->ranges[bar] = calloc(1, sizeof(*s->ranges[bar]));
	if (!s->ranges[bar])
		return pl_dev_error(dev, -ENOMEM, "out of memory");
	s->nranges[bar] = pciem_policy_init(s->ranges[bar], s->cfg.bar_len[bar]);
	return 0;
}

int pl_sim_mmio_register(struct pl_dev *dev)
{
	struct pl_sim *s = pl_sim_of(dev);
	uint32_t i;
	int rc;

	for (i = 0; i < PCIEM_NUM_BARS; i++) {
		if (!s->cfg.bar_len[i] || pciem_cfg_bar_is_upper(&s->cfg, i))
			continue;
		rc = ensure_ranges(dev, i);
		if (rc)
			return rc;
	}
	return 0;
}

void pl_sim_mmio_destroy(struct pl_sim *s)
{
	uint32_t i;

	for (i = 0; i < PCIEM_NUM_BARS; i++)
		free(s->ranges[i]);
	if (s->ring)
		munmap(s->ring, s->ring_size);
	if (s->eventfd >= 0)
		close(s->eventfd);
	s->ring = NULL;
	s->eventfd = -1;
}

int pl_sim_ring_map(struct pl_dev *dev, void **ptr, uint64_t *len)
{
	struct pl_sim *s = pl_sim_of(dev);

	if (!s->ring)
		return pl_dev_error(dev, -EINVAL, "ring_map: the device has no event ring (dry run)");
	*ptr = s->ring;
	*len = s->ring_size;
	return 0;
}

static bool ring_full(struct pl_sim *s)
{
	uint64_t head = __atomic_load_n(&s->ctrl->head, __ATOMIC_ACQUIRE);

	return s->ctrl->tail - head >= s->ctrl->entries;
}

/* Publish @ev (seq assigned here); the caller checked there is room. */
static uint64_t ring_publish(struct pl_sim *s, struct pciem_event *ev)
{
	uint64_t seq = s->ctrl->tail + 1;
	uint64_t one = 1;

	ev->seq = seq;
	s->events[(seq - 1) & (s->ctrl->entries - 1)] = *ev;
	__atomic_store_n(&s->ctrl->tail, seq, __ATOMIC_RELEASE);
	s->counters.events++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->ctrl->host_sleeping, __ATOMIC_RELAXED)) {
		__atomic_store_n(&s->ctrl->host_sleeping, 0, __ATOMIC_RELAXED);
		if (s->eventfd >= 0 && write(s->eventfd, &one, sizeof(one)) < 0)
			pl_log(PL_LOG_DEBUG, "sim: eventfd write: %s", strerror(errno));
	}
	return seq;
}

int pciem_sim_ring_full(struct pl_dev *dev)
{
	struct pl_sim *s = pl_sim_of(dev);

	return s && s->ring && ring_full(s);
}

/* The kernel's rule for a producer that still finds no room: fail, count, log once. */
static void timed_out(struct pl_dev *dev, const char *what)
{
	struct pl_sim *s = pl_sim_of(dev);

	s->counters.sync_timeouts++;
	if (!s->timeout_logged)
		pl_log(PL_LOG_DEBUG, "sim: %s: the host did not answer in time (reported once)", what);
	s->timeout_logged = true;
}

void pl_sim_cfg_event(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t value)
{
	struct pl_sim *s = pl_sim_of(dev);
	struct pciem_event ev = {
		.value = value, .offset = offset, .kind = PCIEM_EVENT_CFG_WRITE,
		.bar = 0xff, .width = (uint8_t)width,
	};

	if (!s->ring || !s->slot)
		return;
	if (ring_full(s)) {
		s->counters.ring_full_waits++;
		timed_out(dev, "config write event, ring full");
		return;
	}
	ring_publish(s, &ev);
}

/* ---- policies ----------------------------------------------------------- */

int pl_sim_set_policy(struct pl_dev *dev, const struct pciem_policy_desc *p)
{
	struct pl_sim *s = pl_sim_of(dev);
	struct pciem_policy_range *next;
	uint32_t bar = p->bar;
	uint64_t len;

	if (p->size != sizeof(*p))
		return pl_dev_error(dev, -EINVAL, "set_policy: size %u is not %zu", p->size, sizeof(*p));
	if (p->reserved0 || p->reserved[0] || p->reserved[1] || p->reserved[2] || p->reserved[3])
		return pl_dev_error(dev, -EINVAL, "set_policy: reserved fields must be zero");
	if (bar >= PCIEM_NUM_BARS || !s->cfg.bar_len[bar])
		return pl_dev_error(dev, -EINVAL, "set_policy: bar %u is not described", bar);
	if (pciem_cfg_bar_is_upper(&s->cfg, bar))
		return pl_dev_error(dev, -EINVAL,
				    "set_policy: bar %u is the upper half of 64-bit bar %u", bar, bar - 1);
	if (p->policy > PCIEM_POLICY_SYNC)
		return pl_dev_error(dev, -EINVAL, "set_policy: policy %u is not memory, posted or sync",
				    p->policy);
	len = s->cfg.bar_len[bar];
	if (p->offset % 4 || p->length % 4 || !p->length || p->offset >= len ||
	    p->length > len - p->offset)
		return pl_dev_error(dev, -EINVAL,
				    "set_policy: bar %u range 0x%llx+0x%llx is empty, not 4-byte aligned or outside the bar (0x%llx bytes)",
				    bar, (unsigned long long)p->offset, (unsigned long long)p->length,
				    (unsigned long long)len);
	if (pl_sim_msix_owned(s, bar, p->offset, p->length))
		return pl_dev_error(dev, -EINVAL,
				    "set_policy: bar %u range 0x%llx+0x%llx overlaps the MSI-X table or PBA, which the module owns",
				    bar, (unsigned long long)p->offset, (unsigned long long)p->length);
	if (ensure_ranges(dev, bar))
		return -ENOMEM;

	next = calloc(s->nranges[bar] + PCIEM_POLICY_GROWTH, sizeof(*next));
	if (!next)
		return pl_dev_error(dev, -ENOMEM, "out of memory");
	s->nranges[bar] = pciem_policy_apply(s->ranges[bar], s->nranges[bar], p->offset,
					     p->offset + p->length, p->policy, next);
	free(s->ranges[bar]);
	s->ranges[bar] = next;
	return 0;
}

int pl_sim_set_sync_timeout(struct pl_dev *dev, uint32_t timeout_us)
{
	if (timeout_us < 1 || timeout_us > 10000000)
		return pl_dev_error(dev, -EINVAL, "set_sync_timeout: %u us is not in 1..10000000",
				    timeout_us);
	/* The sim's deadline is "the dispatch step did not answer"; kept for parity. */
	pl_sim_of(dev)->sync_timeout_us = timeout_us;
	return 0;
}

int pl_sim_set_eventfd(struct pl_dev *dev, int fd)
{
	struct pl_sim *s = pl_sim_of(dev);
	int copy = -1;

	/* any negative fd detaches, as in the module */
	if (fd >= 0) {
		int64_t id = pl_sim_eventfd_id(fd);

		if (id < 0)
			return pl_dev_error(dev, (int)id, "set_eventfd: fd %d is not %s", fd,
					    id == -EBADF ? "open" : "an eventfd");
		/* hold our own reference, as eventfd_ctx_fdget does */
		copy = dup(fd);
		if (copy < 0)
			return pl_dev_error(dev, -EBADF, "set_eventfd: fd %d: %s", fd, strerror(errno));
	}
	if (s->eventfd >= 0)
		close(s->eventfd);
	s->eventfd = copy;
	return 0;
}

int pl_sim_counters(struct pl_dev *dev, struct pciem_counters *c)
{
	*c = pl_sim_of(dev)->counters;
	c->size = sizeof(*c);
	return 0;
}

/* ---- the OS's loads and stores ------------------------------------------ */

/* The BAR decoding @addr..+@width, as a bus would; -1 for a master abort. */
static int decode(struct pl_sim *s, uint64_t addr, uint32_t width, uint64_t *offset)
{
	uint32_t i;

	if (!s->slot || !(pciem_cfg_command(&s->cfg) & PCI_COMMAND_MEMORY))
		return -1;
	for (i = 0; i < PCIEM_NUM_BARS; i++) {
		uint64_t base, len = s->cfg.bar_len[i];

		if (!len || pciem_cfg_bar_is_upper(&s->cfg, i))
			continue;
		base = pciem_cfg_bar_addr(&s->cfg, i);
		if (addr >= base && addr - base <= len - width) {
			*offset = addr - base;
			return (int)i;
		}
	}
	return -1;
}

static uint64_t shadow_read(struct pl_sim *s, uint32_t bar, uint64_t off, uint32_t width)
{
	const uint8_t *p = (const uint8_t *)s->shadow[bar] + off;

	switch (width) {
	case 1: return *p;
	case 2: return *(const uint16_t *)p;
	case 4: return *(const uint32_t *)p;
	default: return *(const uint64_t *)p;
	}
}

static void shadow_write(struct pl_sim *s, uint32_t bar, uint64_t off, uint32_t width,
			 uint64_t v)
{
	uint8_t *p = (uint8_t *)s->shadow[bar] + off;

	switch (width) {
	case 1: *p = (uint8_t)v; break;
	case 2: *(uint16_t *)p = (uint16_t)v; break;
	case 4: *(uint32_t *)p = (uint32_t)v; break;
	default: *(uint64_t *)p = v; break;
	}
}

int pciem_sim_mmio(struct pl_dev *dev, uint64_t addr, uint32_t width, int write,
		   uint64_t value, int retry, uint64_t *result)
{
	struct pl_sim *s = pl_sim_of(dev);
	struct pciem_event ev = { 0 };
	uint64_t off = 0;
	uint8_t pol;
	int bar;

	*result = 0;
	if (!s || s->dry || dev->ops != &pl_sim_ops)
		return pl_dev_error(dev, -EOPNOTSUPP, "mmio: only the sim backend has an OS side");
	if (width != 1 && width != 2 && width != 4 && width != 8)
		return pl_dev_error(dev, -EINVAL, "mmio: width %u is not 1, 2, 4 or 8", width);
	if (addr % width)
		return pl_dev_error(dev, -EINVAL, "mmio: address 0x%llx is not %u-byte aligned",
				    (unsigned long long)addr, width);
	if (s->pending_seq)
		return pl_dev_error(dev, -EBUSY, "mmio: a sync access is still waiting for completion");
	if (width < 8)
		value &= all_ones(width);

	bar = decode(s, addr, width, &off);
	if (bar < 0) {
		if (!write)
			*result = all_ones(width);
		return PCIEM_SIM_ABORT;
	}
	if (!retry) {
		if (write)
			s->counters.trap_writes++;
		else
			s->counters.trap_reads++;
	}

	/* MSI-X table and PBA: the kernel's, always memory semantics. */
	if (pl_sim_msix_owned(s, (uint32_t)bar, off, width)) {
		s->counters.memory_accesses++;
		if (!write) {
			*result = shadow_read(s, (uint32_t)bar, off, width);
			return PCIEM_SIM_DONE;
		}
		shadow_write(s, (uint32_t)bar, off, width, value);
		pl_sim_irq_msix_written(dev, (uint32_t)bar, off, width);
		return PCIEM_SIM_DONE;
	}

	pol = (uint8_t)pciem_policy_lookup(s->ranges[bar], s->nranges[bar], off, width);
	if (pol == PCIEM_POLICY_MEMORY || (pol == PCIEM_POLICY_POSTED && !write)) {
		s->counters.memory_accesses++;
		if (write)
			shadow_write(s, (uint32_t)bar, off, width, value);
		else
			*result = shadow_read(s, (uint32_t)bar, off, width);
		return PCIEM_SIM_DONE;
	}

	/* A write lands first (once: not again on the retry after a full ring). */
	if (write && !retry)
		shadow_write(s, (uint32_t)bar, off, width, value);
	/* The event: the producer waits for room, within the deadline. */
	if (ring_full(s)) {
		if (!retry) {
			s->counters.ring_full_waits++;
			return PCIEM_SIM_RING_FULL;
		}
		timed_out(dev, "ring full");
		if (!write)
			*result = all_ones(width);
		return PCIEM_SIM_TIMEOUT;
	}
	ev.offset = (uint32_t)off;
	ev.bar = (uint8_t)bar;
	ev.width = (uint8_t)width;
	ev.kind = write ? PCIEM_EVENT_MMIO_WRITE : PCIEM_EVENT_MMIO_READ;
	ev.value = write ? value : 0;
	if (pol == PCIEM_POLICY_POSTED) {
		ring_publish(s, &ev);
		return PCIEM_SIM_DONE;
	}
	/* a read always waits; a sync write says so */
	ev.flags = write ? PCIEM_EVENT_F_SYNC : 0;
	ev.answer = 0;
	s->pending_seq = ring_publish(s, &ev);
	s->pending_width = width;
	s->pending_read = !write;
	return PCIEM_SIM_WAIT;
}

int pciem_sim_complete(struct pl_dev *dev, uint64_t *result)
{
	struct pl_sim *s = pl_sim_of(dev);
	struct pciem_answer *a;
	uint64_t seq = s ? s->pending_seq : 0;
	bool read;

	*result = 0;
	if (!seq)
		return pl_dev_error(dev, -EINVAL, "mmio: no sync access is waiting");
	a = &s->answers[0];
	read = s->pending_read;
	s->pending_seq = 0;
	if (__atomic_load_n(&a->seq, __ATOMIC_ACQUIRE) != seq) {
		timed_out(dev, read ? "sync read" : "sync write");
		if (read)
			*result = all_ones(s->pending_width);
		return PCIEM_SIM_TIMEOUT;
	}
	s->counters.sync_roundtrips++;
	if (read)
		*result = a->value & all_ones(s->pending_width);
	return PCIEM_SIM_DONE;
}
