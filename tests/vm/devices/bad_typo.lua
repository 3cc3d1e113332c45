-- SPDX-License-Identifier: MIT
-- Invalid on purpose: a misspelt field name ("prefetchabel") in a BAR.
local pciem = require("pciem")

return pciem.device {
   name = "bad_typo",
   vendor = 0x1234, device = 0x7e58,
   bars = { [0] = { size = "4K", prefetchabel = true } },
}
