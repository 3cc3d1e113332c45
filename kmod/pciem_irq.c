// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupts of the virtual bus. Placeholder: the hooks are wired into the
 * bus and device lifecycle; delivery is refused until the MSI domain exists.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/errno.h>

#include "pciem.h"

int pciem_irq_bus_init(struct pci_bus *bus)
{
	return 0;
}

void pciem_irq_bus_exit(void)
{
}

int pciem_irq_create(struct pciem_dev *dev)
{
	return 0;
}

void pciem_irq_unregister(struct pciem_dev *dev)
{
}

void pciem_irq_destroy(struct pciem_dev *dev)
{
}

void pciem_irq_cfg_written(struct pciem_dev *dev, u32 offset, u32 width)
{
}

void pciem_irq_msix_written(struct pciem_dev *dev, u32 bar, u64 offset, u32 width)
{
}

long pciem_irq_ioctl(struct pciem_dev *dev, unsigned int cmd, void __user *uarg)
{
	pciem_log(dev, "ioctl %#x is not implemented yet", cmd);
	return -ENOTTY;
}

void pciem_irq_counters(struct pciem_dev *dev, struct pciem_counters *c)
{
}
