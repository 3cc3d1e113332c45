#!/bin/sh
# SPDX-License-Identifier: MIT
# Install (as root, through apt-get) every Debian package pciem-lua needs to
# build, test and boot its QEMU guest. Idempotent.
#   tests/deps.sh          install what is missing
#   tests/deps.sh --check  exit 1 if anything is missing, install nothing
set -eu

PACKAGES="
build-essential pkg-config
linux-headers-amd64
luajit libluajit-5.1-dev libreadline-dev
lua-busted
qemu-system-x86 busybox-static cpio gzip zstd xz-utils kmod binutils
pciutils nvme-cli fio e2fsprogs util-linux
linux-source-6.1
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi
if [ "${1:-}" = "--check" ]; then
	echo "missing packages:$missing" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: these Debian packages are missing:$missing" >&2
	echo "deps: run 'make deps' as root (it uses apt-get)" >&2
	exit 1
fi
echo "DEPS     installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
