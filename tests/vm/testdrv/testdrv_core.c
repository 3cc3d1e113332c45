// SPDX-License-Identifier: GPL-2.0-only
/*
 * pciem_testdrv core (the module is pciem_testdrv.ko): binds (new_id or driver_override only) to a pciem test
 * device, maps its BARs and performs MMIO from kernel code on request, through
 * debugfs files under /sys/kernel/debug/pciem_testdrv/<pci name>/:
 *   map  write "BAR VARIANT [OFFSET LENGTH]": remap BAR with pci_iomap,
 *        ioremap, ioremap_wc, ioremap_uc, ioremap_cache or devm (devm_ioremap),
 *        optionally only part of it; read: one line per mapped BAR
 *   io   write one command, read its result (one line; "error -N" on failure):
 *          rB|rW|rL|rQ BAR OFF [COUNT]   readb..readq COUNT times (default 1):
 *                                        the values, hex, space-separated
 *          wB|wW|wL|wQ BAR OFF VALUE     writeb..writeq: "ok"
 *          fromio BAR OFF LEN            memcpy_fromio of LEN (<= 4096) bytes:
 *                                        the bytes as hex
 *          toio BAR OFF LEN SEED         memcpy_toio of bytes (SEED + i) & 0xff
 *          memset BAR OFF LEN BYTE       memset_io: "ok"
 *          addr BAR OFF                  `add (mem), reg` (undecodable): the sum
 *          addm BAR OFF                  `add $1, (mem)` (undecodable): "ok"
 * Numbers are hex (0x optional). OFF is relative to the BAR, whatever part
 * of it is mapped.
 */
#include <linux/debugfs.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "testdrv.h"

#define TESTDRV_RESULT_MAX	(2 * 4096 + 64)
#define TESTDRV_CMD_MAX		128

struct testdrv_core {
	struct testdrv td;
	struct mutex lock;		/* mappings, result */
	resource_size_t map_off[TESTDRV_NUM_BARS];
	resource_size_t map_len[TESTDRV_NUM_BARS];
	const char *map_kind[TESTDRV_NUM_BARS];
	bool map_devm[TESTDRV_NUM_BARS];
	bool map_iomap[TESTDRV_NUM_BARS];
	char *result;
	u8 *buf;			/* 4096 bytes for string ops */
};

static struct dentry *testdrv_root;

static struct testdrv_core *to_core(struct testdrv *td)
{
	return container_of(td, struct testdrv_core, td);
}

/* The irq and dma parts are optional: these stand in when they are absent. */
int __weak testdrv_irq_probe(struct testdrv *td)
{
	return 0;
}

void __weak testdrv_irq_remove(struct testdrv *td)
{
}

int __weak testdrv_dma_probe(struct testdrv *td)
{
	return 0;
}

void __weak testdrv_dma_remove(struct testdrv *td)
{
}

/* ---- mappings ------------------------------------------------------------ */

static void testdrv_unmap(struct testdrv_core *c, int bar)
{
	struct testdrv *td = &c->td;

	if (!td->bar[bar])
		return;
	if (c->map_iomap[bar])
		pci_iounmap(td->pdev, td->bar[bar]);
	else if (c->map_devm[bar])
		devm_iounmap(&td->pdev->dev, td->bar[bar]);
	else
		iounmap(td->bar[bar]);
	td->bar[bar] = NULL;
	c->map_len[bar] = 0;
}

static int testdrv_map(struct testdrv_core *c, int bar, const char *kind,
		       resource_size_t off, resource_size_t len)
{
	struct testdrv *td = &c->td;
	resource_size_t start = pci_resource_start(td->pdev, bar) + off;
	void __iomem *p;

	if (!td->bar_len[bar] || off >= td->bar_len[bar] || !len ||
	    len > td->bar_len[bar] - off)
		return -EINVAL;
	testdrv_unmap(c, bar);
	c->map_iomap[bar] = false;
	c->map_devm[bar] = false;
	if (!strcmp(kind, "pci_iomap")) {
		p = off ? NULL : pci_iomap(td->pdev, bar, len);
		c->map_iomap[bar] = true;
	} else if (!strcmp(kind, "ioremap")) {
		p = ioremap(start, len);
	} else if (!strcmp(kind, "ioremap_wc")) {
		p = ioremap_wc(start, len);
	} else if (!strcmp(kind, "ioremap_uc")) {
		p = ioremap_uc(start, len);
	} else if (!strcmp(kind, "ioremap_cache")) {
		p = ioremap_cache(start, len);
	} else if (!strcmp(kind, "devm")) {
		p = devm_ioremap(&td->pdev->dev, start, len);
		c->map_devm[bar] = true;
	} else {
		return -EINVAL;
	}
	if (!p)
		return -ENOMEM;
	td->bar[bar] = p;
	c->map_off[bar] = off;
	c->map_len[bar] = len;
	c->map_kind[bar] = kind;
	return 0;
}

/* The mapped address of [off, off + len) of bar, or NULL. */
static void __iomem *testdrv_addr(struct testdrv_core *c, unsigned int bar,
				  u64 off, u64 len)
{
	if (bar >= TESTDRV_NUM_BARS || !c->td.bar[bar] || off < c->map_off[bar] ||
	    off - c->map_off[bar] > c->map_len[bar] ||
	    len > c->map_len[bar] - (off - c->map_off[bar]))
		return NULL;
	return c->td.bar[bar] + (off - c->map_off[bar]);
}

static const char *const testdrv_kinds[] = {
	"pci_iomap", "ioremap", "ioremap_wc", "ioremap_uc", "ioremap_cache", "devm",
};

static ssize_t testdrv_map_write(struct file *f, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	struct testdrv_core *c = file_inode(f)->i_private;
	char cmd[TESTDRV_CMD_MAX], kind[16];
	unsigned long long off = 0, mlen = 0;
	unsigned int bar, i;
	int n, ret = -EINVAL;

	if (len >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	cmd[len] = 0;
	n = sscanf(cmd, "%u %15s %llx %llx", &bar, kind, &off, &mlen);
	if (n != 2 && n != 4)
		return -EINVAL;
	if (bar >= TESTDRV_NUM_BARS)
		return -EINVAL;
	mutex_lock(&c->lock);
	if (n == 2)
		mlen = c->td.bar_len[bar];
	for (i = 0; i < ARRAY_SIZE(testdrv_kinds); i++)
		if (!strcmp(kind, testdrv_kinds[i]))
			ret = testdrv_map(c, bar, testdrv_kinds[i], off, mlen);
	mutex_unlock(&c->lock);
	return ret ? ret : len;
}

static ssize_t testdrv_map_read(struct file *f, char __user *ubuf, size_t len,
				loff_t *ppos)
{
	struct testdrv_core *c = file_inode(f)->i_private;
	char out[512];
	int i, n = 0;

	mutex_lock(&c->lock);
	for (i = 0; i < TESTDRV_NUM_BARS; i++)
		if (c->td.bar[i])
			n += scnprintf(out + n, sizeof(out) - n, "%d %s %#llx %#llx\n",
				       i, c->map_kind[i], (u64)c->map_off[i],
				       (u64)c->map_len[i]);
	mutex_unlock(&c->lock);
	return simple_read_from_buffer(ubuf, len, ppos, out, n);
}

static const struct file_operations testdrv_map_fops = {
	.owner = THIS_MODULE,
	.write = testdrv_map_write,
	.read = testdrv_map_read,
	.llseek = default_llseek,
};

/* ---- io ------------------------------------------------------------------- */

static u64 testdrv_read(void __iomem *p, unsigned int w)
{
	switch (w) {
	case 1:
		return readb(p);
	case 2:
		return readw(p);
	case 4:
		return readl(p);
	default:
		return readq(p);
	}
}

static void testdrv_write(void __iomem *p, unsigned int w, u64 v)
{
	switch (w) {
	case 1:
		writeb(v, p);
		break;
	case 2:
		writew(v, p);
		break;
	case 4:
		writel(v, p);
		break;
	default:
		writeq(v, p);
		break;
	}
}

static int testdrv_width(char c)
{
	switch (c) {
	case 'B': return 1;
	case 'W': return 2;
	case 'L': return 4;
	case 'Q': return 8;
	default: return 0;
	}
}

/* Runs one command; c->result gets its answer. */
static int testdrv_io(struct testdrv_core *c, const char *cmd)
{
	unsigned long long off, a3 = 0, a4 = 0;
	char op[16], *r = c->result;
	unsigned int bar, w, i;
	void __iomem *p;
	int n;

	n = sscanf(cmd, "%15s %u %llx %llx %llx", op, &bar, &off, &a3, &a4);
	if (n < 3)
		return -EINVAL;
	r[0] = 0;
	if (op[0] == 'r' && testdrv_width(op[1]) && !op[2]) {
		unsigned long long count = n >= 4 ? a3 : 1;
		int len = 0;

		w = testdrv_width(op[1]);
		p = testdrv_addr(c, bar, off, w);
		if (!p || !count || count > 256)
			return -EINVAL;
		for (i = 0; i < count; i++)
			len += scnprintf(r + len, TESTDRV_RESULT_MAX - len, "%s%#llx",
					 i ? " " : "", testdrv_read(p, w));
		return 0;
	}
	if (op[0] == 'w' && testdrv_width(op[1]) && !op[2] && n == 4) {
		w = testdrv_width(op[1]);
		p = testdrv_addr(c, bar, off, w);
		if (!p)
			return -EINVAL;
		testdrv_write(p, w, a3);
		strcpy(r, "ok");
		return 0;
	}
	if (!strcmp(op, "fromio") && n == 4) {
		p = testdrv_addr(c, bar, off, a3);
		if (!p || !a3 || a3 > 4096)
			return -EINVAL;
		memset(c->buf, 0, 4096);
		memcpy_fromio(c->buf, p, a3);
		bin2hex(r, c->buf, a3);
		r[2 * a3] = 0;
		return 0;
	}
	if (!strcmp(op, "toio") && n == 5) {
		p = testdrv_addr(c, bar, off, a3);
		if (!p || !a3 || a3 > 4096)
			return -EINVAL;
		for (i = 0; i < a3; i++)
			c->buf[i] = (a4 + i) & 0xff;
		memcpy_toio(p, c->buf, a3);
		strcpy(r, "ok");
		return 0;
	}
	if (!strcmp(op, "memset") && n == 5) {
		p = testdrv_addr(c, bar, off, a3);
		if (!p || !a3)
			return -EINVAL;
		memset_io(p, a4 & 0xff, a3);
		strcpy(r, "ok");
		return 0;
	}
	if (!strcmp(op, "addr") && n == 3) {
		u32 v = 1;

		p = testdrv_addr(c, bar, off, 4);
		if (!p)
			return -EINVAL;
		/* An instruction the trap decoder does not emulate, on purpose. */
		asm volatile("addl %1, %0" : "+r"(v) : "m"(*(u32 __force *)p));
		sprintf(r, "%#x", v);
		return 0;
	}
	if (!strcmp(op, "addm") && n == 3) {
		p = testdrv_addr(c, bar, off, 4);
		if (!p)
			return -EINVAL;
		asm volatile("addl $1, %0" : "+m"(*(u32 __force *)p));
		strcpy(r, "ok");
		return 0;
	}
	return -EINVAL;
}

static ssize_t testdrv_io_write(struct file *f, const char __user *ubuf,
				size_t len, loff_t *ppos)
{
	struct testdrv_core *c = file_inode(f)->i_private;
	char cmd[TESTDRV_CMD_MAX];
	int ret;

	if (len >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	cmd[len] = 0;
	mutex_lock(&c->lock);
	ret = testdrv_io(c, cmd);
	if (ret)
		snprintf(c->result, TESTDRV_RESULT_MAX, "error %d", ret);
	mutex_unlock(&c->lock);
	return ret ? ret : len;
}

static ssize_t testdrv_io_read(struct file *f, char __user *ubuf, size_t len,
			       loff_t *ppos)
{
	struct testdrv_core *c = file_inode(f)->i_private;
	ssize_t ret;
	size_t n;

	mutex_lock(&c->lock);
	n = strlen(c->result);
	c->result[n] = '\n';
	ret = simple_read_from_buffer(ubuf, len, ppos, c->result, n + 1);
	c->result[n] = 0;
	mutex_unlock(&c->lock);
	return ret;
}

static const struct file_operations testdrv_io_fops = {
	.owner = THIS_MODULE,
	.write = testdrv_io_write,
	.read = testdrv_io_read,
	.llseek = default_llseek,
};

/* ---- probe / remove ---------------------------------------------------------- */

static int testdrv_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct testdrv_core *c;
	struct testdrv *td;
	int ret, i;

	c = devm_kzalloc(&pdev->dev, sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	c->result = devm_kzalloc(&pdev->dev, TESTDRV_RESULT_MAX, GFP_KERNEL);
	c->buf = devm_kzalloc(&pdev->dev, 4096, GFP_KERNEL);
	if (!c->result || !c->buf)
		return -ENOMEM;
	mutex_init(&c->lock);
	td = &c->td;
	td->pdev = pdev;
	pci_set_drvdata(pdev, c);

	ret = pci_enable_device_mem(pdev);
	if (ret)
		return ret;
	ret = pci_request_mem_regions(pdev, TESTDRV_NAME);
	if (ret)
		goto err_disable;
	pci_set_master(pdev);
	for (i = 0; i < TESTDRV_NUM_BARS; i++) {
		if (!(pci_resource_flags(pdev, i) & IORESOURCE_MEM) ||
		    !pci_resource_len(pdev, i))
			continue;
		td->bar_len[i] = pci_resource_len(pdev, i);
		ret = testdrv_map(c, i, "pci_iomap", 0, td->bar_len[i]);
		if (ret)
			goto err_unmap;
	}
	td->dir = debugfs_create_dir(pci_name(pdev), testdrv_root);
	debugfs_create_file("map", 0600, td->dir, c, &testdrv_map_fops);
	debugfs_create_file("io", 0600, td->dir, c, &testdrv_io_fops);

	ret = testdrv_irq_probe(td);
	if (ret)
		goto err_debugfs;
	ret = testdrv_dma_probe(td);
	if (ret)
		goto err_irq;
	dev_info(&pdev->dev, "pciem_testdrv bound\n");
	return 0;

err_irq:
	testdrv_irq_remove(td);
err_debugfs:
	debugfs_remove_recursive(td->dir);
err_unmap:
	for (i = 0; i < TESTDRV_NUM_BARS; i++)
		testdrv_unmap(c, i);
	pci_release_mem_regions(pdev);
err_disable:
	pci_disable_device(pdev);
	return ret;
}

static void testdrv_remove(struct pci_dev *pdev)
{
	struct testdrv_core *c = pci_get_drvdata(pdev);
	struct testdrv *td = &c->td;
	int i;

	testdrv_dma_remove(td);
	testdrv_irq_remove(td);
	/* debugfs first: it waits for a request in flight, and no new one starts. */
	debugfs_remove_recursive(td->dir);
	/* Tests that remove the device mid-request read the outcome here. */
	dev_info(&pdev->dev, "pciem_testdrv removed; last io result: %.64s\n", c->result);
	for (i = 0; i < TESTDRV_NUM_BARS; i++)
		testdrv_unmap(c, i);
	pci_release_mem_regions(pdev);
	pci_disable_device(pdev);
}

/* No static IDs: bind with new_id or driver_override. */
static const struct pci_device_id testdrv_ids[] = {
	{ }
};
MODULE_DEVICE_TABLE(pci, testdrv_ids);

static struct pci_driver testdrv_driver = {
	.name = TESTDRV_NAME,
	.id_table = testdrv_ids,
	.probe = testdrv_probe,
	.remove = testdrv_remove,
};

static int __init testdrv_init(void)
{
	int ret;

	testdrv_root = debugfs_create_dir(TESTDRV_NAME, NULL);
	ret = pci_register_driver(&testdrv_driver);
	if (ret)
		debugfs_remove_recursive(testdrv_root);
	return ret;
}

static void __exit testdrv_exit(void)
{
	pci_unregister_driver(&testdrv_driver);
	debugfs_remove_recursive(testdrv_root);
}

module_init(testdrv_init);
module_exit(testdrv_exit);

MODULE_DESCRIPTION("pciem guest test driver: MMIO, interrupts and DMA from kernel code");
MODULE_LICENSE("GPL");
