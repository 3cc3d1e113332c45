/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the trapped-access code (pciem_mmio.c) and its ioctls and counters
 * (pciem_mmio_ctl.c) share: the per-device state. Private to those two.
 */
#ifndef PCIEM_MMIO_INT_H
#define PCIEM_MMIO_INT_H

#include <linux/atomic.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/types.h>

#include "pciem.h"
#include "pciem_policy.h"
#include "pciem_ring.h"

#define PCIEM_SYNC_MAX_TIMEOUT_US	10000000u

struct pciem_policy_table {
	struct rcu_head rcu;
	u32 n;
	struct pciem_policy_range r[];
};

/* A kernel-owned region of a BAR: MSI-X table or PBA. */
struct pciem_msix_region {
	u32 bar;
	u64 start, end;		/* end == 0: none */
};

struct pciem_mmio {
	struct mutex lock;		/* policy tables, eventfd */
	struct pciem_ring ring;
	u64 timeout_ns;
	bool host_gone;
	unsigned long logged;		/* PCIEM_LOGGED_* bits: log once */
	struct pciem_policy_table __rcu *policy[PCIEM_NUM_BARS];
	struct pciem_msix_region msix[2];	/* table, PBA; set at REGISTER */
	struct dentry *debugfs;
	atomic64_t trap_reads, trap_writes, memory_accesses, events;
	atomic64_t sync_roundtrips, sync_timeouts, undecodable, ring_full_waits;
};

enum {
	PCIEM_LOGGED_TIMEOUT,
	PCIEM_LOGGED_UNDECODABLE,
	PCIEM_LOGGED_RING_FULL,
};

/* The device's counters, the module's and the IRQ and DMA parts' together. */
void pciem_mmio_fill_counters(struct pciem_dev *dev, struct pciem_counters *c);

#endif /* PCIEM_MMIO_INT_H */
