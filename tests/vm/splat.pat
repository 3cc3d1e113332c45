# SPDX-License-Identifier: MIT
# Kernel log lines that fail a guest run (grep -E, one per line; "#" lines are comments).
WARNING:
BUG:
Oops
possible circular locking
inconsistent lock state
possible recursive locking
lockdep
hung task
blocked for more than
KASAN
general protection fault
Kernel panic
