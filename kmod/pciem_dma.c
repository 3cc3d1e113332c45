// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device DMA on behalf of the host: copies between host memory at the bus
 * addresses a driver gave the device and the host process's buffers, page by
 * page, through the device's IOMMU domain when it has a translating one.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/errno.h>
#include <linux/iommu.h>
#include <linux/ioport.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <linux/uaccess.h>

#include "pciem.h"
#include "pciem_copy.h"

/*
 * Refusals get their own rate limit: a script hammering a bad address must
 * not starve the log lines of other requests (tests grep for those).
 */
static DEFINE_RATELIMIT_STATE(pciem_dma_rs, 5 * HZ, 100);
#define pciem_dma_log(dev, fmt, ...)					\
	do {								\
		if (__ratelimit(&pciem_dma_rs))				\
			pr_info("%s: dma: " fmt "\n",			\
				pciem_dev_label(dev), ##__VA_ARGS__);	\
	} while (0)

/*
 * Largest piece copied in one go when bus addresses are physical: big
 * enough that the per-piece checks vanish next to the copy, small enough
 * to reschedule and notice Bus Master Enable going off often.
 */
#define PCIEM_DMA_CHUNK		SZ_256K

/* One PCIEM_IOC_DMA request in flight. */
struct pciem_dma_xfer {
	struct pciem_dev *dev;
	struct pci_dev *pdev;		/* referenced for the whole request */
	struct iommu_domain *domain;	/* translating domain, or NULL: bus == phys */
	bool to_host;
	u32 seg;			/* index of the segment being copied, for logs */
	phys_addr_t ram_lo, ram_hi;	/* [lo, hi) already found inside System RAM */
	u64 done;			/* bytes copied so far */
};

static bool pciem_dma_master_enabled(struct pciem_dev *dev)
{
	unsigned long flags;
	u16 cmd;

	raw_spin_lock_irqsave(&dev->cfg_lock, flags);
	cmd = pciem_cfg_command(dev->cfg);
	raw_spin_unlock_irqrestore(&dev->cfg_lock, flags);
	return cmd & PCI_COMMAND_MASTER;
}

/*
 * The domain the IOMMU puts the device in, if that domain translates. An
 * identity (passthrough) domain, or none at all (our root bus has no DMAR
 * unit in practice: see docs/dma.md), means bus addresses are physical.
 * A blocking domain lets nothing through.
 */
static int pciem_dma_domain(struct pciem_dma_xfer *x)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(&x->pdev->dev);

	x->domain = NULL;
	if (!domain || domain->type == IOMMU_DOMAIN_IDENTITY)
		return 0;
	if (!(domain->type & __IOMMU_DOMAIN_PAGING)) {
		pciem_dma_log(x->dev, "refused: the IOMMU blocks the device (domain type %#x)",
			      domain->type);
		return -ENXIO;
	}
	x->domain = domain;
	return 0;
}

/*
 * Bus address -> physical address of the same byte. Through a translating
 * domain only the rest of that IOMMU page is known to be contiguous, so the
 * caller asks again at each page boundary.
 */
static int pciem_dma_translate(struct pciem_dma_xfer *x, u64 bus, phys_addr_t *phys)
{
	if (!x->domain) {
		*phys = bus;
		return 0;
	}
	*phys = iommu_iova_to_phys(x->domain, bus);
	if (!*phys) {
		pciem_dma_log(x->dev, "seg %u: bus address %#llx is not mapped in the device's IOMMU domain",
			      x->seg, bus);
		return -ENXIO;
	}
	return 0;
}

/*
 * Whether the page at phys is "System RAM" in the iomem tree. The walk of
 * the tree costs about as much as copying a page, so the run ahead that is
 * known to be physically contiguous (up to 4 MiB) is looked up once and
 * remembered; a run that is not all RAM falls back to one page at a time,
 * so a transfer stops exactly at the first page that is not RAM.
 */
static bool pciem_dma_system_ram(struct pciem_dma_xfer *x, phys_addr_t phys, u64 contig)
{
	phys_addr_t start = PFN_PHYS(PHYS_PFN(phys));
	u64 span = PAGE_ALIGN(min_t(u64, contig + offset_in_page(phys), SZ_4M));

	if (phys >= x->ram_lo && phys < x->ram_hi)
		return true;
	if (span <= PAGE_SIZE ||
	    region_intersects(start, span, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_INTERSECTS)
		span = PAGE_SIZE;
	if (span == PAGE_SIZE &&
	    region_intersects(start, span, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_INTERSECTS)
		return false;
	x->ram_lo = start;
	x->ram_hi = start + span;
	return true;
}

/*
 * How many of the want bytes from phys (physically contiguous) the device
 * may reach, stopping at the first page that is not RAM for it: an online
 * page in the memory map, inside "System RAM" in the iomem tree (not MMIO,
 * not a firmware hole, not our BAR windows), and not a reserved page (kernel
 * image, firmware tables, the zero page) unless it is a swiotlb bounce
 * buffer, which lives in reserved memory but is the DMA API's own. contig:
 * bytes from phys known to be physically contiguous (>= want), for the RAM
 * look-up. 0 (logged) when the first page is refused.
 */
static size_t pciem_dma_ram_span(struct pciem_dma_xfer *x, u64 bus, phys_addr_t phys,
				 size_t want, u64 contig)
{
	phys_addr_t p = phys, end = phys + want;
	size_t ok = 0;

	while (p < end) {
		struct page *page = pfn_to_online_page(PHYS_PFN(p));
		size_t n = min_t(u64, end - p, PAGE_SIZE - offset_in_page(p));

		if (!page || !pciem_dma_system_ram(x, p, contig - (p - phys)))
			break;
		if (PageReserved(page) && !is_swiotlb_buffer(&x->pdev->dev, p))
			break;
		ok += n;
		p += n;
	}
	if (ok)
		return ok;
	if (x->domain)
		pciem_dma_log(x->dev, "seg %u: bus address %#llx (physical %#llx) is not RAM",
			      x->seg, bus, (unsigned long long)phys);
	else
		pciem_dma_log(x->dev, "seg %u: bus address %#llx is not RAM", x->seg, bus);
	return 0;
}

/*
 * Copies n bytes of checked, physically contiguous RAM at phys to or from
 * the user buffer, through the direct map (x86-64: no highmem, every RAM
 * page is mapped there, contiguously).
 *
 * No lock is held here, so the user side may fault and sleep. The pages are
 * not pinned: under the DMA API the memory belongs to the device from the
 * driver's map/alloc until its unmap/free, and a driver must stop the
 * device before freeing it. A page freed early stays in the direct map (it
 * is online RAM), so a late copy corrupts only that page -- what real
 * hardware does without an IOMMU -- and never faults in the kernel.
 * Refcounts would not help anyway: the tail pages of a high-order DMA
 * allocation have none.
 */
static int pciem_dma_copy(struct pciem_dma_xfer *x, phys_addr_t phys,
			  void __user *user, size_t n)
{
	void *kaddr = phys_to_virt(phys);
	size_t left;

	/*
	 * Not copy_*_user: the segment passed access_ok() at validation, and the
	 * hardened-usercopy object checks of copy_{to,from}_user do not apply:
	 * a device reaches pages, not kernel objects, and those checks BUG()
	 * on a range crossing slab objects -- legal for a device, so a host
	 * could crash the kernel with them. Nor do we want copy_from_user's
	 * zeroing of the tail on a fault: host memory past the fault is left
	 * untouched, as a DMA write cut short would leave it.
	 */
	might_fault();
	if (x->to_host)
		left = pciem_copy_from_user(kaddr, user, n);
	else
		left = pciem_copy_to_user(user, kaddr, n);
	x->done += n - left;
	if (left) {
		pciem_dma_log(x->dev, "seg %u: user buffer at %p is not %s",
			      x->seg, user + (n - left),
			      x->to_host ? "readable" : "writable");
		return -EFAULT;
	}
	return 0;
}

/*
 * One segment, in pieces: a page at a time through a translating domain,
 * else up to PCIEM_DMA_CHUNK of contiguous RAM (each page checked) at once.
 * Bus mastering is checked before each piece so that a driver clearing it
 * stops a long transfer, as a real device's requests would stop being
 * forwarded.
 */
static int pciem_dma_segment(struct pciem_dma_xfer *x, const struct pciem_dma_seg *s)
{
	u64 bus = s->bus_addr, len = s->length;
	void __user *user = u64_to_user_ptr(s->user_addr);
	phys_addr_t phys;
	size_t n;
	int ret;

	while (len) {
		if (!pciem_dma_master_enabled(x->dev)) {
			pciem_dma_log(x->dev, "seg %u: refused at bus address %#llx: Bus Master Enable is off",
				      x->seg, bus);
			return -EPERM;
		}
		if (fatal_signal_pending(current))
			return -EINTR;
		ret = pciem_dma_translate(x, bus, &phys);
		if (ret)
			return ret;
		if (x->domain) {
			/* Only this IOMMU page is known to be contiguous. */
			n = min_t(u64, len, PAGE_SIZE - offset_in_page(bus));
			n = min_t(size_t, n, PAGE_SIZE - offset_in_page(phys));
			n = pciem_dma_ram_span(x, bus, phys, n, n);
		} else {
			n = min_t(u64, len, PCIEM_DMA_CHUNK - (phys & (PCIEM_DMA_CHUNK - 1)));
			n = pciem_dma_ram_span(x, bus, phys, n, len);
		}
		if (!n)
			return -ENXIO;
		ret = pciem_dma_copy(x, phys, user, n);
		if (ret)
			return ret;
		bus += n;
		user += n;
		len -= n;
		cond_resched();
	}
	return 0;
}

static int pciem_dma_check(struct pciem_dev *dev, const struct pciem_dma *d)
{
	if (d->size != sizeof(*d)) {
		pciem_dma_log(dev, "size %u, expected %zu", d->size, sizeof(*d));
		return -EINVAL;
	}
	if (d->dir != PCIEM_DMA_FROM_HOST && d->dir != PCIEM_DMA_TO_HOST) {
		pciem_dma_log(dev, "dir %u is not 1 (from host) or 2 (to host)", d->dir);
		return -EINVAL;
	}
	if (d->nsegs < 1 || d->nsegs > PCIEM_DMA_MAX_SEGS) {
		pciem_dma_log(dev, "nsegs %u is not 1..%u", d->nsegs, PCIEM_DMA_MAX_SEGS);
		return -EINVAL;
	}
	if (d->reserved0 || memchr_inv(d->reserved, 0, sizeof(d->reserved))) {
		pciem_dma_log(dev, "reserved fields must be zero");
		return -EINVAL;
	}
	return 0;
}

static int pciem_dma_check_segs(struct pciem_dev *dev, const struct pciem_dma_seg *segs,
				u32 nsegs)
{
	u32 i;

	for (i = 0; i < nsegs; i++) {
		const struct pciem_dma_seg *s = &segs[i];

		if (!s->length) {
			pciem_dma_log(dev, "seg %u: length is 0", i);
			return -EINVAL;
		}
		if (s->bus_addr + s->length - 1 < s->bus_addr) {
			pciem_dma_log(dev, "seg %u: bus_addr %#llx + length %#llx overflows",
				      i, s->bus_addr, s->length);
			return -EINVAL;
		}
		if (s->user_addr + s->length - 1 < s->user_addr) {
			pciem_dma_log(dev, "seg %u: user_addr %#llx + length %#llx overflows",
				      i, s->user_addr, s->length);
			return -EINVAL;
		}
		/* NULL or kernel: not user memory (the sim says the same). */
		if (!s->user_addr || !access_ok(u64_to_user_ptr(s->user_addr), s->length)) {
			pciem_dma_log(dev, "seg %u: user_addr %#llx length %#llx is not user memory",
				      i, s->user_addr, s->length);
			return -EFAULT;
		}
	}
	return 0;
}

/*
 * The device must be on the bus with a pci_dev; we take our own reference
 * so that a STOP from another thread cannot free it under the copy, and let
 * the mutex go: the copy faults on user memory, and mmap takes the mutex
 * under mmap_lock.
 */
static int pciem_dma_begin(struct pciem_dma_xfer *x)
{
	struct pciem_dev *dev = x->dev;
	int ret = 0;

	mutex_lock(&dev->lock);
	if (dev->state != PCIEM_STATE_REGISTERED && dev->state != PCIEM_STATE_STARTED) {
		pciem_dma_log(dev, "refused: the device is not registered");
		ret = -EINVAL;
	} else {
		x->pdev = pci_dev_get(dev->pdev);
	}
	mutex_unlock(&dev->lock);
	if (ret)
		return ret;
	if (!pciem_dma_master_enabled(dev)) {
		pciem_dma_log(dev, "refused: Bus Master Enable is off");
		ret = -EPERM;
		goto err_put;
	}
	ret = pciem_dma_domain(x);
	if (ret)
		goto err_put;
	return 0;
err_put:
	pci_dev_put(x->pdev);
	x->pdev = NULL;
	return ret;
}

long pciem_dma_ioctl(struct pciem_dev *dev, void __user *uarg)
{
	struct pciem_dma_xfer x = { .dev = dev };
	struct pciem_dma_seg *segs = NULL;
	struct pciem_dma d;
	long ret;
	u32 i;

	if (copy_from_user(&d, uarg, sizeof(d)))
		return -EFAULT;
	ret = pciem_dma_check(dev, &d);
	if (ret)
		goto out_count;
	/* At most PCIEM_DMA_MAX_SEGS * 24 bytes: the data itself never lands here. */
	segs = vmemdup_user(u64_to_user_ptr(d.segs), (size_t)d.nsegs * sizeof(*segs));
	if (IS_ERR(segs)) {
		ret = PTR_ERR(segs);
		segs = NULL;
		pciem_dma_log(dev, "segs: cannot read %u segments at %#llx", d.nsegs, d.segs);
		goto out_count;
	}
	ret = pciem_dma_check_segs(dev, segs, d.nsegs);
	if (ret)
		goto out_count;
	ret = pciem_dma_begin(&x);
	if (ret)
		goto out_count;

	x.to_host = d.dir == PCIEM_DMA_TO_HOST;
	for (i = 0; i < d.nsegs && !ret; i++) {
		x.seg = i;
		ret = pciem_dma_segment(&x, &segs[i]);
	}
	pci_dev_put(x.pdev);

	if (x.done)
		atomic64_add(x.done, x.to_host ? &dev->dma_bytes_to_host :
						 &dev->dma_bytes_from_host);
out_count:
	if (ret)
		atomic64_inc(&dev->dma_errors);
	kvfree(segs);
	d.done = x.done;
	/* done is reported on failure too: the caller learns where it stopped. */
	if (put_user(d.done, (u64 __user *)(uarg + offsetof(struct pciem_dma, done))))
		return -EFAULT;
	return ret;
}

void pciem_dma_counters(struct pciem_dev *dev, struct pciem_counters *c)
{
	c->dma_bytes_from_host = atomic64_read(&dev->dma_bytes_from_host);
	c->dma_bytes_to_host = atomic64_read(&dev->dma_bytes_to_host);
	c->dma_errors = atomic64_read(&dev->dma_errors);
}
