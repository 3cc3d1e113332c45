// SPDX-License-Identifier: MIT
/*
 * FFI entry points of the engine's runtime calls: access policies, sync
 * deadline, interrupts, irqfd eventfds, DMA and counters.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pl_backend.h"

/* Runtime calls need a created device and a backend that has the op. */
static int ready(struct pl_dev *dev, const void *op, const char *what)
{
	if (dev->state < PL_DEV_CREATED)
		return pl_dev_error(dev, -EINVAL, "%s: device not created yet", what);
	if (!op)
		return pl_dev_error(dev, -EOPNOTSUPP, "%s: the %s backend does not support it",
				    what, dev->ops->name);
	return 0;
}

int pciem_ffi_set_policy(struct pl_dev *dev, uint32_t bar, uint32_t policy,
			 uint64_t offset, uint64_t length)
{
	struct pciem_policy_desc pol = {
		.size = sizeof(pol), .bar = (uint8_t)bar, .policy = (uint8_t)policy,
		.offset = offset, .length = length,
	};
	int rc = ready(dev, dev->ops->set_policy, "set_policy");

	if (rc)
		return rc;
	if (bar >= PCIEM_NUM_BARS || !dev->bar_len[bar])
		return pl_dev_error(dev, -EINVAL, "set_policy: BAR %u is not described", bar);
	if (policy > PCIEM_POLICY_SYNC)
		return pl_dev_error(dev, -EINVAL, "set_policy: policy %u is not memory, posted or sync",
				    policy);
	if (offset % 4 || length % 4 || !length || offset >= dev->bar_len[bar] ||
	    length > dev->bar_len[bar] - offset)
		return pl_dev_error(dev, -EINVAL,
				    "set_policy: range 0x%llx+0x%llx of BAR %u (0x%llx bytes) is empty, "
				    "not 4-byte aligned or outside the BAR",
				    (unsigned long long)offset, (unsigned long long)length, bar,
				    (unsigned long long)dev->bar_len[bar]);
	return dev->ops->set_policy(dev, &pol);
}

int pciem_ffi_set_sync_timeout(struct pl_dev *dev, uint32_t timeout_us)
{
	int rc = ready(dev, dev->ops->set_sync_timeout, "set_sync_timeout");

	if (rc)
		return rc;
	if (timeout_us < 1 || timeout_us > 10000000)
		return pl_dev_error(dev, -EINVAL, "set_sync_timeout: %u us is not 1..10000000",
				    timeout_us);
	return dev->ops->set_sync_timeout(dev, timeout_us);
}

int pciem_ffi_irq(struct pl_dev *dev, uint32_t op, uint32_t vector)
{
	int rc = ready(dev, dev->ops->irq, "irq");

	if (rc)
		return rc;
	/* a driver already loaded probes inside START: its interrupts count */
	if (dev->state != PL_DEV_STARTED && !(dev->state == PL_DEV_REGISTERED && dev->start_thread))
		return pl_dev_error(dev, -EINVAL, "irq: device not started");
	if (op < PCIEM_IRQ_RAISE || op > PCIEM_IRQ_INTX_DEASSERT)
		return pl_dev_error(dev, -EINVAL, "irq: op %u is not raise, assert or deassert", op);
	return dev->ops->irq(dev, op, vector);
}

int pciem_ffi_irqfd(struct pl_dev *dev, int fd, uint32_t vector, uint32_t flags)
{
	int rc = ready(dev, dev->ops->irqfd, "irqfd");

	if (rc)
		return rc;
	if (fd < 0)
		return pl_dev_error(dev, -EBADF, "irqfd: fd %d is not an eventfd", fd);
	if (flags & ~(uint32_t)PCIEM_IRQFD_DEASSIGN)
		return pl_dev_error(dev, -EINVAL, "irqfd: unknown flags 0x%x", flags);
	return dev->ops->irqfd(dev, fd, vector, flags);
}

int pciem_ffi_dma(struct pl_dev *dev, uint32_t dir, const struct pciem_dma_seg *segs,
		  uint32_t nsegs, uint64_t *done)
{
	int rc;

	*done = 0;
	rc = ready(dev, dev->ops->dma, "dma");
	if (rc)
		return rc;
	if (dir != PCIEM_DMA_FROM_HOST && dir != PCIEM_DMA_TO_HOST)
		return pl_dev_error(dev, -EINVAL, "dma: direction %u is not from or to host", dir);
	if (!nsegs || nsegs > PCIEM_DMA_MAX_SEGS)
		return pl_dev_error(dev, -EINVAL, "dma: %u segments, must be 1..%d", nsegs,
				    PCIEM_DMA_MAX_SEGS);
	return dev->ops->dma(dev, dir, segs, nsegs, done);
}

static int dma_one(struct pl_dev *dev, uint32_t dir, uint64_t bus_addr, const void *buf,
		   uint64_t len, uint64_t *done)
{
	struct pciem_dma_seg seg = {
		.bus_addr = bus_addr, .user_addr = (uint64_t)(uintptr_t)buf, .length = len,
	};

	return pciem_ffi_dma(dev, dir, &seg, 1, done);
}

int pciem_ffi_dma_from_host(struct pl_dev *dev, uint64_t bus_addr, void *buf, uint64_t len,
			    uint64_t *done)
{
	return dma_one(dev, PCIEM_DMA_FROM_HOST, bus_addr, buf, len, done);
}

int pciem_ffi_dma_to_host(struct pl_dev *dev, uint64_t bus_addr, const void *buf, uint64_t len,
			  uint64_t *done)
{
	return dma_one(dev, PCIEM_DMA_TO_HOST, bus_addr, buf, len, done);
}

int pciem_ffi_counters(struct pl_dev *dev, struct pciem_counters *out)
{
	int rc = ready(dev, dev->ops->counters, "counters");

	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	return rc ? rc : dev->ops->counters(dev, out);
}

int pciem_ffi_eventfd_new(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

int pciem_ffi_eventfd_add(int fd, uint64_t n)
{
	ssize_t w = write(fd, &n, sizeof(n));

	if (w == (ssize_t)sizeof(n))
		return 0;
	return w < 0 ? -errno : -EIO;
}

void pciem_ffi_fd_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
