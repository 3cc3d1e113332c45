// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Config space engine: a type 0 header, memory BARs and a capability chain
 * built from uapi descriptions, and the OS-side / device-side access rules.
 */
#include "pciem_cfg.h"
#include <linux/pci_regs.h>

#define PCIEM_STD_CAP_START	0x40
#define PCIEM_STD_CAP_END	0x100
#define PCIEM_EXT_CAP_START	0x100
#define PCIEM_EXT_CAP_END	PCIEM_CFG_SIZE

/* Status bits the OS clears by writing 1 (all error flags of a type 0 header). */
#define STATUS_RW1C	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | \
			 PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT | \
			 PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)
/* Command bits the OS may set; the rest are hardwired 0 on a PCIe function. */
#define COMMAND_WMASK	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
			 PCI_COMMAND_PARITY | PCI_COMMAND_SERR | \
			 PCI_COMMAND_INTX_DISABLE)

/* Sizes of the capability bodies this engine builds. */
#define PCIE_CAP_LEN		0x3c
#define PM_CAP_LEN		8
#define MSIX_CAP_LEN		12
#define VENDOR_HDR_LEN		3
#define VENDOR_MAX_LEN		0xfc
#define EXT_HDR_LEN		4

static const char *const cap_names[] = {
	[PCIEM_CAP_PCIE] = "pcie",
	[PCIEM_CAP_PM] = "pm",
	[PCIEM_CAP_MSI] = "msi",
	[PCIEM_CAP_MSIX] = "msix",
	[PCIEM_CAP_VENDOR] = "vendor",
	[PCIEM_CAP_EXT_RAW] = "ext_raw",
};

static const char *cap_name(u16 kind)
{
	if (kind >= PCIEM_CAP_PCIE && kind <= PCIEM_CAP_EXT_RAW)
		return cap_names[kind];
	return "?";
}

static __printf(3, 4) int fail(struct pciem_cfg *cfg, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cfg->err, sizeof(cfg->err), fmt, ap);
	va_end(ap);
	return err;
}

static u32 get_le(const u8 *bytes, u32 off, u32 width)
{
	u32 val = 0, i;

	for (i = 0; i < width; i++)
		val |= (u32)bytes[off + i] << (8 * i);
	return val;
}

static void put_le(u8 *bytes, u32 off, u32 width, u32 val)
{
	u32 i;

	for (i = 0; i < width; i++)
		bytes[off + i] = (u8)(val >> (8 * i));
}

/* Define one register: its reset value and who may change which bits. */
static void def_reg(struct pciem_cfg *cfg, u32 off, u32 width, u32 val,
		    u32 wmask, u32 w1c, u32 dev)
{
	put_le(cfg->data, off, width, val);
	put_le(cfg->wmask, off, width, wmask);
	put_le(cfg->w1cmask, off, width, w1c);
	put_le(cfg->devmask, off, width, dev);
}

static bool access_ok(u32 offset, u32 width)
{
	if (width != 1 && width != 2 && width != 4)
		return false;
	return (offset & (width - 1)) == 0 && offset < PCIEM_CFG_SIZE &&
	       offset + width <= PCIEM_CFG_SIZE;
}

static bool is_pow2(u64 v)
{
	return v && !(v & (v - 1));
}

static u32 ilog2_u32(u32 v)
{
	u32 n = 0;

	while (v >>= 1)
		n++;
	return n;
}

/* ---- identity ---------------------------------------------------------- */

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static int check_device_desc(struct pciem_cfg *cfg, const struct pciem_device_desc *d)
{
	u32 i, len;

	if (d->size != sizeof(*d))
		return fail(cfg, -EINVAL, "device: size %u, expected %u",
			    d->size, (u32)sizeof(*d));
	if (d->flags)
		return fail(cfg, -EINVAL, "device: flags 0x%x unknown, must be 0", d->flags);
	for (i = 0; i < sizeof(d->reserved0); i++)
		if (d->reserved0[i])
			return fail(cfg, -EINVAL, "device: reserved0[%u] is 0x%x, must be 0",
				    i, d->reserved0[i]);
	for (i = 0; i < PCIEM_ARRAY_LEN(d->reserved); i++)
		if (d->reserved[i])
			return fail(cfg, -EINVAL, "device: reserved[%u] is 0x%x, must be 0",
				    i, d->reserved[i]);
	if (d->vendor_id == 0xffff || d->vendor_id == 0)
		return fail(cfg, -EINVAL, "device: vendor_id 0x%04x is not a valid vendor",
			    d->vendor_id);
	if (d->intx_pin > 4)
		return fail(cfg, -EINVAL, "device: intx_pin %u out of range 0..4", d->intx_pin);
	for (len = 0; len < sizeof(d->name) && d->name[len]; len++)
		if (!name_char_ok(d->name[len]))
			return fail(cfg, -EINVAL,
				    "device: name has character 0x%02x at %u, allowed [A-Za-z0-9_.-]",
				    (u8)d->name[len], len);
	if (len == sizeof(d->name))
		return fail(cfg, -EINVAL, "device: name is not NUL-terminated within %u bytes",
			    (u32)sizeof(d->name));
	if (len == 0)
		return fail(cfg, -EINVAL, "device: name is empty");
	return 0;
}

int pciem_cfg_init(struct pciem_cfg *cfg, const struct pciem_device_desc *d)
{
	int err = check_device_desc(cfg, d);

	if (err)
		return err;
	memset(cfg, 0, sizeof(*cfg));

	def_reg(cfg, PCI_VENDOR_ID, 2, d->vendor_id, 0, 0, 0);
	def_reg(cfg, PCI_DEVICE_ID, 2, d->device_id, 0, 0, 0);
	def_reg(cfg, PCI_COMMAND, 2, 0, COMMAND_WMASK, 0, 0);
	/* The device reports errors and INTx state; CapList is ours. */
	def_reg(cfg, PCI_STATUS, 2, 0, 0, STATUS_RW1C,
		STATUS_RW1C | PCI_STATUS_INTERRUPT);
	def_reg(cfg, PCI_CLASS_REVISION, 4,
		d->revision | d->prog_if << 8 | d->subclass << 16 | (u32)d->class_code << 24,
		0, 0, 0);
	def_reg(cfg, PCI_CACHE_LINE_SIZE, 1, 0, 0xff, 0, 0);
	def_reg(cfg, PCI_LATENCY_TIMER, 1, 0, 0xff, 0, 0);
	def_reg(cfg, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL, 0, 0, 0);
	def_reg(cfg, PCI_SUBSYSTEM_VENDOR_ID, 2, d->subsys_vendor_id, 0, 0, 0);
	def_reg(cfg, PCI_SUBSYSTEM_ID, 2, d->subsys_id, 0, 0, 0);
	def_reg(cfg, PCI_INTERRUPT_LINE, 1, 0, 0xff, 0, 0);
	def_reg(cfg, PCI_INTERRUPT_PIN, 1, d->intx_pin, 0, 0, 0);
	/* BARs, ROM, Cardbus CIS, capability pointer, BIST, Min_Gnt/Max_Lat: 0, RO. */
	return 0;
}

/* ---- BARs -------------------------------------------------------------- */

int pciem_cfg_add_bar(struct pciem_cfg *cfg, const struct pciem_bar_desc *b)
{
	u32 i, idx = b->index, lo_off, lo_val, lo_mask;
	u64 size_mask;
	bool is64 = b->flags & PCIEM_BAR_MEM64;

	if (cfg->finished)
		return fail(cfg, -EBUSY, "bar %u: description is already finished", idx);
	if (b->size != sizeof(*b))
		return fail(cfg, -EINVAL, "bar: size %u, expected %u", b->size, (u32)sizeof(*b));
	if (idx >= PCIEM_NUM_BARS)
		return fail(cfg, -EINVAL, "bar %u: index out of range 0..5", idx);
	if (b->flags & ~(u32)(PCIEM_BAR_MEM64 | PCIEM_BAR_PREFETCH))
		return fail(cfg, -EINVAL, "bar %u: flags 0x%x has unknown bits", idx, b->flags);
	for (i = 0; i < PCIEM_ARRAY_LEN(b->reserved); i++)
		if (b->reserved[i])
			return fail(cfg, -EINVAL, "bar %u: reserved[%u] is 0x%x, must be 0",
				    idx, i, b->reserved[i]);
	if (!is_pow2(b->length))
		return fail(cfg, -EINVAL, "bar %u: length 0x%llx is not a power of two",
			    idx, (unsigned long long)b->length);
	if (b->length < PCIEM_BAR_MIN_SIZE)
		return fail(cfg, -EINVAL, "bar %u: length 0x%llx is below the minimum 0x%x",
			    idx, (unsigned long long)b->length, PCIEM_BAR_MIN_SIZE);
	if (!is64 && b->length > 0x80000000ULL)
		return fail(cfg, -EINVAL,
			    "bar %u: length 0x%llx is too large for a 32-bit BAR (max 2 GiB)",
			    idx, (unsigned long long)b->length);
	if (is64 && idx == PCIEM_NUM_BARS - 1)
		return fail(cfg, -EINVAL, "bar %u: a 64-bit BAR cannot start at index 5", idx);
	if (pciem_cfg_bar_is_upper(cfg, idx))
		return fail(cfg, -EEXIST,
			    "bar %u: slot already taken by the upper half of 64-bit bar %u",
			    idx, idx - 1);
	if (cfg->bar_len[idx])
		return fail(cfg, -EEXIST, "bar %u: already described", idx);
	if (is64 && cfg->bar_len[idx + 1])
		return fail(cfg, -EEXIST,
			    "bar %u: 64-bit BAR needs slot %u, which is already described",
			    idx, idx + 1);

	/* Sizing falls out of the write mask: all-ones reads back ~(len - 1). */
	size_mask = ~(b->length - 1);
	lo_off = PCI_BASE_ADDRESS_0 + 4 * idx;
	lo_val = PCI_BASE_ADDRESS_SPACE_MEMORY |
		 (is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : PCI_BASE_ADDRESS_MEM_TYPE_32) |
		 ((b->flags & PCIEM_BAR_PREFETCH) ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
	lo_mask = (u32)size_mask & (u32)PCI_BASE_ADDRESS_MEM_MASK;
	def_reg(cfg, lo_off, 4, lo_val, lo_mask, 0, 0);
	cfg->bar_len[idx] = b->length;
	cfg->bar_flags[idx] = b->flags;
	if (is64) {
		def_reg(cfg, lo_off + 4, 4, 0, (u32)(size_mask >> 32), 0, 0);
		cfg->bar_len[idx + 1] = b->length;
		cfg->bar_flags[idx + 1] = 0;
	}
	return 0;
}

/* ---- capabilities: validation ----------------------------------------- */

static int check_reserved_words(struct pciem_cfg *cfg, const char *what,
				const u32 *words, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (words[i])
			return fail(cfg, -EINVAL, "cap %s: reserved[%u] is 0x%x, must be 0",
				    what, i, words[i]);
	return 0;
}

static int check_pcie(struct pciem_cfg *cfg, const struct pciem_cap_pcie *p, u32 *len)
{
	u8 w = p->link_width;

	if (p->port_type != PCIEM_PCIE_ENDPOINT && p->port_type != PCIEM_PCIE_LEGACY_ENDPOINT &&
	    p->port_type != PCIEM_PCIE_RC_ENDPOINT)
		return fail(cfg, -EINVAL,
			    "cap pcie: port_type 0x%x is not an endpoint type (0x0, 0x1 or 0x9)",
			    p->port_type);
	if (p->max_payload > 5)
		return fail(cfg, -EINVAL, "cap pcie: max_payload %u out of range 0..5 (128..4096 bytes)",
			    p->max_payload);
	if (p->link_speed > 5)
		return fail(cfg, -EINVAL, "cap pcie: link_speed %u out of range 0..5", p->link_speed);
	if (w != 0 && w != 1 && w != 2 && w != 4 && w != 8 && w != 12 && w != 16 && w != 32)
		return fail(cfg, -EINVAL,
			    "cap pcie: link_width %u is not 1, 2, 4, 8, 12, 16 or 32 (0 = 1)", w);
	*len = PCIE_CAP_LEN;
	return check_reserved_words(cfg, "pcie", p->reserved, PCIEM_ARRAY_LEN(p->reserved));
}

static int check_pm(struct pciem_cfg *cfg, const struct pciem_cap_pm *p, u32 *len)
{
	if (p->d1 > 1 || p->d2 > 1)
		return fail(cfg, -EINVAL, "cap pm: d1 %u / d2 %u must be 0 or 1", p->d1, p->d2);
	if (p->pme_support > 0x1f)
		return fail(cfg, -EINVAL, "cap pm: pme_support 0x%x has bits above D3cold (0x10)",
			    p->pme_support);
	if ((p->pme_support & 0x02) && !p->d1)
		return fail(cfg, -EINVAL, "cap pm: pme_support 0x%x claims PME from D1 without d1",
			    p->pme_support);
	if ((p->pme_support & 0x04) && !p->d2)
		return fail(cfg, -EINVAL, "cap pm: pme_support 0x%x claims PME from D2 without d2",
			    p->pme_support);
	if (p->reserved0)
		return fail(cfg, -EINVAL, "cap pm: reserved0 is 0x%x, must be 0", p->reserved0);
	*len = PM_CAP_LEN;
	return check_reserved_words(cfg, "pm", p->reserved, PCIEM_ARRAY_LEN(p->reserved));
}

static u32 msi_len(const struct pciem_cap_msi *m)
{
	if (m->per_vector_mask)
		return m->addr64 ? 0x18 : 0x14;
	return m->addr64 ? 0x0e : 0x0a;
}

static int check_msi(struct pciem_cfg *cfg, const struct pciem_cap_msi *m, u32 *len)
{
	if (!is_pow2(m->vectors) || m->vectors > PCIEM_MSI_MAX_VECTORS)
		return fail(cfg, -EINVAL, "cap msi: vectors %u is not 1, 2, 4, 8, 16 or 32",
			    m->vectors);
	if (m->addr64 > 1)
		return fail(cfg, -EINVAL, "cap msi: addr64 %u must be 0 or 1", m->addr64);
	if (m->per_vector_mask > 1)
		return fail(cfg, -EINVAL, "cap msi: per_vector_mask %u must be 0 or 1",
			    m->per_vector_mask);
	*len = msi_len(m);
	return check_reserved_words(cfg, "msi", m->reserved, PCIEM_ARRAY_LEN(m->reserved));
}

static int check_msix(struct pciem_cfg *cfg, const struct pciem_cap_msix *m, u32 *len)
{
	if (m->vectors < 1 || m->vectors > PCIEM_MSIX_MAX_VECTORS)
		return fail(cfg, -EINVAL, "cap msix: vectors %u out of range 1..2048", m->vectors);
	if (m->table_bar >= PCIEM_NUM_BARS)
		return fail(cfg, -EINVAL, "cap msix: table_bar %u out of range 0..5", m->table_bar);
	if (m->pba_bar >= PCIEM_NUM_BARS)
		return fail(cfg, -EINVAL, "cap msix: pba_bar %u out of range 0..5", m->pba_bar);
	if (m->table_offset & 7)
		return fail(cfg, -EINVAL, "cap msix: table_offset 0x%x is not 8-byte aligned",
			    m->table_offset);
	if (m->pba_offset & 7)
		return fail(cfg, -EINVAL, "cap msix: pba_offset 0x%x is not 8-byte aligned",
			    m->pba_offset);
	*len = MSIX_CAP_LEN;
	return check_reserved_words(cfg, "msix", m->reserved, PCIEM_ARRAY_LEN(m->reserved));
}

static int check_raw(struct pciem_cfg *cfg, u16 kind, const struct pciem_cap_raw *r,
		     const void *payload, u32 *len)
{
	const char *name = cap_name(kind);

	if (r->reserved0)
		return fail(cfg, -EINVAL, "cap %s: raw.reserved0 is 0x%x, must be 0",
			    name, r->reserved0);
	if (kind == PCIEM_CAP_VENDOR) {
		if (r->id || r->version)
			return fail(cfg, -EINVAL,
				    "cap vendor: raw.id 0x%x / raw.version %u must be 0 (ext_raw only)",
				    r->id, r->version);
		if (r->length > VENDOR_MAX_LEN - VENDOR_HDR_LEN)
			return fail(cfg, -EINVAL,
				    "cap vendor: raw.length %u too long (at most %u payload bytes)",
				    r->length, VENDOR_MAX_LEN - VENDOR_HDR_LEN);
		*len = VENDOR_HDR_LEN + r->length;
	} else {
		if (!r->id)
			return fail(cfg, -EINVAL, "cap ext_raw: raw.id 0 is not a capability ID");
		if (r->version > 15)
			return fail(cfg, -EINVAL, "cap ext_raw: raw.version %u out of range 0..15",
				    r->version);
		if (r->length & 3)
			return fail(cfg, -EINVAL,
				    "cap ext_raw: raw.length %u is not a multiple of 4", r->length);
		if (r->length > PCIEM_CAP_DATA_MAX)
			return fail(cfg, -EINVAL, "cap ext_raw: raw.length %u above the maximum %u",
				    r->length, PCIEM_CAP_DATA_MAX);
		*len = EXT_HDR_LEN + r->length;
	}
	if (r->length && !payload)
		return fail(cfg, -EINVAL, "cap %s: raw.length %u but no payload", name, r->length);
	return 0;
}

static u16 *singleton_slot(struct pciem_cfg *cfg, u16 kind)
{
	switch (kind) {
	case PCIEM_CAP_PCIE:
		return &cfg->pcie_off;
	case PCIEM_CAP_PM:
		return &cfg->pm_off;
	case PCIEM_CAP_MSI:
		return &cfg->msi_off;
	case PCIEM_CAP_MSIX:
		return &cfg->msix_off;
	}
	return NULL;
}

static bool cap_is_ext(u16 kind)
{
	return kind == PCIEM_CAP_EXT_RAW;
}

/* The last capability of the same space (standard or extended), or NULL. */
static const struct pciem_cfg_cap *last_cap(const struct pciem_cfg *cfg, bool ext)
{
	u32 i = cfg->ncaps;

	while (i--)
		if (cap_is_ext(cfg->caps[i].kind) == ext)
			return &cfg->caps[i];
	return NULL;
}

static int place_cap(struct pciem_cfg *cfg, const struct pciem_cap_desc *c, u32 len,
		     u32 *out)
{
	bool ext = cap_is_ext(c->kind);
	const char *name = cap_name(c->kind);
	u32 lo = ext ? PCIEM_EXT_CAP_START : PCIEM_STD_CAP_START;
	u32 hi = ext ? PCIEM_EXT_CAP_END : PCIEM_STD_CAP_END;
	const struct pciem_cfg_cap *prev = last_cap(cfg, ext);
	u32 off, i;

	if (!c->offset) {
		off = prev ? ((prev->offset + prev->length + 3) & ~3u) : lo;
	} else {
		off = c->offset;
		if (off & 3)
			return fail(cfg, -EINVAL, "cap %s: offset 0x%x is not dword aligned",
				    name, off);
		if (off < lo || off >= hi)
			return fail(cfg, -EINVAL, "cap %s: offset 0x%x outside 0x%x..0x%x",
				    name, off, lo, hi - 1);
		/* Software finds the extended chain at 0x100 and nowhere else. */
		if (ext && !prev && off != PCIEM_EXT_CAP_START)
			return fail(cfg, -EINVAL,
				    "cap %s: offset 0x%x, but the first extended capability must be at 0x100",
				    name, off);
	}
	if (off + len > hi)
		return fail(cfg, -ENOSPC, "cap %s at 0x%x: %u bytes do not fit below 0x%x",
			    name, off, len, hi);
	for (i = 0; i < cfg->ncaps; i++) {
		const struct pciem_cfg_cap *o = &cfg->caps[i];

		if (off < (u32)o->offset + o->length && o->offset < off + len)
			return fail(cfg, -EINVAL, "cap %s at 0x%02x overlaps cap %s at 0x%02x..0x%02x",
				    name, off, cap_name(o->kind), o->offset,
				    o->offset + o->length - 1);
	}
	*out = off;
	return 0;
}

/* ---- capabilities: building ------------------------------------------- */

static void build_pcie(struct pciem_cfg *cfg, u32 off, const struct pciem_cap_pcie *p)
{
	u32 speed = p->link_speed ? p->link_speed : 1;
	u32 width = p->link_width ? p->link_width : 1;
	u32 devctl_wmask = PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE | PCI_EXP_DEVCTL_FERE |
			   PCI_EXP_DEVCTL_URRE | PCI_EXP_DEVCTL_RELAX_EN |
			   PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_EXT_TAG |
			   PCI_EXP_DEVCTL_PHANTOM | PCI_EXP_DEVCTL_AUX_PME |
			   PCI_EXP_DEVCTL_NOSNOOP_EN | PCI_EXP_DEVCTL_READRQ;
	u32 devsta_err = PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_NFED | PCI_EXP_DEVSTA_FED |
			 PCI_EXP_DEVSTA_URD;

	def_reg(cfg, off + PCI_EXP_FLAGS, 2, 2 | (u32)p->port_type << 4, 0, 0, 0);
	def_reg(cfg, off + PCI_EXP_DEVCAP, 4,
		p->max_payload | PCI_EXP_DEVCAP_EXT_TAG | PCI_EXP_DEVCAP_RBER, 0, 0, 0);
	/* Reset values: MPS 128, MRRS 512, relaxed ordering and no-snoop enabled. */
	def_reg(cfg, off + PCI_EXP_DEVCTL, 2,
		PCI_EXP_DEVCTL_READRQ_512B | PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN,
		devctl_wmask, 0, 0);
	def_reg(cfg, off + PCI_EXP_DEVSTA, 2, 0, 0, devsta_err,
		devsta_err | PCI_EXP_DEVSTA_AUXPD | PCI_EXP_DEVSTA_TRPND);
	def_reg(cfg, off + PCI_EXP_DEVCAP2, 4, PCI_EXP_DEVCAP2_COMP_TMOUT_DIS, 0, 0, 0);
	def_reg(cfg, off + PCI_EXP_DEVCTL2, 2, 0, PCI_EXP_DEVCTL2_COMP_TMOUT_DIS, 0, 0);
	if (p->port_type == PCIEM_PCIE_RC_ENDPOINT)
		return;	/* no link: the link registers stay 0 */

	def_reg(cfg, off + PCI_EXP_LNKCAP, 4, speed | width << 4, 0, 0, 0);
	def_reg(cfg, off + PCI_EXP_LNKCTL, 2, 0,
		PCI_EXP_LNKCTL_RCB | PCI_EXP_LNKCTL_CCC | PCI_EXP_LNKCTL_ES |
		PCI_EXP_LNKCTL_HAWD, 0, 0);
	/* The device may model link retraining or a narrower link. */
	def_reg(cfg, off + PCI_EXP_LNKSTA, 2, speed | width << 4, 0, 0,
		PCI_EXP_LNKSTA_CLS | PCI_EXP_LNKSTA_NLW | PCI_EXP_LNKSTA_LT |
		PCI_EXP_LNKSTA_SLC | PCI_EXP_LNKSTA_DLLLA);
	def_reg(cfg, off + PCI_EXP_LNKCAP2, 4, ((1u << speed) - 1) << 1, 0, 0, 0);
	def_reg(cfg, off + PCI_EXP_LNKCTL2, 2, speed, PCI_EXP_LNKCTL2_TLS, 0, 0);
}

static void build_pm(struct pciem_cfg *cfg, u32 off, const struct pciem_cap_pm *p)
{
	/* Version 3: PCI Power Management 1.2. */
	def_reg(cfg, off + PCI_PM_PMC, 2,
		3 | (p->d1 ? PCI_PM_CAP_D1 : 0) | (p->d2 ? PCI_PM_CAP_D2 : 0) |
		(u32)p->pme_support << 11, 0, 0, 0);
	def_reg(cfg, off + PCI_PM_CTRL, 2, PCI_PM_CTRL_NO_SOFT_RESET,
		PCI_PM_CTRL_STATE_MASK | PCI_PM_CTRL_PME_ENABLE, PCI_PM_CTRL_PME_STATUS,
		PCI_PM_CTRL_PME_STATUS);
}

static void build_msi(struct pciem_cfg *cfg, u32 off, const struct pciem_cap_msi *m)
{
	u32 mask_bits = m->vectors == 32 ? 0xffffffffu : (1u << m->vectors) - 1;
	u32 data_off = m->addr64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
	u32 mask_off = m->addr64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;

	def_reg(cfg, off + PCI_MSI_FLAGS, 2,
		ilog2_u32(m->vectors) << 1 | (m->addr64 ? PCI_MSI_FLAGS_64BIT : 0) |
		(m->per_vector_mask ? PCI_MSI_FLAGS_MASKBIT : 0),
		PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE, 0, 0);
	def_reg(cfg, off + PCI_MSI_ADDRESS_LO, 4, 0, 0xfffffffcu, 0, 0);
	if (m->addr64)
		def_reg(cfg, off + PCI_MSI_ADDRESS_HI, 4, 0, 0xffffffffu, 0, 0);
	def_reg(cfg, off + data_off, 2, 0, 0xffff, 0, 0);
	if (m->per_vector_mask) {
		def_reg(cfg, off + mask_off, 4, 0, mask_bits, 0, 0);
		def_reg(cfg, off + mask_off + 4, 4, 0, 0, 0, 0);	/* pending */
	}
}

static void build_msix(struct pciem_cfg *cfg, u32 off, const struct pciem_cap_msix *m)
{
	def_reg(cfg, off + PCI_MSIX_FLAGS, 2, m->vectors - 1u,
		PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 0, 0);
	def_reg(cfg, off + PCI_MSIX_TABLE, 4, m->table_offset | m->table_bar, 0, 0, 0);
	def_reg(cfg, off + PCI_MSIX_PBA, 4, m->pba_offset | m->pba_bar, 0, 0, 0);
}

/* Vendor and extended payloads: read-only to the OS, the device's to change. */
static void build_payload(struct pciem_cfg *cfg, u32 off, const void *payload, u32 len)
{
	if (!len)
		return;
	memcpy(cfg->data + off, payload, len);
	memset(cfg->devmask + off, 0xff, len);
}

/* Hook the new capability onto the end of its chain. */
static void link_cap(struct pciem_cfg *cfg, u32 off, bool ext)
{
	const struct pciem_cfg_cap *prev = last_cap(cfg, ext);
	u32 hdr;

	if (ext) {
		if (prev) {	/* the first is at 0x100: nothing points to it */
			hdr = get_le(cfg->data, prev->offset, 4);
			put_le(cfg->data, prev->offset, 4, (hdr & 0x000fffffu) | off << 20);
		}
	} else if (prev) {
		cfg->data[prev->offset + PCI_CAP_LIST_NEXT] = (u8)off;
	} else {
		cfg->data[PCI_CAPABILITY_LIST] = (u8)off;
		cfg->data[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	}
}

int pciem_cfg_add_cap(struct pciem_cfg *cfg, const struct pciem_cap_desc *c,
		      const void *payload)
{
	static const u8 std_ids[] = {
		[PCIEM_CAP_PCIE] = PCI_CAP_ID_EXP,
		[PCIEM_CAP_PM] = PCI_CAP_ID_PM,
		[PCIEM_CAP_MSI] = PCI_CAP_ID_MSI,
		[PCIEM_CAP_MSIX] = PCI_CAP_ID_MSIX,
		[PCIEM_CAP_VENDOR] = PCI_CAP_ID_VNDR,
	};
	const char *name = cap_name(c->kind);
	struct pciem_cfg_cap *rec;
	u16 *slot;
	u32 len = 0, off = 0;
	int err;

	if (cfg->finished)
		return fail(cfg, -EBUSY, "cap %s: description is already finished", name);
	if (c->size != sizeof(*c))
		return fail(cfg, -EINVAL, "cap: size %u, expected %u", c->size, (u32)sizeof(*c));
	if (c->kind < PCIEM_CAP_PCIE || c->kind > PCIEM_CAP_EXT_RAW)
		return fail(cfg, -EINVAL, "cap: kind %u unknown", c->kind);
	err = check_reserved_words(cfg, name, c->reserved, PCIEM_ARRAY_LEN(c->reserved));
	if (err)
		return err;
	slot = singleton_slot(cfg, c->kind);
	if (slot && *slot)
		return fail(cfg, -EEXIST, "cap %s: already described at 0x%02x", name, *slot);
	if (cfg->ncaps >= PCIEM_CFG_MAX_CAPS)
		return fail(cfg, -ENOSPC, "cap %s: too many capabilities (at most %u)",
			    name, PCIEM_CFG_MAX_CAPS);

	switch (c->kind) {
	case PCIEM_CAP_PCIE:
		err = check_pcie(cfg, &c->u.pcie, &len);
		break;
	case PCIEM_CAP_PM:
		err = check_pm(cfg, &c->u.pm, &len);
		break;
	case PCIEM_CAP_MSI:
		err = check_msi(cfg, &c->u.msi, &len);
		break;
	case PCIEM_CAP_MSIX:
		err = check_msix(cfg, &c->u.msix, &len);
		break;
	default:
		err = check_raw(cfg, c->kind, &c->u.raw, payload, &len);
		break;
	}
	if (err)
		return err;
	err = place_cap(cfg, c, len, &off);
	if (err)
		return err;

	/* Valid: from here on nothing fails. */
	if (cap_is_ext(c->kind)) {
		def_reg(cfg, off, 4, c->u.raw.id | (u32)c->u.raw.version << 16, 0, 0, 0);
		build_payload(cfg, off + EXT_HDR_LEN, payload, c->u.raw.length);
	} else {
		def_reg(cfg, off, 2, std_ids[c->kind], 0, 0, 0);
	}
	switch (c->kind) {
	case PCIEM_CAP_PCIE:
		build_pcie(cfg, off, &c->u.pcie);
		break;
	case PCIEM_CAP_PM:
		build_pm(cfg, off, &c->u.pm);
		break;
	case PCIEM_CAP_MSI:
		build_msi(cfg, off, &c->u.msi);
		break;
	case PCIEM_CAP_MSIX:
		build_msix(cfg, off, &c->u.msix);
		break;
	case PCIEM_CAP_VENDOR:
		cfg->data[off + 2] = (u8)len;
		build_payload(cfg, off + VENDOR_HDR_LEN, payload, c->u.raw.length);
		break;
	}
	link_cap(cfg, off, cap_is_ext(c->kind));
	if (slot)
		*slot = (u16)off;
	rec = &cfg->caps[cfg->ncaps++];
	rec->kind = c->kind;
	rec->offset = (u16)off;
	rec->length = (u16)len;
	return 0;
}

/* ---- finish ------------------------------------------------------------ */

/* One MSI-X structure (table or PBA) must lie inside a described BAR. */
static int check_msix_region(struct pciem_cfg *cfg, const char *what, u32 reg,
			     u32 bytes)
{
	u32 bir = reg & PCI_MSIX_TABLE_BIR, offset = reg & PCI_MSIX_TABLE_OFFSET;

	if (!cfg->bar_len[bir])
		return fail(cfg, -EINVAL, "cap msix: %s bar %u is not described", what, bir);
	if (pciem_cfg_bar_is_upper(cfg, bir))
		return fail(cfg, -EINVAL, "cap msix: %s bar %u is the upper half of 64-bit bar %u",
			    what, bir, bir - 1);
	if ((u64)offset + bytes > cfg->bar_len[bir])
		return fail(cfg, -EINVAL,
			    "cap msix: %s (bar %u +0x%x, 0x%x bytes) does not fit in the bar (0x%llx bytes)",
			    what, bir, offset, bytes, (unsigned long long)cfg->bar_len[bir]);
	return 0;
}

static int check_msix_layout(struct pciem_cfg *cfg)
{
	u32 base = cfg->msix_off;
	u32 vectors = (get_le(cfg->data, base + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
	u32 table = get_le(cfg->data, base + PCI_MSIX_TABLE, 4);
	u32 pba = get_le(cfg->data, base + PCI_MSIX_PBA, 4);
	u32 table_bytes = vectors * PCI_MSIX_ENTRY_SIZE;
	u32 pba_bytes = (vectors + 63) / 64 * 8;
	u32 t_off = table & PCI_MSIX_TABLE_OFFSET, p_off = pba & PCI_MSIX_PBA_OFFSET;
	int err;

	err = check_msix_region(cfg, "table", table, table_bytes);
	if (!err)
		err = check_msix_region(cfg, "pba", pba, pba_bytes);
	if (err)
		return err;
	if ((table & PCI_MSIX_TABLE_BIR) == (pba & PCI_MSIX_PBA_BIR) &&
	    t_off < p_off + pba_bytes && p_off < t_off + table_bytes)
		return fail(cfg, -EINVAL,
			    "cap msix: table (bar %u +0x%x, 0x%x bytes) overlaps pba (bar %u +0x%x, 0x%x bytes)",
			    table & PCI_MSIX_TABLE_BIR, t_off, table_bytes,
			    pba & PCI_MSIX_PBA_BIR, p_off, pba_bytes);
	return 0;
}

int pciem_cfg_finish(struct pciem_cfg *cfg)
{
	int err;

	if (cfg->finished)
		return fail(cfg, -EBUSY, "finish: description is already finished");
	if (cfg->msix_off) {
		err = check_msix_layout(cfg);
		if (err)
			return err;
	}
	/* Linux reads config space above 0x100 only on PCI Express functions. */
	if (last_cap(cfg, true) && !cfg->pcie_off)
		return fail(cfg, -EINVAL,
			    "cap ext_raw: extended capabilities need a pcie capability");
	if (last_cap(cfg, false))
		cfg->data[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	cfg->finished = true;
	return 0;
}

/* ---- run time ---------------------------------------------------------- */

u32 pciem_cfg_read(const struct pciem_cfg *cfg, u32 offset, u32 width)
{
	if (!access_ok(offset, width))
		return width == 1 ? 0xff : width == 2 ? 0xffff : 0xffffffffu;
	return get_le(cfg->data, offset, width);
}

static bool covers(u32 offset, u32 width, u32 byte)
{
	return byte >= offset && byte < offset + width;
}

/* Registers whose legal values depend on more than a bit mask. */
static void fixup_after_write(struct pciem_cfg *cfg, u32 offset, u32 width, u32 old)
{
	if (cfg->msi_off && covers(offset, width, cfg->msi_off + PCI_MSI_FLAGS)) {
		u32 at = cfg->msi_off + PCI_MSI_FLAGS;
		u32 ctrl = get_le(cfg->data, at, 2);
		u32 capable = (ctrl & PCI_MSI_FLAGS_QMASK) >> 1;

		if (((ctrl & PCI_MSI_FLAGS_QSIZE) >> 4) > capable)
			put_le(cfg->data, at, 2, (ctrl & ~(u32)PCI_MSI_FLAGS_QSIZE) | capable << 4);
	}
	if (cfg->pm_off && covers(offset, width, cfg->pm_off + PCI_PM_CTRL)) {
		u32 at = cfg->pm_off + PCI_PM_CTRL;
		u32 pmc = get_le(cfg->data, cfg->pm_off + PCI_PM_PMC, 2);
		u32 state = cfg->data[at] & PCI_PM_CTRL_STATE_MASK;
		u32 shift = 8 * (at - offset);
		u32 old_state = (old >> shift) & PCI_PM_CTRL_STATE_MASK;

		/* A write of an unsupported state is ignored: the old state stays. */
		if ((state == 1 && !(pmc & PCI_PM_CAP_D1)) ||
		    (state == 2 && !(pmc & PCI_PM_CAP_D2)))
			cfg->data[at] = (cfg->data[at] & ~PCI_PM_CTRL_STATE_MASK) | old_state;
	}
}

void pciem_cfg_write(struct pciem_cfg *cfg, u32 offset, u32 width, u32 value)
{
	u32 old, i;

	if (!access_ok(offset, width))
		return;
	old = get_le(cfg->data, offset, width);
	for (i = 0; i < width; i++) {
		u32 at = offset + i;
		u8 v = (u8)(value >> (8 * i));
		u8 b = (cfg->data[at] & ~cfg->wmask[at]) | (v & cfg->wmask[at]);

		cfg->data[at] = b & ~(v & cfg->w1cmask[at]);
	}
	fixup_after_write(cfg, offset, width, old);
}

int pciem_cfg_dev_write(struct pciem_cfg *cfg, u32 offset, u32 width, u32 value)
{
	u32 i;

	if (!access_ok(offset, width))
		return fail(cfg, -EINVAL, "cfg write: offset 0x%x width %u is not an aligned access below 0x1000",
			    offset, width);
	/* Bits outside devmask may be written only with their current value. */
	for (i = 0; i < width; i++) {
		u32 at = offset + i;
		u8 changed = ((u8)(value >> (8 * i)) ^ cfg->data[at]) & ~cfg->devmask[at];

		if (changed)
			return fail(cfg, -EPERM,
				    "cfg write: offset 0x%03x bits 0x%02x are not writable by the device",
				    at, changed);
	}
	put_le(cfg->data, offset, width, value);
	return 0;
}

/* Offsets of the MSI registers after Message Address, per the capability's form. */
static void msi_layout(const struct pciem_cfg *cfg, u32 ctrl, u32 *data, u32 *mask)
{
	bool is64 = ctrl & PCI_MSI_FLAGS_64BIT;

	*data = cfg->msi_off + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32);
	*mask = cfg->msi_off + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32);
}

int pciem_cfg_msi_message(const struct pciem_cfg *cfg, u32 vector, u64 *addr, u32 *data,
			  bool *masked)
{
	u32 ctrl, enabled, data_at, mask_at;

	if (!cfg->msi_off)
		return -ENODEV;
	ctrl = get_le(cfg->data, cfg->msi_off + PCI_MSI_FLAGS, 2);
	if (!(ctrl & PCI_MSI_FLAGS_ENABLE))
		return -ENODEV;
	enabled = 1u << ((ctrl & PCI_MSI_FLAGS_QSIZE) >> 4);
	if (vector >= enabled)
		return -EINVAL;
	msi_layout(cfg, ctrl, &data_at, &mask_at);
	*addr = get_le(cfg->data, cfg->msi_off + PCI_MSI_ADDRESS_LO, 4);
	if (ctrl & PCI_MSI_FLAGS_64BIT)
		*addr |= (u64)get_le(cfg->data, cfg->msi_off + PCI_MSI_ADDRESS_HI, 4) << 32;
	*data = (get_le(cfg->data, data_at, 2) & ~(enabled - 1)) | vector;
	*masked = (ctrl & PCI_MSI_FLAGS_MASKBIT) &&
		  (get_le(cfg->data, mask_at, 4) >> vector & 1);
	return 0;
}

int pciem_cfg_msi_set_pending(struct pciem_cfg *cfg, u32 vector, bool pending)
{
	u32 ctrl, data_at, mask_at, bits;

	if (!cfg->msi_off)
		return -EINVAL;
	ctrl = get_le(cfg->data, cfg->msi_off + PCI_MSI_FLAGS, 2);
	if (!(ctrl & PCI_MSI_FLAGS_MASKBIT) ||
	    vector >= 1u << ((ctrl & PCI_MSI_FLAGS_QMASK) >> 1))
		return -EINVAL;
	msi_layout(cfg, ctrl, &data_at, &mask_at);
	bits = get_le(cfg->data, mask_at + 4, 4);
	bits = pending ? bits | 1u << vector : bits & ~(1u << vector);
	put_le(cfg->data, mask_at + 4, 4, bits);
	return 0;
}

u64 pciem_cfg_bar_addr(const struct pciem_cfg *cfg, u32 index)
{
	u32 reg = PCI_BASE_ADDRESS_0 + 4 * index;
	u64 addr;

	if (index >= PCIEM_NUM_BARS || !cfg->bar_len[index] || pciem_cfg_bar_is_upper(cfg, index))
		return 0;
	addr = get_le(cfg->data, reg, 4) & (u32)PCI_BASE_ADDRESS_MEM_MASK;
	if (cfg->bar_flags[index] & PCIEM_BAR_MEM64)
		addr |= (u64)get_le(cfg->data, reg + 4, 4) << 32;
	return addr;
}

u16 pciem_cfg_command(const struct pciem_cfg *cfg)
{
	return (u16)get_le(cfg->data, PCI_COMMAND, 2);
}
