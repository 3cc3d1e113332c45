// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupts of one device: raise MSI/MSI-X vectors the way the driver set
 * them up (decisions in pciem_vec.c), pending bits delivered on unmask, a
 * level INTx line, the IRQ and IRQFD ioctls and the interrupt counters.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/errno.h>
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/pci_regs.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/wait.h>
#include <linux/uaccess.h>

#include "pciem.h"
#include "pciem_irq_int.h"

static struct pciem_irq_state *pciem_irq_of(struct pciem_dev *dev)
{
	/* Published at CREATE; ioctls may run before it. */
	return smp_load_acquire(&dev->irq);
}

static void pciem_irq_bars(struct pciem_dev *dev, void *bars[PCIEM_NUM_BARS])
{
	int i;

	for (i = 0; i < PCIEM_NUM_BARS; i++)
		bars[i] = dev->bars[i].shadow;
}

/* Send a message the driver programmed to the Linux irq it names. */
static void pciem_irq_send(struct pciem_irq_state *irq, const struct pciem_vec_msg *msg)
{
	unsigned int virq;
	int ret = -ENOENT;

	rcu_read_lock();	/* the irq descriptor outlives the lookup */
	virq = pciem_msi_find_irq(msg);
	if (virq)
		ret = generic_handle_irq_safe(virq);
	rcu_read_unlock();
	if (!ret) {
		atomic64_inc(&irq->delivered);
		return;
	}
	/* A real device's write would go nowhere too; say so once. */
	if (!atomic_xchg(&irq->unroutable_logged, 1))
		pciem_log(irq->dev,
			  "%s vector %u: message address %#llx data %#x reaches no interrupt; dropped",
			  msg->msix ? "msi-x" : "msi", msg->vector, msg->addr, msg->data);
}

static bool pciem_irq_queue_room(struct pciem_irq_state *irq)
{
	return irq->qtail - irq->qhead < PCIEM_IRQ_QUEUE_LEN;
}

/* Under queue_lock, with room. */
static void pciem_irq_push(struct pciem_irq_state *irq, const struct pciem_vec_msg *msg)
{
	irq->queue[irq->qtail++ & (PCIEM_IRQ_QUEUE_LEN - 1)] = *msg;
}

/* Process context: waits for room (killable), then queues the message. */
static int pciem_irq_queue_msg(struct pciem_irq_state *irq, const struct pciem_vec_msg *msg)
{
	unsigned long flags;
	bool room;
	int ret;

	for (;;) {
		raw_spin_lock_irqsave(&irq->queue_lock, flags);
		room = pciem_irq_queue_room(irq);
		if (room)
			pciem_irq_push(irq, msg);
		raw_spin_unlock_irqrestore(&irq->queue_lock, flags);
		if (room)
			break;
		ret = wait_event_killable(irq->queue_room, READ_ONCE(irq->qtail) -
					  READ_ONCE(irq->qhead) < PCIEM_IRQ_QUEUE_LEN);
		if (ret)
			return ret;
	}
	queue_work(pciem_irq_wq, &irq->deliver_work);
	return 0;
}

static void pciem_irq_deliver_fn(struct work_struct *work)
{
	struct pciem_irq_state *irq = container_of(work, struct pciem_irq_state, deliver_work);
	struct pciem_vec_msg msg;
	unsigned long flags;
	bool rescan;

	for (;;) {
		raw_spin_lock_irqsave(&irq->queue_lock, flags);
		if (irq->qhead == irq->qtail) {
			rescan = irq->rescan;
			irq->rescan = false;
			raw_spin_unlock_irqrestore(&irq->queue_lock, flags);
			break;
		}
		msg = irq->queue[irq->qhead++ & (PCIEM_IRQ_QUEUE_LEN - 1)];
		raw_spin_unlock_irqrestore(&irq->queue_lock, flags);
		if (wq_has_sleeper(&irq->queue_room))
			wake_up(&irq->queue_room);
		pciem_irq_send(irq, &msg);
		cond_resched();
	}
	if (rescan)
		irq_work_queue(&irq->mask_work);
}

int pciem_irq_raise(struct pciem_irq_state *irq, u32 vector)
{
	struct pciem_dev *dev = irq->dev;
	void *bars[PCIEM_NUM_BARS];
	struct pciem_vec_msg msg;
	unsigned long flags;
	int ret;

	pciem_irq_bars(dev, bars);
	raw_spin_lock_irqsave(&dev->cfg_lock, flags);
	ret = pciem_vec_raise(dev->cfg, bars, vector, &msg);
	raw_spin_unlock_irqrestore(&dev->cfg_lock, flags);
	if (ret == PCIEM_VEC_DELIVER)
		return pciem_irq_queue_msg(irq, &msg);
	if (ret == PCIEM_VEC_PENDING)
		atomic64_inc(&irq->pended);
	return ret;
}

/*
 * Queue every pending vector an unmask released (irq_work: interrupts off).
 * A vector stays pending while the queue is full; deliver_work rescans.
 */
static void pciem_irq_queue_unmasked(struct pciem_irq_state *irq)
{
	struct pciem_dev *dev = irq->dev;
	void *bars[PCIEM_NUM_BARS];
	struct pciem_vec_msg msg;
	unsigned long flags;
	bool found, queued = false;
	u32 cursor = 0;

	pciem_irq_bars(dev, bars);
	do {
		raw_spin_lock_irqsave(&dev->cfg_lock, flags);
		raw_spin_lock(&irq->queue_lock);
		found = false;
		if (!pciem_irq_queue_room(irq))
			irq->rescan = true;
		else
			found = pciem_vec_next_unmasked(dev->cfg, bars, &cursor, &msg);
		if (found)
			pciem_irq_push(irq, &msg);
		raw_spin_unlock(&irq->queue_lock);
		raw_spin_unlock_irqrestore(&dev->cfg_lock, flags);
		queued |= found;
	} while (found);
	if (queued || irq->rescan)
		queue_work(pciem_irq_wq, &irq->deliver_work);
}

/* ---- INTx ---------------------------------------------------------------- */

static bool pciem_intx_up(struct pciem_dev *dev)
{
	unsigned long flags;
	bool up;

	raw_spin_lock_irqsave(&dev->cfg_lock, flags);
	up = pciem_vec_intx_line(dev->cfg);
	raw_spin_unlock_irqrestore(&dev->cfg_lock, flags);
	return up;
}

/*
 * The slot's INTx irq exists once a driver probed (pci_assign_irq, which
 * then writes Interrupt Line): link it to us so its unmask finds the line.
 * No locks held: irq_set_chip_data takes the irq's lock.
 */
static unsigned int pciem_intx_bind(struct pciem_irq_state *irq)
{
	unsigned int slot = READ_ONCE(irq->dev->slot);
	unsigned int virq = READ_ONCE(irq->intx_virq);

	if (virq || !slot)
		return virq;
	virq = pciem_intx_irq(slot, false);
	if (virq) {
		irq_set_chip_data(virq, irq);
		WRITE_ONCE(irq->intx_virq, virq);
	}
	return virq;
}

static void pciem_intx_work_fn(struct work_struct *work)
{
	struct pciem_irq_state *irq = container_of(work, struct pciem_irq_state, intx_work);
	unsigned int virq = READ_ONCE(irq->intx_virq);

	if (virq && pciem_intx_up(irq->dev) && !generic_handle_irq_safe(virq))
		atomic64_inc(&irq->delivered);
}

/* The level flow ended (or the driver enabled the irq): still up, again. */
void pciem_irq_intx_unmasked(unsigned int virq, void *chip_data)
{
	struct pciem_irq_state *irq = chip_data;

	if (irq && pciem_intx_up(irq->dev))
		queue_work(pciem_irq_wq, &irq->intx_work);
}

static int pciem_irq_intx(struct pciem_irq_state *irq, bool assert)
{
	struct pciem_dev *dev = irq->dev;
	unsigned int slot = READ_ONCE(dev->slot);
	unsigned long flags;
	bool up;
	int ret;

	if (!slot) {
		pciem_log(dev, "irq: intx: the device is not on the bus");
		return -ENOTCONN;
	}
	raw_spin_lock_irqsave(&dev->cfg_lock, flags);
	ret = pciem_vec_intx_set(dev->cfg, assert);
	up = pciem_vec_intx_line(dev->cfg);
	raw_spin_unlock_irqrestore(&dev->cfg_lock, flags);
	if (ret) {
		pciem_log(dev, "irq: the device has no interrupt pin");
		return ret;
	}
	if (!assert)
		return 0;
	if (!up) {		/* INTx Disable, or MSI in use: held until enabled */
		atomic64_inc(&irq->pended);
		return 1;
	}
	/* From a worker, like MSI: the handler may wait for this very host. */
	if (pciem_intx_bind(irq))
		queue_work(pciem_irq_wq, &irq->intx_work);
	return 0;
}

/* ---- hooks from config space and the MSI-X table ------------------------- */

static void pciem_irq_mask_work_fn(struct irq_work *work)
{
	struct pciem_irq_state *irq = container_of(work, struct pciem_irq_state, mask_work);

	pciem_irq_queue_unmasked(irq);
	if (pciem_intx_bind(irq) && pciem_intx_up(irq->dev))
		queue_work(pciem_irq_wq, &irq->intx_work);
}

static bool pciem_overlaps(u32 off, u32 width, u32 start, u32 len)
{
	return off < start + len && start < off + width;
}

void pciem_irq_cfg_written(struct pciem_dev *dev, u32 offset, u32 width)
{
	struct pciem_irq_state *irq = pciem_irq_of(dev);
	const struct pciem_cfg *cfg = dev->cfg;

	if (!irq)
		return;
	/*
	 * Command (INTx Disable), Interrupt Line (a driver probed: INTx has its
	 * irq), the MSI capability, MSI-X Message Control.
	 */
	if (pciem_overlaps(offset, width, PCI_COMMAND, 2) ||
	    pciem_overlaps(offset, width, PCI_INTERRUPT_LINE, 1) ||
	    (cfg->msi_off && pciem_overlaps(offset, width, cfg->msi_off, 0x18)) ||
	    (cfg->msix_off && pciem_overlaps(offset, width, cfg->msix_off + PCI_MSIX_FLAGS, 2)))
		irq_work_queue(&irq->mask_work);
}

void pciem_irq_msix_written(struct pciem_dev *dev, u32 bar, u64 offset, u32 width)
{
	struct pciem_irq_state *irq = pciem_irq_of(dev);

	if (irq)
		irq_work_queue(&irq->mask_work);
}

/* ---- lifecycle ----------------------------------------------------------- */

int pciem_irq_create(struct pciem_dev *dev)
{
	struct pciem_irq_state *irq = kzalloc(sizeof(*irq), GFP_KERNEL);

	if (!irq)
		return -ENOMEM;
	irq->queue = kvmalloc_array(PCIEM_IRQ_QUEUE_LEN, sizeof(*irq->queue), GFP_KERNEL);
	if (!irq->queue) {
		kfree(irq);
		return -ENOMEM;
	}
	irq->dev = dev;
	raw_spin_lock_init(&irq->queue_lock);
	init_waitqueue_head(&irq->queue_room);
	INIT_WORK(&irq->deliver_work, pciem_irq_deliver_fn);
	init_irq_work(&irq->mask_work, pciem_irq_mask_work_fn);
	INIT_WORK(&irq->intx_work, pciem_intx_work_fn);
	mutex_init(&irq->irqfd_lock);
	INIT_LIST_HEAD(&irq->irqfds);
	smp_store_release(&dev->irq, irq);
	return 0;
}

/*
 * Nothing left in flight: queued messages are dropped (the driver is gone),
 * deferred work is finished. deliver_work may requeue mask_work once more.
 */
static void pciem_irq_quiesce(struct pciem_irq_state *irq)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&irq->queue_lock, flags);
	irq->qhead = irq->qtail;
	irq->rescan = false;
	raw_spin_unlock_irqrestore(&irq->queue_lock, flags);
	wake_up(&irq->queue_room);
	irq_work_sync(&irq->mask_work);
	cancel_work_sync(&irq->deliver_work);
	irq_work_sync(&irq->mask_work);
	cancel_work_sync(&irq->deliver_work);
	if (irq->intx_virq) {
		irq_set_chip_data(irq->intx_virq, NULL);
		WRITE_ONCE(irq->intx_virq, 0);
	}
	cancel_work_sync(&irq->intx_work);
}

/* Off the bus: forget the line and pending state; the table masks again. */
void pciem_irq_unregister(struct pciem_dev *dev)
{
	struct pciem_irq_state *irq = pciem_irq_of(dev);
	void *bars[PCIEM_NUM_BARS];
	unsigned long flags;

	if (!irq)
		return;
	pciem_irq_quiesce(irq);
	pciem_irq_bars(dev, bars);
	raw_spin_lock_irqsave(&dev->cfg_lock, flags);
	pciem_vec_reset(dev->cfg, bars);
	pciem_vec_intx_set(dev->cfg, false);
	raw_spin_unlock_irqrestore(&dev->cfg_lock, flags);
}

void pciem_irq_destroy(struct pciem_dev *dev)
{
	struct pciem_irq_state *irq = pciem_irq_of(dev);

	if (!irq)
		return;
	pciem_irqfd_release_all(irq);
	pciem_irq_quiesce(irq);
	mutex_destroy(&irq->irqfd_lock);
	smp_store_release(&dev->irq, NULL);
	kvfree(irq->queue);
	kfree(irq);
}

void pciem_irq_counters(struct pciem_dev *dev, struct pciem_counters *c)
{
	struct pciem_irq_state *irq = pciem_irq_of(dev);

	if (!irq)
		return;
	c->irqs_delivered = atomic64_read(&irq->delivered);
	c->irqs_pended = atomic64_read(&irq->pended);
}

/* ---- ioctls -------------------------------------------------------------- */

static long pciem_ioc_irq(struct pciem_dev *dev, struct pciem_irq_state *irq, void __user *uarg)
{
	struct pciem_irq req;	/* the uapi request; our state is pciem_irq_state */
	int ret;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (req.size != sizeof(req)) {
		pciem_log(dev, "irq: size %u, expected %zu", req.size, sizeof(req));
		return -EINVAL;
	}
	if (req.reserved[0]) {
		pciem_log(dev, "irq: reserved must be zero");
		return -EINVAL;
	}
	switch (req.op) {
	case PCIEM_IRQ_RAISE:
		ret = pciem_irq_raise(irq, req.vector);
		if (ret == -EINVAL)
			pciem_log(dev, "irq: vector %u is out of range", req.vector);
		return ret;
	case PCIEM_IRQ_INTX_ASSERT:
	case PCIEM_IRQ_INTX_DEASSERT:
		if (req.vector) {
			pciem_log(dev, "irq: vector must be 0 for intx");
			return -EINVAL;
		}
		return pciem_irq_intx(irq, req.op == PCIEM_IRQ_INTX_ASSERT);
	default:
		pciem_log(dev, "irq: op %u is not a PCIEM_IRQ_* operation", req.op);
		return -EINVAL;
	}
}

static long pciem_ioc_irqfd(struct pciem_dev *dev, struct pciem_irq_state *irq, void __user *uarg)
{
	struct pciem_irqfd f;
	u32 i;

	if (copy_from_user(&f, uarg, sizeof(f)))
		return -EFAULT;
	if (f.size != sizeof(f)) {
		pciem_log(dev, "irqfd: size %u, expected %zu", f.size, sizeof(f));
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(f.reserved); i++)
		if (f.reserved[i]) {
			pciem_log(dev, "irqfd: reserved must be zero");
			return -EINVAL;
		}
	if (f.flags & ~(u32)PCIEM_IRQFD_DEASSIGN) {
		pciem_log(dev, "irqfd: unknown flags %#x", f.flags);
		return -EINVAL;
	}
	if (f.vector >= PCIEM_MSIX_MAX_VECTORS) {
		pciem_log(dev, "irqfd: vector %u is out of range 0..2047", f.vector);
		return -EINVAL;
	}
	if (f.flags & PCIEM_IRQFD_DEASSIGN)
		return pciem_irqfd_deassign(irq, f.fd, f.vector);
	return pciem_irqfd_assign(irq, f.fd, f.vector);
}

long pciem_irq_ioctl(struct pciem_dev *dev, unsigned int cmd, void __user *uarg)
{
	struct pciem_irq_state *irq = pciem_irq_of(dev);

	if (!irq) {
		pciem_log(dev, "irq: no device was created on this fd");
		return -EINVAL;
	}
	if (cmd == PCIEM_IOC_IRQ)
		return pciem_ioc_irq(dev, irq, uarg);
	return pciem_ioc_irqfd(dev, irq, uarg);
}
