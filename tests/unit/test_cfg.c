/* SPDX-License-Identifier: MIT */
/*
 * Config space engine (kmod/pciem_cfg.c): header registers, BAR sizing, the
 * capability chain, OS/device access rules, and every description error.
 */
#include <stddef.h>
#include "pciem_cfg.h"
#include "check.h"

static struct pciem_cfg cfg;
static struct pciem_cfg snap;

/* A failed call returns err_, names frag_ and leaves cfg as it was. */
#define EXPECT_FAIL(call, err_, frag_) do { \
	memcpy(&snap, &cfg, sizeof(cfg)); \
	CHECK_EQ((call), (err_)); \
	CHECK_HAS(cfg.err, (frag_)); \
	CHECK(memcmp(&snap, &cfg, offsetof(struct pciem_cfg, err)) == 0); \
} while (0)

static struct pciem_device_desc dev_desc(void)
{
	struct pciem_device_desc d;

	memset(&d, 0, sizeof(d));
	d.size = sizeof(d);
	d.vendor_id = 0x1b36;
	d.device_id = 0x0010;
	d.subsys_vendor_id = 0x1af4;
	d.subsys_id = 0x1100;
	d.revision = 0x02;
	d.prog_if = 0x02;
	d.subclass = 0x08;
	d.class_code = 0x01;
	d.intx_pin = 1;
	strcpy(d.name, "nvme-0.test_A");
	return d;
}

static void setup(void)
{
	struct pciem_device_desc d = dev_desc();

	memset(&cfg, 0xa5, sizeof(cfg));	/* init must not rely on zeroed memory */
	CHECK_EQ(pciem_cfg_init(&cfg, &d), 0);
}

static u32 rd(u32 off, u32 width)
{
	return pciem_cfg_read(&cfg, off, width);
}

static void wr(u32 off, u32 width, u32 val)
{
	pciem_cfg_write(&cfg, off, width, val);
}

static int add_bar(u32 index, u64 length, u32 flags)
{
	struct pciem_bar_desc b;

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.index = index;
	b.length = length;
	b.flags = flags;
	return pciem_cfg_add_bar(&cfg, &b);
}

static struct pciem_cap_desc capd(u16 kind, u16 offset)
{
	struct pciem_cap_desc c;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.kind = kind;
	c.offset = offset;
	return c;
}

static int add(struct pciem_cap_desc c, const void *payload)
{
	return pciem_cfg_add_cap(&cfg, &c, payload);
}

static int add_pcie(u8 port, u8 mps, u8 speed, u8 width)
{
	struct pciem_cap_desc c = capd(PCIEM_CAP_PCIE, 0);

	c.u.pcie.port_type = port;
	c.u.pcie.max_payload = mps;
	c.u.pcie.link_speed = speed;
	c.u.pcie.link_width = width;
	return add(c, NULL);
}

static int add_msi(u16 vectors, u8 addr64, u8 pvm)
{
	struct pciem_cap_desc c = capd(PCIEM_CAP_MSI, 0);

	c.u.msi.vectors = vectors;
	c.u.msi.addr64 = addr64;
	c.u.msi.per_vector_mask = pvm;
	return add(c, NULL);
}

static struct pciem_cap_desc msix_desc(u16 vectors, u8 tbar, u32 toff, u8 pbar, u32 poff)
{
	struct pciem_cap_desc c = capd(PCIEM_CAP_MSIX, 0);

	c.u.msix.vectors = vectors;
	c.u.msix.table_bar = tbar;
	c.u.msix.table_offset = toff;
	c.u.msix.pba_bar = pbar;
	c.u.msix.pba_offset = poff;
	return c;
}

/* ---- header ------------------------------------------------------------ */

TEST(header_after_init)
{
	setup();
	CHECK_EQ(rd(0x00, 4), 0x00101b36);
	CHECK_EQ(rd(0x04, 4), 0);		/* Command, Status: no caps yet */
	CHECK_EQ(rd(0x08, 4), 0x01080202);	/* class 01 08 02, revision 2 */
	CHECK_EQ(rd(0x0c, 4), 0);		/* CLS, latency, header type 0, BIST */
	CHECK_EQ(rd(0x2c, 4), 0x11001af4);
	CHECK_EQ(rd(0x34, 1), 0);
	CHECK_EQ(rd(0x3c, 4), 0x00000100);	/* pin INTA#, line 0 */
	CHECK(!cfg.finished);
	CHECK_EQ(pciem_cfg_command(&cfg), 0);
}

TEST(identity_is_read_only)
{
	u32 off;

	setup();
	for (off = 0; off < 0x40; off += 4)
		if (off != 0x04 && off != 0x0c && off != 0x3c && (off < 0x10 || off > 0x24))
			wr(off, 4, 0xffffffff);
	wr(0x0e, 1, 0xff);
	wr(0x3d, 1, 0x04);
	CHECK_EQ(rd(0x00, 4), 0x00101b36);
	CHECK_EQ(rd(0x08, 4), 0x01080202);
	CHECK_EQ(rd(0x0e, 1), 0);
	CHECK_EQ(rd(0x28, 4), 0);		/* Cardbus CIS */
	CHECK_EQ(rd(0x2c, 4), 0x11001af4);
	CHECK_EQ(rd(0x30, 4), 0);		/* expansion ROM */
	CHECK_EQ(rd(0x34, 4), 0);
	CHECK_EQ(rd(0x3d, 1), 1);
}

TEST(command_write_mask)
{
	setup();
	wr(0x04, 2, 0xffff);
	/* I/O, memory, bus master, parity, SERR#, INTx disable */
	CHECK_EQ(rd(0x04, 2), 0x0547);
	CHECK_EQ(pciem_cfg_command(&cfg), 0x0547);
	CHECK_EQ(rd(0x06, 2), 0);		/* Status untouched by a Command write */
	wr(0x04, 1, 0x02);
	CHECK_EQ(rd(0x04, 2), 0x0502);
	wr(0x04, 4, 0x00000006);
	CHECK_EQ(rd(0x04, 2), 0x0006);
}

TEST(status_rw1c)
{
	setup();
	CHECK_EQ(pciem_cfg_dev_write(&cfg, 0x06, 2, 0xf908), 0);
	CHECK_EQ(rd(0x06, 2), 0xf908);
	wr(0x06, 2, 0x0100);			/* clears only master data parity error */
	CHECK_EQ(rd(0x06, 2), 0xf808);
	wr(0x06, 2, 0x0000);
	CHECK_EQ(rd(0x06, 2), 0xf808);
	wr(0x04, 4, 0xffff0002);		/* dword: set memory enable, clear all */
	CHECK_EQ(rd(0x06, 2), 0x0008);		/* INTx status is not the OS's to clear */
	CHECK_EQ(rd(0x04, 2), 0x0002);
}

TEST(interrupt_line_pin_and_timers)
{
	setup();
	wr(0x3c, 1, 0xab);
	CHECK_EQ(rd(0x3c, 1), 0xab);
	wr(0x3c, 4, 0xffffff0b);
	CHECK_EQ(rd(0x3c, 4), 0x0000010b);	/* pin, Min_Gnt, Max_Lat read-only */
	wr(0x0c, 2, 0x4010);
	CHECK_EQ(rd(0x0c, 2), 0x4010);		/* cache line size, latency timer */
	wr(0x0c, 4, 0xffffffff);
	CHECK_EQ(rd(0x0c, 4), 0x0000ffff);
}

TEST(access_rules)
{
	setup();
	CHECK_EQ(rd(0x01, 2), 0xffff);		/* misaligned */
	CHECK_EQ(rd(0x02, 4), 0xffffffff);
	CHECK_EQ(rd(0x1000, 1), 0xff);		/* out of range */
	CHECK_EQ(rd(0x00, 3), 0xffffffff);	/* bad width */
	CHECK_EQ(rd(0xffc, 4), 0);		/* inside, unimplemented */
	CHECK_EQ(rd(0x50, 4), 0);
	CHECK_EQ(rd(0x00, 1), 0x36);		/* little-endian at every width */
	CHECK_EQ(rd(0x01, 1), 0x1b);
	CHECK_EQ(rd(0x02, 2), 0x0010);
	wr(0x3d, 2, 0xffff);			/* misaligned: dropped */
	wr(0x3c, 3, 0xff);
	CHECK_EQ(rd(0x3c, 1), 0);
	wr(0x50, 4, 0xffffffff);
	CHECK_EQ(rd(0x50, 4), 0);
}

/* ---- BARs -------------------------------------------------------------- */

TEST(bar32_sizing)
{
	setup();
	CHECK_EQ(add_bar(0, 0x4000, 0), 0);
	CHECK_EQ(rd(0x10, 4), 0);		/* memory, 32-bit, not prefetchable */
	wr(0x10, 4, 0xffffffff);
	CHECK_EQ(rd(0x10, 4), 0xffffc000);
	wr(0x10, 4, 0xfebf0000);
	CHECK_EQ(rd(0x10, 4), 0xfebf0000);
	CHECK_EQ(pciem_cfg_bar_addr(&cfg, 0), 0xfebf0000);
	wr(0x10, 4, 0xfebf1234);		/* sub-size bits do not stick */
	CHECK_EQ(rd(0x10, 4), 0xfebf0000);
}

TEST(bar32_prefetch_sizing)
{
	setup();
	CHECK_EQ(add_bar(3, 0x80000000ULL, PCIEM_BAR_PREFETCH), 0);
	CHECK_EQ(rd(0x1c, 4), 0x8);
	wr(0x1c, 4, 0xffffffff);
	CHECK_EQ(rd(0x1c, 4), 0x80000008);
	wr(0x1c, 4, 0x80000000);
	CHECK_EQ(pciem_cfg_bar_addr(&cfg, 3), 0x80000000);
}

TEST(bar64_sizing)
{
	setup();
	CHECK_EQ(add_bar(0, 0x10000, PCIEM_BAR_MEM64), 0);
	CHECK_EQ(add_bar(2, 0x200000000ULL, PCIEM_BAR_MEM64 | PCIEM_BAR_PREFETCH), 0);
	CHECK_EQ(rd(0x10, 4), 0x4);
	CHECK_EQ(rd(0x18, 4), 0xc);
	wr(0x10, 4, 0xffffffff);
	wr(0x14, 4, 0xffffffff);
	CHECK_EQ(rd(0x10, 4), 0xffff0004);
	CHECK_EQ(rd(0x14, 4), 0xffffffff);
	wr(0x18, 4, 0xffffffff);
	wr(0x1c, 4, 0xffffffff);
	CHECK_EQ(rd(0x18, 4), 0x0000000c);	/* 8 GiB: no address bits below 4G */
	CHECK_EQ(rd(0x1c, 4), 0xfffffffe);
	/* the OS restores/programs addresses */
	wr(0x10, 4, 0xfe000000);
	wr(0x14, 4, 0x00000001);
	wr(0x18, 4, 0);
	wr(0x1c, 4, 0x00000008);
	CHECK_EQ(pciem_cfg_bar_addr(&cfg, 0), 0x1fe000000ULL);
	CHECK_EQ(pciem_cfg_bar_addr(&cfg, 2), 0x800000000ULL);
	CHECK_EQ(pciem_cfg_bar_addr(&cfg, 1), 0);	/* upper halves are not BARs */
	CHECK_EQ(pciem_cfg_bar_addr(&cfg, 3), 0);
	CHECK(pciem_cfg_bar_is_upper(&cfg, 1));
	CHECK(pciem_cfg_bar_is_upper(&cfg, 3));
	CHECK(!pciem_cfg_bar_is_upper(&cfg, 2));
	CHECK_EQ(cfg.bar_len[3], 0x200000000ULL);
}

TEST(absent_bars_and_rom)
{
	u32 off;

	setup();
	CHECK_EQ(add_bar(1, 0x1000, 0), 0);
	for (off = 0x10; off <= 0x24; off += 4)
		wr(off, 4, 0xffffffff);
	wr(0x30, 4, 0xffffffff);
	for (off = 0x10; off <= 0x24; off += 4)
		CHECK_EQ(rd(off, 4), off == 0x14 ? 0xfffff000 : 0);
	CHECK_EQ(rd(0x30, 4), 0);
	CHECK_EQ(pciem_cfg_bar_addr(&cfg, 0), 0);
	CHECK_EQ(pciem_cfg_bar_addr(&cfg, 6), 0);
}

TEST(bar_errors)
{
	struct pciem_bar_desc b;

	setup();
	CHECK_EQ(add_bar(0, 0x2000, PCIEM_BAR_MEM64), 0);
	CHECK_EQ(add_bar(2, 0x1000, 0), 0);
	EXPECT_FAIL(add_bar(6, 0x1000, 0), -EINVAL, "bar 6: index");
	EXPECT_FAIL(add_bar(3, 0x1800, 0), -EINVAL, "bar 3: length 0x1800 is not a power of two");
	EXPECT_FAIL(add_bar(3, 0, 0), -EINVAL, "power of two");
	EXPECT_FAIL(add_bar(3, 0x800, 0), -EINVAL, "minimum");
	EXPECT_FAIL(add_bar(3, 0x100000000ULL, 0), -EINVAL, "32-bit");
	EXPECT_FAIL(add_bar(5, 0x1000, PCIEM_BAR_MEM64), -EINVAL, "bar 5: a 64-bit");
	EXPECT_FAIL(add_bar(2, 0x1000, 0), -EEXIST, "bar 2: already described");
	EXPECT_FAIL(add_bar(1, 0x1000, 0), -EEXIST, "upper half of 64-bit bar 0");
	EXPECT_FAIL(add_bar(1, 0x1000, PCIEM_BAR_MEM64), -EEXIST, "bar 1");
	EXPECT_FAIL(add_bar(0, 0x1000, PCIEM_BAR_MEM64), -EEXIST, "bar 0");
	EXPECT_FAIL(add_bar(3, 0x1000, 0x4), -EINVAL, "flags 0x4");
	/* a 64-bit BAR whose upper slot is taken */
	CHECK_EQ(add_bar(4, 0x1000, 0), 0);
	EXPECT_FAIL(add_bar(3, 0x1000, PCIEM_BAR_MEM64), -EEXIST, "needs slot 4");

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b) - 4;
	b.index = 5;
	b.length = 0x1000;
	EXPECT_FAIL(pciem_cfg_add_bar(&cfg, &b), -EINVAL, "size");
	b.size = sizeof(b);
	b.reserved[2] = 1;
	EXPECT_FAIL(pciem_cfg_add_bar(&cfg, &b), -EINVAL, "reserved[2]");

	CHECK_EQ(pciem_cfg_finish(&cfg), 0);
	EXPECT_FAIL(add_bar(5, 0x1000, 0), -EBUSY, "finished");
}

/* ---- capabilities ------------------------------------------------------ */

static const u8 vendor_payload[5] = { 0xde, 0xad, 0xbe, 0xef, 0x42 };
static const u32 ext_payload_a[2] = { 0x11223344, 0x55667788 };
static const u32 ext_payload_b[1] = { 0xcafef00d };

static void build_full_device(void)
{
	struct pciem_cap_desc c;

	setup();
	CHECK_EQ(add_bar(0, 0x4000, PCIEM_BAR_MEM64), 0);
	CHECK_EQ(add_pcie(PCIEM_PCIE_ENDPOINT, 1, 3, 4), 0);
	c = capd(PCIEM_CAP_PM, 0);
	c.u.pm.d1 = 1;
	c.u.pm.pme_support = 0x0b;		/* D0, D1, D3hot */
	CHECK_EQ(add(c, NULL), 0);
	CHECK_EQ(add_msi(4, 1, 1), 0);
	CHECK_EQ(add(msix_desc(64, 0, 0x2000, 0, 0x3000), NULL), 0);
	c = capd(PCIEM_CAP_VENDOR, 0);
	c.u.raw.length = sizeof(vendor_payload);
	CHECK_EQ(add(c, vendor_payload), 0);
	c = capd(PCIEM_CAP_EXT_RAW, 0);
	c.u.raw.id = 0x000b;
	c.u.raw.version = 1;
	c.u.raw.length = sizeof(ext_payload_a);
	CHECK_EQ(add(c, ext_payload_a), 0);
	c = capd(PCIEM_CAP_EXT_RAW, 0);
	c.u.raw.id = 0x0023;
	c.u.raw.length = sizeof(ext_payload_b);
	CHECK_EQ(add(c, ext_payload_b), 0);
	CHECK_EQ(pciem_cfg_finish(&cfg), 0);
}

TEST(cap_chain_walk)
{
	static const u8 ids[] = { 0x10, 0x01, 0x05, 0x11, 0x09 };
	static const u8 offs[] = { 0x40, 0x7c, 0x84, 0x9c, 0xa8 };
	static const u16 lens[] = { 0x3c, 8, 0x18, 12, 8 };
	u32 pos, n = 0, i;

	build_full_device();
	CHECK_EQ(rd(0x06, 2) & 0x0010, 0x0010);	/* Capabilities List */
	CHECK_EQ(cfg.ncaps, 7);
	for (pos = rd(0x34, 1); pos && n < 8; pos = rd(pos + 1, 1), n++) {
		CHECK_EQ(pos, offs[n]);
		CHECK_EQ(rd(pos, 1), ids[n]);
		CHECK_EQ(cfg.caps[n].offset, offs[n]);
		CHECK_EQ(cfg.caps[n].length, lens[n]);
	}
	CHECK_EQ(n, 5);
	CHECK_EQ(rd(0xa8 + 2, 1), 8);		/* vendor length byte: 3 + 5 */
	for (i = 0; i < sizeof(vendor_payload); i++)
		CHECK_EQ(rd(0xab + i, 1), vendor_payload[i]);
	CHECK_EQ(rd(0xb0, 4), 0);

	/* extended chain from 0x100 */
	CHECK_EQ(rd(0x100, 4), 0x10c << 20 | 1 << 16 | 0x000b);
	CHECK_EQ(rd(0x104, 4), 0x11223344);
	CHECK_EQ(rd(0x108, 4), 0x55667788);
	CHECK_EQ(rd(0x10c, 4), 0x00000023);	/* version 0, last */
	CHECK_EQ(rd(0x110, 4), 0xcafef00d);
	CHECK_EQ(cfg.caps[5].length, 12);
	CHECK_EQ(cfg.caps[6].length, 8);

	/* pointers, headers and payloads are read-only to the OS */
	wr(0x34, 1, 0x80);
	wr(0x40, 2, 0xffff);
	wr(0xa8, 4, 0xffffffff);
	wr(0xac, 4, 0xffffffff);
	wr(0x100, 4, 0);
	wr(0x110, 4, 0);
	CHECK_EQ(rd(0x34, 1), 0x40);
	CHECK_EQ(rd(0x40, 2), 0x7c10);
	CHECK_EQ(rd(0xa8, 4), 0xde080009);
	CHECK_EQ(rd(0x100, 4), 0x10c << 20 | 1 << 16 | 0x000b);
	CHECK_EQ(rd(0x110, 4), 0xcafef00d);
	CHECK_EQ(rd(0x9c + 1, 1), 0xa8);
	CHECK_EQ(rd(0xa8 + 1, 1), 0);		/* end of the standard chain */
}

TEST(explicit_offsets_keep_add_order)
{
	struct pciem_cap_desc c;

	setup();
	CHECK_EQ(add_pcie(PCIEM_PCIE_ENDPOINT, 0, 0, 0), 0);
	c = capd(PCIEM_CAP_PM, 0xe0);
	CHECK_EQ(add(c, NULL), 0);
	CHECK_EQ(add_msi(1, 0, 0), 0);		/* auto: right after pm */
	c = capd(PCIEM_CAP_VENDOR, 0x80);
	CHECK_EQ(add(c, NULL), 0);
	CHECK_EQ(rd(0x34, 1), 0x40);
	CHECK_EQ(rd(0x41, 1), 0xe0);
	CHECK_EQ(rd(0xe1, 1), 0xe8);
	CHECK_EQ(rd(0xe8, 1), 0x05);
	CHECK_EQ(rd(0xe9, 1), 0x80);
	CHECK_EQ(rd(0x80, 4), 0x00030009);	/* vendor: no payload, length 3, last */
	CHECK_EQ(cfg.msi_off, 0xe8);
	CHECK_EQ(cfg.pm_off, 0xe0);
}

TEST(pcie_registers)
{
	u32 p = 0x40;

	setup();
	CHECK_EQ(add_pcie(PCIEM_PCIE_ENDPOINT, 1, 3, 4), 0);
	CHECK_EQ(rd(p, 2), 0x0010);
	CHECK_EQ(rd(p + 2, 2), 0x0002);			/* version 2, endpoint */
	CHECK_EQ(rd(p + 4, 4), 0x8000 | 0x20 | 1);	/* RBER, ext tag, MPS 256 */
	CHECK_EQ(rd(p + 8, 2), 0x2810);			/* MRRS 512, RO, no-snoop */
	wr(p + 8, 2, 0xffff);
	CHECK_EQ(rd(p + 8, 2), 0x7fff);			/* no FLR bit */
	wr(p + 8, 2, 0x0000);
	CHECK_EQ(rd(p + 8, 2), 0);
	/* Device Status: device sets, OS clears with RW1C */
	CHECK_EQ(pciem_cfg_dev_write(&cfg, p + 0xa, 2, 0x002f), 0);
	wr(p + 0xa, 2, 0x0001);
	CHECK_EQ(rd(p + 0xa, 2), 0x002e);
	wr(p + 0x8, 4, 0xffff0000);			/* dword: DevCtl 0, clear errors */
	CHECK_EQ(rd(p + 0xa, 2), 0x0020);		/* transactions pending is RO */
	/* link */
	CHECK_EQ(rd(p + 0xc, 4), 0x43);			/* 8 GT/s x4 */
	CHECK_EQ(rd(p + 0x12, 2), 0x43);
	CHECK_EQ(rd(p + 0x2c, 4), 0x0e);		/* 2.5, 5, 8 GT/s */
	CHECK_EQ(rd(p + 0x30, 2), 3);
	wr(p + 0x30, 2, 0xffff);
	CHECK_EQ(rd(p + 0x30, 2), 0xf);
	wr(p + 0x12, 2, 0);
	CHECK_EQ(rd(p + 0x12, 2), 0x43);
	/* Device Capabilities/Control 2: completion timeout disable */
	CHECK_EQ(rd(p + 0x24, 4), 0x10);
	wr(p + 0x28, 2, 0xffff);
	CHECK_EQ(rd(p + 0x28, 2), 0x10);
	CHECK_EQ(cfg.caps[0].length, 0x3c);
	CHECK_EQ(cfg.pcie_off, 0x40);
}

TEST(pcie_defaults_and_port_types)
{
	setup();
	CHECK_EQ(add_pcie(PCIEM_PCIE_LEGACY_ENDPOINT, 0, 0, 0), 0);
	CHECK_EQ(rd(0x42, 2), 0x0012);
	CHECK_EQ(rd(0x4c, 4), 0x11);			/* 2.5 GT/s x1 */
	CHECK_EQ(rd(0x52, 2), 0x11);

	setup();
	CHECK_EQ(add_pcie(PCIEM_PCIE_RC_ENDPOINT, 5, 0, 0), 0);
	CHECK_EQ(rd(0x42, 2), 0x0092);
	CHECK_EQ(rd(0x44, 4) & 7, 5);
	CHECK_EQ(rd(0x4c, 4), 0);			/* no link registers */
	CHECK_EQ(rd(0x52, 2), 0);
	CHECK_EQ(rd(0x6c, 4), 0);
	CHECK_EQ(cfg.caps[0].length, 0x3c);
}

TEST(pm_states)
{
	struct pciem_cap_desc c;
	u32 p = 0x40;

	setup();
	c = capd(PCIEM_CAP_PM, 0);
	c.u.pm.d1 = 1;
	c.u.pm.pme_support = 0x19;		/* D0, D3hot, D3cold */
	CHECK_EQ(add(c, NULL), 0);
	CHECK_EQ(rd(p, 2), 0x0001);
	CHECK_EQ(rd(p + 2, 2), 3 | 1 << 9 | 0x19 << 11);
	CHECK_EQ(rd(p + 4, 2), 0x0008);		/* D0, No_Soft_Reset */
	wr(p + 4, 2, 1);
	CHECK_EQ(rd(p + 4, 2) & 3, 1);
	wr(p + 4, 2, 2);			/* D2 unsupported: stays D1 */
	CHECK_EQ(rd(p + 4, 2) & 3, 1);
	wr(p + 4, 1, 3);
	CHECK_EQ(rd(p + 4, 2) & 3, 3);
	wr(p + 4, 4, 2);			/* dword write, unsupported: stays D3 */
	CHECK_EQ(rd(p + 4, 2) & 3, 3);
	wr(p + 4, 2, 0);
	CHECK_EQ(rd(p + 4, 2), 0x0008);
	wr(p + 4, 2, 0x7ffc);			/* PME_En only */
	CHECK_EQ(rd(p + 4, 2), 0x0108);
	CHECK_EQ(pciem_cfg_dev_write(&cfg, p + 4, 2, 0x8108), 0);
	CHECK_EQ(rd(p + 4, 2), 0x8108);
	wr(p + 4, 2, 0x8100);			/* RW1C PME_Status, keep PME_En */
	CHECK_EQ(rd(p + 4, 2), 0x0108);
	CHECK_EQ(rd(p + 6, 2), 0);
}

static void check_msi_form(u8 addr64, u8 pvm, u32 len)
{
	u32 p = 0x40, data = addr64 ? 0xc : 0x8, mask = addr64 ? 0x10 : 0xc;

	setup();
	CHECK_EQ(add_msi(4, addr64, pvm), 0);
	CHECK_EQ(cfg.caps[0].length, len);
	CHECK_EQ(rd(p, 2), 0x0005);
	CHECK_EQ(rd(p + 2, 2), 2 << 1 | addr64 << 7 | pvm << 8);
	wr(p + 2, 2, 0xffff);			/* MME clamped to capable (4) */
	CHECK_EQ(rd(p + 2, 2), 0x25 | addr64 << 7 | pvm << 8);
	wr(p + 2, 2, 0x0010);			/* 2 vectors, disabled */
	CHECK_EQ(rd(p + 2, 2), 0x14 | addr64 << 7 | pvm << 8);
	wr(p + 4, 4, 0xfee01237);
	CHECK_EQ(rd(p + 4, 4), 0xfee01234);
	if (addr64) {
		wr(p + 8, 4, 0x12345678);
		CHECK_EQ(rd(p + 8, 4), 0x12345678);
	}
	wr(p + data, 4, 0xffffffff);		/* data is 16 bits */
	CHECK_EQ(rd(p + data, 2), 0xffff);
	if (pvm) {
		wr(p + mask, 4, 0xffffffff);
		CHECK_EQ(rd(p + mask, 4), 0xf);
		wr(p + mask + 4, 4, 0xffffffff);
		CHECK_EQ(rd(p + mask + 4, 4), 0);	/* pending: read-only */
	} else {
		CHECK_EQ(rd(p + data + 2, 2), 0);
		wr(p + len, 2, 0xffff);
		CHECK_EQ(rd(p + len, 2), 0);		/* past the structure */
	}
}

TEST(msi_forms)
{
	check_msi_form(0, 0, 0x0a);
	check_msi_form(1, 0, 0x0e);
	check_msi_form(0, 1, 0x14);
	check_msi_form(1, 1, 0x18);
}

TEST(msi_vector_counts)
{
	setup();
	CHECK_EQ(add_msi(32, 1, 1), 0);
	CHECK_EQ(rd(0x42, 2), 5 << 1 | 0x180);
	wr(0x50, 4, 0xffffffff);
	CHECK_EQ(rd(0x50, 4), 0xffffffff);	/* all 32 mask bits */
	setup();
	CHECK_EQ(add_msi(1, 0, 1), 0);
	wr(0x42, 2, 0x0071);
	CHECK_EQ(rd(0x42, 2), 0x0101);		/* MME clamps to 0 */
	wr(0x4c, 4, 0xffffffff);
	CHECK_EQ(rd(0x4c, 4), 1);
}

TEST(msi_message_and_pending)
{
	u64 addr;
	u32 data;
	bool masked;

	setup();
	CHECK_EQ(pciem_cfg_msi_message(&cfg, 0, &addr, &data, &masked), -ENODEV);
	CHECK_EQ(pciem_cfg_msi_set_pending(&cfg, 0, true), -EINVAL);
	CHECK_EQ(add_msi(8, 1, 1), 0);
	CHECK_EQ(pciem_cfg_msi_message(&cfg, 0, &addr, &data, &masked), -ENODEV);
	wr(0x44, 4, 0xfee00000);
	wr(0x48, 4, 0x00000001);
	wr(0x4c, 2, 0x4123);
	wr(0x50, 4, 0x2);			/* mask vector 1 */
	wr(0x42, 2, 0x0021);			/* enable, 4 vectors */
	CHECK_EQ(pciem_cfg_msi_message(&cfg, 3, &addr, &data, &masked), 0);
	CHECK_EQ(addr, 0x1fee00000ULL);
	CHECK_EQ(data, 0x4123);			/* low 2 bits carry the vector */
	CHECK(!masked);
	CHECK_EQ(pciem_cfg_msi_message(&cfg, 1, &addr, &data, &masked), 0);
	CHECK_EQ(data, 0x4121);
	CHECK(masked);
	CHECK_EQ(pciem_cfg_msi_message(&cfg, 4, &addr, &data, &masked), -EINVAL);
	CHECK_EQ(pciem_cfg_msi_set_pending(&cfg, 7, true), 0);
	CHECK_EQ(pciem_cfg_msi_set_pending(&cfg, 1, true), 0);
	CHECK_EQ(rd(0x54, 4), 0x82);
	CHECK_EQ(pciem_cfg_msi_set_pending(&cfg, 7, false), 0);
	CHECK_EQ(rd(0x54, 4), 0x02);
	CHECK_EQ(pciem_cfg_msi_set_pending(&cfg, 8, true), -EINVAL);

	setup();				/* 32-bit, no masking */
	CHECK_EQ(add_msi(1, 0, 0), 0);
	wr(0x44, 4, 0xfee01000);
	wr(0x48, 2, 0x0031);
	wr(0x42, 2, 0x0001);
	CHECK_EQ(pciem_cfg_msi_message(&cfg, 0, &addr, &data, &masked), 0);
	CHECK_EQ(addr, 0xfee01000);
	CHECK_EQ(data, 0x0031);
	CHECK(!masked);
	CHECK_EQ(pciem_cfg_msi_set_pending(&cfg, 0, true), -EINVAL);
}

TEST(msix_registers)
{
	setup();
	CHECK_EQ(add_bar(0, 0x4000, 0), 0);
	CHECK_EQ(add(msix_desc(64, 0, 0x2000, 0, 0x3008), NULL), 0);
	CHECK_EQ(rd(0x40, 2), 0x0011);
	CHECK_EQ(rd(0x42, 2), 63);
	wr(0x42, 2, 0xffff);
	CHECK_EQ(rd(0x42, 2), 0xc000 | 63);
	wr(0x42, 2, 0x8000);
	CHECK_EQ(rd(0x42, 2), 0x8000 | 63);
	CHECK_EQ(rd(0x44, 4), 0x2000);
	CHECK_EQ(rd(0x48, 4), 0x3008);
	wr(0x44, 4, 0xffffffff);
	wr(0x48, 4, 0);
	CHECK_EQ(rd(0x44, 4), 0x2000);
	CHECK_EQ(rd(0x48, 4), 0x3008);
	CHECK_EQ(cfg.caps[0].length, 12);
	CHECK_EQ(pciem_cfg_finish(&cfg), 0);

	setup();				/* BIR in the low bits, 2048 vectors */
	CHECK_EQ(add_bar(2, 0x8000, PCIEM_BAR_MEM64), 0);
	CHECK_EQ(add_bar(4, 0x1000, 0), 0);
	CHECK_EQ(add(msix_desc(2048, 2, 0, 4, 0xf00), NULL), 0);
	CHECK_EQ(rd(0x42, 2), 0x7ff);
	CHECK_EQ(rd(0x44, 4), 2);
	CHECK_EQ(rd(0x48, 4), 0xf04);
	CHECK_EQ(pciem_cfg_finish(&cfg), 0);
}

TEST(cap_errors)
{
	static const u8 payload[0xfa];
	struct pciem_cap_desc c;

	setup();
	CHECK_EQ(add_pcie(PCIEM_PCIE_ENDPOINT, 0, 0, 0), 0);
	EXPECT_FAIL(add(capd(0, 0), NULL), -EINVAL, "kind 0");
	EXPECT_FAIL(add(capd(7, 0), NULL), -EINVAL, "kind 7");
	c = capd(PCIEM_CAP_PM, 0);
	c.size = 8;
	EXPECT_FAIL(add(c, NULL), -EINVAL, "size");
	c = capd(PCIEM_CAP_PM, 0);
	c.reserved[3] = 1;
	EXPECT_FAIL(add(c, NULL), -EINVAL, "reserved[3]");
	EXPECT_FAIL(add_pcie(PCIEM_PCIE_ENDPOINT, 0, 0, 0), -EEXIST, "cap pcie: already");

	setup();
	EXPECT_FAIL(add_pcie(0x4, 0, 0, 0), -EINVAL, "port_type");
	EXPECT_FAIL(add_pcie(0, 6, 0, 0), -EINVAL, "max_payload");
	EXPECT_FAIL(add_pcie(0, 0, 6, 0), -EINVAL, "link_speed");
	EXPECT_FAIL(add_pcie(0, 0, 0, 3), -EINVAL, "link_width");
	EXPECT_FAIL(add_pcie(0, 0, 0, 64), -EINVAL, "link_width");
	c = capd(PCIEM_CAP_PCIE, 0);
	c.u.pcie.reserved[1] = 1;
	EXPECT_FAIL(add(c, NULL), -EINVAL, "cap pcie: reserved[1]");

	c = capd(PCIEM_CAP_PM, 0);
	c.u.pm.d2 = 2;
	EXPECT_FAIL(add(c, NULL), -EINVAL, "d2");
	c = capd(PCIEM_CAP_PM, 0);
	c.u.pm.pme_support = 0x04;
	EXPECT_FAIL(add(c, NULL), -EINVAL, "pme_support");
	c = capd(PCIEM_CAP_PM, 0);
	c.u.pm.pme_support = 0x20;
	EXPECT_FAIL(add(c, NULL), -EINVAL, "pme_support");
	c = capd(PCIEM_CAP_PM, 0);
	c.u.pm.reserved0 = 1;
	EXPECT_FAIL(add(c, NULL), -EINVAL, "reserved0");

	EXPECT_FAIL(add_msi(3, 0, 0), -EINVAL, "cap msi: vectors 3");
	EXPECT_FAIL(add_msi(0, 0, 0), -EINVAL, "vectors 0");
	EXPECT_FAIL(add_msi(64, 0, 0), -EINVAL, "vectors 64");
	EXPECT_FAIL(add_msi(1, 2, 0), -EINVAL, "addr64");
	EXPECT_FAIL(add_msi(1, 0, 2), -EINVAL, "per_vector_mask");

	EXPECT_FAIL(add(msix_desc(0, 0, 0, 0, 0x100), NULL), -EINVAL, "cap msix: vectors 0");
	EXPECT_FAIL(add(msix_desc(2049, 0, 0, 0, 0x100), NULL), -EINVAL, "vectors 2049");
	EXPECT_FAIL(add(msix_desc(1, 6, 0, 0, 0x100), NULL), -EINVAL, "table_bar 6");
	EXPECT_FAIL(add(msix_desc(1, 0, 0, 7, 0x100), NULL), -EINVAL, "pba_bar 7");
	EXPECT_FAIL(add(msix_desc(1, 0, 4, 0, 0x100), NULL), -EINVAL, "table_offset 0x4");
	EXPECT_FAIL(add(msix_desc(1, 0, 0, 0, 0x101), NULL), -EINVAL, "pba_offset 0x101");

	c = capd(PCIEM_CAP_VENDOR, 0);
	c.u.raw.length = 0xfa;
	EXPECT_FAIL(add(c, payload), -EINVAL, "cap vendor: raw.length 250");
	c.u.raw.length = 4;
	EXPECT_FAIL(add(c, NULL), -EINVAL, "no payload");
	c.u.raw.id = 1;
	EXPECT_FAIL(add(c, payload), -EINVAL, "raw.id");
	c.u.raw.id = 0;
	c.u.raw.reserved0 = 1;
	EXPECT_FAIL(add(c, payload), -EINVAL, "raw.reserved0");

	c = capd(PCIEM_CAP_EXT_RAW, 0);
	c.u.raw.length = 4;
	EXPECT_FAIL(add(c, payload), -EINVAL, "cap ext_raw: raw.id 0");
	c.u.raw.id = 0x10;
	c.u.raw.version = 16;
	EXPECT_FAIL(add(c, payload), -EINVAL, "raw.version 16");
	c.u.raw.version = 1;
	c.u.raw.length = 6;
	EXPECT_FAIL(add(c, payload), -EINVAL, "multiple of 4");
	c.u.raw.length = 0xf04;
	EXPECT_FAIL(add(c, payload), -EINVAL, "maximum");
}

TEST(cap_placement_errors)
{
	struct pciem_cap_desc c;
	static const u8 payload[0x40];

	setup();
	CHECK_EQ(add_pcie(PCIEM_PCIE_ENDPOINT, 0, 0, 0), 0);
	EXPECT_FAIL(add(capd(PCIEM_CAP_PM, 0x42), NULL), -EINVAL, "cap pm: offset 0x42 is not dword");
	EXPECT_FAIL(add(capd(PCIEM_CAP_PM, 0x3c), NULL), -EINVAL, "cap pm: offset 0x3c outside");
	EXPECT_FAIL(add(capd(PCIEM_CAP_PM, 0x100), NULL), -EINVAL, "offset 0x100 outside");
	EXPECT_FAIL(add(capd(PCIEM_CAP_PM, 0xfc), NULL), -ENOSPC, "do not fit");
	EXPECT_FAIL(add(capd(PCIEM_CAP_VENDOR, 0x48), NULL), -EINVAL,
		    "cap vendor at 0x48 overlaps cap pcie at 0x40..0x7b");
	EXPECT_FAIL(add(capd(PCIEM_CAP_PM, 0x78), NULL), -EINVAL, "overlaps cap pcie");

	c = capd(PCIEM_CAP_EXT_RAW, 0x80);
	c.u.raw.id = 1;
	EXPECT_FAIL(add(c, NULL), -EINVAL, "offset 0x80 outside 0x100..0xfff");
	c.offset = 0x200;
	EXPECT_FAIL(add(c, NULL), -EINVAL, "first extended capability must be at 0x100");
	c.offset = 0x100;
	CHECK_EQ(add(c, NULL), 0);
	c.offset = 0x100;
	EXPECT_FAIL(add(c, NULL), -EINVAL, "cap ext_raw at 0x100 overlaps cap ext_raw at 0x100..0x103");
	c.offset = 0xffc;
	c.u.raw.length = 4;
	EXPECT_FAIL(add(c, payload), -ENOSPC, "do not fit below 0x1000");
	c.offset = 0x800;			/* later extended caps may go anywhere */
	CHECK_EQ(add(c, payload), 0);
	CHECK_EQ(rd(0x100, 4), 0x80000001);

	/* a capability that auto-places into an explicit one */
	setup();
	CHECK_EQ(add(capd(PCIEM_CAP_VENDOR, 0x80), NULL), 0);
	CHECK_EQ(add(capd(PCIEM_CAP_PM, 0x40), NULL), 0);
	c = capd(PCIEM_CAP_VENDOR, 0);
	c.u.raw.length = 0x40;
	EXPECT_FAIL(add(c, payload), -EINVAL, "overlaps cap vendor at 0x80..0x82");
}

TEST(cap_chain_full)
{
	u32 i;

	setup();
	for (i = 0; i < PCIEM_CFG_MAX_CAPS; i++)
		CHECK_EQ(add(capd(PCIEM_CAP_VENDOR, 0), NULL), 0);
	/* 32 vendor caps of 3 bytes, one dword each: 0x40..0xbc */
	EXPECT_FAIL(add(capd(PCIEM_CAP_VENDOR, 0), NULL), -ENOSPC, "too many");
	CHECK_EQ(rd(0xbd, 1), 0);
	CHECK_EQ(rd(0xb9, 1), 0xbc);
}

TEST(finish_checks)
{
	struct pciem_cap_desc c;

	/* MSI-X table in a missing BAR */
	setup();
	CHECK_EQ(add(msix_desc(8, 1, 0, 1, 0x800), NULL), 0);
	EXPECT_FAIL(pciem_cfg_finish(&cfg), -EINVAL, "cap msix: table bar 1 is not described");
	CHECK(!cfg.finished);
	/* table does not fit */
	setup();
	CHECK_EQ(add_bar(0, 0x1000, 0), 0);
	CHECK_EQ(add_bar(1, 0x1000, 0), 0);
	CHECK_EQ(add(msix_desc(257, 0, 0, 1, 0), NULL), 0);
	EXPECT_FAIL(pciem_cfg_finish(&cfg), -EINVAL,
		    "cap msix: table (bar 0 +0x0, 0x1010 bytes) does not fit in the bar (0x1000 bytes)");
	setup();
	CHECK_EQ(add_bar(0, 0x2000, 0), 0);
	CHECK_EQ(add(msix_desc(255, 0, 0, 0, 0xfe8), NULL), 0);
	EXPECT_FAIL(pciem_cfg_finish(&cfg), -EINVAL,
		    "table (bar 0 +0x0, 0xff0 bytes) overlaps pba (bar 0 +0xfe8, 0x20 bytes)");
	/* pba does not fit */
	setup();
	CHECK_EQ(add_bar(0, 0x1000, 0), 0);
	CHECK_EQ(add_bar(1, 0x1000, 0), 0);
	CHECK_EQ(add(msix_desc(65, 0, 0, 1, 0xff8), NULL), 0);
	EXPECT_FAIL(pciem_cfg_finish(&cfg), -EINVAL, "pba (bar 1 +0xff8, 0x10 bytes) does not fit");
	/* overlap in one BAR */
	setup();
	CHECK_EQ(add_bar(0, 0x1000, 0), 0);
	CHECK_EQ(add(msix_desc(16, 0, 0x800, 0, 0x880), NULL), 0);
	EXPECT_FAIL(pciem_cfg_finish(&cfg), -EINVAL,
		    "cap msix: table (bar 0 +0x800, 0x100 bytes) overlaps pba (bar 0 +0x880");
	/* the upper half of a 64-bit BAR is not a BAR */
	setup();
	CHECK_EQ(add_bar(0, 0x1000, PCIEM_BAR_MEM64), 0);
	CHECK_EQ(add(msix_desc(1, 0, 0, 1, 0x800), NULL), 0);
	EXPECT_FAIL(pciem_cfg_finish(&cfg), -EINVAL, "pba bar 1 is the upper half");
	/* extended capabilities need PCIe */
	setup();
	c = capd(PCIEM_CAP_EXT_RAW, 0);
	c.u.raw.id = 1;
	CHECK_EQ(add(c, NULL), 0);
	EXPECT_FAIL(pciem_cfg_finish(&cfg), -EINVAL, "need a pcie capability");
	CHECK_EQ(add_pcie(PCIEM_PCIE_ENDPOINT, 0, 0, 0), 0);
	CHECK_EQ(pciem_cfg_finish(&cfg), 0);
	CHECK(cfg.finished);
	/* frozen */
	EXPECT_FAIL(add_msi(1, 0, 0), -EBUSY, "finished");
	EXPECT_FAIL(pciem_cfg_finish(&cfg), -EBUSY, "finished");
	/* a device without capabilities has no CapList bit */
	setup();
	CHECK_EQ(pciem_cfg_finish(&cfg), 0);
	CHECK_EQ(rd(0x06, 2), 0);
}

TEST(init_errors)
{
	struct pciem_device_desc d;

	setup();
	CHECK_EQ(add_bar(0, 0x1000, 0), 0);	/* a failed init must not reset this */
#define BAD_INIT(mutate, frag) do { \
	d = dev_desc(); \
	mutate; \
	EXPECT_FAIL(pciem_cfg_init(&cfg, &d), -EINVAL, frag); \
} while (0)
	BAD_INIT(d.size = 4, "device: size 4");
	BAD_INIT(d.flags = 2, "device: flags 0x2");
	BAD_INIT(d.reserved0[1] = 1, "reserved0[1]");
	BAD_INIT(d.reserved[5] = 9, "reserved[5]");
	BAD_INIT(d.vendor_id = 0xffff, "vendor_id 0xffff");
	BAD_INIT(d.vendor_id = 0, "vendor_id 0x0000");
	BAD_INIT(d.intx_pin = 5, "intx_pin 5");
	BAD_INIT(d.name[0] = 0, "name is empty");
	BAD_INIT(strcpy(d.name, "nvme 0"), "name has character 0x20");
	BAD_INIT(strcpy(d.name, "a/b"), "name has character 0x2f");
	BAD_INIT(memset(d.name, 'x', sizeof(d.name)), "NUL-terminated");
#undef BAD_INIT
	CHECK_EQ(rd(0x10, 4), 0);
	CHECK_EQ(cfg.bar_len[0], 0x1000);
	d = dev_desc();
	memset(d.name, 'x', sizeof(d.name) - 1);
	d.intx_pin = 4;
	CHECK_EQ(pciem_cfg_init(&cfg, &d), 0);	/* 31 characters is fine */
	CHECK_EQ(cfg.bar_len[0], 0);
	CHECK_EQ(rd(0x3d, 1), 4);
}

TEST(device_side_writes)
{
	u32 before;

	build_full_device();
	/* refused: IDs, Command, BARs, ROM, pointers, cap headers, MSI, MSI-X */
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x00, 2, 0x1234), -EPERM, "offset 0x000");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x04, 2, 0x0002), -EPERM, "offset 0x004");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x10, 4, 0xfe000000), -EPERM, "offset 0x010");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x30, 4, 1), -EPERM, "offset 0x030");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x34, 1, 0x50), -EPERM, "offset 0x034");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x41, 1, 0), -EPERM, "offset 0x041");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x86, 2, 1), -EPERM, "offset 0x086");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x98, 4, 1), -EPERM, "offset 0x098");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x9e, 2, 0xc03f), -EPERM, "offset 0x09f");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0xaa, 1, 9), -EPERM, "offset 0x0aa");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x100, 4, 0), -EPERM, "offset 0x10");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x48, 2, 0), -EPERM, "offset 0x048");	/* DevCtl */
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x200, 4, 1), -EPERM, "offset 0x200");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x06, 2, 0x0000), -EPERM, "offset 0x006 bits 0x10");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x03, 2, 0), -EINVAL, "offset 0x3");
	EXPECT_FAIL(pciem_cfg_dev_write(&cfg, 0x1000, 1, 0), -EINVAL, "0x1000");
	/* allowed: state the device reports; unchanged owned bits are fine */
	before = rd(0x06, 2);
	CHECK_EQ(pciem_cfg_dev_write(&cfg, 0x06, 2, before | 0x4000), 0);
	CHECK_EQ(rd(0x06, 2), 0x4010);
	CHECK_EQ(pciem_cfg_dev_write(&cfg, 0x04, 4, 0x40100000), 0);
	CHECK_EQ(pciem_cfg_dev_write(&cfg, 0x4a, 2, 0x0004), 0);	/* fatal error detected */
	CHECK_EQ(rd(0x4a, 2), 4);
	CHECK_EQ(pciem_cfg_dev_write(&cfg, 0x52, 2, 0x0842), 0);	/* retraining, x4 at 5 GT/s */
	CHECK_EQ(rd(0x52, 2), 0x0842);
	CHECK_EQ(pciem_cfg_dev_write(&cfg, 0xac, 4, 0x01020304), 0);	/* vendor payload */
	CHECK_EQ(rd(0xac, 4), 0x01020304);
	CHECK_EQ(rd(0xa8, 4), 0xde080009);
	CHECK_EQ(pciem_cfg_dev_write(&cfg, 0x104, 4, 0xa5a5a5a5), 0);	/* ext payload */
	CHECK_EQ(rd(0x104, 4), 0xa5a5a5a5);
	/* device writes bypass RW1C and masks on the bits it owns */
	CHECK_EQ(pciem_cfg_dev_write(&cfg, 0x06, 2, 0x0010), 0);
	CHECK_EQ(rd(0x06, 2), 0x0010);
}

int main(void)
{
	RUN(header_after_init);
	RUN(identity_is_read_only);
	RUN(command_write_mask);
	RUN(status_rw1c);
	RUN(interrupt_line_pin_and_timers);
	RUN(access_rules);
	RUN(bar32_sizing);
	RUN(bar32_prefetch_sizing);
	RUN(bar64_sizing);
	RUN(absent_bars_and_rom);
	RUN(bar_errors);
	RUN(cap_chain_walk);
	RUN(explicit_offsets_keep_add_order);
	RUN(pcie_registers);
	RUN(pcie_defaults_and_port_types);
	RUN(pm_states);
	RUN(msi_forms);
	RUN(msi_vector_counts);
	RUN(msi_message_and_pending);
	RUN(msix_registers);
	RUN(cap_errors);
	RUN(cap_placement_errors);
	RUN(cap_chain_full);
	RUN(finish_checks);
	RUN(init_errors);
	RUN(device_side_writes);
	return check_done();
}
