// SPDX-License-Identifier: MIT
/*
 * Sim backend, host memory and DMA: RAM regions at bus addresses (shared by
 * every sim device of the process) and the copy engine with the kernel's
 * checks, refusals and counters (kmod/pciem_dma.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/pci_regs.h>

#include "pl_sim.h"
#include "pl_sim_os.h"

/*
 * RAM is handed out from 256 MiB up to the sim's 32-bit BAR window, then
 * from 4 GiB up to its 64-bit window, with an unmapped page after each
 * region: address 0, the gaps and the BAR windows are never RAM.
 */
#define RAM_LOW_START	0x10000000ull
#define RAM_LOW_END	0x80000000ull
#define RAM_HIGH_START	0x100000000ull
#define RAM_HIGH_END	0x4000000000ull
#define RAM_PAGE	4096ull
/* x86-64 TASK_SIZE_MAX with 4-level paging: the end of user addresses */
#define USER_SPACE_END	0x00007ffffffff000ull

struct ram_region {
	uint64_t bus;
	uint64_t len;		/* as asked */
	uint64_t span;		/* rounded up to pages */
	uint8_t *ptr;
};

static struct ram_region *regions;
static uint32_t nregions, cap_regions;
static uint64_t next_low = RAM_LOW_START, next_high = RAM_HIGH_START;

static uint64_t page_up(uint64_t v)
{
	return (v + RAM_PAGE - 1) & ~(RAM_PAGE - 1);
}

int pciem_sim_mem_alloc(uint64_t size, uint64_t *bus_addr, uint8_t **ptr)
{
	uint64_t span = page_up(size), bus;
	struct ram_region *r;
	void *p;

	*bus_addr = 0;
	*ptr = NULL;
	if (!size || span < size)
		return -EINVAL;
	if (next_low + span + RAM_PAGE <= RAM_LOW_END && span <= RAM_LOW_END) {
		bus = next_low;
		next_low += span + RAM_PAGE;
	} else if (next_high + span + RAM_PAGE <= RAM_HIGH_END && span <= RAM_HIGH_END) {
		bus = next_high;
		next_high += span + RAM_PAGE;
	} else {
		return -ENOMEM;
	}
	if (nregions == cap_regions) {
		uint32_t cap = cap_regions ? cap_regions * 2 : 16;

		r = realloc(regions, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		regions = r;
		cap_regions = cap;
	}
	/* zeroed, and only pages actually touched cost memory */
	p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	regions[nregions++] = (struct ram_region){ .bus = bus, .len = size, .span = span,
						   .ptr = p };
	*bus_addr = bus;
	*ptr = p;
	return 0;
}

int pciem_sim_mem_free(uint64_t bus_addr)
{
	uint32_t i;

	for (i = 0; i < nregions; i++) {
		if (regions[i].bus != bus_addr)
			continue;
		munmap(regions[i].ptr, regions[i].span);
		regions[i] = regions[--nregions];
		return 0;
	}
	return -ENOENT;
}

/* The region holding @bus (whole pages count: DMA works on pages), or NULL. */
static struct ram_region *region_at(uint64_t bus)
{
	uint32_t i;

	for (i = 0; i < nregions; i++)
		if (bus >= regions[i].bus && bus - regions[i].bus < regions[i].span)
			return &regions[i];
	return NULL;
}

uint8_t *pciem_sim_mem_ptr(uint64_t bus_addr, uint64_t len)
{
	struct ram_region *r = region_at(bus_addr);

	if (!r || len > r->span - (bus_addr - r->bus))
		return NULL;
	return r->ptr + (bus_addr - r->bus);
}

/* Field checks in the kernel's order and with its errno. */
static int check_request(struct pl_dev *dev, uint32_t dir, const struct pciem_dma_seg *segs,
			 uint32_t nsegs)
{
	uint32_t i;

	if (dir != PCIEM_DMA_FROM_HOST && dir != PCIEM_DMA_TO_HOST)
		return pl_dev_error(dev, -EINVAL, "dma: dir %u is not 1 (from host) or 2 (to host)",
				    dir);
	if (nsegs < 1 || nsegs > PCIEM_DMA_MAX_SEGS)
		return pl_dev_error(dev, -EINVAL, "dma: nsegs %u is not 1..%u", nsegs,
				    PCIEM_DMA_MAX_SEGS);
	for (i = 0; i < nsegs; i++) {
		const struct pciem_dma_seg *s = &segs[i];

		if (!s->length)
			return pl_dev_error(dev, -EINVAL, "dma: seg %u: length is 0", i);
		if (s->bus_addr + s->length - 1 < s->bus_addr)
			return pl_dev_error(dev, -EINVAL,
					    "dma: seg %u: bus_addr 0x%llx + length 0x%llx overflows", i,
					    (unsigned long long)s->bus_addr,
					    (unsigned long long)s->length);
		if (s->user_addr + s->length - 1 < s->user_addr)
			return pl_dev_error(dev, -EINVAL,
					    "dma: seg %u: user_addr 0x%llx + length 0x%llx overflows", i,
					    (unsigned long long)s->user_addr,
					    (unsigned long long)s->length);
		/* access_ok() on x86-64; NULL would fault in the copy, also -EFAULT */
		if (!s->user_addr || s->user_addr + s->length > USER_SPACE_END)
			return pl_dev_error(dev, -EFAULT,
					    "dma: seg %u: user_addr 0x%llx length 0x%llx is not user memory",
					    i, (unsigned long long)s->user_addr,
					    (unsigned long long)s->length);
	}
	return 0;
}

static bool master_enabled(struct pl_sim *s)
{
	return pciem_cfg_command(&s->cfg) & PCI_COMMAND_MASTER;
}

/* One segment, up to the end of each RAM region; stops at the first non-RAM byte. */
static int copy_segment(struct pl_dev *dev, uint32_t idx, bool to_host,
			const struct pciem_dma_seg *seg, uint64_t *done)
{
	uint64_t bus = seg->bus_addr, len = seg->length;
	uint8_t *user = (uint8_t *)(uintptr_t)seg->user_addr;

	while (len) {
		struct ram_region *r = region_at(bus);
		uint64_t n;

		if (!r)
			return pl_dev_error(dev, -ENXIO,
					    "dma: seg %u: bus address 0x%llx is not RAM", idx,
					    (unsigned long long)bus);
		n = r->span - (bus - r->bus);
		if (n > len)
			n = len;
		if (to_host)
			memcpy(r->ptr + (bus - r->bus), user, n);
		else
			memcpy(user, r->ptr + (bus - r->bus), n);
		*done += n;
		bus += n;
		user += n;
		len -= n;
	}
	return 0;
}

int pl_sim_dma(struct pl_dev *dev, uint32_t dir, const struct pciem_dma_seg *segs,
	       uint32_t nsegs, uint64_t *done)
{
	struct pl_sim *s = pl_sim_of(dev);
	bool to_host = dir == PCIEM_DMA_TO_HOST;
	uint32_t i;
	int rc;

	*done = 0;
	rc = check_request(dev, dir, segs, nsegs);
	if (!rc && !s->slot)
		rc = pl_dev_error(dev, -EINVAL, "dma: refused: the device is not registered");
	if (!rc && !master_enabled(s))
		rc = pl_dev_error(dev, -EPERM, "dma: refused: Bus Master Enable is off");
	for (i = 0; !rc && i < nsegs; i++)
		rc = copy_segment(dev, i, to_host, &segs[i], done);
	if (to_host)
		s->counters.dma_bytes_to_host += *done;
	else
		s->counters.dma_bytes_from_host += *done;
	if (rc)
		s->counters.dma_errors++;
	return rc;
}
