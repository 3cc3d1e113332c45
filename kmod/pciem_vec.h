/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Interrupt vector decisions shared by pciem.ko and the host's sim backend:
 * given config space and the MSI-X table/PBA bytes, raise vector n, find what
 * an unmask made deliverable, and compute the INTx line. Freestanding: no
 * locking, no allocation; the caller serialises access to cfg and the PBA.
 */
#ifndef PCIEM_VEC_H
#define PCIEM_VEC_H

#include "pciem_cfg.h"

/* What pciem_vec_raise() decided (the PCIEM_IOC_IRQ return values). */
enum pciem_vec_verdict {
	PCIEM_VEC_DELIVER = 0,		/* send msg now */
	PCIEM_VEC_PENDING = 1,		/* masked: pending bit set */
};

/* One MSI or MSI-X message as the OS programmed it. */
struct pciem_vec_msg {
	u64 addr;
	u32 data;
	u32 vector;
	bool msix;
};

/* Where the MSI-X structures live (from the capability). */
struct pciem_vec_msix_layout {
	u32 vectors;			/* table size */
	u32 table_bar, table_offset, table_len;
	u32 pba_bar, pba_offset, pba_len;
};

/*
 * The BAR shadows, indexed by BAR number (NULL for absent BARs); each is
 * cfg->bar_len[i] bytes. Only the MSI-X table and PBA are touched.
 */
typedef void *const pciem_vec_bars[PCIEM_NUM_BARS];

/* -ENODEV without an MSI-X capability. */
int pciem_vec_msix_layout(const struct pciem_cfg *cfg, struct pciem_vec_msix_layout *l);

/* MSI-X Enable / MSI Enable as the OS set them. */
bool pciem_vec_msix_enabled(const struct pciem_cfg *cfg);
bool pciem_vec_msi_enabled(const struct pciem_cfg *cfg);

/*
 * Raise @vector: MSI-X if enabled, else MSI. Returns PCIEM_VEC_DELIVER with
 * *msg filled, PCIEM_VEC_PENDING after setting the PBA bit (MSI-X function or
 * vector mask) or the MSI Pending bit (per-vector mask), -ENOTCONN when
 * neither is enabled, -EINVAL for a vector beyond the table / enabled count.
 * An already pending vector stays pending once (a pending bit holds one
 * message, as in hardware).
 */
int pciem_vec_raise(struct pciem_cfg *cfg, pciem_vec_bars bars, u32 vector,
		    struct pciem_vec_msg *msg);

/*
 * After a mask change: find the next pending vector at or after *cursor that
 * is now deliverable, clear its pending bit, fill *msg, advance *cursor past
 * it and return true. Returns false when none is left. Start with *cursor = 0
 * and loop; the caller may drop its lock between calls.
 */
bool pciem_vec_next_unmasked(struct pciem_cfg *cfg, pciem_vec_bars bars, u32 *cursor,
			     struct pciem_vec_msg *msg);

/*
 * Read one MSI-X table entry (-EINVAL out of range, -ENODEV without MSI-X).
 * For the kernel's delivery path and for tests.
 */
int pciem_vec_msix_entry(const struct pciem_cfg *cfg, pciem_vec_bars bars, u32 vector,
			 struct pciem_vec_msg *msg, bool *masked);

/* Forget pending state and mask every MSI-X entry, as at reset. */
void pciem_vec_reset(struct pciem_cfg *cfg, pciem_vec_bars bars);

/*
 * INTx. pciem_vec_intx_set records the device's level in Status.Interrupt
 * Status and returns -ENOTCONN when the function has no interrupt pin.
 * pciem_vec_intx_line: the level the bus sees (asserted and Command.INTx
 * Disable clear, and neither MSI nor MSI-X enabled).
 */
int pciem_vec_intx_set(struct pciem_cfg *cfg, bool asserted);
bool pciem_vec_intx_line(const struct pciem_cfg *cfg);

#endif /* PCIEM_VEC_H */
