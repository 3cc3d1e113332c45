/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The event ring shared with the host: control block, answer slots (one per
 * CPU) and events in one vmalloc_user area the host mmaps.
 */
#ifndef PCIEM_RING_H
#define PCIEM_RING_H

#include <linux/rcupdate.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include "../include/uapi/pciem.h"

struct eventfd_ctx;
struct vm_area_struct;

struct pciem_ring {
	void *mem;			/* vmalloc_user(map_size) */
	struct pciem_ring_ctrl *ctrl;
	struct pciem_answer *answers;	/* [nslots] */
	struct pciem_event *events;	/* [entries] */
	u32 entries;
	u32 nslots;
	u32 map_size;
	raw_spinlock_t lock;		/* producers; any CPU, any context */
	u64 tail;			/* seq of the newest published event */
	struct eventfd_ctx __rcu *eventfd;
	call_single_data_t remote_kick;	/* pciem_ring_kick_away() */
};

/* entries: already validated (power of two). */
int pciem_ring_alloc(struct pciem_ring *ring, u32 entries);
/* Drops the eventfd too. */
void pciem_ring_free(struct pciem_ring *ring);

/*
 * Publish *ev (seq filled in here) if there is room; returns its seq, or 0
 * when the ring is full. Any context; takes the ring lock.
 */
u64 pciem_ring_try_publish(struct pciem_ring *ring, struct pciem_event *ev);
/* After publishing: wake the host if it said it is going to sleep. */
void pciem_ring_kick(struct pciem_ring *ring);
/*
 * The same, for a CPU about to spin on the answer with interrupts off: the
 * wake-up is done from another CPU, so the scheduler does not queue the host
 * behind the spinning CPU, where it could not run before the deadline.
 */
void pciem_ring_kick_away(struct pciem_ring *ring);

/* The host's answer for seq in slot, if it is there yet. */
static inline bool pciem_ring_answer(struct pciem_ring *ring, u32 slot, u64 seq,
				     u64 *value)
{
	struct pciem_answer *a = &ring->answers[slot];

	if (smp_load_acquire(&a->seq) != seq)
		return false;
	*value = READ_ONCE(a->value);
	return true;
}

/* fd < 0 detaches. Sleeps. */
int pciem_ring_set_eventfd(struct pciem_ring *ring, int fd);

/* vma: shared, from the ring's start, at most map_size bytes. */
int pciem_ring_mmap(struct pciem_ring *ring, struct vm_area_struct *vma);

#endif /* PCIEM_RING_H */
