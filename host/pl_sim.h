/* SPDX-License-Identifier: MIT */
/*
 * The sim backend's private state, shared by its parts: lifecycle (pl_sim.c),
 * trapped accesses and the event ring (pl_sim_mmio.c), interrupts
 * (pl_sim_irq.c) and host memory with DMA (pl_sim_dma.c).
 */
#ifndef PL_SIM_H
#define PL_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "../kmod/pciem_cfg.h"
#include "../kmod/pciem_policy.h"
#include "pl_backend.h"

enum {
	SIM_ANSWER_SLOTS = 1,		/* one simulated CPU: slot 0 */
	SIM_MAX_IRQFDS = 64,
};

struct sim_irq_entry {
	uint64_t seq;			/* 1, 2, ... in delivery order */
	uint32_t kind;			/* PCIEM_SIM_IRQ_* */
	uint32_t vector;		/* vector, or the new level for INTx */
	uint64_t addr;			/* MSI/MSI-X message address */
	uint32_t data;			/* MSI/MSI-X message data */
};

struct sim_irqfd {
	int fd;				/* our own reference */
	int64_t id;			/* which eventfd (pl_sim_eventfd_id) */
	uint32_t vector;
};

struct pl_sim {
	struct pciem_cfg cfg;
	void *shadow[PCIEM_NUM_BARS];
	int slot;		/* 0 = not on the bus */
	bool dry;		/* description check only: no shadows, no bus */

	/* policy tables (kmod/pciem_policy.c), per BAR (its lower slot) */
	struct pciem_policy_range *ranges[PCIEM_NUM_BARS];
	uint32_t nranges[PCIEM_NUM_BARS];

	/* the event ring, same layout as the kernel's mapping */
	void *ring;
	size_t ring_size;
	struct pciem_ring_ctrl *ctrl;
	struct pciem_answer *answers;
	struct pciem_event *events;
	uint32_t sync_timeout_us;
	int eventfd;			/* -1: none */
	bool timeout_logged;
	/* the one sync access in flight (the sim has one CPU) */
	uint64_t pending_seq;		/* 0: none */
	uint32_t pending_width;
	bool pending_read;

	struct pciem_counters counters;

	/* interrupts */
	bool intx_asserted;		/* the device's line, before INTx Disable */
	bool intx_seen;			/* what the OS's interrupt controller sees */
	struct sim_irq_entry *irq_log;
	uint32_t irq_count;		/* entries in irq_log */
	uint32_t irq_cap;
	uint64_t irq_seq;
	struct sim_irqfd irqfds[SIM_MAX_IRQFDS];
	uint32_t nirqfds;
};

static inline struct pl_sim *pl_sim_of(struct pl_dev *dev)
{
	return dev->priv;
}

/* pl_sim_mmio.c */
int pl_sim_mmio_create(struct pl_dev *dev, const struct pciem_device_desc *desc);
int pl_sim_mmio_register(struct pl_dev *dev);
void pl_sim_mmio_destroy(struct pl_sim *s);
int pl_sim_ring_map(struct pl_dev *dev, void **ptr, uint64_t *len);
int pl_sim_set_policy(struct pl_dev *dev, const struct pciem_policy_desc *p);
int pl_sim_set_sync_timeout(struct pl_dev *dev, uint32_t timeout_us);
int pl_sim_set_eventfd(struct pl_dev *dev, int fd);
int pl_sim_counters(struct pl_dev *dev, struct pciem_counters *c);
/* An OS config write was applied: queue its CFG_WRITE event. */
void pl_sim_cfg_event(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t value);

/* pl_sim_irq.c */
int pl_sim_irq(struct pl_dev *dev, uint32_t op, uint32_t vector);
int pl_sim_irqfd(struct pl_dev *dev, int fd, uint32_t vector, uint32_t flags);
/* Identity of the eventfd behind @fd; -EBADF not open, -EINVAL not an eventfd. */
int64_t pl_sim_eventfd_id(int fd);
/* The dispatch step: raise the vectors of signalled irqfds. */
void pl_sim_irq_step(struct pl_dev *dev);
/* Reset (register, stop): pending bits cleared, MSI-X entries masked. */
void pl_sim_irq_reset(struct pl_sim *s);
void pl_sim_irq_destroy(struct pl_sim *s);
/* The OS wrote config space / the MSI-X table or PBA: masks may have changed. */
void pl_sim_irq_cfg_written(struct pl_dev *dev, uint32_t offset, uint32_t width);
void pl_sim_irq_msix_written(struct pl_dev *dev, uint32_t bar, uint64_t offset, uint32_t width);
/* Whether [offset, offset + len) of @bar touches the MSI-X table or PBA. */
bool pl_sim_msix_owned(struct pl_sim *s, uint32_t bar, uint64_t offset, uint64_t len);

/* pl_sim_dma.c */
int pl_sim_dma(struct pl_dev *dev, uint32_t dir, const struct pciem_dma_seg *segs,
	       uint32_t nsegs, uint64_t *done);

#endif /* PL_SIM_H */
