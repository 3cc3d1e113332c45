/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * x86-64 decoder and emulation helpers for the few instructions that touch a
 * trapped BAR: MOV of every width, MOVZX/MOVSX/MOVSXD, MOVS/STOS/LODS.
 * Compiled into pciem.ko and into the userspace unit tests.
 */
#ifndef PCIEM_INSN_H
#define PCIEM_INSN_H

#include "pciem_cfg_types.h"	/* u8..u64, bool, errno values */

/* Architectural limit; the decoder never looks further. */
#define PCIEM_INSN_MAX_LEN 15

/* GPR numbers as x86 encodes them (ModRM.reg/rm + REX.R/B). */
enum pciem_insn_gpr {
	PCIEM_GPR_RAX, PCIEM_GPR_RCX, PCIEM_GPR_RDX, PCIEM_GPR_RBX,
	PCIEM_GPR_RSP, PCIEM_GPR_RBP, PCIEM_GPR_RSI, PCIEM_GPR_RDI,
	PCIEM_GPR_R8, PCIEM_GPR_R9, PCIEM_GPR_R10, PCIEM_GPR_R11,
	PCIEM_GPR_R12, PCIEM_GPR_R13, PCIEM_GPR_R14, PCIEM_GPR_R15,
	PCIEM_GPR_COUNT,
	/* only in pciem_insn.base / .index */
	PCIEM_GPR_NONE = 0xff,
	PCIEM_GPR_RIP = 0xfe,	/* base of a RIP-relative operand */
};

enum pciem_insn_kind {
	PCIEM_INSN_LOAD = 1,	/* mov reg, [mem] */
	PCIEM_INSN_STORE,	/* mov [mem], reg */
	PCIEM_INSN_STORE_IMM,	/* mov [mem], imm */
	PCIEM_INSN_LOAD_ZX,	/* movzx reg, [mem] */
	PCIEM_INSN_LOAD_SX,	/* movsx / movsxd reg, [mem] */
	PCIEM_INSN_MOVS,	/* [rdi] <- [rsi] */
	PCIEM_INSN_STOS,	/* [rdi] <- rax */
	PCIEM_INSN_LODS,	/* rax <- [rsi] */
};

/* Segment override prefix seen (last one wins, as on hardware). */
enum pciem_insn_seg {
	PCIEM_SEG_NONE, PCIEM_SEG_ES, PCIEM_SEG_CS, PCIEM_SEG_SS,
	PCIEM_SEG_DS, PCIEM_SEG_FS, PCIEM_SEG_GS,
};

struct pciem_insn {
	u8 kind;		/* enum pciem_insn_kind */
	u8 len;			/* total length in bytes, 1..15 */
	u8 width;		/* bytes moved to/from memory: 1, 2, 4, 8 */
	u8 reg_width;		/* register width (differs from width for zx/sx) */
	u8 reg;			/* register operand 0..15 (RAX for stos/lods), or
				 * PCIEM_GPR_NONE (store_imm, movs) */
	bool high8;		/* reg names bits 15:8 (AH, CH, DH, BH) */
	bool rep;		/* F3 or F2 on a string instruction */
	u8 seg;			/* enum pciem_insn_seg */
	u8 rex;			/* REX byte, 0 if none */
	u8 opcode;		/* last opcode byte (after 0F for two-byte ones) */
	bool has_modrm, has_sib;
	u8 modrm, sib;
	/*
	 * Memory operand of the ModRM and moffs forms:
	 * ea = seg_base + base + index * scale + disp, base may be
	 * PCIEM_GPR_RIP (value: rip of the next instruction) and base and index
	 * may be PCIEM_GPR_NONE. For moffs (A0-A3) disp is the full address.
	 * String forms leave base/index NONE: they address through RSI/RDI.
	 */
	u8 base;
	u8 index;
	u8 scale;		/* 1, 2, 4, 8 */
	long long disp;
	u64 imm;		/* STORE_IMM: immediate, sign-extended to 64 bits */
};

/* The register state the emulation helpers read and change. */
struct pciem_insn_regs {
	u64 gpr[PCIEM_GPR_COUNT];
	u64 rip;		/* address of the instruction being emulated */
	u64 flags;		/* RFLAGS; only DF is consulted */
	u64 fs_base;		/* added for FS/GS overrides */
	u64 gs_base;
};

#define PCIEM_INSN_FLAGS_DF (1ULL << 10)

/*
 * Decode one instruction from bytes[0..len). Reads at most min(len, 15)
 * bytes. Returns 0, -EINVAL when the bytes run out or exceed 15 before the
 * instruction ends, or -EOPNOTSUPP for anything that is not one of the
 * supported memory forms. No allocation, no locks, bounded work: safe in a
 * page-fault handler.
 */
int pciem_insn_decode(const u8 *bytes, unsigned int len, struct pciem_insn *out);

/* Memory direction of a decoded instruction (MOVS does both). */
static inline bool pciem_insn_reads_mem(const struct pciem_insn *insn)
{
	return insn->kind == PCIEM_INSN_LOAD || insn->kind == PCIEM_INSN_LOAD_ZX ||
	       insn->kind == PCIEM_INSN_LOAD_SX || insn->kind == PCIEM_INSN_MOVS ||
	       insn->kind == PCIEM_INSN_LODS;
}

static inline bool pciem_insn_writes_mem(const struct pciem_insn *insn)
{
	return insn->kind == PCIEM_INSN_STORE || insn->kind == PCIEM_INSN_STORE_IMM ||
	       insn->kind == PCIEM_INSN_MOVS || insn->kind == PCIEM_INSN_STOS;
}

/*
 * Effective address. ModRM/moffs forms: the operand. STOS and MOVS: the
 * destination (RDI); LODS: the source (RSI, plus an FS/GS base if
 * overridden). pciem_insn_src_ea() gives MOVS's source.
 */
u64 pciem_insn_ea(const struct pciem_insn_regs *regs, const struct pciem_insn *insn);
u64 pciem_insn_src_ea(const struct pciem_insn_regs *regs, const struct pciem_insn *insn);

/*
 * The value a STORE, STORE_IMM or STOS writes, in the low `width` bytes
 * (upper bytes zero). 0 for the other kinds: MOVS data comes from memory.
 */
u64 pciem_insn_store_value(const struct pciem_insn_regs *regs,
			   const struct pciem_insn *insn);

/*
 * Put a value read from memory (low `width` bytes used) into the destination
 * register of a LOAD, LOAD_ZX, LOAD_SX or LODS with x86 semantics: 32-bit
 * results clear bits 63:32, 8/16-bit results keep the rest, AH..BH land in
 * bits 15:8. Does nothing for the other kinds.
 */
void pciem_insn_load_apply(struct pciem_insn_regs *regs, const struct pciem_insn *insn,
			   u64 value);

/*
 * String forms: elements left to do (RCX under REP, else 1). One element is
 * done by reading/writing at pciem_insn_ea()/pciem_insn_src_ea() and then
 * calling pciem_insn_string_step(regs, insn, 1); `count` elements at once
 * with count <= pciem_insn_string_count(). Step moves RSI and/or RDI by
 * count * width (down when EFLAGS.DF is set) and under REP decrements RCX.
 */
u64 pciem_insn_string_count(const struct pciem_insn_regs *regs,
			    const struct pciem_insn *insn);
void pciem_insn_string_step(struct pciem_insn_regs *regs, const struct pciem_insn *insn,
			    u64 count);

/*
 * True once the instruction is complete, i.e. the caller should advance rip:
 * always for non-string forms, for strings when not REP or RCX reached 0.
 * (A REP string left unfinished is simply re-executed by the CPU.)
 */
bool pciem_insn_done(const struct pciem_insn_regs *regs, const struct pciem_insn *insn);
void pciem_insn_advance_rip(struct pciem_insn_regs *regs, const struct pciem_insn *insn);

#ifdef __KERNEL__
struct pt_regs;
/*
 * Copy the GPRs, ip and flags between a fault's pt_regs and the register
 * file. fs_base/gs_base are left 0: a kernel MMIO access never uses an
 * FS/GS override, so pciem_insn_ea() then disagrees with the fault address
 * and the access is refused, as it should be.
 */
void pciem_insn_regs_from_pt(struct pciem_insn_regs *regs, const struct pt_regs *pt);
void pciem_insn_regs_to_pt(const struct pciem_insn_regs *regs, struct pt_regs *pt);
#endif

/* Name of a kind ("load", "store_imm", ...) for logs and tests; "?" if bad. */
const char *pciem_insn_kind_name(unsigned int kind);

#endif /* PCIEM_INSN_H */
