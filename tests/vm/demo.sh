#!/bin/sh
# SPDX-License-Identifier: MIT
# Guest script of `make demo`: run examples/hello.lua, show the device the way
# the guest's lspci sees it, stop it, show it is gone. Lines meant for the
# viewer start with "demo| " (the host shows only those).
. /pciem/tests/lib.sh

say() {
	echo "demo| $*"
}

# show CMD...: print the command, then its output indented.
show() {
	say
	say "\$ $*"
	"$@" 2>&1 | sed 's/^/demo|   /'
}

verdict_fail() {
	say
	say "DEMO FAILED: $*"
	exit 1
}

say "Guest: Linux $(uname -r) under QEMU, pciem.ko loaded: $(lsmod | grep -q '^pciem ' && echo yes || echo NO)"
command -v pciem-lua >/dev/null || verdict_fail "pciem-lua is not in the guest (did 'make host' build it?)"

say
say "\$ pciem-lua /pciem/examples/hello.lua &"
start_dev /tmp/hello.log /pciem/examples/hello.lua ||
	verdict_fail "pciem-lua did not bring the device up: $(cat /tmp/hello.log)"
sed 's/^/demo|   /' /tmp/hello.log
addr=$DEV_ADDR

show lspci -nn
show lspci -vvv -nn -s "$addr"
say "  (No driver claims this device, so nothing turned its memory decoding on:"
say "   hence Mem- and [disabled]. The config space above is what the script described.)"

say
say "\$ kill -TERM $DEV_PID      # what Ctrl-C would do"
stop_dev "$DEV_PID" TERM
sed -n '2,$p' /tmp/hello.log | sed 's/^/demo|   /'
say "pciem-lua exited with status $DEV_STATUS"
show lspci -nn

say
if dev_present "$addr"; then
	verdict_fail "$addr is still in /sys/bus/pci/devices after SIGTERM"
fi
if [ "$DEV_STATUS" != 0 ]; then
	verdict_fail "pciem-lua exited with status $DEV_STATUS after SIGTERM"
fi
say "DEMO OK: a Lua-described device appeared at $addr, and left when its host stopped."
say "Next: write your own device (docs/lua-api.md) and try it with 'make vm-run GUEST=...' (docs/guest.md)."
