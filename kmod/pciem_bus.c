// SPDX-License-Identifier: GPL-2.0-only
/*
 * The virtual host bridge: one root bus in a PCI domain of its own, memory
 * windows taken from free physical address space, config cycles routed to
 * the device in each slot, and slot allocation for registering devices.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/ioport.h>
#include <linux/kernel.h>
#include <linux/numa.h>
#include <linux/pci.h>
#include <linux/sizes.h>
#include <asm/processor.h>

#include "pciem.h"

/* pci_sysdata and boot_cpu_data.x86_phys_bits are x86's. */
#ifndef CONFIG_X86_64
#error "pciem.ko supports x86-64 only"
#endif

/* Window sizes we try, largest first; each window is aligned to its size. */
#define PCIEM_WIN64_MAX		(64ULL << 30)
#define PCIEM_WIN64_MIN		SZ_1G
#define PCIEM_WIN32_MAX		SZ_256M
#define PCIEM_WIN32_MIN		SZ_16M
/* x86 keeps IOAPIC, HPET, LAPIC and firmware flash in [0xfec00000, 4G). */
#define PCIEM_LOW_MMIO_END	0xfebfffffULL

struct pciem_bus {
	struct pci_sysdata sysdata;	/* bus->sysdata; carries the domain */
	struct pci_bus *bus;
	struct resource busn;
	struct resource win32;		/* for 32-bit BARs; may be absent */
	struct resource win64;		/* for 64-bit BARs */
	bool have_win32, have_win64;

	raw_spinlock_t slots_lock;	/* slots[] against pci_ops */
	struct pciem_dev *slots[PCIEM_NUM_SLOTS];
	/*
	 * The bus's MSI irq domain and INTx lines live in pciem_msi.c. x86
	 * copies the bus's MSI domain into each pci_dev when it is scanned,
	 * so pciem_irq_bus_init runs in pciem_bus_init, before any REGISTER.
	 */
};

static struct pciem_bus pciem_bus = {
	.slots_lock = __RAW_SPIN_LOCK_UNLOCKED(pciem_bus.slots_lock),
};

int pciem_bus_domain(void)
{
	return pciem_bus.sysdata.domain;
}

/*
 * pci_ops run under the PCI core's pci_lock (a raw spinlock, interrupts
 * off). Empty slots and functions other than 0 read all-ones, as on a bus
 * where nothing answers the config cycle.
 */
static int pciem_cfg_op_read(struct pci_bus *bus, unsigned int devfn, int where,
			     int size, u32 *val)
{
	struct pciem_dev *dev;
	unsigned long flags;

	if (where < 0 || where + size > PCIEM_CFG_SIZE) {
		PCI_SET_ERROR_RESPONSE(val);
		return PCIBIOS_BAD_REGISTER_NUMBER;
	}
	raw_spin_lock_irqsave(&pciem_bus.slots_lock, flags);
	dev = PCI_FUNC(devfn) ? NULL : pciem_bus.slots[PCI_SLOT(devfn)];
	if (!dev) {
		raw_spin_unlock_irqrestore(&pciem_bus.slots_lock, flags);
		PCI_SET_ERROR_RESPONSE(val);
		return PCIBIOS_DEVICE_NOT_FOUND;
	}
	raw_spin_lock(&dev->cfg_lock);
	*val = pciem_cfg_read(dev->cfg, where, size);
	raw_spin_unlock(&dev->cfg_lock);
	raw_spin_unlock_irqrestore(&pciem_bus.slots_lock, flags);
	return PCIBIOS_SUCCESSFUL;
}

static int pciem_cfg_op_write(struct pci_bus *bus, unsigned int devfn, int where,
			      int size, u32 val)
{
	struct pciem_dev *dev;
	unsigned long flags;

	if (where < 0 || where + size > PCIEM_CFG_SIZE)
		return PCIBIOS_BAD_REGISTER_NUMBER;
	raw_spin_lock_irqsave(&pciem_bus.slots_lock, flags);
	dev = PCI_FUNC(devfn) ? NULL : pciem_bus.slots[PCI_SLOT(devfn)];
	if (!dev) {
		raw_spin_unlock_irqrestore(&pciem_bus.slots_lock, flags);
		return PCIBIOS_DEVICE_NOT_FOUND;
	}
	raw_spin_lock(&dev->cfg_lock);
	pciem_cfg_write(dev->cfg, where, size, val);
	raw_spin_unlock(&dev->cfg_lock);
	/* Still under slots_lock: dev cannot go away under the hooks. */
	pciem_irq_cfg_written(dev, where, size);
	pciem_mmio_cfg_written(dev, where, size, val);
	raw_spin_unlock_irqrestore(&pciem_bus.slots_lock, flags);
	return PCIBIOS_SUCCESSFUL;
}

static struct pci_ops pciem_pci_ops = {
	.read = pciem_cfg_op_read,
	.write = pciem_cfg_op_write,
};

/*
 * Domains 0..0xffff belong to ACPI segments; like the VMD driver we take the
 * first number above every domain in use.
 */
static int pciem_find_free_domain(void)
{
	struct pci_bus *bus = NULL;
	int domain = 0xffff;

	while ((bus = pci_find_next_bus(bus)) != NULL)
		domain = max_t(int, domain, pci_domain_nr(bus));
	return domain + 1;
}

static int pciem_ram_end(struct resource *res, void *arg)
{
	u64 *end = arg;

	if (res->end > *end)
		*end = res->end;
	return 0;
}

/* Highest System RAM address, or the highest below 4 GiB when low_only. */
static u64 pciem_find_ram_end(bool low_only)
{
	u64 end = 0;

	walk_iomem_res_desc(IORES_DESC_NONE,
			    IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY, 0,
			    low_only ? U32_MAX : U64_MAX, &end, pciem_ram_end);
	return end;
}

static bool pciem_win_clear_of_ram(const struct resource *win)
{
	return region_intersects(win->start, resource_size(win),
				 IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE) ==
	       REGION_DISJOINT;
}

/* Largest size-aligned block in [min, max] under parent, down to min_size. */
static int pciem_alloc_window(struct resource *parent, struct resource *win,
			      u64 min, u64 max, u64 max_size, u64 min_size)
{
	u64 size;

	for (size = max_size; size >= min_size; size >>= 1) {
		if (max < min || max - min + 1 < size)
			continue;
		if (!allocate_resource(parent, win, size, min, max, size,
				       NULL, NULL))
			return 0;
	}
	return -ENOSPC;
}

/*
 * The 64-bit window: free address space above the end of RAM and below the
 * CPU's physical address limit, taken at the top level of iomem_resource so
 * it overlaps nothing the firmware or another bridge described.
 */
static int pciem_setup_win64(void)
{
	struct resource *win = &pciem_bus.win64;
	u64 min, max;
	int ret;

	win->name = "pciem 64-bit window";
	win->flags = IORESOURCE_MEM | IORESOURCE_MEM_64;
	min = max_t(u64, SZ_4G, ALIGN(pciem_find_ram_end(false) + 1, SZ_1G));
	max = (1ULL << boot_cpu_data.x86_phys_bits) - 1;
	ret = pciem_alloc_window(&iomem_resource, win, min, max,
				 PCIEM_WIN64_MAX, PCIEM_WIN64_MIN);
	if (ret) {
		pr_warn("no free physical address space for a 64-bit window between %#llx and %#llx\n",
			min, max);
		return ret;
	}
	if (!pciem_win_clear_of_ram(win)) {
		pr_warn("64-bit window %pR overlaps System RAM; refusing it\n",
			win);
		release_resource(win);
		return -EBUSY;
	}
	pciem_bus.have_win64 = true;
	return 0;
}

/*
 * The 32-bit window. On a QEMU q35 guest (and on typical PCs) everything
 * below 4 GiB is already described at the top level -- RAM, the firmware's
 * reserved ranges, MMCONFIG, and the root bridge windows "PCI Bus 0000:00"
 * -- and the only top-level holes lie among the IOAPIC/HPET/LAPIC/flash
 * ranges, which chipsets decode themselves. So we first take an unused
 * block inside a memory window of a domain-0 root bus: the chipset routes
 * those addresses to PCI, where an access nobody claims ends as a master
 * abort, never in RAM, and the domain-0 PCI core sees our block as busy.
 * Only when no such window has room do we look for a top-level hole between
 * the end of low RAM and the chipset range at 0xfec00000.
 */
static int pciem_setup_win32(void)
{
	struct resource *win = &pciem_bus.win32;
	struct pci_bus *bus = NULL;
	struct resource *res;
	u64 min, max;
	int i;

	win->name = "pciem 32-bit window";
	win->flags = IORESOURCE_MEM;
	while ((bus = pci_find_next_bus(bus)) != NULL) {
		if (pci_domain_nr(bus) != 0)
			continue;
		pci_bus_for_each_resource(bus, res, i) {
			if (!res || !(res->flags & IORESOURCE_MEM) ||
			    res->start > U32_MAX || !res->parent)
				continue;
			max = min_t(u64, res->end, U32_MAX);
			if (!pciem_alloc_window(res, win, res->start, max,
						PCIEM_WIN32_MAX, PCIEM_WIN32_MIN))
				goto found;
		}
	}
	min = ALIGN(pciem_find_ram_end(true) + 1, PCIEM_WIN32_MIN);
	if (!pciem_alloc_window(&iomem_resource, win, min, PCIEM_LOW_MMIO_END,
				PCIEM_WIN32_MAX, PCIEM_WIN32_MIN))
		goto found;
	pr_info("no room for a 32-bit window: only 64-bit BARs can be placed\n");
	return -ENOSPC;

found:
	if (!pciem_win_clear_of_ram(win)) {
		pr_warn("32-bit window %pR overlaps System RAM; refusing it\n",
			win);
		release_resource(win);
		return -EBUSY;
	}
	pciem_bus.have_win32 = true;
	return 0;
}

static void pciem_release_windows(void)
{
	if (pciem_bus.have_win32)
		release_resource(&pciem_bus.win32);
	if (pciem_bus.have_win64)
		release_resource(&pciem_bus.win64);
	pciem_bus.have_win32 = false;
	pciem_bus.have_win64 = false;
}

int pciem_bus_init(void)
{
	struct pciem_bus *pb = &pciem_bus;
	LIST_HEAD(resources);
	int ret;

	pci_lock_rescan_remove();
	ret = pciem_setup_win64();
	if (ret)
		goto err_unlock;
	pciem_setup_win32();	/* optional: 64-bit BARs still work without */
	/* Trapped whole before any BAR in them can exist or be mapped. */
	if (pb->have_win32) {
		ret = pciem_mmio_trap_window(0, pb->win32.start,
					     resource_size(&pb->win32));
		if (ret)
			goto err_windows;
	}
	ret = pciem_mmio_trap_window(1, pb->win64.start, resource_size(&pb->win64));
	if (ret)
		goto err_windows;

	pb->busn = (struct resource) {
		.name = "pciem bus",
		.start = 0,
		.end = 0,
		.flags = IORESOURCE_BUS,
	};
	pci_add_resource(&resources, &pb->busn);
	if (pb->have_win32)
		pci_add_resource(&resources, &pb->win32);
	pci_add_resource(&resources, &pb->win64);

	pb->sysdata.domain = pciem_find_free_domain();
	pb->sysdata.node = NUMA_NO_NODE;
	pb->bus = pci_create_root_bus(NULL, 0, &pciem_pci_ops, &pb->sysdata,
				      &resources);
	if (!pb->bus) {
		pci_free_resource_list(&resources);
		pr_warn("cannot create the root bus in domain %04x\n",
			pb->sysdata.domain);
		ret = -ENODEV;
		goto err_windows;
	}
	ret = pciem_irq_bus_init(pb->bus);
	if (ret) {
		pr_warn("cannot set up interrupts of the root bus: %d\n", ret);
		goto err_bus;
	}
	pci_unlock_rescan_remove();

	if (pb->have_win32)
		pr_info("root bus %04x:00, windows %pR %pR\n",
			pb->sysdata.domain, &pb->win32, &pb->win64);
	else
		pr_info("root bus %04x:00, window %pR\n", pb->sysdata.domain,
			&pb->win64);
	return 0;

err_bus:
	pci_remove_root_bus(pb->bus);
	pb->bus = NULL;
err_windows:
	pciem_mmio_untrap_windows();
	pciem_release_windows();
err_unlock:
	pci_unlock_rescan_remove();
	return ret;
}

void pciem_bus_exit(void)
{
	pci_lock_rescan_remove();
	pci_stop_root_bus(pciem_bus.bus);
	pci_remove_root_bus(pciem_bus.bus);
	pciem_bus.bus = NULL;
	pciem_irq_bus_exit();
	/* No pci_dev is left, so no mapping of the windows either. */
	pciem_mmio_untrap_windows();
	pciem_release_windows();
	pci_unlock_rescan_remove();
}

static void pciem_set_slot(unsigned int slot, struct pciem_dev *dev)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&pciem_bus.slots_lock, flags);
	/* pciem_bus_decode reads the slots without the lock. */
	WRITE_ONCE(pciem_bus.slots[slot], dev);
	raw_spin_unlock_irqrestore(&pciem_bus.slots_lock, flags);
}

struct pciem_dev *pciem_bus_decode(u64 addr, u32 width, u32 *bar, u64 *offset)
{
	struct pciem_dev *dev, *found = NULL;
	unsigned long flags;
	unsigned int slot;
	u64 base, len;
	u32 i;

	for (slot = PCIEM_FIRST_SLOT; slot < PCIEM_NUM_SLOTS && !found; slot++) {
		dev = READ_ONCE(pciem_bus.slots[slot]);
		if (!dev)
			continue;
		raw_spin_lock_irqsave(&dev->cfg_lock, flags);
		if (!(pciem_cfg_command(dev->cfg) & PCI_COMMAND_MEMORY))
			goto next;
		for (i = 0; i < PCIEM_NUM_BARS; i++) {
			len = dev->cfg->bar_len[i];
			if (!len || pciem_cfg_bar_is_upper(dev->cfg, i))
				continue;
			base = pciem_cfg_bar_addr(dev->cfg, i);
			if (addr < base || addr - base >= len)
				continue;
			/* Running off the end of the BAR: nobody claims it whole. */
			if (addr - base + width <= len) {
				found = dev;
				*bar = i;
				*offset = addr - base;
			}
			break;
		}
next:
		raw_spin_unlock_irqrestore(&dev->cfg_lock, flags);
	}
	return found;
}

/* Takes whatever pci_dev sits in dev's slot off the bus, then the slot. */
static void pciem_unplug_locked(struct pciem_dev *dev)
{
	struct pci_dev *pdev;

	/*
	 * Someone may have removed our pci_dev through sysfs and rescanned,
	 * leaving a new pci_dev in the slot: remove that too.
	 */
	pdev = pci_get_slot(pciem_bus.bus, PCI_DEVFN(dev->slot, 0));
	if (pdev) {
		pci_stop_and_remove_bus_device(pdev);
		pci_dev_put(pdev);
	}
	if (dev->pdev) {
		/* A second removal of the same device is a no-op. */
		pci_stop_and_remove_bus_device(dev->pdev);
		pci_dev_put(dev->pdev);
		dev->pdev = NULL;
	}
	pciem_set_slot(dev->slot, NULL);
	dev->slot = 0;
}

static bool pciem_bar_placed(struct pciem_dev *dev, int i)
{
	struct resource *res = &dev->pdev->resource[i];

	if (!res->parent || resource_size(res) != dev->bars[i].len)
		return false;
	if (region_intersects(res->start, resource_size(res),
			      IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE) !=
	    REGION_DISJOINT) {
		pciem_log(dev, "bar %d: %pR overlaps System RAM", i, res);
		return false;
	}
	return true;
}

/*
 * REGISTER: plug dev into a free slot, let the PCI core scan it (sizing the
 * BARs through config space) and assign its BARs from our windows. No
 * driver probes yet. On failure nothing is left on the bus.
 */
int pciem_bus_attach(struct pciem_dev *dev)
{
	struct pci_bus *bus = pciem_bus.bus;
	unsigned int slot;
	int ret, i;

	pci_lock_rescan_remove();
	for (slot = PCIEM_FIRST_SLOT; slot < PCIEM_NUM_SLOTS; slot++)
		if (!pciem_bus.slots[slot])
			break;
	if (slot == PCIEM_NUM_SLOTS) {
		pciem_log(dev, "register: all %d slots of the pciem bus are in use",
			  PCIEM_NUM_SLOTS - PCIEM_FIRST_SLOT);
		ret = -ENOSPC;
		goto err_unlock;
	}
	dev->slot = slot;
	pciem_set_slot(slot, dev);

	dev->pdev = pci_scan_single_device(bus, PCI_DEVFN(slot, 0));
	if (!dev->pdev) {
		pciem_log(dev, "register: the PCI core found no device in slot %u",
			  slot);
		ret = -ENODEV;
		goto err_unplug;
	}
	pci_dev_get(dev->pdev);

	pci_assign_unassigned_bus_resources(bus);
	for (i = 0; i < PCIEM_NUM_BARS; i++) {
		if (!dev->bars[i].len || pciem_bar_placed(dev, i))
			continue;
		pciem_log(dev, "register: bar %d (%#llx bytes, %s) found no room in the pciem %s window",
			  i, dev->bars[i].len,
			  dev->bars[i].flags & PCIEM_BAR_MEM64 ? "64-bit" : "32-bit",
			  dev->bars[i].flags & PCIEM_BAR_MEM64 ? "64-bit" : "32-bit");
		ret = -ENOSPC;
		goto err_unplug;
	}
	pci_unlock_rescan_remove();
	return 0;

err_unplug:
	pciem_unplug_locked(dev);
err_unlock:
	pci_unlock_rescan_remove();
	return ret;
}

/* START: attach drivers. */
int pciem_bus_start(struct pciem_dev *dev)
{
	struct pci_dev *pdev;
	int ret = 0;

	pci_lock_rescan_remove();
	pdev = pci_get_slot(pciem_bus.bus, PCI_DEVFN(dev->slot, 0));
	if (!pdev || pdev != dev->pdev) {
		pciem_log(dev, "start: the device was removed from the bus behind our back (sysfs?); STOP and REGISTER again");
		ret = -ENODEV;
	} else {
		pci_bus_add_device(dev->pdev);
	}
	pci_dev_put(pdev);
	pci_unlock_rescan_remove();
	return ret;
}

/* STOP: unbind the driver, take the device off the bus, free its BARs. */
void pciem_bus_detach(struct pciem_dev *dev)
{
	pci_lock_rescan_remove();
	pciem_unplug_locked(dev);
	pci_unlock_rescan_remove();
}
