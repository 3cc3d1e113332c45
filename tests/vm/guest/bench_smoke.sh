#!/bin/sh
# SPDX-License-Identifier: MIT
# make bench in a tiny configuration (tests/bench/guest.sh, BENCH_SCALE=smoke):
# every figure is produced and the JSON parses. Asserts no timing at all.
. /pciem/tests/lib.sh

bin=/pciem/bin
if [ ! -f "$bin/bench_guest.sh" ] || [ ! -f "$bin/pciem_bench.ko" ]; then
	echo "bench_smoke: the bench is not built (make bench-build)"
	exit 77
fi

BENCH_SCALE=smoke BENCH_JSON=/tmp/bench-smoke.json BENCH_RAW=/tmp/bench-smoke.raw \
	sh "$bin/bench_guest.sh" >/tmp/bench-smoke.out 2>&1
status=$?
sed 's/^/    /' /tmp/bench-smoke.out
check_eq guest_script "$status" 0
check figures luajit "$bin/bench_report.lua" --check /tmp/bench-smoke.json
check driver_gone sh -c '! grep -q "^pciem_bench " /proc/modules'
check device_gone sh -c '! pgrep -x pciem-lua'
finish
