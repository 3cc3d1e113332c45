#!/bin/sh
# SPDX-License-Identifier: MIT
# make bench-nvme in a tiny configuration (tests/bench/nvme_guest.sh, 1 s per
# fio job): every job runs on the all-Lua device and null_blk, the fast path
# runs or is reported n/a with a reason, and the JSON is complete. No timing.
. /pciem/tests/lib.sh

bin=/pciem/bin
if [ ! -f "$bin/bench_nvme_guest.sh" ] || [ ! -d "$bin/bench_fio" ]; then
	echo "bench_nvme_smoke: the bench is not built (make bench-build)"
	exit 77
fi

BENCH_SCALE=smoke BENCH_NVME_MODES="fast lua qemu null_blk" \
	BENCH_JSON=/tmp/bench-nvme-smoke.json BENCH_RAW=/tmp/bench-nvme-smoke.raw \
	BENCH_OUT=/tmp/bench-nvme-smoke sh "$bin/bench_nvme_guest.sh" >/tmp/bench-nvme-smoke.out 2>&1
status=$?
# the log and the table; the JSON is checked below
sed '/^BENCH-NVME-JSON-BEGIN$/,$d; s/^/    /' /tmp/bench-nvme-smoke.out
check_eq guest_script "$status" 0
check report luajit "$bin/bench_nvme_report.lua" --check /tmp/bench-nvme-smoke.json lua,null_blk
check_grep table_lua /tmp/bench-nvme-smoke.out '^randread_4k_qd32 +lua +[0-9]+ '
check_grep table_targets /tmp/bench-nvme-smoke.out '^targets'
# no QEMU NVMe in this guest: its mode is n/a, with the reason
check_grep qemu_na /tmp/bench-nvme-smoke.out '^n/a qemu: no QEMU NVMe'
check device_gone sh -c '! pgrep -x pciem-lua'
check null_blk_gone sh -c '! grep -q "^null_blk " /proc/modules'
finish
