#!/bin/sh
# SPDX-License-Identifier: MIT
# Boot the pciem QEMU guest once, stream its console, and judge the run: the
# exit status of the guest script, kernel splats, insmod failure, timeout.
#   tests/vm/run.sh KERNEL INITRD CONSOLE_LOG
# Environment: VM_MEM (2G), VM_SMP (2), VM_TIMEOUT (600 s), VM_QEMU_ARGS,
# VM_APPEND (extra kernel command line), VM_SHOW (when set, show only console
# lines starting with this prefix, prefix removed; the log keeps everything).
# Exit status: the guest script's, or 1 on a splat, timeout or missing marker.
set -u

kernel=$1
initrd=$2
log=$3
here=$(cd "$(dirname "$0")" && pwd)
mem=${VM_MEM:-2G}
smp=${VM_SMP:-2}
deadline=${VM_TIMEOUT:-600}
show=${VM_SHOW:-}

rcfile="$log.qemu-rc"
rm -f "$rcfile"
mkdir -p "$(dirname "$log")"

# quiet: only warnings reach the console; printk.devkmsg=on: the test runner's
# markers written to /dev/kmsg are never rate-limited away; panic=-1: a panic
# reboots at once, which -no-reboot turns into QEMU exiting.
# log_buf_len: a whole tier's kernel log stays readable for the per-test splat scan
append="console=ttyS0 quiet printk.devkmsg=on log_buf_len=16M panic=-1 rdinit=/init ${VM_APPEND:-}"

start=$(date +%s)
# shellcheck disable=SC2086
{
	timeout -k 10 "$deadline" qemu-system-x86_64 \
		-machine q35 -cpu max -smp "$smp" -m "$mem" \
		-nographic -no-reboot -vga none -nic none \
		-kernel "$kernel" -initrd "$initrd" -append "$append" \
		${VM_QEMU_ARGS:-} </dev/null 2>&1
	echo $? >"$rcfile"
} | sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' | tee "$log" | if [ -n "$show" ]; then
	# Print the wanted lines as they come; -u keeps the stream live.
	sed -u -n "s/^$show//p"
else
	cat
fi
end=$(date +%s)
qemu_rc=$(cat "$rcfile" 2>/dev/null || echo 255)

fail=0
say() { echo "vm-run: $*"; }

if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	say "FAIL: the guest did not finish within VM_TIMEOUT=${deadline}s; QEMU was killed"
	fail=1
elif [ "$qemu_rc" != 0 ]; then
	say "FAIL: QEMU exited with status $qemu_rc (see $log)"
	fail=1
fi

# The kernel log dumped by /init; without it (a crash), scan the whole console.
dmesg_file="$log.dmesg"
if grep -q '^@@PCIEM-DMESG-END@@' "$log"; then
	sed -n '/^@@PCIEM-DMESG-BEGIN@@/,/^@@PCIEM-DMESG-END@@/p' "$log" >"$dmesg_file"
else
	cp "$log" "$dmesg_file"
fi
splats=$(grep -v '^#' "$here/splat.pat" | grep -E -f - "$dmesg_file" || true)
if [ -n "$splats" ]; then
	say "FAIL: the kernel log shows a warning, bug or lockup:"
	echo "$splats" | head -n 40 | sed 's/^/    /'
	fail=1
fi

insmod=$(sed -n 's/^@@PCIEM-INSMOD \(.*\)@@$/\1/p' "$log" | tail -n 1)
case "$insmod" in
ok) ;;
"") ;;
*)
	say "FAIL: loading pciem.ko in the guest failed ($insmod)"
	fail=1
	;;
esac

status=$(sed -n 's/^@@PCIEM-EXIT \([0-9]*\)@@$/\1/p' "$log" | tail -n 1)
if [ -z "$status" ]; then
	say "FAIL: the guest never reported an exit status (crash or hang; see $log)"
	fail=1
	status=1
fi

say "guest ran $((end - start))s, script exit status $status, console log: $log"
if [ "$fail" != 0 ] && [ "$status" = 0 ]; then
	status=1
fi
exit "$status"
