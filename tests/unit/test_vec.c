/* SPDX-License-Identifier: MIT */
/*
 * Interrupt vector decisions (kmod/pciem_vec.c): MSI-X and MSI raise, masks,
 * pending bits and their delivery on unmask, INTx level and INTx Disable.
 */
#include <stdlib.h>
#include "pciem_cfg.c"	/* pciem_vec.c is built on the config space engine */
#include "check.h"
#include "pciem_vec.h"

static struct pciem_cfg cfg;
static u8 bar0[0x4000];
static void *bars[PCIEM_NUM_BARS];

/* MSI-X cap geometry of the default device: table and PBA in BAR 0. */
#define TABLE_OFF	0x2000
#define PBA_OFF		0x3000

static void setup(u8 intx_pin)
{
	struct pciem_device_desc d;
	struct pciem_bar_desc b;

	memset(&d, 0, sizeof(d));
	d.size = sizeof(d);
	d.vendor_id = 0x1234;
	d.device_id = 0x5678;
	d.intx_pin = intx_pin;
	strcpy(d.name, "vec");
	memset(&cfg, 0, sizeof(cfg));
	CHECK_EQ(pciem_cfg_init(&cfg, &d), 0);
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.index = 0;
	b.length = sizeof(bar0);
	CHECK_EQ(pciem_cfg_add_bar(&cfg, &b), 0);
	memset(bar0, 0, sizeof(bar0));
	memset(bars, 0, sizeof(bars));
	bars[0] = bar0;
}

static void add_msi(u16 vectors, u8 addr64, u8 pvm)
{
	struct pciem_cap_desc c;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.kind = PCIEM_CAP_MSI;
	c.u.msi.vectors = vectors;
	c.u.msi.addr64 = addr64;
	c.u.msi.per_vector_mask = pvm;
	CHECK_EQ(pciem_cfg_add_cap(&cfg, &c, NULL), 0);
}

static void add_msix(u16 vectors)
{
	struct pciem_cap_desc c;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.kind = PCIEM_CAP_MSIX;
	c.u.msix.vectors = vectors;
	c.u.msix.table_offset = TABLE_OFF;
	c.u.msix.pba_offset = PBA_OFF;
	CHECK_EQ(pciem_cfg_add_cap(&cfg, &c, NULL), 0);
}

static void finish(void)
{
	CHECK_EQ(pciem_cfg_finish(&cfg), 0);
}

static void put32(u8 *p, u32 v)
{
	p[0] = (u8)v;
	p[1] = (u8)(v >> 8);
	p[2] = (u8)(v >> 16);
	p[3] = (u8)(v >> 24);
}

/* What the OS's MSI-X code does: program entry v and its mask bit. */
static void msix_program(u32 v, u64 addr, u32 data, bool masked)
{
	u8 *e = bar0 + TABLE_OFF + 16 * v;

	put32(e + 0, (u32)addr);
	put32(e + 4, (u32)(addr >> 32));
	put32(e + 8, data);
	put32(e + 12, masked ? 1 : 0);
}

static void msix_mask(u32 v, bool masked)
{
	put32(bar0 + TABLE_OFF + 16 * v + 12, masked ? 1 : 0);
}

static bool pba_bit(u32 v)
{
	return bar0[PBA_OFF + v / 8] >> (v % 8) & 1;
}

static void msix_ctrl(bool enable, bool maskall)
{
	u32 at = cfg.msix_off + 2;
	u32 val = pciem_cfg_read(&cfg, at, 2) & ~0xc000u;

	pciem_cfg_write(&cfg, at, 2, val | (enable ? 0x8000 : 0) | (maskall ? 0x4000 : 0));
}

/* MSI enable with 2^mme vectors; message at 0xfee01000 / data 0x40. */
static void msi_setup(u32 mme, bool addr64)
{
	u32 ctrl_at = cfg.msi_off + 2;
	u32 data_at = cfg.msi_off + (addr64 ? 12 : 8);

	pciem_cfg_write(&cfg, cfg.msi_off + 4, 4, 0xfee01000);
	if (addr64)
		pciem_cfg_write(&cfg, cfg.msi_off + 8, 4, 0x1);
	pciem_cfg_write(&cfg, data_at, 2, 0x40);
	pciem_cfg_write(&cfg, ctrl_at, 2, (pciem_cfg_read(&cfg, ctrl_at, 2) & ~0x70u) |
			mme << 4 | 1);
}

static u32 msi_mask_at(bool addr64)
{
	return cfg.msi_off + (addr64 ? 0x10 : 0x0c);
}

/* Drain every deliverable vector; returns how many and their bitmap (< 64). */
static u32 drain(u64 *seen)
{
	struct pciem_vec_msg m;
	u32 cursor = 0, n = 0;

	*seen = 0;
	while (pciem_vec_next_unmasked(&cfg, bars, &cursor, &m)) {
		n++;
		if (m.vector < 64)
			*seen |= 1ull << m.vector;
	}
	return n;
}

/* ---- nothing enabled --------------------------------------------------- */

TEST(not_enabled)
{
	struct pciem_vec_msg m;
	u64 seen;

	setup(1);
	add_msi(4, 1, 1);
	add_msix(8);
	finish();
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 0, &m), -ENOTCONN);
	CHECK_EQ(drain(&seen), 0);
	CHECK(!pciem_vec_msix_enabled(&cfg));
	CHECK(!pciem_vec_msi_enabled(&cfg));

	setup(1);
	finish();	/* no capabilities at all */
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 0, &m), -ENOTCONN);
}

/* ---- MSI-X ------------------------------------------------------------- */

TEST(msix_layout)
{
	struct pciem_vec_msix_layout l;

	setup(0);
	finish();
	CHECK_EQ(pciem_vec_msix_layout(&cfg, &l), -ENODEV);
	setup(0);
	add_msix(256);
	finish();
	CHECK_EQ(pciem_vec_msix_layout(&cfg, &l), 0);
	CHECK_EQ(l.vectors, 256);
	CHECK_EQ(l.table_bar, 0);
	CHECK_EQ(l.table_offset, TABLE_OFF);
	CHECK_EQ(l.table_len, 256 * 16);
	CHECK_EQ(l.pba_bar, 0);
	CHECK_EQ(l.pba_offset, PBA_OFF);
	CHECK_EQ(l.pba_len, 32);
	setup(0);
	add_msix(65);
	finish();
	CHECK_EQ(pciem_vec_msix_layout(&cfg, &l), 0);
	CHECK_EQ(l.pba_len, 16);	/* whole qwords */
}

TEST(msix_deliver_uses_table_entry)
{
	struct pciem_vec_msg m;
	u32 v;

	setup(0);
	add_msix(16);
	finish();
	for (v = 0; v < 16; v++)
		msix_program(v, 0x1fee00000ull + v * 4, 0x100 + v, false);
	msix_ctrl(true, false);
	CHECK(pciem_vec_msix_enabled(&cfg));
	for (v = 0; v < 16; v++) {
		memset(&m, 0xee, sizeof(m));
		CHECK_EQ(pciem_vec_raise(&cfg, bars, v, &m), PCIEM_VEC_DELIVER);
		CHECK_EQ(m.addr, 0x1fee00000ull + v * 4);
		CHECK_EQ(m.data, 0x100 + v);
		CHECK_EQ(m.vector, v);
		CHECK(m.msix);
	}
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 16, &m), -EINVAL);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 0xffffffffu, &m), -EINVAL);
	for (v = 0; v < 16; v++)
		CHECK(!pba_bit(v));
}

TEST(msix_wins_over_msi)
{
	struct pciem_vec_msg m;

	setup(0);
	add_msi(4, 1, 1);
	add_msix(4);
	finish();
	msix_program(3, 0xfee00000, 7, false);
	msi_setup(2, true);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 3, &m), PCIEM_VEC_DELIVER);
	CHECK(!m.msix);
	msix_ctrl(true, false);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 3, &m), PCIEM_VEC_DELIVER);
	CHECK(m.msix);
	CHECK_EQ(m.data, 7);
}

TEST(msix_vector_mask_pends_and_unmask_delivers)
{
	struct pciem_vec_msg m;
	u64 seen;
	u32 v;

	setup(0);
	add_msix(64);
	finish();
	for (v = 0; v < 64; v++)
		msix_program(v, 0xfee00000, v, true);
	msix_ctrl(true, false);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 5, &m), PCIEM_VEC_PENDING);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 5, &m), PCIEM_VEC_PENDING);	/* one bit */
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 9, &m), PCIEM_VEC_PENDING);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 63, &m), PCIEM_VEC_PENDING);
	CHECK(pba_bit(5) && pba_bit(9) && pba_bit(63) && !pba_bit(6));
	CHECK_EQ(drain(&seen), 0);		/* all still masked */
	msix_mask(9, false);
	CHECK_EQ(drain(&seen), 1);
	CHECK_EQ(seen, 1ull << 9);
	CHECK(!pba_bit(9) && pba_bit(5) && pba_bit(63));
	CHECK_EQ(drain(&seen), 0);		/* delivered once only */
	msix_mask(5, false);
	msix_mask(63, false);
	CHECK_EQ(drain(&seen), 2);
	CHECK_EQ(seen, 1ull << 5 | 1ull << 63);
	CHECK(!pba_bit(5) && !pba_bit(63));
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 5, &m), PCIEM_VEC_DELIVER);
}

TEST(msix_function_mask)
{
	struct pciem_vec_msg m;
	u64 seen;
	u32 v;

	setup(0);
	add_msix(32);
	finish();
	for (v = 0; v < 32; v++)
		msix_program(v, 0xfee00000, v, v == 7);
	msix_ctrl(true, true);
	for (v = 0; v < 32; v += 3)
		CHECK_EQ(pciem_vec_raise(&cfg, bars, v, &m), PCIEM_VEC_PENDING);
	CHECK_EQ(drain(&seen), 0);
	msix_ctrl(true, false);
	/* Every pending vector goes (7, the one masked itself, was not raised). */
	CHECK_EQ(drain(&seen), 11);
	CHECK_EQ(seen, 0x49249249ull);	/* 0, 3, 6, ..., 30 */
	CHECK(!pba_bit(0) && !pba_bit(30));
}

TEST(msix_function_mask_keeps_vector_masked_pending)
{
	struct pciem_vec_msg m;
	u64 seen;

	setup(0);
	add_msix(16);
	finish();
	msix_program(7, 0xfee00000, 7, true);
	msix_ctrl(true, true);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 7, &m), PCIEM_VEC_PENDING);
	msix_ctrl(true, false);
	CHECK_EQ(drain(&seen), 0);	/* the vector mask still holds it */
	CHECK(pba_bit(7));
	msix_mask(7, false);
	CHECK_EQ(drain(&seen), 1);
	CHECK_EQ(seen, 1ull << 7);
}

TEST(msix_2048_vectors)
{
	static u8 big[0x10000];
	struct pciem_bar_desc b;
	struct pciem_cap_desc c;
	struct pciem_vec_msg m;
	u32 v, cursor = 0, n = 0, last = 0;

	setup(0);
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.index = 2;
	b.length = sizeof(big);
	CHECK_EQ(pciem_cfg_add_bar(&cfg, &b), 0);
	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.kind = PCIEM_CAP_MSIX;
	c.u.msix.vectors = 2048;
	c.u.msix.table_bar = 2;
	c.u.msix.table_offset = 0;
	c.u.msix.pba_bar = 2;
	c.u.msix.pba_offset = 0x8000;
	CHECK_EQ(pciem_cfg_add_cap(&cfg, &c, NULL), 0);
	finish();
	memset(big, 0, sizeof(big));
	bars[2] = big;
	for (v = 0; v < 2048; v++) {
		put32(big + 16 * v + 8, 0x4000 + v);
		put32(big + 16 * v + 12, 1);
	}
	msix_ctrl(true, false);
	for (v = 0; v < 2048; v++)
		CHECK_EQ(pciem_vec_raise(&cfg, bars, v, &m), PCIEM_VEC_PENDING);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 2048, &m), -EINVAL);
	for (v = 0; v < 2048; v++)
		big[16 * v + 12] = 0;
	while (pciem_vec_next_unmasked(&cfg, bars, &cursor, &m)) {
		CHECK(n == 0 || m.vector > last);
		CHECK_EQ(m.data, 0x4000 + m.vector);
		last = m.vector;
		n++;
	}
	CHECK_EQ(n, 2048);
	for (v = 0; v < 256; v++)
		CHECK_EQ(big[0x8000 + v], 0);
}

TEST(msix_missing_shadow)
{
	struct pciem_vec_msg m;

	setup(0);
	add_msix(4);
	finish();
	msix_ctrl(true, false);
	bars[0] = NULL;
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 0, &m), -ENODEV);
}

TEST(reset_masks_table_and_clears_pending)
{
	struct pciem_vec_msg m;
	bool masked;
	u32 v;

	setup(0);
	add_msi(8, 0, 1);
	add_msix(16);
	finish();
	for (v = 0; v < 16; v++)
		msix_program(v, 0xfee00000, v, true);
	msix_ctrl(true, false);
	for (v = 0; v < 16; v++)
		CHECK_EQ(pciem_vec_raise(&cfg, bars, v, &m), PCIEM_VEC_PENDING);
	msix_ctrl(false, false);
	msi_setup(3, false);
	pciem_cfg_write(&cfg, msi_mask_at(false), 4, 0xff);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 2, &m), PCIEM_VEC_PENDING);
	for (v = 0; v < 16; v++)
		msix_mask(v, false);
	pciem_vec_reset(&cfg, bars);
	for (v = 0; v < 16; v++) {
		CHECK(!pba_bit(v));
		CHECK_EQ(pciem_vec_msix_entry(&cfg, bars, v, &m, &masked), 0);
		CHECK(masked);
		CHECK_EQ(m.data, v);	/* the message itself is kept */
	}
	CHECK_EQ(pciem_cfg_read(&cfg, msi_mask_at(false) + 4, 4), 0);
}

/* ---- MSI --------------------------------------------------------------- */

TEST(msi_deliver_every_vector_count)
{
	struct pciem_vec_msg m;
	u32 mme, v;

	for (mme = 0; mme <= 5; mme++) {
		setup(0);
		add_msi(32, 1, 0);
		finish();
		msi_setup(mme, true);
		for (v = 0; v < (1u << mme); v++) {
			CHECK_EQ(pciem_vec_raise(&cfg, bars, v, &m), PCIEM_VEC_DELIVER);
			CHECK_EQ(m.addr, 0x1fee01000ull);
			/* the low MME bits of data carry the vector */
			CHECK_EQ(m.data, (0x40u & ~((1u << mme) - 1)) | v);
			CHECK_EQ(m.vector, v);
			CHECK(!m.msix);
		}
		CHECK_EQ(pciem_vec_raise(&cfg, bars, 1u << mme, &m), -EINVAL);
	}
}

TEST(msi_32bit_address)
{
	struct pciem_vec_msg m;

	setup(0);
	add_msi(1, 0, 0);
	finish();
	msi_setup(0, false);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 0, &m), PCIEM_VEC_DELIVER);
	CHECK_EQ(m.addr, 0xfee01000);
	CHECK_EQ(m.data, 0x40);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 1, &m), -EINVAL);
}

TEST(msi_mask_pends_and_unmask_delivers)
{
	struct pciem_vec_msg m;
	u64 seen;
	bool a64;

	for (a64 = false; ; a64 = true) {
		setup(0);
		add_msi(8, a64, 1);
		finish();
		msi_setup(3, a64);
		pciem_cfg_write(&cfg, msi_mask_at(a64), 4, 0x24);	/* mask 2 and 5 */
		CHECK_EQ(pciem_vec_raise(&cfg, bars, 2, &m), PCIEM_VEC_PENDING);
		CHECK_EQ(pciem_vec_raise(&cfg, bars, 5, &m), PCIEM_VEC_PENDING);
		CHECK_EQ(pciem_vec_raise(&cfg, bars, 4, &m), PCIEM_VEC_DELIVER);
		CHECK_EQ(pciem_cfg_read(&cfg, msi_mask_at(a64) + 4, 4), 0x24);
		CHECK_EQ(drain(&seen), 0);
		pciem_cfg_write(&cfg, msi_mask_at(a64), 4, 0x04);	/* unmask 5 */
		CHECK_EQ(drain(&seen), 1);
		CHECK_EQ(seen, 1u << 5);
		CHECK_EQ(pciem_cfg_read(&cfg, msi_mask_at(a64) + 4, 4), 0x04);
		pciem_cfg_write(&cfg, msi_mask_at(a64), 4, 0);
		CHECK_EQ(drain(&seen), 1);
		CHECK_EQ(seen, 1u << 2);
		CHECK_EQ(pciem_cfg_read(&cfg, msi_mask_at(a64) + 4, 4), 0);
		if (a64)
			break;
	}
}

TEST(msi_pending_beyond_enabled_stays)
{
	struct pciem_vec_msg m;
	u64 seen;

	setup(0);
	add_msi(8, 1, 1);
	finish();
	msi_setup(3, true);
	pciem_cfg_write(&cfg, msi_mask_at(true), 4, 0x80);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 7, &m), PCIEM_VEC_PENDING);
	msi_setup(1, true);	/* the OS shrinks to 2 vectors */
	pciem_cfg_write(&cfg, msi_mask_at(true), 4, 0);
	CHECK_EQ(drain(&seen), 0);
	CHECK_EQ(pciem_cfg_read(&cfg, msi_mask_at(true) + 4, 4), 0x80);
}

TEST(msi_disabled_after_pending)
{
	struct pciem_vec_msg m;
	u64 seen;

	setup(0);
	add_msi(2, 0, 1);
	finish();
	msi_setup(1, false);
	pciem_cfg_write(&cfg, msi_mask_at(false), 4, 1);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 0, &m), PCIEM_VEC_PENDING);
	pciem_cfg_write(&cfg, cfg.msi_off + 2, 2, 0);	/* MSI off */
	pciem_cfg_write(&cfg, msi_mask_at(false), 4, 0);
	CHECK_EQ(drain(&seen), 0);
	CHECK_EQ(pciem_vec_raise(&cfg, bars, 0, &m), -ENOTCONN);
}

/* ---- INTx -------------------------------------------------------------- */

TEST(intx_level_and_disable)
{
	setup(1);
	add_msi(1, 0, 0);
	finish();
	CHECK(!pciem_vec_intx_line(&cfg));
	CHECK_EQ(pciem_vec_intx_set(&cfg, true), 0);
	CHECK(pciem_cfg_read(&cfg, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	CHECK(pciem_vec_intx_line(&cfg));
	pciem_cfg_write(&cfg, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
	CHECK(!pciem_vec_intx_line(&cfg));
	/* Status still shows the device's request while disabled. */
	CHECK(pciem_cfg_read(&cfg, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	pciem_cfg_write(&cfg, PCI_COMMAND, 2, 0);
	CHECK(pciem_vec_intx_line(&cfg));
	msi_setup(0, false);
	CHECK(!pciem_vec_intx_line(&cfg));	/* MSI replaces INTx */
	pciem_cfg_write(&cfg, cfg.msi_off + 2, 2, 0);
	CHECK(pciem_vec_intx_line(&cfg));
	CHECK_EQ(pciem_vec_intx_set(&cfg, false), 0);
	CHECK(!(pciem_cfg_read(&cfg, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT));
	CHECK(!pciem_vec_intx_line(&cfg));
}

TEST(intx_keeps_other_status_bits)
{
	setup(2);
	finish();
	pciem_cfg_dev_write(&cfg, PCI_STATUS, 2, PCI_STATUS_SIG_SYSTEM_ERROR);
	CHECK_EQ(pciem_vec_intx_set(&cfg, true), 0);
	CHECK_EQ(pciem_cfg_read(&cfg, PCI_STATUS, 2),
		 PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_INTERRUPT);
	CHECK_EQ(pciem_vec_intx_set(&cfg, false), 0);
	CHECK_EQ(pciem_cfg_read(&cfg, PCI_STATUS, 2), PCI_STATUS_SIG_SYSTEM_ERROR);
}

TEST(intx_without_pin)
{
	setup(0);
	finish();
	CHECK_EQ(pciem_vec_intx_set(&cfg, true), -ENOTCONN);
	CHECK(!(pciem_cfg_read(&cfg, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT));
	CHECK(!pciem_vec_intx_line(&cfg));
}

int main(void)
{
	RUN(not_enabled);
	RUN(msix_layout);
	RUN(msix_deliver_uses_table_entry);
	RUN(msix_wins_over_msi);
	RUN(msix_vector_mask_pends_and_unmask_delivers);
	RUN(msix_function_mask);
	RUN(msix_function_mask_keeps_vector_masked_pending);
	RUN(msix_2048_vectors);
	RUN(msix_missing_shadow);
	RUN(reset_masks_table_and_clears_pending);
	RUN(msi_deliver_every_vector_count);
	RUN(msi_32bit_address);
	RUN(msi_mask_pends_and_unmask_delivers);
	RUN(msi_pending_beyond_enabled_stays);
	RUN(msi_disabled_after_pending);
	RUN(intx_level_and_disable);
	RUN(intx_keeps_other_status_bits);
	RUN(intx_without_pin);
	return check_done();
}
