#!/bin/sh
# SPDX-License-Identifier: MIT
# Build tests/unit/insn_table.txt: every distinct MOV/MOVZX/MOVSX/MOVS/STOS/LODS
# encoding with a memory operand found by objdump in the given objects, plus
# the string forms of the kernel's memcpy_toio/memcpy_fromio/memset_io.
#
#   tests/unit/gen_insn_table.sh [-o OUT] OBJECT...
#
# Typical objects: nvme.ko and nvme-core.ko from the guest's linux-image .deb
# (dpkg-deb -x it), pci_endpoint_test.ko built from linux-source-6.1. The
# expected decode of each line comes from objdump's AT&T text, never from our
# decoder, so the table test checks one against the other.
set -eu

out=
if [ "${1:-}" = "-o" ]; then
	out=$2
	shift 2
fi
[ $# -gt 0 ] || { echo "usage: $0 [-o OUT] OBJECT..." >&2; exit 2; }
for f in "$@"; do
	[ -r "$f" ] || { echo "$0: cannot read $f" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# vmlinux is not in the image .deb, so the string forms behind the 6.1 iomem
# helpers are written out here and assembled:
#   arch/x86/lib/iomem.c       memcpy_{to,from}io: movsb, movsw, rep movsl
#   arch/x86/lib/iomap_copy_64.S  __iowrite32_copy: rep movsl
#   arch/x86/lib/memset_64.S   memset_io -> memset: rep stosq, rep stosb,
#                              and memset_orig's movq/movb stores
#   arch/x86/lib/memcpy_64.S   rep movsq, rep movsb
# and the byte/word/moffs forms readb/readw/writeb/writew (asm/io.h's
# "movb %1,%0" templates) and movabs can produce, absent from the objects.
cat >"$tmp/iomem.S" <<'EOF'
	.text
	movsb
	movsw
	rep movsl
	rep movsq
	rep movsb
	rep stosq
	rep stosb
	movq %rax,(%rdi)
	movq %rax,8(%rdi)
	movq %rax,16(%rdi)
	movq %rax,24(%rdi)
	movq %rax,32(%rdi)
	movq %rax,40(%rdi)
	movq %rax,48(%rdi)
	movq %rax,56(%rdi)
	movb %al,(%rdi)
	movb (%rdi),%al
	movb (%rsi),%dil
	movb 0x10(%r8),%r9b
	movw (%rdi),%ax
	movw 0x4(%r12),%r13w
	movb %sil,(%rdi)
	movb %bh,0x3(%rdx)
	movw %si,0x2(%rdi)
	movw $0x1234,(%rdi)
	movl $0x80000000,0x14(%rbx,%rcx,4)
	movabs 0xffffc90000001000,%al
	movabs 0xffffc90000001000,%eax
	movabs 0xffffc90000001008,%rax
	movabs %ax,0xffffc90000001004
	movabs %eax,0xffffc90000001004
EOF
as --64 -o "$tmp/iomem.o" "$tmp/iomem.S"

for f in "$tmp/iomem.o" "$@"; do
	objdump -d --insn-width=15 "$f"
done >"$tmp/all.dis"

awk -F'\t' '
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }

# A memory operand: has parentheses, or is a bare (optionally segmented) address.
function is_mem(op) {
	if (op ~ /\(/) return 1
	if (op ~ /^(%[a-z]s:)?-?0x[0-9a-f]+$/ || op ~ /^(%[a-z]s:)?-?[0-9]+$/) return 1
	return 0
}

# Width in bytes of a general register name, 0 if not a GPR.
function reg_width(r) {
	if (r ~ /^(al|bl|cl|dl|ah|bh|ch|dh|spl|bpl|sil|dil|r([89]|1[0-5])b)$/) return 1
	if (r ~ /^(ax|bx|cx|dx|sp|bp|si|di|r([89]|1[0-5])w)$/) return 2
	if (r ~ /^(eax|ebx|ecx|edx|esp|ebp|esi|edi|r([89]|1[0-5])d)$/) return 4
	if (r ~ /^(rax|rbx|rcx|rdx|rsp|rbp|rsi|rdi|r([89]|1[0-5]))$/) return 8
	return 0
}

function suffix_width(c) {
	return c == "b" ? 1 : c == "w" ? 2 : c == "l" ? 4 : c == "q" ? 8 : 0
}

# Split "seg:disp(base,index,scale)" into M_SEG M_DISP M_BASE M_INDEX M_SCALE.
function parse_mem(op,    p, inner, parts, n) {
	M_SEG = "-"; M_DISP = "0"; M_BASE = "-"; M_INDEX = "-"; M_SCALE = 1
	if (match(op, /^%[a-z]s:/)) {
		M_SEG = substr(op, 2, 2)
		op = substr(op, 5)
	}
	p = index(op, "(")
	if (p == 0) {
		M_DISP = op
		return
	}
	if (p > 1) M_DISP = substr(op, 1, p - 1)
	inner = substr(op, p + 1, length(op) - p - 1)
	n = split(inner, parts, ",")
	if (parts[1] != "") M_BASE = substr(parts[1], 2)
	if (n >= 2 && parts[2] != "") M_INDEX = substr(parts[2], 2)
	if (n >= 3) M_SCALE = parts[3]
}

function emit(bytes, kind, width, reg, rep, text,    imm) {
	if (bytes in seen) return
	seen[bytes] = 1
	printf "%s %s %d %s %d %s %s %s %s %s %s # %s\n", bytes, kind, width, reg, rep,
	       M_SEG, M_BASE, M_INDEX, M_SCALE, M_DISP, IMM, text
	count++
}

NF >= 3 && $1 ~ /^ *[0-9a-f]+:$/ {
	bytes = trim($2); gsub(/ /, "", bytes)
	text = $3; sub(/#.*/, "", text); sub(/<.*/, "", text); text = trim(text)
	n = split(text, w, /[ ]+/)
	rep = 0; i = 1
	if (w[1] == "rep") { rep = 1; i = 2 }
	mn = w[i]
	ops = (i + 1 <= n) ? w[i + 1] : ""
	if (mn !~ /^(mov|movb|movw|movl|movq|movabs|movz[bw][wlq]|movs[bw][wlq]|movslq|movs[bwlq]?|stos[bwlq]?|lods[bwlq]?)$/)
		next
	if (text ~ /%(x|y|z)?mm|%st|%cr|%db|%dr|%k[0-7]/) next	# SSE, x87, control regs

	# split operands on commas outside parentheses
	nops = 0; depth = 0; cur = ""
	for (k = 1; k <= length(ops); k++) {
		c = substr(ops, k, 1)
		if (c == "(") depth++
		if (c == ")") depth--
		if (c == "," && depth == 0) { op[++nops] = cur; cur = ""; continue }
		cur = cur c
	}
	if (cur != "") op[++nops] = cur
	IMM = "-"

	# string forms: movs %ds:(%rsi),%es:(%rdi); stos %eax,%es:(%rdi); lods %ds:(%rsi),%al
	if (mn ~ /^(movs|stos|lods)[bwlq]?$/ && (ops ~ /%es:\(%rdi\)/ || ops ~ /\(%rsi\)/ || ops == "")) {
		kind = substr(mn, 1, 4)
		width = suffix_width(substr(mn, 5, 1))
		reg = "-"
		for (k = 1; k <= nops; k++)
			if (op[k] ~ /^%[a-z0-9]+$/) { reg = substr(op[k], 2); width = reg_width(reg) }
		if (kind != "movs" && reg == "-")
			reg = width == 1 ? "al" : width == 2 ? "ax" : width == 4 ? "eax" : "rax"
		M_SEG = "-"; M_DISP = "0"; M_BASE = "-"; M_INDEX = "-"; M_SCALE = 1
		for (k = 1; k <= nops; k++)
			if (op[k] ~ /\(%rsi\)/ && op[k] ~ /^%[a-z]s:/ && substr(op[k], 2, 2) != "ds")
				M_SEG = substr(op[k], 2, 2)
		if (width == 0) next
		emit(bytes, kind, width, reg, rep, text)
		next
	}
	if (rep || nops != 2) next

	if (mn ~ /^movz/ || mn ~ /^movs[bw][wlq]$/ || mn == "movslq") {
		if (!is_mem(op[1])) next
		kind = mn ~ /^movz/ ? "load_zx" : "load_sx"
		width = suffix_width(substr(mn, 5, 1))
		parse_mem(op[1])
		emit(bytes, kind, width, substr(op[2], 2), 0, text)
		next
	}

	# plain mov / movabs
	if (op[1] ~ /^%[a-z]s$/ || op[2] ~ /^%[a-z]s$/) next	# segment register moves
	if (op[1] ~ /^\$/ && is_mem(op[2])) {
		width = suffix_width(substr(mn, 4, 1))
		if (width == 0) next
		IMM = substr(op[1], 2)
		parse_mem(op[2])
		emit(bytes, "store_imm", width, "-", 0, text)
	} else if (is_mem(op[1]) && op[2] ~ /^%/) {
		reg = substr(op[2], 2)
		if (!reg_width(reg)) next
		parse_mem(op[1])
		emit(bytes, "load", reg_width(reg), reg, 0, text)
	} else if (is_mem(op[2]) && op[1] ~ /^%/) {
		reg = substr(op[1], 2)
		if (!reg_width(reg)) next
		parse_mem(op[2])
		emit(bytes, "store", reg_width(reg), reg, 0, text)
	}
}
END { printf "# %d distinct encodings\n", count > "/dev/stderr" }
' "$tmp/all.dis" >"$tmp/body"

{
	echo "# Real x86-64 encodings and their expected decode; generated by"
	echo "# tests/unit/gen_insn_table.sh from objdump -d of:"
	for f in "$@"; do echo "#   $(basename "$f")"; done
	echo "#   + the string forms of arch/x86/lib/{iomem.c,memset_64.S,memcpy_64.S,iomap_copy_64.S}"
	echo "# Columns: bytes kind width reg rep seg base index scale disp imm # objdump text"
	echo "# width: bytes read/written in memory; reg: register operand as objdump"
	echo "# names it (its width is the register width); '-': none; base 'rip': RIP-relative."
	echo "# $(wc -l <"$tmp/body") distinct encodings"
	cat "$tmp/body"
} >"$tmp/table"

if [ -n "$out" ]; then
	cp "$tmp/table" "$out"
else
	cat "$tmp/table"
fi
