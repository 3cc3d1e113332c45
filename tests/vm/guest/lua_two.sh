#!/bin/sh
# SPDX-License-Identifier: MIT
# Two device hosts at once: both devices appear at distinct addresses, and
# stopping one leaves the other in place.
. /pciem/tests/lib.sh

start_dev /tmp/two1.log /pciem/tests/devices/full.lua || { fail two.first "no device"; finish; }
a1=$DEV_ADDR p1=$DEV_PID
start_dev /tmp/two2.log /pciem/examples/hello.lua || { fail two.second "no device"; finish; }
a2=$DEV_ADDR p2=$DEV_PID
lspci -nn
if [ "$a1" != "$a2" ]; then
	pass two.distinct_addresses
else
	fail two.distinct_addresses "both at $a1"
fi
check two.first_in_sysfs dev_present "$a1"
check two.second_in_sysfs dev_present "$a2"
check_eq two.first_ids "$(cat /sys/bus/pci/devices/$a1/vendor):$(cat /sys/bus/pci/devices/$a1/device)" \
	0x1234:0x7e57
check_eq two.count "$(pciem_devices | wc -l)" 2

stop_dev "$p1" TERM
check_eq two.first_stop_status "$DEV_STATUS" 0
check two.first_gone dev_absent "$a1"
check two.second_stays dev_present "$a2"
stop_dev "$p2" TERM
check_eq two.second_stop_status "$DEV_STATUS" 0
check two.second_gone dev_absent "$a2"
finish
