#!/bin/sh
# SPDX-License-Identifier: MIT
# watch and break against the stock nvme driver: a session fed from a fifo
# watches CC and breaks on CC.EN 0->1; `nvme reset` pauses the device inside
# the enable while other sessions are still served; `continue` lets the reset
# finish and the disk works. The driver saw a slow device, not a broken one.
. /pciem/tests/lib.sh
klog_mark

start_dev /tmp/nvme.log /pciem/devices/nvme.lua size=16M ||
	{ fail break.start "pciem-lua did not report a device"; finish; }
a=$DEV_ADDR
modprobe nvme
if ! wait_for nvme_up "$a"; then
	fail break.bound "the nvme driver did not bind $a or no /dev/nvme0n1"
	cat /tmp/nvme.log
	stop_dev "$DEV_PID" TERM
	finish
fi
pass break.bound

out=/tmp/session.out
mkfifo /tmp/session.fifo
pciem-lua attach nvme </tmp/session.fifo >"$out" 2>&1 &
spid=$!
exec 7>/tmp/session.fifo
echo 'watch CC' >&7
echo 'break CC.EN 0->1' >&7
check break.set wait_for grep -q '^break 2: ' "$out"

nvme reset /dev/nvme0 >/tmp/reset.out 2>&1 &
rpid=$!
check break.hit wait_for grep -q '^\[break 2\] ' "$out"
# paused inside the enable's CC write, and another session is served meanwhile
pciem-lua attach nvme -e 'break' >/tmp/paused.out 2>&1
cat /tmp/paused.out
check_grep break.paused /tmp/paused.out '^paused at break 2$'
check_eq break.paused_en "$(pciem-lua attach nvme -e 'CC.EN' 2>&1)" 1
echo 'continue' >&7
wait "$rpid"
check_eq break.reset_status $? 0
cat /tmp/reset.out
check_eq break.ready_again "$(pciem-lua attach nvme -e 'CSTS.RDY' 2>&1)" 1
check break.io_after wait_for dd if=/dev/nvme0n1 of=/dev/null bs=64k count=16 iflag=direct

echo 'unbreak all' >&7
echo 'unwatch all' >&7
exec 7>&-
wait "$spid"
check_eq break.session_status $? 0
cat "$out"
# the watch saw the driver disable and enable the controller
check_grep break.watch_disable "$out" '^\[watch 1\] #[0-9]+ write bar0\+0x14 \(CC\) = 0x[0-9a-f]+  EN=0'
check_grep break.watch_enable "$out" '^\[watch 1\] #[0-9]+ write bar0\+0x14 \(CC\) = 0x[0-9a-f]+  EN=1'
check_grep break.continued "$out" '^continuing$'

stop_dev "$DEV_PID" TERM
check_eq break.stop_status "$DEV_STATUS" 0
if klog_since | grep -q 'timeout, aborting'; then
	fail break.no_timeouts "the driver timed out commands"
else
	pass break.no_timeouts
fi
finish
