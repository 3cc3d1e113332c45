// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/pciem ioctls: copy each request in, check every field the module
 * itself relies on (size, reserved, ranges), then hand it to the device
 * object. Nothing is copied to or from user memory while the device mutex
 * is held, so mmap (which holds mmap_lock and takes the mutex) cannot
 * deadlock against a faulting copy.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "pciem.h"

/* True when all n bytes at p are zero. */
static bool pciem_zero(const void *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

/*
 * Every struct starts with its size; the ioctl number encodes it too, so a
 * mismatch here means a caller that built the number and the struct apart.
 */
#define PCIEM_CHECK_SIZE(dev, what, s)					\
	({								\
		int __r = 0;						\
		if ((s)->size != sizeof(*(s))) {			\
			pciem_log(dev, "%s: size %u, expected %zu", what, \
				  (s)->size, sizeof(*(s)));		\
			__r = -EINVAL;					\
		}							\
		__r;							\
	})

#define PCIEM_CHECK_ZERO(dev, what, s, field)				\
	({								\
		int __r = 0;						\
		if (!pciem_zero(&(s)->field, sizeof((s)->field))) {	\
			pciem_log(dev, "%s: %s must be zero", what, #field); \
			__r = -EINVAL;					\
		}							\
		__r;							\
	})

static long pciem_ioc_version(struct pciem_dev *dev, void __user *uarg)
{
	struct pciem_version v;

	if (copy_from_user(&v, uarg, sizeof(v)))
		return -EFAULT;
	if (PCIEM_CHECK_SIZE(dev, "version", &v) ||
	    PCIEM_CHECK_ZERO(dev, "version", &v, reserved))
		return -EINVAL;
	v.version = PCIEM_UAPI_VERSION;
	return copy_to_user(uarg, &v, sizeof(v)) ? -EFAULT : 0;
}

/* The name ends up in log lines: NUL-terminated, [A-Za-z0-9_.-]+. */
static int pciem_check_name(struct pciem_dev *dev, const char *name, size_t len)
{
	size_t i, n = strnlen(name, len);

	if (n == 0 || n == len) {
		pciem_log(dev, "create: name is %s", n ? "not NUL-terminated" : "empty");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (isalnum(name[i]) || name[i] == '_' || name[i] == '.' ||
		    name[i] == '-')
			continue;
		pciem_log(dev, "create: name has character %#04x at %zu; allowed are A-Z a-z 0-9 _ . -",
			  (unsigned char)name[i], i);
		return -EINVAL;
	}
	return 0;
}

static long pciem_ioc_create(struct pciem_dev *dev, void __user *uarg)
{
	struct pciem_device_desc d;
	int ret;

	if (copy_from_user(&d, uarg, sizeof(d)))
		return -EFAULT;
	if (PCIEM_CHECK_SIZE(dev, "create", &d) ||
	    PCIEM_CHECK_ZERO(dev, "create", &d, flags) ||
	    PCIEM_CHECK_ZERO(dev, "create", &d, reserved0) ||
	    PCIEM_CHECK_ZERO(dev, "create", &d, reserved))
		return -EINVAL;
	ret = pciem_check_name(dev, d.name, sizeof(d.name));
	if (ret)
		return ret;
	/* IDs, class and intx_pin: pciem_cfg_init checks and names them. */
	return pciem_dev_create(dev, &d);
}

static long pciem_ioc_add_bar(struct pciem_dev *dev, void __user *uarg)
{
	struct pciem_bar_desc b;

	if (copy_from_user(&b, uarg, sizeof(b)))
		return -EFAULT;
	if (PCIEM_CHECK_SIZE(dev, "add_bar", &b) ||
	    PCIEM_CHECK_ZERO(dev, "add_bar", &b, reserved))
		return -EINVAL;
	if (b.index >= PCIEM_NUM_BARS) {
		pciem_log(dev, "add_bar: index %u is not 0..5", b.index);
		return -EINVAL;
	}
	if (b.flags & ~(u32)(PCIEM_BAR_MEM64 | PCIEM_BAR_PREFETCH)) {
		pciem_log(dev, "add_bar: bar %u: flags %#x has unknown bits",
			  b.index, b.flags);
		return -EINVAL;
	}
	if (b.length < PCIEM_BAR_MIN_SIZE || !is_power_of_2(b.length)) {
		pciem_log(dev, "add_bar: bar %u: length %#llx is not a power of two >= %#x",
			  b.index, b.length, PCIEM_BAR_MIN_SIZE);
		return -EINVAL;
	}
	if ((b.flags & PCIEM_BAR_MEM64) && b.index == PCIEM_NUM_BARS - 1) {
		pciem_log(dev, "add_bar: index 5: a 64-bit bar needs index + 1 too");
		return -EINVAL;
	}
	return pciem_dev_add_bar(dev, &b);
}

static long pciem_ioc_add_cap(struct pciem_dev *dev, void __user *uarg)
{
	struct pciem_cap_desc c;
	void *payload = NULL;
	int ret;

	if (copy_from_user(&c, uarg, sizeof(c)))
		return -EFAULT;
	if (PCIEM_CHECK_SIZE(dev, "add_cap", &c) ||
	    PCIEM_CHECK_ZERO(dev, "add_cap", &c, reserved))
		return -EINVAL;
	if (c.kind < PCIEM_CAP_PCIE || c.kind > PCIEM_CAP_EXT_RAW) {
		pciem_log(dev, "add_cap: kind %u is not 1..6", c.kind);
		return -EINVAL;
	}
	if (c.offset && (c.offset & 3 || c.offset < 0x40 ||
			 c.offset >= PCIEM_CFG_SIZE)) {
		pciem_log(dev, "add_cap: offset %#x is not 0 or a dword in 0x40..0xffc",
			  c.offset);
		return -EINVAL;
	}
	/* Only raw kinds carry a payload; cfg checks every typed field. */
	if (c.kind == PCIEM_CAP_VENDOR || c.kind == PCIEM_CAP_EXT_RAW) {
		if (c.u.raw.length > PCIEM_CAP_DATA_MAX) {
			pciem_log(dev, "add_cap: raw.length %u exceeds %u",
				  c.u.raw.length, PCIEM_CAP_DATA_MAX);
			return -EINVAL;
		}
		if (c.u.raw.length) {
			if (!c.u.raw.data) {
				pciem_log(dev, "add_cap: raw.data is NULL with raw.length %u",
					  c.u.raw.length);
				return -EFAULT;
			}
			payload = memdup_user(u64_to_user_ptr(c.u.raw.data),
					      c.u.raw.length);
			if (IS_ERR(payload)) {
				pciem_log(dev, "add_cap: raw.data: cannot read %u bytes",
					  c.u.raw.length);
				return PTR_ERR(payload);
			}
		}
	}
	ret = pciem_dev_add_cap(dev, &c, payload);
	kfree(payload);
	return ret;
}

static long pciem_ioc_info(struct pciem_dev *dev, void __user *uarg)
{
	struct pciem_device_info info;

	if (copy_from_user(&info, uarg, sizeof(info)))
		return -EFAULT;
	if (PCIEM_CHECK_SIZE(dev, "info", &info) ||
	    PCIEM_CHECK_ZERO(dev, "info", &info, reserved0) ||
	    PCIEM_CHECK_ZERO(dev, "info", &info, reserved))
		return -EINVAL;
	pciem_dev_info(dev, &info);
	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static int pciem_check_cfg_access(struct pciem_dev *dev, const char *what,
				  const struct pciem_cfg_access *a)
{
	if (PCIEM_CHECK_SIZE(dev, what, a) ||
	    PCIEM_CHECK_ZERO(dev, what, a, reserved0) ||
	    PCIEM_CHECK_ZERO(dev, what, a, reserved))
		return -EINVAL;
	if (a->width != 1 && a->width != 2 && a->width != 4) {
		pciem_log(dev, "%s: width %u is not 1, 2 or 4", what, a->width);
		return -EINVAL;
	}
	if (a->offset >= PCIEM_CFG_SIZE || a->offset % a->width) {
		pciem_log(dev, "%s: offset %#x is not below %#x and aligned to width %u",
			  what, a->offset, PCIEM_CFG_SIZE, a->width);
		return -EINVAL;
	}
	return 0;
}

static long pciem_ioc_cfg_read(struct pciem_dev *dev, void __user *uarg)
{
	struct pciem_cfg_access a;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	ret = pciem_check_cfg_access(dev, "cfg_read", &a);
	if (ret)
		return ret;
	ret = pciem_dev_cfg_read(dev, a.offset, a.width, &a.value);
	if (ret)
		return ret;
	return copy_to_user(uarg, &a, sizeof(a)) ? -EFAULT : 0;
}

static long pciem_ioc_cfg_write(struct pciem_dev *dev, void __user *uarg)
{
	struct pciem_cfg_access a;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	ret = pciem_check_cfg_access(dev, "cfg_write", &a);
	if (ret)
		return ret;
	if (a.width < 4 && a.value >> (8 * a.width)) {
		pciem_log(dev, "cfg_write: value %#x does not fit width %u",
			  a.value, a.width);
		return -EINVAL;
	}
	return pciem_dev_cfg_write(dev, a.offset, a.width, a.value);
}

long pciem_ioctl(struct pciem_dev *dev, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case PCIEM_IOC_VERSION:
		return pciem_ioc_version(dev, uarg);
	case PCIEM_IOC_CREATE:
		return pciem_ioc_create(dev, uarg);
	case PCIEM_IOC_ADD_BAR:
		return pciem_ioc_add_bar(dev, uarg);
	case PCIEM_IOC_ADD_CAP:
		return pciem_ioc_add_cap(dev, uarg);
	/* REGISTER, START and STOP take no argument; arg is ignored. */
	case PCIEM_IOC_REGISTER:
		return pciem_dev_register(dev);
	case PCIEM_IOC_START:
		return pciem_dev_start(dev);
	case PCIEM_IOC_STOP:
		return pciem_dev_stop(dev);
	case PCIEM_IOC_INFO:
		return pciem_ioc_info(dev, uarg);
	case PCIEM_IOC_CFG_READ:
		return pciem_ioc_cfg_read(dev, uarg);
	case PCIEM_IOC_CFG_WRITE:
		return pciem_ioc_cfg_write(dev, uarg);
	case PCIEM_IOC_SET_POLICY:
	case PCIEM_IOC_SET_SYNC_TIMEOUT:
	case PCIEM_IOC_SET_EVENTFD:
	case PCIEM_IOC_COUNTERS:
		return pciem_mmio_ioctl(dev, cmd, uarg);
	case PCIEM_IOC_IRQ:
	case PCIEM_IOC_IRQFD:
		return pciem_irq_ioctl(dev, cmd, uarg);
	case PCIEM_IOC_DMA:
		return pciem_dma_ioctl(dev, uarg);
	default:
		pciem_log(dev, "ioctl %#x is not a pciem request", cmd);
		return -ENOTTY;
	}
}
