// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Per-BAR access policy tables: building a new table for SET_POLICY and
 * looking up the policy of one access (the page-fault path).
 */
#include "pciem_policy.h"

u32 pciem_policy_init(struct pciem_policy_range *out, u64 bar_len)
{
	out[0].start = 0;
	out[0].end = bar_len;
	out[0].policy = PCIEM_POLICY_POSTED;
	return 1;
}

/* Append [start, end) with policy to out[0..n), merging with the last range. */
static u32 pciem_policy_push(struct pciem_policy_range *out, u32 n,
			     u64 start, u64 end, u32 policy)
{
	if (start >= end)
		return n;
	if (n && out[n - 1].policy == policy && out[n - 1].end == start) {
		out[n - 1].end = end;
		return n;
	}
	out[n].start = start;
	out[n].end = end;
	out[n].policy = policy;
	return n + 1;
}

u32 pciem_policy_apply(const struct pciem_policy_range *in, u32 n,
		       u64 start, u64 end, u32 policy,
		       struct pciem_policy_range *out)
{
	bool placed = false;
	u32 i, m = 0;

	for (i = 0; i < n; i++) {
		const struct pciem_policy_range *r = &in[i];

		/* The part of r before the new range, the new range, the part after. */
		m = pciem_policy_push(out, m, r->start,
				      r->end < start ? r->end : start, r->policy);
		if (!placed && r->end > start) {
			m = pciem_policy_push(out, m, start, end, policy);
			placed = true;
		}
		m = pciem_policy_push(out, m, r->start > end ? r->start : end,
				      r->end, r->policy);
	}
	return m;
}

u32 pciem_policy_lookup(const struct pciem_policy_range *r, u32 n,
			u64 offset, u32 width)
{
	u64 end = offset + width;
	u32 lo = 0, hi = n, policy = PCIEM_POLICY_MEMORY;

	/* First range whose end is past offset. */
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (r[mid].end <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n)
		return PCIEM_POLICY_SYNC;
	for (; lo < n && r[lo].start < end; lo++)
		policy = pciem_policy_stricter(policy, r[lo].policy);
	if (r[n - 1].end < end)
		policy = PCIEM_POLICY_SYNC;
	return policy;
}
