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

# dma_host with pciem.ko loaded for one copy method (string, words): the
# same transfers, checks and refusals through either copy loop.
run_dma() {
	m=$1
	# shellcheck disable=SC2086
	if ! rmmod pciem || ! insmod /pciem/pciem.ko $PCIEM_MODULE_ARGS dma_copy="$m"; then
		fail "dma.$m.load" "could not load pciem.ko with dma_copy=$m"
		return
	fi
	check_eq "dma.$m.param" "$(cat /sys/module/pciem/parameters/dma_copy)" "$m"
	case $m in string) what="string instructions" ;; *) what="8-byte moves" ;; esac
	klog_since >/tmp/dma.klog
	check_grep "dma.$m.log-method" /tmp/dma.klog "DMA copies with $what \\(dma_copy=$m\\)"
	before=$(pciem_devices)
	echo "pciem-test: dma_host begins ($m)" >/dev/kmsg
	dma_host >/tmp/dma_host.out 2>&1
	rc=$?
	cat /tmp/dma_host.out
	check_eq "dma.$m.host-exit" "$rc" 0
	dev=$(sed -n 's/^device \([^,]*\),.*/\1/p' /tmp/dma_host.out)
	check "dma.$m.device-reported" [ -n "$dev" ]

	dmesg | sed -n "/pciem-test: dma_host begins ($m)/,\$p" >/tmp/dma.log
	check_grep "dma.$m.log-bus-master" /tmp/dma.log "dma_host: dma: refused: Bus Master Enable is off"
	check_grep "dma.$m.log-not-ram" /tmp/dma.log "dma_host: dma: seg 0: bus address 0xfee00000 is not RAM"
	check_grep "dma.$m.log-bad-dir" /tmp/dma.log "dma_host: dma: dir 3 is not 1"
	check_grep "dma.$m.log-seg-length" /tmp/dma.log "dma_host: dma: seg 0: length is 0"
	check_grep "dma.$m.log-user-memory" /tmp/dma.log "dma_host: dma: seg 0: user_addr 0x0 length 0x1000 is not user memory"
	check_grep "dma.$m.log-state" /tmp/dma.log "dma: refused: the device is not registered"
	check_eq "dma.$m.device-gone" "$(pciem_devices | grep -v -x -F "$before" | tr '\n' ' ')" ""
}

klog_mark
run_dma string
run_dma words
# Back to the method measured at load, as the other tests run.
# shellcheck disable=SC2086
check dma.reload-auto sh -c "rmmod pciem && insmod /pciem/pciem.ko $PCIEM_MODULE_ARGS"
check_eq dma.param-auto "$(cat /sys/module/pciem/parameters/dma_copy)" auto
klog_since >/tmp/dma.klog
check_grep dma.log-auto /tmp/dma.klog 'DMA copies with .*: 64 KiB in [0-9]+ ns with string instructions, [0-9]+ ns with 8-byte moves'
# A method the module does not know is refused at load, with its name.
rmmod pciem
check dma.bad-method-refused sh -c '! insmod /pciem/pciem.ko dma_copy=fast 2>/dev/null'
check dma.bad-method-logged sh -c "dmesg | grep -q \"dma_copy: 'fast' is not auto, string or words\""
# shellcheck disable=SC2086
check dma.reload-after-bad insmod /pciem/pciem.ko $PCIEM_MODULE_ARGS
finish
