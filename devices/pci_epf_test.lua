-- SPDX-License-Identifier: MIT
-- pci_epf_test: the register interface of Linux's pci-epf-test endpoint function,
-- so the stock pci_endpoint_test driver and its pcitest tool run against it.
-- See devices/pci_epf_test.md.
local bit = require("bit")
local ffi = require("ffi")
local pciem = require("pciem")

local band, bor, bxor, rshift, bnot = bit.band, bit.bor, bit.bxor, bit.rshift, bit.bnot

-- BAR0 register map, offsets as drivers/misc/pci_endpoint_test.c uses them.
local REG = {
   MAGIC        = 0x00,	-- scratch: the driver's BAR0 test writes and reads it
   COMMAND      = 0x04,	-- one COMMAND_* bit starts an operation
   STATUS       = 0x08,	-- STATUS_* result bits; the driver clears IRQ_RAISED
   SRC_ADDR_LO  = 0x0c,	-- bus address the device reads from (READ, COPY)
   SRC_ADDR_HI  = 0x10,
   DST_ADDR_LO  = 0x14,	-- bus address the device writes to (WRITE, COPY)
   DST_ADDR_HI  = 0x18,
   SIZE         = 0x1c,	-- bytes to transfer
   CHECKSUM     = 0x20,	-- crc32_le(~0, data, size) of the data moved
   IRQ_TYPE     = 0x24,	-- 0 INTx, 1 MSI, 2 MSI-X: how READ/WRITE/COPY signal completion
   IRQ_NUMBER   = 0x28,	-- 1-based vector for MSI / MSI-X
   FLAGS        = 0x2c,	-- FLAG_USE_DMA
}
local REGS_SIZE = 0x30

local COMMAND = {
   RAISE_LEGACY_IRQ = 0x01,
   RAISE_MSI_IRQ    = 0x02,
   RAISE_MSIX_IRQ   = 0x04,
   READ             = 0x08,	-- device reads host memory at SRC_ADDR, checks CHECKSUM
   WRITE            = 0x10,	-- device writes random data to DST_ADDR, sets CHECKSUM
   COPY             = 0x20,	-- device copies SRC_ADDR to DST_ADDR
}

local STATUS = {
   READ_SUCCESS     = 0x001,
   READ_FAIL        = 0x002,
   WRITE_SUCCESS    = 0x004,
   WRITE_FAIL       = 0x008,
   COPY_SUCCESS     = 0x010,
   COPY_FAIL        = 0x020,
   IRQ_RAISED       = 0x040,
   SRC_ADDR_INVALID = 0x080,
   DST_ADDR_INVALID = 0x100,
}

local IRQ_TYPE = { LEGACY = 0, MSI = 1, MSIX = 2 }
local FLAG_USE_DMA = 0x1

-- BAR0 layout beyond the registers: the MSI-X PBA and table (2048 vectors).
local MSIX_VECTORS = 2048
local PBA_OFFSET = 0x1000
local PBA_END = PBA_OFFSET + MSIX_VECTORS / 64 * 8	-- 256 bytes
local TABLE_OFFSET = 0x8000		-- 2048 * 16 = 32 KiB, to the end of BAR0
local BAR0_SIZE = 0x10000
-- BARs 1..5 are plain memory for pcitest's BAR pattern test.
local TEST_BAR_SIZES = { [1] = "4K", [2] = "8K", [3] = "16K", [4] = "32K", [5] = "64K" }

---------------------------------------------------------------------------
-- CRC32 as the kernel's crc32_le(~0, buf, len): reflected polynomial
-- 0xedb88320, seed all-ones, no final inversion.

local crc_table = ffi.new("uint32_t[256]")
for n = 0, 255 do
   local c = n
   for _ = 1, 8 do
      if band(c, 1) ~= 0 then c = bxor(rshift(c, 1), 0xedb88320) else c = rshift(c, 1) end
   end
   crc_table[n] = c
end

--- crc32_le(~0, p, len) of `len` bytes at uint8_t pointer `p`, as an unsigned number.
local function crc32(p, len)
   local c = -1
   for i = 0, len - 1 do
      c = bxor(rshift(c, 8), crc_table[band(bxor(c, p[i]), 0xff)])
   end
   return c < 0 and c + 0x100000000 or c
end

---------------------------------------------------------------------------
-- The model: register semantics and the command engine, written against a
-- small `io` table so the same code runs on either backend:
--   io.irq(kind, vector0)  kind "msi"/"msix": raise 0-based vector; true, or nil, err
--   io.intx(level)         assert (true) / deassert (false) INTx
--   io.dma_read(addr, p, len)   host memory -> FFI buffer p; true, or nil, err
--   io.dma_write(addr, p, len)  FFI buffer p -> host memory; true, or nil, err
--   io.log(msg)

local Model = {}
Model.__index = Model

local function new_model(regs, io, burst)
   return setmetatable({
      regs = regs,		-- uint32_t * to BAR0's shadow
      io = io,
      burst = burst or 1,	-- raises per RAISE_MSI/MSIX_IRQ command
      buf = nil, buf32 = nil, buf_size = 0,	-- transfer buffer, grown on demand, reused
      intx = false,		-- INTx currently asserted
      rng = 0x2545f491,		-- xorshift32 state for WRITE's random data
      commands = 0, irqs = 0,	-- statistics for the .md and the specs
   }, Model)
end

function Model:reg(off) return self.regs[off / 4] end
function Model:set_reg(off, v) self.regs[off / 4] = v end

local function addr64(self, lo, hi)
   return self:reg(hi) * 0x100000000 + self:reg(lo)
end

function Model:buffer(len)
   if len > self.buf_size then
      -- Round up so the common sizes settle on one allocation.
      local size = 4096
      while size < len do size = size * 2 end
      self.buf = ffi.new("uint8_t[?]", size)
      self.buf32 = ffi.cast("uint32_t *", self.buf)
      self.buf_size = size
   end
   return self.buf
end

-- Signal the end of an operation the way IRQ_TYPE says, with IRQ_NUMBER
-- (1-based), `count` times back to back (default once).
function Model:raise(kind, number, count)
   self:set_reg(REG.STATUS, bor(self:reg(REG.STATUS), STATUS.IRQ_RAISED))
   if kind == IRQ_TYPE.LEGACY then
      self.intx = true
      self.irqs = self.irqs + 1
      return self.io.intx(true)
   end
   local name = kind == IRQ_TYPE.MSI and "msi" or kind == IRQ_TYPE.MSIX and "msix"
   if not name then
      self.io.log(("irq type %d is not 0, 1 or 2: no interrupt"):format(kind))
      return nil
   end
   if number < 1 then
      self.io.log(("%s vector number %d: numbers start at 1"):format(name, number))
      return nil
   end
   for _ = 1, count or 1 do
      local ok, err = self.io.irq(name, number - 1)
      if ok == nil then
         self.io.log(("raising %s vector %d: %s"):format(name, number, tostring(err)))
         return nil
      end
      self.irqs = self.irqs + 1
   end
   return true
end

-- READ: the host wrote data at SRC_ADDR and its CRC in CHECKSUM.
function Model:cmd_read()
   local len = self:reg(REG.SIZE)
   local p = self:buffer(len)
   local ok = self.io.dma_read(addr64(self, REG.SRC_ADDR_LO, REG.SRC_ADDR_HI), p, len)
   if not ok then
      self:set_reg(REG.STATUS, STATUS.SRC_ADDR_INVALID)
      return false
   end
   return crc32(p, len) == self:reg(REG.CHECKSUM)
end

-- WRITE: fill DST_ADDR with fresh random bytes, their CRC into CHECKSUM.
function Model:cmd_write()
   local len = self:reg(REG.SIZE)
   local p = self:buffer(len)
   local x = self.rng
   local w = self.buf32
   for i = 0, rshift(len + 3, 2) - 1 do
      x = bxor(x, bit.lshift(x, 13)); x = bxor(x, rshift(x, 17)); x = bxor(x, bit.lshift(x, 5))
      w[i] = x
   end
   self.rng = x
   if not self.io.dma_write(addr64(self, REG.DST_ADDR_LO, REG.DST_ADDR_HI), p, len) then
      self:set_reg(REG.STATUS, STATUS.DST_ADDR_INVALID)
      return false
   end
   self:set_reg(REG.CHECKSUM, crc32(p, len))
   return true
end

-- COPY: SRC_ADDR -> DST_ADDR through the device's buffer.
function Model:cmd_copy()
   local len = self:reg(REG.SIZE)
   local p = self:buffer(len)
   if not self.io.dma_read(addr64(self, REG.SRC_ADDR_LO, REG.SRC_ADDR_HI), p, len) then
      self:set_reg(REG.STATUS, STATUS.SRC_ADDR_INVALID)
      return false
   end
   if not self.io.dma_write(addr64(self, REG.DST_ADDR_LO, REG.DST_ADDR_HI), p, len) then
      self:set_reg(REG.STATUS, STATUS.DST_ADDR_INVALID)
      return false
   end
   return true
end

local TRANSFERS = {
   { COMMAND.READ, Model.cmd_read, STATUS.READ_SUCCESS, STATUS.READ_FAIL },
   { COMMAND.WRITE, Model.cmd_write, STATUS.WRITE_SUCCESS, STATUS.WRITE_FAIL },
   { COMMAND.COPY, Model.cmd_copy, STATUS.COPY_SUCCESS, STATUS.COPY_FAIL },
}

--- The driver wrote COMMAND: run it to completion (the real function polls
--- COMMAND from a work item; here the write's event is the trigger).
function Model:command()
   local cmd = self:reg(REG.COMMAND)
   if cmd == 0 then return end
   self.commands = self.commands + 1
   self:set_reg(REG.COMMAND, 0)
   self:set_reg(REG.STATUS, 0)
   local irq_type, number = self:reg(REG.IRQ_TYPE), self:reg(REG.IRQ_NUMBER)
   -- FLAG_USE_DMA asks a real endpoint for its DMA engine; both paths are the
   -- same DMA call here (see the .md).
   if band(cmd, COMMAND.RAISE_LEGACY_IRQ) ~= 0 then
      self:raise(IRQ_TYPE.LEGACY, 0)
      return
   end
   for _, t in ipairs(TRANSFERS) do
      if band(cmd, t[1]) ~= 0 then
         -- The driver waits for this interrupt without a timeout: even a
         -- failure inside the model must end in FAIL and an interrupt.
         local done, ok = pcall(t[2], self)
         if not done then
            self.io.log("command 0x" .. bit.tohex(cmd, 2) .. " failed: " .. tostring(ok))
            ok = false
         end
         self:set_reg(REG.STATUS, bor(self:reg(REG.STATUS), ok and t[3] or t[4]))
         self:raise(irq_type, number)
         return
      end
   end
   if band(cmd, COMMAND.RAISE_MSI_IRQ) ~= 0 then
      self:raise(IRQ_TYPE.MSI, number, self.burst)
   elseif band(cmd, COMMAND.RAISE_MSIX_IRQ) ~= 0 then
      self:raise(IRQ_TYPE.MSIX, number, self.burst)
   else
      self.io.log(("unknown command 0x%x ignored"):format(cmd))
   end
end

--- The driver wrote STATUS (its interrupt handler acknowledges by clearing
--- IRQ_RAISED): a level INTx drops once nothing is left to signal.
function Model:status_written()
   if self.intx and band(self:reg(REG.STATUS), STATUS.IRQ_RAISED) == 0 then
      self.intx = false
      self.io.intx(false)
   end
end

---------------------------------------------------------------------------
-- The device.

-- Nothing here is sync: the driver touches STATUS from its interrupt
-- handler, which may run on the CPU the host needs to answer a sync access.
-- COMMAND and STATUS are posted (their writes are the device's triggers);
-- everything else is plain memory.
local bars = { [0] = {
   size = BAR0_SIZE,
   -- The MSI-X table and PBA are the kernel's (always memory): no policy there.
   policy = {
      { REG.MAGIC, 4, "memory" },
      { REG.COMMAND, 8, "posted" },	-- COMMAND, STATUS
      { REG.SRC_ADDR_LO, PBA_OFFSET - REG.SRC_ADDR_LO, "memory" },
      { PBA_END, TABLE_OFFSET - PBA_END, "memory" },
   },
} }
for i, size in pairs(TEST_BAR_SIZES) do
   bars[i] = { size = size, policy = { { 0, pciem.parse_size(size), "memory" } } }
end

-- Script arguments (pciem-lua devices/pci_epf_test.lua [burst=N]):
--   burst=N  RAISE_MSI_IRQ / RAISE_MSIX_IRQ raise their vector N times back
--            to back (not part of pci-epf-test: the guest's interrupt
--            counting test uses it; /proc/interrupts must grow by exactly N).
local options = { burst = 1 }
for _, a in ipairs({ ... }) do
   local k, v = tostring(a):match("^(%w+)=(.*)$")
   if k == "burst" and tonumber(v) and tonumber(v) >= 1 then
      options.burst = math.floor(tonumber(v))
   else
      error(("pci_epf_test: unknown argument '%s' (burst=N)"):format(tostring(a)), 0)
   end
end

local dev = pciem.device {
   name = "pci_epf_test",
   -- TI DRA74x: the stock driver's ID table binds it with its default data
   -- (registers in BAR0, 4 KiB buffer alignment, MSI by default).
   vendor = 0x104c, device = 0xb500,
   class = 0xff0000,	-- PCI_CLASS_OTHERS, as pci-epf-test's header
   interrupt_pin = "A",
   bars = bars,
   caps = {
      { "pcie", port = "endpoint" },
      { "msi", vectors = 32, addr64 = true, per_vector_mask = true },
      { "msix", vectors = MSIX_VECTORS,
        table = { bar = 0, offset = TABLE_OFFSET },
        pba = { bar = 0, offset = PBA_OFFSET } },
   },
}

-- The model behind the device's handlers. BAR0's shadow is looked up at each
-- trigger: a stopped and restarted device has a new mapping.
local model = new_model(nil, {
   irq = function(_, vector) return dev:irq(vector) end,
   intx = function(level) return dev:intx(level) end,
   dma_read = function(addr, p, len) return dev:dma_read_into(addr, p, len) end,
   dma_write = function(addr, p, len) return dev:dma_write(addr, p, len) end,
   log = function(msg) io.stderr:write("pci_epf_test: ", msg, "\n") end,
}, options.burst)

dev:on_write(0, REG.COMMAND, function(d)
   model.regs = d.bar[0].u32
   model:command()
end)
dev:on_write(0, REG.STATUS, function(d)
   model.regs = d.bar[0].u32
   model:status_written()
end)

-- For specs and tools: the register map and the model's internals.
dev.epf = {
   REG = REG, COMMAND = COMMAND, STATUS = STATUS, IRQ_TYPE = IRQ_TYPE,
   FLAG_USE_DMA = FLAG_USE_DMA, REGS_SIZE = REGS_SIZE, MSIX_VECTORS = MSIX_VECTORS,
   crc32 = crc32, model = model,
}

-- The REPL's register map (devices/pci_epf_test/regmap.lua beside this script).
do
   local src = debug.getinfo(1, "S").source
   local dir = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/[^/]*$") or "."
   local chunk = loadfile(dir .. "/pci_epf_test/regmap.lua")
   if chunk then dev.regmap = chunk() end
end
return dev
