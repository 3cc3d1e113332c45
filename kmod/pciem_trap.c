// SPDX-License-Identifier: GPL-2.0-only
/*
 * BAR trap engine: kernel mappings of registered physical ranges get their
 * PTEs cleared; the page fault is caught, decoded and emulated on the spot.
 * See docs/trap-engine.md for the hook points and the reasoning.
 */
#define pr_fmt(fmt) "pciem_trap: " fmt

#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <asm/pgtable.h>
#include <asm/ptrace.h>
#include <asm/tlbflush.h>
#include <asm/trap_pf.h>

#include "pciem_insn.h"
#include "pciem_trap.h"

/* Kernel functions we probe (all real, non-inlined symbols in 6.1 x86-64). */
#define TRAP_SYM_MAP	"mmiotrace_ioremap"	/* every ioremap*, after its PTEs exist */
#define TRAP_SYM_UNMAP	"mmiotrace_iounmap"	/* every iounmap, before the unmap */
#define TRAP_SYM_FAULT	"bad_area_nosemaphore"	/* unhandled kernel-address fault */

/* String instructions: elements emulated per fault before the CPU re-executes. */
#define TRAP_STRING_BATCH	256
/* A page degraded by an undecodable instruction is re-armed after this. */
#define TRAP_REARM_MS		10

struct pciem_trap_range {
	struct list_head node;		/* trap.ranges; RCU for the hooks */
	phys_addr_t phys;
	u64 len;
	const struct pciem_trap_ops *ops;
	void *ctx;
	unsigned long logged;		/* bit 0: undecodable instruction logged */
	atomic64_t reads, writes, failed, undecodable, mappings, untrappable;
};

/* A kernel mapping (one ioremap) that covers part of some range. */
struct pciem_trap_map {
	struct list_head node;		/* trap.maps */
	unsigned long va;		/* page-aligned start of the vm area */
	struct list_head pages;
};

/* One trapped 4K page of a mapping: found by VA from the fault handler. */
struct pciem_trap_page {
	struct list_head node;		/* map->pages */
	struct pciem_trap_range *range;
	unsigned long va;
	phys_addr_t phys;
	pte_t *ptep;
	pte_t orig;			/* what ioremap put there */
	bool degraded;			/* temporarily mapped on the scratch page */
	struct rcu_head rcu;
};

static struct {
	spinlock_t lock;		/* ranges, maps, pages, and our PTE writes */
	struct list_head ranges;
	struct list_head maps;
	struct xarray pages;		/* va >> PAGE_SHIFT -> pciem_trap_page */
	unsigned int degraded;		/* pages on the scratch page */
	struct page *scratch;		/* all-ones page for failed accesses */
	struct delayed_work rearm;
	struct work_struct flush;	/* TLB shootdown the hook could not do */
	struct kprobe kp_map, kp_unmap, kp_fault;
	bool ready;
} trap;

/* ---- TLB ---------------------------------------------------------------- */

static void pciem_trap_flush_cpu(void *unused)
{
	/* A full flush: with PTI and PCID a one-page INVLPG misses other ASIDs. */
	__flush_tlb_all();
}

static void pciem_trap_flush_work(struct work_struct *work)
{
	on_each_cpu(pciem_trap_flush_cpu, NULL, 1);
}

/*
 * Shoot down every CPU's TLB. IPIs need interrupts on; where they are off
 * (a hook that landed on an int3 kprobe) flush locally now and the others
 * from a work item. Only fresh vm areas take that path: no other CPU holds
 * translations for them, the VA having been flushed before it was reused.
 */
static void pciem_trap_flush_all(void)
{
	if (!irqs_disabled()) {
		on_each_cpu(pciem_trap_flush_cpu, NULL, 1);
		return;
	}
	pciem_trap_flush_cpu(NULL);
	schedule_work(&trap.flush);
}

/* ---- page tables -------------------------------------------------------- */

/* Replace a 2M kernel mapping by a table of 512 equivalent 4K PTEs. */
static int pciem_trap_split_pmd(pmd_t *pmd)
{
	unsigned long pfn = pmd_pfn(*pmd);
	pgprot_t prot = pgprot_large_2_4k(pmd_pgprot(*pmd));
	pte_t *table;
	int i;

	table = (pte_t *)get_zeroed_page(GFP_ATOMIC);
	if (!table)
		return -ENOMEM;
	for (i = 0; i < PTRS_PER_PTE; i++)
		set_pte(&table[i], pfn_pte(pfn + i, prot));
	/*
	 * One store swaps the huge entry for a table giving the same
	 * translations. vunmap later clears the PTEs and leaves the table,
	 * which a later huge mapping of this VA frees, as for any vmalloc.
	 */
	set_pmd(pmd, __pmd(__pa(table) | _KERNPG_TABLE));
	return 0;
}

/* Replace a 1G kernel mapping by a table of 512 equivalent 2M mappings. */
static int pciem_trap_split_pud(pud_t *pud)
{
	unsigned long pfn = pud_pfn(*pud);
	pgprot_t prot = pud_pgprot(*pud);	/* same layout at both levels */
	pmd_t *table;
	int i;

	table = (pmd_t *)get_zeroed_page(GFP_ATOMIC);
	if (!table)
		return -ENOMEM;
	for (i = 0; i < PTRS_PER_PMD; i++)
		set_pmd(&table[i], pfn_pmd(pfn + i * PTRS_PER_PTE, prot));
	set_pud(pud, __pud(__pa(table) | _KERNPG_TABLE));
	return 0;
}

/* The 4K PTE mapping va, splitting a 1G or 2M mapping down to it. */
static pte_t *pciem_trap_pte(unsigned long va)
{
	unsigned int level;
	pte_t *pte = lookup_address(va, &level);

	if (pte && level == PG_LEVEL_1G) {
		if (!pud_large(*(pud_t *)pte) ||
		    pciem_trap_split_pud((pud_t *)pte))
			return NULL;
		pte = lookup_address(va, &level);
	}
	if (pte && level == PG_LEVEL_2M) {
		if (!pmd_large(*(pmd_t *)pte) ||
		    pciem_trap_split_pmd((pmd_t *)pte))
			return NULL;
		pte = lookup_address(va, &level);
	}
	if (!pte || level != PG_LEVEL_4K || !pte_present(*pte))
		return NULL;
	return pte;
}

/* ---- ranges and mappings (trap.lock held) -------------------------------- */

static struct pciem_trap_map *pciem_trap_find_map(unsigned long va)
{
	struct pciem_trap_map *map;

	list_for_each_entry(map, &trap.maps, node)
		if (map->va == va)
			return map;
	return NULL;
}

static int pciem_trap_page_add(struct pciem_trap_map *map,
			       struct pciem_trap_range *range,
			       unsigned long va, phys_addr_t phys)
{
	struct pciem_trap_page *pg;
	pte_t *ptep;

	if (xa_load(&trap.pages, va >> PAGE_SHIFT))
		return 0;	/* already ours */
	ptep = pciem_trap_pte(va);
	if (!ptep)
		return -EFAULT;
	pg = kzalloc(sizeof(*pg), GFP_ATOMIC);
	if (!pg)
		return -ENOMEM;
	pg->range = range;
	pg->va = va;
	pg->phys = phys;
	pg->ptep = ptep;
	pg->orig = *ptep;
	if (xa_err(xa_store(&trap.pages, va >> PAGE_SHIFT, pg, GFP_ATOMIC))) {
		kfree(pg);
		return -ENOMEM;
	}
	list_add(&pg->node, &map->pages);
	/*
	 * pte_none, not just !present: vunmap warns about a non-none
	 * non-present PTE, so a mapping we fail to restore stays harmless.
	 */
	set_pte(ptep, __pte(0));
	return 0;
}

/* Give a page back its original PTE and drop it. Returns true if it was degraded. */
static bool pciem_trap_page_release(struct pciem_trap_page *pg)
{
	bool was_degraded = pg->degraded;

	set_pte(pg->ptep, pg->orig);
	if (was_degraded)
		trap.degraded--;
	xa_erase(&trap.pages, pg->va >> PAGE_SHIFT);
	list_del(&pg->node);
	kfree_rcu(pg, rcu);
	return was_degraded;
}

/*
 * Trap the pages of [va, va + size) -> [phys, phys + size) that fall in
 * range. Returns true if a PTE was cleared.
 */
static bool pciem_trap_map_range(struct pciem_trap_range *range,
				 unsigned long va, phys_addr_t phys, u64 size)
{
	phys_addr_t lo = max(phys, range->phys);
	phys_addr_t hi = min(phys + size, range->phys + range->len);
	struct pciem_trap_map *map;
	bool cleared = false;
	bool fresh = false;
	phys_addr_t p;

	if (lo >= hi)
		return false;
	map = pciem_trap_find_map(va);
	if (!map) {
		map = kzalloc(sizeof(*map), GFP_ATOMIC);
		if (!map)
			goto err_untrappable;
		map->va = va;
		INIT_LIST_HEAD(&map->pages);
		list_add(&map->node, &trap.maps);
		fresh = true;
	}
	for (p = lo; p < hi; p += PAGE_SIZE) {
		if (pciem_trap_page_add(map, range, va + (p - phys), p))
			goto err_untrappable;
		cleared = true;
	}
	atomic64_inc(&range->mappings);
	return cleared;

err_untrappable:
	/* All or nothing: a half-trapped BAR would silently lose accesses. */
	if (map) {
		struct pciem_trap_page *pg, *tmp;

		list_for_each_entry_safe(pg, tmp, &map->pages, node)
			if (pg->range == range)
				pciem_trap_page_release(pg);
		if (fresh || list_empty(&map->pages)) {
			list_del(&map->node);
			kfree(map);
		}
	}
	atomic64_inc(&range->untrappable);
	pr_warn_ratelimited("mapping %px of %pa (+%llu) cannot be trapped; its accesses go untrapped\n",
			    (void *)va, &phys, size);
	return false;
}

/* ---- hooks ------------------------------------------------------------- */

/* mmiotrace_ioremap(phys, size, addr): the new mapping is complete. */
static int pciem_trap_on_map(struct kprobe *kp, struct pt_regs *regs)
{
	phys_addr_t phys = regs->di & PAGE_MASK;
	u64 size = PAGE_ALIGN(regs->di + regs->si) - phys;
	unsigned long va = regs->dx & PAGE_MASK;
	struct pciem_trap_range *range;
	unsigned long flags;
	bool cleared = false;

	if (list_empty(&trap.ranges) || !regs->dx)
		return 0;
	spin_lock_irqsave(&trap.lock, flags);
	list_for_each_entry(range, &trap.ranges, node)
		cleared |= pciem_trap_map_range(range, va, phys, size);
	spin_unlock_irqrestore(&trap.lock, flags);
	if (cleared)
		pciem_trap_flush_all();
	return 0;
}
NOKPROBE_SYMBOL(pciem_trap_on_map);

/* mmiotrace_iounmap(addr): the mapping is about to go. */
static int pciem_trap_on_unmap(struct kprobe *kp, struct pt_regs *regs)
{
	unsigned long va = regs->di & PAGE_MASK;
	struct pciem_trap_page *pg, *tmp;
	struct pciem_trap_map *map;
	unsigned long flags;

	if (list_empty(&trap.maps))
		return 0;
	spin_lock_irqsave(&trap.lock, flags);
	map = pciem_trap_find_map(va);
	if (map) {
		list_for_each_entry_safe(pg, tmp, &map->pages, node)
			pciem_trap_page_release(pg);
		list_del(&map->node);
		kfree(map);
	}
	spin_unlock_irqrestore(&trap.lock, flags);
	/*
	 * A degraded page may leave a stale scratch translation behind; the
	 * VA is dead and vunmap's own lazy flush covers it before reuse, and
	 * the scratch page lives until pciem_trap_exit().
	 */
	return 0;
}
NOKPROBE_SYMBOL(pciem_trap_on_unmap);

/* ---- emulation ---------------------------------------------------------- */

static inline u64 pciem_trap_ones(unsigned int width)
{
	return width >= 8 ? ~0ULL : (1ULL << (width * 8)) - 1;
}

/* An element on the other side of a MOVS (RAM, or an untrapped mapping). */
static int pciem_trap_plain(unsigned long addr, unsigned int width, bool is_write,
			    u64 *value)
{
#define TRAP_PLAIN(type)						\
	do {								\
		type v = (type)*value;					\
		if (is_write) {						\
			__put_kernel_nofault((type *)addr, &v, type, fault); \
		} else {						\
			__get_kernel_nofault(&v, (type *)addr, type, fault); \
			*value = v;					\
		}							\
	} while (0)

	switch (width) {
	case 1:
		TRAP_PLAIN(u8);
		break;
	case 2:
		TRAP_PLAIN(u16);
		break;
	case 4:
		TRAP_PLAIN(u32);
		break;
	case 8:
		TRAP_PLAIN(u64);
		break;
	default:
		return -EINVAL;
	}
	return 0;
fault:
	return -EFAULT;
#undef TRAP_PLAIN
}

/*
 * One element of an access at addr. A trapped page goes to its range's
 * callback; anything else is plain memory. A failed read gives all-ones.
 */
static int pciem_trap_element(unsigned long addr, unsigned int width,
			      bool is_write, u64 *value)
{
	unsigned long in_page = addr & ~PAGE_MASK;
	bool crosses = in_page + width > PAGE_SIZE;
	struct pciem_trap_page *pg, *next = NULL;
	struct pciem_trap_range *range;
	u64 offset;
	int ret;

	pg = xa_load(&trap.pages, addr >> PAGE_SHIFT);
	if (crosses)
		next = xa_load(&trap.pages, (addr >> PAGE_SHIFT) + 1);
	if (!pg) {
		if (next)
			goto fail;	/* half plain, half trapped */
		ret = pciem_trap_plain(addr, width, is_write, value);
		if (ret && !is_write)
			*value = pciem_trap_ones(width);
		return ret;
	}
	range = pg->range;
	if (crosses && (!next || next->range != range ||
			next->phys != pg->phys + PAGE_SIZE))
		goto fail_range;
	offset = pg->phys + in_page - range->phys;
	if (offset + width > range->len)
		goto fail_range;
	ret = range->ops->access(range->ctx, offset, width, is_write, value);
	if (ret)
		goto fail_range;
	atomic64_inc(is_write ? &range->writes : &range->reads);
	return 0;

fail_range:
	atomic64_inc(&range->failed);
fail:
	if (!is_write)
		*value = pciem_trap_ones(width);
	return -EIO;
}

static void pciem_trap_rearm(struct work_struct *work)
{
	struct pciem_trap_map *map;
	struct pciem_trap_page *pg;
	unsigned long flags;
	bool any = false;

	spin_lock_irqsave(&trap.lock, flags);
	list_for_each_entry(map, &trap.maps, node)
		list_for_each_entry(pg, &map->pages, node)
			if (pg->degraded) {
				set_pte(pg->ptep, __pte(0));
				pg->degraded = false;
				trap.degraded--;
				any = true;
			}
	spin_unlock_irqrestore(&trap.lock, flags);
	if (!any)
		return;
	on_each_cpu(pciem_trap_flush_cpu, NULL, 1);
	memset(page_address(trap.scratch), 0xff, PAGE_SIZE);
}

/*
 * An instruction we cannot emulate: its length is unknown, so it cannot be
 * skipped. Map the page on the all-ones scratch page and let the CPU
 * re-execute it there: a read gets all-ones, a write lands in scratch and
 * is lost. The page is re-armed shortly after, from process context.
 */
static void pciem_trap_degrade(struct pciem_trap_page *pg, const u8 *bytes,
			       unsigned int got, const struct pt_regs *regs,
			       unsigned long address, const char *why)
{
	struct pciem_trap_range *range = pg->range;
	unsigned long flags;

	u64 offset = pg->phys + (address & ~PAGE_MASK) - range->phys;
	bool log;

	atomic64_inc(&range->undecodable);
	if (range->ops->undecodable)
		log = range->ops->undecodable(range->ctx, offset);
	else
		log = !test_and_set_bit(0, &range->logged);
	if (log)
		pr_warn("%s at %pS (ip %px, bytes %*ph) on %px: access fails (reads all-ones, writes dropped)\n",
			why, (void *)regs->ip, (void *)regs->ip, got, bytes,
			(void *)address);
	spin_lock_irqsave(&trap.lock, flags);
	if (xa_load(&trap.pages, pg->va >> PAGE_SHIFT) == pg && !pg->degraded) {
		set_pte(pg->ptep, pfn_pte(page_to_pfn(trap.scratch), PAGE_KERNEL));
		pg->degraded = true;
		trap.degraded++;
	}
	spin_unlock_irqrestore(&trap.lock, flags);
	schedule_delayed_work(&trap.rearm, msecs_to_jiffies(TRAP_REARM_MS));
}

static void pciem_trap_string(struct pciem_insn_regs *r,
			      const struct pciem_insn *insn)
{
	u64 n = min_t(u64, pciem_insn_string_count(r, insn), TRAP_STRING_BATCH);
	unsigned int w = insn->width;

	while (n--) {
		u64 value = 0;

		if (insn->kind == PCIEM_INSN_MOVS)
			pciem_trap_element(pciem_insn_src_ea(r, insn), w, false, &value);
		else if (insn->kind == PCIEM_INSN_LODS)
			pciem_trap_element(pciem_insn_ea(r, insn), w, false, &value);
		else
			value = pciem_insn_store_value(r, insn);

		if (insn->kind == PCIEM_INSN_LODS)
			pciem_insn_load_apply(r, insn, value);
		else
			pciem_trap_element(pciem_insn_ea(r, insn), w, true, &value);
		pciem_insn_string_step(r, insn, 1);
	}
}

/* Does the instruction touch the faulting address? */
static bool pciem_trap_covers(const struct pciem_insn_regs *r,
			      const struct pciem_insn *insn, unsigned long address)
{
	if (address - pciem_insn_ea(r, insn) < insn->width)
		return true;
	return insn->kind == PCIEM_INSN_MOVS &&
	       address - pciem_insn_src_ea(r, insn) < insn->width;
}

/*
 * The page fault on a kernel address nobody else handled. Returns true if
 * it was ours and regs now describe the state after the access.
 */
static bool pciem_trap_fault(struct pt_regs *regs, unsigned long error_code,
			     unsigned long address)
{
	struct pciem_trap_page *pg;
	struct pciem_insn_regs r;
	struct pciem_insn insn;
	u8 bytes[PCIEM_INSN_MAX_LEN];
	unsigned int got = PCIEM_INSN_MAX_LEN;
	u64 value;

	if (user_mode(regs) ||
	    (error_code & (X86_PF_PROT | X86_PF_USER | X86_PF_RSVD | X86_PF_INSTR)))
		return false;
	/* Exception context, interrupts off: an RCU reader already. */
	pg = xa_load(&trap.pages, address >> PAGE_SHIFT);
	if (!pg)
		return false;

	/* Fetch up to 15 bytes, fewer if the code page ends before. */
	if (copy_from_kernel_nofault(bytes, (void *)regs->ip, got)) {
		got = PAGE_SIZE - (regs->ip & ~PAGE_MASK);
		if (got >= PCIEM_INSN_MAX_LEN ||
		    copy_from_kernel_nofault(bytes, (void *)regs->ip, got))
			got = 0;
	}
	if (pciem_insn_decode(bytes, got, &insn)) {
		pciem_trap_degrade(pg, bytes, got, regs, address, "undecodable instruction");
		return true;
	}
	pciem_insn_regs_from_pt(&r, regs);
	if (!pciem_trap_covers(&r, &insn, address)) {
		pciem_trap_degrade(pg, bytes, insn.len, regs, address,
				   "instruction address mismatch");
		return true;
	}

	switch (insn.kind) {
	case PCIEM_INSN_LOAD:
	case PCIEM_INSN_LOAD_ZX:
	case PCIEM_INSN_LOAD_SX:
		pciem_trap_element(pciem_insn_ea(&r, &insn), insn.width, false, &value);
		pciem_insn_load_apply(&r, &insn, value);
		break;
	case PCIEM_INSN_STORE:
	case PCIEM_INSN_STORE_IMM:
		value = pciem_insn_store_value(&r, &insn);
		pciem_trap_element(pciem_insn_ea(&r, &insn), insn.width, true, &value);
		break;
	default:
		pciem_trap_string(&r, &insn);
		break;
	}
	/* An unfinished REP string keeps its ip: the CPU resumes it. */
	if (pciem_insn_done(&r, &insn))
		pciem_insn_advance_rip(&r, &insn);
	pciem_insn_regs_to_pt(&r, regs);
	return true;
}

/* Where a handled fault resumes instead of the probed function: a bare return. */
static noinline notrace void pciem_trap_return(void)
{
	barrier();
}

/*
 * Pre-handler at the entry of bad_area_nosemaphore(regs, error_code,
 * address). Runs before the kernel decides to oops; on our fault it makes
 * the probed function return at once through pciem_trap_return.
 */
static int pciem_trap_on_fault(struct kprobe *kp, struct pt_regs *kregs)
{
	struct pt_regs *regs = (struct pt_regs *)kregs->di;

	if (!pciem_trap_fault(regs, kregs->si, kregs->dx))
		return 0;
	instruction_pointer_set(kregs, (unsigned long)pciem_trap_return);
	return 1;
}
NOKPROBE_SYMBOL(pciem_trap_on_fault);

/* ---- API ---------------------------------------------------------------- */

struct pciem_trap_range *pciem_trap_add_range(phys_addr_t phys, u64 len,
					      const struct pciem_trap_ops *ops,
					      void *ctx)
{
	struct pciem_trap_range *range, *other;
	unsigned long flags;

	if (!trap.ready)
		return ERR_PTR(-ENODEV);
	if (!len || !PAGE_ALIGNED(phys) || !PAGE_ALIGNED(len) ||
	    phys + len < phys || !ops || !ops->access)
		return ERR_PTR(-EINVAL);

	range = kzalloc(sizeof(*range), GFP_KERNEL);
	if (!range)
		return ERR_PTR(-ENOMEM);
	range->phys = phys;
	range->len = len;
	range->ops = ops;
	range->ctx = ctx;

	spin_lock_irqsave(&trap.lock, flags);
	list_for_each_entry(other, &trap.ranges, node) {
		if (phys < other->phys + other->len && other->phys < phys + len) {
			spin_unlock_irqrestore(&trap.lock, flags);
			kfree(range);
			return ERR_PTR(-EBUSY);
		}
	}
	list_add_tail_rcu(&range->node, &trap.ranges);
	spin_unlock_irqrestore(&trap.lock, flags);
	return range;
}

void pciem_trap_remove_range(struct pciem_trap_range *range)
{
	struct pciem_trap_map *map, *mtmp;
	struct pciem_trap_page *pg, *ptmp;
	bool was_degraded = false;
	unsigned long flags;

	if (IS_ERR_OR_NULL(range))
		return;
	spin_lock_irqsave(&trap.lock, flags);
	list_del_rcu(&range->node);
	list_for_each_entry_safe(map, mtmp, &trap.maps, node) {
		list_for_each_entry_safe(pg, ptmp, &map->pages, node)
			if (pg->range == range)
				was_degraded |= pciem_trap_page_release(pg);
		if (list_empty(&map->pages)) {
			list_del(&map->node);
			kfree(map);
		}
	}
	spin_unlock_irqrestore(&trap.lock, flags);
	if (was_degraded)
		on_each_cpu(pciem_trap_flush_cpu, NULL, 1);
	/* Faults already past xa_load() finish before the range goes. */
	synchronize_rcu();
	kfree(range);
}

void pciem_trap_get_stats(struct pciem_trap_range *range,
			  struct pciem_trap_stats *stats)
{
	stats->reads = atomic64_read(&range->reads);
	stats->writes = atomic64_read(&range->writes);
	stats->failed = atomic64_read(&range->failed);
	stats->undecodable = atomic64_read(&range->undecodable);
	stats->mappings = atomic64_read(&range->mappings);
	stats->untrappable = atomic64_read(&range->untrappable);
}

static int pciem_trap_probe(struct kprobe *kp, const char *sym,
			    kprobe_pre_handler_t handler)
{
	int ret;

	kp->symbol_name = sym;
	kp->pre_handler = handler;
	ret = register_kprobe(kp);
	if (ret)
		pr_err("cannot probe %s (%d): BAR trapping unavailable\n", sym, ret);
	return ret;
}

int pciem_trap_init(void)
{
	int ret;

	spin_lock_init(&trap.lock);
	INIT_LIST_HEAD(&trap.ranges);
	INIT_LIST_HEAD(&trap.maps);
	xa_init_flags(&trap.pages, XA_FLAGS_LOCK_IRQ);
	INIT_DELAYED_WORK(&trap.rearm, pciem_trap_rearm);
	INIT_WORK(&trap.flush, pciem_trap_flush_work);
	memset(&trap.kp_map, 0, sizeof(trap.kp_map));
	memset(&trap.kp_unmap, 0, sizeof(trap.kp_unmap));
	memset(&trap.kp_fault, 0, sizeof(trap.kp_fault));

	trap.scratch = alloc_page(GFP_KERNEL);
	if (!trap.scratch)
		return -ENOMEM;
	memset(page_address(trap.scratch), 0xff, PAGE_SIZE);

	/* The fault hook first: it must outlive every cleared PTE. */
	ret = pciem_trap_probe(&trap.kp_fault, TRAP_SYM_FAULT, pciem_trap_on_fault);
	if (ret)
		goto err_scratch;
	ret = pciem_trap_probe(&trap.kp_unmap, TRAP_SYM_UNMAP, pciem_trap_on_unmap);
	if (ret)
		goto err_fault;
	ret = pciem_trap_probe(&trap.kp_map, TRAP_SYM_MAP, pciem_trap_on_map);
	if (ret)
		goto err_unmap;
	trap.ready = true;
	pr_info("hooks: %s %s, %s %s, %s %s\n",
		TRAP_SYM_MAP, kprobe_ftrace(&trap.kp_map) ? "ftrace" : "int3",
		TRAP_SYM_UNMAP, kprobe_ftrace(&trap.kp_unmap) ? "ftrace" : "int3",
		TRAP_SYM_FAULT, kprobe_ftrace(&trap.kp_fault) ? "ftrace" : "int3");
	return 0;

err_unmap:
	unregister_kprobe(&trap.kp_unmap);
err_fault:
	unregister_kprobe(&trap.kp_fault);
err_scratch:
	__free_page(trap.scratch);
	return ret;
}

void pciem_trap_exit(void)
{
	struct pciem_trap_range *range;

	if (!trap.ready)
		return;
	trap.ready = false;
	unregister_kprobe(&trap.kp_map);
	/* Ranges a caller forgot: restore their PTEs while the hooks still run. */
	for (;;) {
		range = list_first_entry_or_null(&trap.ranges,
						 struct pciem_trap_range, node);
		if (!range)
			break;
		WARN_ONCE(1, "pciem_trap: range %pa left at exit\n", &range->phys);
		pciem_trap_remove_range(range);
	}
	if (trap.kp_map.nmissed || trap.kp_unmap.nmissed || trap.kp_fault.nmissed)
		pr_warn("kprobes missed: ioremap %lu, iounmap %lu, fault %lu\n",
			trap.kp_map.nmissed, trap.kp_unmap.nmissed,
			trap.kp_fault.nmissed);
	unregister_kprobe(&trap.kp_unmap);
	unregister_kprobe(&trap.kp_fault);
	cancel_delayed_work_sync(&trap.rearm);
	flush_work(&trap.flush);
	/* No CPU may keep a translation to the scratch page once it is freed. */
	on_each_cpu(pciem_trap_flush_cpu, NULL, 1);
	__free_page(trap.scratch);
	rcu_barrier();	/* kfree_rcu() of page records */
	xa_destroy(&trap.pages);
}
