// SPDX-License-Identifier: MIT
/*
 * NVMe fast path, I/O commands: PRP and SGL walks into merged segments, data
 * moved between the backing store and host memory in scatter-gather calls,
 * Read, Write, Flush, Write Zeroes. Anything to report goes back to Lua.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "native.h"

static const uint8_t zeroes[ZERO_LEN];

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

int nvme_exec_io(struct nvme_native *nn, const uint32_t *sqe)
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
