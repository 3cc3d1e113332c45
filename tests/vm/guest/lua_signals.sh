#!/bin/sh
# SPDX-License-Identifier: MIT
# A device host that dies removes its device: SIGKILL with the device idle,
# and SIGKILL with a driver (pci-stub) bound and its sysfs config file open.
. /pciem/tests/lib.sh

dev=/pciem/tests/devices/full.lua

# 1. SIGKILL, nothing bound.
start_dev /tmp/kill1.log "$dev" || { fail kill.start "no device"; finish; }
a=$DEV_ADDR
check kill.present dev_present "$a"
stop_dev "$DEV_PID" KILL
check_eq kill.status_is_sigkill "$DEV_STATUS" 137
check kill.gone_sysfs dev_absent "$a"
if lspci -nn | grep -q "^$a "; then
	fail kill.gone_lspci "lspci still lists $a"
else
	pass kill.gone_lspci
fi

# 2. SIGKILL with pci-stub bound and the config file held open.
modprobe pci-stub || fail stub.modprobe "modprobe pci-stub failed"
echo "1234 7e57" >/sys/bus/pci/drivers/pci-stub/new_id
start_dev /tmp/kill2.log "$dev" || { fail stub.start "no device"; finish; }
a=$DEV_ADDR
wait_for [ -e "/sys/bus/pci/devices/$a/driver" ]
check_eq stub.bound "$(basename "$(readlink "/sys/bus/pci/devices/$a/driver")")" pci-stub
exec 3<"/sys/bus/pci/devices/$a/config"
stop_dev "$DEV_PID" KILL
check_eq stub.status_is_sigkill "$DEV_STATUS" 137
check stub.gone_sysfs dev_absent "$a"
# Reading a removed device's config through a stale handle must fail cleanly
# (or read nothing); what matters is that the kernel stays healthy.
dd bs=64 count=1 <&3 >/dev/null 2>&1
exec 3<&-
check_eq stub.no_device_left "$(pciem_devices | tr '\n' ' ')" ""
echo "1234 7e57" >/sys/bus/pci/drivers/pci-stub/remove_id

# 3. The slot is reusable: a new device comes up after the kills.
start_dev /tmp/kill3.log "$dev" || fail reuse.start "no device after the kills"
if [ -n "$DEV_ADDR" ]; then
	pass reuse.start
	stop_dev "$DEV_PID" TERM
	check_eq reuse.sigterm_status "$DEV_STATUS" 0
fi
finish
