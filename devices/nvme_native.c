// SPDX-License-Identifier: MIT
/*
 * NVMe native fast path: I/O queue doorbells served in C on the state the Lua
 * controller shares (devices/nvme/fastpath.h); see devices/nvme_native.md.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pciem_native.h"
#include "nvme/fastpath.h"

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

static const uint8_t zeroes[ZERO_LEN];

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

/*
 * A command's data moves are queued as scatter-gather segments and go out in
 * one call (nd->dma_sg), or one call per segment on a host without it.
 */
static int data_flush(struct nvme_native *nn)
{
	struct nvme_fp_state *st = nn->st;
	struct pciem_native *nd = nn->nd;
	uint64_t t = now_ns(st);
	uint32_t i;
	int rc = 0;

	if (!nn->nsg)
		return 0;
	for (i = 0; i < nn->nsg; i++)
		st->stats.data_bytes += nn->sg[i].length;
	if (nd->dma_sg) {
		rc = nd->dma_sg(nd, nn->sg_dir, nn->sg, nn->nsg);
		st->stats.data_dmas++;
	} else {
		for (i = 0; i < nn->nsg && rc >= 0; i++) {
			const struct pciem_dma_seg *g = &nn->sg[i];
			void *p = (void *)(uintptr_t)g->user_addr;

			if (nn->sg_dir == PCIEM_DMA_TO_HOST)
				rc = nd->dma_write(nd, g->bus_addr, p, g->length);
			else
				rc = nd->dma_read(nd, g->bus_addr, p, g->length);
			st->stats.data_dmas++;
		}
	}
	st->stats.ns_data += now_ns(st) - t;
	nn->nsg = 0;
	return rc < 0 ? -1 : 0;
}

/* Queue @len bytes between bus address @addr and @p (merged when both sides run on). */
static int data_add(struct nvme_native *nn, uint64_t addr, const void *p, uint64_t len)
{
	struct pciem_dma_seg *g = nn->nsg ? &nn->sg[nn->nsg - 1] : NULL;
	uint64_t user = (uint64_t)(uintptr_t)p;

	if (g && g->bus_addr + g->length == addr && g->user_addr + g->length == user) {
		g->length += len;
		return 0;
	}
	if (nn->nsg == PCIEM_DMA_MAX_SEGS && data_flush(nn))
		return -1;
	g = &nn->sg[nn->nsg++];
	g->bus_addr = addr;
	g->user_addr = user;
	g->length = len;
	return 0;
}

static void data_begin(struct nvme_native *nn, uint32_t dir)
{
	nn->nsg = 0;
	nn->sg_dir = dir;
}

static int shadow_read(struct nvme_native *nn, uint64_t addr, uint32_t *v)
{
	struct nvme_fp_state *st = nn->st;
	uint64_t t = now_ns(st);
	int rc = nn->nd->dma_read(nn->nd, addr, v, 4);

	st->stats.ns_shadow += now_ns(st) - t;
	st->stats.shadow_dmas++;
	return rc;
}

static int shadow_write(struct nvme_native *nn, uint64_t addr, uint32_t v)
{
	struct nvme_fp_state *st = nn->st;
	uint64_t t = now_ns(st);
	int rc = nn->nd->dma_write(nn->nd, addr, &v, 4);

	st->stats.ns_shadow += now_ns(st) - t;
	st->stats.shadow_dmas++;
	return rc;
}

/* A fatal controller error, as devices/nvme/regs.lua's fatal(): CSTS.CFS. */
static void fatal(struct nvme_native *nn, const char *what, unsigned int qid)
{
	uint8_t *bar = nn->nd->bar[0];

	fprintf(stderr, "nvme: controller fatal status: queue %u: %s\n", qid, what);
	nn->st->ready = 0;
	if (bar) {
		volatile uint32_t *csts = (volatile uint32_t *)(bar + REG_CSTS);

		*csts |= CSTS_CFS;
	}
}

/* ---- interrupts ---- */

/* Raise vector @v: MSI-X/MSI, or the INTx pin when neither is enabled. */
static void raise_vector(struct nvme_native *nn, uint16_t v)
{
	struct nvme_fp_state *st = nn->st;
	struct nvme_fp_vec *vec = &st->vec[v];
	uint64_t t = now_ns(st);
	int rc;

	vec->owed = 0;
	vec->count = 0;
	st->stats.irqs++;
	rc = nn->nd->irq(nn->nd, v);
	if (rc < 0) {
		st->intx_mode = 1;
		if (!(st->intms & 1) && !st->intx_on) {
			st->intx_on = 1;
			nn->nd->intx(nn->nd, 1);
		}
	} else {
		st->intx_mode = 0;
	}
	st->stats.ns_irq += now_ns(st) - t;
	st->stats.irq_calls++;
}

static bool coalesced(const struct nvme_fp_state *st, uint16_t v)
{
	return v && (st->coal_thr || st->coal_time) && !st->vec[v].cd;
}

/* Write the batched CQEs. False when the CQ is unreachable (fatal). */
static bool flush_cqes(struct nvme_native *nn)
{
	struct nvme_fp_state *st = nn->st;
	struct nvme_fp_cq *cq = nn->batch_cq;
	uint64_t t;
	int rc;

	if (!nn->batch_n)
		return true;
	t = now_ns(st);
	rc = nn->nd->dma_write(nn->nd, cq->base + (uint64_t)nn->batch_first * CQE_SIZE, nn->cqe,
			       (uint64_t)nn->batch_n * CQE_SIZE);
	st->stats.ns_post += now_ns(st) - t;
	st->stats.cqe_dmas++;
	st->stats.cqes += nn->batch_n;
	nn->batch_n = 0;
	if (rc < 0) {
		fatal(nn, "completions not writable", nn->batch_cqid);
		return false;
	}
	return true;
}

/* End of a batch: CQEs out, then the vectors that do not aggregate (or reached
 * the coalescing threshold). The rest waits for the idle point. */
static void flush(struct nvme_native *nn)
{
	struct nvme_fp_state *st = nn->st;
	uint32_t i;

	flush_cqes(nn);
	for (i = 0; i < nn->ndirty; i++) {
		uint16_t v = nn->dirty[i];
		struct nvme_fp_vec *vec = &st->vec[v];

		if (vec->owed && (!coalesced(st, v) || vec->count > st->coal_thr))
			raise_vector(nn, v);
	}
	nn->ndirty = 0;
}

/* ---- completion queues ---- */

static uint32_t cq_free(const struct nvme_fp_cq *cq)
{
	return (cq->head + cq->size - cq->tail - 1) % cq->size;
}

/*
 * Free entries of CQ @cqid. With shadow doorbells the driver may have
 * consumed entries without an MMIO write: when full, publish EventIdx = the
 * head seen and read the shadow head, so that once we stop its next head
 * update rings the doorbell.
 */
static uint32_t cq_room(struct nvme_native *nn, uint16_t cqid)
{
	struct nvme_fp_state *st = nn->st;
	struct nvme_fp_cq *cq = &st->cq[cqid];
	uint32_t room, head;

	if (!cq->valid || !cq->size)
		return 0;
	room = cq_free(cq);
	if (room || !st->db_shadow || !cqid)
		return room;
	for (;;) {
		if (shadow_write(nn, st->db_eventidx + cqid * 8u + 4, cq->head) < 0 ||
		    shadow_read(nn, st->db_shadow + cqid * 8u + 4, &head) < 0)
			return 0;
		if (head >= cq->size || head == cq->head)
			return 0;
		cq->head = head;
		room = cq_free(cq);
		if (room)
			return room;
	}
}

/* Post a successful completion (batched). False on a fatal error. */
static bool post(struct nvme_native *nn, uint16_t cqid, uint32_t sqhd, uint16_t sqid,
		 uint16_t cid)
{
	struct nvme_fp_state *st = nn->st;
	struct nvme_fp_cq *cq = &st->cq[cqid];
	uint32_t *e;

	if (nn->batch_n && (nn->batch_cqid != cqid || nn->batch_first + nn->batch_n != cq->tail ||
			    nn->batch_n == FETCH_MAX)) {
		if (!flush_cqes(nn))
			return false;
	}
	if (!nn->batch_n) {
		nn->batch_cq = cq;
		nn->batch_cqid = cqid;
		nn->batch_first = cq->tail;
	}
	e = &nn->cqe[nn->batch_n++ * 4];
	e[0] = 0;
	e[1] = 0;
	e[2] = sqhd | (uint32_t)sqid << 16;
	e[3] = cid | (uint32_t)cq->phase << 16;
	if (++cq->tail == cq->size) {
		cq->tail = 0;
		cq->phase ^= 1;
	}
	if (cq->ien) {
		struct nvme_fp_vec *vec = &st->vec[cq->iv];

		if (!vec->owed && nn->ndirty < sizeof(nn->dirty) / sizeof(nn->dirty[0]))
			nn->dirty[nn->ndirty++] = cq->iv;
		vec->owed = 1;
		vec->count++;
	}
	return true;
}

/* ---- data pointers ---- */

static int add_seg(struct nvme_native *nn, uint64_t addr, uint64_t len)
{
	struct seg *prev = nn->nsegs ? &nn->segs[nn->nsegs - 1] : NULL;

	if (prev && prev->addr + prev->len == addr) {
		prev->len += len;
		return 0;
	}
	if (nn->nsegs == MAX_SEGS)
		return -1;
	nn->segs[nn->nsegs].addr = addr;
	nn->segs[nn->nsegs].len = len;
	nn->nsegs++;
	return 0;
}

/* The merged segments of a @len-byte PRP transfer; -1 for anything Lua reports. */
static int prp_segments(struct nvme_native *nn, const uint32_t *sqe, uint64_t len)
{
	struct nvme_fp_state *st = nn->st;
	uint64_t page = st->page, prp1 = u64_of(sqe, 6), prp2 = u64_of(sqe, 8);
	uint64_t first, left, lp;
	uint32_t lists = 0;

	nn->nsegs = 0;
	if ((prp1 & 3) || page > PRP_PAGE_MAX)
		return -1;
	first = page - (prp1 & (page - 1));
	if (first > len)
		first = len;
	add_seg(nn, prp1, first);
	left = len - first;
	if (!left)
		return 0;
	if (left <= page)
		return (prp2 & (page - 1)) ? -1 : add_seg(nn, prp2, left);
	lp = prp2;
	if (lp & 7)
		return -1;
	while (left) {
		uint64_t entries = (page - (lp & (page - 1))) / 8;
		uint64_t want = (left + page - 1) / page;
		bool chain = want > entries;
		uint64_t count = chain ? entries : want, used = chain ? count - 1 : count, i;
		uint64_t t = now_ns(st);
		int rc;

		if (++lists > MAX_PRP_LISTS)
			return -1;
		rc = nn->nd->dma_read(nn->nd, lp, nn->prp, count * 8);
		st->stats.ns_data += now_ns(st) - t;
		st->stats.prp_dmas++;
		if (rc < 0)
			return -1;
		for (i = 0; i < used; i++) {
			uint64_t a = nn->prp[i], l = left < page ? left : page;

			if ((a & (page - 1)) || add_seg(nn, a, l))
				return -1;
			left -= l;
		}
		if (chain) {
			lp = nn->prp[count - 1];
			if (lp & 7)
				return -1;
		}
	}
	return 0;
}

/* SGL descriptor types (byte 15 bits 7:4); subtype bits 3:0 must be 0 (Address). */
enum { SGL_DATA = 0, SGL_SEGMENT = 2, SGL_LAST = 3, MAX_SGL_LISTS = 64 };

/*
 * The merged segments of a @len-byte transfer described by an SGL (PSDT 01):
 * Data Block descriptors, in the command or in Segment / Last Segment lists.
 * -1 for anything Lua reports (bit buckets, malformed lists).
 */
static int sgl_segments(struct nvme_native *nn, const uint32_t *sqe, uint64_t len)
{
	struct nvme_fp_state *st = nn->st;
	uint32_t *list = (uint32_t *)nn->prp;	/* PRP_PAGE_MAX bytes */
	const uint32_t *d = sqe + 6;
	uint32_t remaining = 0, lists = 0, next = 0;
	bool in_list = false, last_list = false;
	uint64_t left = len;

	nn->nsegs = 0;
	while (left) {
		uint64_t addr = (uint64_t)d[1] << 32 | d[0];
		uint32_t dlen = d[2], ident = d[3] >> 24;
		uint32_t type = ident >> 4;

		if (ident & 0xf)
			return -1;
		if (type == SGL_DATA) {
			uint64_t l = dlen < left ? dlen : left;

			if (l && add_seg(nn, addr, l))
				return -1;
			left -= l;
		} else if (type == SGL_SEGMENT || type == SGL_LAST) {
			uint64_t t;
			int rc;

			/* a segment descriptor ends its list; a Last Segment list holds none */
			if ((in_list && remaining) || last_list)
				return -1;
			if (!dlen || dlen % 16 || dlen > PRP_PAGE_MAX || ++lists > MAX_SGL_LISTS)
				return -1;
			t = now_ns(st);
			rc = nn->nd->dma_read(nn->nd, addr, list, dlen);
			st->stats.ns_data += now_ns(st) - t;
			st->stats.prp_dmas++;
			if (rc < 0)
				return -1;
			in_list = true;
			last_list = type == SGL_LAST;
			remaining = dlen / 16;
			next = 0;
		} else {
			return -1;
		}
		if (left) {
			if (!in_list || !remaining)
				return -1;
			d = list + next * 4;
			next++;
			remaining--;
		}
	}
	return 0;
}

static int data_segments(struct nvme_native *nn, const uint32_t *sqe, uint64_t len)
{
	switch ((sqe[0] >> 14) & 3) {
	case 0:
		return prp_segments(nn, sqe, len);
	case 1:
		return sgl_segments(nn, sqe, len);
	default:
		return -1;
	}
}

/* ---- stores ---- */

/* Store bytes [off, off + len) -> the segments: straight from the RAM chunks. */
static int ram_to_host(struct nvme_native *nn, struct nvme_fp_store *s, uint64_t off)
{
	uint32_t i;

	for (i = 0; i < nn->nsegs; i++) {
		uint64_t addr = nn->segs[i].addr, left = nn->segs[i].len;

		while (left) {
			uint64_t idx = off >> NVME_FP_CHUNK_SHIFT, in = off & (CHUNK - 1);
			uint64_t n = CHUNK - in < left ? CHUNK - in : left;
			const uint8_t *src = s->chunks[idx];

			if (src) {
				src += in;
			} else {
				src = zeroes;
				if (n > ZERO_LEN)
					n = ZERO_LEN;
			}
			if (data_add(nn, addr, src, n))
				return -1;
			addr += n;
			off += n;
			left -= n;
		}
	}
	return data_flush(nn);
}

/* The segments -> store bytes at @off: straight into the chunks (allocated on
 * first write, as Lua's store does). */
static int ram_from_host(struct nvme_native *nn, struct nvme_fp_store *s, uint64_t off)
{
	uint32_t i;

	for (i = 0; i < nn->nsegs; i++) {
		uint64_t addr = nn->segs[i].addr, left = nn->segs[i].len;

		while (left) {
			uint64_t idx = off >> NVME_FP_CHUNK_SHIFT, in = off & (CHUNK - 1);
			uint64_t n = CHUNK - in < left ? CHUNK - in : left;
			uint8_t *dst = s->chunks[idx];

			if (!dst) {
				dst = calloc(1, CHUNK);
				if (!dst)
					return -1;
				s->chunks[idx] = dst;
				s->allocated += CHUNK;
			}
			if (data_add(nn, addr, dst + in, n))
				return -1;
			addr += n;
			off += n;
			left -= n;
		}
	}
	return data_flush(nn);
}

static int file_to_host(struct nvme_native *nn, struct nvme_fp_store *s, uint64_t off,
			uint64_t len)
{
	uint64_t done = 0;
	uint8_t *p = nn->bounce;
	uint32_t i;

	while (done < len) {
		ssize_t n = pread(s->fd, p + done, len - done, (off_t)(off + done));

		if (n < 0)
			return -1;
		if (!n) {
			memset(p + done, 0, len - done);
			break;
		}
		done += (uint64_t)n;
	}
	for (i = 0; i < nn->nsegs; i++) {
		if (data_add(nn, nn->segs[i].addr, p, nn->segs[i].len))
			return -1;
		p += nn->segs[i].len;
	}
	return data_flush(nn);
}

static int file_from_host(struct nvme_native *nn, struct nvme_fp_store *s, uint64_t off,
			  uint64_t len)
{
	uint64_t done = 0;
	uint8_t *p = nn->bounce;
	uint32_t i;

	for (i = 0; i < nn->nsegs; i++) {
		if (data_add(nn, nn->segs[i].addr, p, nn->segs[i].len))
			return -1;
		p += nn->segs[i].len;
	}
	if (data_flush(nn))
		return -1;
	while (done < len) {
		ssize_t n = pwrite(s->fd, nn->bounce + done, len - done, (off_t)(off + done));

		if (n <= 0)
			return -1;
		done += (uint64_t)n;
	}
	return 0;
}

/* Zero a RAM range, freeing whole chunks (Write Zeroes). */
static void ram_zero(struct nvme_fp_store *s, uint64_t off, uint64_t len)
{
	while (len) {
		uint64_t idx = off >> NVME_FP_CHUNK_SHIFT, in = off & (CHUNK - 1);
		uint64_t n = CHUNK - in < len ? CHUNK - in : len;
		uint8_t *p = s->chunks[idx];

		if (p) {
			if (n == CHUNK) {
				free(p);
				s->chunks[idx] = NULL;
				s->allocated -= CHUNK;
			} else {
				memset(p + in, 0, n);
			}
		}
		off += n;
		len -= n;
	}
}

/* ---- I/O commands: 0 done (success), DEFER for Lua ---- */

static struct nvme_fp_ns *namespace_of(struct nvme_fp_state *st, uint32_t nsid)
{
	if (!nsid || nsid > st->nns || !st->ns[nsid - 1].store)
		return NULL;
	return &st->ns[nsid - 1];
}

/* Checked SLBA/NLB of @sqe: byte offset and length, or false. */
static bool lba_range(const struct nvme_fp_ns *ns, const uint32_t *sqe, uint64_t *off,
		      uint64_t *len, uint64_t *nlb)
{
	uint64_t slba = u64_of(sqe, 10);

	*nlb = (sqe[12] & 0xffff) + 1;
	if (slba >= ns->blocks || *nlb > ns->blocks - slba)
		return false;
	*off = slba << ns->lba_shift;
	*len = *nlb << ns->lba_shift;
	return true;
}

static int read_write(struct nvme_native *nn, const uint32_t *sqe, bool write)
{
	struct nvme_fp_state *st = nn->st;
	struct nvme_fp_ns *ns = namespace_of(st, sqe[1]);
	struct nvme_fp_store *s;
	uint64_t off, len, nlb;
	int rc;

	if (!ns || !lba_range(ns, sqe, &off, &len, &nlb) || len > st->mdts_bytes)
		return DEFER;
	if (data_segments(nn, sqe, len))
		return DEFER;
	s = ns->store;
	data_begin(nn, write ? PCIEM_DMA_FROM_HOST : PCIEM_DMA_TO_HOST);
	if (s->chunks)
		rc = write ? ram_from_host(nn, s, off) : ram_to_host(nn, s, off);
	else if (s->fd >= 0 && nn->bounce)
		rc = write ? file_from_host(nn, s, off, len) : file_to_host(nn, s, off, len);
	else
		rc = -1;
	if (rc)
		return DEFER;
	if (write) {
		st->smart.write_cmds++;
		st->smart.write_blocks += len / 512;
	} else {
		st->smart.read_cmds++;
		st->smart.read_blocks += len / 512;
	}
	return 0;
}

static int flush_cmd(struct nvme_native *nn, uint32_t nsid)
{
	struct nvme_fp_state *st = nn->st;
	uint32_t i;

	if (nsid == NSID_ALL) {
		for (i = 0; i < st->nns; i++) {
			struct nvme_fp_store *s = st->ns[i].store;

			if (s && !s->chunks && s->fd >= 0 && fsync(s->fd))
				return DEFER;
		}
		return 0;
	}
	if (!namespace_of(st, nsid))
		return DEFER;
	if (!st->ns[nsid - 1].store->chunks) {
		int fd = st->ns[nsid - 1].store->fd;

		if (fd < 0 || fsync(fd))
			return DEFER;
	}
	return 0;
}

static int write_zeroes(struct nvme_native *nn, const uint32_t *sqe)
{
	struct nvme_fp_ns *ns = namespace_of(nn->st, sqe[1]);
	uint64_t off, len, nlb;

	if (!ns || !ns->store->chunks || !lba_range(ns, sqe, &off, &len, &nlb))
		return DEFER;
	ram_zero(ns->store, off, len);
	return 0;
}

static int exec_io(struct nvme_native *nn, const uint32_t *sqe)
{
	if (sqe[0] & 0x300)		/* fused: Lua */
		return DEFER;
	switch (sqe[0] & 0xff) {
	case OP_READ:
		return read_write(nn, sqe, false);
	case OP_WRITE:
		return read_write(nn, sqe, true);
	case OP_FLUSH:
		return flush_cmd(nn, sqe[1]);
	case OP_WRITE_ZEROES:
		return write_zeroes(nn, sqe);
	default:
		return DEFER;
	}
}

/* ---- submission queues ---- */

/*
 * Run I/O SQ @qid from its head to its tail. Returns 0, or DEFER with the head
 * at the entry Lua must run (fetched again by Lua: both sides share head/tail).
 */
static int run_sq(struct nvme_native *nn, uint16_t qid)
{
	struct nvme_fp_state *st = nn->st;
	struct nvme_fp_sq *sq = &st->sq[qid];

	while (sq->valid && sq->head != sq->tail && st->ready) {
		uint32_t room = cq_room(nn, sq->cqid), run, i;
		uint64_t t;
		int rc;

		if (!room) {
			sq->stalled = NVME_FP_STALL_CQ;
			return 0;
		}
		sq->stalled = 0;
		run = (sq->tail > sq->head ? sq->tail : sq->size) - sq->head;
		if (run > FETCH_MAX)
			run = FETCH_MAX;
		if (run > room)
			run = room;
		t = now_ns(st);
		rc = nn->nd->dma_read(nn->nd, sq->base + (uint64_t)sq->head * SQE_SIZE, nn->sqe,
				      (uint64_t)run * SQE_SIZE);
		st->stats.ns_fetch += now_ns(st) - t;
		st->stats.sqe_dmas++;
		st->stats.sqes += run;
		if (rc < 0)
			return DEFER;	/* Lua fetches again and reports it */
		for (i = 0; i < run; i++) {
			const uint32_t *sqe = (const uint32_t *)(nn->sqe + i * SQE_SIZE);
			uint32_t head = sq->head + 1 == sq->size ? 0 : sq->head + 1;

			if (exec_io(nn, sqe))
				return DEFER;
			if (!post(nn, sq->cqid, head, qid, sqe[0] >> 16))
				return 0;
			sq->head = head;
			st->stats.commands++;
			st->stats.native_cmds++;
		}
	}
	return 0;
}

/* Hand SQ @qid to Lua's idle function (no event to defer). */
static void kick_lua(struct nvme_native *nn, uint16_t qid)
{
	nn->st->sq[qid].stalled = NVME_FP_STALL_LUA;
	nn->st->lua_kick = 1;
}

static void mark_active(struct nvme_native *nn, uint16_t qid)
{
	if (nn->is_active[qid])
		return;
	nn->is_active[qid] = 1;
	nn->active[nn->nactive++] = qid;
}

/*
 * Shadow doorbells, while busy: take the shadow tail, serve it, and leave
 * EventIdx behind so the driver's next submissions cost no trap; the idle
 * point publishes EventIdx and looks again before the host waits.
 */
static int shadow_sq(struct nvme_native *nn, uint16_t qid)
{
	struct nvme_fp_state *st = nn->st;
	struct nvme_fp_sq *sq = &st->sq[qid];
	uint32_t tail;

	if (shadow_read(nn, st->db_shadow + qid * 8u, &tail) < 0)
		return DEFER;
	if (tail < sq->size && tail != sq->tail) {
		sq->tail = tail;
		st->stats.shadow_tails++;
	}
	mark_active(nn, qid);
	return run_sq(nn, qid);
}

/* Idle point for SQ @qid: EventIdx = the tail we have, then the shadow again;
 * serve what came meanwhile until the two agree. False: give the queue up. */
static bool settle_sq(struct nvme_native *nn, uint16_t qid)
{
	struct nvme_fp_state *st = nn->st;
	struct nvme_fp_sq *sq = &st->sq[qid];
	uint32_t tail;

	while (sq->valid && st->ready && st->db_shadow) {
		if (sq->stalled)
			return true;	/* its CQ doorbell, or Lua, resumes it */
		if (shadow_write(nn, st->db_eventidx + qid * 8u, sq->tail) < 0 ||
		    shadow_read(nn, st->db_shadow + qid * 8u, &tail) < 0) {
			kick_lua(nn, qid);	/* Lua redoes it and reports the error */
			return true;
		}
		if (tail >= sq->size || tail == sq->tail)
			return true;
		sq->tail = tail;
		st->stats.shadow_tails++;
		if (st->lua_only || run_sq(nn, qid) == DEFER) {
			kick_lua(nn, qid);
			return true;
		}
	}
	return true;
}

/* A CQ head doorbell: the head (from the shadow when there is one), INTx, and
 * the SQs that waited for room. */
static int cq_doorbell(struct nvme_native *nn, uint16_t qid, uint32_t value)
{
	struct nvme_fp_state *st = nn->st;
	struct nvme_fp_cq *cq = &st->cq[qid];
	uint16_t s;

	if (!cq->valid || value >= cq->size)
		return DEFER;	/* Lua reports the invalid doorbell */
	if (st->db_shadow) {
		uint32_t head;

		/* the shadow is never behind an MMIO value, which can be stale */
		if (shadow_read(nn, st->db_shadow + qid * 8u + 4, &head) == 0 && head < cq->size)
			value = head;
	}
	cq->head = value;
	if (st->intx_on) {
		uint16_t q;

		for (q = 0; q <= st->maxq; q++) {
			const struct nvme_fp_cq *c = &st->cq[q];

			if (c->valid && c->ien && c->head != c->tail)
				break;
		}
		if (q > st->maxq) {
			st->intx_on = 0;
			nn->nd->intx(nn->nd, 0);
		}
	}
	for (s = 1; s <= st->maxq; s++) {
		struct nvme_fp_sq *sq = &st->sq[s];

		if (!sq->valid || sq->cqid != qid || sq->stalled != NVME_FP_STALL_CQ)
			continue;
		if ((st->db_shadow ? shadow_sq(nn, s) : run_sq(nn, s)) == DEFER) {
			sq->stalled = NVME_FP_STALL_CQ;	/* Lua's CQ doorbell resumes it */
			return DEFER;
		}
	}
	return 0;
}

/* The handler on the I/O queue doorbells (BAR0 0x1008..0x1fff). */
int nvme_doorbell(struct pciem_native *nd, const struct pciem_event *ev, uint64_t *answer)
{
	struct nvme_native *nn = nd->priv;
	struct nvme_fp_state *st = nn ? nn->st : NULL;
	uint32_t idx, value = (uint32_t)ev->value;
	uint16_t qid;
	int rc;

	(void)answer;
	if (!st || !st->ready || st->lua_only || ev->width != 4 || (ev->offset & 3) ||
	    ev->offset < DOORBELLS)
		return DEFER;
	idx = (uint32_t)(ev->offset - DOORBELLS) >> 2;
	qid = (uint16_t)(idx >> 1);
	if (!qid || qid > st->maxq)
		return DEFER;
	if (idx & 1) {
		rc = cq_doorbell(nn, qid, value);
	} else {
		struct nvme_fp_sq *sq = &st->sq[qid];

		if (!sq->valid || value >= sq->size)
			return DEFER;
		if (st->db_shadow) {
			/* the shadow tail is the truth: this MMIO value may be older */
			rc = shadow_sq(nn, qid);
		} else {
			sq->tail = value;
			rc = run_sq(nn, qid);
		}
	}
	flush(nn);
	if (rc == DEFER) {
		st->stats.deferred++;
		return DEFER;
	}
	st->stats.doorbells++;
	st->stats.native_doorbells++;
	return 0;
}

/* End of a burst: settle the shadow doorbells, then every owed interrupt
 * (coalescing's aggregation time ends here). */
void pciem_native_idle(struct pciem_native *nd)
{
	struct nvme_native *nn = nd->priv;
	struct nvme_fp_state *st = nn ? nn->st : NULL;
	uint32_t i;
	uint16_t v;

	if (!st)
		return;
	for (i = 0; i < nn->nactive; i++) {
		uint16_t qid = nn->active[i];

		nn->is_active[qid] = 0;
		if (qid <= st->maxq)
			settle_sq(nn, qid);
	}
	if (nn->nactive)
		st->stats.idle_calls++;
	nn->nactive = 0;
	flush(nn);
	for (v = 0; v < st->nvec; v++)
		if (st->vec[v].owed)
			raise_vector(nn, v);
}

/* Lua hands the shared state over in dev:on_start. 0, or -errno. */
int nvme_native_attach(struct pciem_native *nd, struct nvme_fp_state *st)
{
	struct nvme_native *nn = nd->priv;

	if (!nn)
		return -EINVAL;
	if (st && (st->magic != NVME_FP_MAGIC || st->state_size != sizeof(*st) ||
		   st->maxq >= 256 || st->nvec > 256))
		return -EPROTO;
	free(nn->bounce);
	nn->bounce = NULL;
	if (st && st->mdts_bytes) {
		nn->bounce = malloc(st->mdts_bytes);
		if (!nn->bounce)
			return -ENOMEM;
	}
	memset(nn->is_active, 0, sizeof(nn->is_active));
	nn->nactive = 0;
	nn->ndirty = 0;
	nn->batch_n = 0;
	nn->st = st;
	return 0;
}

int pciem_native_init(struct pciem_native *nd, const char *args)
{
	struct nvme_native *nn;

	(void)args;
	if (nd->abi != PCIEM_NATIVE_ABI)
		return -EPROTO;
	if (!nd->bar[0] || nd->bar_len[0] < 0x2000)
		return -ENODEV;
	nn = calloc(1, sizeof(*nn));
	if (!nn)
		return -ENOMEM;
	nn->prp = malloc(PRP_PAGE_MAX);
	if (!nn->prp) {
		free(nn);
		return -ENOMEM;
	}
	nn->nd = nd;
	nd->priv = nn;
	return 0;
}

void pciem_native_exit(struct pciem_native *nd)
{
	struct nvme_native *nn = nd->priv;

	if (!nn)
		return;
	free(nn->bounce);
	free(nn->prp);
	free(nn);
	nd->priv = NULL;
}
