-- SPDX-License-Identifier: MIT
-- Submission and completion queue state (FFI structs shared with the native fast
-- path, fastpath.h), SQE fetch by DMA, CQE posting with the phase bit, interrupts
-- with coalescing, doorbells, shadow doorbells.
local ffi = require("ffi")
local bit = require("bit")
require("nvme.state")	-- the shared structs' cdef
local nvio = require("nvme.io")
local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift
local u32p = ffi.typeof("uint32_t *")

local M = {}
local shadow_sq

local SQE_SIZE, CQE_SIZE = 64, 16
local STALL_LUA = ffi.C.NVME_FP_STALL_LUA
local FETCH_MAX = 64			-- SQEs fetched per DMA
local STAGE_MAX = 64			-- CQEs written per DMA

--- Queue state for queue ids 0..maxq on controller `c`, in its shared state c.st.
function M.init(c, maxq)
   c.maxq = maxq
   c.sq = c.st.sq
   c.cq = c.st.cq
   c.vec = c.st.vec
   c.nvec = c.st.nvec
   c.sqe_buf = ffi.new("uint8_t[?]", SQE_SIZE * FETCH_MAX)
   c.cqe = ffi.new("uint32_t[4]")
   -- Completions of a queue run, written to their CQ in one DMA (flush_cqes).
   c.cqe_stage = ffi.new("uint32_t[?]", STAGE_MAX * 4)
   c.stage_n, c.stage_cqid, c.stage_addr = 0, 0, 0
   c.n_commands = 0
   c.vec_dirty = {}
   c.active = {}		-- SQs with shadow doorbells served since the last idle point
end

--- Forget every queue and owed interrupt (controller reset).
function M.reset(c)
   local st = c.st
   ffi.fill(c.sq, ffi.sizeof("struct nvme_fp_sq") * (c.maxq + 1), 0)
   ffi.fill(c.cq, ffi.sizeof("struct nvme_fp_cq") * (c.maxq + 1), 0)
   for v = 0, c.nvec - 1 do c.vec[v].count, c.vec[v].owed = 0, 0 end
   c.vec_dirty = {}
   c.active = {}
   c.stage_n = 0
   st.db_shadow, st.db_eventidx = 0, 0
   if st.intx_on == 1 then st.intx_on = 0; c.dev:intx(false) end
   st.intx_mode = 0
end

function M.create_sq(c, qid, base, size, cqid)
   local sq = c.sq[qid]
   sq.base, sq.size, sq.head, sq.tail, sq.cqid, sq.valid, sq.stalled = base, size, 0, 0, cqid, 1, 0
   c.cq[cqid].sqs = c.cq[cqid].sqs + 1
end

function M.create_cq(c, qid, base, size, iv, ien)
   local cq = c.cq[qid]
   cq.base, cq.size, cq.head, cq.tail, cq.iv = base, size, 0, 0, iv
   cq.valid, cq.ien, cq.phase, cq.sqs = 1, ien and 1 or 0, 1, 0
end

function M.delete_sq(c, qid)
   local sq = c.sq[qid]
   c.cq[sq.cqid].sqs = c.cq[sq.cqid].sqs - 1
   sq.valid = 0
end

function M.delete_cq(c, qid) c.cq[qid].valid = 0 end

local function cq_full(cq)
   local nt = cq.tail + 1
   if nt == cq.size then nt = 0 end
   return nt == cq.head
end

-- Whether CQ `cqid` has room. With shadow doorbells the driver may have consumed
-- entries without an MMIO write: read its shadow head, publishing EventIdx = the head
-- seen first, so that once we stop here its next head update rings the doorbell.
local function cq_has_room(c, cqid)
   local cq = c.cq[cqid]
   if not cq_full(cq) then return true end
   local db = c.dbbuf
   if not db or cqid == 0 then return false end
   while true do
      c.dev:dma_write32(db.eventidx + cqid * 8 + 4, cq.head)
      local head = c.dev:dma_read32(db.shadow + cqid * 8 + 4)
      if not head or head >= cq.size or head == cq.head then return false end
      cq.head = head
      if not cq_full(cq) then return true end
   end
end

local flush_cqes

--- Raise vector `v` now: MSI-X/MSI, or INTx when neither is enabled.
local function raise(c, v)
   if c.stage_n > 0 then flush_cqes(c) end	-- the entries before their interrupt
   local st, vec = c.st, c.vec[v]
   vec.owed, vec.count = 0, 0
   st.stats.irqs = st.stats.irqs + 1
   local ok = c.dev:irq(v)
   if ok == nil then
      -- No MSI/MSI-X: the pin, unless the driver masked it with INTMS.
      st.intx_mode = 1
      if band(st.intms, 1) == 0 and st.intx_on == 0 then
         st.intx_on = 1
         c.dev:intx(true)
      end
   else
      st.intx_mode = 0
   end
end
M.raise = raise

-- Whether completions on vector `v` aggregate (Interrupt Coalescing set, the vector's
-- Coalescing Disable clear; never the admin vector 0).
local function coalesced(c, v)
   local st = c.st
   return v ~= 0 and (st.coal_thr ~= 0 or st.coal_time ~= 0) and c.vec[v].cd == 0
end

--- Write the staged completions to their CQ in one DMA. False (and the
--- controller fatal) when that memory is not reachable.
function flush_cqes(c)
   local n = c.stage_n
   if n == 0 then return true end
   c.stage_n = 0
   if not c.dev:dma_write(c.stage_addr, c.cqe_stage, n * CQE_SIZE) then
      c:fatal(("CQ %d: completion at 0x%x not writable"):format(c.stage_cqid, tonumber(c.stage_addr)))
      return false
   end
   return true
end
M.flush_cqes = flush_cqes

--- Post one completion to CQ `cqid`: dw0 result, sq head/id, cid, status field
--- (bits 15:1 of dw3's upper half as the spec lays it out: SC | SCT << 8 | DNR << 14).
--- `stage`: leave it for flush_cqes, which writes a run of them at once (a queue
--- run does; the entries must be flushed before their interrupt is raised).
--- Returns false when the CQ is full or its memory is not reachable.
function M.post(c, cqid, result, sqhd, sqid, cid, status, stage)
   local cq = c.cq[cqid]
   if cq.valid == 0 or cq_full(cq) then return false end
   local e
   local n = c.stage_n
   if stage then
      -- A staged run is contiguous in one CQ: anything else writes it out first.
      if n > 0 and (c.stage_cqid ~= cqid or cq.tail == 0 or n == STAGE_MAX) then
         if not flush_cqes(c) then return false end
         n = 0
      end
      if n == 0 then c.stage_cqid, c.stage_addr = cqid, cq.base + cq.tail * CQE_SIZE end
      e = c.cqe_stage + n * 4
   else
      if n > 0 and not flush_cqes(c) then return false end	-- keep CQ order
      e = c.cqe
   end
   e[0] = result
   e[1] = 0
   e[2] = bor(sqhd, lshift(sqid, 16))
   e[3] = bor(cid, lshift(cq.phase, 16), lshift(status, 17))
   local hook = c.fault_cqe
   if hook then hook(c, cqid, e) end
   if stage then
      c.stage_n = n + 1
   elseif not c.dev:dma_write(cq.base + cq.tail * CQE_SIZE, e, CQE_SIZE) then
      c:fatal(("CQ %d: completion at 0x%x not writable"):format(cqid, tonumber(cq.base)))
      return false
   end
   cq.tail = cq.tail + 1
   if cq.tail == cq.size then cq.tail = 0; cq.phase = 1 - cq.phase end
   if cq.ien == 1 then
      local v = cq.iv
      local vec = c.vec[v]
      vec.owed, vec.count = 1, vec.count + 1
      c.vec_dirty[v] = true
   end
   return true
end

--- After a batch: raise the vectors posted to, except those that aggregate and
--- have not reached the threshold (they wait for the end of the burst, M.idle).
function M.flush_irqs(c)
   local thr = c.st.coal_thr
   for v in pairs(c.vec_dirty) do
      c.vec_dirty[v] = nil
      local vec = c.vec[v]
      if vec.owed == 1 and (not coalesced(c, v) or vec.count > thr) then raise(c, v) end
   end
end

--- The end of a burst (dev:on_idle): SQs the native path handed over outside a
--- doorbell run here; then every owed interrupt goes out, the native path's
--- included. Interrupt Coalescing's aggregation time ends here.
function M.idle(c)
   local st = c.st
   if st.lua_kick ~= 0 then
      st.lua_kick = 0
      for q = 1, c.maxq do
         local sq = c.sq[q]
         if sq.valid == 1 and sq.stalled == STALL_LUA then
            sq.stalled = 0
            M.process_sq(c, q)
            if c.dbbuf then c.active[q] = true end
         end
      end
   elseif c.native and next(c.active) == nil then
      return	-- the native idle function, run just before, raised what was owed
   end
   -- Shadow doorbells served while busy: publish EventIdx and look again.
   for qid in pairs(c.active) do
      c.active[qid] = nil
      local sq = c.sq[qid]
      if c.dbbuf and sq.valid == 1 and sq.stalled == 0 and st.ready == 1 then shadow_sq(c, qid) end
   end
   local vec = c.vec
   for v = 0, c.nvec - 1 do
      if vec[v].owed == 1 then raise(c, v) end
   end
   c.vec_dirty = {}
end

-- One command: status and result of its completion, or nil when it is held.
-- A fault plan's hook decides first: nil runs the command, false swallows it,
-- a number completes it with that status. A bug in a command's model must not
-- take the controller down: the command fails with Internal Error.
local function run_command(c, qid, sqe, exec)
   local fault = c.fault_cmd
   if fault then
      local r = fault(c, qid, sqe)
      if r == false then return nil end
      if r ~= nil then return r, 0 end
   end
   local ok, status, result = pcall(exec, c, qid, sqe)
   if ok then return status, result end
   c:log(("SQ %d: opcode 0x%02x failed in the model: %s")
      :format(qid, band(sqe[0], 0xff), tostring(status)))
   return 0x06, 0
end

-- Run SQ `qid` from its head to its tail: fetch, execute (`exec(c, sqid, sqe)`
-- returns a completion or nothing for a held command), stage the completions.
local function serve_sq(c, qid)
   local sq = c.sq[qid]
   local exec = qid == 0 and c.exec_admin or c.exec_io
   local st = c.st
   while sq.valid == 1 and sq.head ~= sq.tail and st.ready == 1 do
      local cq = c.cq[sq.cqid]
      if not cq_has_room(c, sq.cqid) then sq.stalled = 1; break end
      sq.stalled = 0
      -- Fetch a contiguous run of entries in one DMA.
      local run = (sq.tail > sq.head and sq.tail or sq.size) - sq.head
      if run > FETCH_MAX then run = FETCH_MAX end
      local ok = c.dev:dma_read_into(sq.base + sq.head * SQE_SIZE, c.sqe_buf, run * SQE_SIZE)
      if not ok then
         c:fatal(("SQ %d: entries at 0x%x not readable"):format(qid, tonumber(sq.base)))
         return
      end
      for i = 0, run - 1 do
         if sq.valid == 0 or st.ready == 0 then return end
         local sqe = ffi.cast(u32p, c.sqe_buf + i * SQE_SIZE)
         local cid = rshift(sqe[0], 16)
         sq.head = sq.head + 1
         if sq.head == sq.size then sq.head = 0 end
         c.n_commands = c.n_commands + 1
         local status, result = run_command(c, qid, sqe, exec)
         if status then
            if status ~= 0 then c:log_error(qid, cid, status, sqe) end
            if not M.post(c, sq.cqid, result or 0, sq.head, qid, cid, status, true) then
               -- Full (cannot happen: checked per run) or unreachable: stop here.
               sq.stalled = 1
               return
            end
         end
         if i < run - 1 and not cq_has_room(c, sq.cqid) then
            -- Give back the entries not executed yet.
            local back = run - 1 - i
            sq.head = (sq.head + sq.size - back) % sq.size
            sq.stalled = 1
            return
         end
      end
   end
end

--- Run SQ `qid` from its head to its tail and write out its completions.
function M.process_sq(c, qid)
   serve_sq(c, qid)
   flush_cqes(c)
   -- Counters, once per run: a 64-bit FFI sum per command would box each value.
   local n = c.n_commands
   if n > 0 then
      c.n_commands = 0
      c.st.stats.commands = c.st.stats.commands + n
   end
   nvio.fold_counters(c)
end

-- Doorbell Buffer Config (5.7), while busy: take the shadow tail and serve the queue
-- from its head; EventIdx stays behind the tail, so the driver's next submissions
-- cost no MMIO write until the idle point settles the queue (shadow_sq).
local function take_shadow(c, qid)
   local sq = c.sq[qid]
   local tail = c.dev:dma_read32(c.dbbuf.shadow + qid * 8)
   if tail and tail < sq.size and tail ~= sq.tail then
      sq.tail = tail
      c.st.stats.shadow_tails = c.st.stats.shadow_tails + 1
   end
   c.active[qid] = true
   M.process_sq(c, qid)
end

-- At the idle point: publish EventIdx = the tail consumed, then look at the shadow
-- tail again; a value written meanwhile (the driver read the old EventIdx and
-- skipped the MMIO write) is served here. Write EventIdx before reading the shadow,
-- as the driver writes the shadow before reading EventIdx.
function shadow_sq(c, qid)
   local sq, db = c.sq[qid], c.dbbuf
   while true do
      c.dev:dma_write32(db.eventidx + qid * 8, sq.tail)
      local tail = c.dev:dma_read32(db.shadow + qid * 8)
      if not tail or tail >= sq.size or tail == sq.tail then return end
      sq.tail = tail
      c.st.stats.shadow_tails = c.st.stats.shadow_tails + 1
      M.process_sq(c, qid)
      if sq.stalled == 1 then return end
   end
end

--- A doorbell write at `off` (0x1000 + ...) with `value`.
function M.doorbell(c, off, value)
   local st = c.st
   if st.ready == 0 then return end
   st.stats.doorbells = st.stats.doorbells + 1
   local idx = rshift(off - 0x1000, 2)
   local qid, is_cq = rshift(idx, 1), band(idx, 1) == 1
   if qid > c.maxq then return c:bad_doorbell(off, value, "no such queue") end
   if is_cq then
      local cq = c.cq[qid]
      if cq.valid == 0 or value >= cq.size then
         return c:bad_doorbell(off, value, "invalid CQ head")
      end
      if c.dbbuf and qid > 0 then
         -- The shadow is never behind an MMIO value (the driver writes it first),
         -- and an MMIO value can be behind what the shadow already told us.
         -- EventIdx stays: only a full CQ asks for the next head (cq_has_room).
         local head = c.dev:dma_read32(c.dbbuf.shadow + qid * 8 + 4)
         if head and head < cq.size then value = head end
      end
      cq.head = value
      if st.intx_on == 1 then M.update_intx(c) end
      -- SQs that waited for room go on.
      for s = 0, c.maxq do
         local sq = c.sq[s]
         if sq.valid == 1 and sq.stalled == 1 and sq.cqid == qid then
            M.process_sq(c, s)
            if c.dbbuf and s > 0 then c.active[s] = true end
         end
      end
   else
      local sq = c.sq[qid]
      if sq.valid == 0 or value >= sq.size then
         return c:bad_doorbell(off, value, "invalid SQ tail")
      end
      if c.dbbuf and qid > 0 then
         -- The shadow tail is the truth; this MMIO value may be older than a tail
         -- already taken from it (queued events), and must not move the tail back.
         -- Entries up to the tail we have come first: the native path may have
         -- taken the tail and handed the rest of the queue over.
         take_shadow(c, qid)
      else
         sq.tail = value
         M.process_sq(c, qid)
      end
   end
   M.flush_irqs(c)
end

-- Whether a CQ with interrupts enabled holds entries the driver has not consumed.
local function unconsumed(c)
   for q = 0, c.maxq do
      local cq = c.cq[q]
      if cq.valid == 1 and cq.ien == 1 and cq.head ~= cq.tail then return true end
   end
   return false
end

--- Drop INTx once no CQ with interrupts enabled holds unconsumed entries.
function M.update_intx(c)
   if unconsumed(c) then return end
   c.st.intx_on = 0
   c.dev:intx(false)
end

--- INTMS/INTMC changed: a set mask drops the pin; a cleared one brings it back
--- for completions that arrived while it was masked.
function M.intx_mask_changed(c)
   local st = c.st
   if band(st.intms, 1) ~= 0 then
      if st.intx_on == 1 then st.intx_on = 0; c.dev:intx(false) end
   elseif st.intx_on == 0 and st.intx_mode == 1 and unconsumed(c) then
      st.intx_on = 1
      c.dev:intx(true)
   end
end

return M
