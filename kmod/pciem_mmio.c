// SPDX-License-Identifier: GPL-2.0-only
/*
 * Trapped BAR accesses, policies, the event ring and counters.
 * Placeholder: the hooks are wired into the device lifecycle; the engine
 * itself (pciem_trap.c) is not armed yet, so every request is refused.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/errno.h>

#include "pciem.h"

int pciem_mmio_init(void)
{
	return 0;
}

void pciem_mmio_exit(void)
{
}

int pciem_mmio_create(struct pciem_dev *dev, const struct pciem_device_desc *desc)
{
	return 0;
}

int pciem_mmio_register(struct pciem_dev *dev)
{
	return 0;
}

void pciem_mmio_unregister(struct pciem_dev *dev)
{
}

void pciem_mmio_host_gone(struct pciem_dev *dev)
{
}

void pciem_mmio_destroy(struct pciem_dev *dev)
{
}

int pciem_mmio_ring_mmap(struct pciem_dev *dev, struct vm_area_struct *vma)
{
	pciem_log(dev, "mmap: the event ring is not implemented yet");
	return -EINVAL;
}

void pciem_mmio_cfg_written(struct pciem_dev *dev, u32 offset, u32 width, u32 value)
{
}

long pciem_mmio_ioctl(struct pciem_dev *dev, unsigned int cmd, void __user *uarg)
{
	pciem_log(dev, "ioctl %#x is not implemented yet", cmd);
	return -ENOTTY;
}
