// SPDX-License-Identifier: GPL-2.0-only
/*
 * The trapped-access ioctls of a device (SET_POLICY, SET_SYNC_TIMEOUT,
 * SET_EVENTFD, COUNTERS) and its counters. Everything the host sends is
 * checked here before it reaches the state the fault path reads.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/kernel.h>
#include <linux/overflow.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "pciem_mmio_int.h"

/* ---- counters ----------------------------------------------------------- */

void pciem_mmio_fill_counters(struct pciem_dev *dev, struct pciem_counters *c)
{
	struct pciem_mmio *m = dev->mmio;

	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	c->trap_reads = atomic64_read(&m->trap_reads);
	c->trap_writes = atomic64_read(&m->trap_writes);
	c->memory_accesses = atomic64_read(&m->memory_accesses);
	c->events = atomic64_read(&m->events);
	c->sync_roundtrips = atomic64_read(&m->sync_roundtrips);
	c->sync_timeouts = atomic64_read(&m->sync_timeouts);
	c->undecodable = atomic64_read(&m->undecodable);
	c->ring_full_waits = atomic64_read(&m->ring_full_waits);
	pciem_irq_counters(dev, c);
	pciem_dma_counters(dev, c);
}

/* ---- ioctls -------------------------------------------------------------- */

static bool pciem_mmio_zero(const void *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

static int pciem_mmio_check_policy(struct pciem_dev *dev, const struct pciem_policy_desc *p)
{
	const struct pciem_cfg *cfg = dev->cfg;
	u64 len;
	u32 i, ctrl, reg;

	if (p->reserved0 || !pciem_mmio_zero(p->reserved, sizeof(p->reserved))) {
		pciem_log(dev, "set_policy: reserved fields must be zero");
		return -EINVAL;
	}
	if (p->bar >= PCIEM_NUM_BARS || !cfg->bar_len[p->bar] ||
	    pciem_cfg_bar_is_upper(cfg, p->bar)) {
		pciem_log(dev, "set_policy: bar %u is not a BAR of this device (a 64-bit BAR goes by its lower index)",
			  p->bar);
		return -EINVAL;
	}
	if (!pciem_policy_known(p->policy)) {
		pciem_log(dev, "set_policy: policy %u is not MEMORY (0), POSTED (1) or SYNC (2)",
			  p->policy);
		return -EINVAL;
	}
	len = cfg->bar_len[p->bar];
	if (p->offset % 4 || p->length % 4 || !p->length || p->offset >= len ||
	    p->length > len - p->offset) {
		pciem_log(dev, "set_policy: bar %u: offset %#llx length %#llx must be multiples of 4, non-empty and inside the %#llx-byte BAR",
			  p->bar, p->offset, p->length, len);
		return -EINVAL;
	}
	if (!cfg->msix_off)
		return 0;
	ctrl = pciem_cfg_read(cfg, cfg->msix_off + PCI_MSIX_FLAGS, 2);
	for (i = 0; i < 2; i++) {
		u64 start, end;

		reg = pciem_cfg_read(cfg, cfg->msix_off + (i ? PCI_MSIX_PBA : PCI_MSIX_TABLE), 4);
		if ((reg & PCI_MSIX_TABLE_BIR) != p->bar)
			continue;
		start = reg & PCI_MSIX_TABLE_OFFSET;
		end = start + (i ? DIV_ROUND_UP((ctrl & PCI_MSIX_FLAGS_QSIZE) + 1, 64) * 8 :
			       ((ctrl & PCI_MSIX_FLAGS_QSIZE) + 1) * PCI_MSIX_ENTRY_SIZE);
		if (p->offset < end && p->offset + p->length > start) {
			pciem_log(dev, "set_policy: bar %u [%#llx, %#llx) overlaps the MSI-X %s at [%#llx, %#llx), which the module owns",
				  p->bar, p->offset, p->offset + p->length,
				  i ? "PBA" : "table", start, end);
			return -EINVAL;
		}
	}
	return 0;
}

static long pciem_mmio_set_policy(struct pciem_dev *dev, struct pciem_mmio *m,
				  void __user *uarg)
{
	struct pciem_policy_table *old, *t;
	struct pciem_policy_range first;
	const struct pciem_policy_range *in;
	struct pciem_policy_desc p;
	u32 n;
	int ret;

	if (copy_from_user(&p, uarg, sizeof(p)))
		return -EFAULT;
	if (p.size != sizeof(p)) {
		pciem_log(dev, "set_policy: size %u, expected %zu", p.size, sizeof(p));
		return -EINVAL;
	}
	mutex_lock(&dev->lock);
	ret = pciem_mmio_check_policy(dev, &p);
	mutex_unlock(&dev->lock);
	if (ret)
		return ret;

	mutex_lock(&m->lock);
	old = rcu_dereference_protected(m->policy[p.bar], lockdep_is_held(&m->lock));
	if (old) {
		in = old->r;
		n = old->n;
	} else {
		n = pciem_policy_init(&first, dev->cfg->bar_len[p.bar]);
		in = &first;
	}
	t = kmalloc(struct_size(t, r, n + PCIEM_POLICY_GROWTH), GFP_KERNEL);
	if (!t) {
		mutex_unlock(&m->lock);
		return -ENOMEM;
	}
	t->n = pciem_policy_apply(in, n, p.offset, p.offset + p.length, p.policy, t->r);
	rcu_assign_pointer(m->policy[p.bar], t);
	mutex_unlock(&m->lock);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

long pciem_mmio_ioctl(struct pciem_dev *dev, unsigned int cmd, void __user *uarg)
{
	struct pciem_mmio *m = dev->mmio;
	struct pciem_sync_timeout st;
	struct pciem_counters c;
	struct pciem_eventfd ef;
	int ret;

	if (!m) {
		pciem_log(dev, "ioctl %#x: no device yet (CREATE first)", cmd);
		return -EINVAL;
	}
	switch (cmd) {
	case PCIEM_IOC_SET_POLICY:
		return pciem_mmio_set_policy(dev, m, uarg);
	case PCIEM_IOC_SET_SYNC_TIMEOUT:
		if (copy_from_user(&st, uarg, sizeof(st)))
			return -EFAULT;
		if (st.size != sizeof(st) || !pciem_mmio_zero(st.reserved, sizeof(st.reserved))) {
			pciem_log(dev, "set_sync_timeout: size must be %zu and reserved zero", sizeof(st));
			return -EINVAL;
		}
		if (!st.timeout_us || st.timeout_us > PCIEM_SYNC_MAX_TIMEOUT_US) {
			pciem_log(dev, "set_sync_timeout: timeout_us %u is not in 1..%u",
				  st.timeout_us, PCIEM_SYNC_MAX_TIMEOUT_US);
			return -EINVAL;
		}
		WRITE_ONCE(m->timeout_ns, (u64)st.timeout_us * NSEC_PER_USEC);
		return 0;
	case PCIEM_IOC_SET_EVENTFD:
		if (copy_from_user(&ef, uarg, sizeof(ef)))
			return -EFAULT;
		if (ef.size != sizeof(ef) || !pciem_mmio_zero(ef.reserved, sizeof(ef.reserved))) {
			pciem_log(dev, "set_eventfd: size must be %zu and reserved zero", sizeof(ef));
			return -EINVAL;
		}
		mutex_lock(&m->lock);
		ret = pciem_ring_set_eventfd(&m->ring, ef.fd < 0 ? -1 : ef.fd);
		mutex_unlock(&m->lock);
		if (ret)
			pciem_log(dev, "set_eventfd: fd %d is not an eventfd (%d)", ef.fd, ret);
		return ret;
	case PCIEM_IOC_COUNTERS:
		if (copy_from_user(&c, uarg, sizeof(c)))
			return -EFAULT;
		if (c.size != sizeof(c)) {
			pciem_log(dev, "counters: size %u, expected %zu", c.size, sizeof(c));
			return -EINVAL;
		}
		pciem_mmio_fill_counters(dev, &c);
		return copy_to_user(uarg, &c, sizeof(c)) ? -EFAULT : 0;
	default:
		pciem_log(dev, "ioctl %#x is not an mmio request", cmd);
		return -ENOTTY;
	}
}
