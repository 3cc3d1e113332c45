-- SPDX-License-Identifier: MIT
-- A small NVMe host driver in Lua over the sim backend's OS side: enough of
-- what Linux's nvme driver does to test an NVMe controller model in a spec.
--
--    local pciem = require("pciem")
--    local sim = require("pciem.sim")
--    local nvmehost = require("pciem.nvmehost")
--    local dev = pciem.load("devices/nvme.lua", "size=16M")
--    assert(dev:start("sim"))
--    local h = nvmehost.new(sim.new(dev))
--    assert(h:enable())                       -- admin queues, CC.EN, CSTS.RDY
--    local id = h:identify_ctrl()             -- { vid =, sn =, mn =, nn =, mdts =, raw = }
--    local ns = h:identify_ns(1)              -- { nsze =, lba_size =, raw = }
--    assert(h:create_io_queues(2, 64))        -- Number of Queues, then CQ/SQ pairs
--    local cqe = h:write(1, 0, 8, data)       -- nsid, slba, blocks, string
--    local got, cqe = h:read(1, 0, 8)         -- string (nil on error) and the completion
--    h:shutdown(); h:close(); dev:stop()
--
-- Every command returns its completion as a table: { sc =, sct =, status =
-- (sct << 8 | sc), ok = (status == 0), dnr =, more =, dw0 =, dw1 =, sqhd =,
-- sqid =, cid = }; nvmehost.status names the common status values. Commands
-- are tables of command dwords by name (opc, fuse, psdt, nsid, mptr, prp1,
-- prp2, cdw10..cdw15); h:admin(cmd) and h:io(qid, cmd) submit one and wait
-- for it; h:submit / h:ring / h:wait split that up for tests that want
-- several commands in flight. Data buffers are allocated in sim host memory
-- with PRP lists built there (page size 4 KiB); opts.offset shifts a buffer
-- inside its first page; opts.sgl = true (one Data Block descriptor) or a
-- piece size (a Last Segment list of Data Blocks) uses SGLs instead. The
-- controller runs whenever the host waits: each wait runs the device's
-- dispatch step (osim:step()) until the completion shows up or `max_steps`
-- steps passed (then nil, "timeout").
--
-- Also: h:cap(), h:csts() (decoded registers), h:rd32/wr32/rd64/wr64,
-- h:disable() (CC.EN = 0, a controller reset), h:shutdown(), h:identify(cns,
-- nsid), h:active_ns(), h:get_features / h:set_features, h:get_log_page,
-- h:create_cq / create_sq / delete_sq / delete_cq, h:flush, h:write_zeroes,
-- h:deallocate, h:doorbell_buffer() (shadow doorbells with EventIdx, as
-- Linux uses them), h:buffer(len, opts) / h:free(b), h:reap(cqid). MSI-X is
-- enabled by h:enable() (opts.msix = false: INTx), I/O CQ q on vector q.
local bit = require("bit")
local ffi = require("ffi")

local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift

local M = {}

local PAGE = 4096

-- Controller registers (NVMe 1.4 section 3.1).
M.reg = {
   CAP = 0x00, VS = 0x08, INTMS = 0x0c, INTMC = 0x10, CC = 0x14, CSTS = 0x1c,
   NSSR = 0x20, AQA = 0x24, ASQ = 0x28, ACQ = 0x30, DB = 0x1000,
}
local R = M.reg

M.admin_opc = {
   delete_sq = 0x00, create_sq = 0x01, get_log_page = 0x02, delete_cq = 0x04,
   create_cq = 0x05, identify = 0x06, abort = 0x08, set_features = 0x09,
   get_features = 0x0a, async_event = 0x0c, keep_alive = 0x18,
   doorbell_buffer_config = 0x7c, format_nvm = 0x80,
}
M.io_opc = {
   flush = 0x00, write = 0x01, read = 0x02, compare = 0x05, write_zeroes = 0x08,
   dsm = 0x09,
}

-- Status values as (SCT << 8) | SC (NVMe 1.4 section 4.6.1.2).
M.status = {
   success = 0x000, invalid_opcode = 0x001, invalid_field = 0x002,
   cid_conflict = 0x003, data_transfer_error = 0x004, aborted_by_request = 0x007,
   invalid_namespace = 0x00b, command_sequence_error = 0x00c,
   invalid_sgl_segment = 0x00d, invalid_sgl_count = 0x00e, sgl_length_invalid = 0x00f,
   sgl_type_invalid = 0x011, invalid_prp_offset = 0x013,
   lba_out_of_range = 0x080, capacity_exceeded = 0x081,
   cq_invalid = 0x100, invalid_qid = 0x101, invalid_queue_size = 0x102,
   abort_limit = 0x103, aer_limit = 0x105, invalid_firmware_slot = 0x106,
   invalid_vector = 0x108, invalid_log_page = 0x109, invalid_format = 0x10a,
   invalid_queue_deletion = 0x10c, feature_not_saveable = 0x10d,
   compare_failure = 0x285,
}
local status_name = {}
for k, v in pairs(M.status) do status_name[v] = k end

--- A name for a status value ("lba_out_of_range"), or its hex.
function M.status_name(s)
   return status_name[s] or ("0x%03x"):format(s)
end

local Host = {}
Host.__index = Host
M.Host = Host

--- A host over `osim` (pciem.sim's OS side of a started device).
--- opts: bar (0), max_steps (64) per wait.
function M.new(osim, opts)
   if type(osim) ~= "table" or type(osim.mmio_read) ~= "function" then
      error("nvmehost.new: needs the OS side of a sim device (pciem.sim.new(dev))", 2)
   end
   opts = opts or {}
   return setmetatable({
      osim = osim,
      bar = opts.bar or 0,
      max_steps = opts.max_steps or 64,
      queues = {},        -- [qid] = { sq = {...}, cq = {...} }
      cqs = {},           -- [cqid] = cq state
      next_cid = 0,
   }, Host)
end

-- Register access ----------------------------------------------------------

function Host:rd32(off)
   local v, st = self.osim:mmio_read(self.bar, off, 4)
   if st ~= "ok" then error(("nvmehost: read of 0x%x: %s"):format(off, st), 2) end
   return v
end

function Host:wr32(off, v)
   local st = self.osim:mmio_write(self.bar, off, 4, v)
   if st ~= "ok" then error(("nvmehost: write of 0x%x: %s"):format(off, st), 2) end
end

--- A 64-bit register as a Lua number (two 32-bit reads, low half first).
function Host:rd64(off)
   return self:rd32(off) + self:rd32(off + 4) * 2 ^ 32
end

function Host:wr64(off, v)
   self:wr32(off, v % 2 ^ 32)
   self:wr32(off + 4, math.floor(v / 2 ^ 32))
end

--- CAP decoded (NVMe 1.4 section 3.1.1).
function Host:cap()
   local lo, hi = self:rd32(R.CAP), self:rd32(R.CAP + 4)
   return {
      mqes = band(lo, 0xffff) + 1, cqr = band(rshift(lo, 16), 1) == 1,
      ams = band(rshift(lo, 17), 3), to = rshift(lo, 24),
      dstrd = band(hi, 0xf), nssrs = band(rshift(hi, 4), 1) == 1,
      css = band(rshift(hi, 5), 0xff), bps = band(rshift(hi, 13), 1) == 1,
      mpsmin = band(rshift(hi, 16), 0xf), mpsmax = band(rshift(hi, 20), 0xf),
      pmrs = band(rshift(hi, 24), 1) == 1, cmbs = band(rshift(hi, 25), 1) == 1,
   }
end

--- CSTS decoded: rdy, cfs, shst (0 normal, 1 occurring, 2 complete), nssro.
function Host:csts()
   local v = self:rd32(R.CSTS)
   return {
      raw = v, rdy = band(v, 1) == 1, cfs = band(rshift(v, 1), 1) == 1,
      shst = band(rshift(v, 2), 3), nssro = band(rshift(v, 4), 1) == 1,
   }
end

-- Run the controller until pred() holds or max_steps steps passed.
function Host:run_until(pred, steps)
   steps = steps or self.max_steps
   for _ = 1, steps do
      if pred() then return true end
      self.osim:step()
   end
   return pred() and true or false
end

local function sq_db(self, qid) return R.DB + (2 * qid) * self.db_stride end
local function cq_db(self, qid) return R.DB + (2 * qid + 1) * self.db_stride end

-- Host memory -----------------------------------------------------------------

local function alloc(self, size)
   local addr, p = self.osim:alloc(size)
   if not addr then error("nvmehost: " .. tostring(p), 3) end
   return addr, p
end

local function u32p(p) return ffi.cast("uint32_t *", p) end

-- Queues ------------------------------------------------------------------------

local function new_queue(self, qid, depth, cqid)
   local sq_addr, sq_p = alloc(self, depth * 64)
   local cq_addr, cq_p = alloc(self, depth * 16)
   local cq = { qid = cqid or qid, addr = cq_addr, p = u32p(cq_p), depth = depth,
      head = 0, phase = 1, done = {} }
   local sq = { qid = qid, addr = sq_addr, p = u32p(sq_p), depth = depth, tail = 0,
      head = 0, cq = cq }
   return sq, cq
end

--- Enable the controller: disable it first if needed, set up admin queues of
--- opts.depth (32) entries, MSI-X (opts.msix ~= false), write CC (IOSQES 6,
--- IOCQES 4, MPS 0, CSS NVM) with EN and wait for CSTS.RDY. Returns true, or
--- nil and an error (CSTS.CFS, RDY never set).
function Host:enable(opts)
   opts = opts or {}
   local osim = self.osim
   osim:enable_memory()
   osim:bus_master()
   if opts.msix ~= false and not self.msix then
      local ok, l = pcall(osim.msix_layout, osim)
      if ok and l then
         self.msix = osim:enable_msix(opts.vectors or l.vectors)
      end
   end
   local cap = self:cap()
   self.caps = cap
   self.db_stride = lshift(4, cap.dstrd)
   if self:csts().rdy or band(self:rd32(R.CC), 1) == 1 then
      local ok, err = self:disable()
      if not ok then return nil, err end
   end
   local depth = opts.depth or 32
   if depth > cap.mqes then depth = cap.mqes end
   if not self.admin_sq then
      self.admin_sq, self.admin_cq = new_queue(self, 0, depth)
   else
      self:_reset_queue_state(self.admin_sq, self.admin_cq)
   end
   local sq, cq = self.admin_sq, self.admin_cq
   self.queues = { [0] = sq }
   self.cqs = { [0] = cq }
   self:wr32(R.AQA, bor(lshift(cq.depth - 1, 16), sq.depth - 1))
   self:wr64(R.ASQ, sq.addr)
   self:wr64(R.ACQ, cq.addr)
   self:wr32(R.CC, opts.cc or 0x00460001)
   local ok = self:run_until(function()
      local c = self:csts()
      return c.rdy or c.cfs
   end, opts.steps)
   local c = self:csts()
   if c.cfs then return nil, "controller fatal status (CSTS.CFS) after enable" end
   if not ok then return nil, "CSTS.RDY not set after enable" end
   return true
end

function Host:_reset_queue_state(sq, cq)
   ffi.fill(sq.p, sq.depth * 64)
   ffi.fill(cq.p, cq.depth * 16)
   sq.tail, sq.head = 0, 0
   cq.head, cq.phase, cq.done = 0, 1, {}
end

--- Clear CC.EN (a controller reset) and wait for CSTS.RDY to clear. The I/O
--- queues are gone afterwards (their memory is kept until close()).
function Host:disable()
   local cc = self:rd32(R.CC)
   self:wr32(R.CC, band(cc, bit.bnot(1)))
   local ok = self:run_until(function() return not self:csts().rdy end)
   self.queues, self.cqs, self.dbbuf = {}, {}, nil
   if not ok then return nil, "CSTS.RDY still set after clearing CC.EN" end
   return true
end

--- Normal (opts.abrupt: abrupt) shutdown through CC.SHN; waits for
--- CSTS.SHST = 2 (complete). Returns true or nil, err.
function Host:shutdown(opts)
   local shn = (opts and opts.abrupt) and 2 or 1
   local cc = self:rd32(R.CC)
   self:wr32(R.CC, bor(band(cc, bit.bnot(0xc000)), lshift(shn, 14)))
   local ok = self:run_until(function() return self:csts().shst == 2 end)
   if not ok then return nil, "CSTS.SHST not 'complete' after CC.SHN" end
   return true
end

-- Commands ----------------------------------------------------------------------

local fields = {
   -- name = dword index; opc/fuse/psdt/cid are in dword 0
   nsid = 1, cdw2 = 2, cdw3 = 3, cdw10 = 10, cdw11 = 11, cdw12 = 12, cdw13 = 13,
   cdw14 = 14, cdw15 = 15,
}

local function lo32(v) return v % 2 ^ 32 end
local function hi32(v) return math.floor(v / 2 ^ 32) end

--- Put `cmd` into submission queue `qid` without ringing its doorbell.
--- Returns the command identifier (cmd.cid if given).
function Host:submit(qid, cmd)
   local sq = self.queues[qid]
   if not sq then error(("nvmehost: no submission queue %s"):format(tostring(qid)), 2) end
   if (sq.tail + 1) % sq.depth == sq.head then
      error(("nvmehost: submission queue %d is full"):format(qid), 2)
   end
   local cid = cmd.cid
   if not cid then
      cid = self.next_cid
      self.next_cid = (self.next_cid + 1) % 0x10000
   end
   local e = sq.p + sq.tail * 16
   ffi.fill(e, 64)
   e[0] = bor(band(cmd.opc or 0, 0xff), lshift(band(cmd.fuse or 0, 3), 8),
      lshift(band(cmd.psdt or 0, 3), 14), lshift(band(cid, 0xffff), 16))
   for name, i in pairs(fields) do
      if cmd[name] then e[i] = lo32(cmd[name]) end
   end
   if cmd.mptr then e[4], e[5] = lo32(cmd.mptr), hi32(cmd.mptr) end
   if cmd.prp1 then e[6], e[7] = lo32(cmd.prp1), hi32(cmd.prp1) end
   if cmd.prp2 then e[8], e[9] = lo32(cmd.prp2), hi32(cmd.prp2) end
   if cmd.sgl1 then
      local d = cmd.sgl1
      e[6], e[7], e[8] = lo32(d.addr), hi32(d.addr), d.len
      e[9] = lshift(d.type or 0, 24)
   end
   sq.tail = (sq.tail + 1) % sq.depth
   sq.cq.done[cid] = nil
   return cid
end

-- Shadow doorbell protocol (Doorbell Buffer Config): the new value goes to
-- the shadow buffer; the MMIO doorbell is written only when the controller's
-- EventIdx lies between the old and the new value, as Linux decides it.
local function need_event(event_idx, new, old)
   return band(new - event_idx - 1, 0xffff) < band(new - old, 0xffff)
end

local function doorbell(self, qid, index, off, value)
   local db = self.dbbuf
   if db and qid > 0 then
      local slot = index * self.db_stride / 4
      local old = db.shadow[slot]
      db.shadow[slot] = value
      if not need_event(db.eventidx[slot], value, old) then
         db.skipped = db.skipped + 1
         return
      end
      db.rung = db.rung + 1
   end
   self:wr32(off, value)
end

--- Ring the SQ tail doorbell of `qid` with its current tail (through the
--- shadow doorbells once doorbell_buffer() set them up).
function Host:ring(qid)
   local sq = self.queues[qid]
   doorbell(self, qid, 2 * qid, sq_db(self, qid), sq.tail)
end

local function decode_cqe(e)
   local dw3 = e[3]
   local sf = rshift(dw3, 17)
   local sc, sct = band(sf, 0xff), band(rshift(sf, 8), 7)
   local status = bor(lshift(sct, 8), sc)
   return {
      dw0 = e[0], dw1 = e[1], sqhd = band(e[2], 0xffff), sqid = rshift(e[2], 16),
      cid = band(dw3, 0xffff), phase = band(rshift(dw3, 16), 1),
      sc = sc, sct = sct, status = status, ok = status == 0,
      -- status field bits (4.6.1): SC 7:0, SCT 10:8, CRD 12:11, More 13, DNR 14
      crd = band(rshift(sf, 11), 3), more = band(rshift(sf, 13), 1) == 1,
      dnr = band(rshift(sf, 14), 1) == 1, name = M.status_name(status),
   }
end

--- Reap every new entry of completion queue `cq` (a table or a qid); rings its
--- head doorbell once if anything was taken. Returns the number reaped.
function Host:reap(cq)
   if type(cq) == "number" then cq = self.cqs[cq] end
   local n = 0
   while true do
      local e = cq.p + cq.head * 4
      if band(rshift(e[3], 16), 1) ~= cq.phase then break end
      local c = decode_cqe(e)
      cq.done[c.cid] = c
      local sq = self.queues[c.sqid]
      if sq and sq.cq == cq then sq.head = c.sqhd end
      cq.head = cq.head + 1
      if cq.head == cq.depth then cq.head, cq.phase = 0, 1 - cq.phase end
      n = n + 1
   end
   if n > 0 then doorbell(self, cq.qid, 2 * cq.qid + 1, cq_db(self, cq.qid), cq.head) end
   return n
end

--- Wait for command `cid` submitted on `qid`: runs the controller until its
--- completion arrives. Returns the completion, or nil, "timeout".
function Host:wait(qid, cid, steps)
   local cq = self.queues[qid].cq
   local ok = self:run_until(function()
      self:reap(cq)
      return cq.done[cid] ~= nil
   end, steps)
   if not ok then return nil, ("timeout waiting for command %d on queue %d"):format(cid, qid) end
   local c = cq.done[cid]
   cq.done[cid] = nil
   return c
end

--- Submit `cmd` on `qid`, ring, wait. Returns the completion or nil, err.
function Host:io(qid, cmd)
   local cid = self:submit(qid, cmd)
   self:ring(qid)
   return self:wait(qid, cid)
end

function Host:admin(cmd) return self:io(0, cmd) end

-- Data buffers and PRPs -------------------------------------------------------------

--- A buffer of `len` bytes in host memory with its PRP entries: { addr, p
--- (uint8_t *), len, prp1, prp2 }. opts.offset: byte offset of the data in
--- its first page (dword aligned, as PRP entries need).
function Host:buffer(len, opts)
   local off = opts and opts.offset or 0
   local addr, p = alloc(self, off + len)
   local b = { addr = addr + off, p = p + off, len = len, regions = { addr } }
   if opts and opts.sgl then return self:_sgl(b, opts.sgl) end
   local first = PAGE - off
   b.prp1 = b.addr
   if len <= first then
      b.prp2 = 0
   elseif len <= first + PAGE then
      b.prp2 = addr + PAGE
   else
      -- a PRP list: one entry per further page; a full list page's last
      -- entry points at the next list page
      local pages = math.ceil((len - first) / PAGE)
      local per = PAGE / 8
      local lists = 1
      while pages > lists * (per - 1) + 1 do lists = lists + 1 end
      local laddr, lp = alloc(self, lists * PAGE)
      b.regions[2] = laddr
      local ents = ffi.cast("uint32_t *", lp)
      local slot, list = 0, 0
      for i = 1, pages do
         if slot == per - 1 and i < pages then
            local nxt = laddr + (list + 1) * PAGE
            local at = list * per + slot
            ents[2 * at], ents[2 * at + 1] = lo32(nxt), hi32(nxt)
            list, slot = list + 1, 0
         end
         local at = list * per + slot
         local page = addr + i * PAGE
         ents[2 * at], ents[2 * at + 1] = lo32(page), hi32(page)
         slot = slot + 1
      end
      b.prp2 = laddr
      b.list_addr, b.list_p = laddr, ents
   end
   return b
end

-- SGL descriptor types (NVMe 1.4 section 4.4, figure 117), as byte 15.
M.sgl = { data = 0x00, bit_bucket = 0x10, segment = 0x20, last_segment = 0x30 }

-- SGLs for buffer b: opts.sgl = true: one Data Block descriptor in the
-- command; a number n: a Last Segment list of Data Blocks of n bytes each
-- (the last one shorter). b.sgl1 is the command's descriptor, b.psdt 1.
function Host:_sgl(b, piece)
   b.psdt = 1
   if piece == true or piece >= b.len then
      b.sgl1 = { addr = b.addr, len = b.len, type = M.sgl.data }
      return b
   end
   local n = math.ceil(b.len / piece)
   local laddr, lp = alloc(self, 16 * n)
   b.regions[2] = laddr
   local d = u32p(lp)
   for i = 0, n - 1 do
      local a = b.addr + i * piece
      d[4 * i], d[4 * i + 1] = lo32(a), hi32(a)
      d[4 * i + 2] = math.min(piece, b.len - i * piece)
      d[4 * i + 3] = lshift(M.sgl.data, 24)
   end
   b.sgl_list = d
   b.sgl1 = { addr = laddr, len = 16 * n, type = M.sgl.last_segment }
   return b
end

function Host:free(b)
   for _, a in ipairs(b.regions) do self.osim:free(a) end
end

-- Admin helpers ---------------------------------------------------------------------

local function str(p, from, n)
   return (ffi.string(p + from, n):gsub("[%s%z]+$", ""))
end

local function le(p, from, n)
   local v = 0
   for i = n - 1, 0, -1 do v = v * 256 + p[from + i] end
   return v
end
M.le = le

--- Identify with CNS `cns` and `nsid`: returns the 4 KiB data as a Lua string
--- and the completion; nil, completion on an error status.
function Host:identify(cns, nsid, cdw11)
   local b = self:buffer(PAGE)
   local c, err = self:admin { opc = 0x06, nsid = nsid or 0, prp1 = b.prp1, prp2 = b.prp2,
      cdw10 = cns, cdw11 = cdw11 }
   if not c then self:free(b); return nil, err end
   local data = c.ok and ffi.string(b.p, PAGE) or nil
   self:free(b)
   return data, c
end

--- Identify Controller decoded (the fields tests look at) plus `raw`.
function Host:identify_ctrl()
   local d, c = self:identify(1, 0)
   if not d then return nil, c end
   local p = ffi.cast("const uint8_t *", d)
   return {
      raw = d, vid = le(p, 0, 2), ssvid = le(p, 2, 2), sn = str(p, 4, 20),
      mn = str(p, 24, 40), fr = str(p, 64, 8), mdts = p[77], cntlid = le(p, 78, 2),
      ver = le(p, 80, 4), oacs = le(p, 256, 2), acl = p[258], aerl = p[259],
      frmw = p[260], lpa = p[261], elpe = p[262], sqes = p[512], cqes = p[513],
      nn = le(p, 516, 4), oncs = le(p, 520, 2), vwc = p[525], sgls = le(p, 536, 4),
      subnqn = str(p, 768, 256),
   }
end

--- Identify Namespace decoded: nsze, ncap, nuse, nlbaf, flbas, lba_size
--- (bytes, of the format in use), plus `raw`.
function Host:identify_ns(nsid)
   local d, c = self:identify(0, nsid)
   if not d then return nil, c end
   local p = ffi.cast("const uint8_t *", d)
   local flbas = p[26]
   local lbaf = 128 + 4 * band(flbas, 0xf)
   return {
      raw = d, nsze = le(p, 0, 8), ncap = le(p, 8, 8), nuse = le(p, 16, 8),
      nsfeat = p[24], nlbaf = p[25], flbas = flbas, dlfeat = p[33],
      lba_size = lshift(1, p[lbaf + 2]), ms = le(p, lbaf, 2),
   }
end

--- Active namespace IDs above `from` (Identify CNS 2), a list of numbers.
function Host:active_ns(from)
   local d, c = self:identify(2, from or 0)
   if not d then return nil, c end
   local p = ffi.cast("const uint8_t *", d)
   local list = {}
   for i = 0, 1023 do
      local id = le(p, 4 * i, 4)
      if id == 0 then break end
      list[#list + 1] = id
   end
   return list
end

function Host:get_features(fid, cdw11, nsid)
   return self:admin { opc = 0x0a, cdw10 = fid, cdw11 = cdw11, nsid = nsid }
end

function Host:set_features(fid, cdw11, nsid)
   return self:admin { opc = 0x09, cdw10 = fid, cdw11 = cdw11, nsid = nsid }
end

--- Get Log Page `lid` of `len` bytes (a multiple of 4): string, completion.
function Host:get_log_page(lid, len, nsid, offset)
   len = len or 512
   local b = self:buffer(len)
   local numd = len / 4 - 1
   local c, err = self:admin { opc = 0x02, nsid = nsid or 0xffffffff,
      prp1 = b.prp1, prp2 = b.prp2,
      cdw10 = bor(lshift(band(numd, 0xffff), 16), lid), cdw11 = rshift(numd, 16),
      cdw12 = offset and lo32(offset), cdw13 = offset and hi32(offset) }
   if not c then self:free(b); return nil, err end
   local data = c.ok and ffi.string(b.p, len) or nil
   self:free(b)
   return data, c
end

--- Create I/O completion queue `qid` of `depth` entries on MSI-X vector
--- `vector` (default qid; opts.ien false turns interrupts off). Returns the
--- completion (the queue exists only when it is ok).
function Host:create_cq(qid, depth, opts)
   opts = opts or {}
   local addr, p = alloc(self, depth * 16)
   local vector = opts.vector or qid
   local ien = opts.ien == false and 0 or 2
   local c, err = self:admin { opc = 0x05, prp1 = opts.prp1 or addr,
      cdw10 = bor(lshift(band(depth - 1, 0xffff), 16), qid),
      cdw11 = bor(lshift(vector, 16), ien, opts.pc == false and 0 or 1) }
   if c and c.ok then
      self.cqs[qid] = { qid = qid, addr = addr, p = u32p(p), depth = depth, head = 0,
         phase = 1, done = {} }
   else
      self.osim:free(addr)
   end
   return c, err
end

--- Create I/O submission queue `qid` of `depth` entries on completion queue
--- opts.cqid (default qid).
function Host:create_sq(qid, depth, opts)
   opts = opts or {}
   local cqid = opts.cqid or qid
   local addr, p = alloc(self, depth * 64)
   local c, err = self:admin { opc = 0x01, prp1 = opts.prp1 or addr,
      cdw10 = bor(lshift(band(depth - 1, 0xffff), 16), qid),
      cdw11 = bor(lshift(cqid, 16), lshift(opts.prio or 0, 1), opts.pc == false and 0 or 1) }
   if c and c.ok then
      self.queues[qid] = { qid = qid, addr = addr, p = u32p(p), depth = depth, tail = 0,
         head = 0, cq = self.cqs[cqid] }
   else
      self.osim:free(addr)
   end
   return c, err
end

function Host:delete_sq(qid)
   local c, err = self:admin { opc = 0x00, cdw10 = qid }
   if c and c.ok then self.queues[qid] = nil end
   return c, err
end

function Host:delete_cq(qid)
   local c, err = self:admin { opc = 0x04, cdw10 = qid }
   if c and c.ok then self.cqs[qid] = nil end
   return c, err
end

--- Ask for `n` I/O queue pairs (Set Features Number of Queues), then create
--- min(n, granted) CQ/SQ pairs of `depth` entries. Returns the number made,
--- or nil and an error.
function Host:create_io_queues(n, depth)
   depth = depth or 64
   if self.caps and depth > self.caps.mqes then depth = self.caps.mqes end
   local c, err = self:set_features(0x07, bor(lshift(n - 1, 16), n - 1))
   if not c then return nil, err end
   if not c.ok then return nil, "Set Features Number of Queues: " .. c.name end
   local granted = math.min(band(c.dw0, 0xffff), rshift(c.dw0, 16)) + 1
   local made = math.min(n, granted)
   for q = 1, made do
      local vector = 0
      if self.msix then vector = q % self.msix.vectors end
      c, err = self:create_cq(q, depth, { vector = vector })
      if not c or not c.ok then return nil, "Create I/O CQ " .. q .. ": " .. (err or c.name) end
      c, err = self:create_sq(q, depth)
      if not c or not c.ok then return nil, "Create I/O SQ " .. q .. ": " .. (err or c.name) end
   end
   self.io_queues = made
   return made
end

-- I/O helpers --------------------------------------------------------------------------

local function rw_cmd(opc, nsid, slba, nlb, b, extra)
   local cmd = { opc = opc, nsid = nsid, prp1 = b and b.prp1 or 0, prp2 = b and b.prp2 or 0,
      cdw10 = lo32(slba), cdw11 = hi32(slba), cdw12 = band(nlb - 1, 0xffff) }
   if b and b.sgl1 then cmd.prp1, cmd.prp2, cmd.sgl1, cmd.psdt = nil, nil, b.sgl1, 1 end
   if extra then for k, v in pairs(extra) do cmd[k] = v end end
   return cmd
end

local function block_size(self, nsid)
   self.lba_sizes = self.lba_sizes or {}
   local s = self.lba_sizes[nsid]
   if not s then
      local ns = self:identify_ns(nsid)
      s = ns and ns.lba_size or 512
      self.lba_sizes[nsid] = s
   end
   return s
end
Host.block_size = block_size

--- Write `data` (a string of nlb blocks) at `slba`. opts: qid (1), offset,
--- cmd (extra command fields). Returns the completion or nil, err.
function Host:write(nsid, slba, nlb, data, opts)
   opts = opts or {}
   local len = nlb * block_size(self, nsid)
   if #data ~= len then
      error(("nvmehost: write of %d blocks needs %d bytes, got %d"):format(nlb, len, #data), 2)
   end
   local b = self:buffer(len, opts)
   ffi.copy(b.p, data, len)
   local c, err = self:io(opts.qid or 1, rw_cmd(0x01, nsid, slba, nlb, b, opts.cmd))
   self:free(b)
   return c, err
end

--- Read nlb blocks at `slba`: the data as a string (nil unless the status is
--- success) and the completion.
function Host:read(nsid, slba, nlb, opts)
   opts = opts or {}
   local len = nlb * block_size(self, nsid)
   local b = self:buffer(len, opts)
   local c, err = self:io(opts.qid or 1, rw_cmd(0x02, nsid, slba, nlb, b, opts.cmd))
   if not c then self:free(b); return nil, err end
   local data = c.ok and ffi.string(b.p, len) or nil
   self:free(b)
   return data, c
end

--- Compare nlb blocks at `slba` with `data`: the completion (success or
--- compare_failure).
function Host:compare(nsid, slba, nlb, data, opts)
   opts = opts or {}
   local len = nlb * block_size(self, nsid)
   local b = self:buffer(len, opts)
   ffi.copy(b.p, data, math.min(#data, len))
   local c, err = self:io(opts.qid or 1, rw_cmd(0x05, nsid, slba, nlb, b, opts.cmd))
   self:free(b)
   return c, err
end

function Host:flush(nsid, opts)
   return self:io(opts and opts.qid or 1, { opc = 0x00, nsid = nsid })
end

function Host:write_zeroes(nsid, slba, nlb, opts)
   return self:io(opts and opts.qid or 1, rw_cmd(0x08, nsid, slba, nlb, nil, opts and opts.cmd))
end

--- Dataset Management deallocate of `ranges` ({ {slba, nlb}, ... }).
function Host:deallocate(nsid, ranges, opts)
   local b = self:buffer(16 * #ranges)
   local p = u32p(b.p)
   for i, r in ipairs(ranges) do
      local at = 4 * (i - 1)
      p[at], p[at + 1], p[at + 2], p[at + 3] = 0, r[2], lo32(r[1]), hi32(r[1])
   end
   local c, err = self:io(opts and opts.qid or 1, { opc = 0x09, nsid = nsid,
      prp1 = b.prp1, prp2 = b.prp2, cdw10 = #ranges - 1, cdw11 = 4 })
   self:free(b)
   return c, err
end

--- Doorbell Buffer Config: a shadow doorbell page and an EventIdx page; from
--- then on ring() and reap() go through them for I/O queues. h.dbbuf.rung /
--- h.dbbuf.skipped count MMIO doorbell writes made and saved. Returns the
--- completion.
function Host:doorbell_buffer()
   local sa, sp = alloc(self, PAGE)
   local ea, ep = alloc(self, PAGE)
   local c, err = self:admin { opc = 0x7c, prp1 = sa, prp2 = ea }
   if c and c.ok then
      local db = { shadow = u32p(sp), eventidx = u32p(ep), rung = 0, skipped = 0 }
      -- the shadow starts from the values the doorbells hold now
      for qid, sq in pairs(self.queues) do
         db.shadow[2 * qid * self.db_stride / 4] = sq.tail
      end
      for qid, cq in pairs(self.cqs) do
         db.shadow[(2 * qid + 1) * self.db_stride / 4] = cq.head
      end
      self.dbbuf = db
   end
   return c, err
end

--- Free the admin queues' memory (the sim's close() frees the rest).
function Host:close()
   self.queues, self.cqs = {}, {}
end

return M
