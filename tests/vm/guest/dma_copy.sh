#!/bin/sh
# SPDX-License-Identifier: MIT
# Device DMA through /dev/pciem: dma_host (the device) binds pciem_testdrv,
# reads and writes the driver's coherent and streaming buffers at many sizes
# and offsets, 16 MiB and scatter-gather lists in one request, checked by
# CRC32 on both ends; refusals (bus mastering off, not RAM, bad fields) leave
# the device working; counters move. Then: the log names each refusal, and
# the device is gone once dma_host exits.
. /pciem/tests/lib.sh

ko=/pciem/bin/pciem_testdrv.ko
if ! grep -q '^pciem_testdrv ' /proc/modules; then
	if [ ! -f "$ko" ]; then
		echo "SKIP dma.testdrv-missing"
		exit 77
	fi
	check dma.insmod-testdrv insmod "$ko"
fi

before=$(pciem_devices)
echo "pciem-test: dma_host begins" >/dev/kmsg
dma_host >/tmp/dma_host.out 2>&1
rc=$?
cat /tmp/dma_host.out
check_eq dma.host-exit "$rc" 0
dev=$(sed -n 's/^device \([^,]*\),.*/\1/p' /tmp/dma_host.out)
check dma.device-reported [ -n "$dev" ]

dmesg | sed -n '/pciem-test: dma_host begins/,$p' >/tmp/dma.log
check_grep dma.log-bus-master /tmp/dma.log "dma_host: dma: refused: Bus Master Enable is off"
check_grep dma.log-not-ram /tmp/dma.log "dma_host: dma: seg 0: bus address 0xfee00000 is not RAM"
check_grep dma.log-bad-dir /tmp/dma.log "dma_host: dma: dir 3 is not 1"
check_grep dma.log-seg-length /tmp/dma.log "dma_host: dma: seg 0: length is 0"
check_grep dma.log-user-memory /tmp/dma.log "dma_host: dma: seg 0: user_addr 0x0 length 0x1000 is not user memory"
check_grep dma.log-state /tmp/dma.log "dma: refused: the device is not registered"
check_eq dma.device-gone "$(pciem_devices | grep -v -x -F "$before" | tr '\n' ' ')" ""
finish
