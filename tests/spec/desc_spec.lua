-- SPDX-License-Identifier: MIT
-- Description validation: every bad description is refused with a message
-- naming the field path, before any backend is touched.
local h = require("helper")

describe("description", function()
   it("accepts the full example description", function()
      assert.is_nil(h.device_error(h.desc()))
   end)

   it("accepts a minimal description with defaults", function()
      local pciem = require("pciem")
      local dev = pciem.device { vendor = 0x1234, device = 0x1 }
      assert.are.equal(0xff0000, dev.desc.class)
      assert.are.equal(0, dev.desc.interrupt_pin)
      assert.are.equal("describe", dev.state == "described" and "describe" or dev.state)
   end)

   local cases = {
      -- { what, change(d), expected substrings (plain) }
      { "unknown top-level field, with a suggestion", function(d) d.vendr = 1 end,
        { "vendr: unknown field", "did you mean 'vendor'" } },
      { "unknown BAR field, with a suggestion", function(d) d.bars[0].prefetchabel = true end,
        { "bars[0].prefetchabel: unknown field", "'prefetchable'" } },
      { "unknown cap field", function(d) d.caps[4].tabel = {} end,
        { "caps[4] (msix).tabel: unknown field", "'table'" } },
      { "unknown field in a nested table", function(d) d.caps[4].table.ofset = 1 end,
        { "caps[4] (msix).table.ofset: unknown field", "'offset'" } },
      { "unknown capability kind", function(d) d.caps[1][1] = "pcei" end,
        { "caps[1]: unknown capability kind 'pcei'", "did you mean 'pcie'" } },
      { "missing capability kind", function(d) d.caps[1] = { port = "endpoint" } end,
        { "caps[1]: the first value must be the capability kind" } },
      { "missing vendor", function(d) d.vendor = nil end, { "vendor: is required" } },
      { "vendor of the wrong type", function(d) d.vendor = "0x1234" end,
        { "vendor: expected an integer" } },
      { "vendor out of range", function(d) d.vendor = 0x10000 end, { "vendor: 65536 is out of range" } },
      { "invalid vendor 0xffff (engine)", function(d) d.vendor = 0xffff end,
        { "vendor: ", "not a valid vendor" } },
      { "name with a bad character (engine)", function(d) d.name = "he llo" end, { "name: " } },
      { "name too long", function(d) d.name = ("x"):rep(40) end, { "name: ", "1..31" } },
      { "bad interrupt pin", function(d) d.interrupt_pin = "E" end, { "interrupt_pin: 'E' is not one of" } },
      { "BAR index 6", function(d) d.bars[6] = { size = 4096 } end, { "bars: key 6 is not a BAR index" } },
      { "BAR size of the wrong type", function(d) d.bars[0].size = true end,
        { "bars[0].size: expected a size" } },
      { "BAR size that is not a size", function(d) d.bars[0].size = "4 lots" end,
        { "bars[0].size: '4 lots' is not a size" } },
      { "BAR size not a power of two", function(d) d.bars[0].size = 0x3000 end,
        { "bars[0].size: ", "not a power of two" } },
      { "BAR size below 4 KiB", function(d) d.bars[0].size = 2048 end,
        { "bars[0].size: ", "below the minimum" } },
      { "BAR bits not 32 or 64", function(d) d.bars[0].bits = 16 end, { "bars[0].bits: 16" } },
      { "prefetchable not a boolean", function(d) d.bars[0].prefetchable = 1 end,
        { "bars[0].prefetchable: expected true or false" } },
      { "64-bit BAR at index 5", function(d) d.bars[5] = { size = 4096, bits = 64 } end,
        { "bars[5].bits: ", "index 5" } },
      { "64-bit BAR colliding with the next index", function(d) d.bars[3] = { size = 4096 } end,
        { "bars[3]", "upper half of 64-bit bar 2" } },
      { "too many MSI vectors", function(d) d.caps[3].vectors = 64 end,
        { "caps[3] (msi).vectors: ", "not 1, 2, 4, 8, 16 or 32" } },
      { "MSI vector count not a power of two", function(d) d.caps[3].vectors = 3 end,
        { "caps[3] (msi).vectors: " } },
      { "too many MSI-X vectors", function(d) d.caps[4].vectors = 4096 end,
        { "caps[4] (msix).vectors: ", "1..2048" } },
      { "MSI-X table outside its BAR", function(d) d.caps[4].table.offset = 0xff0 end,
        { "caps[4] (msix).table.offset: ", "does not fit" } },
      { "MSI-X table in an absent BAR", function(d) d.caps[4].table.bar = 1 end,
        { "caps[4] (msix).table.bar: ", "not described" } },
      { "MSI-X table overlapping the PBA", function(d) d.caps[4].pba.offset = 0x810 end,
        { "caps[4] (msix).pba.offset: ", "overlaps" } },
      { "MSI-X table offset missing", function(d) d.caps[4].table.offset = nil end,
        { "caps[4] (msix).table.offset: is required" } },
      { "MSI-X offset misaligned", function(d) d.caps[4].table.offset = 0x804 end,
        { "caps[4] (msix).table.offset: ", "8-byte aligned" } },
      { "capability offsets overlapping", function(d)
           d.caps[1].offset = 0x40
           d.caps[2].offset = 0x48
        end, { "caps[2] (pm).offset: ", "overlaps" } },
      { "capability offset misaligned", function(d) d.caps[1].offset = 0x42 end,
        { "caps[1] (pcie).offset: ", "dword aligned" } },
      { "PCIe port name unknown", function(d) d.caps[1].port = "root" end,
        { "caps[1] (pcie).port: 'root' is not one of" } },
      { "PCIe payload not a size the spec has", function(d) d.caps[1].max_payload = 300 end,
        { "caps[1] (pcie).max_payload: 300" } },
      { "PM state unknown", function(d) d.caps[2].pme = { "D0", "D4" } end,
        { "caps[2] (pm).pme[2]: 'D4' is not a power state" } },
      { "PME from D2 without D2", function(d) d.caps[2].pme = { "D2" } end,
        { "caps[2] (pm).pme: " } },
      { "two MSI capabilities", function(d) d.caps[7] = { "msi" } end, { "caps[7] (msi)", "already described" } },
      { "vendor payload of the wrong type", function(d) d.caps[5].data = 5 end,
        { "caps[5] (vendor).data: expected a string" } },
      { "vendor payload too long", function(d) d.caps[5].data = ("x"):rep(300) end,
        { "caps[5] (vendor).data: " } },
      { "extended capability payload not a multiple of 4", function(d) d.caps[6].data = "abc" end,
        { "caps[6] (ext).data: ", "multiple of 4" } },
      { "extended capability id missing", function(d) d.caps[6].id = nil end,
        { "caps[6] (ext).id: is required" } },
      { "caps as a map", function(d) d.caps.pcie = {} end, { "caps: must be a list" } },
      { "description is not a table", function(d) d.bars = 7 end, { "bars: expected a table" } },
   }

   for _, case in ipairs(cases) do
      it("refuses " .. case[1], function()
         local err = h.device_error(h.desc(case[2]))
         assert.is_string(err, "the description was accepted")
         for _, want in ipairs(case[3]) do
            assert.is_truthy(err:find(want, 1, true),
               ("message %q does not contain %q"):format(err, want))
         end
      end)
   end

   it("points the message at the caller's file and line", function()
      local pciem = require("pciem")
      local ok, err = pcall(function()
         local dev = pciem.device(h.desc(function(d) d.bars[0].size = 100 end))
         return dev
      end)
      assert.is_false(ok)
      assert.is_truthy(err:find("^[^:]*desc_spec%.lua:%d+: bars%[0%]%.size"), err)
   end)

   it("parses sizes in every documented form", function()
      local desc = require("pciem.desc")
      assert.are.equal(4096, desc.parse_size(4096, "x"))
      assert.are.equal(4096, desc.parse_size("4K", "x"))
      assert.are.equal(65536, desc.parse_size("64 KiB", "x"))
      assert.are.equal(2^20, desc.parse_size("1M", "x"))
      assert.are.equal(16 * 2^30, desc.parse_size("16G", "x"))
      assert.are.equal(0x2000, desc.parse_size("0x2000", "x"))
   end)
end)
