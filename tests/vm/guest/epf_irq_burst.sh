#!/bin/sh
# SPDX-License-Identifier: MIT
# Interrupts back to back, counted at the driver: devices/pci_epf_test.lua
# with burst=N raises the vector of each RAISE_MSI/MSIX_IRQ command N times in
# a row; pci_endpoint_test's handler must run exactly N times per command
# (its irq's count in /proc/interrupts), for every MSI vector and a spread of
# MSI-X vectors.
. /pciem/tests/lib.sh

burst=64
ko=/pciem/bin/pci_endpoint_test.ko
script=/pciem/devices/pci_epf_test.lua
node=/dev/pci-endpoint-test.0
for f in "$ko" /pciem/bin/pcitest "$script"; do
	if [ ! -e "$f" ]; then
		fail burst.files "$f is missing (make vm-epf builds the tools)"
		finish
	fi
done

grep -q '^pci_endpoint_test ' /proc/modules || check burst.insmod insmod "$ko"
start_dev /tmp/burst.log "$script" burst=$burst ||
	{ fail burst.start "pciem-lua did not report a device"; finish; }
a=$DEV_ADDR
pass burst.start

driver_bound() {
	bound_to "$a" pci-endpoint-test && [ -c "$node" ]
}
if ! wait_for driver_bound; then
	fail burst.bound "pci-endpoint-test did not bind $a"
	stop_dev "$DEV_PID" TERM
	finish
fi

# irq_count IRQ: its handled count over all CPUs, from /proc/interrupts.
irq_count() {
	awk -v irq="$1:" '
		NR == 1 { ncpu = NF; next }
		$1 == irq { s = 0; for (i = 2; i <= ncpu + 1; i++) s += $i; print s; exit }
	' /proc/interrupts
}

# vector_irq N: Linux irq of the device's vector N (1-based), msi_irqs in order.
vector_irq() {
	ls "/sys/bus/pci/devices/$a/msi_irqs" 2>/dev/null | sort -n | sed -n "${1}p"
}

# burst_case NAME FLAG N: one pcitest raise of vector N, checked at the driver.
# pcitest returns at the first interrupt; the rest of the burst may still be
# on its way, so wait (bounded) until the count has grown by N. Exactness is
# checked again by settle_check once later commands have gone through.
expect=""
burst_case() {
	local irq before out
	irq=$(vector_irq "$3")
	if [ -z "$irq" ]; then
		fail "$1" "vector $3 has no irq in msi_irqs"
		return
	fi
	before=$(irq_count "$irq")
	out=$(pcitest "$2" "$3" 2>&1)
	case "$out" in
	*NOT\ OKAY* | *FAILED*) fail "$1" "pcitest $2 $3: $out" ; return ;;
	esac
	reached() { [ "$(irq_count "$irq")" -ge $((before + burst)) ]; }
	wait_for reached
	check_eq "$1" "$(($(irq_count "$irq") - before))" "$burst"
	# One expectation per irq: the newest.
	expect="$(for e in $expect; do case "$e" in *:"$irq":*) ;; *) printf '%s ' "$e" ;; esac; done)$1:$irq:$((before + burst))"
}

# settle_check: every vector of the phase still has exactly its count (the
# device handles commands in order and interrupts are delivered in order, so
# by now no raise of an earlier burst is in flight).
settle_check() {
	local e name irq want
	for e in $expect; do
		name=${e%%:*}
		want=${e##*:}
		irq=${e#*:}
		irq=${irq%%:*}
		check_eq "$name.settled" "$(irq_count "$irq")" "$want"
	done
	expect=""
}

out=$(pcitest -i 1 2>&1)
case "$out" in
*NOT* | *FAILED*) fail burst.set_msi "$out" ;;
*) pass burst.set_msi ;;
esac
v=1
while [ $v -le 32 ]; do
	burst_case "burst.msi$v" -m $v
	v=$((v + 1))
done
burst_case burst.msi1_again -m 1
settle_check

out=$(pcitest -i 2 2>&1)
case "$out" in
*NOT* | *FAILED*) fail burst.set_msix "$out" ;;
*) pass burst.set_msix ;;
esac
for v in 1 2 3 64 65 1024 2047 2048; do
	burst_case "burst.msix$v" -x $v
done
burst_case burst.msix1_again -x 1
settle_check

stop_dev "$DEV_PID" TERM
check_eq burst.sigterm_exit_status "$DEV_STATUS" 0
check burst.rmmod rmmod pci_endpoint_test
finish
