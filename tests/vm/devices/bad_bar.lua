-- SPDX-License-Identifier: MIT
-- Invalid on purpose: a BAR size that is not a power of two.
local pciem = require("pciem")

return pciem.device {
   name = "bad_bar",
   vendor = 0x1234, device = 0x7e58,
   bars = { [0] = { size = 12288 } },
}
