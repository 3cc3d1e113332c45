/* SPDX-License-Identifier: MIT */
/*
 * ABI of native handler libraries: a .so a device script loads so that hot
 * registers are served in C, behind the same handler table as Lua handlers.
 */
#ifndef PCIEM_NATIVE_H
#define PCIEM_NATIVE_H

#include <stdint.h>
#include "../include/uapi/pciem.h"

enum {
	PCIEM_NATIVE_ABI = 1,
	/* Handler return: pass this event to the range's Lua fallback handler. */
	PCIEM_NATIVE_DEFER = 1,
};

/*
 * What the host hands a library: one per loaded library and device. The BAR
 * pointers are the device's shadows (the same memory Lua's BAR views see).
 * The function pointers may be called from handlers and from nowhere else
 * (the host is single-threaded).
 */
struct pciem_native {
	uint32_t abi;			/* PCIEM_NATIVE_ABI */
	uint32_t reserved0;
	void *priv;			/* the library's own state; set it in init */
	uint8_t *bar[PCIEM_NUM_BARS];	/* BAR shadows, NULL where absent */
	uint64_t bar_len[PCIEM_NUM_BARS];
	/* Raise MSI/MSI-X vector: 0 delivered, 1 left pending, -errno. */
	int (*irq)(struct pciem_native *nd, uint32_t vector);
	/* INTx level: 1 assert, 0 deassert. 0 or -errno. */
	int (*intx)(struct pciem_native *nd, int level);
	/* Copy between host memory at a bus address and @buf. 0 or -errno. */
	int (*dma_read)(struct pciem_native *nd, uint64_t bus_addr, void *buf, uint64_t len);
	int (*dma_write)(struct pciem_native *nd, uint64_t bus_addr, const void *buf, uint64_t len);
	void *host;			/* the host's device: leave alone */
	/*
	 * Scatter-gather in one call: each segment moves length bytes between
	 * bus_addr and the buffer at user_addr (a pointer as an integer).
	 * Direction PCIEM_DMA_FROM_HOST (read host memory) or _TO_HOST.
	 * At most PCIEM_DMA_MAX_SEGS segments. 0 or -errno.
	 */
	int (*dma_sg)(struct pciem_native *nd, uint32_t dir, const struct pciem_dma_seg *segs,
		      uint32_t nsegs);
	uint64_t reserved[3];
};

/*
 * A handler: @ev is the trapped access (kind, bar, offset, width, value).
 * For a read, store the value in *answer (it starts as the shadow's value at
 * the offset); a write may ignore @answer. Return 0, or -errno: the host
 * counts it and a read then completes with all-ones; or PCIEM_NATIVE_DEFER:
 * the Lua handler registered as the range's fallback runs for this event
 * (in ring order; without a fallback the event counts as served).
 * Exported by name; the script attaches it to a BAR range.
 */
typedef int pciem_native_handler_fn(struct pciem_native *nd, const struct pciem_event *ev,
				    uint64_t *answer);

/*
 * Exported by every library: called once after loading, with the argument
 * string the script gave ("" if none). Return 0, or -errno to refuse.
 */
int pciem_native_init(struct pciem_native *nd, const char *args);
/* Optional: called before the library is unloaded. */
void pciem_native_exit(struct pciem_native *nd);
/*
 * Optional: called when the loop has drained the ring after handling events,
 * before it spins or sleeps: the place to flush what a burst batched
 * (completions, interrupts).
 */
void pciem_native_idle(struct pciem_native *nd);

#endif /* PCIEM_NATIVE_H */
