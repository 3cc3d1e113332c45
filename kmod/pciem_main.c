// SPDX-License-Identifier: GPL-2.0-only
/*
 * pciem.ko entry points: module init/exit and the /dev/pciem misc device,
 * where each open fd owns one virtual device.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include "pciem.h"
#include "pciem_copy.h"

/*
 * Rejected requests log one line each. /dev/pciem is root-only, so the limit
 * only guards the log, and is generous enough for a test's burst of errors.
 */
DEFINE_RATELIMIT_STATE(pciem_log_rs, 5 * HZ, 100);

static int pciem_open(struct inode *inode, struct file *file)
{
	struct pciem_dev *dev;

	/* The node is 0600 root; a root process without the capability is refused too. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	dev = pciem_dev_alloc();
	if (!dev)
		return -ENOMEM;
	file->private_data = dev;
	return 0;
}

/* Last reference to the fd (close, exit, SIGKILL; mmaps hold the file too). */
static int pciem_release(struct inode *inode, struct file *file)
{
	pciem_dev_destroy(file->private_data);
	return 0;
}

static long pciem_unlocked_ioctl(struct file *file, unsigned int cmd,
				 unsigned long arg)
{
	return pciem_ioctl(file->private_data, cmd, arg);
}

static int pciem_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff >> (PCIEM_MMAP_BAR_SHIFT - PAGE_SHIFT) ==
	    PCIEM_MMAP_RING_INDEX)
		return pciem_mmio_ring_mmap(file->private_data, vma);
	return pciem_bar_mmap(file->private_data, vma);
}

static const struct file_operations pciem_fops = {
	.owner = THIS_MODULE,
	.open = pciem_open,
	.release = pciem_release,
	.unlocked_ioctl = pciem_unlocked_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = pciem_mmap,
	.llseek = noop_llseek,
};

static struct miscdevice pciem_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pciem",
	.fops = &pciem_fops,
	.mode = 0600,
};

static int __init pciem_init(void)
{
	int ret;

	pciem_copy_init();
	ret = pciem_mmio_init();
	if (ret)
		return ret;
	ret = pciem_bus_init();
	if (ret)
		goto err_mmio;
	ret = misc_register(&pciem_miscdev);
	if (ret) {
		pr_warn("cannot register /dev/pciem: %d\n", ret);
		goto err_bus;
	}
	return 0;

err_bus:
	pciem_bus_exit();
err_mmio:
	pciem_mmio_exit();
	return ret;
}

/* Open fds pin the module, so no device exists any more here. */
static void __exit pciem_exit(void)
{
	misc_deregister(&pciem_miscdev);
	pciem_bus_exit();
	pciem_mmio_exit();
}

module_init(pciem_init);
module_exit(pciem_exit);

MODULE_DESCRIPTION("Virtual PCIe devices on a root bus of their own, described from userspace");
MODULE_LICENSE("GPL");
