#!/bin/sh
# SPDX-License-Identifier: MIT
# Guest-side test runner (the guest script of `make test-vm`): runs each
# /pciem/tests/guest/*.sh with a deadline, blames kernel splats on the test
# whose log lines show them, and prints "PCIEM-RESULT PASS|FAIL|SKIP name" lines.
# Test scripts: exit 0 = pass, 77 = skip, else fail; their own "PASS x" /
# "FAIL x" / "SKIP x" output lines are forwarded as name/x.
# PCIEM_TESTS: space-separated globs on test names (default: all);
# PCIEM_TEST_TIMEOUT: seconds per test (default 300).

tests_dir=/pciem/tests
deadline=${PCIEM_TEST_TIMEOUT:-300}
results=/tmp/pciem-results
: >"$results"

result() {
	# result VERDICT NAME [REASON]
	line="PCIEM-RESULT $1 $2${3:+ -- $3}"
	echo "$line"
	echo "$line" >>"$results"
}

splats() {
	grep -v '^#' "$tests_dir/splat.pat" | grep -E -f - "$1"
}

selected() {
	[ -z "${PCIEM_TESTS:-}" ] && return 0
	for pat in $PCIEM_TESTS; do
		# shellcheck disable=SC2254
		case "$1" in $pat) return 0 ;; esac
	done
	return 1
}

module_loaded() {
	[ -d /sys/module/pciem ]
}

kill_leftovers() {
	# A test that left a device host running would disturb the next one.
	left=$(pidof pciem-lua)
	[ -n "$left" ] || return 0
	echo "runner: killing leftover pciem-lua ($left)"
	kill -KILL $left 2>/dev/null
	n=0
	while [ -n "$(pidof pciem-lua)" ] && [ "$n" -lt 100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
}

# Boot: pciem.ko loaded and nothing alarming in the log so far.
dmesg >/tmp/klog.boot
init_status=$(cat /tmp/pciem-init.status 2>/dev/null || echo unknown)
boot_splat=$(splats /tmp/klog.boot)
if [ "$init_status" != ok ]; then
	result FAIL boot "pciem.ko not loaded: $init_status"
elif [ -n "$boot_splat" ]; then
	echo "$boot_splat"
	result FAIL boot "kernel splat while booting or loading pciem.ko"
else
	result PASS boot
fi

cd /pciem || exit 1
for t in "$tests_dir"/guest/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	selected "$name" || continue

	if ! module_loaded; then
		# shellcheck disable=SC2086
		insmod /pciem/pciem.ko $PCIEM_MODULE_ARGS 2>/dev/null
	fi
	echo "pciem-test: begin $name" >/dev/kmsg
	echo "=== $name"
	# Output goes to a file, not a pipe: a device host left in the background
	# would hold a pipe open and stall the runner.
	timeout -s KILL "$deadline" sh "$t" >/tmp/out."$name" 2>&1 </dev/null
	rc=$?
	cat /tmp/out."$name"
	kill_leftovers
	echo "pciem-test: end $name" >/dev/kmsg
	dmesg | sed -n "/pciem-test: begin $name\$/,\$p" >/tmp/klog."$name"

	grep -E '^(PASS|FAIL|SKIP) ' /tmp/out."$name" | while read -r verdict sub; do
		result "$verdict" "$name/$sub"
	done

	reason=""
	if [ "$rc" = 137 ]; then
		reason="no result within ${deadline}s (killed)"
	elif [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		reason="exit status $rc"
	fi
	if grep -q '^FAIL ' /tmp/out."$name"; then
		reason="${reason:+$reason, }a check failed"
	fi
	splat=$(splats /tmp/klog."$name")
	if [ -n "$splat" ]; then
		echo "runner: kernel splat during $name:"
		echo "$splat" | head -n 20
		reason="${reason:+$reason, }kernel splat"
	fi
	if [ -n "$reason" ]; then
		result FAIL "$name" "$reason"
	elif [ "$rc" = 77 ]; then
		result SKIP "$name"
	else
		result PASS "$name"
	fi
done

# At the end the module must unload cleanly and leave no device behind.
kill_leftovers
echo "pciem-test: begin rmmod-at-end" >/dev/kmsg
if module_loaded; then
	if rmmod pciem >/tmp/rmmod.out 2>&1; then
		rm_reason=""
	else
		rm_reason="rmmod pciem failed: $(cat /tmp/rmmod.out)"
	fi
else
	rm_reason=""
fi
if module_loaded; then
	rm_reason="${rm_reason:-module still loaded}"
fi
left=$(ls /sys/bus/pci/devices | grep -E '^[0-9a-f]{5,}:' | tr '\n' ' ')
if [ -n "$left" ]; then
	rm_reason="${rm_reason:+$rm_reason, }devices left: $left"
fi
dmesg | sed -n '/pciem-test: begin rmmod-at-end$/,$p' >/tmp/klog.rmmod
if [ -n "$(splats /tmp/klog.rmmod)" ]; then
	splats /tmp/klog.rmmod | head -n 20
	rm_reason="${rm_reason:+$rm_reason, }kernel splat"
fi
if [ -n "$rm_reason" ]; then
	result FAIL rmmod-at-end "$rm_reason"
else
	result PASS rmmod-at-end
fi

# The same lines again in one block, in case kernel messages interleaved
# with the streamed ones on the console.
echo "@@PCIEM-RESULTS-BEGIN@@"
cat "$results"
echo "@@PCIEM-RESULTS-END@@"
! grep -q '^PCIEM-RESULT FAIL ' "$results"
