-- SPDX-License-Identifier: MIT
-- Fault plan: the first read of LBAs 4096..4103 is never completed; the driver
-- times out, aborts, resets the controller and retries (which then works).
--    pciem-lua --faults=examples/faults/lost-read.lua devices/nvme.lua
return { name = "lost-read", faults = {
   { name = "lost-read", match = { nvme = { opcode = "read", lba = { 4096, 4103 } }, times = 1 },
     action = "swallow" },
} }
