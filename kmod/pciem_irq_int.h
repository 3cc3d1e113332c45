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
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "pciem_vec.h"

/* Messages sent and not yet delivered, per device (a power of two). */
#define PCIEM_IRQ_QUEUE_LEN	4096

struct pciem_irq_state {
	struct pciem_dev *dev;
	/*
	 * Every message goes through this queue to deliver_work, never straight
	 * from the raiser: a handler may read a SYNC register, which only the
	 * host (maybe the very thread raising) can answer. Not coalesced:
	 * each raise is one entry; a full queue makes the raiser wait.
	 */
	raw_spinlock_t queue_lock;
	struct pciem_vec_msg *queue;
	u32 qhead, qtail;		/* free-running */
	bool rescan;			/* mask_work stopped for lack of room */
	wait_queue_head_t queue_room;
	struct work_struct deliver_work;
	/* A mask, enable or INTx Disable change: send what became deliverable. */
	struct irq_work mask_work;
	/* Level INTx: delivered while up, again after each end of interrupt. */
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
extern struct workqueue_struct *pciem_irq_wq;	/* unbound: any CPU delivers */
unsigned int pciem_msi_find_irq(const struct pciem_vec_msg *msg);
unsigned int pciem_intx_irq(unsigned int slot, bool create);

/* pciem_irqfd.c */
int pciem_irqfd_assign(struct pciem_irq_state *irq, int fd, u32 vector);
int pciem_irqfd_deassign(struct pciem_irq_state *irq, int fd, u32 vector);
void pciem_irqfd_release_all(struct pciem_irq_state *irq);

#endif /* PCIEM_IRQ_INT_H */
