#!/bin/sh
# SPDX-License-Identifier: MIT
# Fetch and unpack Debian's kernel image matching the headers pciem.ko is built
# against, so the guest boots exactly the kernel the module was compiled for.
#   tests/vm/fetch-kernel.sh KVER CACHE_DIR
# Result: CACHE_DIR/kernel/KVER/{boot/vmlinuz-KVER,lib/modules/KVER/...} with
# depmod output, and boot/guest-kernel: the image QEMU boots (see below).
# Uses the network only once; later calls find the stamp.
set -eu

kver=$1
cache=$2
pkg="linux-image-$kver-unsigned"
debdir="$cache/kernel"
root="$debdir/$kver"

# Debian's bzImage is xz-compressed, and unpacking it under TCG costs about
# 3.5 s per boot. The kernel also has a PVH entry point (CONFIG_PVH), so QEMU
# can boot the uncompressed ELF directly: extract it once. If that fails (a
# kernel without an xz payload), boot the bzImage.
extract_vmlinux() {
	img="$root/boot/vmlinuz-$kver"
	elf="$root/boot/vmlinux-$kver"
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$img" 2>/dev/null | head -n 1 | cut -d: -f1)
	if [ -n "$off" ] &&
		tail -c +$((off + 1)) "$img" | xz -dc --single-stream >"$elf.tmp" 2>/dev/null &&
		[ "$(head -c 4 "$elf.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] &&
		grep -q '^CONFIG_PVH=y' "$root/boot/config-$kver"; then
		mv "$elf.tmp" "$elf"
		ln -sf "vmlinux-$kver" "$root/boot/guest-kernel"
	else
		rm -f "$elf.tmp"
		ln -sf "vmlinuz-$kver" "$root/boot/guest-kernel"
	fi
}

if [ -f "$root/.complete" ]; then
	[ -e "$root/boot/guest-kernel" ] || extract_vmlinux
	exit 0
fi

mkdir -p "$debdir"
find_deb() {
	ls "$debdir"/"${pkg}"_*_amd64.deb 2>/dev/null | head -n 1
}

deb=$(find_deb)
if [ -z "$deb" ]; then
	echo "FETCH    $pkg (apt-get download)"
	# apt-get download writes into the current directory.
	if ! (cd "$debdir" && apt-get download -qq "$pkg" 2>"$debdir/apt.log"); then
		echo "FETCH    package lists missing or stale: apt-get update, then retry"
		apt-get update -qq >>"$debdir/apt.log" 2>&1 || true
		if ! (cd "$debdir" && apt-get download -qq "$pkg" 2>>"$debdir/apt.log"); then
			cat "$debdir/apt.log" >&2
			echo "fetch-kernel: cannot download $pkg; the guest must boot the" >&2
			echo "  kernel matching linux-headers-$kver exactly" >&2
			exit 1
		fi
	fi
	deb=$(find_deb)
	[ -n "$deb" ] || { echo "fetch-kernel: $pkg downloaded but no .deb found in $debdir" >&2; exit 1; }
fi

echo "UNPACK   $(basename "$deb")"
rm -rf "$root.tmp" "$root"
mkdir -p "$root.tmp"
dpkg-deb -x "$deb" "$root.tmp"
if [ ! -f "$root.tmp/boot/vmlinuz-$kver" ] || [ ! -d "$root.tmp/lib/modules/$kver" ]; then
	echo "fetch-kernel: $deb does not contain boot/vmlinuz-$kver and lib/modules/$kver" >&2
	rm -rf "$root.tmp"
	exit 1
fi
# Debian ships no modules.dep (its postinst runs depmod); make it here so that
# modprobe --show-depends can compute dependency closures for the initramfs.
depmod -b "$root.tmp" "$kver"
mv "$root.tmp" "$root"
extract_vmlinux
touch "$root/.complete"
