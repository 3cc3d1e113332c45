/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pciem_testdrv: a guest-side PCI driver that exercises a pciem device's BARs,
 * interrupts and DMA from kernel code. Shared state between the core and the
 * interrupt (testdrv_irq.c) and DMA (testdrv_dma.c) parts.
 */
#ifndef PCIEM_TESTDRV_H
#define PCIEM_TESTDRV_H

#include <linux/pci.h>
#include <linux/debugfs.h>

#define TESTDRV_NAME "pciem_testdrv"
#define TESTDRV_NUM_BARS 6

/*
 * One bound device. debugfs: /sys/kernel/debug/pciem_testdrv/<pci name>/ is
 * dir; the irq and dma parts add their own files under it.
 * bar[i] is the driver's mapping of BAR i (NULL when absent), bar_len[i] the
 * BAR length (the mapping may cover less; see the core's "map" knob).
 */
struct testdrv {
	struct pci_dev *pdev;
	struct dentry *dir;
	void __iomem *bar[TESTDRV_NUM_BARS];
	resource_size_t bar_len[TESTDRV_NUM_BARS];
	void *irq_priv;		/* owned by testdrv_irq.c */
	void *dma_priv;		/* owned by testdrv_dma.c */
};

/*
 * Called from probe after the BARs are mapped, pci_enable_device() and
 * pci_set_master() are done and dir exists; return 0 or -errno (probe fails).
 * The remove hooks run before the BARs are unmapped and dir is removed.
 */
int testdrv_irq_probe(struct testdrv *td);
void testdrv_irq_remove(struct testdrv *td);
int testdrv_dma_probe(struct testdrv *td);
void testdrv_dma_remove(struct testdrv *td);

#endif /* PCIEM_TESTDRV_H */
