#!/bin/sh
# SPDX-License-Identifier: MIT
# The REPL's control socket on a real device: devices/nvme.lua under the stock
# nvme driver is listed by `pciem-lua list`, and `attach -e` reads CSTS, CC and
# the queues as the driver left them (RDY=1 once /dev/nvme0n1 exists); I/O goes
# on while a REPL is attached; `reload` keeps the controller under the driver;
# the socket is root-only and goes with the device.
. /pciem/tests/lib.sh
klog_mark

start_dev /tmp/nvme.log /pciem/devices/nvme.lua size=16M ||
	{ fail repl.start "pciem-lua did not report a device"; finish; }
a=$DEV_ADDR
pass repl.start

modprobe nvme
if ! wait_for nvme_up "$a"; then
	fail repl.bound "the nvme driver did not bind $a or no /dev/nvme0n1"
	cat /tmp/nvme.log
	stop_dev "$DEV_PID" TERM
	finish
fi
pass repl.bound

# list: name, pid, address, script, socket
pciem-lua list >/tmp/list.out 2>&1
cat /tmp/list.out
check_grep repl.list /tmp/list.out "^nvme +$DEV_PID +$a +kernel +/pciem/devices/nvme.lua +/run/pciem-lua/nvme\.$DEV_PID\.sock"

sock=/run/pciem-lua/nvme.$DEV_PID.sock
check_eq repl.socket_mode "$(stat -c '%a %U' "$sock")" "600 root"
check_eq repl.dir_mode "$(stat -c '%a %U' /run/pciem-lua)" "700 root"

# What the driver saw: it made /dev/nvme0n1, so the controller was ready.
check_eq repl.csts_rdy "$(pciem-lua attach nvme -e 'CSTS.RDY' 2>&1)" 1
check_eq repl.csts_cfs "$(pciem-lua attach nvme -e 'CSTS.CFS' 2>&1)" 0
check_eq repl.cc_en "$(pciem-lua attach "$DEV_PID" -e 'CC.EN' 2>&1)" 1
# the driver's queue entry sizes (64-byte SQEs, 16-byte CQEs)
check_eq repl.cc_iosqes "$(pciem-lua attach nvme -e 'CC.IOSQES' 2>&1)" 6
check_eq repl.cc_iocqes "$(pciem-lua attach nvme -e 'CC.IOCQES' 2>&1)" 4
check_eq repl.state_live "$(cat /sys/class/nvme/nvme0/state)" live
pciem-lua attach nvme -e 'CSTS' >/tmp/csts.out 2>&1
cat /tmp/csts.out
check_grep repl.csts_decoded /tmp/csts.out 'RDY=1 CFS=0 SHST=0\(normal operation\)'

# One I/O queue pair per CPU besides the admin queues.
cpus=$(grep -c '^processor' /proc/cpuinfo)
pciem-lua attach nvme -e queues >/tmp/queues.out 2>&1
cat /tmp/queues.out
check_eq repl.queues_sq "$(grep -c '^SQ ' /tmp/queues.out)" $((cpus + 1))
check_eq repl.queues_cq "$(grep -c '^CQ ' /tmp/queues.out)" $((cpus + 1))

# Commands from stdin, by pid.
check_eq repl.stdin "$(printf 'v = VS\nv.MJR * 10 + v.MNR\n' | pciem-lua attach "$DEV_PID" 2>&1)" "14 (0xe)"

# I/O with no session attached (the baseline for the check below).
check repl.io_detached dd if=/dev/nvme0n1 of=/dev/null bs=64k count=64 iflag=direct

# I/O goes on while a session is attached (and reading its input).
fifo=/tmp/repl.fifo
mkfifo "$fifo"
pciem-lua attach nvme <"$fifo" >/tmp/attached.out 2>&1 &
apid=$!
exec 7>"$fifo"
echo 'x = 1' >&7
check repl.io_while_attached dd if=/dev/nvme0n1 of=/dev/null bs=64k count=64 skip=64 iflag=direct
check repl.write_while_attached dd if=/dev/zero of=/dev/nvme0n1 bs=4k count=16 conv=fsync
echo 'x + 41' >&7
exec 7>&-
wait "$apid"
check_eq repl.attached_session "$(cat /tmp/attached.out)" "42 (0x2a)"

# A failing chunk exits 1 and says why.
pciem-lua attach nvme -e 'nope()' >/tmp/err.out 2>&1
check_eq repl.error_status $? 1
check_grep repl.error_text /tmp/err.out 'nope'

# reload: the script runs again on the live controller. Its queues, data and
# counters stay, so the driver goes on as if nothing happened (no reset).
dd if=/dev/urandom of=/tmp/blk bs=4k count=16 2>/dev/null
check repl.reload_write dd if=/tmp/blk of=/dev/nvme0n1 bs=4k seek=256 count=16 oflag=direct conv=fsync
cmds() { pciem-lua attach nvme -e 'tonumber(dev.nvme.ctrl.stats.commands)' 2>&1 | cut -d' ' -f1; }
n0=$(cmds)
pciem-lua attach nvme -e reload >/tmp/reload.out 2>&1
cat /tmp/reload.out
check_grep repl.reload /tmp/reload.out '^reloaded /pciem/devices/nvme.lua: [0-9]+ handlers'
check repl.reload_counters_kept test "$(cmds)" -ge "$n0"
dd if=/dev/nvme0n1 of=/tmp/blk.back bs=4k skip=256 count=16 iflag=direct 2>/dev/null
check repl.reload_data_kept cmp /tmp/blk /tmp/blk.back
check repl.reload_io dd if=/dev/zero of=/dev/nvme0n1 bs=64k count=32 oflag=direct conv=fsync
check_eq repl.reload_state_live "$(cat /sys/class/nvme/nvme0/state)" live
check_eq repl.reload_csts_rdy "$(pciem-lua attach nvme -e 'CSTS.RDY' 2>&1)" 1
if klog_since | grep -Eq 'nvme.*(reset|timeout)'; then
	fail repl.reload_no_reset "the driver reset the controller or timed out"
else
	pass repl.reload_no_reset
fi

stop_dev "$DEV_PID" TERM
check_eq repl.stop_status "$DEV_STATUS" 0
if [ -e "$sock" ]; then fail repl.socket_removed "$sock is still there"; else pass repl.socket_removed; fi
pciem-lua list >/tmp/list2.out 2>&1
check_grep repl.list_empty /tmp/list2.out 'no running pciem-lua devices'
if klog_since | grep -q 'timeout, aborting'; then
	fail repl.no_timeouts "the driver timed out commands"
else
	pass repl.no_timeouts
fi
finish
