// SPDX-License-Identifier: MIT
/*
 * Sim backend: an in-process PCI bus. Config space is the shared engine
 * (kmod/pciem_cfg.c, the same code pciem.ko runs), BAR shadows are anonymous
 * memory, and the caller may also act as the OS (config reads and writes
 * with write masks and RW1C; MMIO, memory and interrupts in pl_sim_*.c).
 * The "dry" variant only checks a description.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pl_sim.h"

/* Where the sim's "PCI core" places BARs: naturally aligned bump allocation. */
#define SIM_DOMAIN	0x10000u
#define SIM_WIN32_START	0x80000000ull
#define SIM_WIN32_END	0xfec00000ull
#define SIM_WIN64_START	0x4000000000ull
#define SIM_WIN64_END	0x8000000000ull
#define SIM_SLOTS	32

/* Process-wide sim bus state: slots in use and the address windows. */
static uint32_t sim_slots_used;
static uint64_t sim_next32 = SIM_WIN32_START;
static uint64_t sim_next64 = SIM_WIN64_START;

static struct pl_sim *sim(struct pl_dev *dev)
{
	return pl_sim_of(dev);
}

/* Engine errors are complete sentences naming the field: pass them on. */
static int engine_error(struct pl_dev *dev, int rc)
{
	return pl_dev_error(dev, rc, "%s", sim(dev)->cfg.err[0] ? sim(dev)->cfg.err : strerror(-rc));
}

static int sim_open_common(struct pl_dev *dev, bool dry)
{
	struct pl_sim *s = calloc(1, sizeof(*s));

	if (!s)
		return pl_dev_error(dev, -ENOMEM, "out of memory");
	s->dry = dry;
	s->eventfd = -1;
	dev->priv = s;
	return 0;
}

static int sim_open(struct pl_dev *dev)
{
	return sim_open_common(dev, false);
}

static int dry_open(struct pl_dev *dev)
{
	return sim_open_common(dev, true);
}

static void release_slot(struct pl_sim *s)
{
	if (s->slot)
		sim_slots_used &= ~(1u << s->slot);
	s->slot = 0;
}

static void sim_close(struct pl_dev *dev)
{
	struct pl_sim *s = sim(dev);
	uint32_t i;

	if (!s)
		return;
	release_slot(s);
	pl_sim_irq_destroy(s);
	pl_sim_mmio_destroy(s);
	for (i = 0; i < PCIEM_NUM_BARS; i++)
		if (s->shadow[i])
			munmap(s->shadow[i], dev->bar_len[i]);
	free(s);
	dev->priv = NULL;
}

static int sim_create(struct pl_dev *dev, const struct pciem_device_desc *desc)
{
	int rc = pciem_cfg_init(&sim(dev)->cfg, desc);

	if (rc)
		return engine_error(dev, rc);
	return pl_sim_mmio_create(dev, desc);
}

static int sim_add_bar(struct pl_dev *dev, const struct pciem_bar_desc *bar)
{
	struct pl_sim *s = sim(dev);
	void *p;
	int rc;

	rc = pciem_cfg_add_bar(&s->cfg, bar);
	if (rc)
		return engine_error(dev, rc);
	if (s->dry)
		return 0;
	/* reserve address space only: untouched pages of a big BAR cost nothing */
	p = mmap(NULL, bar->length, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return pl_dev_error(dev, -ENOMEM, "bar %u: cannot allocate a %llu byte shadow: %s",
				    bar->index, (unsigned long long)bar->length, strerror(errno));
	s->shadow[bar->index] = p;
	return 0;
}

static int sim_add_cap(struct pl_dev *dev, const struct pciem_cap_desc *cap)
{
	const void *payload = NULL;
	int rc;

	if (cap->kind == PCIEM_CAP_VENDOR || cap->kind == PCIEM_CAP_EXT_RAW)
		payload = (const void *)(uintptr_t)cap->u.raw.data;
	rc = pciem_cfg_add_cap(&sim(dev)->cfg, cap, payload);
	return rc ? engine_error(dev, rc) : 0;
}

/* Program BAR @i the way the PCI core would: the next aligned free address. */
static int assign_bar(struct pl_dev *dev, uint32_t i)
{
	struct pl_sim *s = sim(dev);
	uint64_t len = s->cfg.bar_len[i], addr;
	bool is64 = s->cfg.bar_flags[i] & PCIEM_BAR_MEM64;
	uint64_t *next = is64 ? &sim_next64 : &sim_next32;
	uint64_t end = is64 ? SIM_WIN64_END : SIM_WIN32_END;

	addr = (*next + len - 1) & ~(len - 1);
	if (addr + len > end || addr + len < addr)
		return pl_dev_error(dev, -ENOSPC, "bar %u: no room for 0x%llx bytes in the sim's %s window",
				    i, (unsigned long long)len, is64 ? "64-bit" : "32-bit");
	*next = addr + len;
	pciem_cfg_write(&s->cfg, 0x10 + 4 * i, 4, (uint32_t)addr);
	if (is64)
		pciem_cfg_write(&s->cfg, 0x10 + 4 * (i + 1), 4, (uint32_t)(addr >> 32));
	return 0;
}

static int sim_register(struct pl_dev *dev)
{
	struct pl_sim *s = sim(dev);
	uint32_t i;
	int rc, slot;

	if (!s->cfg.finished) {
		rc = pciem_cfg_finish(&s->cfg);
		if (rc)
			return engine_error(dev, rc);
	}
	if (s->dry)
		return 0;
	for (slot = 1; slot < SIM_SLOTS; slot++)
		if (!(sim_slots_used & (1u << slot)))
			break;
	if (slot == SIM_SLOTS)
		return pl_dev_error(dev, -ENOSPC, "the sim bus is full (%d devices)", SIM_SLOTS - 1);
	for (i = 0; i < PCIEM_NUM_BARS; i++) {
		/* the upper half of a 64-bit BAR has bar_len set but no flags of its own */
		if (!s->cfg.bar_len[i] || (i && (s->cfg.bar_flags[i - 1] & PCIEM_BAR_MEM64)))
			continue;
		rc = assign_bar(dev, i);
		if (rc)
			return rc;
	}
	rc = pl_sim_mmio_register(dev);
	if (rc)
		return rc;
	pl_sim_irq_reset(s);
	s->slot = slot;
	sim_slots_used |= 1u << slot;
	return 0;
}

static int sim_start(struct pl_dev *dev)
{
	(void)dev;
	return 0;
}

static int sim_stop(struct pl_dev *dev)
{
	release_slot(sim(dev));
	pl_sim_irq_reset(sim(dev));
	return 0;
}

static int sim_info(struct pl_dev *dev, struct pciem_device_info *info)
{
	struct pl_sim *s = sim(dev);
	uint32_t i;

	info->state = dev->state == PL_DEV_STARTED ? PCIEM_STATE_STARTED :
		      dev->state == PL_DEV_REGISTERED ? PCIEM_STATE_REGISTERED :
		      PCIEM_STATE_CREATED;
	if (!s->slot)
		return 0;
	info->domain = SIM_DOMAIN;
	info->bus = 0;
	info->devfn = (uint8_t)(s->slot << 3);
	for (i = 0; i < PCIEM_NUM_BARS; i++) {
		if (!dev->bar_len[i])
			continue;
		info->bar_addr[i] = pciem_cfg_bar_addr(&s->cfg, i);
		info->bar_len[i] = dev->bar_len[i];
	}
	snprintf(info->pci_name, sizeof(info->pci_name), "%05x:%02x:%02x.%d",
		 info->domain, info->bus, s->slot, 0);
	return 0;
}

static int sim_bar_map(struct pl_dev *dev, uint32_t index, uint64_t len, void **ptr)
{
	(void)len;
	if (!sim(dev)->shadow[index])
		return pl_dev_error(dev, -EINVAL, "bar_map: BAR %u has no shadow (dry run)", index);
	*ptr = sim(dev)->shadow[index];
	return 0;
}

static void sim_bar_unmap(struct pl_dev *dev, uint32_t index, void *ptr, uint64_t len)
{
	/* the shadow is the mapping; sim_close() frees it */
	(void)dev;
	(void)index;
	(void)ptr;
	(void)len;
}

static int sim_cfg_read(struct pl_dev *dev, uint32_t off, uint32_t width, uint32_t *val)
{
	*val = pciem_cfg_read(&sim(dev)->cfg, off, width);
	return 0;
}

static int sim_cfg_write(struct pl_dev *dev, uint32_t off, uint32_t width, uint32_t val)
{
	int rc = pciem_cfg_dev_write(&sim(dev)->cfg, off, width, val);

	return rc ? engine_error(dev, rc) : 0;
}

/* As pci_ops would: apply, queue the CFG_WRITE event, let interrupts see it. */
static int sim_os_cfg_write(struct pl_dev *dev, uint32_t off, uint32_t width, uint32_t val)
{
	pciem_cfg_write(&sim(dev)->cfg, off, width, val);
	pl_sim_cfg_event(dev, off, width, val);
	pl_sim_irq_cfg_written(dev, off, width);
	return 0;
}

static void sim_ring_unmap(struct pl_dev *dev, void *ptr, uint64_t len)
{
	/* the ring is the sim's own memory; sim_close() frees it */
	(void)dev;
	(void)ptr;
	(void)len;
}

const struct pl_backend_ops pl_sim_ops = {
	.name = "sim",
	.open = sim_open,
	.close = sim_close,
	.create = sim_create,
	.add_bar = sim_add_bar,
	.add_cap = sim_add_cap,
	.register_dev = sim_register,
	.start = sim_start,
	.stop = sim_stop,
	.info = sim_info,
	.bar_map = sim_bar_map,
	.bar_unmap = sim_bar_unmap,
	.cfg_read = sim_cfg_read,
	.cfg_write = sim_cfg_write,
	.os_cfg_read = sim_cfg_read,
	.os_cfg_write = sim_os_cfg_write,
	.ring_map = pl_sim_ring_map,
	.ring_unmap = sim_ring_unmap,
	.set_eventfd = pl_sim_set_eventfd,
	.set_policy = pl_sim_set_policy,
	.set_sync_timeout = pl_sim_set_sync_timeout,
	.irq = pl_sim_irq,
	.irqfd = pl_sim_irqfd,
	.dma = pl_sim_dma,
	.counters = pl_sim_counters,
	.step = pl_sim_irq_step,
};

/* The dry run: the same engine, nothing else; used before any ioctl. */
const struct pl_backend_ops pl_dry_ops = {
	.name = "dry",
	.open = dry_open,
	.close = sim_close,
	.create = sim_create,
	.add_bar = sim_add_bar,
	.add_cap = sim_add_cap,
	.register_dev = sim_register,
	.start = sim_start,
	.stop = sim_stop,
	.info = sim_info,
	.bar_map = sim_bar_map,
	.bar_unmap = sim_bar_unmap,
	.cfg_read = sim_cfg_read,
	.cfg_write = sim_cfg_write,
	.os_cfg_read = sim_cfg_read,
	.os_cfg_write = sim_os_cfg_write,
};
