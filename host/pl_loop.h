/* SPDX-License-Identifier: MIT */
/* The event loop's insides shared by pl_loop.c and pl_native.c. */
#ifndef PL_LOOP_H
#define PL_LOOP_H

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

#endif /* PL_LOOP_H */
