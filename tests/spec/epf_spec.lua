-- SPDX-License-Identifier: MIT
-- devices/pci_epf_test.lua on the sim backend, driven the way Linux's
-- pci_endpoint_test driver drives it: registers through the bus, host memory
-- for the transfers, interrupts from the sim's log.
local bit = require("bit")
local ffi = require("ffi")
local pciem = require("pciem")
local sim = require("pciem.sim")
local helper = require("helper")

pcall(ffi.cdef, "int memcmp(const void *a, const void *b, size_t n);")

local SCRIPT = helper.top .. "/devices/pci_epf_test.lua"

-- Offsets and bits as drivers/misc/pci_endpoint_test.c defines them.
local MAGIC, COMMAND, STATUS = 0x00, 0x04, 0x08
local SRC_LO, SRC_HI, DST_LO, DST_HI = 0x0c, 0x10, 0x14, 0x18
local SIZE, CHECKSUM, IRQ_TYPE, IRQ_NUMBER, FLAGS = 0x1c, 0x20, 0x24, 0x28, 0x2c
local CMD_LEGACY, CMD_MSI, CMD_MSIX = 0x01, 0x02, 0x04
local CMD_READ, CMD_WRITE, CMD_COPY = 0x08, 0x10, 0x20
local ST_READ_OK, ST_READ_FAIL, ST_WRITE_OK, ST_WRITE_FAIL = 0x01, 0x02, 0x04, 0x08
local ST_COPY_OK, ST_COPY_FAIL, ST_IRQ = 0x10, 0x20, 0x40
local ST_SRC_INVALID, ST_DST_INVALID = 0x80, 0x100
local T_LEGACY, T_MSI, T_MSIX = 0, 1, 2

-- The spec's own CRC (bit by bit, not the device's table): crc32_le(~0, p, n).
local function crc32_ref(p, n)
   local c = 0xffffffff
   for i = 0, n - 1 do
      c = bit.bxor(c, p[i])
      for _ = 1, 8 do
         if bit.band(c, 1) ~= 0 then
            c = bit.bxor(bit.rshift(c, 1), 0xedb88320)
         else
            c = bit.rshift(c, 1)
         end
      end
   end
   c = bit.tobit(c)
   return c < 0 and c + 2 ^ 32 or c
end

local function fill(p, n, seed)
   local x = seed
   for i = 0, n - 1 do
      x = (x * 1103515245 + 12345) % 2 ^ 31
      p[i] = bit.rshift(x, 16) % 256
   end
end

local dev, osim

local function start(...)
   dev = pciem.load(SCRIPT, ...)
   assert(dev:start("sim"))
   osim = sim.new(dev)
   osim:enable_memory()
   osim:bus_master()
end

local function stop()
   if osim then osim:close() end
   if dev and dev.state == "started" then dev:stop() end
   dev, osim = nil, nil
end

local function wr(off, v) assert.equal("ok", osim:mmio_write(0, off, 4, v)) end
local function rd(off)
   local v, st = osim:mmio_read(0, off, 4)
   assert.equal("ok", st)
   return v
end

-- What pci_endpoint_test does for one command, up to its interrupt wait:
-- the posted COMMAND write reaches the device at the host's next step.
local function command(cmd, irq_type, number)
   wr(IRQ_TYPE, irq_type)
   wr(IRQ_NUMBER, number)
   wr(COMMAND, cmd)
   osim:step()
end

-- The driver's interrupt handler: STATUS read, IRQ_RAISED cleared, written back.
local function ack()
   local st = rd(STATUS)
   wr(STATUS, bit.band(st, bit.bnot(ST_IRQ)))
   osim:step()
   return st
end

local function set_addr(lo, hi, addr)
   wr(lo, addr % 2 ^ 32)
   wr(hi, math.floor(addr / 2 ^ 32))
end

describe("pci_epf_test", function()
   after_each(stop)

   describe("description", function()
      it("has the IDs the stock driver binds, INTA, MSI 32 and MSI-X 2048", function()
         start()
         assert.equal(0xb500104c, dev:cfg_read(0x00, 4))
         assert.equal(0xff0000, bit.rshift(dev:cfg_read(0x08, 4), 8))
         assert.equal(1, dev:cfg_read(0x3d, 1))
         local ids = {}
         for _, c in ipairs(dev:capabilities()) do ids[c.id] = true end
         assert.is_true(ids[0x05] and ids[0x11] and ids[0x10])
         assert.equal(2048, osim:msix_layout().vectors)
         for i = 0, 5 do assert.is_truthy(dev.bar[i]) end
      end)

      it("rejects an unknown script argument", function()
         local ok, err = pcall(pciem.load, SCRIPT, "bursts=3")
         assert.is_false(ok)
         assert.matches("unknown argument 'bursts=3'", err)
      end)
   end)

   describe("BAR test", function()
      it("keeps the 0xA0A0A0A0 pattern in every dword of BARs 1..5, without events", function()
         start()
         local events = osim:counters().events
         for b = 1, 5 do
            local size = dev.bar[b].size
            for off = 0, size - 4, 4 do osim:mmio_write(b, off, 4, 0xa0a0a0a0) end
            local bad = 0
            for off = 0, size - 4, 4 do
               if osim:mmio_read(b, off, 4) ~= 0xa0a0a0a0 then bad = bad + 1 end
            end
            assert.equal(0, bad)
         end
         assert.equal(events, osim:counters().events)
      end)

      it("keeps MAGIC in BAR0", function()
         start()
         wr(MAGIC, 0xa0a0a0a0)
         assert.equal(0xa0a0a0a0, rd(MAGIC))
      end)
   end)

   describe("interrupts", function()
      it("raises INTx on RAISE_LEGACY_IRQ until the driver clears IRQ_RAISED", function()
         start()
         command(CMD_LEGACY, T_LEGACY, 0)
         assert.is_true(osim:intx())
         assert.is_true(osim:intx_status())
         local st = ack()
         assert.equal(ST_IRQ, st)
         assert.is_false(osim:intx())
         assert.equal(0, rd(STATUS))
         assert.equal(0, rd(COMMAND))
      end)

      it("keeps INTx asserted while IRQ_RAISED stays set", function()
         start()
         command(CMD_LEGACY, T_LEGACY, 0)
         wr(STATUS, ST_IRQ)
         osim:step()
         assert.is_true(osim:intx())
      end)

      it("raises MSI vector IRQ_NUMBER - 1 for every number 1..32", function()
         start()
         osim:enable_msi(32)
         for n = 1, 32 do
            osim:clear_irqs()
            command(CMD_MSI, T_MSI, n)
            local irqs = osim:irqs()
            assert.equal(1, #irqs)
            assert.equal("msi", irqs[1].kind)
            assert.equal(n - 1, irqs[1].vector)
            assert.equal(ST_IRQ, ack())
         end
      end)

      it("raises nothing for an MSI number the driver did not enable", function()
         start()
         osim:enable_msi(4)
         command(CMD_MSI, T_MSI, 5)
         assert.equal(0, #osim:irqs())
      end)

      it("raises MSI-X vector IRQ_NUMBER - 1, up to 2048", function()
         start()
         osim:enable_msix(2048)
         for _, n in ipairs({ 1, 2, 1024, 2047, 2048 }) do
            osim:clear_irqs()
            command(CMD_MSIX, T_MSIX, n)
            local irqs = osim:irqs()
            assert.equal(1, #irqs)
            assert.equal("msix", irqs[1].kind)
            assert.equal(n - 1, irqs[1].vector)
            assert.equal(ST_IRQ, ack())
         end
      end)

      it("raises back to back with burst=N, none lost", function()
         start("burst=5")
         osim:enable_msix(8)
         command(CMD_MSIX, T_MSIX, 3)
         command(CMD_MSIX, T_MSIX, 8)
         local irqs = osim:irqs()
         assert.equal(10, #irqs)
         for i = 1, 5 do assert.equal(2, irqs[i].vector) end
         for i = 6, 10 do assert.equal(7, irqs[i].vector) end
      end)
   end)

   -- The three transfers at pcitest.sh's sizes, completion by MSI vector 0.
   local sizes = { 1, 1024, 1025, 1024000, 1024001 }

   describe("transfers", function()
      local function transfer_setup(size, irq_kind)
         start()
         if irq_kind ~= "intx" then osim:enable_msi(32) end
         local src, sp = osim:alloc(size)
         local dst, dp = osim:alloc(size)
         fill(sp, size, size)
         wr(SIZE, size)
         wr(FLAGS, 0)
         return src, sp, dst, dp
      end

      for _, size in ipairs(sizes) do
         it(("READ of %d bytes checks the driver's CRC"):format(size), function()
            local src, sp = transfer_setup(size)
            set_addr(SRC_LO, SRC_HI, src)
            wr(CHECKSUM, crc32_ref(sp, size))
            command(CMD_READ, T_MSI, 1)
            assert.equal(bit.bor(ST_READ_OK, ST_IRQ), rd(STATUS))
            assert.equal(1, #osim:irqs())
            assert.equal(0, osim:irqs()[1].vector)
         end)

         it(("WRITE of %d bytes puts data and its CRC"):format(size), function()
            local _, _, dst, dp = transfer_setup(size)
            set_addr(DST_LO, DST_HI, dst)
            command(CMD_WRITE, T_MSI, 1)
            assert.equal(bit.bor(ST_WRITE_OK, ST_IRQ), rd(STATUS))
            assert.equal(crc32_ref(dp, size), rd(CHECKSUM))
            assert.equal(1, #osim:irqs())
         end)

         it(("COPY of %d bytes copies"):format(size), function()
            local src, sp, dst, dp = transfer_setup(size)
            set_addr(SRC_LO, SRC_HI, src)
            set_addr(DST_LO, DST_HI, dst)
            wr(FLAGS, 1)	-- FLAG_USE_DMA: the same path
            command(CMD_COPY, T_MSI, 1)
            assert.equal(bit.bor(ST_COPY_OK, ST_IRQ), rd(STATUS))
            assert.equal(0, ffi.C.memcmp(sp, dp, size))
            assert.equal(1, #osim:irqs())
         end)
      end

      it("reports READ_FAIL for a wrong checksum", function()
         local src, sp = transfer_setup(4096)
         set_addr(SRC_LO, SRC_HI, src)
         wr(CHECKSUM, (crc32_ref(sp, 4096) + 1) % 2 ^ 32)
         command(CMD_READ, T_MSI, 1)
         assert.equal(bit.bor(ST_READ_FAIL, ST_IRQ), rd(STATUS))
      end)

      it("gives fresh data on every WRITE", function()
         local _, _, dst, dp = transfer_setup(64)
         set_addr(DST_LO, DST_HI, dst)
         command(CMD_WRITE, T_MSI, 1)
         local first = ffi.string(dp, 64)
         command(CMD_WRITE, T_MSI, 1)
         assert.are_not.equal(first, ffi.string(dp, 64))
         assert.equal(crc32_ref(dp, 64), rd(CHECKSUM))
      end)

      it("completes by INTx or MSI-X as IRQ_TYPE says", function()
         local _, _, dst = transfer_setup(16, "intx")
         set_addr(DST_LO, DST_HI, dst)
         command(CMD_WRITE, T_LEGACY, 0)
         assert.is_true(osim:intx())
         ack()
         assert.is_false(osim:intx())
         osim:enable_msix(4)
         osim:clear_irqs()
         command(CMD_WRITE, T_MSIX, 4)
         assert.equal("msix", osim:irqs()[1].kind)
         assert.equal(3, osim:irqs()[1].vector)
      end)

      it("still ends in READ_FAIL and an interrupt when the model itself fails", function()
         local src = transfer_setup(64)
         local io = dev.epf.model.io
         local saved = io.dma_read
         io.dma_read = function() error("model bug") end
         set_addr(SRC_LO, SRC_HI, src)
         local ok = pcall(command, CMD_READ, T_MSI, 1)
         io.dma_read = saved
         assert.is_true(ok)
         assert.equal(bit.bor(ST_READ_FAIL, ST_IRQ), rd(STATUS))
         assert.equal(1, #osim:irqs())
      end)

      it("refuses DMA while bus mastering is off: SRC_ADDR_INVALID", function()
         local src = transfer_setup(64)
         osim:bus_master(false)
         set_addr(SRC_LO, SRC_HI, src)
         command(CMD_READ, T_MSI, 1)
         assert.equal(bit.bor(ST_SRC_INVALID, ST_READ_FAIL, ST_IRQ), rd(STATUS))
      end)

      it("refuses DMA to an address that is not RAM: DST_ADDR_INVALID", function()
         transfer_setup(64)
         set_addr(DST_LO, DST_HI, 0x7ff000000000)
         command(CMD_WRITE, T_MSI, 1)
         assert.equal(bit.bor(ST_DST_INVALID, ST_WRITE_FAIL, ST_IRQ), rd(STATUS))
         set_addr(SRC_LO, SRC_HI, 0x7ff000000000)
         command(CMD_COPY, T_MSI, 1)
         assert.equal(bit.bor(ST_SRC_INVALID, ST_COPY_FAIL, ST_IRQ), rd(STATUS))
      end)
   end)

   it("computes crc32_le(~0, ...) like the kernel", function()
      start()
      local s = "123456789"
      local p = ffi.cast("const uint8_t *", s)
      -- The standard CRC-32 check value 0xcbf43926, before the final inversion.
      assert.equal(0x340bc6d9, dev.epf.crc32(p, #s))
      assert.equal(crc32_ref(p, #s), dev.epf.crc32(p, #s))
   end)
end)
