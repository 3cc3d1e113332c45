-- SPDX-License-Identifier: MIT
-- Fault plan: about 1 in 20 reads of NVMe CSTS (BAR0 0x1c) return all-ones,
-- the same ones on every run (seed); a flipped byte in 1 of 50 data reads.
--    pciem-lua --faults=examples/faults/flaky-csts.lua devices/nvme.lua
return { name = "flaky", seed = 7, faults = {
   { name = "csts-ones", match = { mmio = { bar = 0, offset = 0x1c, access = "read" }, probability = 0.05 },
     action = "allones" },
   { name = "bitrot", match = { nvme = { opcode = "read" }, probability = 0.02 },
     action = { flip = { offset = 100, mask = 0x01 } } },
} }
