/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * pciem uapi: the one contract between pciem.ko and its userspace host.
 *
 * Everything between the "ffi-begin" and "ffi-end" markers is plain C that
 * LuaJIT's ffi.cdef accepts as is (the build turns it into a string the host
 * hands to Lua), so it holds no macros: constants are enums, fields are
 * fixed-width, padding is explicit, user pointers travel as __u64.
 * Every ioctl struct starts with `size`, which must equal sizeof(struct).
 */
#ifndef _UAPI_PCIEM_H
#define _UAPI_PCIEM_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* pciem:ffi-begin */

enum pciem_abi {
	PCIEM_UAPI_VERSION = 1,
	PCIEM_NUM_BARS = 6,
	PCIEM_CFG_SIZE = 4096,
	PCIEM_NAME_LEN = 32,
	PCIEM_BAR_MIN_SIZE = 4096,	/* trapping and mmap work on pages */
	PCIEM_CAP_DATA_MAX = 3840,	/* largest raw capability payload */
	PCIEM_MSI_MAX_VECTORS = 32,
	PCIEM_MSIX_MAX_VECTORS = 2048,
	/* mmap offset of BAR n on the device fd: n << PCIEM_MMAP_BAR_SHIFT */
	PCIEM_MMAP_BAR_SHIFT = 40,
};

/* struct pciem_bar_desc.flags */
enum pciem_bar_flags {
	PCIEM_BAR_MEM64 = 1 << 0,	/* 64-bit memory BAR; uses index + 1 too */
	PCIEM_BAR_PREFETCH = 1 << 1,	/* prefetchable */
};

/* struct pciem_cap_desc.kind */
enum pciem_cap_kind {
	PCIEM_CAP_PCIE = 1,	/* PCI Express capability (ID 0x10) */
	PCIEM_CAP_PM = 2,	/* Power Management (ID 0x01) */
	PCIEM_CAP_MSI = 3,	/* MSI (ID 0x05) */
	PCIEM_CAP_MSIX = 4,	/* MSI-X (ID 0x11) */
	PCIEM_CAP_VENDOR = 5,	/* vendor-specific (ID 0x09), payload after its 3-byte header */
	PCIEM_CAP_EXT_RAW = 6,	/* extended capability: id, version, payload after the header */
};

/* struct pciem_cap_pcie.port_type: values of the PCIe Device/Port Type field */
enum pciem_pcie_port {
	PCIEM_PCIE_ENDPOINT = 0x0,
	PCIEM_PCIE_LEGACY_ENDPOINT = 0x1,
	PCIEM_PCIE_RC_ENDPOINT = 0x9,
};

/* struct pciem_device_info.state */
enum pciem_state {
	PCIEM_STATE_EMPTY = 0,		/* fd open, nothing described yet */
	PCIEM_STATE_CREATED = 1,	/* identity given; BARs and capabilities may be added */
	PCIEM_STATE_REGISTERED = 2,	/* on the bus and in sysfs, no driver probed yet */
	PCIEM_STATE_STARTED = 3,	/* drivers may bind */
};

/* PCIEM_IOC_VERSION: ask the module which ABI it speaks. */
struct pciem_version {
	__u32 size;		/* in: sizeof(struct pciem_version) */
	__u32 version;		/* out: PCIEM_UAPI_VERSION of the module */
	__u32 reserved[6];	/* out: zero */
};

/* PCIEM_IOC_CREATE: identity of the device owned by this fd. */
struct pciem_device_desc {
	__u32 size;		/* sizeof(struct pciem_device_desc) */
	__u32 flags;		/* none defined yet: must be 0 */
	__u16 vendor_id;
	__u16 device_id;
	__u16 subsys_vendor_id;
	__u16 subsys_id;
	__u8 revision;
	__u8 prog_if;		/* class code, byte 0x09 */
	__u8 subclass;		/* class code, byte 0x0a */
	__u8 class_code;	/* class code, byte 0x0b */
	__u8 intx_pin;		/* 0 = none, 1..4 = INTA#..INTD# */
	__u8 reserved0[3];	/* zero */
	char name[32];		/* label, NUL-terminated, [A-Za-z0-9_.-], not empty */
	__u32 reserved[8];	/* zero */
};

/* PCIEM_IOC_ADD_BAR: a memory BAR; its shadow is mmap-able by the host. */
struct pciem_bar_desc {
	__u32 size;		/* sizeof(struct pciem_bar_desc) */
	__u32 index;		/* 0..5; a 64-bit BAR also takes index + 1 */
	__u64 length;		/* power of two, >= PCIEM_BAR_MIN_SIZE */
	__u32 flags;		/* PCIEM_BAR_* */
	__u32 reserved[3];	/* zero */
};

struct pciem_cap_pcie {
	__u8 port_type;		/* PCIEM_PCIE_* */
	__u8 max_payload;	/* Max_Payload_Size Supported encoding: 0..5 = 128..4096 bytes */
	__u8 link_speed;	/* Max Link Speed: 1..5 = 2.5..32 GT/s; 0 = 1 for endpoints */
	__u8 link_width;	/* Max Link Width: 1..32 lanes; 0 = 1 */
	__u32 reserved[3];
};

struct pciem_cap_pm {
	__u8 d1;		/* D1 supported */
	__u8 d2;		/* D2 supported */
	__u8 pme_support;	/* PME_Support bits D0,D1,D2,D3hot,D3cold = bits 0..4 */
	__u8 reserved0;
	__u32 reserved[3];
};

struct pciem_cap_msi {
	__u16 vectors;		/* 1, 2, 4, 8, 16 or 32 */
	__u8 addr64;		/* 64-bit message address */
	__u8 per_vector_mask;	/* mask and pending bits */
	__u32 reserved[3];
};

struct pciem_cap_msix {
	__u16 vectors;		/* 1..2048 */
	__u8 table_bar;		/* BAR index holding the vector table */
	__u8 pba_bar;		/* BAR index holding the pending bit array */
	__u32 table_offset;	/* 8-byte aligned, table fits in the BAR */
	__u32 pba_offset;	/* 8-byte aligned, PBA fits in the BAR */
	__u32 reserved[1];
};

/* Vendor-specific or extended capability with an opaque payload. */
struct pciem_cap_raw {
	__u16 id;		/* extended capability ID (PCIEM_CAP_EXT_RAW only) */
	__u8 version;		/* extended capability version, 0..15 (EXT_RAW only) */
	__u8 reserved0;
	__u32 length;		/* payload bytes, after the capability header */
	__u64 data;		/* user pointer to the payload */
};

/* PCIEM_IOC_ADD_CAP: one capability, placed in the chain in the order added. */
struct pciem_cap_desc {
	__u32 size;		/* sizeof(struct pciem_cap_desc) */
	__u16 kind;		/* PCIEM_CAP_* */
	__u16 offset;		/* 0 = place automatically; else dword aligned, in range */
	union {
		struct pciem_cap_pcie pcie;
		struct pciem_cap_pm pm;
		struct pciem_cap_msi msi;
		struct pciem_cap_msix msix;
		struct pciem_cap_raw raw;
		__u8 pad[32];
	} u;
	__u32 reserved[4];	/* zero */
};

/* PCIEM_IOC_INFO: where the device sits once registered. */
struct pciem_device_info {
	__u32 size;		/* in: sizeof(struct pciem_device_info) */
	__u32 state;		/* out: PCIEM_STATE_* */
	__u32 domain;		/* out: PCI domain (segment) of the virtual root bus */
	__u8 bus;
	__u8 devfn;
	__u8 reserved0[2];
	__u64 bar_addr[6];	/* out: bus address of each BAR, 0 if absent */
	__u64 bar_len[6];	/* out: length of each BAR, 0 if absent */
	char pci_name[32];	/* out: "DDDDD:BB:DD.F", empty before registration */
	__u32 reserved[8];
};

/*
 * PCIEM_IOC_CFG_READ / PCIEM_IOC_CFG_WRITE: the device's own view of its config
 * space. A read returns what the OS would read. A write sets bytes as the device
 * (no write masks, no RW1C), except bytes the module owns: BARs, the ROM BAR,
 * the capability list pointers and headers, and the MSI and MSI-X capabilities.
 */
struct pciem_cfg_access {
	__u32 size;		/* sizeof(struct pciem_cfg_access) */
	__u16 offset;		/* < PCIEM_CFG_SIZE, aligned to width */
	__u8 width;		/* 1, 2 or 4 */
	__u8 reserved0;
	__u32 value;		/* out for read, in for write */
	__u32 reserved[1];
};

/* pciem:ffi-end */

#define PCIEM_IOC_MAGIC 0xB5

#define PCIEM_IOC_VERSION	_IOWR(PCIEM_IOC_MAGIC, 0x00, struct pciem_version)
#define PCIEM_IOC_CREATE	_IOW(PCIEM_IOC_MAGIC, 0x01, struct pciem_device_desc)
#define PCIEM_IOC_ADD_BAR	_IOW(PCIEM_IOC_MAGIC, 0x02, struct pciem_bar_desc)
#define PCIEM_IOC_ADD_CAP	_IOW(PCIEM_IOC_MAGIC, 0x03, struct pciem_cap_desc)
#define PCIEM_IOC_REGISTER	_IO(PCIEM_IOC_MAGIC, 0x04)
#define PCIEM_IOC_START		_IO(PCIEM_IOC_MAGIC, 0x05)
#define PCIEM_IOC_STOP		_IO(PCIEM_IOC_MAGIC, 0x06)
#define PCIEM_IOC_INFO		_IOWR(PCIEM_IOC_MAGIC, 0x07, struct pciem_device_info)
#define PCIEM_IOC_CFG_READ	_IOWR(PCIEM_IOC_MAGIC, 0x08, struct pciem_cfg_access)
#define PCIEM_IOC_CFG_WRITE	_IOW(PCIEM_IOC_MAGIC, 0x09, struct pciem_cfg_access)

#endif /* _UAPI_PCIEM_H */
