#!/bin/sh
# SPDX-License-Identifier: MIT
# The guest half of `make bench-nvme` (shipped as /pciem/bin/bench_nvme_guest.sh):
# the same fio job files against each disk in turn (devices/nvme.lua in several
# modes, QEMU's NVMe, null_blk), with MMIO trap and interrupt counts around each
# job; then the report (table on stdout, JSON to BENCH_JSON).
# Environment: BENCH_SCALE full|smoke, BENCH_NVME_MODES (default: default_modes
# below; lua_nodbbuf on request), BENCH_NVME_PAIR,
# BENCH_RUNTIME (s per job), BENCH_ROUNDS, BENCH_NVME_PIN (1: fio on CPU 0, the
# device host on the last CPU), BENCH_SIZE_MB, BENCH_ENGINE (io_uring, libaio;
# default: io_uring when it works), BENCH_NVME_SCRIPT (default
# /pciem/devices/nvme.lua), BENCH_RAW, BENCH_JSON, BENCH_OUT (fio output dir).
# Exit status: 0 when every mode ran or was reported n/a with a reason.
. /pciem/tests/lib.sh

bin=/pciem/bin
jobs_dir=$bin/bench_fio
jobs="randread_4k_qd1 randread_4k_qd32 seqread_128k_qd8 randwrite_4k_qd32"
all_modes="fast lua lua_nodbbuf fast_nodbbuf qemu null_blk fast_timing"
default_modes="fast lua fast_nodbbuf qemu null_blk fast_timing"
# fast_timing: the fast path with fptiming=on (its clocks cost time, hence a
# mode of its own), one job, no prefill: its stop line is that job's
# per-stage cost budget.
timing_jobs=${BENCH_TIMING_JOBS:-randread_4k_qd32}
scale=${BENCH_SCALE:-full}
case "$scale" in
full) runtime=4 prefill=1 rounds=2 ;;
smoke) runtime=1 prefill=0 rounds=1 ;;
*)
	echo "bench-nvme: BENCH_SCALE=$scale: want full or smoke" >&2
	exit 2
	;;
esac
runtime=${BENCH_RUNTIME:-$runtime}
rounds=${BENCH_ROUNDS:-$rounds}
size_mb=${BENCH_SIZE_MB:-64}
modes=${BENCH_NVME_MODES:-$default_modes}
raw=${BENCH_RAW:-/tmp/bench-nvme.raw}
json=${BENCH_JSON:-/tmp/bench-nvme.json}
outdir=${BENCH_OUT:-/tmp/bench-nvme}
counters=/sys/kernel/debug/pciem/nvme/counters
nullb=nullb_bench
nvme_script=${BENCH_NVME_SCRIPT:-/pciem/devices/nvme.lua}

rm -rf "$outdir"
mkdir -p "$outdir"
: >"$raw"
errors=0

# Set by the mode's setup: the block device, the nvme controller (for its
# interrupt lines; empty for null_blk), whether pciem's counters apply.
disk= ctrl= pciem=0 dev_running=0

# na MODE WHY...: the mode could not run; the report shows n/a and WHY.
na() {
	local mode=$1
	shift
	echo "bench-nvme: $mode: n/a: $*" >&2
	echo "NA $mode $*" >>"$raw"
}

# ctrl_disk CTRL: the namespace 1 block device of an nvme controller (with
# native multipath the disk is named after the subsystem: nvmeXcYn1 -> nvmeXn1).
ctrl_disk() {
	local e
	e=$(ls "/sys/class/nvme/$1" 2>/dev/null | grep -E '^nvme[0-9]+(c[0-9]+)?n1$' | head -n 1)
	[ -n "$e" ] || return 1
	e=$(echo "$e" | sed -E 's/c[0-9]+n/n/')
	[ -b "/dev/$e" ] && echo "$e"
}

pci_ctrl() {
	ls "/sys/bus/pci/devices/$1/nvme" 2>/dev/null | grep -E '^nvme[0-9]+$' | head -n 1
}

# The interrupts of CTRL's I/O queues (nvmeNq1..), summed over CPUs.
irq_count() {
	[ -n "$ctrl" ] || { echo 0; return; }
	awk -v c="$ctrl" 'NR == 1 { ncpu = NF; next }
		$NF ~ ("^" c "q[0-9]+$") && $NF != (c "q0") {
			for (i = 2; i <= ncpu + 1; i++) n += $i
		}
		END { print n + 0 }' /proc/interrupts
}

# One "k=v" per pciem counter we use (0 when the device has none).
pciem_counts() {
	if [ "$pciem" = 1 ] && [ -r "$counters" ]; then
		awk '$1 == "trap_reads" || $1 == "trap_writes" { t += $2 }
			$1 == "irqs_delivered" { i = $2 }
			END { printf "%d %d\n", t, i }' "$counters"
	else
		echo "0 0"
	fi
}

# Completed reads + writes of the disk (/sys/block/X/stat fields 1 and 5).
disk_ios() {
	awk '{ print $1 + $5 }' "/sys/block/$disk/stat"
}

# setup_ours MODE ARGS...: devices/nvme.lua with ARGS, bound by the nvme driver.
setup_ours() {
	local mode=$1 c d n=0
	shift
	if ! start_dev "$outdir/$mode.dev.log" "$nvme_script" size="${size_mb}M" "$@" >/dev/null; then
		na "$mode" "pciem-lua $*: $(grep -v '^ *$' "$outdir/$mode.dev.log" | tail -n 1)"
		return 1
	fi
	dev_running=1
	if [ -n "$dev_cpu" ] && ! taskset -a -p -c "$dev_cpu" "$DEV_PID" >/dev/null 2>&1; then
		echo "bench-nvme: $mode: could not pin pciem-lua to CPU $dev_cpu" >&2
		errors=$((errors + 1))
	fi
	while [ "$n" -lt 600 ]; do
		c=$(pci_ctrl "$DEV_ADDR")
		if [ -n "$c" ] && d=$(ctrl_disk "$c"); then
			ctrl=$c disk=$d pciem=1
			[ -r "$counters" ] || echo "bench-nvme: $mode: no $counters (traps not counted)" >&2
			return 0
		fi
		n=$((n + 1))
		sleep 0.1
	done
	na "$mode" "the nvme driver made no disk for $DEV_ADDR"
	teardown_ours "$mode"
	return 1
}

teardown_ours() {
	[ "$dev_running" = 1 ] || return 0
	stop_dev "$DEV_PID" TERM
	dev_running=0
	wait_for dev_absent "$DEV_ADDR"
	if [ "$DEV_STATUS" != 0 ]; then
		echo "bench-nvme: pciem-lua exited $DEV_STATUS:" >&2
		tail -n 5 "$outdir/$1.dev.log" >&2
		errors=$((errors + 1))
	fi
	# the stop line: the device's own command and doorbell statistics
	# (with fptiming=on, the time per stage of the native path)
	grep '^nvme: [0-9]* commands' "$outdir/$1.dev.log" | tail -n 1 >"$outdir/$1.stop"
	[ -s "$outdir/$1.stop" ] && echo "STOP $1 $(cat "$outdir/$1.stop")" >>"$raw"
	sed "s/^/bench-nvme: $1: /" "$outdir/$1.stop" >&2
}

# QEMU's NVMe: a controller on the real PCI domain 0000 with our serial.
setup_qemu() {
	local a c d
	for a in $(ls /sys/bus/pci/devices | grep '^0000:'); do
		c=$(pci_ctrl "$a")
		[ -n "$c" ] || continue
		[ "$(cat "/sys/class/nvme/$c/serial" 2>/dev/null | tr -d ' ')" = QEMU1 ] || continue
		if d=$(ctrl_disk "$c"); then
			ctrl=$c disk=$d pciem=0
			return 0
		fi
	done
	na qemu "no QEMU NVMe with serial QEMU1 in this guest (make bench-nvme attaches one)"
	return 1
}

# null_blk through configfs, so its size can match the others (the module
# parameter only counts whole GiB). No memory backing: the block layer's floor.
setup_null() {
	local cfg=/sys/kernel/config/nullb
	if ! modprobe null_blk nr_devices=0 2>"$outdir/null.err"; then
		na null_blk "modprobe null_blk: $(cat "$outdir/null.err")"
		return 1
	fi
	[ -d "$cfg" ] || mount -t configfs none /sys/kernel/config 2>/dev/null
	if ! mkdir "$cfg/$nullb" 2>/dev/null; then
		na null_blk "no null_blk configfs ($cfg)"
		rmmod null_blk 2>/dev/null
		return 1
	fi
	echo "$size_mb" >"$cfg/$nullb/size"
	echo 512 >"$cfg/$nullb/blocksize"
	echo 2 >"$cfg/$nullb/submit_queues"
	echo 1 >"$cfg/$nullb/power"
	# 6.1 names the disk after the configfs item; older kernels nullbN.
	disk=$nullb
	[ -e "/sys/block/$disk" ] || disk=$(ls /sys/block | grep '^nullb' | head -n 1)
	ctrl= pciem=0
	if [ -z "$disk" ] || ! wait_for test -b "/dev/$disk"; then
		na null_blk "null_blk made no disk"
		teardown_null
		return 1
	fi
}

teardown_null() {
	local cfg=/sys/kernel/config/nullb
	[ -d "$cfg/$nullb" ] && { echo 0 >"$cfg/$nullb/power"; rmdir "$cfg/$nullb"; }
	rmmod null_blk 2>/dev/null
}

setup() {
	disk= ctrl= pciem=0
	case "$1" in
	fast) setup_ours fast fastpath=on ;;
	fast_nodbbuf) setup_ours fast_nodbbuf fastpath=on dbbuf=off ;;
	fast_timing) setup_ours fast_timing fastpath=on fptiming=on ;;
	lua) setup_ours lua fastpath=off ;;
	lua_nodbbuf) setup_ours lua_nodbbuf fastpath=off dbbuf=off ;;
	qemu) setup_qemu ;;
	null_blk) setup_null ;;
	*) na "$1" "unknown mode (known: $all_modes)"; return 1 ;;
	esac
}

teardown() {
	case "$1" in
	fast | fast_nodbbuf | fast_timing | lua | lua_nodbbuf) teardown_ours "$1" ;;
	null_blk) teardown_null ;;
	esac
}

# run_job MODE JOB [PAIR]: one fio job file; one "RUN" line with the counter
# deltas (PAIR: a QEMU run paired with that mode's run just before).
run_job() {
	local mode=$1 job=$2 pair=${3:-} out="$outdir/$1.$2.$round${3:+.$3}.json" ios0 ios1 irq0 irq1 p0 p1 st
	ios0=$(disk_ios) irq0=$(irq_count) p0=$(pciem_counts)
	BENCH_DEV=/dev/$disk BENCH_ENGINE=$engine BENCH_RUNTIME=$runtime \
		$fio_pin fio --output-format=json --output="$out" "$jobs_dir/$job.fio" >"$outdir/$mode.$job.err" 2>&1
	st=$?
	ios1=$(disk_ios) irq1=$(irq_count) p1=$(pciem_counts)
	if [ "$st" != 0 ]; then
		echo "bench-nvme: $mode $job: fio exited $st:" >&2
		cat "$outdir/$mode.$job.err" >&2
	fi
	set -- $p0 $p1
	echo "RUN $mode $job round=$round${pair:+ pair=$pair} fio=$out fio_status=$st ios=$((ios1 - ios0)) irqs=$((irq1 - irq0))" \
		"traps=$(($3 - $1)) pciem_irqs=$(($4 - $2)) pciem=$pciem" >>"$raw"
}

# kernel_trouble MODE: the driver timed out commands, reset the controller or
# lost a trapped access while MODE ran: its figures include those stalls, and
# the report says so beside them.
kernel_trouble() {
	local lines
	lines=$(dmesg | tail -n +$((klog_mark + 1)) |
		grep -E 'timeout|reset controller|event ring stayed full|I/O error' | sed 's/^\[[^]]*\] *//')
	[ -n "$lines" ] || return 0
	echo "bench-nvme: $1: kernel log:" >&2
	echo "$lines" | sed 's/^/    /' >&2
	echo "WARN $1 $(echo "$lines" | wc -l) kernel messages: $(echo "$lines" | head -n 1)" >>"$raw"
}

# BENCH_NVME_PIN=1 (default): fio on CPU 0, pciem-lua on the last CPU, as a
# device would be separate hardware. Unpinned, the guest scheduler sometimes
# puts both on one vCPU, and a wake-up then waits for the tick: the same run
# flips between ~0.1 ms and ~3.5 ms at QD1 (devices/nvme.md, "Performance").
pin=${BENCH_NVME_PIN:-1}
dev_cpu= fio_pin=
ncpu=$(grep -c '^processor' /proc/cpuinfo)
if [ "$pin" = 1 ] && [ "$ncpu" -ge 2 ]; then
	dev_cpu=$((ncpu - 1))
	fio_pin="taskset -c 0"
fi

modprobe nvme
# QEMU's controller (if attached) probes now; let it settle before timing.
wait_for sh -c '! ls /sys/bus/pci/devices/0000:*/nvme 2>/dev/null | grep -q . || ls /dev/nvme*n1'

engine=${BENCH_ENGINE:-}
if [ -z "$engine" ]; then
	# io_uring when this guest kernel and fio agree on it, else libaio.
	engine=libaio
	if fio --name=probe --filename=/tmp/probe.img --size=64k --rw=read --bs=4k \
		--ioengine=io_uring --output=/dev/null >/dev/null 2>&1; then
		engine=io_uring
	fi
	rm -f /tmp/probe.img
fi
echo "bench-nvme: engine $engine, $rounds rounds of $runtime s per job, ${size_mb} MiB disks, modes: $modes" >&2

prefill_disk() {
	# Every block written once, so reads move real data on every disk.
	fio --name=prefill --filename="/dev/$disk" --direct=1 --ioengine="$engine" \
		--rw=write --bs=1m --iodepth=8 >/dev/null 2>&1 ||
		echo "bench-nvme: $1: prefill failed" >&2
}

# BENCH_NVME_PAIR=1 (default, when QEMU's NVMe is there): each job of our
# device is followed at once by the same job on QEMU's NVMe, and vs QEMU is
# the median of those paired ratios, which the host's drifting load (other
# guests on the same cores) affects far less than runs minutes apart.
qemu_disk= qemu_ctrl=
if [ "${BENCH_NVME_PAIR:-1}" = 1 ] && echo " $modes " | grep -q " qemu " && setup_qemu 2>/dev/null; then
	qemu_disk=$disk qemu_ctrl=$ctrl
	[ "$prefill" = 1 ] && prefill_disk qemu
fi
# paired JOB: the QEMU run paired with the $mode run of JOB just done.
paired() {
	local d=$disk c=$ctrl p=$pciem
	case "$mode" in fast | fast_nodbbuf | lua | lua_nodbbuf) ;; *) return ;; esac
	[ -n "$qemu_disk" ] || return
	disk=$qemu_disk ctrl=$qemu_ctrl pciem=0
	run_job qemu "$1" "$mode"
	disk=$d ctrl=$c pciem=$p
}

# Rounds, the second in reverse order: the host's load drifts (TCG, shared
# cores), and each mode's median then mixes early and late samples.
reverse() {
	local w out=
	for w in $*; do out="$w $out"; done
	echo $out
}
round=1
order=$modes
while [ "$round" -le "$rounds" ]; do
for mode in $order; do
	# one round of fast_timing is enough for the budget
	[ "$mode" = fast_timing ] && [ "$round" -gt 1 ] && continue
	klog_mark=$(dmesg | wc -l)
	setup "$mode" || continue
	echo "bench-nvme: round $round: $mode: /dev/$disk${ctrl:+ ($ctrl)}" >&2
	echo "DISK $mode $disk $ctrl" >>"$raw"
	case "$prefill:$mode" in
	1:null_blk | 1:fast_timing | 0:*) ;;
	1:qemu) [ -n "$qemu_disk" ] || prefill_disk "$mode" ;;
	*) prefill_disk "$mode" ;;
	esac
	for job in $jobs; do
		if [ "$mode" = fast_timing ] && ! echo " $timing_jobs " | grep -q " $job "; then
			echo "SKIP $mode $job" >>"$raw"
			continue
		fi
		run_job "$mode" "$job"
		paired "$job"
	done
	teardown "$mode"
	kernel_trouble "$mode"
done
order=$(reverse $order)
round=$((round + 1))
done

cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')
BENCH_GUEST_KERNEL=$(uname -r) BENCH_GUEST_CPU=$cpu BENCH_GUEST_CPUS=$(grep -c '^processor' /proc/cpuinfo) \
BENCH_FIO=$(fio --version) BENCH_ENGINE=$engine BENCH_RUNTIME=$runtime BENCH_SIZE_MB=$size_mb \
BENCH_PINNED=$pin BENCH_SCALE=$scale BENCH_NVME_MODES=$modes BENCH_NVME_JOBS=$jobs BENCH_ROUNDS=$rounds \
	luajit "$bin/bench_nvme_report.lua" "$raw" "$json" >"$outdir/table" || errors=$((errors + 1))
echo "BENCH-NVME-TABLE-BEGIN"
cat "$outdir/table"
echo "BENCH-NVME-TABLE-END"
echo "BENCH-NVME-JSON-BEGIN"
cat "$json"
echo "BENCH-NVME-JSON-END"
[ "$errors" = 0 ]
