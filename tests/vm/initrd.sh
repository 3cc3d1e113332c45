#!/bin/sh
# SPDX-License-Identifier: MIT
# Assemble the guest initramfs: the cached base archive (rebuilt only when its
# inputs change) followed by a fresh per-run archive.
#   tests/vm/initrd.sh OUT.img GUEST_SCRIPT [VAR=value...]
# Environment (set by tests/vm/vm.mk): TOP BUILD CACHE KVER VM_MODULES VM_TOOLS.
set -eu

out=$1
guest=$2
shift 2
here=$TOP/tests/vm
kroot=$CACHE/kernel/$KVER

# Two runs at once (two make invocations) must not build or prune the cache
# together; the lock is held until this script exits.
mkdir -p "$CACHE/vm"
exec 9>"$CACHE/vm/.lock"
flock 9

"$here/fetch-kernel.sh" "$KVER" "$CACHE"

# The base depends on: its builder, the kernel, the module and tool lists, and
# the host's copies of the tools (package upgrades change size or mtime).
PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
key=$({
	cat "$here/mkbase.sh"
	echo "$KVER $VM_MODULES"
	echo "$VM_TOOLS"
	ls "$CACHE/kernel/" | grep '\.deb$' || true
	for t in $VM_TOOLS; do
		p=$(command -v "$t" || echo "missing-$t")
		stat -L -c '%n %s %Y' "$p" 2>/dev/null || echo "$p"
	done
	stat -L -c '%n %s %Y' /bin/busybox /usr/share/misc/pci.ids 2>/dev/null || true
} | sha256sum | cut -c1-16)
base="$CACHE/vm/base-$key.cpio.zst"
mkdir -p "$(dirname "$out")"
if [ ! -f "$base" ] || [ ! -f "$base.list" ]; then
	echo "INITRAMFS base (busybox, tools, libraries, kernel modules)"
	# Only the current base is worth keeping.
	rm -f "$CACHE"/vm/base-*.cpio.zst "$CACHE"/vm/base-*.cpio.zst.list
	"$here/mkbase.sh" "$base" "$kroot" "$KVER" "$VM_MODULES" "$VM_TOOLS"
fi

echo "INITRAMFS run ($(basename "$guest"))"
# Per output name, so vm-run, test-vm and demo never share a file.
"$here/mkrun.sh" "$out.run.cpio" "$TOP" "$BUILD" "$base.list" "$guest" "$@"
cat "$base" "$out.run.cpio" >"$out.tmp"
mv "$out.tmp" "$out"
