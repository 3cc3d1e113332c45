-- SPDX-License-Identifier: MIT
-- Data transfer (PRP walk into scatter lists, 4.3) and the NVM command set I/O commands
-- (6.x): Read, Write, Flush, Write Zeroes, Dataset Management, Compare.
local ffi = require("ffi")
local bit = require("bit")
local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift

local M = {}

-- Status values as posted: SC | SCT << 8 | DNR << 14.
local DNR = 0x4000
local S = {
   SUCCESS = 0,
   INVALID_OPCODE = 0x01 + DNR,
   INVALID_FIELD = 0x02 + DNR,
   DATA_XFER_ERROR = 0x04,
   INTERNAL = 0x06,
   INVALID_NS = 0x0b + DNR,
   PRP_OFFSET_INVALID = 0x13 + DNR,
   SGL_SEGMENT_INVALID = 0x0d + DNR,
   SGL_COUNT_INVALID = 0x0e + DNR,
   SGL_LENGTH_INVALID = 0x0f + DNR,
   SGL_TYPE_INVALID = 0x11 + DNR,
   LBA_RANGE = 0x80 + DNR,
   -- command specific (SCT 1)
   CQ_INVALID = 0x100 + DNR,
   INVALID_QID = 0x101 + DNR,
   INVALID_QSIZE = 0x102 + DNR,
   ABORT_LIMIT = 0x103 + DNR,
   AER_LIMIT = 0x105 + DNR,
   INVALID_VECTOR = 0x108 + DNR,
   INVALID_LOG_PAGE = 0x109 + DNR,
   INVALID_FORMAT = 0x10a + DNR,
   INVALID_QDELETE = 0x10c + DNR,
   NOT_CHANGEABLE = 0x10e + DNR,
   -- media errors (SCT 2)
   COMPARE_FAILURE = 0x285 + DNR,
}
M.S = S

local OP = { FLUSH = 0x00, WRITE = 0x01, READ = 0x02, COMPARE = 0x05,
   WRITE_ZEROES = 0x08, DSM = 0x09 }
M.OP = OP

local MAX_SEGS = 1024

--- Per-controller transfer state: one data buffer of MDTS bytes, PRP list page,
--- segment list reused for every command.
function M.init(c, mdts_bytes)
   c.mdts_bytes = mdts_bytes
   c.data = ffi.new("uint8_t[?]", mdts_bytes)
   c.cmp = ffi.new("uint8_t[?]", mdts_bytes)
   c.prp_page = ffi.new("uint64_t[?]", 65536 / 8)
   c.segs = {}
   for i = 1, MAX_SEGS do c.segs[i] = { 0, 0 } end
   c.nsegs = 0
   c.n_read_cmds, c.n_read_blocks, c.n_write_cmds, c.n_write_blocks = 0, 0, 0, 0
end

--- Add the SMART data counts of the commands run since the last call to the
--- shared counters. Per command they would be 64-bit FFI sums, each a boxed
--- value; the queue code calls this once per queue run.
function M.fold_counters(c)
   local sm = c.smart
   if c.n_read_cmds > 0 then
      sm.read_cmds = sm.read_cmds + c.n_read_cmds
      sm.read_blocks = sm.read_blocks + c.n_read_blocks
      c.n_read_cmds, c.n_read_blocks = 0, 0
   end
   if c.n_write_cmds > 0 then
      sm.write_cmds = sm.write_cmds + c.n_write_cmds
      sm.write_blocks = sm.write_blocks + c.n_write_blocks
      c.n_write_cmds, c.n_write_blocks = 0, 0
   end
end

local function u64(sqe, dw) return sqe[dw + 1] * 0x100000000 + sqe[dw] end
M.u64 = u64

local function add_seg(c, list, n, addr, len)
   -- Merge with the previous segment when contiguous.
   if n > 0 then
      local prev = c.segs[n]
      if prev[1] + prev[2] == addr then prev[2] = prev[2] + len; return n end
   end
   if n >= MAX_SEGS then return nil end
   n = n + 1
   local s = c.segs[n]
   s[1], s[2] = addr, len
   list[n] = s
   return n
end

--- Build the scatter list of a `len`-byte transfer described by the SQE's PRP1/PRP2.
--- Returns a list of {addr, len} (valid until the next call), or nil, status.
function M.prp_segments(c, sqe, len)
   local list = c.seg_list or {}
   c.seg_list = list
   for i = #list, 1, -1 do list[i] = nil end
   local page = c.page
   local prp1, prp2 = u64(sqe, 6), u64(sqe, 8)
   local psdt = band(rshift(sqe[0], 14), 3)
   if psdt == 1 then return M.sgl_segments(c, sqe, len, list) end
   if psdt ~= 0 then return nil, S.INVALID_FIELD end	-- MPTR as an SGL: not offered
   if band(sqe[6], 3) ~= 0 then return nil, S.PRP_OFFSET_INVALID end
   local off = prp1 % page
   local first = math.min(len, page - off)
   local n = add_seg(c, list, 0, prp1, first)
   local left = len - first
   if left == 0 then return list end
   if left <= page then
      if prp2 % page ~= 0 then return nil, S.PRP_OFFSET_INVALID end
      add_seg(c, list, n, prp2, left)
      return list
   end
   -- PRP2 points to a PRP list; its last entry chains to the next list page.
   local lp = prp2
   if band(sqe[8], 7) ~= 0 then return nil, S.PRP_OFFSET_INVALID end
   while left > 0 do
      local entries = (page - lp % page) / 8
      local want = math.ceil(left / page)
      local chain = want > entries
      local count = chain and entries or want
      if not c.dev:dma_read_into(lp, c.prp_page, count * 8) then
         return nil, S.DATA_XFER_ERROR
      end
      local used = chain and count - 1 or count
      for i = 0, used - 1 do
         local a = tonumber(c.prp_page[i])
         if a % page ~= 0 then return nil, S.PRP_OFFSET_INVALID end
         local l = math.min(page, left)
         n = add_seg(c, list, n, a, l)
         if not n then return nil, S.INVALID_FIELD end
         left = left - l
      end
      if chain then
         lp = tonumber(c.prp_page[count - 1])
         if lp % 8 ~= 0 then return nil, S.PRP_OFFSET_INVALID end
      end
   end
   return list
end

-- SGL descriptor types (4.4): byte 15 bits 7:4; subtype bits 3:0 must be 0 (Address).
local SGL_DATA, SGL_BIT_BUCKET, SGL_SEGMENT, SGL_LAST = 0, 1, 2, 3
local MAX_SGL_SEGMENTS = 64		-- segment lists followed per command

--- Scatter list of a `len`-byte transfer described by the SGL in the SQE's DPTR.
function M.sgl_segments(c, sqe, len, list)
   local n, left = 0, len
   -- The descriptor at hand, as 4 dwords (the SQE's own, then from list pages).
   local d, di = sqe, 6
   local in_list, remaining, last_list = false, 0, false
   local lists = 0
   local buf = ffi.cast("uint32_t *", c.prp_page)
   while left > 0 do
      local addr = d[di + 1] * 0x100000000 + d[di]
      local dlen = d[di + 2]
      local ident = band(rshift(d[di + 3], 24), 0xff)
      local dtype, sub = rshift(ident, 4), band(ident, 0xf)
      if sub ~= 0 then return nil, S.SGL_TYPE_INVALID end
      if dtype == SGL_DATA then
         if dlen > 0 then
            local l = math.min(dlen, left)
            n = add_seg(c, list, n, addr, l)
            if not n then return nil, S.SGL_COUNT_INVALID end
            left = left - l
         end
      elseif dtype == SGL_SEGMENT or dtype == SGL_LAST then
         -- A segment descriptor must end the list it is in, and a Last Segment
         -- list holds no further segment descriptors.
         if (in_list and remaining ~= 0) or last_list then return nil, S.SGL_SEGMENT_INVALID end
         if dlen == 0 or dlen % 16 ~= 0 or dlen > 65536 then return nil, S.SGL_SEGMENT_INVALID end
         lists = lists + 1
         if lists > MAX_SGL_SEGMENTS then return nil, S.SGL_COUNT_INVALID end
         if not c.dev:dma_read_into(addr, buf, dlen) then return nil, S.DATA_XFER_ERROR end
         d, di, in_list, remaining, last_list = buf, -4, true, dlen / 16, dtype == SGL_LAST
      else
         return nil, S.SGL_TYPE_INVALID	-- bit buckets and the rest: not offered
      end
      if left > 0 then
         if not in_list or remaining == 0 then return nil, S.SGL_LENGTH_INVALID end
         di, remaining = di + 4, remaining - 1
      end
   end
   return list
end

--- Host memory -> c.data (`len` bytes; `buf` instead when given), per the SQE's
--- data pointer. status or 0.
function M.from_host(c, sqe, len, buf)
   local list, st = M.prp_segments(c, sqe, len)
   if not list then return st end
   if not c.dev:dma_readv(list, buf or c.data) then return S.DATA_XFER_ERROR end
   return 0
end

--- c.data (`len` bytes; `buf` instead when given) -> host memory.
function M.to_host(c, sqe, len, buf)
   local list, st = M.prp_segments(c, sqe, len)
   if not list then return st end
   if not c.dev:dma_writev(list, buf or c.data) then return S.DATA_XFER_ERROR end
   return 0
end

---------------------------------------------------------------------------
-- I/O commands

-- Namespace of an I/O command, or nil, status.
local function namespace(c, nsid)
   local ns = c.ns[nsid]
   if not ns then return nil, S.INVALID_NS end
   return ns
end

-- SLBA/NLB of a Read/Write/Compare/Write Zeroes, checked: byte offset and length.
local function lba_range(ns, sqe)
   local slba = u64(sqe, 10)
   local nlb = band(sqe[12], 0xffff) + 1
   if slba + nlb > ns.blocks then return nil, S.LBA_RANGE end
   return slba * ns.lba_size, nlb * ns.lba_size, nlb
end

local function rw(c, sqe, opcode)
   local ns, st = namespace(c, sqe[1])
   if not ns then return st end
   local off, len, nlb = lba_range(ns, sqe)
   if not off then return len end
   if len > c.mdts_bytes then return S.INVALID_FIELD end
   -- RAM stores lend their memory when one chunk holds the range: no copy through c.data.
   local span = ns.store.span
   if opcode == OP.READ then
      local p = span and span(ns.store, off, len)
      if p then
         st = M.to_host(c, sqe, len, p)
      else
         if not ns.store:read(off, c.data, len) then return S.INTERNAL end
         st = M.to_host(c, sqe, len)
      end
      if st == 0 then
         c.n_read_cmds = c.n_read_cmds + 1
         c.n_read_blocks = c.n_read_blocks + nlb * ns.lba_size / 512
      end
      return st
   elseif opcode == OP.WRITE then
      -- A failed transfer may leave part of the range written, as on a real drive.
      local p = span and span(ns.store, off, len, true)
      st = M.from_host(c, sqe, len, p)
      if st ~= 0 then return st end
      if not p and not ns.store:write(off, c.data, len) then return S.INTERNAL end
      c.n_write_cmds = c.n_write_cmds + 1
      c.n_write_blocks = c.n_write_blocks + nlb * ns.lba_size / 512
      return 0
   else	-- Compare
      st = M.from_host(c, sqe, len)
      if st ~= 0 then return st end
      if not ns.store:read(off, c.cmp, len) then return S.INTERNAL end
      c.n_read_cmds = c.n_read_cmds + 1
      if ffi.C.memcmp(c.data, c.cmp, len) ~= 0 then return S.COMPARE_FAILURE end
      return 0
   end
end
pcall(ffi.cdef, "int memcmp(const void *s1, const void *s2, size_t n);")

local function write_zeroes(c, sqe)
   local ns, st = namespace(c, sqe[1])
   if not ns then return st end
   local off, len = lba_range(ns, sqe)
   if not off then return len end
   if not ns.store:zero(off, len) then return S.INTERNAL end
   return 0
end

local function dsm(c, sqe)
   local ns, st = namespace(c, sqe[1])
   if not ns then return st end
   local nr = band(sqe[10], 0xff) + 1
   st = M.from_host(c, sqe, nr * 16)
   if st ~= 0 then return st end
   if band(sqe[11], 4) == 0 then return 0 end	-- only AD (deallocate) has an effect
   local r = ffi.cast("uint32_t *", c.data)
   -- Check every range before touching any.
   for i = 0, nr - 1 do
      local nlb, slba = r[i * 4 + 1], r[i * 4 + 3] * 0x100000000 + r[i * 4 + 2]
      if slba + nlb > ns.blocks then return S.LBA_RANGE end
   end
   for i = 0, nr - 1 do
      local nlb, slba = r[i * 4 + 1], r[i * 4 + 3] * 0x100000000 + r[i * 4 + 2]
      if nlb > 0 and not ns.store:zero(slba * ns.lba_size, nlb * ns.lba_size) then
         return S.INTERNAL
      end
   end
   return 0
end

local function flush(c, sqe)
   local nsid = sqe[1]
   if nsid == 0xffffffff then return c:flush_all() and 0 or S.INTERNAL end
   local ns, st = namespace(c, nsid)
   if not ns then return st end
   return ns.store:flush() and 0 or S.INTERNAL
end

--- Execute one I/O command; returns status, result.
function M.exec(c, sqid, sqe)
   local opcode = band(sqe[0], 0xff)
   if band(sqe[0], 0x300) ~= 0 then return S.INVALID_FIELD end	-- fused: not offered
   if opcode == OP.READ or opcode == OP.WRITE or opcode == OP.COMPARE then
      return rw(c, sqe, opcode)
   elseif opcode == OP.FLUSH then return flush(c, sqe)
   elseif opcode == OP.WRITE_ZEROES then return write_zeroes(c, sqe)
   elseif opcode == OP.DSM then return dsm(c, sqe)
   end
   return S.INVALID_OPCODE
end

return M
