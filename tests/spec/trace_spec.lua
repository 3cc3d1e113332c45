-- SPDX-License-Identifier: MIT
-- pciem.trace on the sim: JSON lines for config writes, MMIO, DMA, interrupts
-- and faults with sequence numbers, register names from dev.regmap, the
-- per-register summary, and nothing left hooked once tracing stops.
local sim = require("pciem.sim")
local faults = require("pciem.faults")
local trace = require("pciem.trace")
local helper = require("helper")
local fx = require("nvme_fixture")

local dev, osim, path

local function slurp(p)
   local f = assert(io.open(p, "r"))
   local s = f:read("*a")
   f:close()
   return s
end

local function records(p)
   local l = {}
   for line in slurp(p):gmatch("[^\n]+") do l[#l + 1] = assert(trace.decode(line), line) end
   return l
end

local function of_kind(recs, kind)
   local l = {}
   for _, r in ipairs(recs) do if r.kind == kind then l[#l + 1] = r end end
   return l
end

describe("trace", function()
   before_each(function()
      dev = helper.sim()
      dev.regmap = { name = "spec", bar = 0, registers = {
         { name = "CTRL", offset = 0x10, width = 4 },
         { name = "STATUS", offset = 0x14, width = 4 },
      } }
      dev:on_write(0, { 0x10, 4 }, function(d, _, v) d.bar[0].u32[0x14 / 4] = v end)
      dev:set_policy(0, 0x14, 4, "sync")
      osim = sim.new(dev)
      osim:enable_memory(true)
      osim:bus_master(true)
      osim:step()
      path = os.tmpname()
   end)
   after_each(function()
      trace.stop(dev)
      osim:close()
      if dev.state == "started" then dev:stop() end
      os.remove(path)
   end)

   it("records MMIO and config accesses with seq, time, width, value and register name", function()
      assert.is_true(trace.start(dev, path))
      osim:mmio_write(0, 0x10, 4, 0xabc)
      osim:step()
      assert.equal(0xabc, (osim:mmio_read(0, 0x14, 4)))
      osim:cfg_write(0x44, 4, 7)
      osim:step()
      assert.equal(3, trace.stop(dev))
      local r = records(path)
      assert.equal(3, #r)
      assert.same({ "mmio_write", "mmio_read", "cfg" }, { r[1].kind, r[2].kind, r[3].kind })
      assert.same({ 0, 0x10, 4, 0xabc, "CTRL" }, { r[1].bar, r[1].offset, r[1].width, r[1].value, r[1].name })
      assert.same({ 0, 0x14, 0xabc, "STATUS" }, { r[2].bar, r[2].offset, r[2].value, r[2].name })
      assert.same({ 0x44, 4, 7 }, { r[3].offset, r[3].width, r[3].value })
      assert.is_nil(r[3].bar)
      assert.is_true(r[1].seq < r[2].seq and r[2].seq < r[3].seq)
      assert.is_true(r[1].t <= r[2].t and r[2].t <= r[3].t)
   end)

   it("records DMA and interrupts by wrapping the device's methods", function()
      osim:enable_msix(4)
      local addr = osim:alloc(4096)
      assert.is_true(trace.start(dev, path))
      dev:dma_write(addr, "hello")
      dev:dma_read(addr + 8, 16)
      dev:dma_read32(addr)
      dev:irq(2)
      trace.stop(dev)
      local r = records(path)
      assert.same({ "dma_write", "dma_read", "dma_read", "irq" }, { r[1].kind, r[2].kind, r[3].kind, r[4].kind })
      assert.same({ addr, 5 }, { r[1].addr, r[1].len })
      assert.same({ addr + 8, 16 }, { r[2].addr, r[2].len })
      assert.equal(4, r[3].len)
      assert.equal(2, r[4].vector)
   end)

   it("records faults as they fire, with the event's sequence number", function()
      assert.is_true(trace.start(dev, path))
      local plan = assert(faults.load(dev, { quiet = true, faults = { { name = "ctrl-drop",
         match = { mmio = { bar = 0, offset = 0x10 } }, action = "drop" } } }))
      osim:mmio_write(0, 0x10, 4, 1)
      osim:step()
      faults.unload(dev, plan)
      trace.stop(dev)
      local r = records(path)
      local f = of_kind(r, "fault")
      assert.equal(1, #f)
      assert.equal("ctrl-drop", f[1].name)
      assert.equal("drop", f[1].action)
      assert.equal(of_kind(r, "mmio_write")[1].seq, f[1].seq)
   end)

   it("leaves nothing hooked after stop, and refuses a second start", function()
      assert.is_true(trace.start(dev, path))
      local again, err = trace.start(dev, path .. ".2")
      assert.is_nil(again)
      assert.matches("already tracing", err)
      trace.stop(dev)
      assert.is_nil(rawget(dev, "_trace"))
      assert.is_nil(rawget(dev, "irq"))
      assert.equal(0, #(rawget(dev, "_taps") or {}))
      assert.is_nil(trace.stop(dev))
      local none, e2 = trace.start(dev, "/nonexistent/dir/trace.jsonl")
      assert.is_nil(none)
      assert.matches("trace:", e2)
      assert.has_error(function() trace.start(dev) end)
   end)

   it("summarises per register and per kind", function()
      osim:enable_msix(4)
      osim:step()
      assert.is_true(trace.start(dev, path))
      for i = 1, 3 do
         osim:mmio_write(0, 0x10, 4, i)
         osim:step()
      end
      osim:mmio_read(0, 0x14, 4)
      dev:irq(1)
      dev:irq(1)
      trace.stop(dev)
      local c = assert(trace.counts(path))
      assert.equal(6, c.records)
      assert.equal(3, c.kinds.mmio_write)
      assert.equal(1, c.kinds.mmio_read)
      assert.equal(2, c.vectors[1])
      assert.same({ "CTRL", 0, 3 }, { c.regs[1].name, c.regs[1].reads, c.regs[1].writes })
      assert.same({ "STATUS", 1, 0 }, { c.regs[2].name, c.regs[2].reads, c.regs[2].writes })
      local out = path .. ".txt"
      assert.is_true(trace.summary(path, out))
      local text = slurp(out)
      os.remove(out)
      assert.matches("6 records", text)
      assert.matches("0x0010%s+CTRL%s+0%s+3", text)
      assert.matches("0x0014%s+STATUS%s+1%s+0", text)
      assert.matches("mmio_write%s+3", text)
      assert.matches("irq%s+2", text)
      local none, err = trace.summary("/nonexistent.jsonl")
      assert.is_nil(none)
      assert.matches("trace%-summary", err)
   end)

   it("can start before the device does, and then sees its first accesses", function()
      local d = require("pciem").device(helper.desc())
      local p2 = os.tmpname()
      assert.is_true(trace.start(d, p2))
      assert(d:start("sim"))
      local o = sim.new(d)
      o:enable_memory(true)
      o:mmio_write(0, 0x10, 4, 3)
      o:step()
      assert.equal(2, trace.stop(d))
      local r = records(p2)
      assert.same({ "cfg", "mmio_write" }, { r[1].kind, r[2].kind })
      assert.equal(1, r[1].seq)
      o:close()
      d:stop()
      os.remove(p2)
   end)

   it("encodes and decodes a record: strings, 64-bit values, escapes", function()
      local line = trace.encode({ seq = 3, kind = "fault", name = 'a "q"\n', value = 2 ^ 40, detail = "x" })
      assert.equal('{"seq":3,"kind":"fault","value":1099511627776,"name":"a \\"q\\"\\n","detail":"x"}', line)
      local r = trace.decode(line)
      assert.same({ seq = 3, kind = "fault", name = 'a "q"\n', value = 2 ^ 40, detail = "x" }, r)
      assert.is_nil(trace.decode("not json"))
   end)
end)

describe("trace on the nvme model", function()
   local h
   after_each(function()
      if dev then trace.stop(dev) end
      fx.stop(dev, osim, h)
      dev, osim, h = nil, nil, nil
      if path then os.remove(path) end
   end)

   it("names NVMe registers, sees doorbells, DMA and interrupts in either I/O mode", function()
      for _, mode in ipairs(fx.modes()) do
         dev, osim, h = fx.ready(1, 16, mode)
         path = os.tmpname()
         assert.is_true(trace.start(dev, path))
         if dev.nvme.ctrl.st ~= nil then assert.equal(1, dev.nvme.ctrl.st.lua_only) end
         assert.is_true(h:write(1, 0, 1, ("x"):rep(h:block_size(1))).ok)
         trace.stop(dev)
         if dev.nvme.ctrl.st ~= nil then assert.equal(0, dev.nvme.ctrl.st.lua_only) end
         local c = assert(trace.counts(path))
         assert.is_true((c.kinds.mmio_write or 0) >= 2, mode)
         assert.is_true((c.kinds.dma_read or 0) >= 2, mode)	-- the SQE and the data
         assert.is_true((c.kinds.dma_write or 0) >= 1, mode)	-- the completion
         assert.is_true((c.kinds.irq or 0) >= 1, mode)
         if dev.regmap then
            local named = false
            for _, r in ipairs(c.regs) do named = named or r.name ~= nil end
            assert.is_true(named, mode)
         end
         fx.stop(dev, osim, h)
         os.remove(path)
         dev, osim, h, path = nil, nil, nil, nil
      end
   end)
end)
