#!/bin/sh
# SPDX-License-Identifier: MIT
# Trapped BAR accesses from a kernel driver (pciem_testdrv) against a device
# run by mmio_host: every width and string op on posted, sync and memory
# ranges, the events they produce, sync handlers (counter, clear-on-read,
# FIFO, computed bytes), ioremap variants and partial mappings, a sync read
# past its deadline, an undecodable instruction, counters, refusal of user
# mmap, and killing the host while the driver waits on a sync register.
. /pciem/tests/lib.sh

EV=/tmp/mmio.events
insmod /pciem/bin/pciem_testdrv.ko || { fail mmio.testdrv_loads "insmod failed"; finish; }

# host NAME [OPTIONS]: start mmio_host; sets HOST_PID and ADDR.
host() {
	local name=$1 n=0
	shift
	: >/tmp/host.out
	mmio_host "$name" "$EV" "$@" >/tmp/host.out 2>/tmp/host.err &
	HOST_PID=$!
	ADDR=""
	while [ -z "$ADDR" ] && kill -0 "$HOST_PID" 2>/dev/null && [ "$n" -lt 600 ]; do
		sleep 0.1
		ADDR=$(grep -Eo '^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]' /tmp/host.out | head -n 1)
		n=$((n + 1))
	done
	[ -n "$ADDR" ]
}

bind() {
	echo pciem_testdrv >"/sys/bus/pci/devices/$1/driver_override" &&
		echo "$1" >/sys/bus/pci/drivers/pciem_testdrv/bind
}

# io CMD...: one testdrv request (numbers in hex); prints its result.
io() {
	echo "$*" >"$D/io" 2>/dev/null
	cat "$D/io"
}

# events_at BAR OFF: the event lines (without seq) at BAR/OFF (hex, no 0x).
events_at() {
	awk -v b="$1" -v o="$2" '$3 == b && $4 == o { $1 = ""; sub(/^ /, ""); print }' "$EV"
}

counter() {
	sed -n "s/^$1 //p" /sys/kernel/debug/pciem/mmio/counters
}

# settle: wait until mmio_host has logged every event the module published so
# far (seq numbers count events; a bound, not a timing claim).
logged_all() {
	local last
	last=$(grep -E '^[0-9a-f]+ ' "$EV" | tail -n 1 | cut -d' ' -f1)
	[ -n "$last" ] && [ "$((0x$last))" -ge "$(counter events)" ]
}
settle() {
	wait_for logged_all || echo "settle: the host's log stayed behind the module's events"
}

host mmio || { fail mmio.host_starts "$(cat /tmp/host.err)"; finish; }
pass mmio.host_starts
# User mmap of a BAR is refused (our hook: EPERM, before any driver is bound).
check_eq mmio.user_mmap_refused "$(mmio_host mmap-test /sys/bus/pci/devices/$ADDR/resource0)" "refused errno 1"
check_eq mmio.user_mmap_bar2_refused "$(mmio_host mmap-test /sys/bus/pci/devices/$ADDR/resource2)" "refused errno 1"
check mmio.bind bind "$ADDR"
mmio_host mmap-test "/sys/bus/pci/devices/$ADDR/resource0" >/tmp/mmap.bound
D=/sys/kernel/debug/pciem_testdrv/$ADDR
check mmio.debugfs_present test -e "$D/io"
dmesg | grep -q "mmio: BAR accesses are trapped; user mmap" &&
	pass mmio.register_logs_user_mmap_refused ||
	fail mmio.register_logs_user_mmap_refused "no line in dmesg"

# -- posted range: writes become events in order, reads come from the shadow
check_eq mmio.posted.writeb "$(io wB 0 0x100 0xab)" ok
check_eq mmio.posted.writew "$(io wW 0 0x102 0xbeef)" ok
check_eq mmio.posted.writel "$(io wL 0 0x104 0x12345678)" ok
check_eq mmio.posted.writeq "$(io wQ 0 0x108 0x1122334455667788)" ok
check_eq mmio.posted.readb "$(io rB 0 0x100)" 0xab
check_eq mmio.posted.readw "$(io rW 0 0x102)" 0xbeef
check_eq mmio.posted.readl "$(io rL 0 0x104)" 0x12345678
check_eq mmio.posted.readq "$(io rQ 0 0x108)" 0x1122334455667788
check_eq mmio.posted.readl_straddle "$(io rL 0 0x102)" 0x5678beef
settle
check_eq mmio.event.writeb "$(events_at 0 100)" "1 0 100 1 ab 0"
check_eq mmio.event.writew "$(events_at 0 102)" "1 0 102 2 beef 0"
check_eq mmio.event.writel "$(events_at 0 104)" "1 0 104 4 12345678 0"
check_eq mmio.event.writeq "$(events_at 0 108)" "1 0 108 8 1122334455667788 0"
# The four writes are consecutive events.
s1=$(awk '$3 == 0 && $4 == "100" { print $1 }' "$EV")
s4=$(awk '$3 == 0 && $4 == "108" { print $1 }' "$EV")
check_eq mmio.event.consecutive_seq "$((0x$s4 - 0x$s1))" 3
check_eq mmio.event.no_read_events_for_posted "$(awk '$2 == 2 && $4 ~ /^10[0-9a-f]$/' "$EV")" ""

# -- memory range: no events at all
check_eq mmio.memory.write "$(io wL 0 0x2000 0xcafef00d)" ok
check_eq mmio.memory.read "$(io rL 0 0x2000)" 0xcafef00d
check_eq mmio.memory.readq "$(io rQ 0 0x2000)" 0xcafef00d
settle
check_eq mmio.memory.no_event "$(events_at 0 2000)" ""

# -- sync range: the host's handlers compute every read
check_eq mmio.sync.counter "$(io rL 0 0x1000 3)" "0x1 0x2 0x3"
check_eq mmio.sync.counter_b "$(io rB 0 0x1000)" 0x4
check_eq mmio.sync.counter_q "$(io rQ 0 0x1000)" 0x5
check_eq mmio.sync.write_ack "$(io wL 0 0x1004 0x77)" ok
check_eq mmio.sync.clear_on_read "$(io rL 0 0x1004 2)" "0x77 0x0"
io wL 0 0x1008 0x1 >/dev/null
io wL 0 0x1008 0x2 >/dev/null
io wL 0 0x1008 0x3 >/dev/null
check_eq mmio.sync.fifo "$(io rL 0 0x1008 4)" "0x1 0x2 0x3 0xdeadbeef"
check_eq mmio.sync.computed_w "$(io rW 0 0x1010)" 0x4b4a
check_eq mmio.sync.computed_q "$(io rQ 0 0x1018)" 0x4544474641404342
# Bytes (a & 0xff) ^ 0x5a for a in 0x1020..0x102f / 0x1031..0x103d.
want=""
for a in $(seq $((0x1020)) $((0x102f))); do want="$want$(printf %02x $(((a & 255) ^ 0x5a)))"; done
check_eq mmio.sync.memcpy_fromio "$(io fromio 0 0x1020 0x10)" "$want"
want=""
for a in $(seq $((0x1031)) $((0x103d))); do want="$want$(printf %02x $(((a & 255) ^ 0x5a)))"; done
check_eq mmio.sync.memcpy_fromio_odd "$(io fromio 0 0x1031 0xd)" "$want"
settle
check_eq mmio.sync.read_event "$(events_at 0 1010 | cut -d' ' -f1-4)" "2 0 1010 2"
check_eq mmio.sync.write_event_flag "$(events_at 0 1004 | grep '^1 ' | cut -d' ' -f1-5)" "1 0 1004 4 77"
check_grep mmio.sync.write_event_is_sync "$EV" '^[0-9a-f]+ 1 0 1004 4 77 1$'

# -- string ops on the posted range: shadow and events carry every byte
# bytes_from_events LO HI: rebuild bytes [LO, HI) of BAR 0 from write events.
bytes_from_events() {
	awk -v lo="$1" -v hi="$2" '$2 == 1 && $3 == 0 { print $4, $5, $6 }' "$EV" |
	while read -r off w v; do
		o=$((0x$off)); i=0
		while [ "$i" -lt "$w" ]; do
			if [ $((o + i)) -ge "$1" ] && [ $((o + i)) -lt "$2" ]; then
				echo "$((o + i)) $(printf %02x $(((0x$v >> (8 * i)) & 255)))"
			fi
			i=$((i + 1))
		done
	done | sort -n -s -k1,1 | awk '{ b[$1] = $2 } END { for (k in b) print k, b[k] }' |
	sort -n | awk '{ printf "%s", $2 } END { print "" }'
}
check_eq mmio.string.memcpy_toio "$(io toio 0 0x200 0x40 0x10)" ok
want=""
for i in $(seq 0 63); do want="$want$(printf %02x $(((0x10 + i) & 255)))"; done
check_eq mmio.string.toio_shadow "$(io fromio 0 0x200 0x40)" "$want"
settle
check_eq mmio.string.toio_events "$(bytes_from_events $((0x200)) $((0x240)))" "$want"
check_eq mmio.string.memset_io "$(io memset 0 0x301 0x1d 0x5c)" ok
want=""
for i in $(seq 1 29); do want="${want}5c"; done
check_eq mmio.string.memset_shadow "$(io fromio 0 0x301 0x1d)" "$want"
settle
check_eq mmio.string.memset_events "$(bytes_from_events $((0x301)) $((0x31e)))" "$want"

# -- ioremap variants and partial mappings
for v in ioremap ioremap_wc ioremap_uc ioremap_cache devm; do
	echo "0 $v 0x1000 0x1000" >"$D/map"
	a=$(io rL 0 0x1000)
	b=$(io rL 0 0x1000)
	check_eq "mmio.map.$v.partial_sync" "$((b - a))" 1
done
echo "0 ioremap_wc 0x3000 0x1000" >"$D/map"
check_eq mmio.map.partial_outside_refused "$(io rL 0 0x1000)" "error -22"
io wL 0 0x3ffc 0x600d >/dev/null
check_eq mmio.map.partial_memory "$(io rL 0 0x3ffc)" 0x600d
echo "2 ioremap 0x8000 0x2000" >"$D/map"
check_eq mmio.map.bar2_partial_write "$(io wQ 2 0x9ff8 0xa1b2c3d4e5f60718)" ok
settle
check_eq mmio.map.bar2_event "$(events_at 2 9ff8)" "1 2 9ff8 8 a1b2c3d4e5f60718 0"
echo "0 pci_iomap" >"$D/map"
echo "2 pci_iomap" >"$D/map"

# -- a sync read nobody answers: all-ones, counted, and the device goes on
t0=$(counter sync_timeouts)
check_eq mmio.timeout.reads_ones "$(io rL 0 0x1ffc)" 0xffffffff
check_eq mmio.timeout.counted "$(counter sync_timeouts)" "$((t0 + 1))"
a=$(io rL 0 0x1000)
b=$(io rL 0 0x1000)
check_eq mmio.timeout.device_keeps_working "$((b - a))" 1
# The host was created with sync_timeout_us 0: the module parameter's deadline.
want_us=$(cat /sys/module/pciem/parameters/sync_timeout_default_us)
dmesg | grep -q "mmio: sync read of bar 0 offset 0x1ffc got no answer within $want_us us" &&
	pass mmio.timeout.logged_once || fail mmio.timeout.logged_once "no log line for a $want_us us deadline"

# -- undecodable instructions: all-ones / dropped, counted, no oops
u0=$(counter undecodable)
check_eq mmio.undecodable.add_reg_mem "$(io addr 0 0x2000)" 0x0
# The page stays on the all-ones scratch page for a moment (uncounted), then
# is re-armed: trapped again, a read gives the shadow's value.
rearmed() {
	[ "$(io rL 0 0x2000)" = 0xcafef00d ]
}
check mmio.undecodable.rearmed_after_first wait_for rearmed
check_eq mmio.undecodable.add_mem_imm "$(io addm 0 0x2004)" ok
check mmio.undecodable.counted test "$(counter undecodable)" -ge "$((u0 + 2))"
check mmio.undecodable.page_rearmed wait_for rearmed
check_eq mmio.undecodable.write_dropped "$(io rL 0 0x2004)" 0x0

# -- counters
for c in trap_reads trap_writes memory_accesses events sync_roundtrips; do
	check "mmio.counters.$c" test "$(counter $c)" -gt 0
done
check_eq mmio.counters.no_ring_full_waits "$(counter ring_full_waits)" 0

# -- decode like a bus: Memory Space Enable off, or the BAR moved away from
#    the driver's mapping: nothing answers (all-ones), counted as unclaimed
un0=$(cat /sys/kernel/debug/pciem/unclaimed)
cmd=$(setpci -s "$ADDR" COMMAND)
setpci -s "$ADDR" COMMAND="$(printf %04x $((0x$cmd & ~2)))"
check_eq mmio.mse_off.reads_ones "$(io rL 0 0x2000)" 0xffffffff
io wL 0 0x2000 0x1 >/dev/null
check mmio.mse_off.counted test "$(cat /sys/kernel/debug/pciem/unclaimed)" -ge "$((un0 + 2))"
setpci -s "$ADDR" COMMAND="$cmd"
check_eq mmio.mse_on.write_was_dropped "$(io rL 0 0x2000)" 0xcafef00d
bar0=$(setpci -s "$ADDR" BASE_ADDRESS_0)
setpci -s "$ADDR" BASE_ADDRESS_0="$(printf %08x $((0x$bar0 + 0x100000)))"
check_eq mmio.bar_moved.old_address_ones "$(io rL 0 0x2000)" 0xffffffff
setpci -s "$ADDR" BASE_ADDRESS_0="$bar0"
check_eq mmio.bar_back.reads_shadow "$(io rL 0 0x2000)" 0xcafef00d

# -- SET_POLICY / SET_SYNC_TIMEOUT / SET_EVENTFD validation
mmio_host policy-check >/tmp/policy.out 2>&1
grep -E '^(PASS|FAIL) ' /tmp/policy.out
check_eq mmio.policy_check.all_ran "$(grep -c '^PASS policy' /tmp/policy.out)" 25

# -- user mmap of a BAR through sysfs stays refused with the driver bound
check_grep mmio.user_mmap_refused_bound /tmp/mmap.bound '^refused errno'

# -- sysfs remove and rescan: the new pci_dev's mappings are trapped as well
echo 1 >"/sys/bus/pci/devices/$ADDR/remove"
check mmio.rescan.removed wait_for dev_absent "$ADDR"
echo 1 >/sys/bus/pci/rescan
check mmio.rescan.back wait_for dev_present "$ADDR"
check mmio.rescan.bind bind "$ADDR"
check_eq mmio.rescan.memory_kept "$(io rL 0 0x2000)" 0xcafef00d
a1=$(io rL 0 0x1000)
a2=$(io rL 0 0x1000)
check_eq mmio.rescan.sync_works "$((a2 - a1))" 1

# -- a second device with the same name works, without debugfs files of its own
mmio_host mmio /tmp/mmio2.events >/tmp/host2.out 2>&1 &
pid2=$!
check mmio.same_name.starts wait_for grep -Eq '^[0-9a-f]{4,8}:' /tmp/host2.out
check mmio.same_name.first_counters_stay test -r /sys/kernel/debug/pciem/mmio/counters
dmesg | grep -q "another device has this name" && pass mmio.same_name.logged ||
	fail mmio.same_name.logged "no log line"
kill "$pid2"
wait "$pid2"
check_eq mmio.same_name.sigterm_status "$?" 0

# -- SIGKILL of the host while the driver waits on a sync register
stop_dev "$HOST_PID" TERM
check_eq mmio.host_sigterm_status "$DEV_STATUS" 0
check mmio.host_sigterm_gone wait_for dev_absent "$ADDR"

host mmio -t 8000000 || { fail mmio.host2_starts "$(cat /tmp/host.err)"; finish; }
check mmio.bind2 bind "$ADDR"
D=/sys/kernel/debug/pciem_testdrv/$ADDR
timeouts_logged=$(dmesg | grep -c "mmio: sync read of bar 0 offset 0x1ffc got no answer")
ev0=$(counter events)
read_published() {
	[ "$(counter events)" -gt "$ev0" ]
}
(io rL 0 0x1ffc >/tmp/kill.result) &
reader=$!
# Kill the host once the driver's read is out and waiting for it.
wait_for read_published
kill -9 "$HOST_PID"
wait "$reader"
# The read ended because the host went, not at its 8 s deadline: a deadline
# would have logged "got no answer" for this new device.
check_eq mmio.kill.ended_by_host_exit \
	"$(dmesg | grep -c "mmio: sync read of bar 0 offset 0x1ffc got no answer")" "$timeouts_logged"
check mmio.kill.device_gone wait_for dev_absent "$ADDR"
# The driver logs its last result as it is removed with the device.
dmesg | grep -q "$ADDR: pciem_testdrv removed; last io result: 0xffffffff" &&
	pass mmio.kill.read_ones || fail mmio.kill.read_ones "no all-ones result logged at removal"
wait "$HOST_PID" 2>/dev/null

# -- lossless: a burst larger than a 64-entry ring arrives whole and in order
host mmio -r 0x40 || { fail mmio.host3_starts "$(cat /tmp/host.err)"; finish; }
check mmio.bind3 bind "$ADDR"
D=/sys/kernel/debug/pciem_testdrv/$ADDR
check_eq mmio.burst.toio "$(io toio 0 0x400 0x100 0x33)" ok
want=""
for i in $(seq 0 255); do want="$want$(printf %02x $(((0x33 + i) & 255)))"; done
settle
check_eq mmio.burst.every_byte "$(bytes_from_events $((0x400)) $((0x500)))" "$want"
check_eq mmio.burst.no_seq_gap "$(grep -c BADSEQ "$EV")" 0
stop_dev "$HOST_PID" TERM
check mmio.burst.gone wait_for dev_absent "$ADDR"

# -- a host that takes no events: the ring fills, producers wait, then fail
# (-t: each failed write waits a whole deadline; keep them short.)
host mmio -r 0x40 -S -t 100000 || { fail mmio.host4_starts "$(cat /tmp/host.err)"; finish; }
check mmio.bind4 bind "$ADDR"
D=/sys/kernel/debug/pciem_testdrv/$ADDR
i=0
while [ "$i" -lt 80 ]; do io wL 0 0x10 "$i" >/dev/null; i=$((i + 1)); done
check mmio.full.waits_counted test "$(counter ring_full_waits)" -gt 0
check mmio.full.failures_counted test "$(counter sync_timeouts)" -gt 0
check_eq mmio.full.memory_still_answers "$(io rL 0 0x2000)" 0x0
stop_dev "$HOST_PID" TERM
check mmio.full.gone wait_for dev_absent "$ADDR"

# -- bad ring size and sync timeout are refused at CREATE
check_eq mmio.create.bad_ring "$(mmio_host bad /tmp/bad.ev -r 100 >/dev/null 2>&1; echo $?)" 1
dmesg | grep -q "ring_entries 100 is not a power of two" && pass mmio.create.bad_ring_logs ||
	fail mmio.create.bad_ring_logs "no log line"
check_eq mmio.create.bad_timeout "$(mmio_host bad /tmp/bad.ev -t 10000001 >/dev/null 2>&1; echo $?)" 1

rmmod pciem_testdrv
finish
