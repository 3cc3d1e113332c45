#!/bin/sh
# SPDX-License-Identifier: MIT
# Host side of `make test-vm`: boot the guest once with the test runner, then
# turn its "PCIEM-RESULT" lines into vm/<name> PASS/FAIL lines for the tier.
#   tests/vm/test-vm.sh KERNEL INITRD CONSOLE_LOG
# Results go to $PCIEM_RESULTS when set (always echoed to stdout too).
set -u

kernel=$1
initrd=$2
log=$3
here=$(cd "$(dirname "$0")" && pwd)

start=$(date +%s)
"$here/run.sh" "$kernel" "$initrd" "$log"
run_rc=$?
end=$(date +%s)

record() {
	echo "$1"
	if [ -n "${PCIEM_RESULTS:-}" ]; then
		echo "$1" >>"$PCIEM_RESULTS"
	fi
}

# Prefer the closing block; fall back to the streamed lines (guest crashed).
if grep -q '^@@PCIEM-RESULTS-END@@' "$log"; then
	lines=$(sed -n '/^@@PCIEM-RESULTS-BEGIN@@/,/^@@PCIEM-RESULTS-END@@/p' "$log" |
		grep '^PCIEM-RESULT ')
	complete=1
else
	lines=$(grep '^PCIEM-RESULT ' "$log")
	complete=0
fi

echo
echo "test-vm: results (guest ran $((end - start))s)"
failed=0
echo "$lines" | while read -r _ verdict name rest; do
	[ -n "$verdict" ] || continue
	case "$verdict" in
	PASS | FAIL | SKIP) ;;
	*) continue ;;
	esac
	record "$verdict vm/$name${rest:+ $rest}"
done
if echo "$lines" | grep -q '^PCIEM-RESULT FAIL '; then
	failed=1
fi

if [ "$complete" != 1 ]; then
	record "FAIL vm/(guest run) -- the runner never finished: crash, hang or timeout (see $log)"
	failed=1
elif [ "$run_rc" != 0 ] && [ "$failed" = 0 ]; then
	# A splat or failure outside every test (run.sh printed why).
	record "FAIL vm/(guest run) -- see the vm-run lines above and $log"
	failed=1
fi
exit "$failed"
