// SPDX-License-Identifier: GPL-2.0-only
/*
 * pciem_testdrv, DMA part: buffers the device may reach (coherent and
 * streaming), filled with a seeded pattern and checked by CRC32, and a knob
 * for Bus Master Enable. Files under <dir>/dma/: see docs/dma.md.
 */
#include <linux/crc32.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "testdrv.h"

#define TESTDRV_DMA_MAX_BUFS 32

struct testdrv_dma_buf {
	bool used;
	bool coherent;		/* dma_alloc_coherent; else pages + dma_map_page */
	size_t size;
	void *cpu;
	struct page *pages;	/* streaming only */
	dma_addr_t bus;
};

struct testdrv_dma {
	struct testdrv *td;
	struct dentry *dir;	/* <td->dir>/dma */
	struct mutex lock;	/* bufs[], last, result */
	struct testdrv_dma_buf bufs[TESTDRV_DMA_MAX_BUFS];
	int last;		/* id of the newest buffer, -1 before any */
	char result[64];	/* answer of the last "crc" request */
};

static void testdrv_dma_free_buf(struct testdrv_dma *d, struct testdrv_dma_buf *b)
{
	struct device *dev = &d->td->pdev->dev;

	if (!b->used)
		return;
	if (b->coherent) {
		dma_free_coherent(dev, b->size, b->cpu, b->bus);
	} else {
		dma_unmap_page(dev, b->bus, b->size, DMA_BIDIRECTIONAL);
		__free_pages(b->pages, get_order(b->size));
	}
	memset(b, 0, sizeof(*b));
}

static int testdrv_dma_alloc_buf(struct testdrv_dma *d, bool coherent, size_t size)
{
	struct device *dev = &d->td->pdev->dev;
	struct testdrv_dma_buf *b = NULL;
	int id;

	if (!size || get_order(size) > MAX_ORDER - 1)
		return -EINVAL;
	for (id = 0; id < TESTDRV_DMA_MAX_BUFS; id++) {
		if (!d->bufs[id].used) {
			b = &d->bufs[id];
			break;
		}
	}
	if (!b)
		return -ENOSPC;
	if (coherent) {
		b->cpu = dma_alloc_coherent(dev, size, &b->bus, GFP_KERNEL);
		if (!b->cpu)
			return -ENOMEM;
	} else {
		b->pages = alloc_pages(GFP_KERNEL | __GFP_ZERO, get_order(size));
		if (!b->pages)
			return -ENOMEM;
		b->cpu = page_address(b->pages);
		b->bus = dma_map_page(dev, b->pages, 0, size, DMA_BIDIRECTIONAL);
		if (dma_mapping_error(dev, b->bus)) {
			__free_pages(b->pages, get_order(size));
			b->pages = NULL;
			return -EIO;
		}
	}
	b->used = true;
	b->coherent = coherent;
	b->size = size;
	d->last = id;
	return 0;
}

static struct testdrv_dma_buf *testdrv_dma_get(struct testdrv_dma *d, unsigned int id)
{
	if (id >= TESTDRV_DMA_MAX_BUFS || !d->bufs[id].used)
		return NULL;
	return &d->bufs[id];
}

/* The pattern: a xorshift32 stream from the seed, one byte per step. */
static void testdrv_dma_fill(u8 *p, size_t n, u32 seed)
{
	u32 x = seed ? seed : 0x9e3779b9;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (u8)x;
	}
}

/* Reads whole user writes into a NUL-terminated buffer for sscanf. */
static int testdrv_dma_input(const char __user *ubuf, size_t len, char *buf, size_t size)
{
	if (len >= size)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	return 0;
}

/*
 * alloc: write "coherent SIZE" or "stream SIZE"; read "ID BUS_ADDR SIZE KIND"
 * of the newest buffer.
 */
static ssize_t testdrv_dma_alloc_write(struct file *f, const char __user *ubuf,
				       size_t len, loff_t *ppos)
{
	struct testdrv_dma *d = f->private_data;
	char buf[64], kind[16];
	unsigned long size;
	int ret;

	ret = testdrv_dma_input(ubuf, len, buf, sizeof(buf));
	if (ret)
		return ret;
	if (sscanf(buf, "%15s %lu", kind, &size) != 2)
		return -EINVAL;
	if (strcmp(kind, "coherent") && strcmp(kind, "stream"))
		return -EINVAL;
	mutex_lock(&d->lock);
	ret = testdrv_dma_alloc_buf(d, !strcmp(kind, "coherent"), size);
	mutex_unlock(&d->lock);
	return ret ? ret : len;
}

static ssize_t testdrv_dma_alloc_read(struct file *f, char __user *ubuf,
				      size_t len, loff_t *ppos)
{
	struct testdrv_dma *d = f->private_data;
	struct testdrv_dma_buf *b;
	char buf[96];
	int n = 0;

	mutex_lock(&d->lock);
	b = d->last >= 0 ? testdrv_dma_get(d, d->last) : NULL;
	if (b)
		n = scnprintf(buf, sizeof(buf), "%d %#llx %zu %s\n", d->last,
			      (unsigned long long)b->bus, b->size,
			      b->coherent ? "coherent" : "stream");
	mutex_unlock(&d->lock);
	if (!n)
		return -ENOENT;
	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

/* free: write "ID". */
static ssize_t testdrv_dma_free_write(struct file *f, const char __user *ubuf,
				      size_t len, loff_t *ppos)
{
	struct testdrv_dma *d = f->private_data;
	struct testdrv_dma_buf *b;
	unsigned int id;
	char buf[32];
	int ret;

	ret = testdrv_dma_input(ubuf, len, buf, sizeof(buf));
	if (ret)
		return ret;
	if (kstrtouint(strim(buf), 0, &id))
		return -EINVAL;
	mutex_lock(&d->lock);
	b = testdrv_dma_get(d, id);
	if (b)
		testdrv_dma_free_buf(d, b);
	mutex_unlock(&d->lock);
	return b ? len : -ENOENT;
}

/* fill: write "ID SEED": the whole buffer gets the seeded pattern. */
static ssize_t testdrv_dma_fill_write(struct file *f, const char __user *ubuf,
				      size_t len, loff_t *ppos)
{
	struct testdrv_dma *d = f->private_data;
	struct device *dev = &d->td->pdev->dev;
	struct testdrv_dma_buf *b;
	unsigned int id;
	char buf[64];
	u32 seed;
	int ret;

	ret = testdrv_dma_input(ubuf, len, buf, sizeof(buf));
	if (ret)
		return ret;
	if (sscanf(buf, "%u %u", &id, &seed) != 2)
		return -EINVAL;
	mutex_lock(&d->lock);
	b = testdrv_dma_get(d, id);
	if (b) {
		if (!b->coherent)
			dma_sync_single_for_cpu(dev, b->bus, b->size, DMA_BIDIRECTIONAL);
		testdrv_dma_fill(b->cpu, b->size, seed);
		if (!b->coherent)
			dma_sync_single_for_device(dev, b->bus, b->size, DMA_BIDIRECTIONAL);
	}
	mutex_unlock(&d->lock);
	return b ? len : -ENOENT;
}

/*
 * crc: write "ID OFFSET LENGTH"; read the CRC32 (zlib's: init and final
 * xor all-ones) of those bytes as "%08x".
 */
static ssize_t testdrv_dma_crc_write(struct file *f, const char __user *ubuf,
				     size_t len, loff_t *ppos)
{
	struct testdrv_dma *d = f->private_data;
	struct device *dev = &d->td->pdev->dev;
	struct testdrv_dma_buf *b;
	unsigned long off, n;
	unsigned int id;
	char buf[96];
	int ret;

	ret = testdrv_dma_input(ubuf, len, buf, sizeof(buf));
	if (ret)
		return ret;
	if (sscanf(buf, "%u %lu %lu", &id, &off, &n) != 3)
		return -EINVAL;
	mutex_lock(&d->lock);
	b = testdrv_dma_get(d, id);
	ret = -ENOENT;
	if (b && (off > b->size || n > b->size - off))
		ret = -ERANGE;
	else if (b) {
		if (!b->coherent)
			dma_sync_single_for_cpu(dev, b->bus, b->size, DMA_BIDIRECTIONAL);
		scnprintf(d->result, sizeof(d->result), "%08x\n",
			  ~crc32_le(~0U, (u8 *)b->cpu + off, n));
		if (!b->coherent)
			dma_sync_single_for_device(dev, b->bus, b->size, DMA_BIDIRECTIONAL);
		ret = 0;
	}
	mutex_unlock(&d->lock);
	return ret ? ret : len;
}

static ssize_t testdrv_dma_crc_read(struct file *f, char __user *ubuf,
				    size_t len, loff_t *ppos)
{
	struct testdrv_dma *d = f->private_data;
	char buf[64];
	size_t n;

	mutex_lock(&d->lock);
	n = strscpy(buf, d->result, sizeof(buf));
	mutex_unlock(&d->lock);
	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

/* master: write 0 or 1 (clear or set Bus Master Enable); read the bit. */
static ssize_t testdrv_dma_master_write(struct file *f, const char __user *ubuf,
					size_t len, loff_t *ppos)
{
	struct testdrv_dma *d = f->private_data;
	bool on;
	int ret;

	ret = kstrtobool_from_user(ubuf, len, &on);
	if (ret)
		return ret;
	if (on)
		pci_set_master(d->td->pdev);
	else
		pci_clear_master(d->td->pdev);
	return len;
}

static ssize_t testdrv_dma_master_read(struct file *f, char __user *ubuf,
				       size_t len, loff_t *ppos)
{
	struct testdrv_dma *d = f->private_data;
	char buf[4];
	u16 cmd = 0;

	pci_read_config_word(d->td->pdev, PCI_COMMAND, &cmd);
	scnprintf(buf, sizeof(buf), "%d\n", !!(cmd & PCI_COMMAND_MASTER));
	return simple_read_from_buffer(ubuf, len, ppos, buf, strlen(buf));
}

#define TESTDRV_DMA_FOPS(name, rd, wr)					\
	static const struct file_operations testdrv_dma_##name##_fops = { \
		.owner = THIS_MODULE,					\
		.open = simple_open,					\
		.read = rd,						\
		.write = wr,						\
		.llseek = default_llseek,				\
	}

TESTDRV_DMA_FOPS(alloc, testdrv_dma_alloc_read, testdrv_dma_alloc_write);
TESTDRV_DMA_FOPS(free, NULL, testdrv_dma_free_write);
TESTDRV_DMA_FOPS(fill, NULL, testdrv_dma_fill_write);
TESTDRV_DMA_FOPS(crc, testdrv_dma_crc_read, testdrv_dma_crc_write);
TESTDRV_DMA_FOPS(master, testdrv_dma_master_read, testdrv_dma_master_write);

int testdrv_dma_probe(struct testdrv *td)
{
	struct testdrv_dma *d;
	struct dentry *dir;
	int ret;

	ret = dma_set_mask_and_coherent(&td->pdev->dev, DMA_BIT_MASK(64));
	if (ret) {
		dev_err(&td->pdev->dev, "dma: no 64-bit DMA mask: %d\n", ret);
		return ret;
	}
	pci_set_master(td->pdev);

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->td = td;
	d->last = -1;
	mutex_init(&d->lock);

	dir = debugfs_create_dir("dma", td->dir);
	d->dir = dir;
	debugfs_create_file("alloc", 0600, dir, d, &testdrv_dma_alloc_fops);
	debugfs_create_file("free", 0200, dir, d, &testdrv_dma_free_fops);
	debugfs_create_file("fill", 0200, dir, d, &testdrv_dma_fill_fops);
	debugfs_create_file("crc", 0600, dir, d, &testdrv_dma_crc_fops);
	debugfs_create_file("master", 0600, dir, d, &testdrv_dma_master_fops);
	td->dma_priv = d;
	return 0;
}

/* Runs before the core removes dir, so no debugfs file is open on us after. */
void testdrv_dma_remove(struct testdrv *td)
{
	struct testdrv_dma *d = td->dma_priv;
	int i;

	if (!d)
		return;
	debugfs_remove_recursive(d->dir);
	for (i = 0; i < TESTDRV_DMA_MAX_BUFS; i++)
		testdrv_dma_free_buf(d, &d->bufs[i]);
	mutex_destroy(&d->lock);
	kfree(d);
	td->dma_priv = NULL;
}
