#!/bin/sh
# SPDX-License-Identifier: MIT
# Helpers for guest test scripts (source it: . /pciem/tests/lib.sh). Checks
# print "PASS name" / "FAIL name: why" lines, which the runner forwards.
# Helpers keep their variables `local` (busybox ash has it) so they never
# clobber a caller's.

# Set by a failing check; `finish` turns it into the exit status.
failures=0

pass() {
	echo "PASS $1"
}

fail() {
	# fail NAME WHY...
	local name=$1
	shift
	echo "FAIL $name: $*"
	failures=$((failures + 1))
}

# check_eq NAME GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "got '$2', want '$3'"
	fi
}

# check NAME CMD...: passes when CMD succeeds.
check() {
	local name=$1
	shift
	if "$@" >/tmp/check.out 2>&1; then
		pass "$name"
	else
		fail "$name" "'$*' failed: $(head -c 300 /tmp/check.out)"
	fi
}

# check_grep NAME FILE EXTENDED_REGEX: passes when a line of FILE matches.
check_grep() {
	if grep -Eq -- "$3" "$2"; then
		pass "$1"
	else
		fail "$1" "no line matching /$3/ in $2"
	fi
}

finish() {
	[ "$failures" = 0 ]
	exit $?
}

# PCI addresses of every device on pciem's bus (its domain is >= 0x10000, a
# number no firmware hands out).
pciem_devices() {
	ls /sys/bus/pci/devices | grep -E '^[0-9a-f]{5,}:' || true
}

# klog_mark: remember how far the kernel log goes; klog_since: the lines
# logged after the mark. Tests look at their own lines this way: never with
# `dmesg -c`, which would also hide them from the runner's splat scan.
klog_mark() {
	KLOG_MARK=$(dmesg | wc -l)
}

klog_since() {
	dmesg | tail -n +$((${KLOG_MARK:-0} + 1))
}

# bound_to ADDR DRIVER: PCI function ADDR is bound to DRIVER.
bound_to() {
	[ "$(basename "$(readlink "/sys/bus/pci/devices/$1/driver")")" = "$2" ]
}

# nvme_up [ADDR]: the nvme driver has ADDR (default $DEV_ADDR) and made /dev/nvme0n1.
nvme_up() {
	bound_to "${1:-$DEV_ADDR}" nvme && [ -b /dev/nvme0n1 ]
}

# wait_for CMD...: retry CMD every 0.1 s, up to PCIEM_WAIT tenths (default
# 600, i.e. a minute under TCG). Not a timing assertion: only a bound.
wait_for() {
	local n=0 limit=${PCIEM_WAIT:-600}
	while ! "$@" >/dev/null 2>&1; do
		n=$((n + 1))
		[ "$n" -ge "$limit" ] && return 1
		sleep 0.1
	done
	return 0
}

# start_dev LOG SCRIPT [ARGS...]: run pciem-lua in the background and wait
# until it reports its device's address. Sets DEV_PID and DEV_ADDR; returns 1
# (with the log printed) if pciem-lua exits or never reports an address.
start_dev() {
	local log=$1 n=0
	shift
	DEV_ADDR=""
	pciem-lua "$@" >"$log" 2>&1 &
	DEV_PID=$!
	while :; do
		DEV_ADDR=$(grep -Eo '[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]' "$log" | head -n 1)
		[ -n "$DEV_ADDR" ] && return 0
		if ! kill -0 "$DEV_PID" 2>/dev/null; then
			echo "start_dev: pciem-lua $* exited before reporting a device:"
			sed 's/^/    /' "$log"
			wait "$DEV_PID" 2>/dev/null
			return 1
		fi
		n=$((n + 1))
		if [ "$n" -ge "${PCIEM_WAIT:-600}" ]; then
			echo "start_dev: pciem-lua $* reported no device address:"
			sed 's/^/    /' "$log"
			return 1
		fi
		sleep 0.1
	done
}

# stop_dev PID SIGNAL: send SIGNAL, reap the process, set DEV_STATUS to its
# exit status (not a $(...) helper: a subshell cannot reap our children).
stop_dev() {
	kill -"$2" "$1" 2>/dev/null
	wait "$1"
	DEV_STATUS=$?
}

dev_present() {
	[ -e "/sys/bus/pci/devices/$1" ]
}

dev_absent() {
	! [ -e "/sys/bus/pci/devices/$1" ]
}

# cfg_byte ADDR OFFSET (hex, no 0x): one config space byte via sysfs, as two
# lowercase hex digits. Reads the whole 4 KiB: sysfs offsets are cheap.
cfg_byte() {
	hexdump -v -s $((0x$2)) -n 1 -e '1/1 "%02x"' "/sys/bus/pci/devices/$1/config"
}

# cfg_dword ADDR OFFSET: little-endian dword as 8 hex digits.
cfg_dword() {
	hexdump -v -s $((0x$2)) -n 4 -e '1/4 "%08x"' "/sys/bus/pci/devices/$1/config"
}
