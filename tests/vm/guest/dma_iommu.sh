#!/bin/sh
# SPDX-License-Identifier: MIT
# DMA with an IOMMU in the guest (run it with VM_QEMU_ARGS='-device
# intel-iommu,intremap=off' VM_APPEND='intel_iommu=on'; skipped without one).
# pciem's root bus has no DMAR unit, so its devices get no IOMMU group and
# no domain: the module then uses bus address = physical address, which is
# what the DMA API hands such a device (dma-direct). Checks that, and that
# the whole DMA test passes in that setting.
. /pciem/tests/lib.sh

if [ -z "$(ls /sys/class/iommu 2>/dev/null)" ]; then
	echo "SKIP dma_iommu.no-iommu"
	exit 77
fi
dmesg | grep -E 'DMAR|IOMMU' | head -n 20
ko=/pciem/bin/pciem_testdrv.ko
grep -q '^pciem_testdrv ' /proc/modules || check dma_iommu.insmod-testdrv insmod "$ko"

dma_host hold >/tmp/hold.out 2>&1 &
pid=$!
wait_for grep -q debug /tmp/hold.out
dev=$(cut -d' ' -f1 /tmp/hold.out)
check dma_iommu.device-up [ -n "$dev" ]
# A device on a bus the IOMMU covers has an iommu_group link; ours has none.
for d in /sys/bus/pci/devices/0000:*; do
	if [ -e "$d/iommu_group" ]; then
		pass dma_iommu.platform-devices-have-groups
		break
	fi
done
check dma_iommu.pciem-device-has-no-group [ ! -e "/sys/bus/pci/devices/$dev/iommu_group" ]
kill "$pid"
wait "$pid"
wait_for dev_absent "$dev"

dma_host >/tmp/dma_host.out 2>&1
rc=$?
grep -v '^PASS' /tmp/dma_host.out
check_eq dma_iommu.dma-host-passes "$rc" 0
finish
