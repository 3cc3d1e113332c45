#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the cached base initramfs of the QEMU guest: static busybox, the host's
# tools with their shared libraries, pci.ids, and a few guest-kernel modules.
#   tests/vm/mkbase.sh OUT.cpio.zst KERNEL_ROOT KVER "MODULES" "TOOLS"
# KERNEL_ROOT is the unpacked linux-image package (see fetch-kernel.sh). Writes
# OUT.list too: every path in the archive, so the per-run archive can skip
# libraries the base already has.
set -eu

out=$1
kroot=$2
kver=$3
modules=$4
tools=$5

# Absolute paths: the work below happens inside the stage directory.
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
case "$kroot" in /*) ;; *) kroot="$PWD/$kroot" ;; esac
stage="$out.stage"
rm -rf "$stage"
mkdir -p "$stage"
trap 'rm -rf "$stage"' EXIT
cd "$stage"

# Merged-/usr layout, like the Debian host the tools come from.
mkdir -p usr/bin usr/sbin usr/lib usr/lib64 etc root proc sys dev tmp run var/tmp mnt
ln -s usr/bin bin
ln -s usr/sbin sbin
ln -s usr/lib lib
ln -s usr/lib64 lib64

copy_file() {
	# Copy a host file to the same path in the stage, following symlinks.
	mkdir -p "./$(dirname "$1")"
	cp -L "$1" "./$1"
}

copy_libs() {
	# Every shared library ldd names (absolute paths only: skips linux-vdso).
	ldd "$1" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }' |
	while read -r lib; do
		[ -e "./$lib" ] || copy_file "$lib"
	done
}

PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
for tool in $tools; do
	path=$(command -v "$tool" || true)
	if [ -z "$path" ]; then
		echo "mkbase: tool '$tool' not found on this machine (see tests/deps.sh)" >&2
		exit 1
	fi
	case "$path" in
	/usr/*) dest="$path" ;;
	*) dest="/usr$path" ;;
	esac
	mkdir -p "./$(dirname "$dest")"
	cp -L "$path" "./$dest"
	copy_libs "$path"
done

# kmod's front ends, so modprobe reads the depmod output below.
if [ -x usr/bin/kmod ]; then
	for name in modprobe insmod rmmod lsmod modinfo depmod; do
		ln -sf ../bin/kmod "usr/sbin/$name"
	done
fi

# Static busybox for everything else; real tools copied above win.
cp /bin/busybox usr/bin/busybox
for applet in $(/bin/busybox --list); do
	[ -e "usr/bin/$applet" ] || [ -e "usr/sbin/$applet" ] || [ -L "usr/sbin/$applet" ] ||
		ln -s busybox "usr/bin/$applet"
done

# lspci names devices from pci.ids.
if [ -f /usr/share/misc/pci.ids ]; then
	copy_file /usr/share/misc/pci.ids
fi

# Guest kernel modules: each requested module with its dependency closure.
moddir="lib/modules/$kver"
mkdir -p "usr/$moddir"
for f in modules.order modules.builtin modules.builtin.modinfo; do
	cp "$kroot/$moddir/$f" "usr/$moddir/$f"
done
for mod in $modules; do
	deps=$(modprobe -d "$kroot" -S "$kver" --show-depends "$mod" 2>&1) || {
		echo "mkbase: kernel module '$mod' not found in $kroot: $deps" >&2
		exit 1
	}
	echo "$deps" | awk '$1 == "insmod" { print $2 }' | while read -r ko; do
		rel=${ko#"$kroot"/}
		mkdir -p "./usr/$(dirname "$rel")"
		cp "$ko" "./usr/$rel"
	done
done
depmod -b "$stage/usr" "$kver"

cat >etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
cat >etc/group <<'EOF'
root:x:0:
EOF
echo pciem-guest >etc/hostname
# The console must exist before /init mounts devtmpfs (needs root to create).
mknod -m 600 dev/console c 5 1 2>/dev/null || true
mknod -m 666 dev/null c 1 3 2>/dev/null || true

find . | LC_ALL=C sort >"$out.list.tmp"
find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | zstd -q -T2 -9 -f -o "$out.tmp"
# The kernel finds an uncompressed archive appended after this one only at a
# 4-byte aligned offset: pad with zeros, which it skips.
size=$(stat -c %s "$out.tmp")
pad=$(( (4 - size % 4) % 4 ))
if [ "$pad" != 0 ]; then
	head -c "$pad" /dev/zero >>"$out.tmp"
fi
mv "$out.list.tmp" "$out.list"
mv "$out.tmp" "$out"
