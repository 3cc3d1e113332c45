#!/bin/sh
# SPDX-License-Identifier: MIT
# /dev/pciem requests with good and bad input (ioctl_check prints a PASS/FAIL
# line per check), then: the kernel log names the offending field, and no
# device of the pciem domain is left behind.

fail=0
check() {
	# check NAME CONDITION...
	name=$1
	shift
	if "$@"; then
		echo "PASS $name"
	else
		echo "FAIL $name"
		fail=1
	fi
}

pciem_domain() {
	# The module's root bus is the one bus in a domain above 0xffff (its load
	# message may have left the kernel's log buffer after earlier tests).
	ls /sys/class/pci_bus | sed -n 's/^\([0-9a-f]\{5,\}\):00$/\1/p' | head -n 1
}

domain_devices() {
	ls /sys/bus/pci/devices | grep -c "^$1:" || true
}

check dev-node-root-only [ "$(stat -c '%a %u' /dev/pciem)" = "600 0" ]

echo "pciem-test: ioctl_check begins" >/dev/kmsg
ioctl_check
rc=$?
check ioctl_check-exit [ "$rc" = 0 ]

log=$(dmesg | sed -n '/pciem-test: ioctl_check begins/,$p')
logged() {
	printf '%s\n' "$log" | grep -qF "$1"
}
check log-names-create-flags logged "create: flags must be zero"
check log-names-bar-length logged "add_bar: bar 0: length 0x3000 is not a power of two"
check log-names-cap-overlap logged "add_cap: cap pm at 0x44 overlaps cap pcie"
check log-names-mmap-absent-bar logged "mmap: bar 1 is not described"
check log-names-state logged "start: not allowed in state created"
check log-names-failed-register logged "register: cap msix: table bar 4 is not described"

dom=$(pciem_domain)
check domain-found [ -n "$dom" ]
check nothing-left-in-domain [ "$(domain_devices "$dom")" = 0 ]
exit $fail
