/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Config space engine: builds a device's 4 KiB config space from its uapi
 * description and answers config reads and writes with PCI semantics.
 * Compiled into pciem.ko and into the pciem-lua host (sim backend, and the
 * host's dry run that turns a bad description into a precise message), so the
 * kernel and the simulator share one implementation. Freestanding: no locking,
 * no allocation; the caller serialises access to one struct pciem_cfg.
 */
#ifndef PCIEM_CFG_H
#define PCIEM_CFG_H

#include "pciem_cfg_types.h"	/* u8..u64, bool, errno values, string helpers */
#include "../include/uapi/pciem.h"

enum {
	PCIEM_CFG_ERR_LEN = 160,
	PCIEM_CFG_MAX_CAPS = 32,
};

/* One capability as placed in the chain. */
struct pciem_cfg_cap {
	u16 kind;		/* PCIEM_CAP_* */
	u16 offset;		/* where its header starts */
	u16 length;		/* bytes it occupies, header included */
};

/*
 * Who may change what (data/wmask/w1cmask/devmask per byte):
 * - The OS (pciem_cfg_write): Command (I/O, memory, bus master, parity, SERR#,
 *   INTx disable), Cache Line Size, Latency Timer, Interrupt Line, BAR address
 *   bits, PCIe Device/Link Control and Control 2 fields, PM PowerState and
 *   PME_En, MSI enable/MME/address/data/mask, MSI-X enable and function mask.
 *   RW1C: Status error bits, PCIe Device Status error bits, PM PME_Status.
 * - The device (pciem_cfg_dev_write): only state a real function reports
 *   itself: Status error bits and INTx Status; PCIe Device Status (error, aux
 *   power, transactions pending) and Link Status (speed, width, training, slot
 *   clock, DLL active); PM PME_Status; vendor and extended capability payloads.
 *   Everything else -- IDs, class, header type, subsystem IDs, Command, BARs,
 *   ROM, the capability pointers and headers, the control registers the OS
 *   programs, and the whole MSI and MSI-X capabilities -- belongs to the OS or
 *   the module. A device write may rewrite such bits only with their current
 *   value, so read-modify-write of a shared register works.
 * - Unimplemented bytes read 0 and ignore writes from both sides.
 */
struct pciem_cfg {
	u8 data[PCIEM_CFG_SIZE];	/* what the OS reads */
	u8 wmask[PCIEM_CFG_SIZE];	/* bits the OS may write */
	u8 w1cmask[PCIEM_CFG_SIZE];	/* bits the OS clears by writing 1 */
	u8 devmask[PCIEM_CFG_SIZE];	/* bits the device side may set (PCIEM_IOC_CFG_WRITE) */
	u64 bar_len[PCIEM_NUM_BARS];	/* 0 = absent; also set in a 64-bit BAR's upper slot */
	u32 bar_flags[PCIEM_NUM_BARS];	/* PCIEM_BAR_* of the BAR that starts here */
	struct pciem_cfg_cap caps[PCIEM_CFG_MAX_CAPS];
	u32 ncaps;
	u16 msi_off;		/* 0 if absent */
	u16 msix_off;		/* 0 if absent */
	u16 pcie_off;		/* 0 if absent */
	u16 pm_off;		/* 0 if absent */
	bool finished;		/* pciem_cfg_finish() succeeded; description frozen */
	char err[PCIEM_CFG_ERR_LEN];	/* last error, naming the field */
};

/*
 * Description phase. Each returns 0 or -errno (-EINVAL for a bad field,
 * -EBUSY/-EEXIST for conflicts, -ENOSPC when the chain is full) and, on error,
 * leaves cfg->err holding one line such as
 * "bar 2: length 0x3000 is not a power of two" and cfg unchanged otherwise.
 */
int pciem_cfg_init(struct pciem_cfg *cfg, const struct pciem_device_desc *desc);
int pciem_cfg_add_bar(struct pciem_cfg *cfg, const struct pciem_bar_desc *bar);
/* payload: the bytes raw.data points at (already copied in); NULL for typed caps */
int pciem_cfg_add_cap(struct pciem_cfg *cfg, const struct pciem_cap_desc *cap,
		      const void *payload);
/* Cross checks (MSI-X table/PBA inside existing BARs, no overlap), then freeze. */
int pciem_cfg_finish(struct pciem_cfg *cfg);

/*
 * Run time. The OS side applies write masks and RW1C; widths are 1, 2 or 4 and
 * offsets aligned; out-of-range or misaligned accesses read all-ones and drop
 * writes (the bus code rejects them before, this is the last line).
 */
u32 pciem_cfg_read(const struct pciem_cfg *cfg, u32 offset, u32 width);
void pciem_cfg_write(struct pciem_cfg *cfg, u32 offset, u32 width, u32 value);
/* Device side: returns -EPERM (cfg->err says which byte) for module-owned bytes. */
int pciem_cfg_dev_write(struct pciem_cfg *cfg, u32 offset, u32 width, u32 value);

/*
 * Helpers for the bus code: the BAR's current address as programmed by the OS
 * (0 for an absent BAR or the upper slot of a 64-bit one), and Command.
 */
u64 pciem_cfg_bar_addr(const struct pciem_cfg *cfg, u32 index);
u16 pciem_cfg_command(const struct pciem_cfg *cfg);

/*
 * MSI as the OS programmed it, for whoever delivers the interrupt (the sim
 * backend; the module's MSI code). pciem_cfg_msi_message: 0 with the address,
 * the data for @vector (low Multiple Message Enable bits replaced by the
 * vector) and its per-vector mask bit; -ENODEV when there is no MSI capability
 * or MSI is disabled; -EINVAL when @vector is not below the enabled count.
 * pciem_cfg_msi_set_pending: set or clear a Pending bit (they are read-only to
 * the OS and not writable with pciem_cfg_dev_write); -EINVAL without
 * per-vector masking or for a vector beyond the capable count.
 */
int pciem_cfg_msi_message(const struct pciem_cfg *cfg, u32 vector, u64 *addr, u32 *data,
			  bool *masked);
int pciem_cfg_msi_set_pending(struct pciem_cfg *cfg, u32 vector, bool pending);

/* True for the slot holding the upper dword of the 64-bit BAR below it. */
static inline bool pciem_cfg_bar_is_upper(const struct pciem_cfg *cfg, u32 index)
{
	return index > 0 && index < PCIEM_NUM_BARS &&
	       (cfg->bar_flags[index - 1] & PCIEM_BAR_MEM64);
}

#endif /* PCIEM_CFG_H */
