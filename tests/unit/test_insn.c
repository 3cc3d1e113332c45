// SPDX-License-Identifier: MIT
/*
 * Unit tests of kmod/pciem_insn.c: hand-written encodings of every supported
 * form, refusals, truncation against a guard page, emulation semantics, and
 * the table of real encodings in insn_table.txt (see gen_insn_table.sh).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../kmod/pciem_insn.h"
#include "check.h"

#define NONE PCIEM_GPR_NONE
#define RIP PCIEM_GPR_RIP

static unsigned int parse_hex(const char *hex, u8 *buf, unsigned int max)
{
	unsigned int n = 0;

	while (*hex) {
		unsigned int v;

		if (*hex == ' ') {
			hex++;
			continue;
		}
		if (n >= max || sscanf(hex, "%2x", &v) != 1)
			return 0;
		buf[n++] = (u8)v;
		hex += 2;
	}
	return n;
}

/* Decode hex, which must be exactly one instruction. */
static int dec(const char *hex, struct pciem_insn *insn)
{
	u8 buf[32];
	unsigned int n = parse_hex(hex, buf, sizeof(buf));
	int ret = pciem_insn_decode(buf, n, insn);

	if (ret == 0 && insn->len != n) {
		fprintf(stderr, "%s: decoded length %u, expected %u\n", hex, insn->len, n);
		return -1000;
	}
	return ret;
}

struct want {
	int kind, width, reg_width, reg, high8;
	int base, index, scale;
	long long disp;
};

static bool decodes_as(const char *hex, struct want w)
{
	struct pciem_insn in;
	int ret = dec(hex, &in);

	if (ret) {
		fprintf(stderr, "%s: decode returned %d\n", hex, ret);
		return false;
	}
	if (in.kind != w.kind || in.width != w.width || in.reg_width != w.reg_width ||
	    in.reg != w.reg || in.high8 != w.high8 || in.base != w.base ||
	    in.index != w.index || in.scale != w.scale || in.disp != w.disp) {
		fprintf(stderr, "%s: got kind %s width %u/%u reg %u%s base %u index %u*%u disp %lld\n",
			hex, pciem_insn_kind_name(in.kind), in.width, in.reg_width, in.reg,
			in.high8 ? "h" : "", in.base, in.index, in.scale, in.disp);
		return false;
	}
	return true;
}

#define LD PCIEM_INSN_LOAD
#define ST PCIEM_INSN_STORE
#define STI PCIEM_INSN_STORE_IMM
#define ZX PCIEM_INSN_LOAD_ZX
#define SX PCIEM_INSN_LOAD_SX

TEST(mov_forms)
{
	/* mov (%rax),%eax; mov %eax,0x10(%rbx); 64-bit with REX.W */
	CHECK(decodes_as("8b 00", (struct want){ LD, 4, 4, 0, 0, 0, NONE, 1, 0 }));
	CHECK(decodes_as("89 43 10", (struct want){ ST, 4, 4, 0, 0, 3, NONE, 1, 0x10 }));
	CHECK(decodes_as("48 8b 47 60", (struct want){ LD, 8, 8, 0, 0, 7, NONE, 1, 0x60 }));
	/* byte and word moves */
	CHECK(decodes_as("8a 07", (struct want){ LD, 1, 1, 0, 0, 7, NONE, 1, 0 }));
	CHECK(decodes_as("88 0e", (struct want){ ST, 1, 1, 1, 0, 6, NONE, 1, 0 }));
	CHECK(decodes_as("66 8b 07", (struct want){ LD, 2, 2, 0, 0, 7, NONE, 1, 0 }));
	CHECK(decodes_as("66 89 77 02", (struct want){ ST, 2, 2, 6, 0, 7, NONE, 1, 2 }));
	/* REX.W beats 66 */
	CHECK(decodes_as("66 48 8b 07", (struct want){ LD, 8, 8, 0, 0, 7, NONE, 1, 0 }));
	/* disp32 */
	CHECK(decodes_as("8b 91 24 0b 00 00", (struct want){ LD, 4, 4, 2, 0, 1, NONE, 1, 0xb24 }));
}

TEST(rex_extended_registers)
{
	/* REX.R: mov %r9d,(%rax) */
	CHECK(decodes_as("44 89 08", (struct want){ ST, 4, 4, 9, 0, 0, NONE, 1, 0 }));
	/* REX.B: mov (%r11),%eax */
	CHECK(decodes_as("41 8b 03", (struct want){ LD, 4, 4, 0, 0, 11, NONE, 1, 0 }));
	/* REX.WRXB: mov 0x8(%r10,%r11,8),%r15 */
	CHECK(decodes_as("4f 8b 7c da 08", (struct want){ LD, 8, 8, 15, 0, 10, 11, 8, 8 }));
	/* REX.X alone: mov (%rax,%r12,2),%ecx -- r12 is a real index */
	CHECK(decodes_as("42 8b 0c 60", (struct want){ LD, 4, 4, 1, 0, 0, 12, 2, 0 }));
	/* mov 0x10(%r8),%r9b and %r8w store */
	CHECK(decodes_as("45 8a 48 10", (struct want){ LD, 1, 1, 9, 0, 8, NONE, 1, 0x10 }));
	CHECK(decodes_as("66 44 89 01", (struct want){ ST, 2, 2, 8, 0, 1, NONE, 1, 0 }));
}

TEST(sib_and_special_bases)
{
	/* (%rsp): SIB with no index */
	CHECK(decodes_as("8b 04 24", (struct want){ LD, 4, 4, 0, 0, 4, NONE, 1, 0 }));
	/* 0x8(%r12): REX.B base 100 still needs a SIB */
	CHECK(decodes_as("49 8b 44 24 08", (struct want){ LD, 8, 8, 0, 0, 12, NONE, 1, 8 }));
	/* (%rbp) and (%r13) need mod 01 with disp8 0 */
	CHECK(decodes_as("8b 45 00", (struct want){ LD, 4, 4, 0, 0, 5, NONE, 1, 0 }));
	CHECK(decodes_as("41 89 45 00", (struct want){ ST, 4, 4, 0, 0, 13, NONE, 1, 0 }));
	/* SIB base 101 with mod 00: no base, disp32 (with and without index) */
	CHECK(decodes_as("8b 04 25 78 56 34 12",
			 (struct want){ LD, 4, 4, 0, 0, NONE, NONE, 1, 0x12345678 }));
	CHECK(decodes_as("8b 04 8d 00 10 00 00",
			 (struct want){ LD, 4, 4, 0, 0, NONE, 1, 4, 0x1000 }));
	/* SIB base 101 with REX.B and mod 00 is still "no base" */
	CHECK(decodes_as("41 8b 04 25 10 00 00 00",
			 (struct want){ LD, 4, 4, 0, 0, NONE, NONE, 1, 0x10 }));
	/* r13 base with mod 01 in a SIB */
	CHECK(decodes_as("43 8b 44 35 f8", (struct want){ LD, 4, 4, 0, 0, 13, 14, 1, -8 }));
	/* negative disp8 and disp32 */
	CHECK(decodes_as("8b 79 f4", (struct want){ LD, 4, 4, 7, 0, 1, NONE, 1, -0xc }));
	CHECK(decodes_as("48 89 86 60 fb ff ff",
			 (struct want){ ST, 8, 8, 0, 0, 6, NONE, 1, -0x4a0 }));
}

TEST(rip_relative)
{
	struct pciem_insn in;
	struct pciem_insn_regs r = { .rip = 0xffffffffc0001000ULL };

	CHECK(decodes_as("8b 05 10 00 00 00", (struct want){ LD, 4, 4, 0, 0, RIP, NONE, 1, 0x10 }));
	CHECK(dec("44 8b 0d f0 ff ff ff", &in) == 0);
	CHECK(in.base == RIP && in.reg == 9 && in.disp == -0x10);
	/* relative to the next instruction */
	CHECK(pciem_insn_ea(&r, &in) == 0xffffffffc0001000ULL + 7 - 0x10);
}

TEST(high_byte_registers)
{
	/* without REX, reg 4..7 are AH CH DH BH: mov %bh,0x3(%rdx) */
	CHECK(decodes_as("88 7a 03", (struct want){ ST, 1, 1, 3, 1, 2, NONE, 1, 3 }));
	CHECK(decodes_as("8a 20", (struct want){ LD, 1, 1, 0, 1, 0, NONE, 1, 0 }));
	/* with any REX (even 40), they are SPL BPL SIL DIL */
	CHECK(decodes_as("40 88 37", (struct want){ ST, 1, 1, 6, 0, 7, NONE, 1, 0 }));
	CHECK(decodes_as("40 8a 3e", (struct want){ LD, 1, 1, 7, 0, 6, NONE, 1, 0 }));
	CHECK(decodes_as("40 8a 20", (struct want){ LD, 1, 1, 4, 0, 0, NONE, 1, 0 }));
}

TEST(store_immediates)
{
	struct pciem_insn in;

	CHECK(dec("c6 07 ab", &in) == 0);
	CHECK(in.kind == STI && in.width == 1 && in.imm == (u64)(long long)(signed char)0xab);
	CHECK(dec("66 c7 07 34 12", &in) == 0);
	CHECK(in.kind == STI && in.width == 2 && in.imm == 0x1234 && in.len == 5);
	CHECK(dec("c7 44 8b 14 00 00 00 80", &in) == 0);
	CHECK(in.width == 4 && in.base == 3 && in.index == 1 && in.scale == 4 &&
	      in.disp == 0x14 && (in.imm & 0xffffffff) == 0x80000000);
	/* REX.W: imm32 sign-extended to 64 */
	CHECK(dec("48 c7 40 08 ff ff ff ff", &in) == 0);
	CHECK(in.width == 8 && in.imm == ~0ULL && in.len == 8);
	CHECK(dec("48 c7 40 08 ff ff ff 7f", &in) == 0);
	CHECK(in.imm == 0x7fffffffULL);
	/* disp32 and imm32 together, through a SIB: movq $0x10,0x88(%r9) */
	CHECK(dec("49 c7 81 88 00 00 00 10 00 00 00", &in) == 0);
	CHECK(in.base == 9 && in.disp == 0x88 && in.imm == 0x10 && in.len == 11);
	/* /1../7 of C6/C7 are other instructions */
	CHECK(dec("c7 47 08 01 00 00 00", &in) == 0);
	CHECK(dec("c7 4f 08 01 00 00 00", &in) == -EOPNOTSUPP);
	CHECK(dec("c6 f8 00", &in) == -EOPNOTSUPP);	/* xabort */
}

TEST(moffs)
{
	struct pciem_insn in;

	CHECK(dec("a1 00 10 00 00 00 c9 ff ff", &in) == 0);
	CHECK(in.kind == LD && in.width == 4 && in.reg == 0 && in.base == NONE &&
	      in.index == NONE && (u64)in.disp == 0xffffc90000001000ULL && in.len == 9);
	CHECK(dec("a0 08 00 00 00 00 00 00 00", &in) == 0);
	CHECK(in.kind == LD && in.width == 1 && !in.high8 && in.disp == 8);
	CHECK(dec("48 a3 00 20 00 00 00 00 00 00", &in) == 0);
	CHECK(in.kind == ST && in.width == 8 && in.reg == 0 && in.len == 10);
	/* REX.B does not rename the accumulator */
	CHECK(dec("41 a2 00 20 00 00 00 00 00 00", &in) == 0);
	CHECK(in.kind == ST && in.width == 1 && in.reg == 0);
	CHECK(dec("66 a3 04 00 00 00 00 00 00 00", &in) == 0);
	CHECK(in.width == 2);
}

TEST(movzx_movsx)
{
	CHECK(decodes_as("0f b6 56 76", (struct want){ ZX, 1, 4, 2, 0, 6, NONE, 1, 0x76 }));
	CHECK(decodes_as("0f b7 40 0e", (struct want){ ZX, 2, 4, 0, 0, 0, NONE, 1, 0xe }));
	CHECK(decodes_as("48 0f b6 07", (struct want){ ZX, 1, 8, 0, 0, 7, NONE, 1, 0 }));
	CHECK(decodes_as("66 0f b6 07", (struct want){ ZX, 1, 2, 0, 0, 7, NONE, 1, 0 }));
	CHECK(decodes_as("44 0f b7 03", (struct want){ ZX, 2, 4, 8, 0, 3, NONE, 1, 0 }));
	CHECK(decodes_as("0f be 83 72 01 00 00",
			 (struct want){ SX, 1, 4, 0, 0, 3, NONE, 1, 0x172 }));
	CHECK(decodes_as("48 0f bf 07", (struct want){ SX, 2, 8, 0, 0, 7, NONE, 1, 0 }));
	/* movsxd (movslq) needs REX.W */
	CHECK(decodes_as("48 63 47 08", (struct want){ SX, 4, 8, 0, 0, 7, NONE, 1, 8 }));
	CHECK(decodes_as("4d 63 04 24", (struct want){ SX, 4, 8, 8, 0, 12, NONE, 1, 0 }));
	{
		struct pciem_insn in;

		CHECK(dec("63 47 08", &in) == -EOPNOTSUPP);
	}
}

TEST(string_forms)
{
	struct pciem_insn in;

	CHECK(dec("a4", &in) == 0);
	CHECK(in.kind == PCIEM_INSN_MOVS && in.width == 1 && !in.rep && in.len == 1);
	CHECK(dec("f3 a4", &in) == 0);
	CHECK(in.kind == PCIEM_INSN_MOVS && in.width == 1 && in.rep && in.len == 2);
	CHECK(dec("66 f3 a5", &in) == 0);
	CHECK(in.kind == PCIEM_INSN_MOVS && in.width == 2 && in.rep);
	CHECK(dec("f3 a5", &in) == 0);
	CHECK(in.kind == PCIEM_INSN_MOVS && in.width == 4 && in.rep);
	CHECK(dec("f3 48 a5", &in) == 0);
	CHECK(in.kind == PCIEM_INSN_MOVS && in.width == 8 && in.rep && in.len == 3);
	CHECK(dec("aa", &in) == 0);
	CHECK(in.kind == PCIEM_INSN_STOS && in.width == 1 && in.reg == 0 && !in.rep);
	CHECK(dec("f3 48 ab", &in) == 0);
	CHECK(in.kind == PCIEM_INSN_STOS && in.width == 8 && in.rep);
	CHECK(dec("66 ab", &in) == 0);
	CHECK(in.kind == PCIEM_INSN_STOS && in.width == 2);
	CHECK(dec("ac", &in) == 0);
	CHECK(in.kind == PCIEM_INSN_LODS && in.width == 1 && in.reg == 0);
	CHECK(dec("48 ad", &in) == 0);
	CHECK(in.kind == PCIEM_INSN_LODS && in.width == 8);
	/* F2 repeats MOVS/STOS too */
	CHECK(dec("f2 ab", &in) == 0);
	CHECK(in.rep);
	/* a source segment override is noted */
	CHECK(dec("64 a4", &in) == 0);
	CHECK(in.seg == PCIEM_SEG_FS);
}

TEST(prefixes)
{
	struct pciem_insn in;

	/* gs/fs are recorded and used by ea */
	CHECK(dec("65 48 8b 04 25 28 00 00 00", &in) == 0);
	CHECK(in.seg == PCIEM_SEG_GS && in.base == NONE && in.disp == 0x28);
	CHECK(dec("2e 8b 00", &in) == 0 && in.seg == PCIEM_SEG_CS);
	CHECK(dec("36 8b 00", &in) == 0 && in.seg == PCIEM_SEG_SS);
	CHECK(dec("3e 8b 00", &in) == 0 && in.seg == PCIEM_SEG_DS);
	CHECK(dec("26 8b 00", &in) == 0 && in.seg == PCIEM_SEG_ES);
	CHECK(dec("64 8b 00", &in) == 0 && in.seg == PCIEM_SEG_FS);
	/* a REX that does not directly precede the opcode is ignored */
	CHECK(dec("48 66 8b 07", &in) == 0);
	CHECK(in.width == 2 && in.rex == 0);
	CHECK(dec("41 2e 8b 03", &in) == 0);
	CHECK(in.base == 3);
	/* the last REX counts */
	CHECK(dec("41 48 8b 03", &in) == 0);
	CHECK(in.width == 8 && in.base == 3);
	/* exactly 15 bytes is fine, 16 is not */
	CHECK(dec("2e 3e 64 48 c7 84 88 78 56 34 12 ef be ad de", &in) == 0);
	CHECK(in.len == 15 && in.seg == PCIEM_SEG_FS && in.imm == 0xffffffffdeadbeefULL);
	CHECK(dec("2e 2e 3e 64 48 c7 84 88 78 56 34 12 ef be ad de", &in) == -EINVAL);
	CHECK(dec("66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 8b 00", &in) == -EINVAL);
}

TEST(refusals)
{
	struct pciem_insn in;

	/* mod 11: a register operand, not a memory access */
	CHECK(dec("89 c0", &in) == -EOPNOTSUPP);
	CHECK(dec("48 c7 c6 00 00 00 00", &in) == -EOPNOTSUPP);
	CHECK(dec("0f b6 c0", &in) == -EOPNOTSUPP);
	/* lock and address-size prefixes */
	CHECK(dec("f0 89 03", &in) == -EOPNOTSUPP);
	CHECK(dec("67 8b 03", &in) == -EOPNOTSUPP);
	CHECK(dec("67 a4", &in) == -EOPNOTSUPP);
	/* rep on a plain MOV is XRELEASE/XACQUIRE, on 0F xx another insn */
	CHECK(dec("f3 89 03", &in) == -EOPNOTSUPP);
	CHECK(dec("f3 0f b6 03", &in) == -EOPNOTSUPP);
	/* other opcodes that touch memory */
	CHECK(dec("01 03", &in) == -EOPNOTSUPP);		/* add */
	CHECK(dec("87 03", &in) == -EOPNOTSUPP);		/* xchg */
	CHECK(dec("8d 03", &in) == -EOPNOTSUPP);		/* lea */
	CHECK(dec("0f c3 03", &in) == -EOPNOTSUPP);		/* movnti */
	CHECK(dec("0f 10 03", &in) == -EOPNOTSUPP);		/* movups */
	CHECK(dec("66 0f 38 f8 07", &in) == -EOPNOTSUPP);	/* movdir64b */
	CHECK(dec("f3 ae", &in) == -EOPNOTSUPP);		/* repe scasb */
	CHECK(dec("8c 03", &in) == -EOPNOTSUPP);		/* mov %es,(%rbx) */
	CHECK(dec("c4 e1 7a 6f 07", &in) == -EOPNOTSUPP);	/* vex */
	CHECK(dec("ff", &in) == -EOPNOTSUPP);
}

/* n bytes right before a PROT_NONE page: any read past len faults. */
static u8 *guard_page;
static long page_size;

static u8 *at_guard(const u8 *bytes, unsigned int n)
{
	u8 *p = guard_page + page_size - n;

	memcpy(p, bytes, n);
	return p;
}

TEST(truncated_input)
{
	static const char *const samples[] = {
		"65 48 8b 04 25 28 00 00 00",
		"4f 8b 7c da 08",
		"66 c7 07 34 12",
		"48 c7 84 24 88 00 00 00 ff ff ff ff",
		"8b 05 10 00 00 00",
		"48 a1 00 10 00 00 00 c9 ff ff",
		"44 0f b7 84 24 00 01 00 00",
		"f3 48 ab",
		"66 f3 a5",
		"48 63 47 08",
		"41 89 45 00",
	};
	unsigned int i, n, cut;

	page_size = sysconf(_SC_PAGESIZE);
	guard_page = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(guard_page != MAP_FAILED);
	if (guard_page == MAP_FAILED)
		return;
	CHECK(mprotect(guard_page + page_size, page_size, PROT_NONE) == 0);

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		u8 buf[16];
		struct pciem_insn in;

		n = parse_hex(samples[i], buf, sizeof(buf));
		CHECK(pciem_insn_decode(at_guard(buf, n), n, &in) == 0 && in.len == n);
		for (cut = 0; cut < n; cut++) {
			int ret = pciem_insn_decode(at_guard(buf, cut), cut, &in);

			if (ret != -EINVAL)
				fprintf(stderr, "%s cut to %u: %d\n", samples[i], cut, ret);
			CHECK(ret == -EINVAL);
		}
	}
	munmap(guard_page, 2 * page_size);
}

TEST(load_semantics)
{
	struct pciem_insn in;
	struct pciem_insn_regs r;
	const u64 junk = 0x1122334455667788ULL;

	/* 32-bit load zeroes bits 63:32 */
	memset(&r, 0, sizeof(r));
	r.gpr[0] = junk;
	CHECK(dec("8b 00", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0xffffffffaabbccddULL);
	CHECK(r.gpr[0] == 0xaabbccddULL);
	/* 64-bit */
	CHECK(dec("4c 8b 07", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0x8000000000000001ULL);
	CHECK(r.gpr[8] == 0x8000000000000001ULL);
	/* 8- and 16-bit loads keep the rest */
	r.gpr[1] = junk;
	CHECK(dec("8a 08", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0xee);
	CHECK(r.gpr[1] == 0x11223344556677eeULL);
	CHECK(dec("66 8b 08", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0xabcd);
	CHECK(r.gpr[1] == 0x112233445566abcdULL);
	/* AH..BH land in bits 15:8 */
	r.gpr[3] = junk;
	CHECK(dec("8a 38", &in) == 0);	/* mov (%rax),%bh */
	pciem_insn_load_apply(&r, &in, 0x5a);
	CHECK(r.gpr[3] == 0x1122334455665a88ULL);
	/* ...but with REX the same encoding is DIL */
	r.gpr[7] = junk;
	CHECK(dec("40 8a 38", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0x5a);
	CHECK(r.gpr[7] == 0x112233445566775aULL && r.gpr[3] == 0x1122334455665a88ULL);
	/* movzx to 32 and 16 bits */
	r.gpr[2] = junk;
	CHECK(dec("0f b6 10", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0x1ff);
	CHECK(r.gpr[2] == 0xff);
	r.gpr[2] = junk;
	CHECK(dec("66 0f b6 10", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0x80);
	CHECK(r.gpr[2] == 0x1122334455660080ULL);
	/* movsx byte to 32 (upper cleared) and word to 64 */
	r.gpr[2] = junk;
	CHECK(dec("0f be 10", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0x80);
	CHECK(r.gpr[2] == 0xffffff80ULL);
	CHECK(dec("48 0f bf 10", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0x8001);
	CHECK(r.gpr[2] == 0xffffffffffff8001ULL);
	pciem_insn_load_apply(&r, &in, 0x7001);
	CHECK(r.gpr[2] == 0x7001);
	r.gpr[2] = junk;
	CHECK(dec("66 0f be 10", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0xfe);
	CHECK(r.gpr[2] == 0x112233445566fffeULL);
	/* movsxd */
	CHECK(dec("48 63 10", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0x80000000);
	CHECK(r.gpr[2] == 0xffffffff80000000ULL);
	/* lods writes the accumulator */
	r.gpr[0] = junk;
	CHECK(dec("66 ad", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0x12345);
	CHECK(r.gpr[0] == 0x1122334455662345ULL);
	/* a store is not a load: nothing changes */
	r.gpr[0] = junk;
	CHECK(dec("89 00", &in) == 0);
	pciem_insn_load_apply(&r, &in, 0);
	CHECK(r.gpr[0] == junk);
}

TEST(store_values)
{
	struct pciem_insn in;
	struct pciem_insn_regs r;

	memset(&r, 0, sizeof(r));
	r.gpr[0] = 0x1122334455667788ULL;
	r.gpr[3] = 0xa1a2a3a4a5a6a7a8ULL;
	r.gpr[12] = 0xdeadbeefcafef00dULL;
	CHECK(dec("89 18", &in) == 0);
	CHECK(pciem_insn_store_value(&r, &in) == 0xa5a6a7a8ULL);
	CHECK(dec("48 89 18", &in) == 0);
	CHECK(pciem_insn_store_value(&r, &in) == 0xa1a2a3a4a5a6a7a8ULL);
	CHECK(dec("66 89 18", &in) == 0);
	CHECK(pciem_insn_store_value(&r, &in) == 0xa7a8);
	CHECK(dec("88 18", &in) == 0);	/* %bl */
	CHECK(pciem_insn_store_value(&r, &in) == 0xa8);
	CHECK(dec("88 38", &in) == 0);	/* %bh */
	CHECK(pciem_insn_store_value(&r, &in) == 0xa7);
	CHECK(dec("44 88 20", &in) == 0);	/* %r12b */
	CHECK(pciem_insn_store_value(&r, &in) == 0x0d);
	CHECK(dec("66 c7 00 fe ff", &in) == 0);
	CHECK(pciem_insn_store_value(&r, &in) == 0xfffe);
	CHECK(dec("c7 00 fe ff ff ff", &in) == 0);
	CHECK(pciem_insn_store_value(&r, &in) == 0xfffffffeULL);
	CHECK(dec("48 c7 00 fe ff ff ff", &in) == 0);
	CHECK(pciem_insn_store_value(&r, &in) == 0xfffffffffffffffeULL);
	CHECK(dec("f3 ab", &in) == 0);
	CHECK(pciem_insn_store_value(&r, &in) == 0x55667788ULL);
	CHECK(dec("a4", &in) == 0);
	CHECK(pciem_insn_store_value(&r, &in) == 0);
	CHECK(pciem_insn_reads_mem(&in) && pciem_insn_writes_mem(&in));
	CHECK(dec("8b 00", &in) == 0);
	CHECK(pciem_insn_reads_mem(&in) && !pciem_insn_writes_mem(&in));
}

TEST(effective_address)
{
	struct pciem_insn in;
	struct pciem_insn_regs r;

	memset(&r, 0, sizeof(r));
	r.gpr[10] = 0x1000;
	r.gpr[11] = 0x30;
	r.gpr[4] = 0x7000;
	r.gs_base = 0xffff888000000000ULL;
	r.fs_base = 0x100000;
	CHECK(dec("4f 8b 7c da 08", &in) == 0);	/* 0x8(%r10,%r11,8) */
	CHECK(pciem_insn_ea(&r, &in) == 0x1000 + 0x30 * 8 + 8);
	CHECK(dec("8b 44 24 fc", &in) == 0);	/* -0x4(%rsp) */
	CHECK(pciem_insn_ea(&r, &in) == 0x7000 - 4);
	CHECK(dec("65 48 8b 04 25 28 00 00 00", &in) == 0);
	CHECK(pciem_insn_ea(&r, &in) == 0xffff888000000028ULL);
	CHECK(dec("64 8b 00", &in) == 0);	/* %fs:(%rax), rax = 0 */
	CHECK(pciem_insn_ea(&r, &in) == 0x100000);
	CHECK(dec("48 a1 00 10 00 00 00 c9 ff ff", &in) == 0);
	CHECK(pciem_insn_ea(&r, &in) == 0xffffc90000001000ULL);
	/* string forms: destination rdi, source rsi */
	r.gpr[6] = 0x5000;
	r.gpr[7] = 0x6000;
	CHECK(dec("f3 a5", &in) == 0);
	CHECK(pciem_insn_ea(&r, &in) == 0x6000 && pciem_insn_src_ea(&r, &in) == 0x5000);
	CHECK(dec("ac", &in) == 0);
	CHECK(pciem_insn_ea(&r, &in) == 0x5000);
}

/* Emulate a decoded string instruction on real memory, one element a call. */
static void run_string(struct pciem_insn_regs *r, const struct pciem_insn *in)
{
	while (pciem_insn_string_count(r, in)) {
		u64 v = 0;

		if (pciem_insn_reads_mem(in))
			memcpy(&v, (void *)(uintptr_t)pciem_insn_src_ea(r, in), in->width);
		if (in->kind == PCIEM_INSN_STOS)
			v = pciem_insn_store_value(r, in);
		if (in->kind == PCIEM_INSN_LODS)
			pciem_insn_load_apply(r, in, v);
		else
			memcpy((void *)(uintptr_t)pciem_insn_ea(r, in), &v, in->width);
		pciem_insn_string_step(r, in, 1);
		if (pciem_insn_done(r, in))
			break;
	}
	pciem_insn_advance_rip(r, in);
}

TEST(string_emulation)
{
	static const char *const movs[] = { "f3 a4", "66 f3 a5", "f3 a5", "f3 48 a5" };
	u8 src[64], dst[64], want[64];
	struct pciem_insn in;
	struct pciem_insn_regs r;
	unsigned int i, w;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (u8)(i * 7 + 1);
	for (i = 0; i < 4; i++) {
		CHECK(dec(movs[i], &in) == 0);
		w = in.width;
		memset(&r, 0, sizeof(r));
		memset(dst, 0, sizeof(dst));
		r.gpr[PCIEM_GPR_RSI] = (uintptr_t)src;
		r.gpr[PCIEM_GPR_RDI] = (uintptr_t)dst;
		r.gpr[PCIEM_GPR_RCX] = 40 / w;
		r.rip = 0x1000;
		run_string(&r, &in);
		CHECK(memcmp(dst, src, 40) == 0);
		CHECK(dst[40] == 0);
		CHECK(r.gpr[PCIEM_GPR_RCX] == 0);
		CHECK(r.gpr[PCIEM_GPR_RSI] == (uintptr_t)src + 40);
		CHECK(r.gpr[PCIEM_GPR_RDI] == (uintptr_t)dst + 40);
		CHECK(r.rip == 0x1000u + in.len);
	}

	/* std; rep stosq: fills downwards from rdi */
	CHECK(dec("f3 48 ab", &in) == 0);
	memset(&r, 0, sizeof(r));
	memset(dst, 0, sizeof(dst));
	r.flags = PCIEM_INSN_FLAGS_DF | 0x2;
	r.gpr[PCIEM_GPR_RAX] = 0x0102030405060708ULL;
	r.gpr[PCIEM_GPR_RDI] = (uintptr_t)&dst[24];
	r.gpr[PCIEM_GPR_RCX] = 3;
	run_string(&r, &in);
	memset(want, 0, sizeof(want));
	for (i = 0; i < 3; i++)
		memcpy(&want[8 + 8 * i], &r.gpr[PCIEM_GPR_RAX], 8);
	CHECK(memcmp(dst, want, sizeof(dst)) == 0);
	CHECK(r.gpr[PCIEM_GPR_RDI] == (uintptr_t)&dst[0]);
	CHECK(r.gpr[PCIEM_GPR_RCX] == 0 && r.rip == 3);

	/* all elements in one step, as a caller may do */
	memset(&r, 0, sizeof(r));
	r.gpr[PCIEM_GPR_RDI] = 0x10000;
	r.gpr[PCIEM_GPR_RCX] = 5;
	CHECK(pciem_insn_string_count(&r, &in) == 5);
	CHECK(!pciem_insn_done(&r, &in));
	pciem_insn_string_step(&r, &in, 5);
	CHECK(r.gpr[PCIEM_GPR_RDI] == 0x10000 + 40 && r.gpr[PCIEM_GPR_RCX] == 0);
	CHECK(pciem_insn_done(&r, &in));

	/* without REP: one element, rcx untouched */
	CHECK(dec("66 a5", &in) == 0);
	memset(&r, 0, sizeof(r));
	r.gpr[PCIEM_GPR_RCX] = 9;
	r.gpr[PCIEM_GPR_RSI] = 0x100;
	r.gpr[PCIEM_GPR_RDI] = 0x200;
	CHECK(pciem_insn_string_count(&r, &in) == 1);
	pciem_insn_string_step(&r, &in, 1);
	CHECK(r.gpr[PCIEM_GPR_RCX] == 9 && r.gpr[PCIEM_GPR_RSI] == 0x102 &&
	      r.gpr[PCIEM_GPR_RDI] == 0x202 && pciem_insn_done(&r, &in));

	/* lodsb with DF=1 steps rsi only */
	CHECK(dec("ac", &in) == 0);
	memset(&r, 0, sizeof(r));
	r.flags = PCIEM_INSN_FLAGS_DF;
	r.gpr[PCIEM_GPR_RSI] = (uintptr_t)&src[5];
	r.gpr[PCIEM_GPR_RDI] = 0x77;
	run_string(&r, &in);
	CHECK(r.gpr[PCIEM_GPR_RAX] == src[5] && r.gpr[PCIEM_GPR_RSI] == (uintptr_t)&src[4]);
	CHECK(r.gpr[PCIEM_GPR_RDI] == 0x77);
}

/* ---- the table of real encodings ---- */

/* Register name (as objdump prints it) -> number, width, high8. */
static bool reg_by_name(const char *name, unsigned int *num, unsigned int *width, bool *high8)
{
	static const char *const names[4][16] = {
		{ "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
		  "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b" },
		{ "ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
		  "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w" },
		{ "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
		  "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d" },
		{ "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" },
	};
	static const char *const high[4] = { "ah", "ch", "dh", "bh" };
	unsigned int w, i;

	for (w = 0; w < 4; w++)
		for (i = 0; i < 16; i++)
			if (!strcmp(name, names[w][i])) {
				*num = i;
				*width = 1u << w;
				*high8 = false;
				return true;
			}
	for (i = 0; i < 4; i++)
		if (!strcmp(name, high[i])) {
			*num = i;
			*width = 1;
			*high8 = true;
			return true;
		}
	return false;
}

static unsigned int base_by_name(const char *name)
{
	unsigned int num, width;
	bool high8;

	if (!strcmp(name, "-"))
		return NONE;
	if (!strcmp(name, "rip"))
		return RIP;
	if (reg_by_name(name, &num, &width, &high8) && width == 8)
		return num;
	return 0x100;	/* never matches */
}

static unsigned int seg_by_name(const char *name)
{
	static const char *const segs[] = { "-", "es", "cs", "ss", "ds", "fs", "gs" };
	unsigned int i;

	for (i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		if (!strcmp(name, segs[i]))
			return i;
	return 0x100;
}

/* "-0x38" / "0xffffc90000001000" -> two's complement 64-bit */
static u64 parse_num(const char *s)
{
	if (*s == '-')
		return -(u64)strtoull(s + 1, NULL, 0);
	return strtoull(s, NULL, 0);
}

static u64 mask_of(unsigned int width)
{
	return width >= 8 ? ~0ULL : (1ULL << (8 * width)) - 1;
}

/* Compare one table line; returns NULL or what differs. */
static const char *check_line(char *line)
{
	char hex[64], kind[16], reg[16], seg[8], base[16], index[16], disp[32], imm[32];
	unsigned int width, rep, scale, n, num = NONE, rwidth, i;
	bool high8 = false;
	u8 bytes[16];
	struct pciem_insn in;

	if (sscanf(line, "%63s %15s %u %15s %u %7s %15s %15s %u %31s %31s", hex, kind, &width,
		   reg, &rep, seg, base, index, &scale, disp, imm) != 11)
		return "malformed line";
	for (n = 0; hex[2 * n] && n < sizeof(bytes); n++)
		if (sscanf(&hex[2 * n], "%2hhx", &bytes[n]) != 1)
			return "bad hex";
	if (pciem_insn_decode(bytes, n, &in))
		return "decode failed";
	if (in.len != n)
		return "length";
	if (strcmp(pciem_insn_kind_name(in.kind), kind))
		return "kind";
	if (in.width != width)
		return "width";
	rwidth = width;
	if (strcmp(reg, "-") && !reg_by_name(reg, &num, &rwidth, &high8))
		return "unknown register name in table";
	if (in.reg != num || in.high8 != high8 || in.reg_width != rwidth)
		return "register";
	if (in.rep != (rep != 0))
		return "rep";
	if (in.seg != seg_by_name(seg))
		return "segment";
	if (in.base != base_by_name(base) || in.index != base_by_name(index) ||
	    in.scale != scale)
		return "base/index/scale";
	if ((u64)in.disp != parse_num(disp))
		return "displacement";
	if (strcmp(imm, "-") && (in.imm & mask_of(width)) != (parse_num(imm) & mask_of(width)))
		return "immediate";
	/* a decode of the same bytes with any one byte less must fail cleanly */
	for (i = 0; i < n; i++)
		if (pciem_insn_decode(bytes, i, &in) != -EINVAL)
			return "truncated decode did not fail";
	return NULL;
}

TEST(real_encodings_table)
{
	const char *dir = getenv("PCIEM_TEST_DATA");
	char path[4096], line[512];
	unsigned int lines = 0, bad = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/insn_table.txt", dir ? dir : "tests/unit");
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f) {
		fprintf(stderr, "cannot open %s (set PCIEM_TEST_DATA)\n", path);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		const char *why;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		lines++;
		why = check_line(line);
		if (why) {
			if (bad++ < 20)
				fprintf(stderr, "insn_table: %s: %s", why, line);
		}
	}
	fclose(f);
	fprintf(stderr, "insn_table: %u encodings, %u mismatches\n", lines, bad);
	CHECK(lines > 2000);	/* the generated table, not an empty file */
	CHECK(bad == 0);
}

int main(void)
{
	RUN(mov_forms);
	RUN(rex_extended_registers);
	RUN(sib_and_special_bases);
	RUN(rip_relative);
	RUN(high_byte_registers);
	RUN(store_immediates);
	RUN(moffs);
	RUN(movzx_movsx);
	RUN(string_forms);
	RUN(prefixes);
	RUN(refusals);
	RUN(truncated_input);
	RUN(load_semantics);
	RUN(store_values);
	RUN(effective_address);
	RUN(string_emulation);
	RUN(real_encodings_table);
	return check_done();
}
