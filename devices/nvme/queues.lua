-- SPDX-License-Identifier: MIT
-- Submission and completion queue state (FFI structs, so a native fast path can share
-- it later), SQE fetch by DMA, CQE posting with the phase bit, interrupts, doorbells.
local ffi = require("ffi")
local bit = require("bit")
local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift

pcall(ffi.cdef, [[
struct nvme_lua_sq {
	uint64_t base;		/* bus address of entry 0 */
	uint32_t size;		/* entries */
	uint32_t head, tail;
	uint16_t cqid;
	uint8_t valid, stalled;	/* stalled: waiting for room in its CQ */
};
struct nvme_lua_cq {
	uint64_t base;
	uint32_t size;
	uint32_t head, tail;
	uint16_t iv;		/* interrupt vector */
	uint8_t valid, ien, phase, sqs;	/* sqs: SQs attached */
};
]])

local M = {}
local shadow_sq

local SQE_SIZE, CQE_SIZE = 64, 16
local FETCH_MAX = 64			-- SQEs fetched per DMA

--- Allocate queue state for queue ids 0..maxq on controller `c`.
function M.init(c, maxq)
   c.maxq = maxq
   c.sq = ffi.new("struct nvme_lua_sq[?]", maxq + 1)
   c.cq = ffi.new("struct nvme_lua_cq[?]", maxq + 1)
   c.sqe_buf = ffi.new("uint8_t[?]", SQE_SIZE * FETCH_MAX)
   c.cqe = ffi.new("uint32_t[4]")
   c.intx_on = false
end

--- Forget every queue (controller reset).
function M.reset(c)
   ffi.fill(c.sq, ffi.sizeof("struct nvme_lua_sq") * (c.maxq + 1), 0)
   ffi.fill(c.cq, ffi.sizeof("struct nvme_lua_cq") * (c.maxq + 1), 0)
   if c.intx_on then c.intx_on = false; c.dev:intx(false) end
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

--- Signal CQ `cq` to the driver: MSI-X/MSI vector, or INTx when neither is enabled.
local function interrupt(c, cq)
   if cq.ien == 0 then return end
   local ok = c.dev:irq(cq.iv)
   if ok == nil then
      -- No MSI/MSI-X: the pin, unless the driver masked it with INTMS.
      if band(c.intms, 1) == 0 and not c.intx_on then
         c.intx_on = true
         c.dev:intx(true)
      end
   end
end
M.interrupt = interrupt

--- Post one completion to CQ `cqid`: dw0 result, sq head/id, cid, status field
--- (bits 15:1 of dw3's upper half as the spec lays it out: SC | SCT << 8 | DNR << 14).
--- Returns false when the CQ is full or its memory is not reachable.
function M.post(c, cqid, result, sqhd, sqid, cid, status)
   local cq = c.cq[cqid]
   if cq.valid == 0 or cq_full(cq) then return false end
   local e = c.cqe
   e[0] = result
   e[1] = 0
   e[2] = bor(sqhd, lshift(sqid, 16))
   e[3] = bor(cid, lshift(cq.phase, 16), lshift(status, 17))
   local ok = c.dev:dma_write(cq.base + cq.tail * CQE_SIZE, e, CQE_SIZE)
   if not ok then
      c:fatal(("CQ %d: completion at 0x%x not writable"):format(cqid, tonumber(cq.base)))
      return false
   end
   cq.tail = cq.tail + 1
   if cq.tail == cq.size then cq.tail = 0; cq.phase = 1 - cq.phase end
   c.cq_dirty[cqid] = true
   return true
end

--- Raise the interrupts of the CQs posted to since the last call.
function M.flush_irqs(c)
   for cqid in pairs(c.cq_dirty) do
      c.cq_dirty[cqid] = nil
      local cq = c.cq[cqid]
      if cq.valid == 1 then interrupt(c, cq) end
   end
end

--- Run SQ `qid` from its head to its tail: fetch, execute (`exec(c, sqid, sqe)`
--- returns a completion or nothing for a held command), post.
function M.process_sq(c, qid)
   local sq = c.sq[qid]
   local exec = qid == 0 and c.exec_admin or c.exec_io
   while sq.valid == 1 and sq.head ~= sq.tail and c.ready do
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
         if sq.valid == 0 or not c.ready then return end
         local sqe = ffi.cast("uint32_t *", c.sqe_buf + i * SQE_SIZE)
         local cid = rshift(sqe[0], 16)
         sq.head = sq.head + 1
         if sq.head == sq.size then sq.head = 0 end
         -- A bug in a command's model must not take the controller down: the
         -- command fails with Internal Error and the queue goes on.
         local ok, status, result = pcall(exec, c, qid, sqe)
         if not ok then
            c:log(("SQ %d: opcode 0x%02x failed in the model: %s")
               :format(qid, band(sqe[0], 0xff), tostring(status)))
            status, result = 0x06, 0
         end
         c.stats.commands = c.stats.commands + 1
         if status then
            if status ~= 0 then c:log_error(qid, cid, status, sqe) end
            if not M.post(c, sq.cqid, result or 0, sq.head, qid, cid, status) then
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

-- Doorbell Buffer Config (5.7): after the MMIO doorbell, publish EventIdx = the tail
-- consumed, then look at the shadow tail again; a value written meanwhile (the driver
-- read the old EventIdx and skipped the MMIO write) is served here. Write EventIdx
-- before reading the shadow, as the driver writes the shadow before reading EventIdx.
function shadow_sq(c, qid)
   local sq, db = c.sq[qid], c.dbbuf
   while true do
      c.dev:dma_write32(db.eventidx + qid * 8, sq.tail)
      local tail = c.dev:dma_read32(db.shadow + qid * 8)
      if not tail or tail >= sq.size or tail == sq.tail then return end
      sq.tail = tail
      c.stats.shadow_tails = c.stats.shadow_tails + 1
      M.process_sq(c, qid)
      if sq.stalled == 1 then return end
   end
end

--- A doorbell write at `off` (0x1000 + ...) with `value`.
function M.doorbell(c, off, value)
   if not c.ready then return end
   c.stats.doorbells = c.stats.doorbells + 1
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
         local head = c.dev:dma_read32(c.dbbuf.shadow + qid * 8 + 4)
         if head and head < cq.size then value = head end
         c.dev:dma_write32(c.dbbuf.eventidx + qid * 8 + 4, value)
      end
      cq.head = value
      if c.intx_on then M.update_intx(c) end
      -- SQs that waited for room go on.
      for s = 0, c.maxq do
         local sq = c.sq[s]
         if sq.valid == 1 and sq.stalled == 1 and sq.cqid == qid then
            M.process_sq(c, s)
            if c.dbbuf and s > 0 then shadow_sq(c, s) end
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
         shadow_sq(c, qid)
      else
         sq.tail = value
         M.process_sq(c, qid)
      end
   end
   M.flush_irqs(c)
end

--- Drop INTx once no CQ with interrupts enabled holds unconsumed entries.
function M.update_intx(c)
   for q = 0, c.maxq do
      local cq = c.cq[q]
      if cq.valid == 1 and cq.ien == 1 and cq.head ~= cq.tail then return end
   end
   c.intx_on = false
   c.dev:intx(false)
end

return M
