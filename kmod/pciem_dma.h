/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Device DMA on behalf of the host: copies between host memory at bus
 * addresses and the caller's buffers, through the IOMMU when there is one.
 */
#ifndef PCIEM_DMA_H
#define PCIEM_DMA_H

struct pciem_dev;
struct pciem_counters;

long pciem_dma_ioctl(struct pciem_dev *dev, void __user *uarg);
void pciem_dma_counters(struct pciem_dev *dev, struct pciem_counters *c);

#endif /* PCIEM_DMA_H */
