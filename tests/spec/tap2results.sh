#!/bin/sh
# SPDX-License-Identifier: MIT
# Turn busted's TAP output into the project's result lines.
#   tests/spec/tap2results.sh TAP_FILE
# Appends "PASS spec/<test>" / "FAIL spec/<test>" to $PCIEM_RESULTS when set,
# prints them, shows the details of failures, exits 1 if any failed or none ran.
set -u
tap=$1
results=${PCIEM_RESULTS:-/dev/null}
awk -v results="$results" '
	/^ok [0-9]+ - / { name = $0; sub(/^ok [0-9]+ - /, "", name)
		line = "PASS spec/" name; print line; print line >> results; pass++; next }
	/^not ok [0-9]+ - / { name = $0; sub(/^not ok [0-9]+ - /, "", name)
		line = "FAIL spec/" name; print line; print line >> results; fail++; infail = 1; next }
	/^#/ && infail { print "    " $0; next }
	{ infail = 0 }
	END {
		if (pass + fail == 0) { print "FAIL spec/(no test ran)"; print "FAIL spec/(no test ran)" >> results; exit 1 }
		printf "spec: %d passed, %d failed\n", pass, fail
		exit fail > 0
	}' "$tap"
