-- SPDX-License-Identifier: MIT
-- Admin command set (NVMe 1.4 section 5): queues, Identify, features, log pages,
-- asynchronous events, Abort, Keep Alive, Format NVM.
local ffi = require("ffi")
local bit = require("bit")
local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift
local nvio = require("nvme.io")
local S, u64 = nvio.S, nvio.u64

local M = {}

local OP = { DELETE_SQ = 0x00, CREATE_SQ = 0x01, GET_LOG = 0x02, DELETE_CQ = 0x04,
   CREATE_CQ = 0x05, IDENTIFY = 0x06, ABORT = 0x08, SET_FEATURES = 0x09,
   GET_FEATURES = 0x0a, AER = 0x0c, KEEP_ALIVE = 0x18, DBBUF = 0x7c, FORMAT = 0x80 }
M.OP = OP

local FID = { ARBITRATION = 0x01, POWER = 0x02, TEMP = 0x04, ERROR_RECOVERY = 0x05,
   VWC = 0x06, NUM_QUEUES = 0x07, IRQ_COALESCE = 0x08, IRQ_CONFIG = 0x09,
   WRITE_ATOMIC = 0x0a, ASYNC_EVENT = 0x0b }
M.FID = FID

M.AERL = 3		-- 0-based: four AERs held at most
M.ERROR_LOG = 64	-- error log entries kept

--- Default feature values (5.21.1).
function M.reset_features(c)
   c.features = {
      [FID.ARBITRATION] = 0, [FID.POWER] = 0,
      [FID.ERROR_RECOVERY] = 0, [FID.VWC] = 1,
      [FID.IRQ_COALESCE] = 0, [FID.WRITE_ATOMIC] = 0, [FID.ASYNC_EVENT] = 0,
   }
   -- Temperature thresholds: over (THSEL 0) 0x157 K, under (THSEL 1) 0.
   c.temp_over, c.temp_under = 0x157, 0
   c.irq_config = {}		-- vector -> Coalescing Disable bit
   c.nq_sq, c.nq_cq = c.maxq, c.maxq	-- allocated I/O queues
   -- What the interrupt path applies lives in the shared state.
   c.st.coal_thr, c.st.coal_time = 0, 0
   for v = 0, c.nvec - 1 do c.vec[v].cd = 0 end
end

---------------------------------------------------------------------------
-- Helpers filling c.data

local function zero(c, len) ffi.fill(c.data, len, 0) end
local function put8(c, off, v) c.data[off] = v end
local function put16(c, off, v) ffi.cast("uint16_t *", c.data + off)[0] = v end
local function put32(c, off, v) ffi.cast("uint32_t *", c.data + off)[0] = v end
local function put64(c, off, v) ffi.cast("uint64_t *", c.data + off)[0] = v end
local function putstr(c, off, len, s)
   ffi.fill(c.data + off, len, 0x20)
   ffi.copy(c.data + off, s, math.min(#s, len))
end

---------------------------------------------------------------------------
-- Queues (5.3-5.5)

local function create_cq(c, sqe)
   local qid, qsize = band(sqe[10], 0xffff), rshift(sqe[10], 16) + 1
   local pc, ien, iv = band(sqe[11], 1), band(sqe[11], 2) ~= 0, rshift(sqe[11], 16)
   if qid == 0 or qid > c.nq_cq or c.cq[qid].valid == 1 then return S.INVALID_QID end
   if qsize < 2 or qsize > c.regs_mod.MQES + 1 then return S.INVALID_QSIZE end
   if pc == 0 then return S.INVALID_FIELD end	-- CAP.CQR: contiguous only
   if iv >= c.vectors then return S.INVALID_VECTOR end
   local base = u64(sqe, 6)
   if base % c.page ~= 0 then return S.INVALID_FIELD end
   c.queues.create_cq(c, qid, base, qsize, iv, ien)
   return 0
end

local function create_sq(c, sqe)
   local qid, qsize = band(sqe[10], 0xffff), rshift(sqe[10], 16) + 1
   local pc, cqid = band(sqe[11], 1), rshift(sqe[11], 16)
   if qid == 0 or qid > c.nq_sq or c.sq[qid].valid == 1 then return S.INVALID_QID end
   if cqid == 0 or cqid > c.maxq or c.cq[cqid].valid == 0 then return S.CQ_INVALID end
   if qsize < 2 or qsize > c.regs_mod.MQES + 1 then return S.INVALID_QSIZE end
   if pc == 0 then return S.INVALID_FIELD end
   local base = u64(sqe, 6)
   if base % c.page ~= 0 then return S.INVALID_FIELD end
   c.queues.create_sq(c, qid, base, qsize, cqid)
   return 0
end

local function delete_sq(c, sqe)
   local qid = band(sqe[10], 0xffff)
   if qid == 0 or qid > c.maxq or c.sq[qid].valid == 0 then return S.INVALID_QID end
   c.queues.delete_sq(c, qid)
   return 0
end

local function delete_cq(c, sqe)
   local qid = band(sqe[10], 0xffff)
   if qid == 0 or qid > c.maxq or c.cq[qid].valid == 0 then return S.INVALID_QID end
   if c.cq[qid].sqs > 0 then return S.INVALID_QDELETE end
   c.queues.delete_cq(c, qid)
   return 0
end

---------------------------------------------------------------------------
-- Identify (5.15)

local function identify_ctrl(c)
   local o = c.opts
   zero(c, 4096)
   put16(c, 0, o.vendor); put16(c, 2, o.vendor)
   putstr(c, 4, 20, o.serial)
   putstr(c, 24, 40, o.model)
   putstr(c, 64, 8, o.firmware)
   put8(c, 72, 6)				-- RAB
   put8(c, 73, 0x14); put8(c, 74, 0xe3); put8(c, 75, 0x7a)	-- IEEE OUI (made up)
   put8(c, 77, c.mdts)				-- MDTS: 2^n pages of CAP.MPSMIN
   put16(c, 78, 1)				-- CNTLID
   put32(c, 80, c.regs_mod.VERSION)
   put32(c, 92, lshift(1, 8))			-- OAES: namespace attribute notices
   put8(c, 111, 1)				-- CNTRLTYPE: I/O controller
   put16(c, 256, bor(lshift(1, 1), c.dbbuf_ok and lshift(1, 8) or 0))	-- OACS: Format NVM (+ DBBUF)
   put8(c, 258, 3)				-- ACL: four Aborts
   put8(c, 259, M.AERL)
   put8(c, 260, bor(1, lshift(1, 1)))		-- FRMW: slot 1 read only, one slot
   put8(c, 261, bor(2, 4))			-- LPA: effects log, extended data
   put8(c, 262, M.ERROR_LOG - 1)		-- ELPE
   put16(c, 266, 0x157); put16(c, 268, 0x175)	-- WCTEMP 343 K, CCTEMP 373 K
   put8(c, 512, 0x66); put8(c, 513, 0x44)	-- SQES, CQES
   put16(c, 514, 0)				-- MAXCMD: not reported
   put32(c, 516, #c.ns)				-- NN
   put16(c, 520, bor(1, 4, 8))			-- ONCS: Compare, DSM, Write Zeroes
   put8(c, 525, 1)				-- VWC present
   put32(c, 536, 1)				-- SGLS: SGLs for I/O, no alignment rule
   putstr(c, 768, 256, "nqn.2026-11.io.pciem:nvme:" .. o.serial)
   ffi.fill(c.data + 768 + #("nqn.2026-11.io.pciem:nvme:" .. o.serial), 256 - #("nqn.2026-11.io.pciem:nvme:" .. o.serial), 0)
   put16(c, 2048, 2500)				-- PSD0: 25 W
   return 4096
end

local function identify_ns(c, ns)
   zero(c, 4096)
   if ns then
      put64(c, 0, ns.blocks); put64(c, 8, ns.blocks); put64(c, 16, ns.blocks)
      put8(c, 24, 0)
      put8(c, 26, ns.lbaf)
   end
   put8(c, 25, #c.lba_formats - 1)		-- NLBAF (0-based)
   put8(c, 33, bor(1, 8))			-- DLFEAT: deallocated reads zero; WZ deallocate bit
   if ns then
      for i = 0, 15 do put8(c, 104 + i, ns.nguid[i + 1]) end	-- NGUID
   end
   for i, shift in ipairs(c.lba_formats) do put32(c, 128 + (i - 1) * 4, lshift(shift, 16)) end
   return 4096
end

local function identify(c, sqe)
   local cns, nsid = band(sqe[10], 0xff), sqe[1]
   local len
   if cns == 0 then
      if nsid == 0xffffffff then len = identify_ns(c, nil)
      else
         local ns = c.ns[nsid]
         if not ns then return S.INVALID_NS end
         len = identify_ns(c, ns)
      end
   elseif cns == 1 then
      len = identify_ctrl(c)
   elseif cns == 2 then
      if nsid >= 0xfffffffe then return S.INVALID_NS end
      zero(c, 4096)
      local k = 0
      for id = 1, #c.ns do
         if id > nsid then put32(c, k * 4, id); k = k + 1 end
      end
      len = 4096
   elseif cns == 3 then
      local ns = c.ns[nsid]
      if not ns then return S.INVALID_NS end
      zero(c, 4096)
      put8(c, 0, 2); put8(c, 1, 16)		-- NIDT 2: NGUID, 16 bytes
      for i = 0, 15 do put8(c, 4 + i, ns.nguid[i + 1]) end
      len = 4096
   elseif cns == 5 or cns == 6 then
      -- I/O command set specific structures of the NVM command set (CSI 0): no
      -- limits beyond MDTS to report, so all zero.
      if rshift(sqe[11], 24) ~= 0 then return S.INVALID_FIELD end
      if cns == 5 and not c.ns[nsid] then return S.INVALID_NS end
      zero(c, 4096)
      len = 4096
   else
      return S.INVALID_FIELD
   end
   return nvio.to_host(c, sqe, len)
end

---------------------------------------------------------------------------
-- Features (5.21, 5.9)

local function get_features(c, sqe)
   local fid, sel = band(sqe[10], 0xff), band(rshift(sqe[10], 8), 7)
   if sel == 3 then	-- supported capabilities: changeable, not saveable or NS specific
      if fid == FID.NUM_QUEUES or c.features[fid] or fid == FID.TEMP or fid == FID.IRQ_CONFIG then
         return 0, 4
      end
      return S.INVALID_FIELD
   end
   if sel > 3 then return S.INVALID_FIELD end
   if fid == FID.NUM_QUEUES then
      return 0, bor(c.nq_sq - 1, lshift(c.nq_cq - 1, 16))
   elseif fid == FID.TEMP then
      local thsel, tmpsel = band(rshift(sqe[11], 20), 3), band(rshift(sqe[11], 16), 0xf)
      if thsel > 1 or tmpsel > 0 then return S.INVALID_FIELD end
      return 0, bor(thsel == 0 and c.temp_over or c.temp_under, lshift(thsel, 20))
   elseif fid == FID.IRQ_CONFIG then
      local iv = band(sqe[11], 0xffff)
      if iv >= c.vectors then return S.INVALID_FIELD end
      return 0, bor(iv, c.irq_config[iv] and 0x10000 or 0)
   elseif c.features[fid] then
      if sel == 1 then
         return 0, fid == FID.VWC and 1 or 0	-- default values
      end
      return 0, c.features[fid]
   end
   return S.INVALID_FIELD
end

local function set_features(c, sqe)
   local fid, dw11 = band(sqe[10], 0xff), sqe[11]
   if band(sqe[10], 0x80000000) ~= 0 then return 0x10d + 0x4000 end	-- SV: not saveable
   if fid == FID.NUM_QUEUES then
      local nsqr, ncqr = band(dw11, 0xffff), rshift(dw11, 16)
      if nsqr == 0xffff or ncqr == 0xffff then return S.INVALID_FIELD end
      for q = 1, c.maxq do
         if c.sq[q].valid == 1 or c.cq[q].valid == 1 then return 0x0c + 0x4000 end	-- sequence error
      end
      c.nq_sq = math.min(nsqr + 1, c.maxq)
      c.nq_cq = math.min(ncqr + 1, c.maxq)
      return 0, bor(c.nq_sq - 1, lshift(c.nq_cq - 1, 16))
   elseif fid == FID.TEMP then
      local thsel, tmpsel = band(rshift(dw11, 20), 3), band(rshift(dw11, 16), 0xf)
      if thsel > 1 or tmpsel > 0 then return S.INVALID_FIELD end
      if thsel == 0 then c.temp_over = band(dw11, 0xffff) else c.temp_under = band(dw11, 0xffff) end
      return 0
   elseif fid == FID.IRQ_CONFIG then
      local iv = band(dw11, 0xffff)
      if iv >= c.vectors then return S.INVALID_FIELD end
      c.irq_config[iv] = band(dw11, 0x10000) ~= 0 or nil
      c.vec[iv].cd = c.irq_config[iv] and 1 or 0
      return 0
   elseif fid == FID.POWER then
      if band(dw11, 0x1f) ~= 0 then return S.INVALID_FIELD end	-- one power state
      c.features[fid] = band(dw11, 0xff)
      return 0
   elseif fid == FID.VWC then
      c.features[fid] = band(dw11, 1)
      return 0
   elseif fid == FID.IRQ_COALESCE then
      c.features[fid] = band(dw11, 0xffff)
      c.st.coal_thr, c.st.coal_time = band(dw11, 0xff), band(rshift(dw11, 8), 0xff)
      return 0
   elseif c.features[fid] then
      c.features[fid] = dw11
      return 0
   end
   return S.INVALID_FIELD
end

---------------------------------------------------------------------------
-- Log pages (5.14)

local function u128(c, off, v) put64(c, off, v) end

local function log_smart(c)
   zero(c, 512)
   local s = c.smart
   put8(c, 0, 0)					-- critical warning
   put16(c, 1, 313)					-- 40 C
   put8(c, 3, 100); put8(c, 4, 10); put8(c, 5, 0)
   u128(c, 32, math.ceil(tonumber(s.read_blocks) / 1000))	-- data units: 1000 x 512 bytes
   u128(c, 48, math.ceil(tonumber(s.write_blocks) / 1000))
   u128(c, 64, s.read_cmds); u128(c, 80, s.write_cmds)
   u128(c, 96, 0)
   u128(c, 112, c.power_cycles)
   u128(c, 128, math.floor((os.time() - c.started_at) / 3600))
   u128(c, 144, 0)
   u128(c, 160, 0)
   u128(c, 176, c.error_count)
   return 512
end

local function log_error(c)
   local n = M.ERROR_LOG
   zero(c, n * 64)
   for i = 1, math.min(#c.errors, n) do
      local e, o = c.errors[#c.errors - i + 1], (i - 1) * 64
      put64(c, o, e.count); put16(c, o + 8, e.sqid); put16(c, o + 10, e.cid)
      put16(c, o + 12, lshift(e.status, 1)); put16(c, o + 14, 0xffff)
      put64(c, o + 16, e.lba or 0); put32(c, o + 24, e.nsid or 0)
   end
   return n * 64
end

local function log_fw(c)
   zero(c, 512)
   put8(c, 0, 1)					-- AFI: slot 1 active
   putstr(c, 8, 8, c.opts.firmware)
   return 512
end

local function log_changed_ns(c)
   zero(c, 4096)
   for i, id in ipairs(c.changed_ns) do
      if i > 1024 then put32(c, 0, 0xffffffff); break end
      put32(c, (i - 1) * 4, id)
   end
   c.changed_ns = {}
   return 4096
end

local function log_effects(c)
   zero(c, 4096)
   local CSUPP, LBCC, NCC, NIC, CSE_ONE = 1, 2, 4, 8, lshift(1, 16)
   for _, op in pairs(OP) do put32(c, op * 4, CSUPP) end
   put32(c, OP.FORMAT * 4, bor(CSUPP, LBCC, NCC, NIC, CSE_ONE))
   for _, op in pairs(nvio.OP) do
      local e = CSUPP
      if op == nvio.OP.WRITE or op == nvio.OP.WRITE_ZEROES or op == nvio.OP.DSM then e = bor(e, LBCC) end
      put32(c, 1024 + op * 4, e)
   end
   return 4096
end

local LOGS = { [0x01] = log_error, [0x02] = log_smart, [0x03] = log_fw,
   [0x04] = log_changed_ns, [0x05] = log_effects }

local function get_log(c, sqe)
   local lid = band(sqe[10], 0xff)
   local numd = rshift(sqe[10], 16) + lshift(band(sqe[11], 0xffff), 16) + 1
   local len = numd * 4
   local offset = u64(sqe, 12)
   local fn = LOGS[lid]
   if not fn then return S.INVALID_LOG_PAGE end
   if len > c.mdts_bytes then return S.INVALID_FIELD end
   local size = fn(c)
   if offset % 4 ~= 0 or offset >= size then return S.INVALID_FIELD end
   -- The part asked for, zero past the log's end.
   if offset > 0 then ffi.copy(c.data, c.data + offset, size - offset) end
   local have = size - offset
   if len > have then ffi.fill(c.data + have, len - have, 0) end
   -- Reading a log page re-arms its asynchronous event type (RAE clear).
   return nvio.to_host(c, sqe, len)
end

---------------------------------------------------------------------------
-- Asynchronous events (5.2), Abort (5.1), Doorbell Buffer Config (5.7), Format (5.23)

local function aer(c, sqe)
   if #c.aers > M.AERL then return S.AER_LIMIT end
   c.aers[#c.aers + 1] = rshift(sqe[0], 16)
   c:deliver_events()
   return nil	-- held
end

--- Complete a held AER with an event (type, info, log page), if one is held.
function M.post_event(c, etype, info, lid)
   local cid = table.remove(c.aers, 1)
   if not cid then return false end
   local result = bor(etype, lshift(info, 8), lshift(lid, 16))
   local sq = c.sq[0]
   c.queues.post(c, 0, result, sq.head, 0, cid, 0)
   c.queues.flush_irqs(c)
   return true
end

local function abort(c, sqe)
   local sqid, cid = band(sqe[10], 0xffff), rshift(sqe[10], 16)
   if sqid == 0 then
      for i, held in ipairs(c.aers) do
         if held == cid then
            table.remove(c.aers, i)
            c.queues.post(c, 0, 0, c.sq[0].head, 0, cid, 0x07)	-- Command Abort Requested
            return 0, 0
         end
      end
   end
   return 0, 1	-- not aborted: every other command has completed already
end

local function dbbuf(c, sqe)
   if not c.dbbuf_ok then return S.INVALID_OPCODE end
   local shadow, eventidx = u64(sqe, 6), u64(sqe, 8)
   if shadow == 0 or eventidx == 0 or shadow % c.page ~= 0 or eventidx % c.page ~= 0 then
      return S.INVALID_FIELD
   end
   c.dbbuf = { shadow = shadow, eventidx = eventidx }
   c.st.db_shadow, c.st.db_eventidx = shadow, eventidx
   -- I/O queues that exist already: Linux creates them with its shadow protocol
   -- running before it sends this command, so submissions it made without an MMIO
   -- write are only in the shadow. Take the CQ heads now; the SQs get EventIdx and
   -- their shadow tails at the idle point (queues.idle), like queues served while busy.
   for q = 1, c.maxq do
      local cq = c.cq[q]
      if cq.valid == 1 then
         local head = c.dev:dma_read32(shadow + q * 8 + 4)
         if head and head < cq.size then cq.head = head end
         c.dev:dma_write32(eventidx + q * 8 + 4, cq.head)
      end
   end
   for q = 1, c.maxq do
      local sq = c.sq[q]
      if sq.valid == 1 then
         if sq.stalled == 1 then sq.stalled = 0 end
         c.active[q] = true
      end
   end
   return 0
end

local function format(c, sqe)
   local lbaf, ses = band(sqe[10], 0xf), band(rshift(sqe[10], 9), 7)
   if lbaf >= #c.lba_formats then return S.INVALID_FORMAT end
   if band(sqe[10], 0x1f0) ~= 0 or ses > 2 then return S.INVALID_FIELD end	-- no metadata/PI
   local nsid = sqe[1]
   local list = {}
   if nsid == 0xffffffff then list = c.ns
   else
      local ns = c.ns[nsid]
      if not ns then return S.INVALID_NS end
      list = { ns }
   end
   for _, ns in ipairs(list) do
      ns.store:zero(0, ns.store.size)
      c:set_format(ns, lbaf)
   end
   return 0
end

--- Execute one admin command; returns status, result (nothing for a held one).
function M.exec(c, sqid, sqe)
   local opcode = band(sqe[0], 0xff)
   if band(sqe[0], 0xc300) ~= 0 then return S.INVALID_FIELD end	-- fused or SGL
   if opcode == OP.CREATE_CQ then return create_cq(c, sqe)
   elseif opcode == OP.CREATE_SQ then return create_sq(c, sqe)
   elseif opcode == OP.DELETE_SQ then return delete_sq(c, sqe)
   elseif opcode == OP.DELETE_CQ then return delete_cq(c, sqe)
   elseif opcode == OP.IDENTIFY then return identify(c, sqe)
   elseif opcode == OP.GET_FEATURES then return get_features(c, sqe)
   elseif opcode == OP.SET_FEATURES then return set_features(c, sqe)
   elseif opcode == OP.GET_LOG then return get_log(c, sqe)
   elseif opcode == OP.AER then return aer(c, sqe)
   elseif opcode == OP.ABORT then return abort(c, sqe)
   elseif opcode == OP.KEEP_ALIVE then return 0
   elseif opcode == OP.DBBUF then return dbbuf(c, sqe)
   elseif opcode == OP.FORMAT then return format(c, sqe)
   end
   return S.INVALID_OPCODE
end

return M
