-- SPDX-License-Identifier: MIT
-- Fault plan: the 3rd write sets Controller Fatal Status (CSTS.CFS) and is
-- not completed; the driver resets the controller and retries it.
--    pciem-lua --faults=examples/faults/cfs.lua devices/nvme.lua
return { name = "cfs", faults = {
   { name = "cfs", match = { nvme = { opcode = "write" }, nth = 3 }, action = "fatal" },
} }
