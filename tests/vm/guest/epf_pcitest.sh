#!/bin/sh
# SPDX-License-Identifier: MIT
# The proof: Linux's own pci_endpoint_test driver and pcitest.sh (built from
# Debian's linux-source, see tests/vm/epf/) against devices/pci_epf_test.lua.
# Every pcitest case is one PASS/FAIL line; then read/write/copy again with -d.
. /pciem/tests/lib.sh

ko=/pciem/bin/pci_endpoint_test.ko
script=/pciem/devices/pci_epf_test.lua
node=/dev/pci-endpoint-test.0
for f in "$ko" /pciem/bin/pcitest /pciem/bin/pcitest.sh "$script"; do
	if [ ! -e "$f" ]; then
		fail epf.files "$f is missing (make vm-epf builds the tools)"
		finish
	fi
done

check epf.insmod insmod "$ko"
start_dev /tmp/epf.log "$script" || { fail epf.start "pciem-lua did not report a device"; finish; }
a=$DEV_ADDR
pass epf.start

driver_bound() {
	bound_to "$a" pci-endpoint-test && [ -c "$node" ]
}
if ! wait_for driver_bound; then
	fail epf.bound "pci-endpoint-test did not bind $a"
	cat /tmp/epf.log
	dmesg | tail -n 30
	stop_dev "$DEV_PID" TERM
	finish
fi
pass epf.bound

# report FILE PREFIX: one PASS/FAIL line per pcitest result line
# ("NAME:<tabs>OKAY"). Names: lower case, words joined by '_', repeats of the
# same case numbered (.2, .3); e.g. bar0, set_irq_type_to_msi, msi-x2048,
# read_1024001.
report() {
	awk -v prefix="$2" -F '\t+' '
		/:\t/ {
			name = tolower($1)
			sub(/:$/, "", name)
			gsub(/[()]/, "", name)
			sub(/ bytes$/, "", name)
			gsub(/ +/, "_", name)
			seen[name]++
			if (seen[name] > 1)
				name = name "." seen[name]
			res = $NF
			if (res == "OKAY")
				print "PASS " prefix name
			else
				print "FAIL " prefix name ": " res
			n++
		}
		END { print "CASES " n + 0 }
	' "$1"
}

# pcitest.sh as shipped with the kernel source, untouched.
(cd /tmp && sh /pciem/bin/pcitest.sh) >/tmp/pcitest.out 2>&1
report /tmp/pcitest.out pcitest. >/tmp/pcitest.res
grep -v '^CASES ' /tmp/pcitest.res
# 6 BARs, legacy (set + raise), MSI (set + 32), MSI-X (set + 2048), set MSI, 15 transfers.
check_eq epf.pcitest_cases "$(sed -n 's/^CASES //p' /tmp/pcitest.res)" 2106
if grep -q '^FAIL ' /tmp/pcitest.res; then
	failures=$((failures + 1))
	echo "pcitest.sh output (not OKAY lines):"
	grep -v 'OKAY$' /tmp/pcitest.out | grep -v '^$'
fi

# The transfers again with the DMA flag.
: >/tmp/pcitest-dma.out
for op in r w c; do
	for size in 1 1024 1025 1024000 1024001; do
		pcitest -$op -d -s $size >>/tmp/pcitest-dma.out 2>&1
	done
done
report /tmp/pcitest-dma.out pcitest_dma. >/tmp/pcitest-dma.res
grep -v '^CASES ' /tmp/pcitest-dma.res
check_eq epf.pcitest_dma_cases "$(sed -n 's/^CASES //p' /tmp/pcitest-dma.res)" 15
grep -q '^FAIL ' /tmp/pcitest-dma.res && failures=$((failures + 1))

stop_dev "$DEV_PID" TERM
check_eq epf.sigterm_exit_status "$DEV_STATUS" 0
check epf.gone dev_absent "$a"
check epf.rmmod rmmod pci_endpoint_test
finish
