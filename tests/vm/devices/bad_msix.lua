-- SPDX-License-Identifier: MIT
-- Invalid on purpose: the MSI-X table (256 vectors x 16 bytes) does not fit in
-- its 4 KiB BAR at offset 0x800. Passes the Lua field checks; the layout check
-- (dry run through the config space engine) must catch it before the kernel.
local pciem = require("pciem")

return pciem.device {
   name = "bad_msix",
   vendor = 0x1234, device = 0x7e58,
   bars = { [0] = { size = "4K" } },
   caps = {
      { "msix", vectors = 256, table = { bar = 0, offset = 0x800 }, pba = { bar = 0, offset = 0x100 } },
   },
}
