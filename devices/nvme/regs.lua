-- SPDX-License-Identifier: MIT
-- Controller registers (NVMe 1.4 section 3.1) as data, the BAR0 policy map, and the
-- CC/CSTS state machine: enable, disable with full controller reset, shutdown, NSSR.
local bit = require("bit")
local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift

local M = {}

-- Offsets (3.1, figure 78).
local REG = {
   CAP = 0x00,		-- 3.1.1 Controller Capabilities (64-bit)
   VS = 0x08,		-- 3.1.2 Version
   INTMS = 0x0c,	-- 3.1.3 Interrupt Mask Set
   INTMC = 0x10,	-- 3.1.4 Interrupt Mask Clear
   CC = 0x14,		-- 3.1.5 Controller Configuration
   CSTS = 0x1c,		-- 3.1.6 Controller Status
   NSSR = 0x20,		-- 3.1.7 NVM Subsystem Reset
   AQA = 0x24,		-- 3.1.8 Admin Queue Attributes
   ASQ = 0x28,		-- 3.1.9 Admin SQ Base Address (64-bit)
   ACQ = 0x30,		-- 3.1.10 Admin CQ Base Address (64-bit)
   CMBLOC = 0x38, CMBSZ = 0x3c,	-- 3.1.11/12 no controller memory buffer: zero
   DOORBELLS = 0x1000,	-- 3.1.24/25 SQyTDBL at 0x1000 + 8y, CQyHDBL at + 4 (DSTRD 0)
}
M.REG = REG

M.VERSION = 0x00010400		-- 1.4.0
M.MSIX_TABLE = 0x2000
M.MSIX_PBA = 0x3000
M.BAR0_SIZE = 0x4000
M.MQES = 1023			-- largest queue: 1024 entries (0-based field)
M.TIMEOUT_500MS = 20		-- CAP.TO: 10 s to become ready
M.NSSR_MAGIC = 0x4e564d65	-- "NVMe"

-- CC fields (3.1.5)
local CC_EN, CC_SHN_SHIFT = 0x1, 14
-- CSTS fields (3.1.6)
local CSTS_RDY, CSTS_CFS, CSTS_SHST_SHIFT, CSTS_NSSRO = 0x1, 0x2, 2, 0x10
local SHST_COMPLETE = 2

--- CAP as (low, high) 32-bit halves.
function M.cap(nssr)
   local lo = bor(M.MQES, lshift(1, 16), lshift(M.TIMEOUT_500MS, 24))	-- MQES, CQR=1, TO
   -- DSTRD 0; NSSRS (bit 36); CSS bit 37 (NVM command set); MPSMIN 0 (4 KiB), MPSMAX 4 (64 KiB)
   local hi = bor(nssr and lshift(1, 4) or 0, lshift(1, 5), lshift(4, 52 - 32))
   return lo, hi
end

--- BAR0 access policies for `vectors` MSI-X vectors (see nvme.md): doorbells and the
--- registers whose writes the model acts on are posted, the rest plain memory.
function M.policies(vectors)
   local table_end = M.MSIX_TABLE + vectors * 16
   local pba_end = M.MSIX_PBA + math.ceil(vectors / 64) * 8
   return {
      { REG.CAP, 0x0c, "memory" },		-- CAP, VS
      { REG.INTMS, 0x0c, "posted" },		-- INTMS, INTMC, CC
      { 0x18, 0x08, "memory" },			-- reserved, CSTS
      { REG.NSSR, 0x18, "posted" },		-- NSSR, AQA, ASQ, ACQ
      { 0x38, REG.DOORBELLS - 0x38, "memory" },
      { REG.DOORBELLS, 0x1000, "posted" },
      { table_end, M.MSIX_PBA - table_end, "memory" },
      { pba_end, M.BAR0_SIZE - pba_end, "memory" },
   }
end

local function u32(c, off) return c.regs[off / 4] end
local function set_u32(c, off, v) c.regs[off / 4] = v end
M.u32 = u32

--- Reset values of every register but AQA/ASQ/ACQ (which a controller reset keeps).
function M.power_on(c)
   local r = c.regs
   for i = 0, REG.DOORBELLS / 4 - 1 do r[i] = 0 end
   for i = REG.DOORBELLS / 4, M.MSIX_TABLE / 4 - 1 do r[i] = 0 end
   local lo, hi = M.cap(c.opts.nssr)
   set_u32(c, REG.CAP, lo); set_u32(c, REG.CAP + 4, hi)
   set_u32(c, REG.VS, M.VERSION)
   c.st.intms = 0
end

--- Controller reset (CC.EN 1 -> 0, or NSSR): queues, held commands, status go.
function M.controller_reset(c)
   c.st.ready = 0
   c:reset_state()
   c.st.intms = 0
   set_u32(c, REG.INTMS, 0); set_u32(c, REG.INTMC, 0)
   local csts = u32(c, REG.CSTS)
   set_u32(c, REG.CSTS, band(csts, bor(lshift(3, CSTS_SHST_SHIFT), CSTS_NSSRO)))
end

-- Why an enable cannot proceed, or nil.
local function enable_error(c, cc)
   local css = band(rshift(cc, 4), 7)
   local mps = band(rshift(cc, 7), 0xf)
   local iosqes, iocqes = band(rshift(cc, 16), 0xf), band(rshift(cc, 20), 0xf)
   local aqa = u32(c, REG.AQA)
   if css ~= 0 then return "CC.CSS is not the NVM command set" end
   if mps > 4 then return "CC.MPS beyond CAP.MPSMAX" end
   if band(aqa, 0xfff) == 0 or band(rshift(aqa, 16), 0xfff) == 0 then
      return "AQA: admin queues of one entry"
   end
   if band(rshift(aqa, 16), 0xfff) > M.MQES or band(aqa, 0xfff) > M.MQES then
      return "AQA: admin queue larger than CAP.MQES"
   end
   local page = lshift(1, 12 + mps)
   if band(u32(c, REG.ASQ), page - 1) ~= 0 or band(u32(c, REG.ACQ), page - 1) ~= 0 then
      return "ASQ/ACQ not page aligned"
   end
   -- I/O queue entry sizes are checked at queue creation (the driver sets them here).
   if iosqes ~= 0 and iosqes ~= 6 then return "CC.IOSQES is not 64 bytes" end
   if iocqes ~= 0 and iocqes ~= 4 then return "CC.IOCQES is not 16 bytes" end
   return nil
end

local function enable(c, cc)
   local err = enable_error(c, cc)
   if err then
      c:log("enable refused: " .. err)
      set_u32(c, REG.CSTS, bor(u32(c, REG.CSTS), CSTS_CFS))
      return
   end
   local aqa = u32(c, REG.AQA)
   c.page = lshift(1, 12 + band(rshift(cc, 7), 0xf))
   c.st.page = c.page
   local asq = u32(c, REG.ASQ + 4) * 0x100000000 + u32(c, REG.ASQ)
   local acq = u32(c, REG.ACQ + 4) * 0x100000000 + u32(c, REG.ACQ)
   c.queues.create_cq(c, 0, acq, band(rshift(aqa, 16), 0xfff) + 1, 0, true)
   c.queues.create_sq(c, 0, asq, band(aqa, 0xfff) + 1, 0)
   c.st.ready = 1
   -- A new enable ends a shutdown state.
   local csts = band(u32(c, REG.CSTS), bit.bnot(lshift(3, CSTS_SHST_SHIFT)))
   set_u32(c, REG.CSTS, bor(csts, CSTS_RDY))
end

--- The driver wrote CC.
function M.cc_written(c)
   local cc = u32(c, REG.CC)
   local en = band(cc, CC_EN) ~= 0
   local shn = band(rshift(cc, CC_SHN_SHIFT), 3)
   local csts = u32(c, REG.CSTS)
   if shn ~= 0 and band(rshift(csts, CSTS_SHST_SHIFT), 3) ~= SHST_COMPLETE then
      -- Shutdown: nothing is cached beyond the store, so it completes at once.
      c:flush_all()
      c.st.ready = 0
      set_u32(c, REG.CSTS, bor(band(csts, bit.bnot(lshift(3, CSTS_SHST_SHIFT))),
         lshift(SHST_COMPLETE, CSTS_SHST_SHIFT)))
   end
   if en and not c.enabled then
      c.enabled = true
      if band(csts, CSTS_CFS) == 0 then enable(c, cc) end
   elseif not en and c.enabled then
      c.enabled = false
      M.controller_reset(c)
      set_u32(c, REG.CSTS, band(u32(c, REG.CSTS), bit.bnot(bor(CSTS_RDY, CSTS_CFS))))
   elseif not en then
      -- Disabled and staying so: a stale fatal status clears.
      set_u32(c, REG.CSTS, band(u32(c, REG.CSTS), bit.bnot(bor(CSTS_RDY, CSTS_CFS))))
   end
end

--- INTMS / INTMC: set or clear bits of the pin/MSI interrupt mask; both read the mask.
function M.intm_written(c, off, value)
   local st = c.st
   local mask = st.intms
   if off == REG.INTMS then mask = bor(mask, value)
   else mask = band(mask, bit.bnot(value)) end
   st.intms = mask
   set_u32(c, REG.INTMS, mask); set_u32(c, REG.INTMC, mask)
   c.queues.intx_mask_changed(c)
end

--- NSSR: the magic value resets the subsystem (and reports it in CSTS.NSSRO).
function M.nssr_written(c, value)
   set_u32(c, REG.NSSR, 0)
   if value ~= M.NSSR_MAGIC or not c.opts.nssr then return end
   c.enabled = false
   M.controller_reset(c)
   set_u32(c, REG.CC, 0)
   set_u32(c, REG.CSTS, CSTS_NSSRO)
end

--- A fatal controller error: CSTS.CFS, processing stops until reset.
function M.fatal(c)
   c.st.ready = 0
   set_u32(c, REG.CSTS, bor(u32(c, REG.CSTS), CSTS_CFS))
end

return M
