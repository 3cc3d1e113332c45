// SPDX-License-Identifier: GPL-2.0-only
/*
 * The root bus's interrupt controllers: an MSI irq domain (MSI and MSI-X,
 * multi-message) whose messages name the Linux irq they stand for, and a
 * small level-triggered INTx domain with one line per slot.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/msi.h>
#include <linux/pci.h>
#include <linux/llist.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "pciem.h"
#include "pciem_irq_int.h"

/*
 * Our messages: address PCIEM_MSI_ADDR | requester id << 2, data the MSI
 * index. Nothing ever writes to that address; delivery decodes the message
 * the driver programmed back into the hwirq of our domain, the way an
 * interrupt controller would decode a memory write.
 */
#define PCIEM_MSI_ADDR		0xfee00000u
#define PCIEM_MSI_ADDR_MASK	0xfff00003u
#define PCIEM_MSI_RID_SHIFT	2
#define PCIEM_MSI_INDEX_BITS	11	/* as in pci_msi_domain_calc_hwirq() */

struct workqueue_struct *pciem_irq_wq;
static struct fwnode_handle *pciem_msi_fwnode;
static struct irq_domain *pciem_msi_domain;
static struct irq_domain *pciem_intx_domain;
static irq_hw_number_t pciem_msi_hwirq_base;	/* PCI domain bits of the hwirq */

static void pciem_msi_compose(struct irq_data *d, struct msi_msg *msg)
{
	u32 rid = (d->hwirq >> PCIEM_MSI_INDEX_BITS) & 0xffff;

	msg->address_hi = 0;
	msg->address_lo = PCIEM_MSI_ADDR | rid << PCIEM_MSI_RID_SHIFT;
	msg->data = d->hwirq & ((1u << PCIEM_MSI_INDEX_BITS) - 1);
}

/* Delivery never depends on a CPU: any affinity is fine (managed irqs too). */
static int pciem_irq_set_affinity(struct irq_data *d, const struct cpumask *mask,
				  bool force)
{
	unsigned int cpu = cpumask_first_and(mask, cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(mask);
	irq_data_update_effective_affinity(d, cpumask_of(cpu));
	return IRQ_SET_MASK_OK;
}

/* Edge flow: nothing to acknowledge at a virtual controller. */
static void pciem_irq_noop(struct irq_data *d)
{
}

/*
 * The core resends an edge it held back while the irq was disabled; it
 * calls us under the irq's lock, so the resend goes to the delivery worker
 * (like every delivery: a handler may wait for the host).
 */
struct pciem_resend {
	struct llist_node node;
	unsigned int virq;
};

static LLIST_HEAD(pciem_resends);

static void pciem_resend_fn(struct work_struct *work)
{
	struct llist_node *list = llist_reverse_order(llist_del_all(&pciem_resends));
	struct pciem_resend *r, *tmp;

	llist_for_each_entry_safe(r, tmp, list, node) {
		generic_handle_irq_safe(r->virq);
		kfree(r);
	}
}

static DECLARE_WORK(pciem_resend_work, pciem_resend_fn);

static int pciem_msi_retrigger(struct irq_data *d)
{
	struct pciem_resend *r = kmalloc(sizeof(*r), GFP_ATOMIC);

	if (!r)
		return 0;
	r->virq = d->irq;
	llist_add(&r->node, &pciem_resends);
	queue_work(pciem_irq_wq, &pciem_resend_work);
	return 1;
}

static struct irq_chip pciem_msi_chip = {
	.name = "PCIEM-MSI",
	.irq_ack = pciem_irq_noop,
	.irq_compose_msi_msg = pciem_msi_compose,
	.irq_set_affinity = pciem_irq_set_affinity,
	.irq_retrigger = pciem_msi_retrigger,
	/* irq_mask/irq_unmask: the PCI core's, they write the device's mask bits */
};

static struct msi_domain_info pciem_msi_info = {
	.flags = MSI_FLAG_USE_DEF_DOM_OPS | MSI_FLAG_USE_DEF_CHIP_OPS |
		 MSI_FLAG_MULTI_PCI_MSI | MSI_FLAG_PCI_MSIX,
	.chip = &pciem_msi_chip,
	.handler = handle_edge_irq,
	.handler_name = "edge",
};

unsigned int pciem_msi_find_irq(const struct pciem_vec_msg *msg)
{
	irq_hw_number_t hwirq;
	u32 rid;

	if (!pciem_msi_domain || msg->addr >> 32 ||
	    (msg->addr & PCIEM_MSI_ADDR_MASK) != PCIEM_MSI_ADDR ||
	    msg->data >> PCIEM_MSI_INDEX_BITS)
		return 0;
	rid = (msg->addr >> PCIEM_MSI_RID_SHIFT) & 0xffff;
	hwirq = pciem_msi_hwirq_base | (irq_hw_number_t)rid << PCIEM_MSI_INDEX_BITS |
		msg->data;
	return irq_find_mapping(pciem_msi_domain, hwirq);
}

/* ---- INTx ---------------------------------------------------------------- */

static void pciem_intx_mask(struct irq_data *d)
{
}

/* End of a level flow: a line still asserted comes back, as after an EOI. */
static void pciem_intx_unmask(struct irq_data *d)
{
	pciem_irq_intx_unmasked(d->irq, irq_data_get_irq_chip_data(d));
}

static struct irq_chip pciem_intx_chip = {
	.name = "PCIEM-INTx",
	.irq_mask = pciem_intx_mask,
	.irq_unmask = pciem_intx_unmask,
	.irq_set_affinity = pciem_irq_set_affinity,
};

static int pciem_intx_map(struct irq_domain *d, unsigned int virq, irq_hw_number_t hw)
{
	irq_set_chip_and_handler(virq, &pciem_intx_chip, handle_level_irq);
	irq_set_status_flags(virq, IRQ_LEVEL);
	return 0;
}

static const struct irq_domain_ops pciem_intx_domain_ops = {
	.map = pciem_intx_map,
	.xlate = irq_domain_xlate_onecell,
};

/* All four pins of a slot share its line: one function per slot. */
unsigned int pciem_intx_irq(unsigned int slot, bool create)
{
	if (!pciem_intx_domain || slot >= PCIEM_NUM_SLOTS)
		return 0;
	return create ? irq_create_mapping(pciem_intx_domain, slot) :
			irq_find_mapping(pciem_intx_domain, slot);
}

/*
 * pci_assign_irq() at driver probe. The pin the PCI core cached at scan only
 * feeds firmware routing, and x86's ACPI code knows none for our domain: it
 * would warn at every enable/disable of the device. Clearing the cache keeps
 * it out; the pin itself stays in config space.
 */
static int pciem_map_irq(const struct pci_dev *pdev, u8 slot, u8 pin)
{
	unsigned int virq = pciem_intx_irq(PCI_SLOT(pdev->devfn), true);

	if (!virq)
		return -1;
	((struct pci_dev *)pdev)->pin = 0;
	return virq;
}

int pciem_irq_bus_init(struct pci_bus *bus)
{
	struct pci_host_bridge *bridge = pci_find_host_bridge(bus);
	int ret = -ENOMEM;

	pciem_irq_wq = alloc_workqueue("pciem_irq", WQ_UNBOUND | WQ_HIGHPRI, 0);
	if (!pciem_irq_wq)
		return -ENOMEM;
	pciem_msi_fwnode = irq_domain_alloc_named_fwnode("pciem-msi");
	if (!pciem_msi_fwnode)
		goto err_wq;
	pciem_msi_domain = pci_msi_create_irq_domain(pciem_msi_fwnode, &pciem_msi_info, NULL);
	if (!pciem_msi_domain)
		goto err_fwnode;
	pciem_intx_domain = irq_domain_create_linear(NULL, PCIEM_NUM_SLOTS,
						     &pciem_intx_domain_ops, NULL);
	if (!pciem_intx_domain)
		goto err_msi;
	irq_domain_update_bus_token(pciem_intx_domain, DOMAIN_BUS_WIRED);
	pciem_msi_hwirq_base = (irq_hw_number_t)(pci_domain_nr(bus) & 0xffffffff) << 27;
	/* x86 gives each scanned pci_dev the MSI domain of its bus. */
	dev_set_msi_domain(&bus->dev, pciem_msi_domain);
	bridge->map_irq = pciem_map_irq;
	return 0;

err_msi:
	irq_domain_remove(pciem_msi_domain);
	pciem_msi_domain = NULL;
err_fwnode:
	irq_domain_free_fwnode(pciem_msi_fwnode);
	pciem_msi_fwnode = NULL;
err_wq:
	destroy_workqueue(pciem_irq_wq);
	pciem_irq_wq = NULL;
	return ret;
}

void pciem_irq_bus_exit(void)
{
	unsigned int slot, virq;

	flush_work(&pciem_resend_work);

	if (pciem_intx_domain) {
		for (slot = 0; slot < PCIEM_NUM_SLOTS; slot++) {
			virq = irq_find_mapping(pciem_intx_domain, slot);
			if (virq)
				irq_dispose_mapping(virq);
		}
		irq_domain_remove(pciem_intx_domain);
		pciem_intx_domain = NULL;
	}
	if (pciem_msi_domain) {
		irq_domain_remove(pciem_msi_domain);
		pciem_msi_domain = NULL;
	}
	if (pciem_msi_fwnode) {
		irq_domain_free_fwnode(pciem_msi_fwnode);
		pciem_msi_fwnode = NULL;
	}
	if (pciem_irq_wq) {
		destroy_workqueue(pciem_irq_wq);
		pciem_irq_wq = NULL;
	}
}
