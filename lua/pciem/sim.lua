-- SPDX-License-Identifier: MIT
-- The OS and driver side of the sim backend, for specs: MMIO decoded like a
-- PCI bus, config writes (which queue events), simulated host memory, the
-- interrupt log, and the few things the PCI core does (MSI/MSI-X setup).
--    local os = require("pciem.sim").new(dev)   -- dev started on "sim"
--    os:enable_memory(); os:mmio_write(0, 0x10, 4, 1); os:mmio_read(0, 0x14, 4)
local bit = require("bit")
local ffi = require("ffi")
local pffi = require("pciem.ffi")
local C = pffi.C

local band, bor, lshift, rshift, bnot = bit.band, bit.bor, bit.lshift, bit.rshift, bit.bnot

ffi.cdef [[ const char *pciem_ffi_cdef_sim(void); ]]
ffi.cdef(ffi.string(C.pciem_ffi_cdef_sim()))

local M = {}

local Sim = {}
Sim.__index = Sim
M.Sim = Sim

-- pciem_sim_mmio / pciem_sim_complete statuses, as strings for callers.
local DONE, WAIT, RING_FULL = C.PCIEM_SIM_DONE, C.PCIEM_SIM_WAIT, C.PCIEM_SIM_RING_FULL
local status_names = {
   [tonumber(C.PCIEM_SIM_DONE)] = "ok",
   [tonumber(C.PCIEM_SIM_ABORT)] = "abort",
   [tonumber(C.PCIEM_SIM_TIMEOUT)] = "timeout",
}
local irq_kinds = {
   [tonumber(C.PCIEM_SIM_IRQ_MSI)] = "msi",
   [tonumber(C.PCIEM_SIM_IRQ_MSIX)] = "msix",
   [tonumber(C.PCIEM_SIM_IRQ_INTX)] = "intx",
}

-- Config space registers the helpers program (PCI spec offsets and bits).
local CMD, STATUS = 0x04, 0x06
local CMD_MEMORY, CMD_MASTER, CMD_INTX_DISABLE = 0x2, 0x4, 0x400
local CAP_MSI, CAP_MSIX = 0x05, 0x11
local MSIX_ENABLE, MSIX_MASKALL = 0x8000, 0x4000
local MSI_ENABLE, MSI_64BIT, MSI_MASKBIT = 0x1, 0x80, 0x100
-- Where the helpers point MSI messages: the x86 interrupt address range.
M.MSI_ADDR = 0xfee00000

local counter_names = {
   "trap_reads", "trap_writes", "memory_accesses", "events", "sync_roundtrips",
   "sync_timeouts", "undecodable", "ring_full_waits", "irqs_delivered", "irqs_pended",
   "dma_bytes_from_host", "dma_bytes_to_host", "dma_errors",
}

local function default_host(dev)
   return function()
      if dev.step then dev:step() end
   end
end

--- The OS side of `dev`, a device started on the sim backend. `opts.host` is
--- the host's dispatch step run whenever the OS waits for the host (a sync
--- access, a full ring); default dev:step(); false = a host that never runs.
function M.new(dev, opts)
   if type(dev) ~= "table" or dev.backend ~= "sim" or dev.state ~= "started" then
      error("pciem.sim.new: needs a device started on the sim backend", 2)
   end
   opts = opts or {}
   local self = setmetatable({
      dev = dev,
      _cdev = dev._cdev,
      _out = ffi.new("uint64_t[1]"),
      _ptr = ffi.new("uint8_t *[1]"),
      _irqbuf = ffi.new("struct pciem_sim_irq[256]"),
      _counters = ffi.new("struct pciem_counters"),
      _regions = {},
      _caps = nil,
   }, Sim)
   self:set_host(opts.host)
   return self
end

local function cdev_error(self)
   return ffi.string(C.pciem_ffi_dev_error(self._cdev))
end

--- Replace the host's dispatch step (a function), restore the default (nil),
--- or stop the host (false: sync accesses time out, a full ring stays full).
function Sim:set_host(fn)
   if fn == nil then fn = default_host(self.dev) end
   if fn ~= false and type(fn) ~= "function" then
      error("set_host: a function, false or nil", 2)
   end
   self._host = fn
end

--- Run the host's dispatch step once (also serves the sim's irqfds).
function Sim:step()
   if self._host then self._host() end
end

local function check_width(width, what, level)
   if width ~= 1 and width ~= 2 and width ~= 4 and width ~= 8 then
      error(("%s: width must be 1, 2, 4 or 8, got %s"):format(what, tostring(width)), level + 1)
   end
end

local function result(self, width, st)
   local v = self._out[0]
   if width < 8 then v = tonumber(v) end
   return v, status_names[st]
end

-- One CPU access: the producer's wait for room and the sync wait both run
-- the host's dispatch step, as the kernel's spinning CPU waits for the host.
local function access(self, addr, width, write, value, what)
   check_width(width, what, 3)
   local cdev, out = self._cdev, self._out
   local st = C.pciem_sim_mmio(cdev, addr, width, write, value or 0, 0, out)
   if st == RING_FULL then
      self:step()
      st = C.pciem_sim_mmio(cdev, addr, width, write, value or 0, 1, out)
   end
   if st == WAIT then
      -- a failing host still ends the wait (the access times out), then we raise
      local ok, err = pcall(self.step, self)
      st = C.pciem_sim_complete(cdev, out)
      if not ok then error(err, 0) end
   end
   if st < 0 then error(what .. ": " .. cdev_error(self), 3) end
   return result(self, width, st)
end

--- A load of `width` bytes at bus address `addr`. Returns the value (a
--- uint64_t cdata for width 8) and "ok", "abort" (nothing decodes the
--- address: all-ones) or "timeout" (the host did not answer: all-ones).
function Sim:mem_read(addr, width)
   return access(self, addr, width, 0, 0, "mem_read")
end

--- A store at bus address `addr`. Returns "ok", "abort" or "timeout" (see mem_read).
function Sim:mem_write(addr, width, value)
   local _, st = access(self, addr, width, 1, value, "mem_write")
   return st
end

--- The bus address BAR `bar` decodes now, from its registers as the OS set them.
function Sim:bar_addr(bar)
   local b = self.dev.desc.bars[bar]
   if type(bar) ~= "number" or not b then
      error(("bar_addr: BAR %s is not described"):format(tostring(bar)), 2)
   end
   local reg = 0x10 + 4 * bar
   local lo = band(self:cfg_read(reg, 4), bnot(0xf))
   local addr = lo < 0 and lo + 2^32 or lo
   if b.bits == 64 then addr = addr + self:cfg_read(reg + 4, 4) * 2^32 end
   return addr
end

--- readb/w/l/q of BAR `bar` at `off`, through the bus (see mem_read).
function Sim:mmio_read(bar, off, width)
   return access(self, self:bar_addr(bar) + off, width, 0, 0, "mmio_read")
end

--- writeb/w/l/q of BAR `bar` at `off`; returns "ok", "abort" or "timeout".
function Sim:mmio_write(bar, off, width, value)
   local _, st = access(self, self:bar_addr(bar) + off, width, 1, value, "mmio_write")
   return st
end

--- OS config read (write masks, RW1C as the PCI core sees them).
function Sim:cfg_read(off, width)
   local v = self.dev:os_cfg_read(off, width or 4)
   if not v then error("cfg_read: " .. cdev_error(self), 2) end
   return v
end

--- OS config write: applied, queued to the host as a CFG_WRITE event (after
--- waiting for room like the kernel's producer), seen by the interrupt logic.
function Sim:cfg_write(off, width, value)
   if C.pciem_sim_ring_full(self._cdev) ~= 0 then self:step() end
   local ok, err = self.dev:os_cfg_write(off, width, value)
   if not ok then error("cfg_write: " .. err, 2) end
end

local function cfg_update(self, off, width, clear, set)
   local v = self:cfg_read(off, width)
   self:cfg_write(off, width, bor(band(v, bnot(clear)), set))
end

--- Command register bits, as a driver's pci_enable_device / pci_set_master.
function Sim:enable_memory(on)
   cfg_update(self, CMD, 2, CMD_MEMORY, on == false and 0 or CMD_MEMORY)
end

function Sim:bus_master(on)
   cfg_update(self, CMD, 2, CMD_MASTER, on == false and 0 or CMD_MASTER)
end

function Sim:intx_disable(on)
   cfg_update(self, CMD, 2, CMD_INTX_DISABLE, on == false and 0 or CMD_INTX_DISABLE)
end

--- Status.Interrupt Status as the OS reads it.
function Sim:intx_status()
   return band(self:cfg_read(STATUS, 2), 0x8) ~= 0
end

--- The INTx level the interrupt controller sees now.
function Sim:intx()
   return C.pciem_sim_intx_level(self._cdev) ~= 0
end

local function find_cap(self, id)
   if not self._caps then self._caps = self.dev:capabilities() end
   for _, c in ipairs(self._caps) do
      if c.id == id and not c.ext then return c.offset end
   end
   error(("the device has no %s capability"):format(id == CAP_MSI and "MSI" or "MSI-X"), 3)
end

--- MSI-X table and PBA locations: { vectors, table_bar, table, pba_bar, pba }.
function Sim:msix_layout()
   local o = find_cap(self, CAP_MSIX)
   local t, p = self:cfg_read(o + 4, 4), self:cfg_read(o + 8, 4)
   return {
      cap = o,
      vectors = band(self:cfg_read(o + 2, 2), 0x7ff) + 1,
      table_bar = band(t, 7), table = band(t, bnot(7)),
      pba_bar = band(p, 7), pba = band(p, bnot(7)),
   }
end

--- Data the helpers program for vector `v` (any value works; this one is easy to check).
function M.msg_data(v) return 0x4000 + v end

-- The MSI-X table lives in a BAR: without Memory Space Enable the OS's
-- writes to it would master-abort, so the helpers refuse (misuse).
local function need_memory(self, what)
   if band(self:cfg_read(CMD, 2), CMD_MEMORY) == 0 then
      error(what .. ": Memory Space Enable is off (call enable_memory() first, "
         .. "as a driver calls pci_enable_device)", 3)
   end
end

--- Enable MSI-X the way the PCI core does: Enable with Function Mask, write
--- the table entries (masked), clear Function Mask, unmask `vectors` entries
--- (all of them by default) unless opts.masked. INTx gets disabled, as
--- pci_intx_for_msi does.
function Sim:enable_msix(vectors, opts)
   opts = opts or {}
   need_memory(self, "enable_msix")
   local l = self:msix_layout()
   vectors = vectors or l.vectors
   if type(vectors) ~= "number" or vectors < 1 or vectors > l.vectors then
      error(("enable_msix: vectors must be 1..%d, got %s"):format(l.vectors, tostring(vectors)), 2)
   end
   cfg_update(self, l.cap + 2, 2, 0, bor(MSIX_ENABLE, MSIX_MASKALL))
   self:intx_disable(true)
   for v = 0, vectors - 1 do
      local e = l.table + 16 * v
      self:mmio_write(l.table_bar, e + 0, 4, M.MSI_ADDR)
      self:mmio_write(l.table_bar, e + 4, 4, 0)
      self:mmio_write(l.table_bar, e + 8, 4, M.msg_data(v))
      self:mmio_write(l.table_bar, e + 12, 4, 1)
   end
   cfg_update(self, l.cap + 2, 2, MSIX_MASKALL, 0)
   if not opts.masked then
      for v = 0, vectors - 1 do self:msix_mask(v, false) end
   end
   return l
end

--- Set or clear the Mask bit of MSI-X table entry `v` (through the BAR).
function Sim:msix_mask(v, masked)
   need_memory(self, "msix_mask")
   local l = self._msix or self:msix_layout()
   self._msix = l
   self:mmio_write(l.table_bar, l.table + 16 * v + 12, 4, masked == false and 0 or 1)
end

--- Set or clear the MSI-X Function Mask.
function Sim:msix_function_mask(masked)
   local o = find_cap(self, CAP_MSIX)
   cfg_update(self, o + 2, 2, MSIX_MASKALL, masked == false and 0 or MSIX_MASKALL)
end

--- The PBA bit of vector `v`, as the OS reads it through the BAR.
function Sim:msix_pending(v)
   need_memory(self, "msix_pending")
   local l = self._msix or self:msix_layout()
   self._msix = l
   local word = self:mmio_read(l.pba_bar, l.pba + 4 * math.floor(v / 32), 4)
   return band(rshift(word, v % 32), 1) ~= 0
end

local function msi_regs(self)
   local o = find_cap(self, CAP_MSI)
   local ctrl = self:cfg_read(o + 2, 2)
   local is64 = band(ctrl, MSI_64BIT) ~= 0
   return o, ctrl, is64 and o + 0x0c or o + 0x08, is64 and o + 0x10 or o + 0x0c, is64
end

--- Enable MSI with `vectors` (power of two) the way the PCI core does: mask
--- all (when per-vector masking exists), program address, data and Multiple
--- Message Enable, set Enable, unmask the vectors unless opts.masked.
function Sim:enable_msi(vectors, opts)
   opts = opts or {}
   vectors = vectors or 1
   local o, ctrl, data_at, mask_at, is64 = msi_regs(self)
   local log2 = 0
   while lshift(1, log2) < vectors do log2 = log2 + 1 end
   local maskable = band(ctrl, MSI_MASKBIT) ~= 0
   if maskable then self:cfg_write(mask_at, 4, 0xffffffff) end
   self:cfg_write(o + 4, 4, M.MSI_ADDR)
   if is64 then self:cfg_write(o + 8, 4, 0) end
   self:cfg_write(data_at, 2, M.msg_data(0))
   self:cfg_write(o + 2, 2, bor(band(ctrl, bnot(0x70)), lshift(log2, 4)))
   self:intx_disable(true)
   cfg_update(self, o + 2, 2, 0, MSI_ENABLE)
   if maskable and not opts.masked then
      self:cfg_write(mask_at, 4, vectors >= 32 and 0 or 0xffffffff - (2 ^ vectors - 1))
   end
end

--- Set or clear MSI per-vector Mask bit `v`.
function Sim:msi_mask(v, masked)
   local _, _, _, mask_at = msi_regs(self)
   cfg_update(self, mask_at, 4, lshift(1, v), masked == false and 0 or lshift(1, v))
end

--- MSI Pending bit `v`.
function Sim:msi_pending(v)
   local _, _, _, mask_at = msi_regs(self)
   return band(rshift(self:cfg_read(mask_at + 4, 4), v), 1) ~= 0
end

--- Every interrupt the OS received since the last clear, oldest first:
--- { {kind = "msi"|"msix"|"intx", vector =, seq =, addr =, data =, level = (intx)}, ... }.
function Sim:irqs()
   local list, from, buf = {}, 0, self._irqbuf
   while true do
      local n = C.pciem_sim_irq_log(self._cdev, from, buf, 256)
      if n == 0 then break end
      for i = 0, n - 1 do
         local e = buf[i]
         local kind = irq_kinds[tonumber(e.kind)]
         local entry = {
            kind = kind, vector = tonumber(e.vector), seq = tonumber(e.seq),
            addr = tonumber(e.addr), data = tonumber(e.data),
         }
         if kind == "intx" then entry.level = e.vector ~= 0 end
         list[#list + 1] = entry
      end
      from = from + n
   end
   return list
end

function Sim:clear_irqs()
   C.pciem_sim_irq_log_clear(self._cdev)
end

--- Counters (the uapi's struct pciem_counters) as a table of numbers.
function Sim:counters()
   local c = self._counters
   if C.pciem_ffi_counters(self._cdev, c) ~= 0 then
      error("counters: " .. cdev_error(self), 2)
   end
   local t = {}
   for _, name in ipairs(counter_names) do t[name] = tonumber(c[name]) end
   return t
end

--- Host memory: `size` zeroed bytes at a fresh bus address. Returns the bus
--- address and a uint8_t * to fill or check. Freed by free() or close().
function Sim:alloc(size)
   if type(size) ~= "number" or size < 1 then
      error(("alloc: size must be a positive number, got %s"):format(tostring(size)), 2)
   end
   local rc = C.pciem_sim_mem_alloc(size, self._out, self._ptr)
   if rc ~= 0 then return nil, "alloc: " .. pffi.strerror(rc) end
   local addr = tonumber(self._out[0])
   self._regions[addr] = true
   return addr, self._ptr[0]
end

function Sim:free(addr)
   if not self._regions[addr] then
      error(("free: 0x%x is not a region this sim allocated"):format(tonumber(addr) or -1), 2)
   end
   self._regions[addr] = nil
   C.pciem_sim_mem_free(addr)
end

--- A uint8_t * to `len` bytes of host memory at `addr` (inside one region), or nil.
function Sim:mem(addr, len)
   local p = C.pciem_sim_mem_ptr(addr, len or 1)
   if p == nil then return nil end
   return p
end

--- Free every region this sim allocated.
function Sim:close()
   for addr in pairs(self._regions) do C.pciem_sim_mem_free(addr) end
   self._regions = {}
end

return M
