#!/bin/sh
# SPDX-License-Identifier: MIT
# Count the results every tier recorded and print the closing line.
#   tests/summary.sh RESULTS_DIR
set -u
dir=$1
cat "$dir"/*.log 2>/dev/null >"$dir/all.txt" || true
pass=$(grep -c '^PASS ' "$dir/all.txt")
fail=$(grep -c '^FAIL ' "$dir/all.txt")
skip=$(grep -c '^SKIP ' "$dir/all.txt")
echo
for t in "$dir"/*.log; do
	[ -e "$t" ] || continue
	printf '  %-8s %3d passed, %3d failed\n' "$(basename "$t" .log)" \
		"$(grep -c '^PASS ' "$t")" "$(grep -c '^FAIL ' "$t")"
done
grep '^FAIL ' "$dir/all.txt" | sed 's/^/  /'
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
