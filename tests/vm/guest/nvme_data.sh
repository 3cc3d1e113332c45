#!/bin/sh
# SPDX-License-Identifier: MIT
# Data integrity of devices/nvme.lua under the stock nvme driver: fio random
# writes verified with crc32c (several jobs, queue depth up to 32, 4 KiB to
# 1 MiB blocks), blkdiscard, `nvme reset`, a file-backed disk across a restart
# of pciem-lua, and pciem-lua stopped under a mounted filesystem.
# The integrity part runs with fastpath=on and with fastpath=off; the rest with
# the default. NVME_ARGS adds device options to every start.
. /pciem/tests/lib.sh

script=/pciem/devices/nvme.lua
args=${NVME_ARGS:-}
mnt=/tmp/nvme-mnt
mkdir -p "$mnt"

# up NAME ARGS...: start the device and wait for /dev/nvme0n1.
up() {
	local name=$1 logged
	shift
	logged=$(dmesg | wc -l)
	UP_LOGGED=$logged
	if ! start_dev /tmp/nvme.log "$script" $args "$@"; then
		fail "$name" "pciem-lua did not report a device"
		return 1
	fi
	if ! wait_for nvme_up; then
		fail "$name" "no /dev/nvme0n1 for $DEV_ADDR"
		cat /tmp/nvme.log
		return 1
	fi
	pass "$name"
	# The driver is loaded, so it probes inside START: every interrupt of the
	# probe must arrive (a lost one shows as an admin command timeout).
	if dmesg | tail -n +$((logged + 1)) | grep -E "nvme.*(timeout|polled)"; then
		fail "$name.probe_interrupts" "an admin command timed out while the driver probed"
	else
		pass "$name.probe_interrupts"
	fi
}

# down NAME: stop pciem-lua and wait for the disk to go.
down() {
	stop_dev "$DEV_PID" TERM
	check_eq "$1.status" "$DEV_STATUS" 0
	check "$1.gone" wait_for dev_absent "$DEV_ADDR"
}

modprobe nvme

# integrity MODE [TAG ARGS]: fio random writes then verify (several jobs, depths 1..32, sizes
# 4K..1M), blkdiscard, nvme reset, with fastpath=MODE (the native I/O path, or all-Lua).
integrity() {
	local m=data.$1${2:+.$2}
	if ! up $m.start size=64M fastpath=$1 $3; then
		return
	fi
	if [ -n "$2" ]; then
		# a sustained stream of doorbells, the host on its own CPU (as the
		# bench runs it): a drain served in C must keep handing ring slots back
		taskset -p -c 1 "$DEV_PID" >/dev/null
		taskset -c 0 fio --name=stream --filename=/dev/nvme0n1 --direct=1 \
			--ioengine=io_uring --rw=randwrite --bs=4k --iodepth=32 --runtime=3 \
			--time_based >/tmp/fio.out 2>&1
		check_eq $m.stream_status $? 0
		grep -E "IOPS" /tmp/fio.out
	fi
	fio --name=verify --filename=/dev/nvme0n1 --direct=1 --ioengine=libaio \
		--rw=randwrite --bsrange=4k-1m --bs_unaligned=0 --iodepth=32 --numjobs=4 \
		--size=12M --offset_increment=16M --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --group_reporting >/tmp/fio.out 2>&1
	check_eq $m.fio_status $? 0
	grep -E "(READ|WRITE):" /tmp/fio.out
	check_grep $m.fio_no_errors /tmp/fio.out 'err= *0'
	fio --name=qd1 --filename=/dev/nvme0n1 --direct=1 --ioengine=psync --rw=randrw \
		--bs=4k --size=4M --verify=crc32c --do_verify=1 >/tmp/fio1.out 2>&1
	check_eq $m.fio_qd1 $? 0

	# blkdiscard: the discarded range reads back as zeroes (deallocate).
	dd if=/dev/urandom of=/tmp/r bs=1M count=4 2>/dev/null
	dd if=/tmp/r of=/dev/nvme0n1 bs=1M count=4 oflag=direct 2>/dev/null
	check $m.blkdiscard blkdiscard -o 0 -l $((4 << 20)) /dev/nvme0n1
	dd if=/dev/nvme0n1 of=/tmp/back bs=1M count=4 iflag=direct 2>/dev/null
	dd if=/dev/zero of=/tmp/zero bs=1M count=4 2>/dev/null
	check $m.discard_zeroes cmp /tmp/back /tmp/zero

	# nvme reset: the controller comes back and the data is still there.
	dd if=/tmp/r of=/dev/nvme0n1 bs=1M count=4 oflag=direct 2>/dev/null
	check $m.reset nvme reset /dev/nvme0
	wait_for test -b /dev/nvme0n1
	dd if=/dev/nvme0n1 of=/tmp/back bs=1M count=4 iflag=direct 2>/dev/null
	check $m.after_reset cmp /tmp/back /tmp/r
	# no doorbell lost to a full event ring, no command timed out
	if dmesg | tail -n +$((UP_LOGGED + 1)) | grep -E "ring stayed full|nvme.*timeout"; then
		fail $m.no_lost_accesses "the kernel log shows lost accesses or timeouts"
	else
		pass $m.no_lost_accesses
	fi
	down $m.stop
	grep "commands" /tmp/nvme.log
	# the stop line counts the commands the native path ran
	if [ "$1" = on ]; then
		check_grep $m.native_used /tmp/nvme.log 'commands \([1-9][0-9]* in C\)'
	else
		check_grep $m.lua_only /tmp/nvme.log 'commands \(0 in C\)'
	fi
}

integrity on
integrity off
# every doorbell an MMIO write: a long stream of events served in C
integrity on nodbbuf dbbuf=off

# A file-backed disk keeps its data across a restart of pciem-lua.
rm -f /tmp/disk.img
if up file.start size=16M backing=/tmp/disk.img; then
	check file.mkfs mkfs.ext4 -q -F /dev/nvme0n1
	mount -t ext4 /dev/nvme0n1 "$mnt" && dd if=/dev/urandom of="$mnt/f" bs=64k count=20 2>/dev/null
	md5sum <"$mnt/f" >/tmp/f.sum
	umount "$mnt"
	down file.stop
	if up file.restart size=16M backing=/tmp/disk.img; then
		check file.fsck e2fsck -fn /dev/nvme0n1
		check file.mount mount -t ext4 /dev/nvme0n1 "$mnt"
		check_eq file.same "$(md5sum <"$mnt/f")" "$(cat /tmp/f.sum)"
		umount "$mnt"
		down file.stop2
	fi
fi
rm -f /tmp/disk.img

# pciem-lua stopped under a mounted filesystem: the driver drops the disk
# (I/O errors are expected), without a kernel warning or a hang.
if up mounted.start size=16M; then
	mkfs.ext4 -q -F /dev/nvme0n1 && mount -t ext4 /dev/nvme0n1 "$mnt"
	dd if=/dev/urandom of="$mnt/f" bs=64k count=20 2>/dev/null
	stop_dev "$DEV_PID" TERM
	check mounted.gone wait_for dev_absent "$DEV_ADDR"
	check mounted.no_disk wait_for sh -c '! test -e /sys/block/nvme0n1'
	# writing now fails rather than hanging
	if dd if=/dev/zero of="$mnt/g" bs=64k count=20 conv=fsync 2>/dev/null; then
		fail mounted.write_fails "a write to the removed disk succeeded"
	else
		pass mounted.write_fails
	fi
	umount -l "$mnt" 2>/dev/null
fi

finish
