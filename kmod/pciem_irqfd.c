// SPDX-License-Identifier: GPL-2.0-only
/*
 * irqfd: an eventfd bound to a vector; every signal raises the vector with
 * PCIEM_IOC_IRQ RAISE semantics, without a syscall on /dev/pciem.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "pciem.h"
#include "pciem_irq_int.h"

struct pciem_irqfd_bind {
	struct list_head node;		/* in irq->irqfds, under irqfd_lock */
	struct pciem_irq_state *irq;
	struct eventfd_ctx *ctx;
	u32 vector;
	wait_queue_entry_t wait;
	wait_queue_head_t *wqh;
	poll_table pt;
	atomic64_t count;		/* signals not yet raised */
	struct work_struct raise;
	struct work_struct shutdown;	/* the eventfd was closed */
};

/* Raise once per signal: never coalesce, the count says how many. */
static void pciem_irqfd_raise_fn(struct work_struct *work)
{
	struct pciem_irqfd_bind *b = container_of(work, struct pciem_irqfd_bind, raise);

	while (atomic64_dec_if_positive(&b->count) >= 0) {
		pciem_irq_raise(b->irq, b->vector);
		cond_resched();
	}
}

/* Take the binding off the eventfd and free it; irqfd_lock not held. */
static void pciem_irqfd_free(struct pciem_irqfd_bind *b)
{
	u64 cnt;

	eventfd_ctx_remove_wait_queue(b->ctx, &b->wait, &cnt);
	/* Runs its own lock-taking path only when still listed: it is not. */
	cancel_work_sync(&b->shutdown);
	cancel_work_sync(&b->raise);
	eventfd_ctx_put(b->ctx);
	kfree(b);
}

static void pciem_irqfd_shutdown_fn(struct work_struct *work)
{
	struct pciem_irqfd_bind *b = container_of(work, struct pciem_irqfd_bind, shutdown);
	struct pciem_irq_state *irq = b->irq;
	u64 cnt;
	bool listed;

	mutex_lock(&irq->irqfd_lock);
	listed = !list_empty(&b->node);
	if (listed)
		list_del_init(&b->node);
	mutex_unlock(&irq->irqfd_lock);
	if (!listed)
		return;		/* deassign or release owns it */
	eventfd_ctx_remove_wait_queue(b->ctx, &b->wait, &cnt);
	flush_work(&b->raise);
	eventfd_ctx_put(b->ctx);
	kfree(b);
}

/* Called by eventfd_signal() under the eventfd's wait queue lock. */
static int pciem_irqfd_wakeup(wait_queue_entry_t *wait, unsigned int mode, int sync,
			      void *key)
{
	struct pciem_irqfd_bind *b = container_of(wait, struct pciem_irqfd_bind, wait);
	__poll_t flags = key_to_poll(key);
	u64 cnt;

	if (flags & EPOLLIN) {
		eventfd_ctx_do_read(b->ctx, &cnt);
		if (cnt) {
			atomic64_add(cnt, &b->count);
			schedule_work(&b->raise);
		}
	}
	if (flags & EPOLLHUP)
		schedule_work(&b->shutdown);
	return 0;
}

static void pciem_irqfd_queue(struct file *file, wait_queue_head_t *wqh, poll_table *pt)
{
	struct pciem_irqfd_bind *b = container_of(pt, struct pciem_irqfd_bind, pt);

	b->wqh = wqh;
	add_wait_queue(wqh, &b->wait);
}

int pciem_irqfd_assign(struct pciem_irq_state *irq, int fd, u32 vector)
{
	struct pciem_dev *dev = irq->dev;
	struct pciem_irqfd_bind *b, *other;
	struct fd f = fdget(fd);
	__poll_t events;
	int ret;

	if (!f.file) {
		pciem_log(dev, "irqfd: fd %d is not open", fd);
		return -EBADF;
	}
	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b) {
		ret = -ENOMEM;
		goto err_fd;
	}
	b->ctx = eventfd_ctx_fileget(f.file);
	if (IS_ERR(b->ctx)) {
		pciem_log(dev, "irqfd: fd %d is not an eventfd", fd);
		ret = PTR_ERR(b->ctx);
		goto err_free;
	}
	b->irq = irq;
	b->vector = vector;
	INIT_LIST_HEAD(&b->node);
	INIT_WORK(&b->raise, pciem_irqfd_raise_fn);
	INIT_WORK(&b->shutdown, pciem_irqfd_shutdown_fn);
	init_waitqueue_func_entry(&b->wait, pciem_irqfd_wakeup);
	init_poll_funcptr(&b->pt, pciem_irqfd_queue);

	mutex_lock(&irq->irqfd_lock);
	list_for_each_entry(other, &irq->irqfds, node)
		if (other->ctx == b->ctx && other->vector == vector) {
			mutex_unlock(&irq->irqfd_lock);
			pciem_log(dev, "irqfd: fd %d is already bound to vector %u", fd, vector);
			ret = -EBUSY;
			goto err_ctx;
		}
	list_add_tail(&b->node, &irq->irqfds);
	/* Signals from now on raise; one already counted raises now. */
	events = vfs_poll(f.file, &b->pt);
	mutex_unlock(&irq->irqfd_lock);
	if (events & EPOLLIN) {
		u64 cnt;

		spin_lock_irq(&b->wqh->lock);
		eventfd_ctx_do_read(b->ctx, &cnt);
		spin_unlock_irq(&b->wqh->lock);
		if (cnt) {
			atomic64_add(cnt, &b->count);
			schedule_work(&b->raise);
		}
	}
	fdput(f);
	return 0;

err_ctx:
	eventfd_ctx_put(b->ctx);
err_free:
	kfree(b);
err_fd:
	fdput(f);
	return ret;
}

int pciem_irqfd_deassign(struct pciem_irq_state *irq, int fd, u32 vector)
{
	struct pciem_irqfd_bind *b, *found = NULL;
	struct eventfd_ctx *ctx = eventfd_ctx_fdget(fd);

	if (IS_ERR(ctx)) {
		pciem_log(irq->dev, "irqfd: fd %d is not an eventfd", fd);
		return PTR_ERR(ctx);
	}
	mutex_lock(&irq->irqfd_lock);
	list_for_each_entry(b, &irq->irqfds, node)
		if (b->ctx == ctx && b->vector == vector) {
			found = b;
			list_del_init(&b->node);
			break;
		}
	mutex_unlock(&irq->irqfd_lock);
	eventfd_ctx_put(ctx);
	if (!found) {
		pciem_log(irq->dev, "irqfd: fd %d is not bound to vector %u", fd, vector);
		return -ENOENT;
	}
	pciem_irqfd_free(found);
	return 0;
}

void pciem_irqfd_release_all(struct pciem_irq_state *irq)
{
	struct pciem_irqfd_bind *b, *tmp;
	LIST_HEAD(gone);

	mutex_lock(&irq->irqfd_lock);
	list_for_each_entry_safe(b, tmp, &irq->irqfds, node)
		list_move_tail(&b->node, &gone);
	mutex_unlock(&irq->irqfd_lock);
	list_for_each_entry_safe(b, tmp, &gone, node) {
		list_del_init(&b->node);
		pciem_irqfd_free(b);
	}
}
