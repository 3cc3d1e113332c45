#!/bin/sh
# SPDX-License-Identifier: MIT
# Run one test tier and make sure its outcome reaches the summary.
#   tests/tier.sh RESULTS_DIR TIER CMD...
# A tier appends "PASS name" / "FAIL name" / "SKIP name" lines to
# $RESULTS_DIR/$TIER.log (path exported as PCIEM_RESULTS). If the command exits
# non-zero without having recorded a failure, the tier itself is recorded failed.
set -u
dir=$1 tier=$2
shift 2
mkdir -p "$dir"
PCIEM_RESULTS="$dir/$tier.log"
export PCIEM_RESULTS
: >"$PCIEM_RESULTS"
"$@"
rc=$?
if [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$PCIEM_RESULTS"; then
	echo "FAIL $tier/(runner exited $rc)" >>"$PCIEM_RESULTS"
fi
if ! grep -q '^\(PASS\|FAIL\) ' "$PCIEM_RESULTS"; then
	echo "FAIL $tier/(no test ran)" >>"$PCIEM_RESULTS"
fi
exit 0
