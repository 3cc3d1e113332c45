// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device DMA on behalf of the host. Placeholder until the copy engine lands.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/errno.h>

#include "pciem.h"

long pciem_dma_ioctl(struct pciem_dev *dev, void __user *uarg)
{
	pciem_log(dev, "dma: not implemented yet");
	return -ENOTTY;
}

void pciem_dma_counters(struct pciem_dev *dev, struct pciem_counters *c)
{
}
