#!/bin/sh
# SPDX-License-Identifier: MIT
# Invalid descriptions fail before any device exists: non-zero exit, a
# message naming the script and the field, nothing in /sys/bus/pci/devices.
. /pciem/tests/lib.sh

before=$(pciem_devices | tr '\n' ' ')
exited_or_up() {
	! kill -0 "$1" 2>/dev/null ||
		grep -Eq '[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]' "$2"
}
# try NAME SCRIPT FIELD_REGEX
try() {
	local t=$1 script=/pciem/tests/devices/$2.lua want=$3 pid rc
	pciem-lua "$script" >/tmp/bad.$t.log 2>&1 &
	pid=$!
	# Wait for it to exit; a wrong description must never bring a device up.
	wait_for exited_or_up "$pid" /tmp/bad.$t.log
	if kill -0 "$pid" 2>/dev/null; then
		stop_dev "$pid" TERM
		fail "$t.refused" "pciem-lua accepted $2.lua: $(cat /tmp/bad.$t.log)"
		return
	fi
	wait "$pid"
	rc=$?
	sed 's/^/    /' /tmp/bad.$t.log
	if [ "$rc" != 0 ]; then
		pass "$t.exit_nonzero"
	else
		fail "$t.exit_nonzero" "exit status 0"
	fi
	check_grep "$t.names_script" /tmp/bad.$t.log "$2\.lua:[0-9]+"
	check_grep "$t.names_field" /tmp/bad.$t.log "$want"
	check_eq "$t.nothing_left" "$(pciem_devices | tr '\n' ' ')" "$before"
}
try typo bad_typo "bars\[0\]\.prefetchabel.*prefetchable"
try bar_size bad_bar "bars\[0\]\.size.*power of two"
try msix_table bad_msix "caps\[1\] \(msix\)\.table"
finish
