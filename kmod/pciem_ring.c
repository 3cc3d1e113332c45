// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event ring shared with the host: allocation, publishing events from
 * any context (page faults included), waking the host through its eventfd,
 * and the host's mmap of it.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/cpumask.h>
#include <linux/err.h>
#include <linux/eventfd.h>
#include <linux/hardirq.h>
#include <linux/mm.h>
#include <linux/smp.h>
#include <linux/vmalloc.h>

#include "pciem_ring.h"

static void pciem_ring_remote_kick(void *info);

int pciem_ring_alloc(struct pciem_ring *ring, u32 entries)
{
	u32 answers_off, events_off;
	u64 size;

	/* Answers after the control block, events on a cache line of their own. */
	answers_off = ALIGN(sizeof(struct pciem_ring_ctrl), 64);
	events_off = ALIGN(answers_off + nr_cpu_ids * sizeof(struct pciem_answer), 64);
	size = PAGE_ALIGN(events_off + (u64)entries * sizeof(struct pciem_event));
	if (size > U32_MAX)
		return -EINVAL;

	ring->mem = vmalloc_user(size);	/* zeroed */
	if (!ring->mem)
		return -ENOMEM;
	ring->ctrl = ring->mem;
	ring->answers = ring->mem + answers_off;
	ring->events = ring->mem + events_off;
	ring->entries = entries;
	ring->nslots = nr_cpu_ids;
	ring->map_size = size;
	ring->tail = 0;
	raw_spin_lock_init(&ring->lock);
	RCU_INIT_POINTER(ring->eventfd, NULL);
	INIT_CSD(&ring->remote_kick, pciem_ring_remote_kick, ring);

	ring->ctrl->entries = entries;
	ring->ctrl->event_size = sizeof(struct pciem_event);
	ring->ctrl->answers_offset = answers_off;
	ring->ctrl->answer_slots = ring->nslots;
	ring->ctrl->events_offset = events_off;
	ring->ctrl->map_size = size;
	return 0;
}

void pciem_ring_free(struct pciem_ring *ring)
{
	struct eventfd_ctx *ctx = rcu_dereference_protected(ring->eventfd, 1);

	/* The IPI code writes the csd after our function returns: wait for it. */
	while (smp_load_acquire(&ring->remote_kick.node.u_flags) & CSD_FLAG_LOCK)
		cpu_relax();

	if (ctx)
		eventfd_ctx_put(ctx);
	RCU_INIT_POINTER(ring->eventfd, NULL);
	vfree(ring->mem);
	ring->mem = NULL;
}

u64 pciem_ring_try_publish(struct pciem_ring *ring, struct pciem_event *ev)
{
	struct pciem_event *slot;
	unsigned long flags;
	u64 seq;

	raw_spin_lock_irqsave(&ring->lock, flags);
	/* The host's head may be anything it wrote; trust only what fits. */
	if (ring->tail - READ_ONCE(ring->ctrl->head) >= ring->entries) {
		raw_spin_unlock_irqrestore(&ring->lock, flags);
		return 0;
	}
	seq = ++ring->tail;
	ev->seq = seq;
	slot = &ring->events[(seq - 1) & (ring->entries - 1)];
	memcpy(slot, ev, sizeof(*slot));
	/* The event's fields before the tail that announces it. */
	smp_store_release(&ring->ctrl->tail, seq);
	raw_spin_unlock_irqrestore(&ring->lock, flags);
	return seq;
}

/*
 * Pairs with the host: it sets host_sleeping, then re-reads tail. Either it
 * sees our tail or we see its flag.
 */
static bool pciem_ring_host_sleeping(struct pciem_ring *ring)
{
	smp_mb();
	return READ_ONCE(ring->ctrl->host_sleeping);
}

void pciem_ring_kick(struct pciem_ring *ring)
{
	struct eventfd_ctx *ctx;

	if (!pciem_ring_host_sleeping(ring))
		return;
	WRITE_ONCE(ring->ctrl->host_sleeping, 0);
	rcu_read_lock();
	ctx = rcu_dereference(ring->eventfd);
	if (ctx)
		eventfd_signal(ctx, 1);
	rcu_read_unlock();
}

static void pciem_ring_remote_kick(void *info)
{
	pciem_ring_kick(info);
}

void pciem_ring_kick_away(struct pciem_ring *ring)
{
	unsigned int cpu, self;

	/*
	 * Only a sleeping host needs a wake-up, and only a wake-up chooses
	 * where the host runs next. IPIs cannot be sent from NMI context (an
	 * int3 kprobe counts as one): there, and on one CPU, wake it here.
	 * A kick still in flight may have read the flag before our tail, so
	 * -EBUSY also falls back to the local kick.
	 */
	if (!pciem_ring_host_sleeping(ring))
		return;
	/* The next CPU up: spinners on different CPUs do not all pick CPU 0. */
	self = smp_processor_id();
	cpu = cpumask_next(self, cpu_online_mask);
	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	if (in_nmi() || cpu == self ||
	    smp_call_function_single_async(cpu, &ring->remote_kick))
		pciem_ring_kick(ring);
}

int pciem_ring_set_eventfd(struct pciem_ring *ring, int fd)
{
	struct eventfd_ctx *ctx = NULL, *old;

	if (fd >= 0) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	old = rcu_replace_pointer(ring->eventfd, ctx, 1);
	if (old) {
		synchronize_rcu();	/* no kick still uses it */
		eventfd_ctx_put(old);
	}
	return 0;
}

int pciem_ring_mmap(struct pciem_ring *ring, struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_end - vma->vm_start > ring->map_size)
		return -EINVAL;
	return remap_vmalloc_range(vma, ring->mem, 0);
}
