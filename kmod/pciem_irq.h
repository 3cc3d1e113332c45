/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Interrupts of the virtual bus: an MSI irq domain so drivers get real MSI
 * and MSI-X vectors, masks and pending bits, level INTx, and irqfds.
 */
#ifndef PCIEM_IRQ_H
#define PCIEM_IRQ_H

#include <linux/types.h>

struct pci_bus;
struct pciem_dev;
struct pciem_counters;

/* The root bus exists, nothing is scanned yet: give it its MSI domain. */
int pciem_irq_bus_init(struct pci_bus *bus);
/* The root bus is gone. */
void pciem_irq_bus_exit(void);

int pciem_irq_create(struct pciem_dev *dev);
/* STOP: the device has left the bus; pending state is forgotten. */
void pciem_irq_unregister(struct pciem_dev *dev);
/* The fd is closing: release irqfds, flush deferred work, free. */
void pciem_irq_destroy(struct pciem_dev *dev);

/*
 * The OS wrote config space (Command, MSI mask bits, ...), called from
 * pci_ops under raw spinlocks with interrupts off: never deliver from here,
 * defer (irq_work).
 */
void pciem_irq_cfg_written(struct pciem_dev *dev, u32 offset, u32 width);
/*
 * A trapped write landed in the MSI-X table or PBA shadow of @bar (fault
 * context, interrupts off): vector masks may have changed.
 */
void pciem_irq_msix_written(struct pciem_dev *dev, u32 bar, u64 offset, u32 width);

/* IRQ and IRQFD. */
long pciem_irq_ioctl(struct pciem_dev *dev, unsigned int cmd, void __user *uarg);
void pciem_irq_counters(struct pciem_dev *dev, struct pciem_counters *c);

#endif /* PCIEM_IRQ_H */
