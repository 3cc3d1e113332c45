#!/bin/sh
# SPDX-License-Identifier: MIT
# Lifetime of devices and of the module: a process holding a started device
# (with and without a driver bound, or after a sysfs remove and rescan) dies
# of SIGKILL and the device vanishes; rmmod is refused while a device exists
# and is clean afterwards.

fail=0
check() {
	name=$1
	shift
	if "$@"; then
		echo "PASS $name"
	else
		echo "FAIL $name"
		fail=1
	fi
}

# hold NAME: start `ioctl_check hold NAME` in the background; sets $pid and
# $addr (the device's PCI name) once the device is started.
hold() {
	out=/tmp/hold.$1
	: >"$out"
	ioctl_check hold "$1" >"$out" 2>&1 &
	pid=$!
	n=0
	while ! grep -q ':' "$out" && kill -0 "$pid" 2>/dev/null && [ "$n" -lt 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	addr=$(head -n 1 "$out")
}

gone() {
	[ ! -e "/sys/bus/pci/devices/$1" ] && ! lspci -D | grep -q "^$1 "
}

# 1. SIGKILL with no driver bound.
hold plain
check hold-started [ -e "/sys/bus/pci/devices/$addr" ]
check lspci-shows-device sh -c "lspci -D -n | grep -q '^$addr .*1234:0005'"
check rmmod-refused-while-open sh -c '! rmmod pciem 2>/dev/null'
kill -9 "$pid"
wait "$pid" 2>/dev/null
check sigkill-removes-device gone "$addr"

# 2. SIGKILL with a driver bound (pci-stub, when the guest has it).
if modprobe pci-stub 2>/dev/null; then
	hold bound
	echo pci-stub >"/sys/bus/pci/devices/$addr/driver_override"
	echo "$addr" >/sys/bus/pci/drivers/pci-stub/bind
	check driver-bound sh -c "readlink /sys/bus/pci/devices/$addr/driver | grep -q pci-stub"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	check sigkill-unbinds-and-removes gone "$addr"
else
	echo "SKIP sigkill-with-driver (no pci-stub module in the guest)"
fi

# 3. Removed through sysfs behind the module's back, then rescanned: the
#    slot still answers, so the device comes back; SIGKILL removes it all.
hold sysfs
echo 1 >"/sys/bus/pci/devices/$addr/remove"
check sysfs-remove-works gone "$addr"
echo 1 >/sys/bus/pci/rescan
check rescan-finds-it-again [ -e "/sys/bus/pci/devices/$addr" ]
kill -9 "$pid"
wait "$pid" 2>/dev/null
check sigkill-after-rescan-removes gone "$addr"

# 4. Nothing left: rmmod succeeds and releases the windows.
check rmmod-clean rmmod pciem
check module-gone [ ! -d /sys/module/pciem ]
check windows-released sh -c '! grep -q pciem /proc/iomem'
# A bad parameter is refused with its name, and leaves no module behind.
check bad-param-refused sh -c '! insmod /pciem/pciem.ko sync_timeout_default_us=0 2>/dev/null'
check bad-param-logged sh -c 'dmesg | grep -q "sync_timeout_default_us: .0. is not a number in 1..10000000"'
check bad-param-no-module [ ! -d /sys/module/pciem ]
# shellcheck disable=SC2086
check reload insmod /pciem/pciem.ko $PCIEM_MODULE_ARGS
exit $fail
