/* SPDX-License-Identifier: MIT */
/* The event loop's insides shared by pl_loop.c, pl_wait.c and pl_native.c. */
#ifndef PL_LOOP_H
#define PL_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "pciem_ffi.h"
#include "pciem_native.h"
#include "pl_backend.h"

/* A loaded native handler library and the context it was initialised with. */
struct pl_native {
	struct pl_native *next;
	void *handle;			/* dlopen() handle */
	void (*idle)(struct pciem_native *nd);	/* pciem_native_idle, if exported */
	struct pciem_native ctx;
};

/* Unload every library of the list (pciem_native_exit first, when exported). */
void pl_native_unload_all(struct pl_native *list);
/* Fill a library context's BARs and services from @dev. */
void pl_native_ctx_init(struct pciem_native *ctx, struct pl_dev *dev);

/* Loops register their libraries here (pl_loop.c). */
void pl_loop_add_native(struct pl_loop *lp, struct pl_native *lib);
struct pl_dev *pl_loop_dev(struct pl_loop *lp);

/* ---- the loop's state (pl_loop.c dispatches, pl_wait.c waits) ---- */

enum {
	LOOP_TABLES = PL_LOOP_CFG_BAR + 1,
	PRIVATE_SLOTS = 64,
	DEFAULT_SPIN_NS = 20000,	/* busy-poll after activity, then sleep */
	MIN_SPIN_NS = 1000,
	SIGNAL_CHECK_EVERY = 256,	/* polls between signal checks while busy */
	DRAIN_MAX = 4096,		/* events taken per drain at most */
};

/* One handled range of a BAR: [start, end) -> Lua handler id or native fn. */
struct pl_range {
	uint64_t start;
	uint64_t end;
	uint32_t lua_id;
	pciem_native_handler_fn *fn;
	struct pciem_native *nd;
};

/* Sorted, non-overlapping ranges of one BAR and access kind. */
struct pl_table {
	struct pl_range *r;
	uint32_t n;
	uint32_t cap;
};

struct pl_loop {
	struct pl_dev *dev;
	struct pciem_ring_ctrl *ctrl;
	struct pciem_answer *answers;
	struct pciem_event *events;
	uint32_t mask;
	uint32_t nslots;
	bool private_ring;
	void *ring;
	uint64_t ring_len;
	int efd;
	uint32_t pending;		/* batch entries not yet answered */
	uint32_t spin_max_ns;
	struct pl_table table[LOOP_TABLES][2];
	struct pl_native *natives;
	bool active;			/* events taken since the last idle point */
	bool lua_idle;			/* poll returns PL_LOOP_IDLE at idle points */
	bool intercept;			/* every event goes to Lua */
	int fds[PL_LOOP_MAX_FDS];	/* watched fds, -1 where free */
	uint32_t nfds;			/* slots in use: 0..nfds-1 may hold fds */
	uint32_t fds_ready;		/* slot bits found ready */
	struct pl_loop_stats stats;
	struct pl_lua_event batch[PL_LOOP_BATCH];
};

static inline uint64_t pl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t load_tail(const struct pl_loop *lp)
{
	return __atomic_load_n(&lp->ctrl->tail, __ATOMIC_ACQUIRE);
}

/* How the loop waits (pl_wait.c). */
int pl_wait_signal(int sfd, int timeout_ms);
bool pl_wait_spin(struct pl_loop *lp, uint64_t budget_ns);
int pl_wait_sleep(struct pl_loop *lp, int timeout_ms, int *signo);
bool pl_wait_fds_check(struct pl_loop *lp);

#endif /* PL_LOOP_H */
