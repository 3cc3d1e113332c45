/* SPDX-License-Identifier: MIT */
/*
 * State the NVMe controller's Lua modules (devices/nvme.lua, devices/nvme/) and its native fast
 * path (devices/nvme_native.c) share. Lua cdefs the marked section from this file.
 */
#ifndef NVME_FASTPATH_H
#define NVME_FASTPATH_H

#include <stdint.h>

/* nvme:ffi-begin */
enum {
	NVME_FP_MAGIC = 0x4e465031,	/* "NFP1": bumped when a struct below changes */
	NVME_FP_CHUNK_SHIFT = 18,	/* RAM store chunks of 256 KiB */
	NVME_FP_STALL_CQ = 1,		/* waiting for room in its CQ (a CQ head doorbell resumes) */
	NVME_FP_STALL_LUA = 2,		/* C met an entry it defers outside a doorbell: Lua's idle runs it */
};

/* A submission queue (qid 0 is the admin SQ). */
struct nvme_fp_sq {
	uint64_t base;		/* bus address of entry 0 */
	uint32_t size;		/* entries */
	uint32_t head, tail;
	uint16_t cqid;
	uint8_t valid;
	uint8_t stalled;	/* NVME_FP_STALL_*: why entries wait */
};

/* A completion queue. */
struct nvme_fp_cq {
	uint64_t base;
	uint32_t size;
	uint32_t head, tail;
	uint16_t iv;		/* interrupt vector */
	uint8_t valid, ien, phase, sqs;	/* sqs: SQs attached */
	uint16_t reserved;
};

/* Interrupt state of one vector (Interrupt Coalescing, 5.21.1.8/9). */
struct nvme_fp_vec {
	uint16_t count;		/* completions since its last interrupt */
	uint8_t owed;		/* an interrupt is due: raised by the end of the burst */
	uint8_t cd;		/* Interrupt Vector Configuration: coalescing disabled */
};

/* Backing store of one namespace: RAM chunks, or a file. */
struct nvme_fp_store {
	uint64_t size;		/* bytes */
	uint8_t **chunks;	/* RAM: nchunks pointers (calloc), NULL = hole; NULL for a file */
	uint64_t nchunks;
	uint64_t allocated;	/* RAM: bytes in chunks */
	int32_t fd;		/* file: its descriptor; -1 for RAM */
	uint32_t reserved;
};

struct nvme_fp_ns {
	uint64_t blocks;	/* LBAs */
	uint32_t lba_shift;	/* log2 of the LBA size */
	uint32_t reserved;
	struct nvme_fp_store *store;
};

/* SMART / Health counters (5.14.1.2), both paths. */
struct nvme_fp_smart {
	uint64_t read_cmds, write_cmds;
	uint64_t read_blocks, write_blocks;	/* in 512-byte units */
};

/* Counters; the ns_* figures only while `timing` is set. */
struct nvme_fp_stats {
	uint64_t commands;		/* executed, both paths */
	uint64_t doorbells;		/* doorbell events handled, both paths */
	uint64_t shadow_tails;		/* new SQ tails found in the shadow doorbells */
	uint64_t native_cmds;		/* commands executed in C */
	uint64_t native_doorbells;	/* doorbell events C finished */
	uint64_t deferred;		/* doorbell events C handed to Lua */
	uint64_t idle_calls;		/* end-of-burst calls that found work */
	uint64_t irqs;			/* interrupts raised (both paths) */
	uint64_t sqe_dmas, sqes;	/* SQE fetches: DMA calls, entries */
	uint64_t data_dmas, data_bytes;	/* data DMA calls (C), bytes */
	uint64_t prp_dmas;		/* PRP list reads */
	uint64_t cqe_dmas, cqes;	/* CQE posts: DMA calls, entries (C) */
	uint64_t shadow_dmas;		/* shadow doorbell / EventIdx accesses (C) */
	uint64_t ns_fetch, ns_data, ns_post, ns_irq, ns_shadow;	/* time in each stage (C) */
	uint64_t irq_calls;		/* interrupt calls timed in ns_irq */
};

struct nvme_fp_state {
	uint32_t magic;			/* NVME_FP_MAGIC */
	uint32_t state_size;		/* sizeof(struct nvme_fp_state) */
	uint16_t maxq;			/* queue ids 0..maxq */
	uint16_t nns;			/* namespaces 1..nns = ns[0..nns) */
	uint16_t nvec;			/* interrupt vectors */
	uint8_t ready;			/* CSTS.RDY and running: commands are processed */
	uint8_t lua_only;		/* non-zero: C defers every I/O doorbell to Lua */
	uint8_t lua_kick;		/* some SQ is NVME_FP_STALL_LUA: Lua's idle function runs it */
	uint32_t page;			/* memory page size (CC.MPS) */
	uint32_t mdts_bytes;		/* largest transfer */
	uint32_t intms;			/* INTMS/INTMC mask */
	uint8_t intx_on;		/* INTx asserted */
	uint8_t intx_mode;		/* the last interrupt found no MSI/MSI-X: the pin is used */
	uint8_t timing;			/* time the stages (ns_* counters) */
	uint8_t coal_thr;		/* Interrupt Coalescing: aggregation threshold (0-based) */
	uint8_t coal_time;		/* aggregation time (100 us units): the end of the burst */
	uint64_t db_shadow;		/* Doorbell Buffer Config: shadow page, 0 when off */
	uint64_t db_eventidx;		/* EventIdx page */
	struct nvme_fp_sq *sq;		/* [maxq + 1] */
	struct nvme_fp_cq *cq;		/* [maxq + 1] */
	struct nvme_fp_vec *vec;	/* [nvec] */
	struct nvme_fp_ns *ns;		/* [nns] */
	struct nvme_fp_smart smart;
	struct nvme_fp_stats stats;
};
/* nvme:ffi-end */

#endif /* NVME_FASTPATH_H */
