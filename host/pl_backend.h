/* SPDX-License-Identifier: MIT */
/*
 * Backends behind struct pl_dev: the kernel one (/dev/pciem) and the sim one
 * (in-process bus on the shared config space engine). Same ops, same errors.
 */
#ifndef PL_BACKEND_H
#define PL_BACKEND_H

#include <stdarg.h>
#include <stdint.h>
#include "pciem_ffi.h"

enum {
	PL_ERR_LEN = 512,
};

enum pl_dev_state {
	PL_DEV_NEW,		/* allocated, backend not opened */
	PL_DEV_OPEN,		/* backend opened, nothing described */
	PL_DEV_CREATED,		/* identity given, BARs and caps may be added */
	PL_DEV_REGISTERED,	/* on the bus, no driver yet */
	PL_DEV_STARTED,		/* drivers may bind */
};

struct pl_dev;

/*
 * Each op returns 0 or -errno and, on error, sets the device's error text
 * with pl_dev_error(). pl_ffi.c checks the lifecycle order before calling.
 */
struct pl_backend_ops {
	const char *name;
	int (*open)(struct pl_dev *dev);
	void (*close)(struct pl_dev *dev);
	int (*create)(struct pl_dev *dev, const struct pciem_device_desc *desc);
	int (*add_bar)(struct pl_dev *dev, const struct pciem_bar_desc *bar);
	int (*add_cap)(struct pl_dev *dev, const struct pciem_cap_desc *cap);
	int (*register_dev)(struct pl_dev *dev);
	int (*start)(struct pl_dev *dev);
	int (*stop)(struct pl_dev *dev);
	int (*info)(struct pl_dev *dev, struct pciem_device_info *info);
	int (*bar_map)(struct pl_dev *dev, uint32_t index, uint64_t len, void **ptr);
	void (*bar_unmap)(struct pl_dev *dev, uint32_t index, void *ptr, uint64_t len);
	int (*cfg_read)(struct pl_dev *dev, uint32_t off, uint32_t width, uint32_t *val);
	int (*cfg_write)(struct pl_dev *dev, uint32_t off, uint32_t width, uint32_t val);
	/* NULL when the backend has no OS side of its own (kernel) */
	int (*os_cfg_read)(struct pl_dev *dev, uint32_t off, uint32_t width, uint32_t *val);
	int (*os_cfg_write)(struct pl_dev *dev, uint32_t off, uint32_t width, uint32_t val);

	/*
	 * Issue 3: events, policies, interrupts, DMA, counters. A NULL op makes
	 * the pciem_ffi_* call fail with -EOPNOTSUPP. pl_ffi.c checks the state
	 * (created or later) and the obvious argument errors first; backends
	 * check fields the way the kernel does (same errno).
	 */
	/*
	 * Map the event ring (struct pciem_ring_ctrl, answers, events, laid out
	 * as the uapi says) read-write; *len = ctrl->map_size. Once per device.
	 */
	int (*ring_map)(struct pl_dev *dev, void **ptr, uint64_t *len);
	void (*ring_unmap)(struct pl_dev *dev, void *ptr, uint64_t len);
	/* Eventfd signalled when events arrive while ctrl->host_sleeping; -1 detaches. */
	int (*set_eventfd)(struct pl_dev *dev, int fd);
	int (*set_policy)(struct pl_dev *dev, const struct pciem_policy_desc *pol);
	int (*set_sync_timeout)(struct pl_dev *dev, uint32_t timeout_us);
	/* PCIEM_IRQ_*: 0 delivered, 1 left pending, -ENOTCONN, -EINVAL (as PCIEM_IOC_IRQ). */
	int (*irq)(struct pl_dev *dev, uint32_t op, uint32_t vector);
	/* Bind (flags 0) or unbind (PCIEM_IRQFD_DEASSIGN) eventfd @fd to @vector. */
	int (*irqfd)(struct pl_dev *dev, int fd, uint32_t vector, uint32_t flags);
	/* PCIEM_DMA_* over @nsegs segments; *done = bytes copied, also on error. */
	int (*dma)(struct pl_dev *dev, uint32_t dir, const struct pciem_dma_seg *segs,
		   uint32_t nsegs, uint64_t *done);
	int (*counters)(struct pl_dev *dev, struct pciem_counters *out);
	/*
	 * Optional: called by the host's event loop once per dispatch step
	 * (pl_loop.c), before it looks at the ring. The sim uses it to serve
	 * its irqfds; the kernel has no need (NULL).
	 */
	void (*step)(struct pl_dev *dev);
};

struct pl_dev {
	const struct pl_backend_ops *ops;
	void *priv;			/* backend state */
	enum pl_dev_state state;
	uint64_t bar_len[PCIEM_NUM_BARS];	/* described BARs, 0 if absent */
	void *bar_ptr[PCIEM_NUM_BARS];		/* host mappings, NULL until mapped */
	void *start_thread;			/* pciem_ffi_dev_start_async() in flight */
	void *ring_ptr;				/* event ring mapping, NULL until mapped */
	uint64_t ring_len;
	char err[PL_ERR_LEN];
};

extern const struct pl_backend_ops pl_kernel_ops;
extern const struct pl_backend_ops pl_sim_ops;
extern const struct pl_backend_ops pl_dry_ops;	/* sim engine, description check only */

/* Set the device's error text; returns @rc so callers can `return pl_dev_error(...)`. */
int pl_dev_error(struct pl_dev *dev, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * pl_kernel_abi_version - ask pciem.ko which ABI it speaks (for --version).
 * Return: 0 and *version, or -errno (-ENOENT when /dev/pciem is missing).
 */
int pl_kernel_abi_version(uint32_t *version);

#endif /* PL_BACKEND_H */
