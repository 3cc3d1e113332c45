// SPDX-License-Identifier: MIT
/* Unit tests of the per-BAR access policy tables (kmod/pciem_policy.c). */
#include "check.h"
#include "pciem_policy.h"

#define LEN 0x4000
#define MAXR 64

static struct pciem_policy_range tab[MAXR], tmp[MAXR];
static u32 ntab;

static void set(u64 start, u64 end, u32 policy)
{
	ntab = pciem_policy_apply(tab, ntab, start, end, policy, tmp);
	memcpy(tab, tmp, sizeof(tab));
}

/* The table is sorted, contiguous from 0 to LEN, and has no mergeable neighbours. */
static void check_shape(void)
{
	u32 i;

	CHECK(ntab >= 1);
	CHECK_EQ(tab[0].start, 0);
	CHECK_EQ(tab[ntab - 1].end, LEN);
	for (i = 0; i < ntab; i++) {
		CHECK(tab[i].start < tab[i].end);
		if (i) {
			CHECK_EQ(tab[i].start, tab[i - 1].end);
			CHECK(tab[i].policy != tab[i - 1].policy);
		}
	}
}

TEST(default_is_posted)
{
	ntab = pciem_policy_init(tab, LEN);
	check_shape();
	CHECK_EQ(ntab, 1);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0, 4), PCIEM_POLICY_POSTED);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, LEN - 8, 8), PCIEM_POLICY_POSTED);
}

TEST(split_in_the_middle)
{
	ntab = pciem_policy_init(tab, LEN);
	set(0x100, 0x200, PCIEM_POLICY_SYNC);
	check_shape();
	CHECK_EQ(ntab, 3);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0xfc, 4), PCIEM_POLICY_POSTED);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0x100, 4), PCIEM_POLICY_SYNC);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0x1fc, 4), PCIEM_POLICY_SYNC);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0x200, 4), PCIEM_POLICY_POSTED);
}

TEST(straddling_access_takes_the_stricter)
{
	ntab = pciem_policy_init(tab, LEN);
	set(0, LEN, PCIEM_POLICY_MEMORY);
	set(0x10, 0x14, PCIEM_POLICY_POSTED);
	set(0x20, 0x24, PCIEM_POLICY_SYNC);
	check_shape();
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0x8, 8), PCIEM_POLICY_MEMORY);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0xc, 8), PCIEM_POLICY_POSTED);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0x13, 2), PCIEM_POLICY_POSTED);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0x1c, 8), PCIEM_POLICY_SYNC);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0x14, 1), PCIEM_POLICY_MEMORY);
}

TEST(merge_back_to_one)
{
	ntab = pciem_policy_init(tab, LEN);
	set(0x100, 0x200, PCIEM_POLICY_SYNC);
	set(0x300, 0x400, PCIEM_POLICY_MEMORY);
	set(0x180, 0x380, PCIEM_POLICY_POSTED);
	check_shape();
	/* posted, sync, posted, memory, posted */
	CHECK_EQ(ntab, 5);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0x1fc, 4), PCIEM_POLICY_POSTED);
	set(0, LEN, PCIEM_POLICY_POSTED);
	check_shape();
	CHECK_EQ(ntab, 1);
}

TEST(edges_and_whole)
{
	ntab = pciem_policy_init(tab, LEN);
	set(0, 4, PCIEM_POLICY_SYNC);
	set(LEN - 4, LEN, PCIEM_POLICY_MEMORY);
	check_shape();
	CHECK_EQ(ntab, 3);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, 0, 1), PCIEM_POLICY_SYNC);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, LEN - 1, 1), PCIEM_POLICY_MEMORY);
	/* Past the end of the table: the safe side. */
	CHECK_EQ(pciem_policy_lookup(tab, ntab, LEN - 2, 4), PCIEM_POLICY_SYNC);
	CHECK_EQ(pciem_policy_lookup(tab, ntab, LEN, 4), PCIEM_POLICY_SYNC);
}

/* Many random SET_POLICYs against a byte map: the table always agrees. */
TEST(random_against_byte_map)
{
	static u8 map[LEN];
	unsigned int seed = 12345, k, i;

	ntab = pciem_policy_init(tab, LEN);
	memset(map, PCIEM_POLICY_POSTED, sizeof(map));
	for (k = 0; k < 2000; k++) {
		u64 a, b;
		u32 p;

		seed = seed * 1103515245 + 12345;
		a = ((seed >> 8) % (LEN / 4)) * 4;
		seed = seed * 1103515245 + 12345;
		b = ((seed >> 8) % (LEN / 4)) * 4;
		seed = seed * 1103515245 + 12345;
		p = (seed >> 8) % 3;
		if (a > b) {
			u64 t = a;
			a = b;
			b = t;
		}
		b += 4;
		if (ntab + PCIEM_POLICY_GROWTH > MAXR)
			ntab = pciem_policy_init(tab, LEN), memset(map, PCIEM_POLICY_POSTED, sizeof(map));
		set(a, b, p);
		memset(map + a, p, b - a);
		check_shape();
		for (i = 0; i < LEN; i += 4) {
			if (pciem_policy_lookup(tab, ntab, i, 4) != map[i]) {
				CHECK_EQ(pciem_policy_lookup(tab, ntab, i, 4), map[i]);
				return;
			}
		}
	}
}

int main(void)
{
	RUN(default_is_posted);
	RUN(split_in_the_middle);
	RUN(straddling_access_takes_the_stricter);
	RUN(merge_back_to_one);
	RUN(edges_and_whole);
	RUN(random_against_byte_map);
	return check_done();
}
