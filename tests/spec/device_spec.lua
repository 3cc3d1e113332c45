-- SPDX-License-Identifier: MIT
-- The device object on the sim backend: lifecycle, info, BAR views, config
-- access, examples/hello.lua, and the FFI layout of the uapi structs.
local ffi = require("ffi")
local h = require("helper")
local pciem = require("pciem")

describe("device object", function()
   it("loads examples/hello.lua and enumerates it on the sim bus", function()
      local dev = pciem.load(h.top .. "/examples/hello.lua")
      assert.is_true(pciem.is_device(dev))
      assert.are.equal("hello", dev.name)
      assert(dev:start("sim"))
      assert.are.equal("started", dev.state)
      assert.is_truthy(dev.info.pci_name:match("^%x%x%x%x%x:%x%x:%x%x%.%d$"), dev.info.pci_name)
      assert.are.equal(0xbeef1234, dev:cfg_read(0x00))
      assert.are.equal(4096, dev.bar[0].size)
      local ids = {}
      for _, c in ipairs(dev:capabilities()) do ids[#ids + 1] = c.id end
      assert.are.same({ 0x10, 0x01, 0x11 }, ids)
      assert.is_truthy(dev:dump():find("MSI-X: 4 vectors, table BAR0+0x800", 1, true))
      assert.is_true(dev:stop())
      assert.are.equal("stopped", dev.state)
   end)

   it("passes script arguments as ...", function()
      local path = h.script([[
         local pciem = require("pciem")
         local name = ...
         return pciem.device { name = name, vendor = 0x1234, device = 0x2 }
      ]])
      local dev = pciem.load(path, "argdev")
      os.remove(path)
      assert.are.equal("argdev", dev.name)
   end)

   it("gives BAR views of every width over the same shadow", function()
      local dev = h.sim()
      local b = dev.bar[0]
      assert.are.equal(4096, b.size)
      assert.are.equal(dev.info.bar_addr[0], b.addr)
      b.u32[0x10 / 4] = 0x11223344
      assert.are.equal(0x44, b:read8(0x10))
      assert.are.equal(0x1122, b:read16(0x12))
      assert.are.equal(0x11223344, b:read32(0x10))
      b:write64(0x18, 0x0102030405060708ULL)
      assert.are.equal(0x05060708, b.u32[0x18 / 4])
      b:write_bytes(0x20, "abc")
      assert.are.equal("abc", b:read_bytes(0x20, 3))
      assert.are.equal(64, dev.bar[2].bits)
      assert.is_true(dev.bar[2].prefetchable)
      assert.are.equal(2^20, dev.bar[2].size)
      assert.is_nil(dev.bar[1])
      dev:stop()
   end)

   it("raises on out-of-range or misaligned BAR accesses", function()
      local dev = h.sim()
      assert.has_error(function() dev.bar[0]:read32(4096) end)
      assert.has_error(function() dev.bar[0]:read32(2) end)
      assert.has_error(function() dev.bar[0]:write_bytes(4090, "12345678") end)
      dev:stop()
   end)

   it("raises on config access misuse and returns nil, err for refused writes", function()
      local dev = h.sim()
      assert.has_error(function() dev:cfg_read(0, 3) end)
      assert.has_error(function() dev:cfg_read(2, 4) end)
      assert.has_error(function() dev:cfg_read(4096, 1) end)
      local ok, err = dev:cfg_write(0x00, 2, 0x1111)
      assert.is_nil(ok)
      assert.is_string(err)
      dev:stop()
      assert.has_error(function() dev:cfg_read(0) end)
   end)

   it("refuses to start twice and reports stop of a stopped device", function()
      local dev = h.sim()
      assert.has_error(function() dev:start("sim") end)
      assert.is_true(dev:stop())
      local ok, err = dev:stop()
      assert.is_nil(ok)
      assert.is_truthy(err:find("not started"))
   end)

   it("can be started again after stop", function()
      local dev = h.sim()
      dev:stop()
      assert(dev:start("sim"))
      assert.are.equal(0xbeef1234, dev:cfg_read(0))
      dev:stop()
   end)

   it("puts two devices in different slots", function()
      local a, b = h.sim(), h.sim()
      assert.are_not.equal(a.info.pci_name, b.info.pci_name)
      assert.are_not.equal(a.info.bar_addr[0], b.info.bar_addr[0])
      a:stop()
      b:stop()
   end)

   it("explains a missing /dev/pciem on the kernel backend", function()
      local f = io.open("/dev/pciem", "r")
      if f then
         f:close()
         pending("/dev/pciem exists here")
         return
      end
      local dev = pciem.device(h.desc())
      local ok, err = dev:start("kernel")
      assert.is_nil(ok)
      assert.is_truthy(err:find("insmod kmod/pciem.ko", 1, true), err)
      assert.are.equal("described", dev.state)
   end)

   it("refuses an unknown backend", function()
      local dev = pciem.device(h.desc())
      assert.has_error(function() dev:start("qemu") end)
   end)

   it("keeps OS-side config access to the sim backend", function()
      local pffi = require("pciem.ffi")
      local out = ffi.new("struct pl_dev *[1]")
      assert.are.equal(0, pffi.C.pciem_ffi_dev_new("kernel", out))
      local v = ffi.new("uint32_t[1]")
      assert.are.equal(-95, pffi.C.pciem_ffi_os_cfg_read(out[0], 0, 4, v))  -- EOPNOTSUPP
      pffi.C.pciem_ffi_dev_free(out[0])
   end)
end)

-- Size of a struct field: arrays and unions are cdata; an integer field is
-- measured by storing all-ones in a zeroed struct and counting the bytes set.
local function field_size(ctype, field)
   local s = ffi.new(ctype)
   if type(s[field]) == "cdata" then return ffi.sizeof(s[field]) end
   s[field] = -1
   local bytes, n = ffi.cast("uint8_t *", s), 0
   for i = 0, ffi.sizeof(s) - 1 do
      if bytes[i] == 0xff then n = n + 1 end
   end
   return n
end

describe("uapi layout", function()
   it("matches the C compiler for every struct and field", function()
      local prog = assert(os.getenv("PCIEM_LAYOUT"), "PCIEM_LAYOUT not set (run through make test-spec)")
      local p = assert(io.popen(prog))
      local structs, fields = 0, 0
      for line in p:lines() do
         local s, size = line:match("^struct (%S+) (%d+)$")
         if s then
            structs = structs + 1
            assert.are.equal(tonumber(size), ffi.sizeof("struct " .. s), "sizeof struct " .. s)
         end
         local fs, f, off, fsize = line:match("^field (%S+) (%S+) (%d+) (%d+)$")
         if fs then
            fields = fields + 1
            assert.are.equal(tonumber(off), ffi.offsetof("struct " .. fs, f), fs .. "." .. f)
            assert.are.equal(tonumber(fsize), field_size("struct " .. fs, f), "sizeof " .. fs .. "." .. f)
         end
      end
      p:close()
      assert.is_true(structs >= 10, "only " .. structs .. " structs")
      assert.is_true(fields >= 50, "only " .. fields .. " fields")
   end)
end)
