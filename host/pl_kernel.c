// SPDX-License-Identifier: MIT
/*
 * Kernel backend: the device lives in pciem.ko, reached through the ioctls
 * of include/uapi/pciem.h on a /dev/pciem fd; BAR shadows are mmap()ed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pl_backend.h"

#define PL_DEV_NODE "/dev/pciem"

struct pl_kernel {
	int fd;
};

static int kfd(struct pl_dev *dev)
{
	return ((struct pl_kernel *)dev->priv)->fd;
}

/* Open /dev/pciem, or explain in one line why it cannot be used. */
static int open_node(char *err, size_t errlen)
{
	int fd = open(PL_DEV_NODE, O_RDWR | O_CLOEXEC);
	int e = errno;

	if (fd >= 0)
		return fd;
	if (e == ENOENT || e == ENXIO || e == ENODEV)
		snprintf(err, errlen, PL_DEV_NODE " not found: the pciem module is not loaded. "
			 "Load it as root with `insmod kmod/pciem.ko` (after `make`), "
			 "or run `make demo` to try everything in a QEMU guest; "
			 "--backend=sim runs the script without a kernel");
	else if (e == EACCES || e == EPERM)
		snprintf(err, errlen, PL_DEV_NODE ": %s: pciem-lua needs root (CAP_SYS_ADMIN) "
			 "for the kernel backend", strerror(e));
	else
		snprintf(err, errlen, PL_DEV_NODE ": %s", strerror(e));
	return -e;
}

/* An ioctl the kernel refused: errno text, which request, and where to look. */
static int kernel_refused(struct pl_dev *dev, const char *request)
{
	int e = errno;

	return pl_dev_error(dev, -e, "the kernel refused %s: %s (see dmesg)", request, strerror(e));
}

static int kernel_open(struct pl_dev *dev)
{
	struct pl_kernel *k;
	int fd;

	fd = open_node(dev->err, sizeof(dev->err));
	if (fd < 0)
		return fd;
	k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		return pl_dev_error(dev, -ENOMEM, "out of memory");
	}
	k->fd = fd;
	dev->priv = k;
	return 0;
}

static void kernel_close(struct pl_dev *dev)
{
	struct pl_kernel *k = dev->priv;

	if (!k)
		return;
	/* closing the fd removes whatever is left of the device in the kernel */
	close(k->fd);
	free(k);
	dev->priv = NULL;
}

static int kernel_create(struct pl_dev *dev, const struct pciem_device_desc *desc)
{
	if (ioctl(kfd(dev), PCIEM_IOC_CREATE, desc))
		return kernel_refused(dev, "PCIEM_IOC_CREATE");
	return 0;
}

static int kernel_add_bar(struct pl_dev *dev, const struct pciem_bar_desc *bar)
{
	if (ioctl(kfd(dev), PCIEM_IOC_ADD_BAR, bar))
		return kernel_refused(dev, "PCIEM_IOC_ADD_BAR");
	return 0;
}

static int kernel_add_cap(struct pl_dev *dev, const struct pciem_cap_desc *cap)
{
	if (ioctl(kfd(dev), PCIEM_IOC_ADD_CAP, cap))
		return kernel_refused(dev, "PCIEM_IOC_ADD_CAP");
	return 0;
}

static int kernel_register(struct pl_dev *dev)
{
	if (ioctl(kfd(dev), PCIEM_IOC_REGISTER))
		return kernel_refused(dev, "PCIEM_IOC_REGISTER");
	return 0;
}

static int kernel_start(struct pl_dev *dev)
{
	if (ioctl(kfd(dev), PCIEM_IOC_START))
		return kernel_refused(dev, "PCIEM_IOC_START");
	return 0;
}

static int kernel_stop(struct pl_dev *dev)
{
	if (ioctl(kfd(dev), PCIEM_IOC_STOP))
		return kernel_refused(dev, "PCIEM_IOC_STOP");
	return 0;
}

static int kernel_info(struct pl_dev *dev, struct pciem_device_info *info)
{
	if (ioctl(kfd(dev), PCIEM_IOC_INFO, info))
		return kernel_refused(dev, "PCIEM_IOC_INFO");
	return 0;
}

static int kernel_bar_map(struct pl_dev *dev, uint32_t index, uint64_t len, void **ptr)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, kfd(dev),
		       (off_t)((uint64_t)index << PCIEM_MMAP_BAR_SHIFT));

	if (p == MAP_FAILED)
		return kernel_refused(dev, "mmap of a BAR shadow");
	*ptr = p;
	return 0;
}

static void kernel_bar_unmap(struct pl_dev *dev, uint32_t index, void *ptr, uint64_t len)
{
	(void)dev;
	(void)index;
	munmap(ptr, len);
}

static int kernel_cfg_read(struct pl_dev *dev, uint32_t off, uint32_t width, uint32_t *val)
{
	struct pciem_cfg_access acc = {
		.size = sizeof(acc), .offset = (uint16_t)off, .width = (uint8_t)width,
	};

	if (ioctl(kfd(dev), PCIEM_IOC_CFG_READ, &acc))
		return kernel_refused(dev, "PCIEM_IOC_CFG_READ");
	*val = acc.value;
	return 0;
}

static int kernel_cfg_write(struct pl_dev *dev, uint32_t off, uint32_t width, uint32_t val)
{
	struct pciem_cfg_access acc = {
		.size = sizeof(acc), .offset = (uint16_t)off, .width = (uint8_t)width,
		.value = val,
	};

	if (ioctl(kfd(dev), PCIEM_IOC_CFG_WRITE, &acc))
		return kernel_refused(dev, "PCIEM_IOC_CFG_WRITE");
	return 0;
}

/* The ring's size is in its own control page: map that first, then the whole. */
static int kernel_ring_map(struct pl_dev *dev, void **ptr, uint64_t *len)
{
	off_t off = (off_t)((uint64_t)PCIEM_MMAP_RING_INDEX << PCIEM_MMAP_BAR_SHIFT);
	long page = sysconf(_SC_PAGESIZE);
	struct pciem_ring_ctrl *ctrl;
	uint64_t size;
	void *p;

	p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, kfd(dev), off);
	if (p == MAP_FAILED)
		return kernel_refused(dev, "mmap of the event ring");
	ctrl = p;
	size = ctrl->map_size;
	munmap(p, (size_t)page);
	if (size < sizeof(*ctrl))
		return pl_dev_error(dev, -EPROTO, "event ring: map_size %llu is too small",
				    (unsigned long long)size);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, kfd(dev), off);
	if (p == MAP_FAILED)
		return kernel_refused(dev, "mmap of the event ring");
	*ptr = p;
	*len = size;
	return 0;
}

static void kernel_ring_unmap(struct pl_dev *dev, void *ptr, uint64_t len)
{
	(void)dev;
	munmap(ptr, len);
}

static int kernel_set_eventfd(struct pl_dev *dev, int fd)
{
	struct pciem_eventfd e = { .size = sizeof(e), .fd = fd };

	if (ioctl(kfd(dev), PCIEM_IOC_SET_EVENTFD, &e))
		return kernel_refused(dev, "PCIEM_IOC_SET_EVENTFD");
	return 0;
}

static int kernel_set_policy(struct pl_dev *dev, const struct pciem_policy_desc *pol)
{
	if (ioctl(kfd(dev), PCIEM_IOC_SET_POLICY, pol))
		return kernel_refused(dev, "PCIEM_IOC_SET_POLICY");
	return 0;
}

static int kernel_set_sync_timeout(struct pl_dev *dev, uint32_t timeout_us)
{
	struct pciem_sync_timeout t = { .size = sizeof(t), .timeout_us = timeout_us };

	if (ioctl(kfd(dev), PCIEM_IOC_SET_SYNC_TIMEOUT, &t))
		return kernel_refused(dev, "PCIEM_IOC_SET_SYNC_TIMEOUT");
	return 0;
}

/* Not-enabled and out-of-range are answers the script handles, not failures to log. */
static int kernel_irq(struct pl_dev *dev, uint32_t op, uint32_t vector)
{
	struct pciem_irq req = { .size = sizeof(req), .op = op, .vector = vector };
	int rc = ioctl(kfd(dev), PCIEM_IOC_IRQ, &req);

	if (rc >= 0)
		return rc;
	if (errno == ENOTCONN)
		return pl_dev_error(dev, -ENOTCONN, "irq %u: the driver has not enabled that interrupt",
				    vector);
	if (errno == EINVAL)
		return pl_dev_error(dev, -EINVAL, "irq %u: no such vector", vector);
	return kernel_refused(dev, "PCIEM_IOC_IRQ");
}

static int kernel_irqfd(struct pl_dev *dev, int fd, uint32_t vector, uint32_t flags)
{
	struct pciem_irqfd req = {
		.size = sizeof(req), .fd = fd, .vector = vector, .flags = flags,
	};

	if (ioctl(kfd(dev), PCIEM_IOC_IRQFD, &req))
		return kernel_refused(dev, "PCIEM_IOC_IRQFD");
	return 0;
}

static int kernel_dma(struct pl_dev *dev, uint32_t dir, const struct pciem_dma_seg *segs,
		      uint32_t nsegs, uint64_t *done)
{
	struct pciem_dma req = {
		.size = sizeof(req), .dir = dir, .nsegs = nsegs,
		.segs = (uint64_t)(uintptr_t)segs,
	};
	int rc = ioctl(kfd(dev), PCIEM_IOC_DMA, &req);
	int e = errno;

	*done = req.done;
	if (!rc)
		return 0;
	if (e == EPERM)
		return pl_dev_error(dev, -EPERM, "dma: bus mastering is off (Command.Bus Master Enable)");
	if (e == ENXIO)
		return pl_dev_error(dev, -ENXIO, "dma: an address is not host RAM (%llu bytes done)",
				    (unsigned long long)req.done);
	errno = e;
	return kernel_refused(dev, "PCIEM_IOC_DMA");
}

static int kernel_counters(struct pl_dev *dev, struct pciem_counters *out)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	if (ioctl(kfd(dev), PCIEM_IOC_COUNTERS, out))
		return kernel_refused(dev, "PCIEM_IOC_COUNTERS");
	return 0;
}

int pl_kernel_abi_version(uint32_t *version)
{
	struct pciem_version v = { .size = sizeof(v) };
	char err[PL_ERR_LEN];
	int fd, rc = 0;

	fd = open_node(err, sizeof(err));
	if (fd < 0)
		return fd;
	if (ioctl(fd, PCIEM_IOC_VERSION, &v))
		rc = -errno;
	else
		*version = v.version;
	close(fd);
	return rc;
}

const struct pl_backend_ops pl_kernel_ops = {
	.name = "kernel",
	.open = kernel_open,
	.close = kernel_close,
	.create = kernel_create,
	.add_bar = kernel_add_bar,
	.add_cap = kernel_add_cap,
	.register_dev = kernel_register,
	.start = kernel_start,
	.stop = kernel_stop,
	.info = kernel_info,
	.bar_map = kernel_bar_map,
	.bar_unmap = kernel_bar_unmap,
	.cfg_read = kernel_cfg_read,
	.cfg_write = kernel_cfg_write,
	.ring_map = kernel_ring_map,
	.ring_unmap = kernel_ring_unmap,
	.set_eventfd = kernel_set_eventfd,
	.set_policy = kernel_set_policy,
	.set_sync_timeout = kernel_set_sync_timeout,
	.irq = kernel_irq,
	.irqfd = kernel_irqfd,
	.dma = kernel_dma,
	.counters = kernel_counters,
};
