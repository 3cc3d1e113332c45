#!/bin/sh
# SPDX-License-Identifier: MIT
# Fault plans (lua/pciem/faults.lua) against the stock nvme driver on
# devices/nvme.lua: read errors on an LBA range reach the reader (EIO, or
# ENODATA for a media error) and leave the rest intact; a command never answered is aborted, the controller
# reset, and the I/O goes through; dropped interrupts are found by the
# driver's timeout poll; controller fatal status leads to a reset that works;
# a command completed after its timeout is aborted, then taken; a register
# that reads all-ones makes the driver drop the controller at its reset;
# --trace records the run, trace-summary counts it.
# NVME_ARGS adds device options (e.g. fastpath=off) to every start.
. /pciem/tests/lib.sh

args=${NVME_ARGS:-}
timeout_s=4

live() {
	[ "$(cat /sys/class/nvme/nvme0/state 2>/dev/null)" = live ]
}

# up NAME [PLAN]: start the device (with PLAN) and wait for /dev/nvme0n1.
up() {
	if ! start_dev "/tmp/$1.log" ${2:+--faults="$2"} /pciem/devices/nvme.lua size=64M $args; then
		fail "$1.start" "pciem-lua did not report a device"
		return 1
	fi
	if ! wait_for nvme_up; then
		fail "$1.start" "no /dev/nvme0n1 for $DEV_ADDR"
		cat "/tmp/$1.log"
		stop_dev "$DEV_PID" TERM
		return 1
	fi
	pass "$1.start"
}

# down NAME: stop pciem-lua, wait for the disk to go, show what the plan did.
down() {
	stop_dev "$DEV_PID" TERM
	check_eq "$1.status" "$DEV_STATUS" 0
	check "$1.gone" wait_for dev_absent "$DEV_ADDR"
	grep '^faults:' "/tmp/$1.log"
}

# Lower the driver's timeouts so that a lost command costs seconds, not 30
# (read when a controller probes; put back at the end for the tests after us).
param=/sys/module/nvme_core/parameters
modprobe nvme
old_io=$(cat $param/io_timeout) old_admin=$(cat $param/admin_timeout)
echo $timeout_s >$param/io_timeout
echo $timeout_s >$param/admin_timeout
check_eq setup.io_timeout "$(cat $param/io_timeout)" $timeout_s

dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2>/dev/null

# writes the pattern to the first 4 MiB of the disk
put_pattern() {
	dd if=/tmp/pattern of=/dev/nvme0n1 bs=1M count=4 oflag=direct 2>/dev/null
}

# same NAME SKIP COUNT: those 4 KiB blocks of the disk equal the pattern's.
same() {
	dd if=/dev/nvme0n1 of=/tmp/back bs=4k skip="$2" count="$3" iflag=direct 2>/dev/null
	dd if=/tmp/pattern of=/tmp/want bs=4k skip="$2" count="$3" 2>/dev/null
	check "$1" cmp /tmp/back /tmp/want
}

# 1. Read errors on LBAs 2048..2063 (512-byte blocks: 4 KiB blocks 256 and
# 257): a media error (Linux: "critical medium error", ENODATA to the
# reader) on the first 8, a data transfer error (EIO) on the next 8.
cat >/tmp/plan-eio.lua <<'LUA'
return { seed = 1, faults = {
   { name = "bad-lbas", match = { nvme = { opcode = "read", nsid = 1, lba = { 2048, 2055 } } },
     action = { status = "unrecovered_read_error", dnr = true } },
   { name = "eio-lbas", match = { nvme = { opcode = "read", nsid = 1, lba = { 2056, 2063 } } },
     action = { status = "data_transfer_error", dnr = true } },
} }
LUA

# read_fails NAME BLOCK MESSAGE: a read of that 4 KiB block fails with MESSAGE.
read_fails() {
	if dd if=/dev/nvme0n1 of=/tmp/x bs=4k skip="$2" count=1 iflag=direct 2>/tmp/dd.err; then
		fail "$1" "a read of 4 KiB block $2 succeeded"
	else
		sed 's/^/    /' /tmp/dd.err
		check_grep "$1" /tmp/dd.err "$3"
	fi
}

if up eio /tmp/plan-eio.lua; then
	check eio.write put_pattern
	klog_mark
	read_fails eio.medium_error 256 'No data available'
	read_fails eio.eio 257 'Input/output error'
	klog_since >/tmp/dmesg-eio
	check_grep eio.kernel_medium /tmp/dmesg-eio 'critical medium error, dev nvme0n1, sector 2048'
	check_grep eio.kernel_io /tmp/dmesg-eio 'I/O error, dev nvme0n1, sector 2056'
	same eio.before 0 256
	same eio.after 258 766
	check eio.write_bad_range dd if=/dev/zero of=/dev/nvme0n1 bs=4k seek=256 count=2 oflag=direct
	down eio
	check_grep eio.logged /tmp/eio.log '^faults: seq [0-9]+: bad-lbas: status unrecovered_read_error\+dnr'
	check_grep eio.logged2 /tmp/eio.log '^faults: seq [0-9]+: eio-lbas: status data_transfer_error\+dnr'
fi

# 2. A read that is never answered: the driver aborts it, then resets the
# controller and retries; the retry (not matched again: times = 1) succeeds.
cat >/tmp/plan-lost.lua <<'LUA'
return { faults = {
   { name = "lost-read", match = { nvme = { opcode = "read", lba = { 4096, 4103 } }, times = 1 },
     action = "swallow" },
} }
LUA
if up lost /tmp/plan-lost.lua; then
	check lost.write put_pattern
	klog_mark
	same lost.read_resumes 512 1
	klog_since >/tmp/dmesg-lost
	check_grep lost.timeout /tmp/dmesg-lost 'timeout, (aborting|reset controller)'
	check lost.live wait_for live
	same lost.after_reset 0 1024
	down lost
fi

# 3. Lost interrupts: the interrupts of the completions of two reads of LBA
# 6144 (4 KiB block 768) are dropped -- a plan is Lua, so one fault can arm
# another. One I/O in flight at a time: the driver's timeout handler polls
# the queue and completes them.
cat >/tmp/plan-irq.lua <<'LUA'
local armed = 0
return { faults = {
   { name = "arm", match = { nvme = { opcode = "read", lba = 6144 } },
     action = { call = function() armed = armed + 1 end } },
   { name = "lost-irq", match = { irq = {}, when = function(ev) return armed > 0 and ev.vector > 0 end },
     action = { drop = true, call = function() armed = armed - 1 end } },
} }
LUA
if up irq /tmp/plan-irq.lua; then
	check irq.write put_pattern
	klog_mark
	same irq.read1 768 1
	same irq.read2 768 1
	same irq.others 0 64
	klog_since >/tmp/dmesg-irq
	check_grep irq.polled /tmp/dmesg-irq 'completion polled'
	check irq.live live
	down irq
	check_grep irq.logged /tmp/irq.log '^faults: seq [0-9]+: lost-irq: call, drop'
fi

# 4. Controller fatal status on the 3rd write: the driver sees CSTS.CFS when
# the write times out, resets the controller, and the write goes through.
cat >/tmp/plan-cfs.lua <<'LUA'
return { faults = {
   { name = "cfs", match = { nvme = { opcode = "write" }, nth = 3 }, action = "fatal" },
} }
LUA
if up cfs /tmp/plan-cfs.lua; then
	klog_mark
	check cfs.writes dd if=/tmp/pattern of=/dev/nvme0n1 bs=64k count=16 oflag=direct
	klog_since >/tmp/dmesg-cfs
	check_grep cfs.reset /tmp/dmesg-cfs 'controller is down; will reset'
	check cfs.live wait_for live
	same cfs.data 0 256
	down cfs
fi

# 5. A slow command: a read completes 6 s late, past the 4 s timeout; the
# driver sends an Abort (answered "not aborted"), the late completion comes
# before the next timeout, and the read succeeds without a reset.
cat >/tmp/plan-slow.lua <<'LUA'
return { faults = {
   { name = "slow-read", match = { nvme = { opcode = "read", lba = 5120 }, times = 1 },
     action = { delay = 6000 } },
} }
LUA
if up slow /tmp/plan-slow.lua; then
	check slow.write put_pattern
	klog_mark
	same slow.read 640 1
	klog_since >/tmp/dmesg-slow
	check_grep slow.aborted /tmp/dmesg-slow 'timeout, aborting'
	if grep -q 'reset controller' /tmp/dmesg-slow; then
		fail slow.no_reset "the driver reset the controller"
	else
		pass slow.no_reset
	fi
	check slow.live live
	same slow.others 0 64
	down slow
fi

# 6. A trace of the same run as a fault plan (--trace, trace-summary): the
# driver's register writes by name, DMA, interrupts, and the fault itself.
cat >/tmp/plan-trace.lua <<'LUA'
return { faults = {
   { name = "traced-eio", match = { nvme = { opcode = "read", lba = 2048 } },
     action = { status = "internal_error", dnr = true } },
} }
LUA
rm -f /tmp/trace.jsonl
if start_dev /tmp/trace.log --trace=/tmp/trace.jsonl --faults=/tmp/plan-trace.lua \
	/pciem/devices/nvme.lua size=64M $args && wait_for nvme_up; then
	pass trace.start
	# the driver probed inside the device's start: rebind it, so that its
	# shutdown and enable sequences are in the trace
	echo "$DEV_ADDR" >/sys/bus/pci/drivers/nvme/unbind
	echo "$DEV_ADDR" >/sys/bus/pci/drivers/nvme/bind
	check trace.rebound wait_for nvme_up
	dd if=/dev/nvme0n1 of=/dev/null bs=4k skip=256 count=1 iflag=direct 2>/dev/null
	dd if=/dev/nvme0n1 of=/dev/null bs=4k count=16 iflag=direct 2>/dev/null
	stop_dev "$DEV_PID" TERM
	check_eq trace.status "$DEV_STATUS" 0
	check trace.gone wait_for dev_absent "$DEV_ADDR"
	check_grep trace.fault /tmp/trace.jsonl '"kind":"fault".*"name":"traced-eio"'
	pciem-lua trace-summary /tmp/trace.jsonl >/tmp/summary.txt 2>&1
	check_eq trace.summary_status $? 0
	sed -n '1,12p' /tmp/summary.txt
	check_grep trace.cc /tmp/summary.txt '0x0014 +CC +0 +[1-9]'
	check_grep trace.doorbells /tmp/summary.txt 'SQ[1-9][0-9]*TDBL +0 +[1-9]'
	check_grep trace.dma_read /tmp/summary.txt '^dma_read +[1-9]'
	check_grep trace.dma_write /tmp/summary.txt '^dma_write +[1-9]'
	check_grep trace.irq /tmp/summary.txt '^irq +[1-9]'
	check_grep trace.fault_count /tmp/summary.txt '^traced-eio +1$'
else
	fail trace.start "pciem-lua --trace did not start or the driver did not bind"
	cat /tmp/trace.log
fi

# 7. Every read of CSTS answers all-ones (a register fault on the real trap
# path: CSTS is a memory-policy register, the plan makes it sync): at a reset
# the driver finds the controller gone and removes it; nothing hangs.
cat >/tmp/plan-csts.lua <<'LUA'
return { faults = {
   { name = "csts-ones", match = { mmio = { bar = 0, offset = 0x1c, access = "read" } },
     action = "allones" },
} }
LUA
unbound() {
	! [ -e "/sys/bus/pci/devices/$DEV_ADDR/driver" ]
}
# The plan goes in through attach once the disk is up: loaded at start it
# could meet the driver's probe, which reads CSTS after START has returned.
if up csts; then
	check csts.load pciem-lua attach nvme -e 'faults load /tmp/plan-csts.lua'
	klog_mark
	nvme reset /dev/nvme0 >/dev/null 2>&1
	check csts.disk_gone wait_for sh -c '! test -e /sys/block/nvme0n1'
	check csts.unbound wait_for unbound
	klog_since >/tmp/dmesg-csts
	check_grep csts.removed /tmp/dmesg-csts 'Removing after probe failure'
	down csts
	check_grep csts.logged /tmp/csts.log '^faults: seq [0-9]+: csts-ones: allones \(mmio_read bar0\+0x1c/4\)'
fi

echo "$old_io" >$param/io_timeout
echo "$old_admin" >$param/admin_timeout
finish
