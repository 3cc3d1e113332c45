#!/bin/sh
# SPDX-License-Identifier: MIT
# Interrupt teardown under load: irq_host floods MSI-X raises and irqfd
# signals (one vector masked, so pending too) at pciem_testdrv and is killed
# with SIGKILL mid-flood, twice. The device must go away with its queue,
# irqfds and pending state, the driver must unbind cleanly, and the kernel
# log must stay free of splats (the runner checks).
. /pciem/tests/lib.sh

ko=/pciem/bin/pciem_testdrv.ko
loaded=
if ! grep -q '^pciem_testdrv ' /proc/modules; then
	if [ ! -f "$ko" ]; then
		echo "SKIP irqdown.testdrv-missing"
		exit 77
	fi
	check irqdown.insmod-testdrv insmod "$ko"
	loaded=1
fi

before=$(pciem_devices)
no_new_device() {
	[ -z "$(pciem_devices | grep -v -x -F "$before")" ]
}
for round in 1 2; do
	irq_host flood >/tmp/irq_flood.out 2>&1 &
	pid=$!
	# A bound, not a timing claim: TCG on a loaded machine is slow.
	if wait_for grep -q '^ready' /tmp/irq_flood.out; then
		pass "irqdown.ready-$round"
	else
		fail "irqdown.ready-$round" "irq_host never got ready: $(head -c 600 /tmp/irq_flood.out)"
	fi
	sleep 1
	kill -KILL "$pid"
	wait "$pid"
	check_eq "irqdown.killed-$round" "$?" 137
	wait_for no_new_device
	check_eq "irqdown.device-gone-$round" \
		"$(pciem_devices | grep -v -x -F "$before" | tr '\n' ' ')" ""
done
[ -z "$loaded" ] || check irqdown.rmmod-testdrv rmmod pciem_testdrv
finish
