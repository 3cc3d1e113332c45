-- SPDX-License-Identifier: MIT
-- registers: a small register file served by Lua handlers, showing the three
-- access policies and the handler API. BAR0 layout:
--   0x000 ID       memory  read-only by convention: 0x52454753 ("REGS")
--   0x004 SCRATCH  posted  any value; each write is logged by its handler
--   0x008 DOORBELL posted  writing n raises MSI/MSI-X vector n (or INTx when n = 0xff)
--   0x00c INTX_ACK posted  any write deasserts INTx
--   0x100 COUNTER  sync    each read returns 1, 2, 3, ...
--   0x104 STATUS   sync    clear-on-read: the bits set by writes to 0x108 since the last read
--   0x108 SET      sync    ORs the value into STATUS
--   0x10c FIFO     sync    writes push, reads pop (0xdeadbeef when empty)
-- Run: pciem-lua examples/registers.lua   (a driver or setpci/devmem then pokes BAR0)
local pciem = require("pciem")

local dev = pciem.device {
   name = "registers",
   vendor = 0x1234, device = 0xbee0,
   class = 0xff0000,
   interrupt_pin = "A",
   bars = {
      [0] = {
         size = "4K",
         policy = {
            { 0x000, 0x4, "memory" },
            { 0x100, 0x100, "sync" },
         },
      },
   },
   caps = {
      { "msi", vectors = 4 },
      { "msix", vectors = 4, table = { bar = 0, offset = 0x800 }, pba = { bar = 0, offset = 0xc00 } },
   },
}

local ID = 0x52454753
local counter, status, fifo = 0, 0, {}

dev:on_write(0, 0x004, function(d, _, value)
   io.stdout:write(("registers: SCRATCH = 0x%x (event %d)\n"):format(value, d.seq))
   io.stdout:flush()
end)

dev:on_write(0, 0x008, function(d, _, value)
   if value == 0xff then
      d:intx(true)
      return
   end
   local ok, err = d:irq(value)
   if ok == nil then
      io.stderr:write("registers: DOORBELL ", value, ": ", err, "\n")
   end
end)

dev:on_write(0, 0x00c, function(d) d:intx(false) end)

dev:on_read(0, 0x100, function()
   counter = counter + 1
   return counter
end)

dev:on_read(0, 0x104, function()
   local s = status
   status = 0
   return s
end)

dev:on_write(0, 0x108, function(_, _, value)
   status = bit.bor(status, value)
end)

dev:on_write(0, 0x10c, function(_, _, value) fifo[#fifo + 1] = value end)
dev:on_read(0, 0x10c, function() return table.remove(fifo, 1) or 0xdeadbeef end)

-- ID lives in a memory range: the driver reads it from the shadow, no event.
-- on_start runs once the BAR views exist, before any driver can bind.
dev:on_start(function(d) d.bar[0]:write32(0x000, ID) end)

return dev
