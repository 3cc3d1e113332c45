#!/bin/sh
# SPDX-License-Identifier: MIT
# A register served by a native C library (examples/native_counter.c) behind
# trapped MMIO: the test driver reads and writes BAR0 of
# examples/native_counter.lua and sees what the library computes, sync reads
# answered without entering Lua. (Lua handlers: mmio_lua.sh.)
. /pciem/tests/lib.sh

loaded_here=0
if ! grep -q '^pciem_testdrv ' /proc/modules; then
	insmod /pciem/bin/pciem_testdrv.ko || { fail handlers.testdrv "insmod failed"; finish; }
	loaded_here=1
fi

# bind ADDR: hand the device to the test driver; sets D to its debugfs folder.
bind() {
	echo pciem_testdrv >"/sys/bus/pci/devices/$1/driver_override"
	echo "$1" >/sys/bus/pci/drivers/pciem_testdrv/bind
	D=/sys/kernel/debug/pciem_testdrv/$1
}

# io OP BAR OFFSET [VALUE]: one access through the driver's mapping.
io() {
	echo "$*" >"$D/io" 2>/dev/null
	cat "$D/io"
}

if start_dev /tmp/native.log /pciem/examples/native_counter.lua /pciem/bin/native_counter.so; then
	bind "$DEV_ADDR"
	check_eq native.read_0 "$(io rL 0 0x0)" 0x0
	check_eq native.read_1 "$(io rL 0 0x0)" 0x1
	io wL 0 0x4 0x10 >/dev/null
	check_eq native.read_2 "$(io rL 0 0x0)" 0x2
	check_eq native.after_add "$(io rL 0 0x0)" 0x12
	stop_dev "$DEV_PID" TERM
	check_eq native.exit_status "$DEV_STATUS" 0
else
	fail native.start "$(cat /tmp/native.log)"
fi

[ "$loaded_here" = 1 ] && rmmod pciem_testdrv
finish
