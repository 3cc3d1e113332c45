-- SPDX-License-Identifier: MIT
-- The bench device of `make bench` (driven by tests/bench/kmod/pciem_bench.c):
-- registers whose cost the guest driver times. Argument: the path of
-- bench_native.so. BAR0 layout (the same numbers as the driver's):
--   0x000 POSTED       posted, no handler: taken in C
--   0x100 IRQ_T0       memory: CLOCK_MONOTONIC ns just before dev:irq(0)
--   0x108 DMA_ADDR     memory: u64 bus address of the driver's buffer
--   0x110 DMA_LEN      memory: bytes per transfer
--   0x114 DMA_REPS     memory: transfers
--   0x118 DMA_NS       memory: u64 ns the transfers took here
--   0x120 DMA_STATUS   memory: 0 when every transfer succeeded
--   0x200 SYNC_LUA     sync, a Lua handler answers
--   0x204 SYNC_NATIVE  sync, the native handler bench_sync_read answers
--   0x300 IRQ_BELL     posted: stamp IRQ_T0, raise vector 0
--   0x304 DMA_BELL     posted: 1 = read the driver's buffer, 2 = write it; then vector 0
local ffi = require("ffi")
local pciem = require("pciem")

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
local so = ... or (here .. "/bench_native.so")

ffi.cdef [[
struct pciem_bench_ts { long sec; long nsec; };
int clock_gettime(int clk, struct pciem_bench_ts *ts);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("struct pciem_bench_ts")

-- Nanoseconds as a double: exact up to 2^53 ns (104 days of uptime).
local function now_ns()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
   return tonumber(ts.sec) * 1e9 + tonumber(ts.nsec)
end

local MAX_DMA = 4 * 1024 * 1024
local dma_buf = ffi.new("uint8_t[?]", MAX_DMA)

local dev = pciem.device {
   name = "pciem_bench",
   vendor = 0x1234, device = 0xbe4c,
   class = 0xff0000,
   ring_entries = 4096,
   sync_timeout_ms = 1000,
   bars = {
      [0] = {
         size = "4K",
         policy = {
            { 0x100, 0x100, "memory" },
            { 0x200, 0x8, "sync" },
         },
      },
   },
   caps = { { "msi", vectors = 1 } },
}

local lib = dev:load_native(so)
dev:on_read(0, { 0x204, 4 }, lib.bench_sync_read)
dev:on_read(0, 0x200, function() return 0x4c554121 end)   -- "LUA!"

dev:on_write(0, 0x300, function(d)
   d.bar[0].u64[0x100 / 8] = now_ns()
   local ok, err = d:irq(0)
   if ok == nil then
      io.stderr:write("pciem_bench: irq: ", err, "\n")
   end
end)

dev:on_write(0, 0x304, function(d, _, dir)
   local u32 = d.bar[0].u32
   local addr = tonumber(d.bar[0].u64[0x108 / 8])
   local len, reps = u32[0x110 / 4], u32[0x114 / 4]
   local status = 0
   if len == 0 or len > MAX_DMA or reps == 0 or (dir ~= 1 and dir ~= 2) then
      status = 22
   else
      local t0 = now_ns()
      for _ = 1, reps do
         local ok, err
         if dir == 1 then
            ok, err = d:dma_read_into(addr, dma_buf, len)
         else
            ok, err = d:dma_write(addr, dma_buf, len)
         end
         if not ok then
            io.stderr:write("pciem_bench: dma: ", tostring(err), "\n")
            status = 5
            break
         end
      end
      d.bar[0].u64[0x118 / 8] = now_ns() - t0
   end
   u32[0x120 / 4] = status
   d:irq(0)
end)

return dev
