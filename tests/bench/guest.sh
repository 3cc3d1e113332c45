#!/bin/sh
# SPDX-License-Identifier: MIT
# The guest half of `make bench` (shipped as /pciem/bin/bench_guest.sh): starts
# the bench device, loads pciem_bench.ko, runs every measurement BENCH_RUNS
# times and writes the report (table on stdout, JSON to BENCH_JSON).
# BENCH_SCALE=full (default) or smoke (tiny: only proves every figure appears).
# Exit status: 0 when every measurement produced a number.
. /pciem/tests/lib.sh

bin=/pciem/bin
scale=${BENCH_SCALE:-full}
raw=${BENCH_RAW:-/tmp/bench.raw}
json=${BENCH_JSON:-/tmp/bench.json}
cmd=/sys/kernel/debug/pciem_bench/cmd

case "$scale" in
full)
	runs=5 n_posted=50000 n_ram=1000000 n_read=20000 n_sync=5000 n_irq=1000
	n_syscall=100000 n_eventfd=5000
	dma_reps="4096:200 131072:20 4194304:3"
	cpy_reps="4096:20000 131072:1000 4194304:20"
	;;
smoke)
	runs=1 n_posted=200 n_ram=1000 n_read=100 n_sync=20 n_irq=5
	n_syscall=1000 n_eventfd=20
	dma_reps="4096:2 131072:1 4194304:1"
	cpy_reps="4096:2 131072:1 4194304:1"
	;;
*)
	echo "bench: BENCH_SCALE=$scale: want full or smoke" >&2
	exit 2
	;;
esac
runs=${BENCH_RUNS:-$runs}

errors=0
: >"$raw"

# measure NAME CMD...: one "RAW NAME k=v ..." line from CMD's output.
measure() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1) && [ -n "$out" ]; then
		echo "RAW $name $out" >>"$raw"
	else
		echo "bench: $name: '$*' failed: $out" >&2
		errors=$((errors + 1))
	fi
}

# kbench CMD: run a command of pciem_bench.ko and print its result.
kbench() {
	echo "$*" >"$cmd" && cat "$cmd"
}

# BENCH_PIN=1: the device host on the last CPU, this script (so the driver's
# loops) on CPU 0, the eventfd threads split the same way. Off by default:
# under TCG a wake-up across vCPUs costs milliseconds of host scheduling
# (docs/performance.md), which would swamp what is measured.
pin=${BENCH_PIN:-0}
pong_cpu=
if [ "$pin" = 1 ]; then
	ncpu=$(grep -c '^processor' /proc/cpuinfo)
	pong_cpu=$((ncpu - 1))
	taskset -p -c 0 $$ >/dev/null 2>&1
fi
start_dev /tmp/bench-dev.log "$bin/bench.lua" "$bin/bench_native.so" || exit 1
if [ "$pin" = 1 ] && ! taskset -a -p -c "$pong_cpu" "$DEV_PID" >/dev/null 2>&1; then
	echo "bench: could not pin pciem-lua to CPU $pong_cpu" >&2
	errors=$((errors + 1))
fi
# The driver probes the device already on the bus inside insmod.
if ! insmod "$bin/pciem_bench.ko" || ! dmesg | grep -q "$DEV_ADDR: bench: bound"; then
	echo "bench: pciem_bench.ko did not bind $DEV_ADDR" >&2
	stop_dev "$DEV_PID" TERM
	exit 1
fi

r=1
while [ "$r" -le "$runs" ]; do
	echo "bench: run $r of $runs" >&2
	measure posted_write kbench posted "$n_posted"
	measure ram_write kbench ram_write "$n_ram"
	measure null_syscall "$bin/bench_user" syscall "$n_syscall"
	measure sync_read_lua kbench sync_lua "$n_sync"
	measure sync_read_native kbench sync_native "$n_sync"
	measure ram_read kbench ram_read "$n_read"
	measure irq_latency kbench irq "$n_irq"
	measure eventfd_wake "$bin/bench_user" eventfd "$n_eventfd" $pong_cpu
	for sr in $dma_reps; do
		measure "dma_read_${sr%%:*}" kbench dma_read "${sr%%:*}" "${sr#*:}"
		measure "dma_write_${sr%%:*}" kbench dma_write "${sr%%:*}" "${sr#*:}"
	done
	for sr in $cpy_reps; do
		measure "memcpy_${sr%%:*}" "$bin/bench_user" memcpy "${sr%%:*}" "${sr#*:}"
	done
	r=$((r + 1))
done

rmmod pciem_bench
stop_dev "$DEV_PID" TERM
[ "$DEV_STATUS" = 0 ] || { echo "bench: pciem-lua exited $DEV_STATUS:" >&2; cat /tmp/bench-dev.log >&2; errors=$((errors + 1)); }

cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')
BENCH_GUEST_KERNEL=$(uname -r) BENCH_GUEST_CPU=$cpu \
BENCH_LUAJIT=$(luajit -v 2>&1 | head -n 1) BENCH_SCALE=$scale BENCH_RUNS_DONE=$runs \
BENCH_PINNED=$pin \
	luajit "$bin/bench_report.lua" "$raw" "$json" >/tmp/bench.table || errors=$((errors + 1))
echo "BENCH-TABLE-BEGIN"
cat /tmp/bench.table
echo "BENCH-TABLE-END"
echo "BENCH-JSON-BEGIN"
cat "$json"
echo "BENCH-JSON-END"
[ "$errors" = 0 ]
