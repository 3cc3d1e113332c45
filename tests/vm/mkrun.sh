#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the small per-run initramfs that goes after the cached base archive:
# /init, pciem.ko, pciem-lua, the Lua tree, the guest tests and the guest script.
#   tests/vm/mkrun.sh OUT.cpio TOP BUILD BASE_LIST GUEST_SCRIPT [VAR=value...]
# VAR=value pairs land in /pciem/env, which /init sources.
set -eu

out=$1
top=$2
build=$3
base_list=$4
guest=$5
shift 5

case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
stage="$out.stage"
rm -rf "$stage"
mkdir -p "$stage/pciem/bin" "$stage/pciem/tests"
trap 'rm -rf "$stage"' EXIT

if [ ! -f "$guest" ]; then
	echo "mkrun: guest script '$guest' not found" >&2
	exit 1
fi

cp "$top/tests/vm/init" "$stage/init"
chmod 755 "$stage/init"
cp "$guest" "$stage/pciem/guest.sh"

if [ -f "$top/kmod/pciem.ko" ]; then
	# Debug info is most of the file and the guest has no use for it.
	objcopy --strip-debug "$top/kmod/pciem.ko" "$stage/pciem/pciem.ko"
else
	echo "mkrun: warning: kmod/pciem.ko not built; the guest will report it" >&2
fi

if [ -x "$build/pciem-lua" ]; then
	cp "$build/pciem-lua" "$stage/pciem/bin/pciem-lua"
	# Shared libraries the base archive lacks (libluajit is normally there).
	ldd "$build/pciem-lua" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }' |
	while read -r lib; do
		case "$lib" in /usr/*) dest=$lib ;; *) dest=/usr$lib ;; esac
		if ! grep -qx "\.$dest" "$base_list" && ! grep -qx "\.$lib" "$base_list"; then
			mkdir -p "$stage$(dirname "$dest")"
			cp -L "$lib" "$stage$dest"
		fi
	done
else
	echo "mkrun: warning: $build/pciem-lua not built; the guest has no pciem-lua" >&2
fi
if [ -d "$build/vm/bin" ]; then
	cp -R "$build/vm/bin/." "$stage/pciem/bin/"
fi
# Native handler libraries built from examples/*.c and devices/*_native.c.
for so in "$build"/examples/*.so "$build"/devices/*.so; do
	[ -f "$so" ] && cp "$so" "$stage/pciem/bin/"
done

for d in lua devices examples; do
	if [ -d "$top/$d" ]; then
		cp -R "$top/$d" "$stage/pciem/$d"
	fi
done
# Guest-side test kit: runner, helpers, splat patterns, tests and their devices.
for f in runner.sh lib.sh splat.pat; do
	cp "$top/tests/vm/$f" "$stage/pciem/tests/$f"
done
for d in guest devices; do
	if [ -d "$top/tests/vm/$d" ]; then
		cp -R "$top/tests/vm/$d" "$stage/pciem/tests/$d"
	fi
done

: >"$stage/pciem/env"
for kv in "$@"; do
	key=${kv%%=*}
	val=${kv#*=}
	# Single-quote the value for the guest shell.
	esc=$(printf '%s' "$val" | sed "s/'/'\\\\''/g")
	printf "%s='%s'\nexport %s\n" "$key" "$esc" "$key" >>"$stage/pciem/env"
done

(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
