#!/bin/sh
# SPDX-License-Identifier: MIT
# Surprise removal (lua/pciem/faults.lua `remove`) of devices/nvme.lua under
# fio: every register reads all-ones, then pciem-lua exits and the device
# leaves the bus; fio ends with errors, the disk goes, and a new device
# afterwards works (the kernel log is checked for splats by the runner).
# NVME_ARGS adds device options (e.g. fastpath=off) to every start.
. /pciem/tests/lib.sh

args=${NVME_ARGS:-}

cat >/tmp/plan-yank.lua <<'LUA'
return { faults = {
   { name = "yank", match = { nvme = { opcode = "write" }, nth = 300 },
     action = { remove = { after_ms = 200 } } },
} }
LUA

# Short driver timeouts (read when a controller probes; put back at the end).
param=/sys/module/nvme_core/parameters
modprobe nvme
old_io=$(cat $param/io_timeout) old_admin=$(cat $param/admin_timeout)
echo 4 >$param/io_timeout
echo 4 >$param/admin_timeout

if start_dev /tmp/yank.log --faults=/tmp/plan-yank.lua /pciem/devices/nvme.lua size=64M $args &&
	wait_for nvme_up; then
	pass yank.start
	addr=$DEV_ADDR
	fio --name=yank --filename=/dev/nvme0n1 --direct=1 --ioengine=libaio --rw=randwrite \
		--bs=4k --iodepth=16 --size=32M --time_based --runtime=120 >/tmp/fio.out 2>&1
	st=$?
	tail -n 5 /tmp/fio.out
	if [ "$st" -ne 0 ] || grep -Eq 'err= *[1-9-]' /tmp/fio.out; then
		pass yank.fio_fails
	else
		fail yank.fio_fails "fio finished without an error"
	fi
	wait "$DEV_PID"
	check_eq yank.host_exit $? 0
	check_grep yank.logged /tmp/yank.log '^faults: seq [0-9]+: yank: remove after 200 ms'
	check_grep yank.host_stopped /tmp/yank.log 'surprise removal: stopping the host'
	check yank.gone wait_for dev_absent "$addr"
	check yank.no_disk wait_for sh -c '! test -e /sys/block/nvme0n1'
	grep '^faults:' /tmp/yank.log
else
	fail yank.start "pciem-lua did not start or the driver did not bind"
	cat /tmp/yank.log
fi

# The kernel is still fine: a new device binds and does I/O.
if start_dev /tmp/after.log /pciem/devices/nvme.lua size=16M $args && wait_for nvme_up; then
	pass after.start
	dd if=/dev/urandom of=/tmp/r bs=64k count=16 2>/dev/null
	check after.write dd if=/tmp/r of=/dev/nvme0n1 bs=64k count=16 oflag=direct
	dd if=/dev/nvme0n1 of=/tmp/back bs=64k count=16 iflag=direct 2>/dev/null
	check after.same cmp /tmp/r /tmp/back
	stop_dev "$DEV_PID" TERM
	check_eq after.status "$DEV_STATUS" 0
else
	fail after.start "no device after the removal"
	cat /tmp/after.log
fi

echo "$old_io" >$param/io_timeout
echo "$old_admin" >$param/admin_timeout
finish
