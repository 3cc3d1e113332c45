#!/bin/sh
# SPDX-License-Identifier: MIT
# Guest script of `make demo`: run devices/nvme.lua, let the stock nvme driver
# take it, make an ext4 file system on it, write a file and read it back, run a
# short fio, stop the device. Lines meant for the viewer start with "demo| "
# (the host shows only those).
. /pciem/tests/lib.sh

mnt=/mnt/demo
size=256M

say() {
	echo "demo| $*"
}

# show CMD...: print the command, then its output indented.
show() {
	say
	say "\$ $*"
	"$@" 2>&1 | sed 's/^/demo|   /'
}

verdict_fail() {
	say
	say "DEMO FAILED: $*"
	[ -n "${DEV_PID:-}" ] && kill -TERM "$DEV_PID" 2>/dev/null
	exit 1
}

# The namespace 1 disk of the controller on $addr (nvmeXn1; with native
# multipath the controller's entry is nvmeXcYn1).
our_disk() {
	local c e
	c=$(ls "/sys/bus/pci/devices/$addr/nvme" 2>/dev/null | head -n 1)
	[ -n "$c" ] || return 1
	e=$(ls "/sys/class/nvme/$c" | grep -E '^nvme[0-9]+(c[0-9]+)?n1$' | head -n 1 | sed -E 's/c[0-9]+n/n/')
	[ -n "$e" ] && [ -b "/dev/$e" ] && echo "$e"
}

say "Guest: Linux $(uname -r) under QEMU (TCG, $(grep -c '^processor' /proc/cpuinfo) vCPUs), pciem.ko loaded: $(lsmod | grep -q '^pciem ' && echo yes || echo NO)"
command -v pciem-lua >/dev/null || verdict_fail "pciem-lua is not in the guest (did 'make host' build it?)"

say
say "\$ pciem-lua /pciem/devices/nvme.lua size=$size &"
start_dev /tmp/nvme.log /pciem/devices/nvme.lua size=$size ||
	verdict_fail "pciem-lua did not bring the device up: $(cat /tmp/nvme.log)"
sed 's/^/demo|   /' /tmp/nvme.log
addr=$DEV_ADDR

say
say "\$ modprobe nvme      # the kernel's own NVMe driver"
modprobe nvme
wait_for our_disk || verdict_fail "the nvme driver made no disk for $addr"
disk=$(our_disk)
show lspci -nn -k -s "$addr"
show nvme list

show mkfs.ext4 -q -F "/dev/$disk"
mkdir -p "$mnt"
show mount -t ext4 "/dev/$disk" "$mnt"
show dd if=/dev/urandom of="$mnt/random.bin" bs=1M count=32
show sha256sum "$mnt/random.bin"
written=$(sha256sum <"$mnt/random.bin")
say
say "\$ umount $mnt && echo 3 > /proc/sys/vm/drop_caches && mount /dev/$disk $mnt"
say "  (so the read below comes from the device, not from the page cache)"
umount "$mnt" && echo 3 >/proc/sys/vm/drop_caches && mount -t ext4 "/dev/$disk" "$mnt" ||
	verdict_fail "remount failed"
show sha256sum "$mnt/random.bin"
read_back=$(sha256sum <"$mnt/random.bin")
[ "$written" = "$read_back" ] || verdict_fail "the file read back differs from what was written"
say "  same checksum: the 32 MiB went to the Lua device and came back intact."

say
say "\$ fio --name=demo --directory=$mnt --size=64M --rw=randrw --bs=4k --iodepth=16 --direct=1 --ioengine=libaio --runtime=5 --time_based"
fio --name=demo --directory="$mnt" --size=64M --rw=randrw --bs=4k --iodepth=16 --direct=1 \
	--ioengine=libaio --runtime=5 --time_based >/tmp/fio.out 2>&1 ||
	{ cat /tmp/fio.out; verdict_fail "fio failed"; }
grep -E '^ *(read|write): IOPS|^ *(READ|WRITE):|err=' /tmp/fio.out | sed 's/^ */demo|   /'
say "  (TCG emulates every guest instruction: read the numbers as a smoke test, see devices/nvme.md)"
say
say "\$ nvme smart-log /dev/$disk | grep -iE 'data.units|host_.*_commands'   # live counters"
nvme smart-log "/dev/$disk" 2>&1 | grep -iE 'data.units|host_.*_commands' | sed 's/^/demo|   /'

show umount "$mnt"
say
say "\$ kill -TERM $DEV_PID      # what Ctrl-C would do"
stop_dev "$DEV_PID" TERM
tail -n +2 /tmp/nvme.log | grep -v '^ *$' | sed 's/^/demo|   /'
say "pciem-lua exited with status $DEV_STATUS"
wait_for dev_absent "$addr"
show nvme list

say
if dev_present "$addr"; then
	verdict_fail "$addr is still in /sys/bus/pci/devices after SIGTERM"
fi
if [ "$DEV_STATUS" != 0 ]; then
	verdict_fail "pciem-lua exited with status $DEV_STATUS after SIGTERM"
fi
say "DEMO OK: an NVMe SSD written in Lua was formatted, mounted, written, read back and"
say "benchmarked by the guest's own nvme driver and tools, and left when its host stopped."
say "Next: devices/nvme.md (options, benchmarks), docs/lua-api.md (write your own device)."
