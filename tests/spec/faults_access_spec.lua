-- SPDX-License-Identifier: MIT
-- pciem.faults on a small sim device: register, config, DMA and interrupt
-- matchers and actions, occurrence counting, seeded probability, plans added
-- and removed while the device runs, surprise removal.
local bit = require("bit")
local ffi = require("ffi")
local sim = require("pciem.sim")
local faults = require("pciem.faults")
local helper = require("helper")

local dev, osim

-- The base test device with a few handlers: a write to 0x10 stores value + 1
-- at 0x14 (and counts), a sync read at 0x20 answers a counter.
local writes, reads, cfg_writes

local function start()
   dev = helper.sim()
   writes, reads, cfg_writes = {}, 0, {}
   dev:on_write(0, { 0x10, 4 }, function(d, _, v)
      writes[#writes + 1] = v
      d.bar[0].u32[0x14 / 4] = v + 1
   end)
   dev:set_policy(0, 0x20, 4, "sync")
   dev:on_read(0, { 0x20, 4 }, function() reads = reads + 1; return 0x100 + reads end)
   dev:on_cfg_write({ 0x40, 0xc0 }, function(_, off, v) cfg_writes[#cfg_writes + 1] = { off, v } end)
   osim = sim.new(dev)
   osim:enable_memory(true)
   osim:bus_master(true)
end

local function stop()
   if osim then osim:close() end
   if dev and dev.state == "started" then dev:stop() end
   dev, osim = nil, nil
end

local function rd(off, w) return (osim:mmio_read(0, off, w or 4)) end
-- A posted write, handled before the next access (its own batch).
local function wr(off, v, w)
   local st = osim:mmio_write(0, off, w or 4, v)
   osim:step()
   return st
end

local function load(p)
   p.quiet = true
   return assert(faults.load(dev, p))
end

local function fired(plan)
   local l = {}
   for _, e in ipairs(plan.log) do l[#l + 1] = e.seq end
   return l
end

describe("faults on accesses", function()
   before_each(start)
   after_each(stop)

   describe("MMIO", function()
      it("answers all-ones to the nth read of a register, then the register again", function()
         load { faults = { { match = { mmio = { bar = 0, offset = 0x14, access = "read" }, nth = 2 },
            action = "allones" } } }
         wr(0x10, 5)
         assert.equal(6, rd(0x14))
         assert.equal(0xffffffff, rd(0x14))
         assert.equal(6, rd(0x14))
      end)

      it("makes a memory-policy register send its reads while a read matcher is loaded", function()
         dev:set_policy(0, 0x30, 4, "memory")
         dev.bar[0].u32[0x30 / 4] = 7
         local plan = load { faults = { { match = { mmio = { bar = 0, offset = 0x30, access = "read" } },
            action = { value = 9 } } } }
         assert.equal(9, rd(0x30))
         assert.equal(1, plan.faults[1].fired)
         assert.is_true(faults.unload(dev, plan))
         assert.equal(7, rd(0x30))
      end)

      it("drops every 2nd write: the handler does not run", function()
         load { faults = { { match = { mmio = { bar = 0, offset = 0x10, access = "write" }, every = 2 },
            action = "drop" } } }
         for i = 1, 6 do wr(0x10, i) end
         assert.same({ 1, 3, 5 }, writes)
      end)

      it("matches a value condition on writes and replaces the value written", function()
         load { faults = { { match = { mmio = { bar = 0, offset = 0x10, value = { mask = 0xff, equals = 0x42 } } },
            action = { value = 0x99 } } } }
         wr(0x10, 0x41)
         wr(0x10, 0x1042)
         wr(0x10, 0x43)
         assert.same({ 0x41, 0x99, 0x43 }, writes)
      end)

      it("limits a fault to `times` firings", function()
         local plan = load { faults = { { match = { mmio = { bar = 0, offset = 0x20 }, times = 2 },
            action = { value = 0xdead } } } }
         assert.same({ 0xdead, 0xdead, 0x101 }, { rd(0x20), rd(0x20), rd(0x20) })
         assert.equal(3, plan.faults[1].count)	-- seen 3 times, fired twice
         assert.equal(2, plan.faults[1].fired)
      end)

      it("swallows a sync read (all-ones, handler not run) and a write", function()
         load { faults = { { match = { mmio = { bar = 0, offset = { 0x10, 0x14 } } }, action = "swallow" } } }
         assert.equal(0xffffffff, rd(0x20))
         assert.equal(0xffff, rd(0x22, 2))
         assert.equal(0, reads)
         wr(0x10, 1)
         assert.same({}, writes)
      end)

      it("a time window that has not opened never fires; one that is open does", function()
         local plan = load { faults = {
            { name = "later", match = { mmio = { bar = 0, offset = 0x20 }, after = 1e9 }, action = { value = 1 } },
            { name = "now", match = { mmio = { bar = 0, offset = 0x20 }, before = 1e9 }, action = { value = 2 } },
         } }
         assert.equal(2, rd(0x20))
         assert.equal(0, plan.faults[1].fired)
         assert.equal(1, plan.faults[2].fired)
      end)

      it("asks a `when` predicate and runs a `call` action with the access", function()
         local seen
         load { faults = { { match = { mmio = { bar = 0 }, when = function(a) return a.offset == 0x10 and a.value == 3 end },
            action = { call = function(_, a) seen = a.value end } } } }
         wr(0x10, 2)
         assert.is_nil(seen)
         wr(0x10, 3)
         assert.equal(3, seen)
         assert.same({ 2, 3 }, writes)
      end)

      it("logs each firing with the event's sequence number", function()
         local plan = load { faults = { { name = "w2", match = { mmio = { bar = 0, offset = 0x10 }, nth = 2 },
            action = "drop" } } }
         local seqs = {}
         dev:tap(nil, function(_, a) if a.offset == 0x10 then seqs[#seqs + 1] = a.seq end end)
         wr(0x10, 1)
         wr(0x10, 2)
         assert.equal(1, #plan.log)
         assert.equal(seqs[2], plan.log[1].seq)
         assert.equal("w2", plan.log[1].name)
         assert.equal("drop", plan.log[1].action)
      end)
   end)

   describe("config space", function()
      it("drops a config write to a range before the device's handler", function()
         load { faults = { { match = { cfg = { offset = { 0x44, 4 } } }, action = "drop" } } }
         osim:cfg_write(0x48, 4, 1)
         osim:cfg_write(0x44, 4, 2)
         osim:step()
         assert.equal(1, #cfg_writes)
         assert.equal(0x48, cfg_writes[1][1])
      end)
   end)

   describe("DMA", function()
      local addr, p
      before_each(function() addr, p = osim:alloc(8192) end)

      it("flips bytes of a transfer to the host", function()
         load { faults = { { match = { dma = { dir = "write" }, nth = 1 }, action = { flip = { offset = 1, count = 2, mask = 0x0f } } } } }
         assert.is_true(dev:dma_write(addr, "AAAA"))
         assert.equal("A" .. string.char(0x4e, 0x4e) .. "A", ffi.string(p, 4))
         assert.is_true(dev:dma_write(addr, "BBBB"))
         assert.equal("BBBB", ffi.string(p, 4))
      end)

      it("flips bytes of a transfer from the host, in every read form", function()
         ffi.copy(p, "\1\2\3\4\5\6\7\8")
         load { faults = { { match = { dma = { dir = "read", addr = { addr, 4096 } } }, action = "flip" } } }
         assert.equal("\254\2\3\4", dev:dma_read(addr, 4))
         assert.equal(0xfe, dev:dma_read8(addr))
         assert.equal(0x040302fe, dev:dma_read32(addr))
         local buf = ffi.new("uint8_t[8]")
         assert.is_true(dev:dma_read_into(addr, buf, 8))
         assert.equal(0xfe, buf[0])
         assert.equal(8, dev:dma_readv({ { addr, 4 }, { addr + 4, 4 } }, buf))
         assert.equal(0xfe, buf[0])
         assert.equal(5, buf[4])
         -- outside the address range: untouched
         ffi.copy(p + 4096, "\9")
         assert.equal(9, dev:dma_read8(addr + 4096))
      end)

      it("fails a transfer (error) and loses a write (drop)", function()
         load { faults = {
            { match = { dma = { dir = "read", len = { 1, 16 } } }, action = "error" },
            { match = { dma = { dir = "write" } }, action = "drop" },
         } }
         local s, err = dev:dma_read(addr, 8)
         assert.is_nil(s)
         assert.matches("injected", err)
         assert.is_truthy(dev:dma_read(addr, 64))
         assert.is_true(dev:dma_write(addr, "zzzz"))
         assert.equal("\0\0\0\0", ffi.string(p, 4))
         assert.equal(16, dev:dma_writev({ { addr, 16 } }, ffi.new("uint8_t[16]", 7)))
         assert.equal(0, p[0])
      end)

      it("copies the device's buffer before flipping a scatter-gather write", function()
         local buf = ffi.new("uint8_t[8]", 0x11)
         load { faults = { { match = { dma = {} }, action = "flip" } } }
         assert.equal(8, dev:dma_writev({ { addr, 8 } }, buf))
         assert.equal(0xee, p[0])
         assert.equal(0x11, buf[0])
      end)
   end)

   describe("interrupts", function()
      before_each(function() osim:enable_msix(4) end)

      local function vectors()
         local l = {}
         for _, e in ipairs(osim:irqs()) do l[#l + 1] = e.vector end
         osim:clear_irqs()
         return l
      end

      it("drops an interrupt of one vector and duplicates another", function()
         load { faults = {
            { match = { irq = { vector = 1 } }, action = "drop" },
            { match = { irq = { vector = { 2, 3 } } }, action = { duplicate = 2 } },
         } }
         assert.is_true(dev:irq(0))
         assert.is_true(dev:irq(1))
         assert.is_true(dev:irq(2))
         assert.same({ 0, 2, 2, 2 }, vectors())
      end)

      it("gives the same firings for the same seed, other ones for another seed", function()
         local function run(seed)
            local plan = load { seed = seed, faults = { { match = { irq = {}, probability = 0.3 }, action = "drop" } } }
            for _ = 1, 200 do dev:irq(0) end
            local got = #vectors()
            local seqs = {}
            for _, e in ipairs(plan.log) do seqs[#seqs + 1] = e.detail end
            assert.is_true(faults.unload(dev, plan))
            return got, plan.faults[1].fired, plan.faults[1].count
         end
         local a1, f1, c1 = run(42)
         local a2, f2 = run(42)
         local b1, g1 = run(7)
         assert.equal(200, c1)
         assert.equal(a1, a2)
         assert.equal(f1, f2)
         assert.equal(200, a1 + f1)
         assert.is_true(f1 > 20 and f1 < 100, "about 30% dropped, got " .. f1)
         assert.equal(200, b1 + g1)
         assert.are_not.equal(f1, g1)
      end)

      it("fires at nth and then every k-th after it", function()
         local plan = load { faults = { { match = { irq = {}, nth = 3, every = 4 }, action = "drop" } } }
         for _ = 1, 12 do dev:irq(0) end
         assert.equal(3, plan.faults[1].fired)	-- the 3rd, 7th and 11th
         assert.equal(9, #vectors())
      end)
   end)

   describe("plans while running", function()
      it("adds and removes plans; the last unload leaves the device as it was", function()
         osim:enable_msix(4)
         local a = load { name = "a", faults = { { match = { mmio = { bar = 0, offset = 0x20 } }, action = { value = 1 } } } }
         local b = load { name = "b", faults = { { match = { irq = { vector = 0 } }, action = "drop" } } }
         assert.equal(1, rd(0x20))
         dev:irq(0)
         assert.same({}, osim:irqs())
         local l = faults.list(dev)
         assert.equal(2, #l)
         assert.same({ "a", "b" }, { l[1].name, l[2].name })
         assert.equal(1, l[1].fired)
         assert.equal(1, l[2].faults[1].fired)
         assert.is_true(faults.unload(dev, "a"))
         assert.equal(0x101, rd(0x20))
         dev:irq(0)
         assert.same({}, osim:irqs())
         assert.is_true(faults.unload(dev, b.id))
         dev:irq(0)
         assert.equal(1, #osim:irqs())
         assert.is_nil(rawget(dev, "_faults"))
         assert.is_nil(rawget(dev, "irq"))
         assert.equal(0, #(rawget(dev, "_taps") or {}))
         local none, err = faults.unload(dev, a)
         assert.is_nil(none)
         assert.matches("no plan", err)
         assert.same({}, faults.list(dev))
      end)

      it("restores the policy of a register a read matcher made sync", function()
         dev:set_policy(0, 0x30, 4, "posted")
         local plan = load { faults = { { match = { mmio = { bar = 0, offset = 0x30, access = "read" } }, action = { value = 1 } } } }
         local before = osim:counters().sync_roundtrips
         rd(0x30)
         assert.equal(before + 1, osim:counters().sync_roundtrips)
         faults.unload(dev, plan)
         rd(0x30)
         assert.equal(before + 1, osim:counters().sync_roundtrips)
      end)
   end)

   describe("surprise removal", function()
      it("answers all-ones everywhere, drops writes, interrupts and DMA", function()
         osim:enable_msix(4)
         local addr = osim:alloc(4096)
         dev.bar[0].u32[0x40 / 4] = 0x1234
         load { faults = { { match = { mmio = { bar = 0, offset = 0x10, access = "write" }, nth = 2 },
            action = "remove" } } }
         wr(0x10, 1)
         assert.is_false(faults.removed(dev))
         wr(0x10, 2)
         assert.is_true(faults.removed(dev))
         assert.same({ 1 }, writes)
         assert.equal(0xffffffff, rd(0x40))
         assert.equal(0xffffffff, rd(0x20))
         assert.equal(0xffffffff, (osim:mmio_read(2, 0x100, 4)))
         wr(0x10, 3)
         assert.same({ 1 }, writes)
         dev:irq(0)
         assert.same({}, osim:irqs())
         assert.is_nil(dev:dma_read(addr, 4))
         -- the MSI-X table still belongs to the kernel
         assert.are_not.equal(0xffffffff, rd(0x800 + 12))
      end)
   end)
end)
