/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pciem.ko internal interfaces: the device object owned by one open fd of
 * /dev/pciem, the virtual root bus it is plugged into, and BAR shadow memory.
 */
#ifndef PCIEM_H
#define PCIEM_H

#include <linux/atomic.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/ratelimit.h>
#include <linux/printk.h>

#include "pciem_cfg.h"
#include "pciem_mmio.h"
#include "pciem_irq.h"
#include "pciem_dma.h"

struct pci_dev;
struct vm_area_struct;

/* Slot 0 stays empty, as on most root buses; devices sit at slots 1..31. */
enum {
	PCIEM_FIRST_SLOT = 1,
	PCIEM_NUM_SLOTS = 32,
};

/* Largest BAR whose shadow we back with kernel memory. */
#define PCIEM_BAR_SHADOW_MAX	(1ULL << 30)

struct pciem_bar {
	u64 len;		/* 0: absent, or upper half of a 64-bit BAR */
	u32 flags;		/* PCIEM_BAR_* */
	void *shadow;		/* vmalloc_user(len): zeroed, mmap-able */
};

/*
 * One virtual device. Lock order: lock (mutex) -> pci rescan/remove lock ->
 * bus slot lock (raw) -> cfg_lock (raw). pci_ops only take the raw locks, so
 * drivers probing or unbinding under the mutex never wait on it.
 */
struct pciem_dev {
	struct mutex lock;		/* serialises ioctls, mmap and lifecycle */
	enum pciem_state state;
	char name[PCIEM_NAME_LEN];	/* from CREATE, for log lines */

	raw_spinlock_t cfg_lock;	/* guards *cfg against pci_ops */
	struct pciem_cfg *cfg;		/* allocated at CREATE */
	struct pciem_cfg *cfg_image;	/* config space at REGISTER; STOP restores it */

	struct pciem_bar bars[PCIEM_NUM_BARS];

	/* While REGISTERED or STARTED: */
	unsigned int slot;		/* 0 when off the bus */
	struct pci_dev *pdev;		/* we hold a reference */

	struct pciem_mmio *mmio;	/* pciem_mmio.c: traps, policies, ring */
	struct pciem_irq_state *irq;	/* pciem_irq.c: MSI/MSI-X/INTx state */
	/* pciem_dma.c: counters */
	atomic64_t dma_bytes_from_host;
	atomic64_t dma_bytes_to_host;
	atomic64_t dma_errors;
};

/* Log lines for rejected requests: one line, naming the device and field. */
extern struct ratelimit_state pciem_log_rs;
#define pciem_log(dev, fmt, ...)					\
	do {								\
		if (__ratelimit(&pciem_log_rs))				\
			pr_info("%s: " fmt "\n", pciem_dev_label(dev),	\
				##__VA_ARGS__);				\
	} while (0)

/* pciem_dev.c: the device object and its state machine. */
struct pciem_dev *pciem_dev_alloc(void);
void pciem_dev_destroy(struct pciem_dev *dev);
const char *pciem_dev_label(const struct pciem_dev *dev);
int pciem_dev_create(struct pciem_dev *dev, const struct pciem_device_desc *desc);
int pciem_dev_add_bar(struct pciem_dev *dev, const struct pciem_bar_desc *desc);
int pciem_dev_add_cap(struct pciem_dev *dev, const struct pciem_cap_desc *desc,
		      const void *payload);
int pciem_dev_register(struct pciem_dev *dev);
int pciem_dev_start(struct pciem_dev *dev);
int pciem_dev_stop(struct pciem_dev *dev);
void pciem_dev_info(struct pciem_dev *dev, struct pciem_device_info *info);
int pciem_dev_cfg_read(struct pciem_dev *dev, u32 offset, u32 width, u32 *value);
int pciem_dev_cfg_write(struct pciem_dev *dev, u32 offset, u32 width, u32 value);

/* pciem_ioctl.c: decoding and validation of every ioctl. */
long pciem_ioctl(struct pciem_dev *dev, unsigned int cmd, unsigned long arg);

/* pciem_bar.c: shadow memory and its mmap. */
int pciem_bar_alloc(struct pciem_dev *dev, u32 index, u64 len, u32 flags);
void pciem_bar_free(struct pciem_dev *dev, u32 index);
int pciem_bar_mmap(struct pciem_dev *dev, struct vm_area_struct *vma);

/* pciem_bus.c: the virtual host bridge and its one root bus. */
int pciem_bus_init(void);
void pciem_bus_exit(void);
int pciem_bus_domain(void);
int pciem_bus_attach(struct pciem_dev *dev);
int pciem_bus_start(struct pciem_dev *dev);
void pciem_bus_detach(struct pciem_dev *dev);
/*
 * Route a memory request like the bus: the device whose enabled BAR (Command
 * Memory Space on) holds [addr, addr + width), with the BAR index and offset;
 * NULL when none does (master abort). Lock-free for slots (RCU: call with
 * interrupts or preemption off); the device stays valid until the grace period
 * after its slot was emptied (pciem_mmio_unregister waits for it).
 */
struct pciem_dev *pciem_bus_decode(u64 addr, u32 width, u32 *bar, u64 *offset);

#endif /* PCIEM_H */
