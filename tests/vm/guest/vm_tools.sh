#!/bin/sh
# SPDX-License-Identifier: MIT
# The guest bench itself: the kernel modules and tools later tests rely on
# load and work (on null_blk, so no pciem device is involved).
. /pciem/tests/lib.sh

check tools.modprobe_nvme modprobe nvme
check tools.nvme_cli nvme list
check tools.modprobe_null_blk modprobe null_blk nr_devices=1 gb=1 memory_backed=1 discard=1
wait_for [ -b /dev/nullb0 ]
check tools.nullb0 [ -b /dev/nullb0 ]
check tools.blkdiscard blkdiscard /dev/nullb0
check tools.mkfs_ext4 mkfs.ext4 -q -F /dev/nullb0
mkdir -p /mnt/t
check tools.mount_ext4 mount -t ext4 /dev/nullb0 /mnt/t
check tools.fio fio --name=t --filename=/mnt/t/f --size=4M --rw=randwrite --bs=4k \
	--ioengine=psync --numjobs=1 --output=/dev/null
check tools.umount umount /mnt/t
check tools.e2fsck e2fsck -f -n /dev/nullb0
check tools.modprobe_loop modprobe loop
truncate -s 8M /tmp/loop.img
check tools.losetup losetup /dev/loop0 /tmp/loop.img
losetup -d /dev/loop0
check tools.lspci lspci -nn
check tools.pci_ids_names sh -c 'lspci | grep -q Intel'
check tools.setpci setpci -s 00:00.0 VENDOR_ID
rmmod null_blk
finish
