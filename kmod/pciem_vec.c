// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Interrupt vector decisions (MSI, MSI-X masks and pending bits, INTx level),
 * shared by pciem.ko and the host's sim backend.
 */
#include "pciem_vec.h"
#include <linux/pci_regs.h>

/* MSI-X table entry: address lo, address hi, data, vector control. */
#define ENTRY_ADDR_LO	0
#define ENTRY_ADDR_HI	4
#define ENTRY_DATA	8
#define ENTRY_CTRL	12

static u32 le32_at(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

static u32 cfg_rd(const struct pciem_cfg *cfg, u32 off, u32 width)
{
	return pciem_cfg_read(cfg, off, width);
}

int pciem_vec_msix_layout(const struct pciem_cfg *cfg, struct pciem_vec_msix_layout *l)
{
	u32 table, pba;

	if (!cfg->msix_off)
		return -ENODEV;
	l->vectors = (cfg_rd(cfg, cfg->msix_off + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
	table = cfg_rd(cfg, cfg->msix_off + PCI_MSIX_TABLE, 4);
	pba = cfg_rd(cfg, cfg->msix_off + PCI_MSIX_PBA, 4);
	l->table_bar = table & PCI_MSIX_TABLE_BIR;
	l->table_offset = table & PCI_MSIX_TABLE_OFFSET;
	l->table_len = l->vectors * PCI_MSIX_ENTRY_SIZE;
	l->pba_bar = pba & PCI_MSIX_PBA_BIR;
	l->pba_offset = pba & PCI_MSIX_PBA_OFFSET;
	l->pba_len = ((l->vectors + 63) / 64) * 8;
	return 0;
}

bool pciem_vec_msix_enabled(const struct pciem_cfg *cfg)
{
	return cfg->msix_off &&
	       (cfg_rd(cfg, cfg->msix_off + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE);
}

bool pciem_vec_msi_enabled(const struct pciem_cfg *cfg)
{
	return cfg->msi_off &&
	       (cfg_rd(cfg, cfg->msi_off + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE);
}

static bool msix_function_masked(const struct pciem_cfg *cfg)
{
	return cfg_rd(cfg, cfg->msix_off + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_MASKALL;
}

/* The table and PBA bytes, or NULL when a BAR shadow is missing. */
static u8 *msix_table(const struct pciem_vec_msix_layout *l, pciem_vec_bars bars)
{
	return bars[l->table_bar] ? (u8 *)bars[l->table_bar] + l->table_offset : NULL;
}

static u8 *msix_pba(const struct pciem_vec_msix_layout *l, pciem_vec_bars bars)
{
	return bars[l->pba_bar] ? (u8 *)bars[l->pba_bar] + l->pba_offset : NULL;
}

int pciem_vec_msix_entry(const struct pciem_cfg *cfg, pciem_vec_bars bars, u32 vector,
			 struct pciem_vec_msg *msg, bool *masked)
{
	struct pciem_vec_msix_layout l;
	const u8 *e;

	if (pciem_vec_msix_layout(cfg, &l) || !msix_table(&l, bars))
		return -ENODEV;
	if (vector >= l.vectors)
		return -EINVAL;
	e = msix_table(&l, bars) + vector * PCI_MSIX_ENTRY_SIZE;
	msg->addr = (u64)le32_at(e + ENTRY_ADDR_HI) << 32 | le32_at(e + ENTRY_ADDR_LO);
	msg->data = le32_at(e + ENTRY_DATA);
	msg->vector = vector;
	msg->msix = true;
	*masked = le32_at(e + ENTRY_CTRL) & PCI_MSIX_ENTRY_CTRL_MASKBIT;
	return 0;
}

static bool pba_test(const u8 *pba, u32 v)
{
	return pba[v / 8] >> (v % 8) & 1;
}

static void pba_set(u8 *pba, u32 v, bool on)
{
	if (on)
		pba[v / 8] |= (u8)(1u << (v % 8));
	else
		pba[v / 8] &= (u8)~(1u << (v % 8));
}

static int raise_msix(struct pciem_cfg *cfg, pciem_vec_bars bars, u32 vector,
		      struct pciem_vec_msg *msg)
{
	struct pciem_vec_msix_layout l;
	bool masked;
	int ret;

	ret = pciem_vec_msix_entry(cfg, bars, vector, msg, &masked);
	if (ret)
		return ret;
	pciem_vec_msix_layout(cfg, &l);
	if (masked || msix_function_masked(cfg)) {
		if (msix_pba(&l, bars))
			pba_set(msix_pba(&l, bars), vector, true);
		return PCIEM_VEC_PENDING;
	}
	return PCIEM_VEC_DELIVER;
}

static u32 msi_pending_bits(const struct pciem_cfg *cfg, u32 *pending_at)
{
	u32 ctrl = cfg_rd(cfg, cfg->msi_off + PCI_MSI_FLAGS, 2);
	u32 mask_at = cfg->msi_off + ((ctrl & PCI_MSI_FLAGS_64BIT) ? PCI_MSI_MASK_64 :
				      PCI_MSI_MASK_32);

	if (!(ctrl & PCI_MSI_FLAGS_MASKBIT))
		return 0;
	*pending_at = mask_at + 4;
	return cfg_rd(cfg, mask_at + 4, 4);
}

static int raise_msi(struct pciem_cfg *cfg, u32 vector, struct pciem_vec_msg *msg)
{
	bool masked;
	int ret;

	ret = pciem_cfg_msi_message(cfg, vector, &msg->addr, &msg->data, &masked);
	if (ret)
		return ret == -ENODEV ? -ENOTCONN : ret;
	msg->vector = vector;
	msg->msix = false;
	if (masked) {
		pciem_cfg_msi_set_pending(cfg, vector, true);
		return PCIEM_VEC_PENDING;
	}
	return PCIEM_VEC_DELIVER;
}

int pciem_vec_raise(struct pciem_cfg *cfg, pciem_vec_bars bars, u32 vector,
		    struct pciem_vec_msg *msg)
{
	if (pciem_vec_msix_enabled(cfg))
		return raise_msix(cfg, bars, vector, msg);
	if (pciem_vec_msi_enabled(cfg))
		return raise_msi(cfg, vector, msg);
	return -ENOTCONN;
}

static bool next_msix(struct pciem_cfg *cfg, pciem_vec_bars bars, u32 *cursor,
		      struct pciem_vec_msg *msg)
{
	struct pciem_vec_msix_layout l;
	bool masked;
	u8 *pba;
	u32 v;

	if (msix_function_masked(cfg) || pciem_vec_msix_layout(cfg, &l))
		return false;
	pba = msix_pba(&l, bars);
	if (!pba || !msix_table(&l, bars))
		return false;
	for (v = *cursor; v < l.vectors; v++) {
		if (!pba[v / 8]) {	/* skip empty bytes quickly */
			v |= 7;
			continue;
		}
		if (!pba_test(pba, v))
			continue;
		pciem_vec_msix_entry(cfg, bars, v, msg, &masked);
		if (masked)
			continue;
		pba_set(pba, v, false);
		*cursor = v + 1;
		return true;
	}
	*cursor = l.vectors;
	return false;
}

static bool next_msi(struct pciem_cfg *cfg, u32 *cursor, struct pciem_vec_msg *msg)
{
	u32 pending_at = 0, pending = msi_pending_bits(cfg, &pending_at);
	bool masked;
	u32 v;

	for (v = *cursor; v < PCIEM_MSI_MAX_VECTORS && pending >> v; v++) {
		if (!(pending >> v & 1))
			continue;
		/* A pending vector beyond the enabled count stays pending. */
		if (pciem_cfg_msi_message(cfg, v, &msg->addr, &msg->data, &masked) || masked)
			continue;
		pciem_cfg_msi_set_pending(cfg, v, false);
		msg->vector = v;
		msg->msix = false;
		*cursor = v + 1;
		return true;
	}
	*cursor = PCIEM_MSI_MAX_VECTORS;
	return false;
}

bool pciem_vec_next_unmasked(struct pciem_cfg *cfg, pciem_vec_bars bars, u32 *cursor,
			     struct pciem_vec_msg *msg)
{
	if (pciem_vec_msix_enabled(cfg))
		return next_msix(cfg, bars, cursor, msg);
	if (pciem_vec_msi_enabled(cfg))
		return next_msi(cfg, cursor, msg);
	return false;
}

void pciem_vec_reset(struct pciem_cfg *cfg, pciem_vec_bars bars)
{
	struct pciem_vec_msix_layout l;
	u32 pending_at, v;
	u8 *table, *pba;

	if (cfg->msi_off && msi_pending_bits(cfg, &pending_at))
		for (v = 0; v < PCIEM_MSI_MAX_VECTORS; v++)
			pciem_cfg_msi_set_pending(cfg, v, false);
	if (pciem_vec_msix_layout(cfg, &l))
		return;
	table = msix_table(&l, bars);
	pba = msix_pba(&l, bars);
	if (pba)
		memset(pba, 0, l.pba_len);
	if (table)
		for (v = 0; v < l.vectors; v++) {
			u8 *ctrl = table + v * PCI_MSIX_ENTRY_SIZE + ENTRY_CTRL;

			ctrl[0] |= PCI_MSIX_ENTRY_CTRL_MASKBIT;
		}
}

int pciem_vec_intx_set(struct pciem_cfg *cfg, bool asserted)
{
	u32 status;

	if (!cfg_rd(cfg, PCI_INTERRUPT_PIN, 1))
		return -ENOTCONN;
	status = cfg_rd(cfg, PCI_STATUS, 2) & ~(u32)PCI_STATUS_INTERRUPT;
	if (asserted)
		status |= PCI_STATUS_INTERRUPT;
	/* Interrupt Status is device-owned; the rest is rewritten unchanged. */
	return pciem_cfg_dev_write(cfg, PCI_STATUS, 2, status);
}

bool pciem_vec_intx_line(const struct pciem_cfg *cfg)
{
	return cfg_rd(cfg, PCI_INTERRUPT_PIN, 1) &&
	       (cfg_rd(cfg, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT) &&
	       !(pciem_cfg_command(cfg) & PCI_COMMAND_INTX_DISABLE) &&
	       !pciem_vec_msi_enabled(cfg) && !pciem_vec_msix_enabled(cfg);
}
