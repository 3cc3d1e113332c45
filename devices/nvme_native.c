// SPDX-License-Identifier: MIT
/*
 * NVMe native fast path: I/O queue doorbells served in C on the state the Lua
 * controller shares (devices/nvme/fastpath.h): SQ fetch, CQ post, interrupts,
 * shadow doorbells; the commands are in devices/nvme/native_io.c. See
 * devices/nvme_native.md.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pciem_native.h"
#include "nvme/native.h"

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

			if (nvme_exec_io(nn, sqe))
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
