-- SPDX-License-Identifier: MIT
-- Fault plan: reads of LBAs 2048..2055 of namespace 1 fail with Unrecovered
-- Read Error (no retries); everything else reads fine.
--    pciem-lua --faults=examples/faults/bad-sectors.lua devices/nvme.lua
return { name = "bad-sectors", faults = {
   { name = "eio", match = { nvme = { opcode = "read", nsid = 1, lba = { 2048, 2055 } } },
     action = { status = "unrecovered_read_error", dnr = true } },
} }
