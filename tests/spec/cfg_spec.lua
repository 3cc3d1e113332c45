-- SPDX-License-Identifier: MIT
-- Config space semantics through the sim bus, the test acting as the OS:
-- BAR sizing, write masks, RW1C, and the capability chain as described.
local bit = require("bit")
local band, bor, rshift = bit.band, bit.bor, bit.rshift
local h = require("helper")

local function u32(v) return v % 2^32 end

describe("sim config space", function()
   local dev
   before_each(function()
      dev = h.sim(h.desc(function(d)
         d.bars[1] = { size = "8K", prefetchable = true }
      end))
   end)
   after_each(function()
      dev:stop()
   end)

   local function size_bar(off)
      local saved = dev:os_cfg_read(off)
      dev:os_cfg_write(off, 4, 0xffffffff)
      local mask = dev:os_cfg_read(off)
      dev:os_cfg_write(off, 4, saved)
      assert.are.equal(saved, dev:os_cfg_read(off))
      return mask
   end

   it("sizes a 32-bit BAR", function()
      assert.are.equal(0xfffff000, size_bar(0x10))
   end)

   it("sizes a 32-bit prefetchable BAR", function()
      assert.are.equal(u32(bor(0xffffe000, 0x8)), size_bar(0x14))
   end)

   it("sizes a 64-bit prefetchable BAR across both dwords", function()
      local lo, hi = dev:os_cfg_read(0x18), dev:os_cfg_read(0x1c)
      dev:os_cfg_write(0x18, 4, 0xffffffff)
      dev:os_cfg_write(0x1c, 4, 0xffffffff)
      assert.are.equal(0xfff0000c, dev:os_cfg_read(0x18))
      assert.are.equal(0xffffffff, dev:os_cfg_read(0x1c))
      dev:os_cfg_write(0x18, 4, lo)
      dev:os_cfg_write(0x1c, 4, hi)
      assert.are.equal(dev.info.bar_addr[2], (dev:os_cfg_read(0x18) - 0xc) + dev:os_cfg_read(0x1c) * 2^32)
   end)

   it("reads 0 from an absent BAR and ignores writes to it", function()
      dev:os_cfg_write(0x20, 4, 0xffffffff)
      assert.are.equal(0, dev:os_cfg_read(0x20))
   end)

   it("has the BAR addresses the sim assigned, as the OS reads them", function()
      assert.are_not.equal(0, dev.info.bar_addr[0])
      assert.are.equal(dev.info.bar_addr[0], band(dev:os_cfg_read(0x10), bit.bnot(0xf)) % 2^32)
   end)

   it("keeps the IDs read-only", function()
      dev:os_cfg_write(0x00, 4, 0)
      assert.are.equal(0xbeef1234, dev:os_cfg_read(0x00))
      dev:os_cfg_write(0x2c, 4, 0)
      assert.are.equal(0x00011234, dev:os_cfg_read(0x2c))
      assert.are.equal(0xff0000, rshift(dev:os_cfg_read(0x08), 8))
   end)

   it("lets the OS write only the Command bits it owns", function()
      dev:os_cfg_write(0x04, 2, 0xffff)
      assert.are.equal(0x0547, dev:os_cfg_read(0x04, 2))
      dev:os_cfg_write(0x04, 2, 0)
      assert.are.equal(0, dev:os_cfg_read(0x04, 2))
   end)

   it("makes Interrupt Line writable and Interrupt Pin read-only", function()
      dev:os_cfg_write(0x3c, 1, 0x0b)
      dev:os_cfg_write(0x3d, 1, 0x03)
      assert.are.equal(0x0b, dev:os_cfg_read(0x3c, 1))
      assert.are.equal(0x01, dev:os_cfg_read(0x3d, 1))
   end)

   it("clears Status error bits the OS writes 1 to (RW1C), and only those", function()
      local status = dev:cfg_read(0x06, 2)
      assert.is_true(dev:cfg_write(0x06, 2, bor(status, 0x2000)))  -- received master abort
      assert.are.equal(bor(status, 0x2000), dev:os_cfg_read(0x06, 2))
      dev:os_cfg_write(0x06, 2, 0)
      assert.are.equal(bor(status, 0x2000), dev:os_cfg_read(0x06, 2))
      dev:os_cfg_write(0x06, 2, 0x2000)
      assert.are.equal(status, dev:os_cfg_read(0x06, 2))
      assert.are_not.equal(0, band(status, 0x10))      -- capability list still there
   end)

   it("refuses device-side writes to module-owned bytes", function()
      local ok, err = dev:cfg_write(0x10, 4, 0)
      assert.is_nil(ok)
      assert.is_truthy(err:find("offset 0x01[0-3].*not writable"), err)
   end)

   it("chains the capabilities from 0x34 in the described order", function()
      local ids = {}
      for _, c in ipairs(dev:capabilities()) do
         ids[#ids + 1] = (c.ext and "e" or "") .. ("%02x"):format(c.id)
      end
      assert.are.same({ "10", "01", "05", "11", "09", "e0b" }, ids)
      local caps = dev:capabilities()
      assert.are.equal(0x100, caps[6].offset)
      assert.are.equal(1, caps[6].version)
      for i = 1, 5 do assert.is_true(caps[i].offset >= 0x40 and caps[i].offset < 0x100) end
   end)

   local function cap(id)
      for _, c in ipairs(dev:capabilities()) do
         if c.id == id and not c.ext then return c.offset end
      end
      error("no capability " .. id)
   end

   it("describes the PCIe endpoint with its max payload", function()
      local o = cap(0x10)
      assert.are.equal(0, band(rshift(dev:os_cfg_read(o + 2, 2), 4), 0xf))  -- endpoint
      assert.are.equal(2, band(dev:os_cfg_read(o + 2, 2), 0xf))             -- version 2
      assert.are.equal(1, band(dev:os_cfg_read(o + 4), 7))                  -- 256 bytes
   end)

   it("describes PM with D1 and PME from D0 and D3hot", function()
      local pmc = dev:os_cfg_read(cap(0x01) + 2, 2)
      assert.are_not.equal(0, band(pmc, 0x200))
      assert.are.equal(0, band(pmc, 0x400))
      assert.are.equal(bor(0x0800, 0x4000), band(pmc, 0xf800))
   end)

   it("describes MSI with 4 vectors, 64-bit, per-vector masking; the OS can enable it", function()
      local o = cap(0x05)
      local ctl = dev:os_cfg_read(o + 2, 2)
      assert.are.equal(2, band(rshift(ctl, 1), 7))
      assert.are_not.equal(0, band(ctl, 0x80))
      assert.are_not.equal(0, band(ctl, 0x100))
      dev:os_cfg_write(o + 2, 2, bor(ctl, 1))
      assert.are.equal(1, band(dev:os_cfg_read(o + 2, 2), 1))
   end)

   it("describes MSI-X with its table and PBA in BAR0", function()
      local o = cap(0x11)
      assert.are.equal(3, band(dev:os_cfg_read(o + 2, 2), 0x7ff))
      assert.are.equal(0x800, dev:os_cfg_read(o + 4))
      assert.are.equal(0xc00, dev:os_cfg_read(o + 8))
      dev:os_cfg_write(o + 4, 4, 0x123)
      assert.are.equal(0x800, dev:os_cfg_read(o + 4))
   end)

   it("carries the vendor-specific payload", function()
      local o = cap(0x09)
      assert.are.equal(7, dev:os_cfg_read(o + 2, 1))
      for i = 1, 4 do assert.are.equal(i, dev:os_cfg_read(o + 2 + i, 1)) end
   end)

   it("carries the raw extended capability", function()
      assert.are.equal(0x000b, band(dev:os_cfg_read(0x100), 0xffff))
      assert.are.equal(0, dev:os_cfg_read(0x104))
      assert.are.equal(0, dev:os_cfg_read(0x108))
   end)
end)
