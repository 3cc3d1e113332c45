#!/bin/sh
# SPDX-License-Identifier: MIT
# examples/hello.lua comes up on the real bus with the IDs it describes, and
# SIGTERM removes it and makes pciem-lua exit 0.
. /pciem/tests/lib.sh

script=/pciem/examples/hello.lua
if [ ! -f "$script" ]; then
	fail hello.present "$script is missing"
	finish
fi
# The IDs the example describes (its first "vendor = 0x...", "device = 0x...").
want_vendor=$(sed -n 's/.*[^_]vendor *= *0x\([0-9a-fA-F]*\).*/\1/p' "$script" | head -n 1 | tr A-F a-f)
want_device=$(sed -n 's/.*[^_]device *= *0x\([0-9a-fA-F]*\).*/\1/p' "$script" | head -n 1 | tr A-F a-f)

before=$(pciem_devices)
start_dev /tmp/hello.log "$script" || { fail hello.start "pciem-lua did not report a device"; finish; }
a=$DEV_ADDR
pass hello.start
cat /tmp/hello.log
check_grep hello.says_where /tmp/hello.log "hello.* at $a"
check hello.in_sysfs dev_present "$a"
lspci -nn >/tmp/hello.lspci
cat /tmp/hello.lspci
check_grep hello.in_lspci /tmp/hello.lspci "^$a .*\[$want_vendor:$want_device\]"
check_eq hello.vendor_sysfs "$(cat /sys/bus/pci/devices/$a/vendor)" "0x$want_vendor"
check_eq hello.device_sysfs "$(cat /sys/bus/pci/devices/$a/device)" "0x$want_device"
lspci -vvv -nn -s "$a"
check_eq hello.only_new_device "$(pciem_devices | grep -v -x -F "$before" | tr '\n' ' ')" "$a "

stop_dev "$DEV_PID" TERM
check_eq hello.sigterm_exit_status "$DEV_STATUS" 0
check hello.sigterm_gone_sysfs dev_absent "$a"
lspci -nn >/tmp/hello.lspci2
if grep -q "^$a " /tmp/hello.lspci2; then
	fail hello.sigterm_gone_lspci "lspci still lists $a"
else
	pass hello.sigterm_gone_lspci
fi
finish
