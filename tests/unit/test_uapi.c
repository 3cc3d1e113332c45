/* SPDX-License-Identifier: MIT */
/*
 * The uapi header compiles as strict C99 (this file is built -std=c99
 * -pedantic) and its structs have the layout both sides of the ABI rely on.
 */
#include <stddef.h>
#include <uapi/pciem.h>
#include "check.h"

#define FIELD(type, field, off, sz) do { \
	CHECK_EQ(offsetof(struct type, field), off); \
	CHECK_EQ(sizeof(((struct type *)0)->field), sz); \
} while (0)

TEST(sizes)
{
	CHECK_EQ(sizeof(struct pciem_version), 32);
	CHECK_EQ(sizeof(struct pciem_device_desc), 88);
	CHECK_EQ(sizeof(struct pciem_bar_desc), 32);
	CHECK_EQ(sizeof(struct pciem_cap_pcie), 16);
	CHECK_EQ(sizeof(struct pciem_cap_pm), 16);
	CHECK_EQ(sizeof(struct pciem_cap_msi), 16);
	CHECK_EQ(sizeof(struct pciem_cap_msix), 16);
	CHECK_EQ(sizeof(struct pciem_cap_raw), 16);
	CHECK_EQ(sizeof(struct pciem_cap_desc), 56);
	CHECK_EQ(sizeof(struct pciem_device_info), 176);
	CHECK_EQ(sizeof(struct pciem_cfg_access), 16);
}

/* Every ioctl struct begins with its size, and no field lands in padding. */
TEST(device_and_bar_offsets)
{
	FIELD(pciem_version, size, 0, 4);
	FIELD(pciem_version, version, 4, 4);
	FIELD(pciem_device_desc, size, 0, 4);
	FIELD(pciem_device_desc, flags, 4, 4);
	FIELD(pciem_device_desc, vendor_id, 8, 2);
	FIELD(pciem_device_desc, device_id, 10, 2);
	FIELD(pciem_device_desc, subsys_vendor_id, 12, 2);
	FIELD(pciem_device_desc, subsys_id, 14, 2);
	FIELD(pciem_device_desc, revision, 16, 1);
	FIELD(pciem_device_desc, prog_if, 17, 1);
	FIELD(pciem_device_desc, subclass, 18, 1);
	FIELD(pciem_device_desc, class_code, 19, 1);
	FIELD(pciem_device_desc, intx_pin, 20, 1);
	FIELD(pciem_device_desc, reserved0, 21, 3);
	FIELD(pciem_device_desc, name, 24, 32);
	FIELD(pciem_device_desc, ring_entries, 56, 4);
	FIELD(pciem_device_desc, sync_timeout_us, 60, 4);
	FIELD(pciem_device_desc, reserved, 64, 24);
	FIELD(pciem_bar_desc, index, 4, 4);
	FIELD(pciem_bar_desc, length, 8, 8);
	FIELD(pciem_bar_desc, flags, 16, 4);
	FIELD(pciem_bar_desc, reserved, 20, 12);
}

TEST(cap_offsets)
{
	FIELD(pciem_cap_desc, size, 0, 4);
	FIELD(pciem_cap_desc, kind, 4, 2);
	FIELD(pciem_cap_desc, offset, 6, 2);
	FIELD(pciem_cap_desc, u, 8, 32);
	FIELD(pciem_cap_desc, reserved, 40, 16);
	FIELD(pciem_cap_pcie, port_type, 0, 1);
	FIELD(pciem_cap_pcie, max_payload, 1, 1);
	FIELD(pciem_cap_pcie, link_speed, 2, 1);
	FIELD(pciem_cap_pcie, link_width, 3, 1);
	FIELD(pciem_cap_pcie, reserved, 4, 12);
	FIELD(pciem_cap_pm, pme_support, 2, 1);
	FIELD(pciem_cap_pm, reserved, 4, 12);
	FIELD(pciem_cap_msi, vectors, 0, 2);
	FIELD(pciem_cap_msi, addr64, 2, 1);
	FIELD(pciem_cap_msi, per_vector_mask, 3, 1);
	FIELD(pciem_cap_msix, vectors, 0, 2);
	FIELD(pciem_cap_msix, table_bar, 2, 1);
	FIELD(pciem_cap_msix, pba_bar, 3, 1);
	FIELD(pciem_cap_msix, table_offset, 4, 4);
	FIELD(pciem_cap_msix, pba_offset, 8, 4);
	FIELD(pciem_cap_raw, id, 0, 2);
	FIELD(pciem_cap_raw, version, 2, 1);
	FIELD(pciem_cap_raw, length, 4, 4);
	FIELD(pciem_cap_raw, data, 8, 8);
}

TEST(info_and_access_offsets)
{
	FIELD(pciem_device_info, state, 4, 4);
	FIELD(pciem_device_info, domain, 8, 4);
	FIELD(pciem_device_info, bus, 12, 1);
	FIELD(pciem_device_info, devfn, 13, 1);
	FIELD(pciem_device_info, bar_addr, 16, 48);
	FIELD(pciem_device_info, bar_len, 64, 48);
	FIELD(pciem_device_info, pci_name, 112, 32);
	FIELD(pciem_device_info, reserved, 144, 32);
	FIELD(pciem_cfg_access, offset, 4, 2);
	FIELD(pciem_cfg_access, width, 6, 1);
	FIELD(pciem_cfg_access, value, 8, 4);
	FIELD(pciem_cfg_access, reserved, 12, 4);
}

TEST(constants)
{
	CHECK_EQ(PCIEM_NUM_BARS, 6);
	CHECK_EQ(PCIEM_CFG_SIZE, 4096);
	CHECK_EQ(PCIEM_CAP_DATA_MAX, 4096 - 256);
	CHECK_EQ(sizeof(((struct pciem_device_desc *)0)->name), PCIEM_NAME_LEN);
	CHECK_EQ(sizeof(((struct pciem_device_info *)0)->bar_addr) / 8, PCIEM_NUM_BARS);
	/* Distinct ioctl numbers, each carrying its struct's size. */
	CHECK(PCIEM_IOC_CREATE != PCIEM_IOC_ADD_BAR);
	CHECK_EQ(_IOC_SIZE(PCIEM_IOC_ADD_CAP), sizeof(struct pciem_cap_desc));
	CHECK_EQ(_IOC_SIZE(PCIEM_IOC_CFG_READ), sizeof(struct pciem_cfg_access));
	CHECK_EQ(_IOC_NR(PCIEM_IOC_CFG_WRITE), 0x09);
}

int main(void)
{
	RUN(sizes);
	RUN(device_and_bar_offsets);
	RUN(cap_offsets);
	RUN(info_and_access_offsets);
	RUN(constants);
	return check_done();
}
