-- SPDX-License-Identifier: MIT
-- hello: the smallest useful pciem device. It has no behaviour yet; it shows
-- how a device is described. Run it:
--    pciem-lua examples/hello.lua               (kernel backend, as root)
--    pciem-lua --backend=sim --dump examples/hello.lua
local pciem = require("pciem")

return pciem.device {
   name = "hello",              -- label; shows up in messages and the kernel log

   -- Identity. 0x1234 is QEMU's vendor ID; no in-tree driver binds 1234:beef.
   vendor = 0x1234, device = 0xbeef,
   subsystem_vendor = 0x1234, subsystem = 0x0001,
   revision = 1,
   class = 0xff0000,            -- base class ff: "unassigned", so no class driver binds either
   interrupt_pin = "A",         -- legacy INTx pin; omit it for no INTx

   -- BARs by index. BAR0: 4 KiB of 32-bit, non-prefetchable memory space,
   -- the usual place for a device's registers.
   bars = {
      [0] = { size = "4K" },
   },

   -- Capabilities, placed in the chain in this order (offsets are automatic).
   caps = {
      { "pcie", port = "endpoint", max_payload = 256 },   -- a PCI Express endpoint
      { "pm", pme = { "D0", "D3hot" } },                    -- power management, D0 and D3hot
      -- MSI-X: 4 vectors; the vector table (16 bytes per vector) and the
      -- pending bit array live in BAR0, away from the registers at its start.
      { "msix", vectors = 4,
        table = { bar = 0, offset = 0x800 },
        pba = { bar = 0, offset = 0xc00 } },
   },
}
