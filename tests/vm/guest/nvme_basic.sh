#!/bin/sh
# SPDX-License-Identifier: MIT
# devices/nvme.lua under the stock nvme driver: it binds, the disk has the
# configured size, nvme-cli's admin commands answer, ext4 survives mkfs, a file
# tree, fsck and a remount; stopping pciem-lua removes the disk cleanly.
. /pciem/tests/lib.sh
klog_mark

script=/pciem/devices/nvme.lua
size_mib=64
mnt=/tmp/nvme-mnt

start_dev /tmp/nvme.log "$script" size=${size_mib}M ||
	{ fail nvme.start "pciem-lua did not report a device"; finish; }
a=$DEV_ADDR
pass nvme.start

check nvme.modprobe modprobe nvme
if ! wait_for nvme_up "$a"; then
	fail nvme.bound "the nvme driver did not bind $a or no /dev/nvme0n1"
	cat /tmp/nvme.log
	dmesg | tail -n 40
	stop_dev "$DEV_PID" TERM
	finish
fi
pass nvme.bound

# One I/O queue per CPU, as the driver asks.
cpus=$(grep -c '^processor' /proc/cpuinfo)
dmesg >/tmp/nvme-dmesg
check_grep nvme.queues /tmp/nvme-dmesg "nvme0: $cpus/0/0 default/read/poll queues"

# /sys/block/*/size counts 512-byte sectors whatever the LBA size.
check_eq nvme.size "$(cat /sys/block/nvme0n1/size)" $((size_mib * 2048))

# nvme-cli: each command succeeds and prints what the device described.
nvme list >/tmp/nvme-list.out 2>&1
check_grep nvme.list /tmp/nvme-list.out '^/dev/nvme0n1 '
nvme id-ctrl /dev/nvme0 >/tmp/id-ctrl.out 2>&1
check nvme.id_ctrl_status nvme id-ctrl /dev/nvme0
check_grep nvme.id_ctrl_nn /tmp/id-ctrl.out '^nn +: 1$'
check_grep nvme.id_ctrl_sqes /tmp/id-ctrl.out '^sqes +: 0x66$'
check_grep nvme.id_ctrl_cqes /tmp/id-ctrl.out '^cqes +: 0x44$'
nvme id-ns /dev/nvme0n1 >/tmp/id-ns.out 2>&1
check nvme.id_ns_status nvme id-ns /dev/nvme0n1
check_grep nvme.id_ns_nsze /tmp/id-ns.out "^nsze +: $(printf '%#x' $((size_mib * 2048)))\$"
check_grep nvme.id_ns_lbaf /tmp/id-ns.out 'in use'
nvme smart-log /dev/nvme0 >/tmp/smart.out 2>&1
check nvme.smart_log_status nvme smart-log /dev/nvme0
check_grep nvme.smart_log /tmp/smart.out '^critical_warning[[:space:]]+: 0$'
nvme get-feature /dev/nvme0 -f 7 >/tmp/feat.out 2>&1
check nvme.get_feature_status nvme get-feature /dev/nvme0 -f 7
check_grep nvme.get_feature /tmp/feat.out 'Number of Queues'
check nvme.error_log nvme error-log /dev/nvme0

# ext4: a file tree, fsck, remount, every checksum the same.
check nvme.mkfs mkfs.ext4 -q -F /dev/nvme0n1
mkdir -p "$mnt"
check nvme.mount mount -t ext4 /dev/nvme0n1 "$mnt"
i=0
while [ $i -lt 6 ]; do
	mkdir -p "$mnt/d$i/sub"
	dd if=/dev/urandom of="$mnt/d$i/small" bs=1k count=$((i * 3 + 1)) 2>/dev/null
	dd if=/dev/urandom of="$mnt/d$i/sub/big" bs=64k count=$((i * 16 + 8)) 2>/dev/null
	i=$((i + 1))
done
(cd "$mnt" && find . -type f | sort | xargs md5sum) >/tmp/sums
check_eq nvme.files "$(wc -l </tmp/sums)" 12
sync
check nvme.umount umount "$mnt"
check nvme.fsck e2fsck -fn /dev/nvme0n1
check nvme.remount mount -t ext4 /dev/nvme0n1 "$mnt"
check nvme.checksums sh -c "cd '$mnt' && md5sum -c /tmp/sums"
check nvme.umount2 umount "$mnt"

# The SMART log counts what the file system did (live counters).
smart_field() {
	nvme smart-log /dev/nvme0 | awk -F: -v f="$1" '$1 ~ "^"f"[ \t]*$" { gsub(/[^0-9]/, "", $2); print $2 }'
}
w=$(smart_field host_write_commands)
r=$(smart_field host_read_commands)
if [ "${w:-0}" -gt 100 ] && [ "${r:-0}" -gt 10 ]; then
	pass nvme.smart_counters
else
	fail nvme.smart_counters "host_write_commands '$w', host_read_commands '$r'"
fi

# Stopping pciem-lua takes the device off the bus and the disk with it.
stop_dev "$DEV_PID" TERM
check_eq nvme.stop_status "$DEV_STATUS" 0
check nvme.disk_gone wait_for sh -c '! test -e /dev/nvme0n1'
check nvme.dev_gone wait_for dev_absent "$a"
# ... at once: no admin command left to time out, no shutdown left waiting.
klog_since | grep -E 'nvme.*(timeout|shutdown incomplete)' >/tmp/nvme-stop.err
check_eq nvme.stop_clean "$(cat /tmp/nvme-stop.err)" ""
if [ "$failures" != 0 ]; then
	echo "--- pciem-lua log"
	cat /tmp/nvme.log
fi
finish
