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
};
