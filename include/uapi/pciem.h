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
	__u32 ring_entries;	/* event ring size, power of two 64..65536; 0 = 4096 */
	__u32 sync_timeout_us;	/* deadline of a sync access, 1..10000000; 0 = the
				 * module parameter sync_timeout_default_us (100000) */
	__u32 reserved[6];	/* zero */
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

/*
 * ---- Trapped BAR accesses, events, interrupts, DMA ----
 *
 * Every kernel mapping of a BAR is trapped. What happens to an access depends on
 * the policy of the BAR range it hits (PCIEM_IOC_SET_POLICY; a BAR starts all
 * POSTED):
 *   MEMORY  reads and writes are answered from the BAR shadow, no event;
 *   POSTED  reads come from the shadow; a write lands in the shadow and queues a
 *           PCIEM_EVENT_MMIO_WRITE; the driver goes on;
 *   SYNC    a read queues PCIEM_EVENT_MMIO_READ and waits for the host's answer;
 *           a write lands in the shadow, queues PCIEM_EVENT_MMIO_WRITE with
 *           PCIEM_EVENT_F_SYNC and waits for the host's acknowledgement.
 * A wait lasts at most the device's sync timeout; past it a read returns all-ones
 * (a PCIe completion timeout) and the counters say so.
 */
enum pciem_policy {
	PCIEM_POLICY_MEMORY = 0,
	PCIEM_POLICY_POSTED = 1,
	PCIEM_POLICY_SYNC = 2,
};

/* PCIEM_IOC_SET_POLICY: set the policy of [offset, offset + length) of a BAR. */
struct pciem_policy_desc {
	__u32 size;		/* sizeof(struct pciem_policy_desc) */
	__u8 bar;		/* BAR index (the lower one of a 64-bit BAR) */
	__u8 policy;		/* PCIEM_POLICY_* */
	__u16 reserved0;	/* zero */
	__u64 offset;		/* 4-byte aligned, inside the BAR */
	__u64 length;		/* multiple of 4, > 0, inside the BAR */
	__u32 reserved[4];	/* zero */
};

/* PCIEM_IOC_SET_SYNC_TIMEOUT: change the sync deadline while the device runs. */
struct pciem_sync_timeout {
	__u32 size;		/* sizeof(struct pciem_sync_timeout) */
	__u32 timeout_us;	/* 1..10000000 */
	__u32 reserved[2];	/* zero */
};

/*
 * The event ring: one per device, created at PCIEM_IOC_CREATE, mapped by the
 * host at PCIEM_MMAP_RING_INDEX << PCIEM_MMAP_BAR_SHIFT (read-write). It starts
 * with struct pciem_ring_ctrl, then the answer slots, then the events. The
 * module produces (tail), the host consumes (head). Lossless and ordered: when
 * full, the producer waits for room (bounded by the sync timeout; if it still
 * has no room the access fails like a timed-out read and is counted).
 */
enum pciem_ring_abi {
	PCIEM_MMAP_RING_INDEX = 6,
	PCIEM_RING_DEFAULT_ENTRIES = 4096,
	PCIEM_SYNC_DEFAULT_TIMEOUT_US = 100000,	/* unless pciem.sync_timeout_default_us says */
};

enum pciem_event_kind {
	PCIEM_EVENT_MMIO_WRITE = 1,	/* value written; see PCIEM_EVENT_F_SYNC */
	PCIEM_EVENT_MMIO_READ = 2,	/* sync read: answer it in answers[answer] */
	PCIEM_EVENT_CFG_WRITE = 3,	/* the OS wrote config space (value as written) */
};

enum pciem_event_flags {
	PCIEM_EVENT_F_SYNC = 1 << 0,	/* the accessing CPU waits for answers[answer] */
};

struct pciem_event {
	__u64 seq;		/* 1, 2, 3, ... per device; never skips */
	__u64 value;		/* the value written (zero-extended) */
	__u32 offset;		/* BAR-relative (config offset for CFG_WRITE) */
	__u8 kind;		/* PCIEM_EVENT_* */
	__u8 bar;		/* BAR index; 0xff for CFG_WRITE */
	__u8 width;		/* 1, 2, 4 or 8 */
	__u8 func;		/* function number, 0 */
	__u16 flags;		/* PCIEM_EVENT_F_* */
	__u16 answer;		/* answer slot, when PCIEM_EVENT_F_SYNC or a read */
	__u32 reserved;
};

/*
 * Answering a sync access: write value, then store the event's seq into the
 * slot's seq with release ordering. A late answer (seq no longer awaited) is
 * ignored.
 */
struct pciem_answer {
	__u64 seq;
	__u64 value;
};

struct pciem_ring_ctrl {
	/* Set by the module; read-only for the host. */
	__u32 entries;		/* power of two */
	__u32 event_size;	/* sizeof(struct pciem_event) */
	__u32 answers_offset;	/* byte offset of answers[0] in the mapping */
	__u32 answer_slots;	/* number of answer slots */
	__u32 events_offset;	/* byte offset of events[0] in the mapping */
	__u32 map_size;		/* bytes to mmap */
	__u32 reserved0[10];
	/* Producer line: written by the module. */
	__u64 tail;		/* seq of the newest published event */
	__u64 reserved1[7];
	/* Consumer line: written by the host. */
	__u64 head;		/* seq of the newest event the host has taken */
	__u32 host_sleeping;	/* host sets 1 before blocking on its eventfd */
	__u32 reserved2[13];
};

/* PCIEM_IOC_SET_EVENTFD: eventfd signalled when events arrive while host_sleeping. */
struct pciem_eventfd {
	__u32 size;		/* sizeof(struct pciem_eventfd) */
	__s32 fd;		/* eventfd, or -1 to detach */
	__u32 reserved[2];	/* zero */
};

/*
 * PCIEM_IOC_IRQ: raise vector n the way the driver set the device up (MSI-X
 * if enabled, else MSI), honouring masks (a masked vector becomes pending and
 * is delivered on unmask), or drive INTx (level: assert, deassert; gated by
 * Command.INTx Disable and reflected in Status.Interrupt Status).
 * Returns 0 when delivered, 1 when left pending, -ENOTCONN when the driver has
 * not enabled that kind of interrupt, -EINVAL for a vector out of range.
 */
enum pciem_irq_op {
	PCIEM_IRQ_RAISE = 1,
	PCIEM_IRQ_INTX_ASSERT = 2,
	PCIEM_IRQ_INTX_DEASSERT = 3,
};

struct pciem_irq {
	__u32 size;		/* sizeof(struct pciem_irq) */
	__u32 op;		/* PCIEM_IRQ_* */
	__u32 vector;		/* for RAISE */
	__u32 reserved[1];	/* zero */
};

/* PCIEM_IOC_IRQFD: each write to the eventfd raises the vector (RAISE semantics). */
enum pciem_irqfd_flags {
	PCIEM_IRQFD_DEASSIGN = 1 << 0,
};

struct pciem_irqfd {
	__u32 size;		/* sizeof(struct pciem_irqfd) */
	__s32 fd;		/* eventfd */
	__u32 vector;
	__u32 flags;		/* PCIEM_IRQFD_* */
	__u32 reserved[4];	/* zero */
};

/*
 * PCIEM_IOC_DMA: copy between host memory at bus addresses the driver gave
 * the device and the caller's buffers, as a scatter-gather list. Translated
 * through the device's IOMMU domain when it has one; refused while Bus Master
 * Enable is off (-EPERM) and for addresses that are not RAM (-ENXIO).
 */
enum pciem_dma_dir {
	PCIEM_DMA_FROM_HOST = 1,	/* device reads host memory into user buffers */
	PCIEM_DMA_TO_HOST = 2,		/* device writes user buffers into host memory */
};

enum pciem_dma_abi {
	PCIEM_DMA_MAX_SEGS = 1024,
};

struct pciem_dma_seg {
	__u64 bus_addr;		/* device-side address */
	__u64 user_addr;	/* user pointer */
	__u64 length;		/* bytes */
};

struct pciem_dma {
	__u32 size;		/* sizeof(struct pciem_dma) */
	__u32 dir;		/* PCIEM_DMA_* */
	__u32 nsegs;		/* 1..PCIEM_DMA_MAX_SEGS */
	__u32 reserved0;	/* zero */
	__u64 segs;		/* user pointer to struct pciem_dma_seg[nsegs] */
	__u64 done;		/* out: bytes copied before success or the error */
	__u32 reserved[4];	/* zero */
};

/* PCIEM_IOC_COUNTERS: the device's counters since CREATE. */
struct pciem_counters {
	__u32 size;		/* sizeof(struct pciem_counters) */
	__u32 reserved0;
	__u64 trap_reads;	/* trapped loads, every policy */
	__u64 trap_writes;	/* trapped stores, every policy */
	__u64 memory_accesses;	/* answered from the shadow with no event */
	__u64 events;		/* events published */
	__u64 sync_roundtrips;	/* sync accesses answered in time */
	__u64 sync_timeouts;	/* sync accesses that hit the deadline */
	__u64 undecodable;	/* instructions the decoder refused */
	__u64 ring_full_waits;	/* producers that found the ring full */
	__u64 irqs_delivered;
	__u64 irqs_pended;	/* raised while masked */
	__u64 dma_bytes_from_host;
	__u64 dma_bytes_to_host;
	__u64 dma_errors;
	__u64 reserved[11];
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
#define PCIEM_IOC_SET_POLICY	_IOW(PCIEM_IOC_MAGIC, 0x0a, struct pciem_policy_desc)
#define PCIEM_IOC_SET_SYNC_TIMEOUT _IOW(PCIEM_IOC_MAGIC, 0x0b, struct pciem_sync_timeout)
#define PCIEM_IOC_SET_EVENTFD	_IOW(PCIEM_IOC_MAGIC, 0x0c, struct pciem_eventfd)
#define PCIEM_IOC_IRQ		_IOW(PCIEM_IOC_MAGIC, 0x0d, struct pciem_irq)
#define PCIEM_IOC_IRQFD		_IOW(PCIEM_IOC_MAGIC, 0x0e, struct pciem_irqfd)
#define PCIEM_IOC_DMA		_IOWR(PCIEM_IOC_MAGIC, 0x0f, struct pciem_dma)
#define PCIEM_IOC_COUNTERS	_IOWR(PCIEM_IOC_MAGIC, 0x10, struct pciem_counters)

#endif /* _UAPI_PCIEM_H */
