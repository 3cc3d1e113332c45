-- SPDX-License-Identifier: MIT
-- pciem.regmap: the format's checks, field decode and encode (64-bit fields too),
-- and the NVMe map against the live model's registers on the sim.
local regmap = require("pciem.regmap")
local fx = require("nvme_fixture")

local function err_of(spec)
   local ok, err = pcall(regmap.new, spec)
   assert.is_false(ok)
   return tostring(err)
end

describe("regmap", function()
   local small = {
      name = "t", bar = 0,
      registers = {
         { name = "CTRL", offset = 0x4, fields = {
            { name = "EN", bits = 0 },
            { name = "MODE", bits = { 4, 6 }, values = { [0] = "off", [3] = "fast" } },
         } },
         { name = "BASE", offset = 0x8, width = 8, fields = { { name = "ADDR", bits = { 12, 63 } } } },
      },
   }

   it("names the field of a malformed map", function()
      assert.is_truthy(err_of({ registers = { { name = "X", offset = 2 } } })
         :find("registers[1] (X).offset: a 4-byte aligned offset expected", 1, true))
      assert.is_truthy(err_of({ registers = { { name = "X", offset = 0,
         fields = { { name = "F", bits = { 3, 40 } } } } } })
         :find("registers[1] (X).fields[1].bits", 1, true))
      assert.is_truthy(err_of({ registers = { { name = "X", offset = 0, width = 3 } } })
         :find("width: 1, 2, 4 or 8 expected", 1, true))
      assert.is_truthy(err_of({ registers = { { name = "X", offset = 0 }, { name = "X", offset = 4 } } })
         :find("defined twice", 1, true))
   end)

   it("finds registers by name (any case) and by address", function()
      local m = regmap.new(small)
      assert.are.equal(0x4, m:find("CTRL").offset)
      assert.are.equal(0x4, m:find("ctrl").offset)
      assert.is_nil(m:find("NOPE"))
      assert.are.equal("BASE", m:at(0, 0xc).name)
      assert.is_nil(m:at(1, 0x4))
      local reg, f = m:resolve("CTRL.MODE")
      assert.are.equal("CTRL", reg.name)
      assert.are.equal(4, f.lo)
      local none, why = m:resolve("CTRL.SPEED")
      assert.is_nil(none)
      assert.is_truthy(why:find("fields: EN MODE", 1, true), why)
   end)

   it("decodes and encodes fields, also across the halves of a 64-bit register", function()
      local m = regmap.new(small)
      local ctrl, base = m:find("CTRL"), m:find("BASE")
      assert.are.equal(3, regmap.field_value(ctrl.field.MODE, 0x31))
      assert.are.equal("EN=1 MODE=3(fast)", regmap.fields_text(ctrl, 0x31))
      assert.are.equal(0x21, regmap.with_field(ctrl.field.MODE, 0x31, 2))
      local v = 0x123456789000
      assert.are.equal(0x123456789, regmap.field_value(base.field.ADDR, v))
      assert.are.equal(0xabcdef01000, regmap.with_field(base.field.ADDR, v, 0xabcdef01))
      assert.is_truthy(regmap.format(base, v):find("BASE     bar0+0x8    = 0x0000123456789000", 1, true))
   end)

   it("lists names and REG.FIELD for completion", function()
      local names = table.concat(regmap.new(small):names(), " ")
      assert.are.equal("CTRL CTRL.EN CTRL.MODE BASE BASE.ADDR", names)
   end)
end)

describe("the NVMe register map", function()
   local dev, osim, h
   after_each(function() fx.stop(dev, osim, h); dev, osim, h = nil, nil, nil end)

   it("decodes CAP, CC and CSTS of an enabled controller", function()
      dev, osim, h = fx.ready(0)
      local m = regmap.new(require("nvme.regmap"))
      local csts = regmap.view(dev, m:find("CSTS"))
      assert.are.equal(1, csts.RDY)
      assert.are.equal(0, csts.CFS)
      assert.is_truthy(tostring(csts):find("RDY=1 CFS=0 SHST=0(normal operation)", 1, true),
         tostring(csts))
      local cc = regmap.view(dev, m:find("CC"))
      assert.are.equal(1, cc.EN)
      assert.are.equal(6, cc.IOSQES)
      local cap = regmap.view(dev, m:find("CAP"))
      assert.are.equal(1023, cap.MQES)
      assert.are.equal(1, cap.CSS)
      assert.are.equal(1, cap.NSSRS)
      assert.are.equal(4, cap.MPSMAX)
      assert.are.equal(0x00010400, regmap.view(dev, m:find("VS")).value)
      -- doorbells are in the map but not in the default dump
      assert.are.equal(0x1008, m:find("SQ1TDBL").offset)
      local dump = m:dump(dev)
      assert.is_truthy(dump:find("CSTS", 1, true))
      assert.is_falsy(dump:find("SQ1TDBL", 1, true))
   end)

   it("writes a field into the shadow through a view", function()
      dev, osim, h = fx.start()
      local m = regmap.new(require("nvme.regmap"))
      local aqa = regmap.view(dev, m:find("AQA"))
      aqa.ACQS = 31
      aqa.ASQS = 15
      assert.are.equal(0x001f000f, dev.bar[0].u32[0x24 / 4])
      assert.has_error(function() aqa.ASQS = 5000 end)
      assert.has_error(function() return aqa.NOPE end)
   end)
end)

describe("the pci_epf_test register map", function()
   it("is a valid map that decodes STATUS and IRQ_TYPE", function()
      local m = regmap.new(dofile(require("helper").top .. "/devices/pci_epf_test/regmap.lua"))
      local st = m:find("STATUS")
      assert.are.equal(0x08, st.offset)
      local text = regmap.fields_text(st, 0x41)
      assert.is_truthy(text:find("READ_SUCCESS=1", 1, true) and text:find("IRQ_RAISED=1", 1, true), text)
      assert.are.equal("TYPE=0x2(MSI-X)", regmap.fields_text(m:find("IRQ_TYPE"), 2))
   end)

   it("is the map devices/pci_epf_test.lua gives its device; a register without a section formats", function()
      local dev = require("pciem").load(require("helper").top .. "/devices/pci_epf_test.lua")
      assert.is_table(dev.regmap)
      local m = regmap.new(dev.regmap)
      local line = regmap.format(m:find("STATUS"), 0x40)
      assert.is_truthy(line:find("IRQ_RAISED=1", 1, true), line)
      assert.is_truthy(line:find("[result of the last operation]", 1, true), line)
   end)
end)
