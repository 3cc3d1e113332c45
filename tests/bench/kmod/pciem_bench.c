// SPDX-License-Identifier: GPL-2.0-only
/*
 * pciem_bench: the guest driver of `make bench`. Binds the bench device
 * (tests/bench/bench.lua, 1234:be4c), times MMIO traps, interrupt latency and
 * DMA from kernel code, and reports through /sys/kernel/debug/pciem_bench/cmd.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/debugfs.h>
#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/ktime.h>
#include <linux/sort.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/io.h>

#define BENCH_NAME "pciem_bench"

/* BAR0 layout: the same numbers as tests/bench/bench.lua. */
#define REG_POSTED	0x000	/* posted, no handler */
#define REG_IRQ_T0	0x100	/* memory: host CLOCK_MONOTONIC ns at dev:irq() */
#define REG_DMA_ADDR	0x108	/* memory: bus address of the guest buffer */
#define REG_DMA_LEN	0x110	/* memory: bytes per transfer */
#define REG_DMA_REPS	0x114	/* memory: transfers */
#define REG_DMA_NS	0x118	/* memory: host ns for all transfers */
#define REG_DMA_STATUS	0x120	/* memory: 0 = every transfer succeeded */
#define REG_SYNC_LUA	0x200	/* sync, answered by a Lua handler */
#define REG_SYNC_NATIVE	0x204	/* sync, answered by a native C handler */
#define REG_IRQ_BELL	0x300	/* posted: the host raises vector 0 */
#define REG_DMA_BELL	0x304	/* posted: 1 = device reads, 2 = device writes */

#define BENCH_MAX_SAMPLES	(1u << 20)
#define BENCH_WAIT		(120 * HZ)

struct bench {
	struct pci_dev *pdev;
	void __iomem *bar;
	struct completion done;
	u64 irq_t1;
	struct mutex lock;	/* one command at a time; result */
	char result[160];
};

static struct bench *bench_dev;	/* the one bound device (debugfs has one file) */
static DEFINE_MUTEX(bench_bind_lock);
static struct dentry *bench_dir;

static int bench_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Sorts @s and formats "median p99 mean" (ns) into the result. */
static void bench_stats(struct bench *b, u64 *s, u32 n)
{
	u64 sum = 0;
	u32 i, p99;

	sort(s, n, sizeof(*s), bench_cmp_u64, NULL);
	for (i = 0; i < n; i++)
		sum += s[i];
	p99 = n * 99 / 100;
	if (p99 >= n)
		p99 = n - 1;
	snprintf(b->result, sizeof(b->result), "median=%llu p99=%llu mean=%llu n=%u\n",
		 s[n / 2], s[p99], div_u64(sum, n), n);
}

static void bench_mean(struct bench *b, u64 total, u32 n)
{
	/* Picoseconds too: a RAM store is well under a nanosecond on real hardware. */
	snprintf(b->result, sizeof(b->result), "mean=%llu mean_ps=%llu n=%u\n",
		 div_u64(total, n), div_u64(total * 1000, n), n);
}

/* Posted writes: a loop of writel() timed as a whole. */
static int bench_posted(struct bench *b, u32 n)
{
	u64 t0, total = 0;
	u32 i, j;

	for (i = 0; i < n; i += 256) {
		t0 = ktime_get_ns();
		for (j = i; j < n && j < i + 256; j++)
			writel(j, b->bar + REG_POSTED);
		total += ktime_get_ns() - t0;
		cond_resched();
	}
	bench_mean(b, total, n);
	return 0;
}

/* The same loop on plain RAM through a volatile pointer. */
static int bench_ram_write(struct bench *b, u32 n)
{
	volatile u32 *p = kzalloc(PAGE_SIZE, GFP_KERNEL);
	u64 t0, total = 0;
	u32 i, j;

	if (!p)
		return -ENOMEM;
	for (i = 0; i < n; i += 256) {
		t0 = ktime_get_ns();
		for (j = i; j < n && j < i + 256; j++)
			p[0] = j;
		total += ktime_get_ns() - t0;
		cond_resched();
	}
	kfree((void *)p);
	bench_mean(b, total, n);
	return 0;
}

static u64 *bench_samples(u32 n)
{
	return kvmalloc_array(n, sizeof(u64), GFP_KERNEL);
}

/* Per-access timing of readl() on @reg, or on RAM when @reg < 0. */
static int bench_read(struct bench *b, int reg, u32 n)
{
	volatile u32 *ram = NULL;
	u64 *s, t0;
	u32 i, bad = 0, v;

	s = bench_samples(n);
	if (!s)
		return -ENOMEM;
	if (reg < 0) {
		ram = kzalloc(PAGE_SIZE, GFP_KERNEL);
		if (!ram) {
			kvfree(s);
			return -ENOMEM;
		}
	}
	for (i = 0; i < n; i++) {
		t0 = ktime_get_ns();
		v = ram ? ram[0] : readl(b->bar + reg);
		s[i] = ktime_get_ns() - t0;
		if (v == 0xffffffff)
			bad++;
		if ((i & 63) == 63)
			cond_resched();
	}
	kfree((void *)ram);
	if (bad) {
		pci_warn(b->pdev, "bench: %u of %u reads of 0x%x came back all-ones\n",
			 bad, n, reg);
		kvfree(s);
		return -EIO;
	}
	bench_stats(b, s, n);
	kvfree(s);
	return 0;
}

static irqreturn_t bench_irq(int irq, void *data)
{
	struct bench *b = data;

	WRITE_ONCE(b->irq_t1, ktime_get_ns());
	complete(&b->done);
	return IRQ_HANDLED;
}

/* Host raise (its CLOCK_MONOTONIC, left in the BAR) to this driver's handler. */
static int bench_irq_latency(struct bench *b, u32 n)
{
	u64 *s, t0, t1;
	u32 i;
	int ret = 0;

	s = bench_samples(n);
	if (!s)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		reinit_completion(&b->done);
		writel(1, b->bar + REG_IRQ_BELL);
		if (!wait_for_completion_timeout(&b->done, BENCH_WAIT)) {
			ret = -ETIMEDOUT;
			goto out;
		}
		t1 = READ_ONCE(b->irq_t1);
		t0 = readq(b->bar + REG_IRQ_T0);
		/* Same clock on both sides; a negative gap would be a clock bug. */
		s[i] = t1 > t0 ? t1 - t0 : 0;
	}
	bench_stats(b, s, n);
out:
	kvfree(s);
	return ret;
}

/*
 * DMA: the host copies @len bytes between its memory and a coherent buffer of
 * ours @reps times, timing itself; the interrupt says it is done.
 */
static int bench_dma(struct bench *b, u32 dir, u32 len, u32 reps)
{
	dma_addr_t bus;
	void *buf;
	u64 ns;
	u32 status;
	int ret = 0;

	if (!len || len > SZ_4M || !reps || reps > 10000)
		return -EINVAL;
	buf = dma_alloc_coherent(&b->pdev->dev, len, &bus, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	memset(buf, 0x5a, len);
	writeq(bus, b->bar + REG_DMA_ADDR);
	writel(len, b->bar + REG_DMA_LEN);
	writel(reps, b->bar + REG_DMA_REPS);
	writel(~0u, b->bar + REG_DMA_STATUS);
	reinit_completion(&b->done);
	writel(dir, b->bar + REG_DMA_BELL);
	if (!wait_for_completion_timeout(&b->done, BENCH_WAIT)) {
		ret = -ETIMEDOUT;
		goto out;
	}
	status = readl(b->bar + REG_DMA_STATUS);
	ns = readq(b->bar + REG_DMA_NS);
	if (status) {
		pci_warn(b->pdev, "bench: dma %u of %u bytes: host status %d\n", dir, len,
			 (int)status);
		ret = -EIO;
		goto out;
	}
	snprintf(b->result, sizeof(b->result), "ns=%llu bytes=%llu\n", div_u64(ns, reps),
		 (u64)len);
out:
	dma_free_coherent(&b->pdev->dev, len, buf, bus);
	return ret;
}

static int bench_run(struct bench *b, const char *cmd)
{
	char op[16];
	u32 a = 0, c = 0;
	int n;

	n = sscanf(cmd, "%15s %u %u", op, &a, &c);
	if (n < 2 || !a)
		return -EINVAL;
	/* DMA takes bytes and repetitions, checked by bench_dma(). */
	if (!strcmp(op, "dma_read") && n == 3)
		return bench_dma(b, 1, a, c);
	if (!strcmp(op, "dma_write") && n == 3)
		return bench_dma(b, 2, a, c);
	if (a > BENCH_MAX_SAMPLES)
		return -EINVAL;
	if (!strcmp(op, "posted"))
		return bench_posted(b, a);
	if (!strcmp(op, "ram_write"))
		return bench_ram_write(b, a);
	if (!strcmp(op, "ram_read"))
		return bench_read(b, -1, a);
	if (!strcmp(op, "sync_lua"))
		return bench_read(b, REG_SYNC_LUA, a);
	if (!strcmp(op, "sync_native"))
		return bench_read(b, REG_SYNC_NATIVE, a);
	if (!strcmp(op, "irq"))
		return bench_irq_latency(b, a);
	return -EINVAL;
}

static ssize_t bench_cmd_write(struct file *f, const char __user *ubuf, size_t len,
			       loff_t *ppos)
{
	char cmd[64];
	struct bench *b;
	int ret;

	if (len >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	cmd[len] = 0;
	mutex_lock(&bench_bind_lock);
	b = bench_dev;
	if (!b) {
		mutex_unlock(&bench_bind_lock);
		return -ENODEV;
	}
	mutex_lock(&b->lock);
	b->result[0] = 0;
	ret = bench_run(b, cmd);
	mutex_unlock(&b->lock);
	mutex_unlock(&bench_bind_lock);
	return ret ? ret : len;
}

static ssize_t bench_cmd_read(struct file *f, char __user *ubuf, size_t len, loff_t *ppos)
{
	char out[sizeof(bench_dev->result)];
	ssize_t ret = -ENODEV;

	mutex_lock(&bench_bind_lock);
	if (bench_dev) {
		mutex_lock(&bench_dev->lock);
		strscpy(out, bench_dev->result, sizeof(out));
		mutex_unlock(&bench_dev->lock);
		ret = simple_read_from_buffer(ubuf, len, ppos, out, strlen(out));
	}
	mutex_unlock(&bench_bind_lock);
	return ret;
}

static const struct file_operations bench_cmd_fops = {
	.owner = THIS_MODULE,
	.write = bench_cmd_write,
	.read = bench_cmd_read,
	.llseek = default_llseek,
};

static int bench_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct bench *b;
	int ret;

	if (bench_dev)
		return -EBUSY;
	b = devm_kzalloc(&pdev->dev, sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->pdev = pdev;
	init_completion(&b->done);
	mutex_init(&b->lock);
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), BENCH_NAME);
	if (ret)
		return ret;
	b->bar = pcim_iomap_table(pdev)[0];
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_MSIX);
	if (ret < 0)
		return ret;
	ret = request_irq(pci_irq_vector(pdev, 0), bench_irq, 0, BENCH_NAME, b);
	if (ret)
		goto err_vectors;
	pci_set_drvdata(pdev, b);
	mutex_lock(&bench_bind_lock);
	bench_dev = b;
	mutex_unlock(&bench_bind_lock);
	pci_info(pdev, "bench: bound\n");
	return 0;

err_vectors:
	pci_free_irq_vectors(pdev);
	return ret;
}

static void bench_remove(struct pci_dev *pdev)
{
	struct bench *b = pci_get_drvdata(pdev);

	mutex_lock(&bench_bind_lock);
	bench_dev = NULL;
	mutex_unlock(&bench_bind_lock);
	free_irq(pci_irq_vector(pdev, 0), b);
	pci_free_irq_vectors(pdev);
}

static const struct pci_device_id bench_ids[] = {
	{ PCI_DEVICE(0x1234, 0xbe4c) },
	{ }
};
MODULE_DEVICE_TABLE(pci, bench_ids);

static struct pci_driver bench_driver = {
	.name = BENCH_NAME,
	.id_table = bench_ids,
	.probe = bench_probe,
	.remove = bench_remove,
};

static int __init bench_init(void)
{
	int ret;

	bench_dir = debugfs_create_dir(BENCH_NAME, NULL);
	debugfs_create_file("cmd", 0600, bench_dir, NULL, &bench_cmd_fops);
	ret = pci_register_driver(&bench_driver);
	if (ret)
		debugfs_remove_recursive(bench_dir);
	return ret;
}

static void __exit bench_exit(void)
{
	debugfs_remove_recursive(bench_dir);
	pci_unregister_driver(&bench_driver);
}

module_init(bench_init);
module_exit(bench_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("pciem benchmark driver (guest side of make bench)");
