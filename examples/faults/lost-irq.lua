-- SPDX-License-Identifier: MIT
-- Fault plan: the interrupt of each read of LBA 6144 is dropped. A plan is
-- Lua: the first fault arms the second through an upvalue.
--    pciem-lua --faults=examples/faults/lost-irq.lua devices/nvme.lua
local armed = 0
return { name = "lost-irq", faults = {
   { name = "arm", match = { nvme = { opcode = "read", lba = 6144 } },
     action = { call = function() armed = armed + 1 end } },
   { name = "lost-irq", match = { irq = {}, when = function(ev) return armed > 0 and ev.vector > 0 end },
     action = { drop = true, call = function() armed = armed - 1 end } },
} }
