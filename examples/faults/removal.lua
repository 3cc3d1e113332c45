-- SPDX-License-Identifier: MIT
-- Fault plan: surprise removal at the 300th write: every register reads
-- all-ones at once, 200 ms later pciem-lua exits and the device leaves the bus.
--    pciem-lua --faults=examples/faults/removal.lua devices/nvme.lua
return { name = "removal", faults = {
   { name = "yank", match = { nvme = { opcode = "write" }, nth = 300 },
     action = { remove = { after_ms = 200 } } },
} }
