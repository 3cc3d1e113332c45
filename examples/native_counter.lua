-- SPDX-License-Identifier: MIT
-- A device whose hot register is served by native C (examples/native_counter.c):
-- reads of COUNT (BAR0 + 0x0) return a counter that advances by STEP (BAR0 +
-- 0x4) on every read, without entering Lua. Build the library with `make
-- examples`; run: pciem-lua examples/native_counter.lua [path/to/native_counter.so]
local pciem = require("pciem")

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
local so = ... or os.getenv("PCIEM_NATIVE_COUNTER") or (here .. "/../build/examples/native_counter.so")

local dev = pciem.device {
   name = "native_counter",
   vendor = 0x1234, device = 0x0c01,
   bars = {
      -- COUNT and STEP wait for the host (sync); the rest is plain memory
      [0] = { size = 4096, policy = { { 0x0, 0x8, "sync" }, { 0x8, 0xff8, "memory" } } },
   },
}

local lib = dev:load_native(so, "0")
dev:on_read(0, { 0x0, 4 }, lib.counter_read)
dev:on_write(0, { 0x4, 4 }, lib.step_write)

return dev
