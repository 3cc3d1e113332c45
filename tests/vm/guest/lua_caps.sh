#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/vm/devices/full.lua (every BAR shape and capability kind) reads back
# through the guest's lspci, setpci and sysfs exactly as it is described.
. /pciem/tests/lib.sh

start_dev /tmp/caps.log /pciem/tests/devices/full.lua || exit 1
a=$DEV_ADDR
lspci -vvv -nn -s "$a" >/tmp/caps.vvv
lspci -n -vmm -s "$a" >/tmp/caps.vmm
cat /tmp/caps.vvv

# Identity, from lspci's machine-readable form.
field() {
	sed -n "s/^$1:[[:space:]]*//p" /tmp/caps.vmm
}
check_eq id.vendor "$(field Vendor)" 1234
check_eq id.device "$(field Device)" 7e57
check_eq id.subsystem_vendor "$(field SVendor)" 1234
check_eq id.subsystem "$(field SDevice)" 5a5a
check_eq id.revision "$(field Rev)" 42
check_eq id.class "$(field Class)" 1180
check_eq id.prog_if "$(field ProgIf)" 42
check_eq id.interrupt_pin "$(setpci -s "$a" INTERRUPT_PIN)" 02
check_grep id.status_cap_list /tmp/caps.vvv 'Status: Cap\+'

# BARs: lspci's decoding, the raw low bits of the BAR registers, and the sizes
# and flags the kernel recorded in sysfs.
check_grep bar0.lspci /tmp/caps.vvv 'Region 0: Memory at [0-9a-f]+ \(32-bit, non-prefetchable\).* \[size=16K\]'
check_grep bar1.lspci /tmp/caps.vvv 'Region 1: Memory at [0-9a-f]+ \(32-bit, prefetchable\).* \[size=8K\]'
check_grep bar2.lspci /tmp/caps.vvv 'Region 2: Memory at [0-9a-f]+ \(64-bit, prefetchable\).* \[size=1M\]'
check_grep bar4.lspci /tmp/caps.vvv 'Region 4: Memory at [0-9a-f]+ \(64-bit, non-prefetchable\).* \[size=64K\]'
if grep -Eq 'Region (3|5):' /tmp/caps.vvv; then
	fail bar.upper_halves "lspci shows a region 3 or 5, which are the upper halves of 64-bit BARs"
else
	pass bar.upper_halves
fi
lowbits() {
	printf '%x' $((0x$(setpci -s "$a" "BASE_ADDRESS_$1") & 0xf))
}
check_eq bar0.type_bits "$(lowbits 0)" 0
check_eq bar1.type_bits "$(lowbits 1)" 8
check_eq bar2.type_bits "$(lowbits 2)" c
check_eq bar4.type_bits "$(lowbits 4)" 4

# sysfs resource: "start end flags" per BAR; IORESOURCE_PREFETCH 0x2000,
# IORESOURCE_MEM_64 0x100000.
res_line() {
	sed -n "$(($1 + 1))p" "/sys/bus/pci/devices/$a/resource"
}
check_res() {
	# check_res INDEX SIZE PREFETCH(0/1) MEM64(0/1)
	# shellcheck disable=SC2046 # split "start end flags" into $5..$7
	set -- "$1" "$2" "$3" "$4" $(res_line "$1")
	start=$5 end=$6 flags=$7
	if [ "$start" = 0x0000000000000000 ]; then
		fail "bar$1.sysfs" "no address assigned: $(res_line "$1")"
		return
	fi
	size=$((end - start + 1))
	pf=$(((flags >> 13) & 1))
	m64=$(((flags >> 20) & 1))
	check_eq "bar$1.sysfs" "size=$size prefetch=$pf mem64=$m64" "size=$2 prefetch=$3 mem64=$4"
}
check_res 0 16384 0 0
check_res 1 8192 1 0
check_res 2 1048576 1 1
check_res 4 65536 0 1
for i in 3 5; do
	check_eq "bar$i.sysfs_empty" "$(res_line $i)" \
		"0x0000000000000000 0x0000000000000000 0x0000000000000000"
done

# Capabilities, each as described.
check_grep cap.pcie /tmp/caps.vvv 'Capabilities: \[[0-9a-f]+\] Express \(v2\) Endpoint'
check_grep cap.pcie.max_payload /tmp/caps.vvv 'DevCap:[[:space:]]+MaxPayload 512 bytes'
check_grep cap.pcie.link /tmp/caps.vvv 'LnkCap:[[:space:]]+Port #0, Speed 8GT/s, Width x4'
check_grep cap.pm /tmp/caps.vvv 'Capabilities: \[[0-9a-f]+\] Power Management version 3'
check_grep cap.pm.flags /tmp/caps.vvv 'Flags: .*D1\+ D2- .*PME\(D0\+,D1-,D2-,D3hot\+,D3cold-\)'
check_grep cap.msi /tmp/caps.vvv 'Capabilities: \[[0-9a-f]+\] MSI: Enable- Count=1/8 Maskable\+ 64bit\+'
check_grep cap.msi.mask_bits /tmp/caps.vvv 'Masking: 00000000  Pending: 00000000'
check_grep cap.msix /tmp/caps.vvv 'Capabilities: \[[0-9a-f]+\] MSI-X: Enable- Count=16 Masked-'
check_grep cap.msix.table /tmp/caps.vvv 'Vector table: BAR=0 offset=00002000'
check_grep cap.msix.pba /tmp/caps.vvv 'PBA: BAR=4 offset=00000800'
check_grep cap.vendor /tmp/caps.vvv 'Capabilities: \[[0-9a-f]+\] Vendor Specific Information: Len=09'
check_grep cap.ext.vsec /tmp/caps.vvv 'Capabilities: \[100 v1\] Vendor Specific Information: ID=1234 Rev=1 Len=00c'
check_grep cap.ext.dsn /tmp/caps.vvv 'Capabilities: \[[0-9a-f]+ v1\] Device Serial Number 01-23-45-67-89-ab-cd-ef'

# Payload bytes, read raw: the vendor capability's after its 3-byte header,
# the VSEC's after its two header dwords.
voff=$(sed -n 's/.*Capabilities: \[\([0-9a-f]*\)\] Vendor Specific Information: Len.*/\1/p' /tmp/caps.vvv)
if [ -n "$voff" ]; then
	got=""
	for i in 3 4 5 6 7 8; do
		got="$got$(cfg_byte "$a" "$(printf '%x' $((0x$voff + i)))")"
	done
	check_eq cap.vendor.payload "$got" 504349454d21
else
	fail cap.vendor.payload "no vendor capability offset in lspci output"
fi
check_eq cap.ext.vsec.payload "$(cfg_dword "$a" 108)" efbeadde

# The chain as the kernel walked it: capability IDs in order from 0x34.
chain=""
off=$(cfg_byte "$a" 34)
n=0
while [ "$off" != 00 ] && [ "$n" -lt 48 ]; do
	chain="$chain $(cfg_byte "$a" "$off")"
	off=$(cfg_byte "$a" "$(printf '%x' $((0x$off + 1)))")
	n=$((n + 1))
done
check_eq cap.chain "$chain" " 10 01 05 11 09"

stop_dev "$DEV_PID" TERM
check_eq stop.exit_status "$DEV_STATUS" 0
check dev.removed dev_absent "$a"
finish
