-- SPDX-License-Identifier: MIT
-- lua/pciem/nvmehost.lua against a tiny NVMe controller written here (CC/CSTS,
-- admin queue, identify, queue creation, read/write/compare over PRP lists),
-- so the kit is checked on its own, apart from devices/nvme.lua.
local bit = require("bit")
local ffi = require("ffi")
local pciem = require("pciem")
local sim = require("pciem.sim")
local nvmehost = require("pciem.nvmehost")

local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift

local BLOCK, BLOCKS = 512, 16384
local PAGE = 4096

-- The tiny controller: everything in Lua handlers, data in a Lua table of blocks.
local function tiny_controller()
   local dev = pciem.device {
      name = "tiny-nvme", vendor = 0x1d1d, device = 0x0001, class = 0x010802,
      bars = { [0] = { size = "16K", bits = 64 } },
      caps = {
         { "pcie" },
         { "msix", vectors = 4, table = { bar = 0, offset = 0x2000 }, pba = { bar = 0, offset = 0x3000 } },
      },
   }
   local st = { blocks = {}, sq = {}, cq = {}, stats = { commands = 0 } }
   local function r32(off) return dev.bar[0].u32[off / 4] end
   local function w32(off, v) dev.bar[0].u32[off / 4] = v end
   local function reset()
      st.sq, st.cq = {}, {}
      w32(0x1c, band(r32(0x1c), 0xc))
   end
   dev:on_start(function(d)
      -- CAP: MQES 63, CQR, TO 1, CSS NVM; VS 1.4
      w32(0x00, bor(63, lshift(1, 16), lshift(1, 24)))
      w32(0x04, lshift(1, 5))
      w32(0x08, 0x00010400)
   end)
   local function u64(lo, hi) return lo + hi * 2 ^ 32 end
   -- The PRP entries of a transfer of len bytes (a list of {addr, len}).
   local function prps(prp1, prp2, len)
      local segs = {}
      local first = math.min(len, PAGE - prp1 % PAGE)
      segs[1] = { prp1, first }
      len = len - first
      if len == 0 then return segs end
      if len <= PAGE then segs[2] = { prp2, len }; return segs end
      local list = prp2
      while len > 0 do
         local i = list % PAGE / 8
         local e = dev:dma_read(list, 8)
         local lo, hi = ffi.cast("uint32_t *", e)[0], ffi.cast("uint32_t *", e)[1]
         local a = u64(lo, hi)
         if i == PAGE / 8 - 1 and len > PAGE then
            list = a
         else
            segs[#segs + 1] = { a, math.min(PAGE, len) }
            len = len - math.min(PAGE, len)
            list = list + 8
         end
      end
      return segs
   end
   local function post(cqid, sqid, cid, status, dw0)
      local cq = st.cq[cqid]
      local sq = st.sq[sqid]
      local at = cq.base + cq.tail * 16
      local phase = cq.phase
      dev:dma_write32(at, dw0 or 0)
      dev:dma_write32(at + 4, 0)
      dev:dma_write32(at + 8, bor(sq.head, lshift(sqid, 16)))
      dev:dma_write32(at + 12, bor(cid, lshift(phase, 16), lshift(status, 17)))
      cq.tail = cq.tail + 1
      if cq.tail == cq.size then cq.tail, cq.phase = 0, 1 - cq.phase end
      if cq.ien then dev:irq(cq.iv) end
   end
   local function admin(c)
      local opc = band(c[0], 0xff)
      if opc == 0x06 then
         local buf = ffi.new("uint8_t[4096]")
         local cns = band(c[10], 0xff)
         if cns == 1 then
            ffi.cast("uint16_t *", buf)[0] = 0x1d1d
            ffi.copy(buf + 4, "TINY0001            ", 20)
            ffi.copy(buf + 24, "tiny nvme", 9)
            buf[512], buf[513] = 0x66, 0x44
            ffi.cast("uint32_t *", buf + 516)[0] = 1
         elseif cns == 0 then
            if c[1] ~= 1 then return 0x00b end
            ffi.cast("uint64_t *", buf)[0] = BLOCKS
            ffi.cast("uint64_t *", buf)[1] = BLOCKS
            buf[130] = 9
         else
            return 0x002
         end
         local segs = prps(u64(c[6], c[7]), u64(c[8], c[9]), PAGE)
         local off = 0
         for _, s in ipairs(segs) do dev:dma_write(s[1], buf + off, s[2]); off = off + s[2] end
         return 0
      elseif opc == 0x09 and band(c[10], 0xff) == 7 then
         return 0, bor(lshift(3, 16), 3)
      elseif opc == 0x05 then
         local qid, size = band(c[10], 0xffff), rshift(c[10], 16) + 1
         if qid == 0 or qid > 4 or st.cq[qid] then return 0x101 end
         st.cq[qid] = { base = u64(c[6], c[7]), size = size, tail = 0, phase = 1,
            ien = band(c[11], 2) ~= 0, iv = rshift(c[11], 16) }
         return 0
      elseif opc == 0x01 then
         local qid, size, cqid = band(c[10], 0xffff), rshift(c[10], 16) + 1, rshift(c[11], 16)
         if qid == 0 or qid > 4 or st.sq[qid] then return 0x101 end
         if not st.cq[cqid] then return 0x100 end
         st.sq[qid] = { base = u64(c[6], c[7]), size = size, head = 0, cqid = cqid }
         return 0
      end
      return 0x001
   end
   local function io(c)
      local opc = band(c[0], 0xff)
      if c[1] ~= 1 then return 0x00b end
      local slba, nlb = u64(c[10], c[11]), band(c[12], 0xffff) + 1
      if slba + nlb > BLOCKS then return 0x080 end
      local len = nlb * BLOCK
      local segs = prps(u64(c[6], c[7]), u64(c[8], c[9]), len)
      local buf = ffi.new("uint8_t[?]", len)
      local off = 0
      if opc == 0x01 or opc == 0x05 then
         for _, s in ipairs(segs) do
            if not dev:dma_read_into(s[1], buf + off, s[2]) then return 0x004 end
            off = off + s[2]
         end
         for i = 0, nlb - 1 do
            local data = ffi.string(buf + i * BLOCK, BLOCK)
            if opc == 0x01 then
               st.blocks[slba + i] = data
            elseif (st.blocks[slba + i] or ("\0"):rep(BLOCK)) ~= data then
               return 0x285
            end
         end
         return 0
      elseif opc == 0x02 then
         for i = 0, nlb - 1 do
            ffi.copy(buf + i * BLOCK, st.blocks[slba + i] or ("\0"):rep(BLOCK), BLOCK)
         end
         for _, s in ipairs(segs) do
            if not dev:dma_write(s[1], buf + off, s[2]) then return 0x004 end
            off = off + s[2]
         end
         return 0
      end
      return 0x001
   end
   local function run_sq(qid)
      local sq = st.sq[qid]
      local tail = r32(0x1000 + 8 * qid)
      while sq.head ~= tail do
         local raw = dev:dma_read(sq.base + sq.head * 64, 64)
         local c = ffi.cast("const uint32_t *", raw)
         sq.head = (sq.head + 1) % sq.size
         st.stats.commands = st.stats.commands + 1
         local status, dw0
         if qid == 0 then status, dw0 = admin(c) else status, dw0 = io(c) end
         post(sq.cqid, qid, rshift(c[0], 16), status, dw0)
      end
   end
   dev:on_write(0, { 0x1000, 0x1000 }, function(d, off)
      local q = (off - 0x1000) / 8
      if off % 8 == 0 and st.sq[q] then run_sq(q) end
   end)
   dev:on_write(0, 0x14, function(d, off, cc)
      local csts = r32(0x1c)
      if band(cc, 1) == 1 and band(csts, 1) == 0 then
         local aqa = r32(0x24)
         st.cq[0] = { base = u64(r32(0x30), r32(0x34)), size = rshift(aqa, 16) + 1,
            tail = 0, phase = 1, ien = true, iv = 0 }
         st.sq[0] = { base = u64(r32(0x28), r32(0x2c)), size = band(aqa, 0xfff) + 1,
            head = 0, cqid = 0 }
         w32(0x1c, bor(band(csts, bit.bnot(0xc)), 1))
      elseif band(cc, 1) == 0 then
         reset()
         w32(0x1c, 0)
      end
      if band(rshift(cc, 14), 3) ~= 0 then w32(0x1c, bor(band(r32(0x1c), bit.bnot(0xc)), 8)) end
   end)
   return dev, st
end

local pattern = require("helper").pattern

describe("nvmehost against a tiny controller", function()
   local dev, st, osim, h

   before_each(function()
      dev, st = tiny_controller()
      assert(dev:start("sim"))
      osim = sim.new(dev)
      h = nvmehost.new(osim)
   end)

   after_each(function()
      h:close()
      osim:close()
      dev:stop()
   end)

   it("enables the controller and reads CAP", function()
      assert(h:enable())
      assert.is_true(h:csts().rdy)
      assert.equal(64, h.caps.mqes)
      assert.equal(0x00460001, h:rd32(0x14))
   end)

   it("identifies the controller and the namespace", function()
      assert(h:enable())
      local id = assert(h:identify_ctrl())
      assert.equal(0x1d1d, id.vid)
      assert.equal("TINY0001", id.sn)
      assert.equal("tiny nvme", id.mn)
      assert.equal(1, id.nn)
      local ns = assert(h:identify_ns(1))
      assert.equal(BLOCKS, ns.nsze)
      assert.equal(BLOCK, ns.lba_size)
      local none, c = h:identify_ns(2)
      assert.is_nil(none)
      assert.equal(nvmehost.status.invalid_namespace, c.status)
      assert.equal("invalid_namespace", c.name)
   end)

   it("creates I/O queues and round-trips data over one page, two pages and PRP lists", function()
      assert(h:enable())
      assert.equal(2, h:create_io_queues(2, 16))
      for _, n in ipairs({ 1, 8, 16, 24, 9 * 8 }) do
         for _, off in ipairs({ 0, 512, 4092 }) do
            local data = pattern(n * BLOCK, n + off)
            local c = assert(h:write(1, 100, n, data, { qid = 1 + n % 2, offset = off }))
            assert.equal("success", c.name)
            local got, rc = h:read(1, 100, n, { qid = 2 - n % 2, offset = off })
            assert.equal("success", rc.name)
            assert.is_true(got == data, ("%d blocks at offset %d"):format(n, off))
            assert.is_true(h:compare(1, 100, n, data).ok)
            local bad = data:sub(1, -2) .. "x"
            assert.equal("compare_failure", h:compare(1, 100, n, bad).name)
         end
      end
   end)

   it("chains PRP list pages past 511 entries", function()
      assert(h:enable())
      assert(h:create_io_queues(1, 8))
      local n = 8 * 600 -- 600 pages: a list of two pages
      local data = pattern(n * BLOCK, 3)
      assert.is_true(h:write(1, 0, n, data).ok)
      assert.is_true(h:read(1, 0, n) == data)
   end)

   it("reports error statuses and keeps going past a full queue wrap", function()
      assert(h:enable({ depth = 4 }))
      assert(h:create_io_queues(1, 4))
      local none, c = h:read(1, BLOCKS - 1, 2)
      assert.is_nil(none)
      assert.equal("lba_out_of_range", c.name)
      assert.equal("invalid_opcode", h:io(1, { opc = 0x7f, nsid = 1 }).name)
      assert.equal("invalid_opcode", h:admin({ opc = 0xee }).name)
      assert.equal("invalid_qid", h:create_cq(1, 4).name)
      for i = 1, 10 do assert.is_true(h:write(1, i, 1, pattern(BLOCK, i)).ok) end
   end)

   it("takes several commands in flight and interrupts on the queue's vector", function()
      assert(h:enable())
      assert(h:create_io_queues(2, 16))
      osim:clear_irqs()
      local bufs, cids = {}, {}
      for i = 1, 5 do
         bufs[i] = h:buffer(BLOCK)
         ffi.copy(bufs[i].p, pattern(BLOCK, i), BLOCK)
         cids[i] = h:submit(2, { opc = 0x01, nsid = 1, prp1 = bufs[i].prp1, cdw10 = i })
      end
      h:ring(2)
      for i = 1, 5 do assert.is_true(h:wait(2, cids[i]).ok); h:free(bufs[i]) end
      local irqs = osim:irqs()
      assert.equal(5, #irqs)
      assert.equal(2, irqs[1].vector)
      for i = 1, 5 do assert.equal(pattern(BLOCK, i), (h:read(1, i, 1))) end
   end)

   it("resets and re-enables, then shuts down", function()
      assert(h:enable())
      assert(h:create_io_queues(1, 8))
      assert.is_true(h:write(1, 5, 1, pattern(BLOCK, 5)).ok)
      assert(h:disable())
      assert.is_false(h:csts().rdy)
      assert(h:enable())
      assert(h:create_io_queues(1, 8))
      assert.equal(pattern(BLOCK, 5), (h:read(1, 5, 1)))
      assert(h:shutdown())
      assert.equal(2, h:csts().shst)
   end)

   it("times out on a controller that never answers", function()
      assert(h:enable())
      osim:set_host(false)
      local c, err = h:admin({ opc = 0x06, cdw10 = 1 })
      assert.is_nil(c)
      assert.matches("timeout", err)
   end)
end)
