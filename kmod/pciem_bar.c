// SPDX-License-Identifier: GPL-2.0-only
/*
 * BAR shadow memory: zeroed kernel pages, one block per BAR, where the
 * device keeps its register contents. The owning fd maps BAR n at mmap
 * offset n << PCIEM_MMAP_BAR_SHIFT.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/mm.h>
#include <linux/vmalloc.h>

#include "pciem.h"

#define PCIEM_MMAP_BAR_PGSHIFT	(PCIEM_MMAP_BAR_SHIFT - PAGE_SHIFT)

/*
 * The caller has checked that index is free and len a power of two of at
 * least 4 KiB.
 */
int pciem_bar_alloc(struct pciem_dev *dev, u32 index, u64 len, u32 flags)
{
	struct pciem_bar *bar = &dev->bars[index];
	void *shadow;

	/* Refuse early what would starve the machine; vmalloc would warn. */
	if (len > PCIEM_BAR_SHADOW_MAX || (len >> PAGE_SHIFT) > totalram_pages() / 2) {
		pciem_log(dev, "add_bar: length %#llx: bar %u is too large for its shadow memory (max %#llx, half of RAM)",
			  len, index, PCIEM_BAR_SHADOW_MAX);
		return -ENOMEM;
	}
	shadow = vmalloc_user(len);
	if (!shadow) {
		pciem_log(dev, "add_bar: length %#llx: no memory for bar %u's shadow",
			  len, index);
		return -ENOMEM;
	}
	bar->shadow = shadow;
	bar->len = len;
	bar->flags = flags;
	return 0;
}

void pciem_bar_free(struct pciem_dev *dev, u32 index)
{
	struct pciem_bar *bar = &dev->bars[index];

	vfree(bar->shadow);
	bar->shadow = NULL;
	bar->len = 0;
	bar->flags = 0;
}

int pciem_bar_mmap(struct pciem_dev *dev, struct vm_area_struct *vma)
{
	unsigned long index = vma->vm_pgoff >> PCIEM_MMAP_BAR_PGSHIFT;
	unsigned long pgoff = vma->vm_pgoff & ((1UL << PCIEM_MMAP_BAR_PGSHIFT) - 1);
	unsigned long len = vma->vm_end - vma->vm_start;
	u64 off = (u64)pgoff << PAGE_SHIFT;
	struct pciem_bar *bar;
	int ret = -EINVAL;

	if (index >= PCIEM_NUM_BARS) {
		pciem_log(dev, "mmap: offset %#llx selects bar %lu; bars are 0..5",
			  (u64)vma->vm_pgoff << PAGE_SHIFT, index);
		return -EINVAL;
	}
	/* A private mapping would copy on write and hide the device's writes. */
	if (!(vma->vm_flags & VM_SHARED)) {
		pciem_log(dev, "mmap: bar %lu must be mapped MAP_SHARED", index);
		return -EINVAL;
	}

	mutex_lock(&dev->lock);
	bar = &dev->bars[index];
	if (!bar->shadow) {
		pciem_log(dev, "mmap: bar %lu is not described", index);
		goto out;
	}
	if (off >= bar->len || len > bar->len - off) {
		pciem_log(dev, "mmap: %#lx bytes at +%#llx do not fit bar %lu (%#llx bytes)",
			  len, off, index, bar->len);
		goto out;
	}
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	ret = remap_vmalloc_range(vma, bar->shadow, pgoff);
out:
	mutex_unlock(&dev->lock);
	return ret;
}
