// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * x86-64 decoder for the memory forms of MOV, MOVZX/MOVSX/MOVSXD and the
 * string moves, and helpers that emulate them on a plain register file.
 * Written for a page-fault handler: no allocation, no locks, bounded work.
 */
#include "pciem_insn.h"

#ifdef __KERNEL__
#include <asm/ptrace.h>
#endif

/* Reads bytes[pos] only while pos < end; end is min(len, 15). */
struct insn_cursor {
	const u8 *bytes;
	unsigned int pos;
	unsigned int end;
};

static int cursor_byte(struct insn_cursor *c, u8 *out)
{
	if (c->pos >= c->end)
		return -EINVAL;
	*out = c->bytes[c->pos++];
	return 0;
}

/* Little-endian immediate or displacement of n bytes, sign-extended. */
static int cursor_signed(struct insn_cursor *c, unsigned int n, long long *out)
{
	u64 v = 0;
	unsigned int i;

	if (c->end - c->pos < n)
		return -EINVAL;
	for (i = 0; i < n; i++)
		v |= (u64)c->bytes[c->pos + i] << (8 * i);
	c->pos += n;
	if (n < 8 && (v & (1ULL << (8 * n - 1))))
		v |= ~0ULL << (8 * n);
	*out = (long long)v;
	return 0;
}

enum {
	REX_B = 1 << 0,
	REX_X = 1 << 1,
	REX_R = 1 << 2,
	REX_W = 1 << 3,
};

/*
 * ModRM (+SIB, +displacement) of a memory operand. Register operands
 * (mod 11) are not memory accesses and are refused.
 */
static int decode_modrm(struct insn_cursor *c, struct pciem_insn *out)
{
	u8 mod, rm;
	int ret;

	ret = cursor_byte(c, &out->modrm);
	if (ret)
		return ret;
	out->has_modrm = true;
	mod = out->modrm >> 6;
	rm = out->modrm & 7;
	if (mod == 3)
		return -EOPNOTSUPP;

	out->base = rm | ((out->rex & REX_B) ? 8 : 0);
	out->index = PCIEM_GPR_NONE;
	out->scale = 1;

	if (rm == 4) {
		u8 index, base;

		ret = cursor_byte(c, &out->sib);
		if (ret)
			return ret;
		out->has_sib = true;
		out->scale = 1 << (out->sib >> 6);
		index = ((out->sib >> 3) & 7) | ((out->rex & REX_X) ? 8 : 0);
		base = out->sib & 7;
		/* index 100 without REX.X means "no index"; r12 is a real index */
		out->index = index == 4 ? PCIEM_GPR_NONE : index;
		if (base == 5 && mod == 0) {
			/* no base, disp32 (rbp/r13 as base need mod 01/10) */
			out->base = PCIEM_GPR_NONE;
			return cursor_signed(c, 4, &out->disp);
		}
		out->base = base | ((out->rex & REX_B) ? 8 : 0);
	} else if (rm == 5 && mod == 0) {
		out->base = PCIEM_GPR_RIP;
		return cursor_signed(c, 4, &out->disp);
	}

	if (mod == 1)
		return cursor_signed(c, 1, &out->disp);
	if (mod == 2)
		return cursor_signed(c, 4, &out->disp);
	return 0;
}

/* Register operand from ModRM.reg for a byte or wider access. */
static void set_reg(struct pciem_insn *out, unsigned int width)
{
	unsigned int reg = (out->modrm >> 3) & 7;

	if (width == 1 && !out->rex && reg >= 4) {
		/* without any REX, 4..7 are AH, CH, DH, BH */
		out->reg = reg - 4;
		out->high8 = true;
		return;
	}
	out->reg = reg | ((out->rex & REX_R) ? 8 : 0);
}

/* Operand width of a non-byte instruction: REX.W beats 66. */
static unsigned int op_width(const struct pciem_insn *out, bool opsize)
{
	if (out->rex & REX_W)
		return 8;
	return opsize ? 2 : 4;
}

static int decode_two_byte(struct insn_cursor *c, struct pciem_insn *out, bool opsize)
{
	int ret;

	ret = cursor_byte(c, &out->opcode);
	if (ret)
		return ret;
	switch (out->opcode) {
	case 0xb6:	/* movzx r, r/m8 */
	case 0xb7:	/* movzx r, r/m16 */
	case 0xbe:	/* movsx r, r/m8 */
	case 0xbf:	/* movsx r, r/m16 */
		out->kind = (out->opcode & 8) ? PCIEM_INSN_LOAD_SX : PCIEM_INSN_LOAD_ZX;
		out->width = (out->opcode & 1) ? 2 : 1;
		out->reg_width = op_width(out, opsize);
		ret = decode_modrm(c, out);
		if (ret)
			return ret;
		set_reg(out, out->reg_width);
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

static int decode_one_byte(struct insn_cursor *c, struct pciem_insn *out, bool opsize)
{
	u8 op = out->opcode;
	long long v;
	int ret;

	switch (op) {
	case 0x88:	/* mov r/m8, r8 */
	case 0x89:	/* mov r/m, r */
	case 0x8a:	/* mov r8, r/m8 */
	case 0x8b:	/* mov r, r/m */
		out->kind = (op & 2) ? PCIEM_INSN_LOAD : PCIEM_INSN_STORE;
		out->width = (op & 1) ? op_width(out, opsize) : 1;
		out->reg_width = out->width;
		ret = decode_modrm(c, out);
		if (ret)
			return ret;
		set_reg(out, out->width);
		return 0;

	case 0x63:	/* movsxd r64, r/m32; without REX.W it is a plain mov */
		if (!(out->rex & REX_W))
			return -EOPNOTSUPP;
		out->kind = PCIEM_INSN_LOAD_SX;
		out->width = 4;
		out->reg_width = 8;
		ret = decode_modrm(c, out);
		if (ret)
			return ret;
		set_reg(out, 8);
		return 0;

	case 0xc6:	/* mov r/m8, imm8 */
	case 0xc7:	/* mov r/m, imm16/imm32 (sign-extended with REX.W) */
		out->kind = PCIEM_INSN_STORE_IMM;
		out->width = (op & 1) ? op_width(out, opsize) : 1;
		out->reg_width = out->width;
		ret = decode_modrm(c, out);
		if (ret)
			return ret;
		/* only /0 is MOV; C6/C7 /7 are XABORT/XBEGIN */
		if ((out->modrm >> 3) & 7)
			return -EOPNOTSUPP;
		ret = cursor_signed(c, out->width > 4 ? 4 : out->width, &v);
		if (ret)
			return ret;
		out->imm = (u64)v;
		out->reg = PCIEM_GPR_NONE;
		return 0;

	case 0xa0:	/* mov al, moffs8 */
	case 0xa1:	/* mov rAX, moffs */
	case 0xa2:	/* mov moffs8, al */
	case 0xa3:	/* mov moffs, rAX */
		out->kind = (op & 2) ? PCIEM_INSN_STORE : PCIEM_INSN_LOAD;
		out->width = (op & 1) ? op_width(out, opsize) : 1;
		out->reg_width = out->width;
		out->reg = PCIEM_GPR_RAX;	/* REX.B does not apply */
		out->base = PCIEM_GPR_NONE;
		out->index = PCIEM_GPR_NONE;
		out->scale = 1;
		/* the address is 8 bytes: 67 (4-byte moffs) is refused earlier */
		return cursor_signed(c, 8, &out->disp);

	case 0xa4:	/* movs m8, m8 */
	case 0xa5:	/* movs */
	case 0xaa:	/* stos m8, al */
	case 0xab:	/* stos */
	case 0xac:	/* lods al, m8 */
	case 0xad:	/* lods */
		out->kind = op >= 0xac ? PCIEM_INSN_LODS :
			    op >= 0xaa ? PCIEM_INSN_STOS : PCIEM_INSN_MOVS;
		out->width = (op & 1) ? op_width(out, opsize) : 1;
		out->reg_width = out->width;
		out->reg = out->kind == PCIEM_INSN_MOVS ? PCIEM_GPR_NONE : PCIEM_GPR_RAX;
		out->base = PCIEM_GPR_NONE;
		out->index = PCIEM_GPR_NONE;
		out->scale = 1;
		return 0;

	default:
		return -EOPNOTSUPP;
	}
}

int pciem_insn_decode(const u8 *bytes, unsigned int len, struct pciem_insn *out)
{
	struct insn_cursor c = {
		.bytes = bytes,
		.pos = 0,
		.end = len < PCIEM_INSN_MAX_LEN ? len : PCIEM_INSN_MAX_LEN,
	};
	bool opsize = false, rep = false;
	u8 b;
	int ret;

	memset(out, 0, sizeof(*out));
	out->base = PCIEM_GPR_NONE;
	out->index = PCIEM_GPR_NONE;
	out->reg = PCIEM_GPR_NONE;
	out->scale = 1;

	/* Legacy prefixes in any order, then an optional REX right before the opcode. */
	for (;;) {
		ret = cursor_byte(&c, &b);
		if (ret)
			return ret;
		switch (b) {
		case 0x66:
			opsize = true;
			break;
		case 0xf2:
		case 0xf3:
			rep = true;
			break;
		case 0x26:
			out->seg = PCIEM_SEG_ES;
			break;
		case 0x2e:
			out->seg = PCIEM_SEG_CS;
			break;
		case 0x36:
			out->seg = PCIEM_SEG_SS;
			break;
		case 0x3e:
			out->seg = PCIEM_SEG_DS;
			break;
		case 0x64:
			out->seg = PCIEM_SEG_FS;
			break;
		case 0x65:
			out->seg = PCIEM_SEG_GS;
			break;
		case 0x67:	/* 32-bit addressing: never emitted for MMIO */
		case 0xf0:	/* lock: a read-modify-write cannot be split */
			return -EOPNOTSUPP;
		default:
			if ((b & 0xf0) == 0x40) {
				out->rex = b;
				continue;
			}
			goto opcode;
		}
		/* a REX followed by a legacy prefix is ignored by the CPU */
		out->rex = 0;
	}

opcode:
	out->opcode = b;
	if (b == 0x0f)
		ret = decode_two_byte(&c, out, opsize);
	else
		ret = decode_one_byte(&c, out, opsize);
	if (ret)
		return ret;

	if (rep) {
		/* F2/F3 on a non-string MOV is XACQUIRE/XRELEASE or another insn */
		if (out->kind != PCIEM_INSN_MOVS && out->kind != PCIEM_INSN_STOS &&
		    out->kind != PCIEM_INSN_LODS)
			return -EOPNOTSUPP;
		out->rep = true;
	}
	out->len = c.pos;
	return 0;
}

static u64 width_mask(unsigned int width)
{
	return width >= 8 ? ~0ULL : (1ULL << (8 * width)) - 1;
}

static u64 seg_base(const struct pciem_insn_regs *regs, const struct pciem_insn *insn)
{
	if (insn->seg == PCIEM_SEG_FS)
		return regs->fs_base;
	if (insn->seg == PCIEM_SEG_GS)
		return regs->gs_base;
	return 0;	/* CS, DS, ES, SS have base 0 in 64-bit mode */
}

u64 pciem_insn_ea(const struct pciem_insn_regs *regs, const struct pciem_insn *insn)
{
	u64 ea;

	switch (insn->kind) {
	case PCIEM_INSN_MOVS:
	case PCIEM_INSN_STOS:
		return regs->gpr[PCIEM_GPR_RDI];	/* ES, not overridable */
	case PCIEM_INSN_LODS:
		return pciem_insn_src_ea(regs, insn);
	}

	ea = (u64)insn->disp;
	if (insn->base == PCIEM_GPR_RIP)
		ea += regs->rip + insn->len;
	else if (insn->base < PCIEM_GPR_COUNT)
		ea += regs->gpr[insn->base];
	if (insn->index < PCIEM_GPR_COUNT)
		ea += regs->gpr[insn->index] * insn->scale;
	return ea + seg_base(regs, insn);
}

u64 pciem_insn_src_ea(const struct pciem_insn_regs *regs, const struct pciem_insn *insn)
{
	return regs->gpr[PCIEM_GPR_RSI] + seg_base(regs, insn);
}

static u64 reg_read(const struct pciem_insn_regs *regs, const struct pciem_insn *insn)
{
	u64 v = regs->gpr[insn->reg & 15];

	if (insn->high8)
		v >>= 8;
	return v & width_mask(insn->width);
}

u64 pciem_insn_store_value(const struct pciem_insn_regs *regs,
			   const struct pciem_insn *insn)
{
	switch (insn->kind) {
	case PCIEM_INSN_STORE:
	case PCIEM_INSN_STOS:
		return reg_read(regs, insn);
	case PCIEM_INSN_STORE_IMM:
		return insn->imm & width_mask(insn->width);
	default:
		return 0;
	}
}

/* Write a width-byte result into a GPR the way x86-64 does. */
static void reg_write(struct pciem_insn_regs *regs, unsigned int reg, bool high8,
		      unsigned int width, u64 value)
{
	u64 *r = &regs->gpr[reg & 15];

	switch (width) {
	case 1:
		if (high8)
			*r = (*r & ~0xff00ULL) | ((value & 0xff) << 8);
		else
			*r = (*r & ~0xffULL) | (value & 0xff);
		break;
	case 2:
		*r = (*r & ~0xffffULL) | (value & 0xffff);
		break;
	case 4:
		*r = value & 0xffffffffULL;	/* 32-bit results zero bits 63:32 */
		break;
	default:
		*r = value;
		break;
	}
}

void pciem_insn_load_apply(struct pciem_insn_regs *regs, const struct pciem_insn *insn,
			   u64 value)
{
	u64 mask = width_mask(insn->width);

	value &= mask;
	switch (insn->kind) {
	case PCIEM_INSN_LOAD:
	case PCIEM_INSN_LOAD_ZX:
	case PCIEM_INSN_LODS:
		break;
	case PCIEM_INSN_LOAD_SX:
		if (value & (1ULL << (8 * insn->width - 1)))
			value |= ~mask;
		break;
	default:
		return;
	}
	reg_write(regs, insn->reg, insn->high8, insn->reg_width, value);
}

u64 pciem_insn_string_count(const struct pciem_insn_regs *regs,
			    const struct pciem_insn *insn)
{
	return insn->rep ? regs->gpr[PCIEM_GPR_RCX] : 1;
}

void pciem_insn_string_step(struct pciem_insn_regs *regs, const struct pciem_insn *insn,
			    u64 count)
{
	u64 delta = count * insn->width;

	if (regs->flags & PCIEM_INSN_FLAGS_DF)
		delta = -delta;
	if (insn->kind == PCIEM_INSN_MOVS || insn->kind == PCIEM_INSN_LODS)
		regs->gpr[PCIEM_GPR_RSI] += delta;
	if (insn->kind == PCIEM_INSN_MOVS || insn->kind == PCIEM_INSN_STOS)
		regs->gpr[PCIEM_GPR_RDI] += delta;
	if (insn->rep)
		regs->gpr[PCIEM_GPR_RCX] -= count;
}

bool pciem_insn_done(const struct pciem_insn_regs *regs, const struct pciem_insn *insn)
{
	return !insn->rep || regs->gpr[PCIEM_GPR_RCX] == 0;
}

void pciem_insn_advance_rip(struct pciem_insn_regs *regs, const struct pciem_insn *insn)
{
	regs->rip += insn->len;
}

#ifdef __KERNEL__
void pciem_insn_regs_from_pt(struct pciem_insn_regs *regs, const struct pt_regs *pt)
{
	regs->gpr[PCIEM_GPR_RAX] = pt->ax;
	regs->gpr[PCIEM_GPR_RCX] = pt->cx;
	regs->gpr[PCIEM_GPR_RDX] = pt->dx;
	regs->gpr[PCIEM_GPR_RBX] = pt->bx;
	regs->gpr[PCIEM_GPR_RSP] = pt->sp;
	regs->gpr[PCIEM_GPR_RBP] = pt->bp;
	regs->gpr[PCIEM_GPR_RSI] = pt->si;
	regs->gpr[PCIEM_GPR_RDI] = pt->di;
	regs->gpr[PCIEM_GPR_R8] = pt->r8;
	regs->gpr[PCIEM_GPR_R9] = pt->r9;
	regs->gpr[PCIEM_GPR_R10] = pt->r10;
	regs->gpr[PCIEM_GPR_R11] = pt->r11;
	regs->gpr[PCIEM_GPR_R12] = pt->r12;
	regs->gpr[PCIEM_GPR_R13] = pt->r13;
	regs->gpr[PCIEM_GPR_R14] = pt->r14;
	regs->gpr[PCIEM_GPR_R15] = pt->r15;
	regs->rip = pt->ip;
	regs->flags = pt->flags;
	regs->fs_base = 0;
	regs->gs_base = 0;
}

/* MOV and the string moves change no flags, so only GPRs and ip go back. */
void pciem_insn_regs_to_pt(const struct pciem_insn_regs *regs, struct pt_regs *pt)
{
	pt->ax = regs->gpr[PCIEM_GPR_RAX];
	pt->cx = regs->gpr[PCIEM_GPR_RCX];
	pt->dx = regs->gpr[PCIEM_GPR_RDX];
	pt->bx = regs->gpr[PCIEM_GPR_RBX];
	pt->sp = regs->gpr[PCIEM_GPR_RSP];
	pt->bp = regs->gpr[PCIEM_GPR_RBP];
	pt->si = regs->gpr[PCIEM_GPR_RSI];
	pt->di = regs->gpr[PCIEM_GPR_RDI];
	pt->r8 = regs->gpr[PCIEM_GPR_R8];
	pt->r9 = regs->gpr[PCIEM_GPR_R9];
	pt->r10 = regs->gpr[PCIEM_GPR_R10];
	pt->r11 = regs->gpr[PCIEM_GPR_R11];
	pt->r12 = regs->gpr[PCIEM_GPR_R12];
	pt->r13 = regs->gpr[PCIEM_GPR_R13];
	pt->r14 = regs->gpr[PCIEM_GPR_R14];
	pt->r15 = regs->gpr[PCIEM_GPR_R15];
	pt->ip = regs->rip;
}
#endif /* __KERNEL__ */

const char *pciem_insn_kind_name(unsigned int kind)
{
	static const char *const names[] = {
		[PCIEM_INSN_LOAD] = "load",
		[PCIEM_INSN_STORE] = "store",
		[PCIEM_INSN_STORE_IMM] = "store_imm",
		[PCIEM_INSN_LOAD_ZX] = "load_zx",
		[PCIEM_INSN_LOAD_SX] = "load_sx",
		[PCIEM_INSN_MOVS] = "movs",
		[PCIEM_INSN_STOS] = "stos",
		[PCIEM_INSN_LODS] = "lods",
	};

	if (kind >= sizeof(names) / sizeof(names[0]) || !names[kind])
		return "?";
	return names[kind];
}
