/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Trapped BAR accesses: per-range access policies, the lossless event ring
 * shared with the host, sync answers with a deadline, and the counters.
 */
#ifndef PCIEM_MMIO_H
#define PCIEM_MMIO_H

#include <linux/types.h>

struct pciem_dev;
struct pciem_device_desc;
struct vm_area_struct;

/* Module load and unload: the trap engine. */
int pciem_mmio_init(void);
void pciem_mmio_exit(void);

/*
 * pciem_bus_init: trap bus window `index` (0: 32-bit, 1: 64-bit) whole, before
 * the root bus exists; pciem_bus_exit (and its error path): untrap both,
 * after the root bus is gone and before the windows are released.
 */
int pciem_mmio_trap_window(unsigned int index, u64 start, u64 len);
void pciem_mmio_untrap_windows(void);

/* CREATE: allocate the ring (desc->ring_entries) and per-device state. */
int pciem_mmio_create(struct pciem_dev *dev, const struct pciem_device_desc *desc);
/* REGISTER: BAR addresses are assigned; trap them before any driver maps them. */
int pciem_mmio_register(struct pciem_dev *dev);
/* STOP: the device has left the bus; stop trapping its BARs. */
void pciem_mmio_unregister(struct pciem_dev *dev);
/* The fd is closing: from now on sync waits end at once (all-ones). */
void pciem_mmio_host_gone(struct pciem_dev *dev);
/* Last: free the ring and the state. */
void pciem_mmio_destroy(struct pciem_dev *dev);

/* mmap of offset PCIEM_MMAP_RING_INDEX << PCIEM_MMAP_BAR_SHIFT. */
int pciem_mmio_ring_mmap(struct pciem_dev *dev, struct vm_area_struct *vma);

/*
 * The OS wrote config space (called from pci_ops under raw spinlocks with
 * interrupts off, after the write was applied): queue a CFG_WRITE event.
 */
void pciem_mmio_cfg_written(struct pciem_dev *dev, u32 offset, u32 width, u32 value);

/* SET_POLICY, SET_SYNC_TIMEOUT, SET_EVENTFD, COUNTERS. */
long pciem_mmio_ioctl(struct pciem_dev *dev, unsigned int cmd, void __user *uarg);

#endif /* PCIEM_MMIO_H */
