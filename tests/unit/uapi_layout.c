/* SPDX-License-Identifier: MIT */
/*
 * Prints the C layout of the uapi structs, one "struct field offset size" line
 * each ("struct - 0 size" for the whole struct), for the host's Lua tests to
 * compare with ffi.offsetof/ffi.sizeof of the cdef generated from the header.
 */
#include <stddef.h>
#include <stdio.h>
#include <uapi/pciem.h>

#define STRUCT(type) printf("%s - 0 %u\n", #type, (unsigned)sizeof(struct type))
#define FIELD(type, field) printf("%s %s %u %u\n", #type, #field, \
	(unsigned)offsetof(struct type, field), \
	(unsigned)sizeof(((struct type *)0)->field))

int main(void)
{
	STRUCT(pciem_version);
	FIELD(pciem_version, size);
	FIELD(pciem_version, version);
	FIELD(pciem_version, reserved);

	STRUCT(pciem_device_desc);
	FIELD(pciem_device_desc, size);
	FIELD(pciem_device_desc, flags);
	FIELD(pciem_device_desc, vendor_id);
	FIELD(pciem_device_desc, device_id);
	FIELD(pciem_device_desc, subsys_vendor_id);
	FIELD(pciem_device_desc, subsys_id);
	FIELD(pciem_device_desc, revision);
	FIELD(pciem_device_desc, prog_if);
	FIELD(pciem_device_desc, subclass);
	FIELD(pciem_device_desc, class_code);
	FIELD(pciem_device_desc, intx_pin);
	FIELD(pciem_device_desc, reserved0);
	FIELD(pciem_device_desc, name);
	FIELD(pciem_device_desc, reserved);

	STRUCT(pciem_bar_desc);
	FIELD(pciem_bar_desc, size);
	FIELD(pciem_bar_desc, index);
	FIELD(pciem_bar_desc, length);
	FIELD(pciem_bar_desc, flags);
	FIELD(pciem_bar_desc, reserved);

	STRUCT(pciem_cap_pcie);
	FIELD(pciem_cap_pcie, port_type);
	FIELD(pciem_cap_pcie, max_payload);
	FIELD(pciem_cap_pcie, link_speed);
	FIELD(pciem_cap_pcie, link_width);
	FIELD(pciem_cap_pcie, reserved);

	STRUCT(pciem_cap_pm);
	FIELD(pciem_cap_pm, d1);
	FIELD(pciem_cap_pm, d2);
	FIELD(pciem_cap_pm, pme_support);
	FIELD(pciem_cap_pm, reserved0);
	FIELD(pciem_cap_pm, reserved);

	STRUCT(pciem_cap_msi);
	FIELD(pciem_cap_msi, vectors);
	FIELD(pciem_cap_msi, addr64);
	FIELD(pciem_cap_msi, per_vector_mask);
	FIELD(pciem_cap_msi, reserved);

	STRUCT(pciem_cap_msix);
	FIELD(pciem_cap_msix, vectors);
	FIELD(pciem_cap_msix, table_bar);
	FIELD(pciem_cap_msix, pba_bar);
	FIELD(pciem_cap_msix, table_offset);
	FIELD(pciem_cap_msix, pba_offset);
	FIELD(pciem_cap_msix, reserved);

	STRUCT(pciem_cap_raw);
	FIELD(pciem_cap_raw, id);
	FIELD(pciem_cap_raw, version);
	FIELD(pciem_cap_raw, reserved0);
	FIELD(pciem_cap_raw, length);
	FIELD(pciem_cap_raw, data);

	STRUCT(pciem_cap_desc);
	FIELD(pciem_cap_desc, size);
	FIELD(pciem_cap_desc, kind);
	FIELD(pciem_cap_desc, offset);
	FIELD(pciem_cap_desc, u);
	FIELD(pciem_cap_desc, reserved);

	STRUCT(pciem_device_info);
	FIELD(pciem_device_info, size);
	FIELD(pciem_device_info, state);
	FIELD(pciem_device_info, domain);
	FIELD(pciem_device_info, bus);
	FIELD(pciem_device_info, devfn);
	FIELD(pciem_device_info, reserved0);
	FIELD(pciem_device_info, bar_addr);
	FIELD(pciem_device_info, bar_len);
	FIELD(pciem_device_info, pci_name);
	FIELD(pciem_device_info, reserved);

	STRUCT(pciem_cfg_access);
	FIELD(pciem_cfg_access, size);
	FIELD(pciem_cfg_access, offset);
	FIELD(pciem_cfg_access, width);
	FIELD(pciem_cfg_access, reserved0);
	FIELD(pciem_cfg_access, value);
	FIELD(pciem_cfg_access, reserved);
	return 0;
}
