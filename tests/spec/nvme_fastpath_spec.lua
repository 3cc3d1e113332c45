-- SPDX-License-Identifier: MIT
-- devices/nvme.lua's native fast path (devices/nvme_native.c) on the sim: I/O in C,
-- deferral to Lua with head/tail/phase agreed and every command completed once,
-- shadow doorbells, lua_only and the fault hooks, and interrupt coalescing (both modes).
local bit = require("bit")
local ffi = require("ffi")
local nvmehost = require("pciem.nvmehost")
local fx = require("nvme_fixture")

local S = nvmehost.status

local nit = it
local dev, osim, h

local function stop()
   fx.stop(dev, osim, h)
   dev, osim, h = nil, nil, nil
end

local pattern = require("helper").pattern

local function stats() return dev.nvme.ctrl.st.stats end
local function n(v) return tonumber(v) end

-- Nothing more arrives on CQ `qid` after a few more steps: no double completion.
local function no_more_completions(qid)
   for _ = 1, 4 do osim:step() end
   assert.equal(0, h:reap(qid))
end

-- Submit a write of `data` at `slba` (not rung): cid, buffer.
local function submit_write(slba, data)
   local bs = h:block_size(1)
   local b = h:buffer(#data)
   ffi.copy(b.p, data, #data)
   return h:submit(1, { opc = 0x01, nsid = 1, prp1 = b.prp1, prp2 = b.prp2,
      cdw10 = slba, cdw12 = #data / bs - 1 }), b
end

describe("nvme fast path", function()
   after_each(stop)

   local function ready(...)
      fx.mode_arg = "fastpath=on"
      dev, osim, h = fx.ready(1, 32, ...)
      fx.mode_arg = nil
      h:block_size(1)
   end

   nit("serves reads and writes in C: PRP lists, an unaligned first page, data intact", function()
      ready()
      local bs = h:block_size(1)
      local before, calls = n(stats().native_cmds), n(stats().data_dmas)
      local data = pattern(64 * bs, 3)		-- beyond two pages: a PRP list
      assert.equal("success", assert(h:write(1, 8, 64, data, { offset = 512 })).name)
      local got, c = h:read(1, 8, 64, { offset = 1024 })
      assert.equal("success", c.name)
      assert.is_true(got == data)
      assert.equal(before + 2, n(stats().native_cmds))
      -- each command's scattered pages move in one scatter-gather call
      assert.equal(calls + 2, n(stats().data_dmas))
      assert.equal(0, n(stats().deferred))
      -- holes read as zeroes; the store allocated only what was written
      assert.equal(("\0"):rep(bs), (h:read(1, 4096, 1)))
      no_more_completions(1)
   end)

   nit("defers what it does not execute to Lua, in order, each command completed once", function()
      ready()
      local bs = h:block_size(1)
      local a, b = pattern(2 * bs, 5), pattern(2 * bs, 6)
      local blocks = h:identify_ns(1).nsze
      local before = n(stats().commands)
      local cid1, b1 = submit_write(0, a)
      local cmp = h:buffer(2 * bs)
      ffi.copy(cmp.p, a, #a)
      local cid2 = h:submit(1, { opc = 0x05, nsid = 1, prp1 = cmp.prp1, cdw12 = 1 })	-- Compare: Lua
      local cid3 = h:submit(1, { opc = 0x02, nsid = 1, prp1 = cmp.prp1, cdw10 = blocks })	-- out of range
      local cid4, b4 = submit_write(2, b)
      h:ring(1)
      assert.equal("success", assert(h:wait(1, cid1)).name)
      assert.equal("success", assert(h:wait(1, cid2)).name)
      assert.equal(nvmehost.status_name(S.lba_out_of_range), assert(h:wait(1, cid3)).name)
      assert.equal("success", assert(h:wait(1, cid4)).name)
      assert.is_true(n(stats().deferred) >= 1)
      assert.equal(before + 4, n(stats().commands))
      assert.equal(a .. b, (h:read(1, 0, 4)))
      no_more_completions(1)
      h:free(b1); h:free(b4); h:free(cmp)
   end)

   nit("takes SQ tails from the shadow doorbells: submissions cost no MMIO write", function()
      ready()
      assert(h:doorbell_buffer())
      local bs = h:block_size(1)
      local cids, bufs = {}, {}
      for i = 1, 8 do
         cids[i], bufs[i] = submit_write(i, pattern(bs, i))
         h:ring(1)
      end
      for i = 1, 8 do assert.equal("success", assert(h:wait(1, cids[i])).name) end
      assert.is_true(h.dbbuf.skipped >= 7)
      assert.is_true(n(stats().shadow_tails) >= 1)
      assert.is_true(n(stats().native_cmds) >= 8)
      -- after the idle point published EventIdx, the next submission rings again
      local rung = h.dbbuf.rung
      local got = h:read(1, 3, 1)
      assert.equal(pattern(bs, 3), got)
      assert.equal(rung + 1, h.dbbuf.rung)
      no_more_completions(1)
      for i = 1, 8 do h:free(bufs[i]) end
   end)

   nit("walks SGLs in C: a data block, and a Last Segment list of pieces", function()
      ready()
      local bs = h:block_size(1)
      local before = n(stats().native_cmds)
      local data = pattern(16 * bs, 9)
      assert.equal("success", assert(h:write(1, 100, 16, data, { sgl = true })).name)
      local got, c = h:read(1, 100, 16, { sgl = 1000 })
      assert.equal("success", c.name)
      assert.is_true(got == data)
      assert.equal(before + 2, n(stats().native_cmds))
      no_more_completions(1)
   end)

   nit("with shadow doorbells, hands Lua the rest of a queue it took the tail of", function()
      ready()
      assert(h:doorbell_buffer())
      local bs = h:block_size(1)
      local a = pattern(2 * bs, 4)
      local cid1, b1 = submit_write(0, a)
      h:ring(1)
      local cmp = h:buffer(2 * bs)
      ffi.copy(cmp.p, a, #a)
      local cid2 = h:submit(1, { opc = 0x05, nsid = 1, prp1 = cmp.prp1, cdw12 = 1 })	-- Lua
      h:ring(1)
      local cid3, b3 = submit_write(2, a)
      h:ring(1)
      assert.equal("success", assert(h:wait(1, cid1)).name)
      assert.equal("success", assert(h:wait(1, cid2)).name)
      assert.equal("success", assert(h:wait(1, cid3)).name)
      assert.is_true(n(stats().deferred) >= 1)
      assert.equal(a .. a, (h:read(1, 0, 4)))
      no_more_completions(1)
      h:free(b1); h:free(b3); h:free(cmp)
   end)

   nit("with lua_only set, every I/O command passes the fault hooks in Lua", function()
      ready()
      local c = dev.nvme.ctrl
      local bs = h:block_size(1)
      local seen, cqes = {}, 0
      c.st.lua_only = 1
      c.fault_cmd = function(_, sqid, sqe)
         seen[#seen + 1] = sqid
         local opc = bit.band(sqe[0], 0xff)
         if sqid == 1 and opc == 0x02 and sqe[10] == 7 then return 0x04 end	-- Data Transfer Error
         if sqid == 1 and opc == 0x02 and sqe[10] == 9 then return false end	-- swallowed
         return nil
      end
      c.fault_cqe = function(_, cqid, e)
         if cqid == 1 then cqes = cqes + 1; e[0] = 0xabcd end
      end
      local native = n(c.st.stats.native_cmds)
      local cqe = assert(h:write(1, 7, 1, pattern(bs, 1)))
      assert.equal("success", cqe.name)
      assert.equal(0xabcd, cqe.dw0)
      local _, r = h:read(1, 7, 1)
      assert.equal(nvmehost.status_name(S.data_transfer_error), r.name)
      local got, err = h:read(1, 9, 1, {})
      assert.is_nil(got)
      assert.matches("timeout", tostring(err))
      assert.equal(native, n(c.st.stats.native_cmds))
      assert.equal(3, #seen)
      assert.equal(2, cqes)
      -- hooks off, fast path back
      c.fault_cmd, c.fault_cqe, c.st.lua_only = nil, nil, 0
      assert.equal(pattern(bs, 1), (h:read(1, 7, 1)))
      assert.equal(native + 1, n(c.st.stats.native_cmds))
   end)
end)

fx.each_mode("nvme interrupt coalescing", function()
   after_each(stop)

   -- Two doorbells in one dispatch step: the interrupts on vector 1.
   local function two_doorbells()
      local bs = h:block_size(1)
      osim:clear_irqs()
      local c1, b1 = submit_write(0, pattern(bs, 1))
      h:ring(1)
      local c2, b2 = submit_write(1, pattern(bs, 2))
      h:ring(1)
      osim:step()
      local count = 0
      for _, e in ipairs(osim:irqs()) do
         if e.vector == 1 then count = count + 1 end
      end
      assert.equal("success", assert(h:wait(1, c1)).name)
      assert.equal("success", assert(h:wait(1, c2)).name)
      h:free(b1); h:free(b2)
      return count
   end

   local function ready()
      dev, osim, h = fx.ready(1, 32)
      h:block_size(1)
   end

   nit("without coalescing, each doorbell's completions interrupt at once", function()
      ready()
      assert.equal(2, two_doorbells())
   end)

   nit("aggregates completions below the threshold to the end of the burst", function()
      ready()
      assert.equal("success", h:set_features(0x08, 0x0107).name)	-- THR 8 entries, TIME 1
      assert.equal(1, two_doorbells())
      assert.equal(0x0107, h:get_features(0x08).dw0)
   end)

   nit("interrupts at once when the threshold is reached", function()
      ready()
      assert.equal("success", h:set_features(0x08, 0x0100).name)	-- THR 1 entry
      assert.equal(2, two_doorbells())
   end)

   nit("leaves out a vector with Coalescing Disable set", function()
      ready()
      assert.equal("success", h:set_features(0x08, 0x0107).name)
      assert.equal("success", h:set_features(0x09, 0x10001).name)	-- vector 1, CD
      assert.equal(2, two_doorbells())
   end)
end)

fx.each_mode("nvme shadow doorbells", function()
   after_each(stop)

   -- Linux's reset path creates I/O queues (shadow protocol already running on its
   -- side) and sends Doorbell Buffer Config only after queueing I/O on them.
   nit("Doorbell Buffer Config on queues already in use picks up their shadow state", function()
      dev, osim, h = fx.ready(2, 64)
      local bs = h:block_size(1)
      assert.equal("success", select(2, h:read(1, 0, 1, { qid = 2 })).name)
      assert(h:doorbell_buffer())
      local got, c = h:read(1, 0, 1, { qid = 2 })
      assert.equal("success", c and c.name)
      assert.equal(bs, #got)
      -- and from then on most submissions cost no MMIO write
      local cids, bufs = {}, {}
      for i = 1, 6 do
         cids[i], bufs[i] = h:submit(2, { opc = 0x02, nsid = 1, prp1 = h:buffer(bs).prp1 }), nil
         h:ring(2)
      end
      for i = 1, 6 do assert.equal("success", assert(h:wait(2, cids[i])).name) end
      assert.is_true(h.dbbuf.skipped >= 5)
      no_more_completions(2)
   end)
end)
