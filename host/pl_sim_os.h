/* SPDX-License-Identifier: MIT */
/*
 * The OS side of the sim backend, for tests acting as the OS and the driver:
 * MMIO at bus addresses, simulated host memory, the interrupt log. Lua reaches
 * it through lua/pciem/sim.lua (cdef generated from the section below).
 */
#ifndef PL_SIM_OS_H
#define PL_SIM_OS_H

#include <stdint.h>

/* pciem:ffi-begin */

struct pl_dev;

/* What pciem_sim_mmio() and pciem_sim_complete() report. */
enum pciem_sim_status {
	PCIEM_SIM_DONE = 0,	/* access complete; *result holds a read's value */
	PCIEM_SIM_WAIT = 1,	/* sync access queued: run the host's dispatch step, then pciem_sim_complete() */
	PCIEM_SIM_RING_FULL = 2,	/* ring full: run the dispatch step, then call again with retry = 1 */
	PCIEM_SIM_ABORT = 3,	/* nothing decodes the address (no BAR, Memory Space off): all-ones / dropped */
	PCIEM_SIM_TIMEOUT = 4,	/* the host did not answer (or the ring stayed full): all-ones / counted */
};

/* struct pciem_sim_irq.kind */
enum pciem_sim_irq_kind {
	PCIEM_SIM_IRQ_MSI = 1,
	PCIEM_SIM_IRQ_MSIX = 2,
	PCIEM_SIM_IRQ_INTX = 3,	/* vector = the level the interrupt controller now sees, 1 or 0 */
};

/* One interrupt as the OS's interrupt controller received it. */
struct pciem_sim_irq {
	uint64_t seq;		/* 1, 2, ... in arrival order, per device */
	uint32_t kind;		/* PCIEM_SIM_IRQ_* */
	uint32_t vector;
	uint64_t addr;		/* message address (MSI, MSI-X) */
	uint32_t data;		/* message data (MSI, MSI-X) */
	uint32_t reserved;
};

/*
 * pciem_sim_mmio - a CPU load (@write 0) or store of @width bytes (1, 2, 4, 8,
 * naturally aligned) at bus address @addr, decoded like a PCI bus would from
 * the device's BAR registers and Command.Memory Space Enable.
 * Return: a PCIEM_SIM_* status (>= 0), or -errno for misuse (error text set).
 */
int pciem_sim_mmio(struct pl_dev *dev, uint64_t addr, uint32_t width, int write,
		   uint64_t value, int retry, uint64_t *result);
/* Finish the sync access pciem_sim_mmio() left waiting: PCIEM_SIM_DONE or _TIMEOUT. */
int pciem_sim_complete(struct pl_dev *dev, uint64_t *result);
/* 1 when the event ring has no room (a config write would have to wait). */
int pciem_sim_ring_full(struct pl_dev *dev);

/* Interrupts: copy log entries [from, from + max) out; return how many. */
uint32_t pciem_sim_irq_log(struct pl_dev *dev, uint32_t from, struct pciem_sim_irq *out,
			   uint32_t max);
uint32_t pciem_sim_irq_log_count(struct pl_dev *dev);
void pciem_sim_irq_log_clear(struct pl_dev *dev);
/* The INTx level the interrupt controller sees (asserted and not disabled). */
int pciem_sim_intx_level(struct pl_dev *dev);

/*
 * Host memory, shared by every sim device of the process: a zeroed region of
 * @size bytes at a fresh bus address, never adjacent to another region (the
 * gaps, the BAR windows and everything else are not RAM).
 */
int pciem_sim_mem_alloc(uint64_t size, uint64_t *bus_addr, uint8_t **ptr);
/* Free the region starting at @bus_addr: 0, or -ENOENT. */
int pciem_sim_mem_free(uint64_t bus_addr);
/* Pointer to @len bytes of RAM at @bus_addr inside one region, or NULL. */
uint8_t *pciem_sim_mem_ptr(uint64_t bus_addr, uint64_t len);

/* pciem:ffi-end */

#endif /* PL_SIM_OS_H */
