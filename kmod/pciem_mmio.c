// SPDX-License-Identifier: GPL-2.0-only
/*
 * Trapped BAR accesses: the bus windows are trapped whole; each access is
 * decoded like a PCI bus would (BAR registers, Memory Space Enable), then
 * answered per the range's policy from the shadow, with posted events or a
 * sync round trip through the event ring. Also the counters' debugfs
 * files and the refusal of user mappings of the BARs; the ioctls are in
 * pciem_mmio_ctl.c.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/debugfs.h>
#include <linux/kprobes.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/timekeeping.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/uaccess.h>

#include "pciem.h"
#include "pciem_policy.h"
#include "pciem_mmio_int.h"
#include "pciem_ring.h"
#include "pciem_trap.h"

/* Trapped windows of the bus: one trap range each. */
struct pciem_window {
	struct pciem_trap_range *range;
	u64 start;
};

static struct {
	struct pciem_window win[2];
	struct dentry *debugfs;
	struct kprobe kp_user_mmap;
	bool kp_registered;
	atomic64_t unclaimed;		/* window accesses no BAR decodes */
	unsigned long logged;
} mmio;

/* ---- waiting with a deadline (fault context: spin, never sleep) ---------- */

/*
 * The sync deadline of devices whose CREATE leaves it 0. An emulated machine
 * (QEMU without KVM) wants more than the built-in 100 ms: one of its vCPUs
 * can be off the real CPU for that long. Read at CREATE.
 */
static unsigned int sync_timeout_default_us = PCIEM_SYNC_DEFAULT_TIMEOUT_US;

static int pciem_mmio_set_default_timeout(const char *val, const struct kernel_param *kp)
{
	unsigned int us;
	int ret;

	ret = kstrtouint(val, 0, &us);
	if (ret || !us || us > PCIEM_SYNC_MAX_TIMEOUT_US) {
		pr_err("sync_timeout_default_us: '%s' is not a number in 1..%u\n",
		       val, PCIEM_SYNC_MAX_TIMEOUT_US);
		return -EINVAL;
	}
	WRITE_ONCE(sync_timeout_default_us, us);
	return 0;
}

static const struct kernel_param_ops pciem_mmio_default_timeout_ops = {
	.set = pciem_mmio_set_default_timeout,
	.get = param_get_uint,
};
module_param_cb(sync_timeout_default_us, &pciem_mmio_default_timeout_ops,
		&sync_timeout_default_us, 0644);
MODULE_PARM_DESC(sync_timeout_default_us,
		 "sync access deadline (us) of devices created with sync_timeout_us 0; 1..10000000, default 100000");

static inline u64 pciem_ones(unsigned int width)
{
	return width >= 8 ? ~0ULL : (1ULL << (width * 8)) - 1;
}

/*
 * Now, for deadlines spun on with interrupts off. Not local_clock(): with an
 * unstable TSC it is clamped to the last tick plus one, and no tick comes
 * while we spin. The fast monotonic clock reads the clocksource itself.
 */
static inline u64 pciem_mmio_now(void)
{
	return ktime_get_mono_fast_ns();
}

/* How long a spin goes before it wakes the host itself too. */
#define PCIEM_SPIN_KICK_NS	(1 * NSEC_PER_MSEC)

/*
 * One turn of a spin that waits for the host. The wake-up sent from another
 * CPU (pciem_ring_kick_away) can sit behind that CPU's own spin with
 * interrupts off, when both do sync accesses at once: past a millisecond,
 * wake the host from here too. No scheduler locks are taken here: the fault
 * can come from any driver context. Returns true once the wait is over.
 */
static bool pciem_mmio_spin_expired(struct pciem_mmio *m, u64 deadline, u64 *kick_at)
{
	u64 now = pciem_mmio_now();

	if (READ_ONCE(m->host_gone) || now > deadline)
		return true;
	if (now >= *kick_at) {
		*kick_at = now + PCIEM_SPIN_KICK_NS;
		pciem_ring_kick(&m->ring);
	}
	cpu_relax();
	return false;
}

/*
 * Publish ev, waiting for room up to the deadline. Returns the seq, or 0
 * when the host is gone or the ring stayed full. will_spin: the caller
 * waits for the answer next, so the host must not be woken onto this CPU.
 */
static u64 pciem_mmio_publish(struct pciem_dev *dev, struct pciem_mmio *m,
			      struct pciem_event *ev, u64 deadline, bool will_spin)
{
	u64 kick_at = pciem_mmio_now() + PCIEM_SPIN_KICK_NS;
	bool waited = false;
	u64 seq;

	if (READ_ONCE(m->host_gone))
		return 0;
	while (!(seq = pciem_ring_try_publish(&m->ring, ev))) {
		if (!waited) {
			waited = true;
			atomic64_inc(&m->ring_full_waits);
			pciem_ring_kick_away(&m->ring);
		}
		if (pciem_mmio_spin_expired(m, deadline, &kick_at)) {
			if (!READ_ONCE(m->host_gone) &&
			    !test_and_set_bit(PCIEM_LOGGED_RING_FULL, &m->logged))
				pr_warn("%s: event ring stayed full for the sync timeout; access failed (logged once)\n",
					dev->name);
			atomic64_inc(&m->sync_timeouts);
			return 0;
		}
	}
	atomic64_inc(&m->events);
	if (will_spin)
		pciem_ring_kick_away(&m->ring);
	else
		pciem_ring_kick(&m->ring);
	return seq;
}

/*
 * A sync access: publish, then spin on this CPU's answer slot. Interrupts
 * are off in the fault, so the CPU (and the slot) cannot change under us.
 */
static int pciem_mmio_sync(struct pciem_dev *dev, struct pciem_mmio *m,
			   struct pciem_event *ev, u64 *value)
{
	u64 now = pciem_mmio_now();
	u64 deadline = now + READ_ONCE(m->timeout_ns);
	u64 kick_at = now + PCIEM_SPIN_KICK_NS;
	u32 slot = raw_smp_processor_id();
	u64 seq, answer;

	if (READ_ONCE(m->host_gone) || slot >= m->ring.nslots)
		return -ENODEV;
	ev->answer = slot;
	seq = pciem_mmio_publish(dev, m, ev, deadline, true);
	if (!seq)
		return -ETIMEDOUT;
	while (!pciem_ring_answer(&m->ring, slot, seq, &answer)) {
		if (pciem_mmio_spin_expired(m, deadline, &kick_at)) {
			if (READ_ONCE(m->host_gone))
				return -ENODEV;
			atomic64_inc(&m->sync_timeouts);
			if (!test_and_set_bit(PCIEM_LOGGED_TIMEOUT, &m->logged))
				pr_warn("%s: sync %s of bar %u offset %#x got no answer within %llu us; reads all-ones (logged once)\n",
					dev->name,
					ev->kind == PCIEM_EVENT_MMIO_READ ? "read" : "write",
					ev->bar, ev->offset, m->timeout_ns / 1000);
			return -ETIMEDOUT;
		}
	}
	atomic64_inc(&m->sync_roundtrips);
	*value = answer;
	return 0;
}

/* ---- shadow ------------------------------------------------------------- */

static u64 pciem_shadow_read(const void *p, unsigned int width)
{
	switch (width) {
	case 1:
		return READ_ONCE(*(const u8 *)p);
	case 2:
		return READ_ONCE(*(const u16 *)p);
	case 4:
		return READ_ONCE(*(const u32 *)p);
	default:
		return READ_ONCE(*(const u64 *)p);
	}
}

static void pciem_shadow_write(void *p, unsigned int width, u64 value)
{
	switch (width) {
	case 1:
		WRITE_ONCE(*(u8 *)p, value);
		break;
	case 2:
		WRITE_ONCE(*(u16 *)p, value);
		break;
	case 4:
		WRITE_ONCE(*(u32 *)p, value);
		break;
	default:
		WRITE_ONCE(*(u64 *)p, value);
		break;
	}
}

/* ---- the trap callback -------------------------------------------------- */

static bool pciem_mmio_in_msix(struct pciem_mmio *m, u32 bar, u64 off, u32 width)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct pciem_msix_region *r = &m->msix[i];

		if (r->end && r->bar == bar && off < r->end && off + width > r->start)
			return true;
	}
	return false;
}

static u32 pciem_mmio_policy(struct pciem_mmio *m, u32 bar, u64 off, u32 width)
{
	struct pciem_policy_table *t = rcu_dereference(m->policy[bar]);

	if (!t)
		return PCIEM_POLICY_POSTED;
	return pciem_policy_lookup(t->r, t->n, off, width);
}

static int pciem_mmio_access(void *ctx, u64 offset, unsigned int width,
			     bool is_write, u64 *value)
{
	struct pciem_window *win = ctx;
	struct pciem_event ev = {};
	struct pciem_dev *dev;
	struct pciem_mmio *m;
	void *shadow;
	u32 bar, policy;
	u64 off, v;
	int ret;

	dev = pciem_bus_decode(win->start + offset, width, &bar, &off);
	if (!dev || !dev->mmio || !dev->bars[bar].shadow) {
		/* Master abort: nothing claims the address. */
		atomic64_inc(&mmio.unclaimed);
		if (!test_and_set_bit(0, &mmio.logged))
			pr_info("%s of %u bytes at %#llx: no BAR decodes it (Memory Space off or unassigned); master abort (logged once)\n",
				is_write ? "write" : "read", width, win->start + offset);
		return -ENXIO;
	}
	m = dev->mmio;
	shadow = dev->bars[bar].shadow + off;
	atomic64_inc(is_write ? &m->trap_writes : &m->trap_reads);

	if (pciem_mmio_in_msix(m, bar, off, width)) {
		atomic64_inc(&m->memory_accesses);
		if (!is_write) {
			*value = pciem_shadow_read(shadow, width);
			return 0;
		}
		pciem_shadow_write(shadow, width, *value);
		pciem_irq_msix_written(dev, bar, off, width);
		return 0;
	}

	policy = pciem_mmio_policy(m, bar, off, width);
	if (!is_write && policy != PCIEM_POLICY_SYNC) {
		atomic64_inc(&m->memory_accesses);
		*value = pciem_shadow_read(shadow, width);
		return 0;
	}
	if (is_write)
		pciem_shadow_write(shadow, width, *value);
	if (policy == PCIEM_POLICY_MEMORY) {
		atomic64_inc(&m->memory_accesses);
		return 0;
	}

	ev.kind = is_write ? PCIEM_EVENT_MMIO_WRITE : PCIEM_EVENT_MMIO_READ;
	ev.bar = bar;
	ev.offset = off;
	ev.width = width;
	ev.value = is_write ? *value & pciem_ones(width) : 0;
	if (policy == PCIEM_POLICY_POSTED) {
		u64 deadline = pciem_mmio_now() + READ_ONCE(m->timeout_ns);

		pciem_mmio_publish(dev, m, &ev, deadline, false);
		return 0;
	}
	if (is_write)
		ev.flags = PCIEM_EVENT_F_SYNC;
	ret = pciem_mmio_sync(dev, m, &ev, &v);
	if (ret)
		return ret;
	if (!is_write)
		*value = v & pciem_ones(width);
	return 0;
}

static bool pciem_mmio_undecodable(void *ctx, u64 offset)
{
	struct pciem_window *win = ctx;
	struct pciem_dev *dev;
	u32 bar;
	u64 off;

	dev = pciem_bus_decode(win->start + offset, 1, &bar, &off);
	if (!dev || !dev->mmio)
		return !test_and_set_bit(1, &mmio.logged);
	atomic64_inc(&dev->mmio->undecodable);
	if (test_and_set_bit(PCIEM_LOGGED_UNDECODABLE, &dev->mmio->logged))
		return false;
	pr_warn("%s: undecodable instruction on bar %u offset %#llx: reads all-ones, writes dropped (logged once per device)\n",
		dev->name, bar, off);
	return true;
}

static const struct pciem_trap_ops pciem_mmio_trap_ops = {
	.access = pciem_mmio_access,
	.undecodable = pciem_mmio_undecodable,
};

/* ---- windows ------------------------------------------------------------ */

int pciem_mmio_trap_window(unsigned int index, u64 start, u64 len)
{
	struct pciem_window *win = &mmio.win[index];
	struct pciem_trap_range *range;

	win->start = start;
	range = pciem_trap_add_range(start, len, &pciem_mmio_trap_ops, win);
	if (IS_ERR(range)) {
		pr_warn("cannot trap the window at %#llx (+%#llx): %ld\n",
			start, len, PTR_ERR(range));
		return PTR_ERR(range);
	}
	win->range = range;
	return 0;
}

void pciem_mmio_untrap_windows(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(mmio.win); i++) {
		pciem_trap_remove_range(mmio.win[i].range);
		mmio.win[i].range = NULL;
	}
}

/* ---- user mappings of BARs ---------------------------------------------- */

/* Where a refused pci_mmap_resource_range() resumes: it returns -EPERM. */
static noinline notrace int pciem_mmio_refuse_mmap(void)
{
	barrier();
	return -EPERM;
}

/*
 * pci_mmap_resource_range(pdev, bar, vma, ...) maps a BAR into user space
 * (sysfs resourceN[_wc], /proc/bus/pci). Such a mapping would bypass the
 * traps: refuse it for devices of our domain.
 */
static int pciem_mmio_on_user_mmap(struct kprobe *kp, struct pt_regs *regs)
{
	struct pci_dev *pdev = (struct pci_dev *)regs->di;

	if (!pdev || pci_domain_nr(pdev->bus) != pciem_bus_domain())
		return 0;
	pr_info_ratelimited("%s: user mmap of bar %d refused: pciem BARs are trapped, map them through the device's /dev/pciem fd instead\n",
			    pci_name(pdev), (int)regs->si);
	instruction_pointer_set(regs, (unsigned long)pciem_mmio_refuse_mmap);
	return 1;
}
NOKPROBE_SYMBOL(pciem_mmio_on_user_mmap);

/* ---- counters ----------------------------------------------------------- */

static int pciem_mmio_counters_show(struct seq_file *s, void *unused)
{
	struct pciem_dev *dev = s->private;
	struct pciem_counters c;

	pciem_mmio_fill_counters(dev, &c);
#define PCIEM_SHOW(f) seq_printf(s, #f " %llu\n", (unsigned long long)c.f)
	PCIEM_SHOW(trap_reads);
	PCIEM_SHOW(trap_writes);
	PCIEM_SHOW(memory_accesses);
	PCIEM_SHOW(events);
	PCIEM_SHOW(sync_roundtrips);
	PCIEM_SHOW(sync_timeouts);
	PCIEM_SHOW(undecodable);
	PCIEM_SHOW(ring_full_waits);
	PCIEM_SHOW(irqs_delivered);
	PCIEM_SHOW(irqs_pended);
	PCIEM_SHOW(dma_bytes_from_host);
	PCIEM_SHOW(dma_bytes_to_host);
	PCIEM_SHOW(dma_errors);
#undef PCIEM_SHOW
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pciem_mmio_counters);

static int pciem_mmio_unclaimed_show(struct seq_file *s, void *unused)
{
	seq_printf(s, "%llu\n", (unsigned long long)atomic64_read(&mmio.unclaimed));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pciem_mmio_unclaimed);

/* ---- module load / unload ----------------------------------------------- */

int pciem_mmio_init(void)
{
	int ret;

	ret = pciem_trap_init();
	if (ret)
		return ret;
	mmio.kp_user_mmap.symbol_name = "pci_mmap_resource_range";
	mmio.kp_user_mmap.pre_handler = pciem_mmio_on_user_mmap;
	ret = register_kprobe(&mmio.kp_user_mmap);
	if (ret) {
		pr_err("cannot probe pci_mmap_resource_range (%d): user mmap of BARs could not be refused\n",
		       ret);
		pciem_trap_exit();
		return ret;
	}
	mmio.kp_registered = true;
	mmio.debugfs = debugfs_create_dir("pciem", NULL);
	debugfs_create_file("unclaimed", 0444, mmio.debugfs, NULL,
			    &pciem_mmio_unclaimed_fops);
	return 0;
}

/* After pciem_bus_exit: the windows are untrapped, no device is left. */
void pciem_mmio_exit(void)
{
	debugfs_remove_recursive(mmio.debugfs);
	mmio.debugfs = NULL;
	if (mmio.kp_registered)
		unregister_kprobe(&mmio.kp_user_mmap);
	mmio.kp_registered = false;
	pciem_trap_exit();
}

/* ---- device lifecycle ---------------------------------------------------- */

int pciem_mmio_create(struct pciem_dev *dev, const struct pciem_device_desc *desc)
{
	u32 entries = desc->ring_entries ?: PCIEM_RING_DEFAULT_ENTRIES;
	u32 timeout = desc->sync_timeout_us ?: READ_ONCE(sync_timeout_default_us);
	struct dentry *existing;
	struct pciem_mmio *m;
	int ret;

	if (entries < 64 || entries > 65536 || !is_power_of_2(entries)) {
		pciem_log(dev, "create: ring_entries %u is not a power of two in 64..65536 (0 = 4096)",
			  desc->ring_entries);
		return -EINVAL;
	}
	if (timeout > PCIEM_SYNC_MAX_TIMEOUT_US) {
		pciem_log(dev, "create: sync_timeout_us %u is not in 1..%u (0 = %u)",
			  desc->sync_timeout_us, PCIEM_SYNC_MAX_TIMEOUT_US,
			  READ_ONCE(sync_timeout_default_us));
		return -EINVAL;
	}
	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	mutex_init(&m->lock);
	m->timeout_ns = (u64)timeout * NSEC_PER_USEC;
	ret = pciem_ring_alloc(&m->ring, entries);
	if (ret) {
		kfree(m);
		return ret;
	}
	/* A name taken by another fd just goes without debugfs files. */
	existing = debugfs_lookup(dev->name, mmio.debugfs);
	if (existing) {
		dput(existing);
		pciem_log(dev, "create: another device has this name; its counters are not in debugfs (the COUNTERS ioctl still works)");
	} else {
		m->debugfs = debugfs_create_dir(dev->name, mmio.debugfs);
		if (!IS_ERR(m->debugfs))
			debugfs_create_file("counters", 0444, m->debugfs, dev,
					    &pciem_mmio_counters_fops);
	}
	dev->mmio = m;
	return 0;
}

/* The MSI-X table and PBA as the description placed them (frozen by now). */
static void pciem_mmio_find_msix(struct pciem_dev *dev)
{
	struct pciem_mmio *m = dev->mmio;
	const struct pciem_cfg *cfg = dev->cfg;
	u32 ctrl, table, pba, vectors;

	memset(m->msix, 0, sizeof(m->msix));
	if (!cfg->msix_off)
		return;
	ctrl = pciem_cfg_read(cfg, cfg->msix_off + PCI_MSIX_FLAGS, 2);
	table = pciem_cfg_read(cfg, cfg->msix_off + PCI_MSIX_TABLE, 4);
	pba = pciem_cfg_read(cfg, cfg->msix_off + PCI_MSIX_PBA, 4);
	vectors = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
	m->msix[0].bar = table & PCI_MSIX_TABLE_BIR;
	m->msix[0].start = table & PCI_MSIX_TABLE_OFFSET;
	m->msix[0].end = m->msix[0].start + vectors * PCI_MSIX_ENTRY_SIZE;
	m->msix[1].bar = pba & PCI_MSIX_PBA_BIR;
	m->msix[1].start = pba & PCI_MSIX_PBA_OFFSET;
	m->msix[1].end = m->msix[1].start + DIV_ROUND_UP(vectors, 64) * 8;
}

int pciem_mmio_register(struct pciem_dev *dev)
{
	pciem_mmio_find_msix(dev);
	WRITE_ONCE(dev->mmio->host_gone, false);
	pr_info("%s: BAR accesses are trapped; user mmap of its BARs (sysfs resourceN) is refused\n",
		dev->name);
	return 0;
}

void pciem_mmio_unregister(struct pciem_dev *dev)
{
	/*
	 * The slot is empty now; a fault that decoded this device before is
	 * an RCU reader (interrupts off): wait for it to finish.
	 */
	synchronize_rcu();
}

void pciem_mmio_host_gone(struct pciem_dev *dev)
{
	if (dev->mmio)
		WRITE_ONCE(dev->mmio->host_gone, true);
}

void pciem_mmio_destroy(struct pciem_dev *dev)
{
	struct pciem_mmio *m = dev->mmio;
	int i;

	if (!m)
		return;
	debugfs_remove_recursive(m->debugfs);
	pciem_ring_free(&m->ring);
	for (i = 0; i < PCIEM_NUM_BARS; i++)
		kfree(rcu_dereference_protected(m->policy[i], 1));
	mutex_destroy(&m->lock);
	kfree(m);
	dev->mmio = NULL;
}

int pciem_mmio_ring_mmap(struct pciem_dev *dev, struct vm_area_struct *vma)
{
	u64 want = (u64)PCIEM_MMAP_RING_INDEX << (PCIEM_MMAP_BAR_SHIFT - PAGE_SHIFT);
	int ret;

	mutex_lock(&dev->lock);
	if (!dev->mmio) {
		pciem_log(dev, "mmap ring: no device yet (CREATE first)");
		ret = -EINVAL;
	} else if (vma->vm_pgoff != want) {
		pciem_log(dev, "mmap ring: offset must be the ring's start");
		ret = -EINVAL;
	} else if (!(vma->vm_flags & VM_SHARED)) {
		pciem_log(dev, "mmap ring: must be MAP_SHARED");
		ret = -EINVAL;
	} else if (vma->vm_end - vma->vm_start > dev->mmio->ring.map_size) {
		/* A prefix is fine: the host maps the control page to learn map_size. */
		pciem_log(dev, "mmap ring: length %lu is past the ring's %u bytes (ctrl.map_size)",
			  vma->vm_end - vma->vm_start, dev->mmio->ring.map_size);
		ret = -EINVAL;
	} else {
		ret = pciem_ring_mmap(&dev->mmio->ring, vma);
	}
	mutex_unlock(&dev->lock);
	return ret;
}

void pciem_mmio_cfg_written(struct pciem_dev *dev, u32 offset, u32 width, u32 value)
{
	struct pciem_mmio *m = dev->mmio;
	struct pciem_event ev = {
		.kind = PCIEM_EVENT_CFG_WRITE,
		.bar = 0xff,
		.offset = offset,
		.width = width,
		.value = value,
	};

	if (!m)
		return;
	pciem_mmio_publish(dev, m, &ev, pciem_mmio_now() + READ_ONCE(m->timeout_ns), false);
}
