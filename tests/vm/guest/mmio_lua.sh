#!/bin/sh
# SPDX-License-Identifier: MIT
# examples/registers.lua served by pciem-lua, driven from kernel code by
# pciem_testdrv: the memory ID register, posted SCRATCH writes reaching their
# Lua handler, sync COUNTER / clear-on-read STATUS / FIFO computed by Lua
# handlers, sync reads with no handler answered from the shadow, the MSI-X
# table behaving as memory, and the device's counters.
. /pciem/tests/lib.sh

script=/pciem/examples/registers.lua
[ -f "$script" ] || { fail lua_mmio.present "$script is missing"; finish; }
lsmod | grep -q '^pciem_testdrv' || insmod /pciem/bin/pciem_testdrv.ko ||
	{ fail lua_mmio.testdrv_loads "insmod failed"; finish; }

start_dev /tmp/registers.log "$script" || { fail lua_mmio.start "no device"; finish; }
a=$DEV_ADDR
echo pciem_testdrv >"/sys/bus/pci/devices/$a/driver_override"
check lua_mmio.bind sh -c "echo $a >/sys/bus/pci/drivers/pciem_testdrv/bind"
D=/sys/kernel/debug/pciem_testdrv/$a

io() {
	echo "$*" >"$D/io" 2>/dev/null
	cat "$D/io"
}

check_eq lua_mmio.id_memory "$(io rL 0 0x0)" 0x52454753
check_eq lua_mmio.scratch_write "$(io wL 0 0x4 0x5eed)" ok
check_eq lua_mmio.scratch_readback "$(io rL 0 0x4)" 0x5eed
check lua_mmio.scratch_handler wait_for grep -q "registers: SCRATCH = 0x5eed (event [0-9]*)" /tmp/registers.log
check_eq lua_mmio.counter "$(io rL 0 0x100 3)" "0x1 0x2 0x3"
check_eq lua_mmio.counter_narrow "$(io rW 0 0x100)" 0x4
io wL 0 0x108 0x5 >/dev/null
io wL 0 0x108 0x30 >/dev/null
check_eq lua_mmio.status_clear_on_read "$(io rL 0 0x104 2)" "0x35 0x0"
io wL 0 0x10c 0xa >/dev/null
io wL 0 0x10c 0xb >/dev/null
check_eq lua_mmio.fifo "$(io rL 0 0x10c 3)" "0xa 0xb 0xdeadbeef"
# A sync range without a handler: the shadow answers (the driver's own writes).
io wL 0 0x120 0x11223344 >/dev/null
check_eq lua_mmio.sync_no_handler "$(io rL 0 0x120)" 0x11223344
check_eq lua_mmio.sync_fromio "$(io fromio 0 0x120 0x4)" 44332211
# The MSI-X table (BAR0 0x800) is memory the kernel owns.
io wL 0 0x808 0xabcd >/dev/null
check_eq lua_mmio.msix_table_memory "$(io rL 0 0x808)" 0xabcd

c=/sys/kernel/debug/pciem/registers/counters
check lua_mmio.counters_file test -r "$c"
check lua_mmio.sync_roundtrips test "$(sed -n 's/^sync_roundtrips //p' "$c")" -ge 10
check_eq lua_mmio.no_timeouts "$(sed -n 's/^sync_timeouts //p' "$c")" 0

stop_dev "$DEV_PID" TERM
check_eq lua_mmio.sigterm_status "$DEV_STATUS" 0
check lua_mmio.gone wait_for dev_absent "$a"
rmmod pciem_testdrv
finish
