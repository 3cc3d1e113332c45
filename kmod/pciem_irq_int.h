/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Inside the interrupt code: the per-device state shared by pciem_irq.c
 * (raise, masks, INTx), pciem_msi.c (the bus's irq domains) and
 * pciem_irqfd.c (eventfd bindings).
 */
#ifndef PCIEM_IRQ_INT_H
#define PCIEM_IRQ_INT_H

#include <linux/irq_work.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>

#include "pciem_vec.h"

struct pciem_irq_state {
	struct pciem_dev *dev;
	/* A mask, enable or INTx Disable change: deliver what became deliverable. */
	struct irq_work mask_work;
	/* Level INTx: the line is delivered again after each end of interrupt. */
	struct work_struct intx_work;
	unsigned int intx_virq;		/* 0 until the line is first driven */
	atomic64_t delivered;
	atomic64_t pended;
	atomic_t unroutable_logged;
	struct mutex irqfd_lock;	/* irqfds */
	struct list_head irqfds;
};

/* pciem_irq.c */
int pciem_irq_raise(struct pciem_irq_state *irq, u32 vector);
void pciem_irq_intx_unmasked(unsigned int virq, void *chip_data);

/* pciem_msi.c */
unsigned int pciem_msi_find_irq(const struct pciem_vec_msg *msg);
unsigned int pciem_intx_irq(unsigned int slot, bool create);

/* pciem_irqfd.c */
int pciem_irqfd_assign(struct pciem_irq_state *irq, int fd, u32 vector);
int pciem_irqfd_deassign(struct pciem_irq_state *irq, int fd, u32 vector);
void pciem_irqfd_release_all(struct pciem_irq_state *irq);

#endif /* PCIEM_IRQ_INT_H */
