-- SPDX-License-Identifier: MIT
-- A minimal host for the sim specs, on the host's C event loop
-- (pciem_ffi_loop_*): every event reaches Lua, is recorded in order, and
-- reads are answered by per-offset functions (default: a fixed value). The
-- specs act as the OS (pciem.sim) and as this host at once.
local ffi = require("ffi")
local pciem = require("pciem")
local sim = require("pciem.sim")
local C = require("pciem.ffi").C

local M = {}

local Host = {}
Host.__index = Host

local ids = { read = 1, write = 2, cfg = 3 }

--- Start `d` (a description, helper.desc() by default) on the sim and give
--- back host, os: the OS side with this host's step as its dispatch step.
--- `raw` sets fields of the uapi struct pciem_device_desc (ring_entries, ...).
function M.new(d, raw)
   local dev = pciem.device(d or require("helper").desc())
   for k, v in pairs(raw or {}) do dev._plan.device[k] = v end
   local ok, err = dev:start("sim")
   if not ok then return nil, err end
   -- the device's own event loop when it has one (one per device), else ours
   local lp = dev._loop
   if not lp then
      local lp_out = ffi.new("struct pl_loop *[1]")
      assert(C.pciem_ffi_loop_new(dev._cdev, lp_out) == 0,
         ffi.string(C.pciem_ffi_dev_error(dev._cdev)))
      lp = ffi.gc(lp_out[0], C.pciem_ffi_loop_free)
   end
   local self = setmetatable({
      dev = dev, lp = lp, batch = C.pciem_ffi_loop_batch(lp),
      events = {},	-- every event seen, in ring order
      reads = {},	-- [bar][offset] = function(ev) -> value
      answer = 0x5a5a5a5a,	-- reads without a function
      silent = false,	-- true: take events but never answer
   }, Host)
   for bar = 0, 5 do
      if dev.desc.bars[bar] then
         local len = dev.desc.bars[bar].size_bytes or dev.bar[bar].size
         assert(C.pciem_ffi_loop_on(lp, bar, C.PL_ON_READ, 0, len, ids.read, nil, nil) == 0)
         assert(C.pciem_ffi_loop_on(lp, bar, C.PL_ON_WRITE, 0, len, ids.write, nil, nil) == 0)
      end
   end
   assert(C.pciem_ffi_loop_on(lp, C.PL_LOOP_CFG_BAR, C.PL_ON_WRITE, 0, 4096, ids.cfg, nil, nil) == 0)
   local os = sim.new(dev, { host = function() self:step() end })
   self.os = os
   return self, os
end

--- Take every event in the ring once, record them, answer reads.
function Host:step()
   while true do
      local n = C.pciem_ffi_loop_poll(self.lp, 0)
      if n <= 0 then return end
      for i = 0, n - 1 do
         local e = self.batch[i]
         local ev = {
            seq = tonumber(e.ev.seq), kind = tonumber(e.ev.kind), bar = tonumber(e.ev.bar),
            offset = tonumber(e.ev.offset), width = tonumber(e.ev.width),
            value = e.ev.value, flags = tonumber(e.ev.flags), answer_slot = tonumber(e.ev.answer),
         }
         self.events[#self.events + 1] = ev
         if ev.kind == C.PCIEM_EVENT_MMIO_READ then
            local per_bar = self.reads[ev.bar]
            local fn = per_bar and per_bar[ev.offset]
            e.answer = fn and fn(ev) or self.answer
         end
      end
      if self.silent then
         -- taken but unanswered: a host too slow for the deadline
         for i = 0, n - 1 do self.batch[i].ev.kind = 0; self.batch[i].ev.flags = 0 end
      end
      C.pciem_ffi_loop_done(self.lp, n)
   end
end

--- Answer reads of BAR `bar` at `offset` with fn(ev).
function Host:on_read(bar, offset, fn)
   self.reads[bar] = self.reads[bar] or {}
   self.reads[bar][offset] = fn
end

function Host:policy(bar, offset, length, policy)
   local rc = C.pciem_ffi_set_policy(self.dev._cdev, bar, C["PCIEM_POLICY_" .. policy:upper()],
      offset, length)
   if rc ~= 0 then return nil, ffi.string(C.pciem_ffi_dev_error(self.dev._cdev)), rc end
   return true
end

--- Forget recorded events.
function Host:clear()
   self.events = {}
end

function Host:stop()
   self.os:close()
   self.dev:stop()
end

return M
