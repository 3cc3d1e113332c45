/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Per-BAR access policy tables: a sorted list of ranges covering the whole
 * BAR, each with one PCIEM_POLICY_*. Freestanding (no allocation, no locks):
 * compiled into pciem.ko and into the userspace unit tests.
 */
#ifndef PCIEM_POLICY_H
#define PCIEM_POLICY_H

#include "pciem_cfg_types.h"
#include "../include/uapi/pciem.h"

/* [start, end) of a BAR with one policy. */
struct pciem_policy_range {
	u64 start;
	u64 end;
	u32 policy;
};

/* The most a SET_POLICY can add to a table: one range split into three. */
#define PCIEM_POLICY_GROWTH 2

/* MEMORY < POSTED < SYNC: an access spanning several ranges gets the strictest. */
static inline u32 pciem_policy_stricter(u32 a, u32 b)
{
	return a > b ? a : b;
}

static inline bool pciem_policy_known(u32 policy)
{
	return policy == PCIEM_POLICY_MEMORY || policy == PCIEM_POLICY_POSTED ||
	       policy == PCIEM_POLICY_SYNC;
}

/* A fresh table for a BAR of bar_len bytes: one POSTED range. Returns 1. */
u32 pciem_policy_init(struct pciem_policy_range *out, u64 bar_len);

/*
 * out = in (n ranges, sorted, covering [0, bar_len)) with [start, end) set to
 * policy; neighbours with equal policies are merged. out must have room for
 * n + PCIEM_POLICY_GROWTH ranges and must not alias in. The caller checked
 * start < end <= bar_len. Returns the number of ranges in out.
 */
u32 pciem_policy_apply(const struct pciem_policy_range *in, u32 n,
		       u64 start, u64 end, u32 policy,
		       struct pciem_policy_range *out);

/*
 * Policy of an access of width bytes at offset: the strictest of every range
 * it touches. Bytes past the table (never the case for a decoded access)
 * count as SYNC, the safe side.
 */
u32 pciem_policy_lookup(const struct pciem_policy_range *r, u32 n,
			u64 offset, u32 width);

#endif /* PCIEM_POLICY_H */
