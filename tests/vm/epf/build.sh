#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the stock pci_endpoint_test.ko and pcitest (static) from Debian's
# linux-source tarball, cached in CACHE/epf/, and copy them with pcitest.sh
# into OUTDIR (the guest's /pciem/bin). Nothing of the kernel tree is committed.
#   tests/vm/epf/build.sh CACHE KDIR OUTDIR
set -eu

cache=$(mkdir -p "$1/epf" && cd "$1/epf" && pwd)
kdir=$2
outdir=$3
tarball=${LINUX_SOURCE_TARBALL:-$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)}

if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
	echo "epf: no /usr/src/linux-source-*.tar.xz: run 'make deps' (package linux-source-6.1)" >&2
	exit 1
fi
if [ ! -d "$kdir" ]; then
	echo "epf: kernel headers '$kdir' not found" >&2
	exit 1
fi

# Rebuild when the tarball, the headers or this script change.
key=$({
	stat -L -c '%n %s %Y' "$tarball" "$kdir/Module.symvers" 2>/dev/null || true
	cat "$0"
} | sha256sum | cut -c1-16)
work=$cache/$key
ko=$work/mod/pci_endpoint_test.ko
tool=$work/tools/pci/pcitest
script=$work/tools/pci/pcitest.sh

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [ ! -f "$ko" ] || [ ! -x "$tool" ] || [ ! -f "$script" ]; then
	echo "EPF      pci_endpoint_test.ko, pcitest from $(basename "$tarball")"
	# Only the current build is worth keeping.
	find "$cache" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
	mkdir -p "$work.tmp"
	top=$(basename "$tarball" .tar.xz)
	tar xf "$tarball" -C "$work.tmp" --strip-components=1 \
		"$top/drivers/misc/pci_endpoint_test.c" \
		"$top/include/uapi/linux/pcitest.h" \
		"$top/tools/pci"
	mkdir -p "$work.tmp/mod"
	cp "$work.tmp/drivers/misc/pci_endpoint_test.c" "$work.tmp/mod/"
	echo 'obj-m := pci_endpoint_test.o' >"$work.tmp/mod/Kbuild"
	make -C "$kdir" M="$work.tmp/mod" modules >"$work.tmp/mod/build.log" 2>&1 || {
		cat "$work.tmp/mod/build.log" >&2
		exit 1
	}
	${CC:-cc} -static -O2 -D_GNU_SOURCE -I"$work.tmp/include/uapi" \
		-o "$work.tmp/tools/pci/pcitest" "$work.tmp/tools/pci/pcitest.c"
	rm -rf "$work"
	mv "$work.tmp" "$work"
fi

mkdir -p "$outdir"
objcopy --strip-debug "$ko" "$outdir/pci_endpoint_test.ko"
cp "$tool" "$outdir/pcitest"
cp "$script" "$outdir/pcitest.sh"
chmod 755 "$outdir/pcitest" "$outdir/pcitest.sh"
