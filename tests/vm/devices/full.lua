-- SPDX-License-Identifier: MIT
-- Guest-tier test device: every BAR shape and every capability kind, with
-- distinctive values that tests/vm/guest/lua_caps.sh reads back exactly.
-- IDs: 1234:7e57, a device ID no in-tree driver claims.
local pciem = require("pciem")

return pciem.device {
   name = "full",
   vendor = 0x1234, device = 0x7e57,
   subsystem_vendor = 0x1234, subsystem = 0x5a5a,
   revision = 0x42,
   class = 0x118042,            -- signal processing controller, prog-if 0x42
   interrupt_pin = "B",
   bars = {
      [0] = { size = "16K" },                                 -- 32-bit
      [1] = { size = "8K", prefetchable = true },             -- 32-bit prefetchable
      [2] = { size = "1M", bits = 64, prefetchable = true },  -- 64-bit prefetchable (uses 3)
      [4] = { size = "64K", bits = 64 },                      -- 64-bit (uses 5)
   },
   caps = {
      { "pcie", port = "endpoint", max_payload = 512, link_speed = 8, link_width = 4 },
      { "pm", d1 = true, pme = { "D0", "D3hot" } },
      { "msi", vectors = 8, addr64 = true, per_vector_mask = true },
      { "msix", vectors = 16,
        table = { bar = 0, offset = 0x2000 }, pba = { bar = 4, offset = 0x800 } },
      { "vendor", data = "PCIEM!" },
      -- Vendor-Specific Extended Capability at 0x100: VSEC ID 0x1234, rev 1,
      -- length 12 (0x00c), then one payload dword.
      { "ext", id = 0x000b, version = 1, offset = 0x100,
        data = "\x34\x12\xc1\x00\xde\xad\xbe\xef" },
      -- Device Serial Number, placed automatically after it.
      { "ext", id = 0x0003, version = 1, data = "\xef\xcd\xab\x89\x67\x45\x23\x01" },
   },
}
