#!/bin/sh
# SPDX-License-Identifier: MIT
# Fetch and unpack Debian's kernel image matching the headers pciem.ko is built
# against, so the guest boots exactly the kernel the module was compiled for.
#   tests/vm/fetch-kernel.sh KVER CACHE_DIR
# Result: CACHE_DIR/kernel/KVER/{boot/vmlinuz-KVER,lib/modules/KVER/...} with
# depmod output. Runs the network only once; later calls find the stamp.
set -eu

kver=$1
cache=$2
pkg="linux-image-$kver-unsigned"
debdir="$cache/kernel"
root="$debdir/$kver"

if [ -f "$root/.complete" ]; then
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
touch "$root/.complete"
