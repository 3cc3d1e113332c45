// SPDX-License-Identifier: GPL-2.0-only
/*
 * The device object owned by one /dev/pciem fd and its lifecycle:
 * EMPTY -> CREATED (describe) -> REGISTERED (on the bus) -> STARTED
 * (drivers bound); STOP goes back to CREATED, closing the fd ends it all.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "pciem.h"

static const char *const pciem_state_names[] = {
	[PCIEM_STATE_EMPTY] = "empty",
	[PCIEM_STATE_CREATED] = "created",
	[PCIEM_STATE_REGISTERED] = "registered",
	[PCIEM_STATE_STARTED] = "started",
};

const char *pciem_dev_label(const struct pciem_dev *dev)
{
	return dev->name[0] ? dev->name : "(no device yet)";
}

struct pciem_dev *pciem_dev_alloc(void)
{
	struct pciem_dev *dev;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return NULL;
	mutex_init(&dev->lock);
	raw_spin_lock_init(&dev->cfg_lock);
	dev->state = PCIEM_STATE_EMPTY;
	return dev;
}

/*
 * Refuses a request made in the wrong state: -EINVAL when the device is not
 * far enough along (nothing to act on yet), -EBUSY when it is past the point
 * where the request makes sense.
 */
static int pciem_need_state(struct pciem_dev *dev, const char *what,
			    enum pciem_state lo, enum pciem_state hi)
{
	if (dev->state >= lo && dev->state <= hi)
		return 0;
	pciem_log(dev, "%s: not allowed in state %s", what,
		  pciem_state_names[dev->state]);
	return dev->state < lo ? -EINVAL : -EBUSY;
}

static void pciem_cfg_restore(struct pciem_dev *dev)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&dev->cfg_lock, flags);
	memcpy(dev->cfg, dev->cfg_image, sizeof(*dev->cfg));
	raw_spin_unlock_irqrestore(&dev->cfg_lock, flags);
}

int pciem_dev_create(struct pciem_dev *dev, const struct pciem_device_desc *desc)
{
	struct pciem_cfg *cfg;
	int ret;

	mutex_lock(&dev->lock);
	if (dev->state != PCIEM_STATE_EMPTY) {
		pciem_log(dev, "create: this fd already owns a device; open /dev/pciem again for another");
		ret = -EBUSY;
		goto out;
	}
	cfg = kvzalloc(sizeof(*cfg), GFP_KERNEL);
	if (!cfg) {
		ret = -ENOMEM;
		goto out;
	}
	ret = pciem_cfg_init(cfg, desc);
	if (ret) {
		pciem_log(dev, "create: %s", cfg->err);
		kvfree(cfg);
		goto out;
	}
	strscpy(dev->name, desc->name, sizeof(dev->name));
	dev->cfg = cfg;
	ret = pciem_mmio_create(dev, desc);
	if (ret)
		goto err_cfg;
	ret = pciem_irq_create(dev);
	if (ret)
		goto err_mmio;
	dev->state = PCIEM_STATE_CREATED;
	goto out;

err_mmio:
	pciem_mmio_destroy(dev);
err_cfg:
	dev->cfg = NULL;
	dev->name[0] = 0;
	kvfree(cfg);
out:
	mutex_unlock(&dev->lock);
	return ret;
}

/* The description may change only before the first REGISTER froze it. */
static int pciem_need_describing(struct pciem_dev *dev, const char *what)
{
	int ret;

	ret = pciem_need_state(dev, what, PCIEM_STATE_CREATED,
			       PCIEM_STATE_CREATED);
	if (ret)
		return ret;
	if (dev->cfg->finished) {
		pciem_log(dev, "%s: the description is frozen since the first REGISTER",
			  what);
		return -EBUSY;
	}
	return 0;
}

int pciem_dev_add_bar(struct pciem_dev *dev, const struct pciem_bar_desc *desc)
{
	int ret;

	mutex_lock(&dev->lock);
	ret = pciem_need_describing(dev, "add_bar");
	if (ret)
		goto out;
	/* cfg records both halves of a 64-bit BAR in bar_len[]. */
	if (dev->cfg->bar_len[desc->index] ||
	    ((desc->flags & PCIEM_BAR_MEM64) && desc->index + 1 < PCIEM_NUM_BARS &&
	     dev->cfg->bar_len[desc->index + 1])) {
		pciem_log(dev, "add_bar: index %u: bar %u%s is already taken",
			  desc->index, desc->index,
			  desc->flags & PCIEM_BAR_MEM64 ? " or the next one" : "");
		ret = -EEXIST;
		goto out;
	}
	/* Shadow first: a failed allocation must not leave the BAR described. */
	ret = pciem_bar_alloc(dev, desc->index, desc->length, desc->flags);
	if (ret)
		goto out;
	ret = pciem_cfg_add_bar(dev->cfg, desc);
	if (ret) {
		pciem_log(dev, "add_bar: %s", dev->cfg->err);
		pciem_bar_free(dev, desc->index);
	}
out:
	mutex_unlock(&dev->lock);
	return ret;
}

int pciem_dev_add_cap(struct pciem_dev *dev, const struct pciem_cap_desc *desc,
		      const void *payload)
{
	int ret;

	mutex_lock(&dev->lock);
	ret = pciem_need_describing(dev, "add_cap");
	if (ret)
		goto out;
	ret = pciem_cfg_add_cap(dev->cfg, desc, payload);
	if (ret)
		pciem_log(dev, "add_cap: %s", dev->cfg->err);
out:
	mutex_unlock(&dev->lock);
	return ret;
}

int pciem_dev_register(struct pciem_dev *dev)
{
	int ret;

	mutex_lock(&dev->lock);
	ret = pciem_need_state(dev, "register", PCIEM_STATE_CREATED,
			       PCIEM_STATE_CREATED);
	if (ret)
		goto out;
	if (!dev->cfg->finished) {
		ret = pciem_cfg_finish(dev->cfg);
		if (ret) {
			pciem_log(dev, "register: %s", dev->cfg->err);
			goto out;
		}
	}
	if (!dev->cfg_image) {
		dev->cfg_image = kvmalloc(sizeof(*dev->cfg_image), GFP_KERNEL);
		if (!dev->cfg_image) {
			ret = -ENOMEM;
			goto out;
		}
	}
	/* Not on the bus yet: nothing else touches cfg. */
	memcpy(dev->cfg_image, dev->cfg, sizeof(*dev->cfg));

	ret = pciem_bus_attach(dev);
	if (ret) {
		/* Undo what the OS wrote while scanning and sizing. */
		pciem_cfg_restore(dev);
		goto out;
	}
	/* BARs have addresses now; trap them before any driver can map them. */
	ret = pciem_mmio_register(dev);
	if (ret) {
		pciem_bus_detach(dev);
		pciem_cfg_restore(dev);
		goto out;
	}
	dev->state = PCIEM_STATE_REGISTERED;
out:
	mutex_unlock(&dev->lock);
	return ret;
}

int pciem_dev_start(struct pciem_dev *dev)
{
	int ret;

	mutex_lock(&dev->lock);
	ret = pciem_need_state(dev, "start", PCIEM_STATE_REGISTERED,
			       PCIEM_STATE_REGISTERED);
	if (ret)
		goto out;
	ret = pciem_bus_start(dev);
	if (!ret)
		dev->state = PCIEM_STATE_STARTED;
out:
	mutex_unlock(&dev->lock);
	return ret;
}

/*
 * Unbinds the driver and takes the device off the bus; its config space
 * returns to what it was at REGISTER, as after a power cycle.
 */
static void pciem_dev_unplug(struct pciem_dev *dev)
{
	pciem_bus_detach(dev);
	pciem_mmio_unregister(dev);
	pciem_irq_unregister(dev);
	pciem_cfg_restore(dev);
	dev->state = PCIEM_STATE_CREATED;
}

int pciem_dev_stop(struct pciem_dev *dev)
{
	int ret;

	mutex_lock(&dev->lock);
	ret = pciem_need_state(dev, "stop", PCIEM_STATE_REGISTERED,
			       PCIEM_STATE_STARTED);
	if (!ret)
		pciem_dev_unplug(dev);
	mutex_unlock(&dev->lock);
	return ret;
}

/* The fd is gone (close, exit, SIGKILL): stop and free everything. */
void pciem_dev_destroy(struct pciem_dev *dev)
{
	int i;

	/* The host is gone: a driver unbinding now must not wait for it. */
	if (dev->state >= PCIEM_STATE_CREATED)
		pciem_mmio_host_gone(dev);
	mutex_lock(&dev->lock);
	if (dev->state >= PCIEM_STATE_REGISTERED)
		pciem_dev_unplug(dev);
	mutex_unlock(&dev->lock);
	if (dev->cfg) {
		pciem_irq_destroy(dev);
		pciem_mmio_destroy(dev);
	}

	for (i = 0; i < PCIEM_NUM_BARS; i++)
		pciem_bar_free(dev, i);
	kvfree(dev->cfg_image);
	kvfree(dev->cfg);
	mutex_destroy(&dev->lock);
	kfree(dev);
}

void pciem_dev_info(struct pciem_dev *dev, struct pciem_device_info *info)
{
	unsigned long flags;
	int i;

	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->domain = pciem_bus_domain();

	mutex_lock(&dev->lock);
	info->state = dev->state;
	for (i = 0; i < PCIEM_NUM_BARS; i++)
		info->bar_len[i] = dev->bars[i].shadow ? dev->bars[i].len : 0;
	if (dev->state >= PCIEM_STATE_REGISTERED) {
		info->bus = dev->pdev->bus->number;
		info->devfn = dev->pdev->devfn;
		strscpy(info->pci_name, pci_name(dev->pdev),
			sizeof(info->pci_name));
		raw_spin_lock_irqsave(&dev->cfg_lock, flags);
		for (i = 0; i < PCIEM_NUM_BARS; i++)
			if (info->bar_len[i])
				info->bar_addr[i] = pciem_cfg_bar_addr(dev->cfg, i);
		raw_spin_unlock_irqrestore(&dev->cfg_lock, flags);
	}
	mutex_unlock(&dev->lock);
}

int pciem_dev_cfg_read(struct pciem_dev *dev, u32 offset, u32 width, u32 *value)
{
	unsigned long flags;
	int ret;

	mutex_lock(&dev->lock);
	ret = pciem_need_state(dev, "cfg_read", PCIEM_STATE_CREATED,
			       PCIEM_STATE_STARTED);
	if (!ret) {
		raw_spin_lock_irqsave(&dev->cfg_lock, flags);
		*value = pciem_cfg_read(dev->cfg, offset, width);
		raw_spin_unlock_irqrestore(&dev->cfg_lock, flags);
	}
	mutex_unlock(&dev->lock);
	return ret;
}

int pciem_dev_cfg_write(struct pciem_dev *dev, u32 offset, u32 width, u32 value)
{
	unsigned long flags;
	int ret;

	mutex_lock(&dev->lock);
	ret = pciem_need_state(dev, "cfg_write", PCIEM_STATE_CREATED,
			       PCIEM_STATE_STARTED);
	if (ret)
		goto out;
	raw_spin_lock_irqsave(&dev->cfg_lock, flags);
	ret = pciem_cfg_dev_write(dev->cfg, offset, width, value);
	raw_spin_unlock_irqrestore(&dev->cfg_lock, flags);
	if (ret)
		pciem_log(dev, "cfg_write: %s", dev->cfg->err);
out:
	mutex_unlock(&dev->lock);
	return ret;
}
