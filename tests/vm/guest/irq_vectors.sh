#!/bin/sh
# SPDX-License-Identifier: MIT
# Interrupts through /dev/pciem: irq_host (the device) binds pciem_testdrv and
# raises every MSI vector for 1..32 allocated, all 2048 MSI-X vectors, bursts
# of the same and of different vectors counted exactly at the driver, masked
# vectors pending and delivered on unmask, INTx level with INTx Disable, and
# irqfds; INTx asserted before any driver probed. Then: the device is gone
# once irq_host exits.
. /pciem/tests/lib.sh

ko=/pciem/bin/pciem_testdrv.ko
loaded=
if ! grep -q '^pciem_testdrv ' /proc/modules; then
	if [ ! -f "$ko" ]; then
		echo "SKIP irq.testdrv-missing"
		exit 77
	fi
	check irq.insmod-testdrv insmod "$ko"
	loaded=1
fi

before=$(pciem_devices)
irq_host >/tmp/irq_host.out 2>&1
rc=$?
cat /tmp/irq_host.out
check_eq irq.host-exit "$rc" 0
check irq.no-failed-check sh -c '! grep -q "^FAIL" /tmp/irq_host.out'
irq_host intx-early >/tmp/irq_early.out 2>&1
rc=$?
cat /tmp/irq_early.out
check_eq irq.intx-early-exit "$rc" 0
check irq.intx-early-no-failed-check sh -c '! grep -q "^FAIL" /tmp/irq_early.out'
check_eq irq.device-gone "$(pciem_devices | grep -v -x -F "$before" | tr '\n' ' ')" ""
# Leave the guest as found: later tests load the driver themselves.
[ -z "$loaded" ] || check irq.rmmod-testdrv rmmod pciem_testdrv
finish
