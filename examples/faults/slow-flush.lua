-- SPDX-License-Identifier: MIT
-- Fault plan: every 10th flush completes 6 s late (past a 4 s io_timeout):
-- the driver aborts it, or resets the controller first; other commands go on.
--    pciem-lua --faults=examples/faults/slow-flush.lua devices/nvme.lua
return { name = "slow-flush", faults = {
   { name = "slow-flush", match = { nvme = { opcode = "flush" }, every = 10 }, action = { delay = 6000 } },
} }
