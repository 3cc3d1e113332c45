// SPDX-License-Identifier: GPL-2.0-only
/*
 * pciem_testdrv, interrupt part: allocates MSI, MSI-X or INTx vectors on
 * request, counts every interrupt per vector, and masks vectors the ways a
 * driver can. Files under <dir>/irq/:
 *   setup   write "msi N", "msix N", "msix N affinity", "intx" or "none";
 *           read: "<kind> <count>" of what is allocated now
 *   counts  read: one line "<vector> <interrupts>" per allocated vector
 *   total   read: interrupts over all vectors; write anything: zero counts
 *   ctl     write "mask N" / "unmask N" (the device's mask bit, through
 *           pci_msi_mask_irq), "disable N" / "enable N" (disable_irq),
 *           "fmask 0|1" (MSI-X function mask), "intx 0|1" (pci_intx)
 */
#include <linux/fs.h>
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/kernel.h>
#include <linux/msi.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "testdrv.h"

enum testdrv_irq_kind { TD_IRQ_NONE, TD_IRQ_INTX, TD_IRQ_MSI, TD_IRQ_MSIX };

static const char *const testdrv_irq_kinds[] = {
	[TD_IRQ_NONE] = "none", [TD_IRQ_INTX] = "intx",
	[TD_IRQ_MSI] = "msi", [TD_IRQ_MSIX] = "msix",
};

struct testdrv_vec {
	struct testdrv_irq *ti;
	unsigned int index;
	atomic_long_t count;
};

struct testdrv_irq {
	struct testdrv *td;
	struct dentry *dir;		/* <td->dir>/irq */
	struct mutex lock;		/* kind, nvec, vecs */
	enum testdrv_irq_kind kind;
	unsigned int nvec;
	struct testdrv_vec *vecs;
};

static irqreturn_t testdrv_irq_handler(int irq, void *data)
{
	struct testdrv_vec *v = data;

	atomic_long_inc(&v->count);
	return IRQ_HANDLED;
}

static void testdrv_irq_release(struct testdrv_irq *ti)
{
	struct pci_dev *pdev = ti->td->pdev;
	unsigned int i;

	for (i = 0; i < ti->nvec; i++)
		free_irq(pci_irq_vector(pdev, i), &ti->vecs[i]);
	if (ti->kind != TD_IRQ_NONE)
		pci_free_irq_vectors(pdev);
	kfree(ti->vecs);
	ti->vecs = NULL;
	ti->nvec = 0;
	ti->kind = TD_IRQ_NONE;
}

static int testdrv_irq_setup(struct testdrv_irq *ti, enum testdrv_irq_kind kind,
			     unsigned int n, bool affinity)
{
	struct pci_dev *pdev = ti->td->pdev;
	unsigned int flags, i;
	int ret;

	testdrv_irq_release(ti);
	if (kind == TD_IRQ_NONE)
		return 0;
	flags = kind == TD_IRQ_MSI ? PCI_IRQ_MSI : kind == TD_IRQ_MSIX ? PCI_IRQ_MSIX :
		PCI_IRQ_LEGACY;
	if (affinity)
		flags |= PCI_IRQ_AFFINITY;
	ret = pci_alloc_irq_vectors(pdev, n, n, flags);
	if (ret < 0) {
		pci_err(pdev, "testdrv: %s %u: pci_alloc_irq_vectors: %d\n",
			testdrv_irq_kinds[kind], n, ret);
		return ret;
	}
	ti->kind = kind;
	ti->vecs = kcalloc(n, sizeof(*ti->vecs), GFP_KERNEL);
	if (!ti->vecs) {
		ret = -ENOMEM;
		goto err;
	}
	for (i = 0; i < n; i++) {
		ti->vecs[i].ti = ti;
		ti->vecs[i].index = i;
		ret = request_irq(pci_irq_vector(pdev, i), testdrv_irq_handler,
				  kind == TD_IRQ_INTX ? IRQF_SHARED : 0, TESTDRV_NAME,
				  &ti->vecs[i]);
		if (ret) {
			pci_err(pdev, "testdrv: request_irq vector %u: %d\n", i, ret);
			goto err;
		}
		ti->nvec = i + 1;
	}
	return 0;

err:
	testdrv_irq_release(ti);
	return ret;
}

/* ---- debugfs ---- */

static ssize_t testdrv_irq_user_line(const char __user *ubuf, size_t len, char *buf,
				     size_t size)
{
	if (len >= size)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	return len;
}

static ssize_t testdrv_irq_setup_write(struct file *f, const char __user *ubuf, size_t len,
				       loff_t *pos)
{
	struct testdrv_irq *ti = f->private_data;
	char buf[64], kind[16], extra[16] = "";
	enum testdrv_irq_kind k;
	unsigned int n = 1;
	ssize_t ret;
	int fields;

	ret = testdrv_irq_user_line(ubuf, len, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	fields = sscanf(buf, "%15s %u %15s", kind, &n, extra);
	if (fields < 1)
		return -EINVAL;
	for (k = TD_IRQ_NONE; k <= TD_IRQ_MSIX; k++)
		if (!strcmp(kind, testdrv_irq_kinds[k]))
			break;
	if (k > TD_IRQ_MSIX || (k == TD_IRQ_INTX && n != 1) || !n ||
	    (fields == 3 && strcmp(extra, "affinity")))
		return -EINVAL;
	mutex_lock(&ti->lock);
	ret = testdrv_irq_setup(ti, k, n, fields == 3);
	mutex_unlock(&ti->lock);
	return ret ? ret : len;
}

static int testdrv_irq_setup_show(struct seq_file *m, void *unused)
{
	struct testdrv_irq *ti = m->private;

	mutex_lock(&ti->lock);
	seq_printf(m, "%s %u\n", testdrv_irq_kinds[ti->kind], ti->nvec);
	mutex_unlock(&ti->lock);
	return 0;
}

static int testdrv_irq_setup_open(struct inode *inode, struct file *f)
{
	if (f->f_mode & FMODE_WRITE && !(f->f_mode & FMODE_READ)) {
		f->private_data = inode->i_private;
		return 0;
	}
	return single_open(f, testdrv_irq_setup_show, inode->i_private);
}

static int testdrv_irq_setup_release(struct inode *inode, struct file *f)
{
	if (f->f_mode & FMODE_READ)
		return single_release(inode, f);
	return 0;
}

static const struct file_operations testdrv_irq_setup_fops = {
	.owner = THIS_MODULE,
	.open = testdrv_irq_setup_open,
	.read = seq_read,
	.write = testdrv_irq_setup_write,
	.llseek = no_llseek,
	.release = testdrv_irq_setup_release,
};

static int testdrv_irq_counts_show(struct seq_file *m, void *unused)
{
	struct testdrv_irq *ti = m->private;
	unsigned int i;

	mutex_lock(&ti->lock);
	for (i = 0; i < ti->nvec; i++)
		seq_printf(m, "%u %ld\n", i, atomic_long_read(&ti->vecs[i].count));
	mutex_unlock(&ti->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(testdrv_irq_counts);

static ssize_t testdrv_irq_total_read(struct file *f, char __user *ubuf, size_t len,
				      loff_t *pos)
{
	struct testdrv_irq *ti = f->private_data;
	unsigned long total = 0;
	unsigned int i;
	char buf[32];
	int n;

	mutex_lock(&ti->lock);
	for (i = 0; i < ti->nvec; i++)
		total += atomic_long_read(&ti->vecs[i].count);
	mutex_unlock(&ti->lock);
	n = scnprintf(buf, sizeof(buf), "%lu\n", total);
	return simple_read_from_buffer(ubuf, len, pos, buf, n);
}

static ssize_t testdrv_irq_total_write(struct file *f, const char __user *ubuf, size_t len,
				       loff_t *pos)
{
	struct testdrv_irq *ti = f->private_data;
	unsigned int i;

	mutex_lock(&ti->lock);
	for (i = 0; i < ti->nvec; i++)
		atomic_long_set(&ti->vecs[i].count, 0);
	mutex_unlock(&ti->lock);
	return len;
}

static const struct file_operations testdrv_irq_total_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = testdrv_irq_total_read,
	.write = testdrv_irq_total_write,
	.llseek = no_llseek,
};

/* MSI-X function mask, behind the PCI core's back (it never sets it for us). */
static void testdrv_irq_fmask(struct pci_dev *pdev, bool on)
{
	u16 ctrl;

	if (!pdev->msix_cap)
		return;
	pci_read_config_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS, &ctrl);
	ctrl = on ? ctrl | PCI_MSIX_FLAGS_MASKALL : ctrl & ~PCI_MSIX_FLAGS_MASKALL;
	pci_write_config_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS, ctrl);
}

static int testdrv_irq_ctl_locked(struct testdrv_irq *ti, const char *op, unsigned int n)
{
	struct pci_dev *pdev = ti->td->pdev;
	struct irq_data *d;

	if (!strcmp(op, "fmask")) {
		testdrv_irq_fmask(pdev, n);
		return 0;
	}
	if (!strcmp(op, "intx")) {
		pci_intx(pdev, n);
		return 0;
	}
	if (n >= ti->nvec)
		return -ERANGE;
	if (!strcmp(op, "disable")) {
		disable_irq(pci_irq_vector(pdev, n));
		return 0;
	}
	if (!strcmp(op, "enable")) {
		enable_irq(pci_irq_vector(pdev, n));
		return 0;
	}
	if (ti->kind != TD_IRQ_MSI && ti->kind != TD_IRQ_MSIX)
		return -EINVAL;
	d = irq_get_irq_data(pci_irq_vector(pdev, n));
	if (!d)
		return -ENOENT;
	if (!strcmp(op, "mask"))
		pci_msi_mask_irq(d);
	else if (!strcmp(op, "unmask"))
		pci_msi_unmask_irq(d);
	else
		return -EINVAL;
	return 0;
}

static ssize_t testdrv_irq_ctl_write(struct file *f, const char __user *ubuf, size_t len,
				     loff_t *pos)
{
	struct testdrv_irq *ti = f->private_data;
	char buf[64], op[16];
	unsigned int n;
	ssize_t ret;

	ret = testdrv_irq_user_line(ubuf, len, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	if (sscanf(buf, "%15s %u", op, &n) != 2)
		return -EINVAL;
	mutex_lock(&ti->lock);
	ret = testdrv_irq_ctl_locked(ti, op, n);
	mutex_unlock(&ti->lock);
	return ret ? ret : len;
}

static const struct file_operations testdrv_irq_ctl_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = testdrv_irq_ctl_write,
	.llseek = no_llseek,
};

int testdrv_irq_probe(struct testdrv *td)
{
	struct testdrv_irq *ti = kzalloc(sizeof(*ti), GFP_KERNEL);

	if (!ti)
		return -ENOMEM;
	ti->td = td;
	mutex_init(&ti->lock);
	ti->dir = debugfs_create_dir("irq", td->dir);
	debugfs_create_file("setup", 0600, ti->dir, ti, &testdrv_irq_setup_fops);
	debugfs_create_file("counts", 0400, ti->dir, ti, &testdrv_irq_counts_fops);
	debugfs_create_file("total", 0600, ti->dir, ti, &testdrv_irq_total_fops);
	debugfs_create_file("ctl", 0200, ti->dir, ti, &testdrv_irq_ctl_fops);
	td->irq_priv = ti;
	return 0;
}

void testdrv_irq_remove(struct testdrv *td)
{
	struct testdrv_irq *ti = td->irq_priv;

	if (!ti)
		return;
	debugfs_remove_recursive(ti->dir);
	mutex_lock(&ti->lock);
	testdrv_irq_release(ti);
	mutex_unlock(&ti->lock);
	mutex_destroy(&ti->lock);
	kfree(ti);
	td->irq_priv = NULL;
}
