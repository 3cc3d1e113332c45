/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * BAR trap engine: every kernel mapping of a registered physical range is
 * made non-present, and each access is decoded and emulated in the page fault.
 */
#ifndef PCIEM_TRAP_H
#define PCIEM_TRAP_H

#include <linux/types.h>

struct pciem_trap_range;

struct pciem_trap_ops {
	/*
	 * One access of `width` (1, 2, 4 or 8) bytes at `offset` from the
	 * start of the range. A read stores the value in *value (low `width`
	 * bytes); a write finds it there. Return 0, or a negative errno to
	 * fail the access: the read then yields all-ones, the write is lost.
	 *
	 * Called on the faulting CPU from the page-fault exception, with
	 * interrupts off, possibly with the faulting code holding spinlocks:
	 * it must not sleep, take a lock the driver side might hold, or touch
	 * a trapped mapping itself. A wait for user space must spin with a
	 * deadline.
	 */
	int (*access)(void *ctx, u64 offset, unsigned int width, bool is_write,
		      u64 *value);
	/*
	 * Optional: an instruction the decoder refused touched `offset` (same
	 * context rules as access). Return true to have the engine log the
	 * instruction bytes now (e.g. the first time for that device).
	 * Without it the engine logs once per range.
	 */
	bool (*undecodable)(void *ctx, u64 offset);
};

/* Counters of one range (snapshot; they only grow). */
struct pciem_trap_stats {
	u64 reads;		/* emulated read elements */
	u64 writes;		/* emulated write elements */
	u64 failed;		/* elements failed (callback error, bad offset) */
	u64 undecodable;	/* faults on instructions the decoder refused */
	u64 mappings;		/* kernel mappings trapped so far */
	u64 untrappable;	/* mappings that could not be trapped (out of memory) */
};

/*
 * Module load / unload. init registers the kprobes (ioremap and iounmap
 * hooks, page-fault hook); it fails with a message naming the symbol it
 * could not probe. exit removes whatever ranges are left.
 */
int pciem_trap_init(void);
void pciem_trap_exit(void);

/*
 * Trap [phys, phys + len): page aligned, non-empty, not overlapping another
 * range. Every kernel mapping of any part of it made from now on is trapped
 * until pciem_trap_remove_range(). Sleeps. Returns the range or ERR_PTR.
 */
struct pciem_trap_range *pciem_trap_add_range(phys_addr_t phys, u64 len,
					      const struct pciem_trap_ops *ops,
					      void *ctx);

/*
 * Stop trapping: mappings still alive get their original PTEs back (their
 * accesses then reach the unbacked physical range: all-ones, dropped).
 * Sleeps; when it returns, no ops->access() call on this range is running
 * or will start.
 */
void pciem_trap_remove_range(struct pciem_trap_range *range);

void pciem_trap_get_stats(struct pciem_trap_range *range,
			  struct pciem_trap_stats *stats);

#endif /* PCIEM_TRAP_H */
