/* SPDX-License-Identifier: MIT */
/*
 * Inside of the NVMe native fast path (devices/nvme_native.c: queues, doorbells,
 * interrupts; devices/nvme/native_io.c: data pointers, stores, I/O commands).
 */
#ifndef NVME_NATIVE_H
#define NVME_NATIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "pciem_native.h"
#include "fastpath.h"

enum {
	SQE_SIZE = 64,
	CQE_SIZE = 16,
	FETCH_MAX = 64,			/* SQEs per fetch DMA */
	MAX_SEGS = 1024,		/* data segments of one command */
	MAX_PRP_LISTS = 4096,		/* PRP list pages followed per command */
	PRP_PAGE_MAX = 65536,		/* largest memory page (CAP.MPSMAX) */
	ZERO_LEN = 65536,
	REG_CSTS = 0x1c,
	CSTS_CFS = 0x2,
	DOORBELLS = 0x1000,
	OP_FLUSH = 0x00,
	OP_WRITE = 0x01,
	OP_READ = 0x02,
	OP_WRITE_ZEROES = 0x08,
	CHUNK = 1 << NVME_FP_CHUNK_SHIFT,
	DEFER = PCIEM_NATIVE_DEFER,
};

#define NSID_ALL 0xffffffffu

struct seg {
	uint64_t addr;
	uint64_t len;
};

struct nvme_native {
	struct pciem_native *nd;
	struct nvme_fp_state *st;
	uint8_t *bounce;		/* file store data, mdts bytes */
	uint64_t *prp;			/* one PRP list page */
	struct seg segs[MAX_SEGS];
	uint32_t nsegs;
	/* the data moves of the command at hand */
	struct pciem_dma_seg sg[PCIEM_DMA_MAX_SEGS];
	uint32_t nsg;
	uint32_t sg_dir;
	/* CQEs posted but not written yet: a contiguous run of one CQ */
	struct nvme_fp_cq *batch_cq;
	uint16_t batch_cqid;
	uint32_t batch_first;
	uint32_t batch_n;
	uint32_t cqe[FETCH_MAX * 4];
	uint8_t sqe[FETCH_MAX * SQE_SIZE];
	/* vectors posted to since the last flush */
	uint16_t dirty[256];
	uint32_t ndirty;
	/* SQs with shadow doorbells served since the last idle point */
	uint16_t active[256];
	uint32_t nactive;
	uint8_t is_active[256];
};

static inline uint64_t now_ns(const struct nvme_fp_state *st)
{
	struct timespec ts;

	if (!st->timing)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t u64_of(const uint32_t *sqe, int dw)
{
	return (uint64_t)sqe[dw + 1] << 32 | sqe[dw];
}

/* ---- DMA with counters ---- */

/* Execute one I/O command: 0 done (success, to be completed), or DEFER for Lua. */
int nvme_exec_io(struct nvme_native *nn, const uint32_t *sqe) __attribute__((visibility("hidden")));

#endif /* NVME_NATIVE_H */
