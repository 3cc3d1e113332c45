-- SPDX-License-Identifier: MIT
-- The NVMe side of fault plans: command matchers (opcode, queue, nsid, LBA
-- range), status names, completion corruption, and the controller hooks of
-- devices/nvme.lua (c.fault_cmd, c.fault_cqe, the fast path's lua_only flag).
local bit = require("bit")
local ffi = require("ffi")
local ck = require("pciem.faults.check")

local band, bor, bxor, rshift = bit.band, bit.bor, bit.bxor, bit.rshift

local M = {}

M.match_fields = { opcode = true, queue = true, nsid = true, lba = true }

-- Opcodes (NVMe 1.4 figures 139 and 346).
M.IO_OPC = {
   flush = 0x00, write = 0x01, read = 0x02, write_uncorrectable = 0x04, compare = 0x05,
   write_zeroes = 0x08, dsm = 0x09, verify = 0x0c,
}
M.ADMIN_OPC = {
   delete_sq = 0x00, create_sq = 0x01, get_log_page = 0x02, delete_cq = 0x04,
   create_cq = 0x05, identify = 0x06, abort = 0x08, set_features = 0x09,
   get_features = 0x0a, async_event = 0x0c, ns_management = 0x0d,
   firmware_commit = 0x10, firmware_download = 0x11, ns_attachment = 0x15,
   keep_alive = 0x18, doorbell_buffer_config = 0x7c, format_nvm = 0x80,
   security_send = 0x81, security_receive = 0x82, sanitize = 0x84,
}
local io_name, admin_name = {}, {}
for k, v in pairs(M.IO_OPC) do io_name[v] = k end
for k, v in pairs(M.ADMIN_OPC) do admin_name[v] = k end

-- Status values as SCT << 8 | SC (NVMe 1.4 section 4.6.1.2); DNR is 0x4000.
M.STATUS = {
   -- generic (SCT 0)
   success = 0x000, invalid_opcode = 0x001, invalid_field = 0x002, cid_conflict = 0x003,
   data_transfer_error = 0x004, power_loss_abort = 0x005, internal_error = 0x006,
   aborted = 0x007, sq_deleted = 0x008, fused_failed = 0x009, fused_missing = 0x00a,
   invalid_namespace = 0x00b, command_sequence_error = 0x00c,
   lba_out_of_range = 0x080, capacity_exceeded = 0x081, namespace_not_ready = 0x082,
   reservation_conflict = 0x083, format_in_progress = 0x084,
   -- command specific (SCT 1), the ones a driver meets on I/O paths
   invalid_queue_id = 0x101, abort_limit = 0x103, async_event_limit = 0x105,
   -- media and data integrity (SCT 2)
   write_fault = 0x280, unrecovered_read_error = 0x281, guard_check_error = 0x282,
   apptag_check_error = 0x283, reftag_check_error = 0x284, compare_failure = 0x285,
   access_denied = 0x286, deallocated_or_unwritten = 0x287,
   -- path related (SCT 3)
   internal_path_error = 0x300, ana_persistent_loss = 0x301, ana_inaccessible = 0x302,
   ana_transition = 0x303, controller_pathing_error = 0x360, host_pathing_error = 0x370,
   aborted_by_host = 0x371,
}
local status_name = {}
for k, v in pairs(M.STATUS) do status_name[v] = k end
local DNR = 0x4000

--- "unrecovered_read_error", "unrecovered_read_error+dnr" or the hex value.
function M.status_text(v)
   local base = band(v, 0x7ff)
   local name = status_name[base] or ("0x%03x"):format(base)
   if band(v, DNR) ~= 0 then name = name .. "+dnr" end
   return name
end

local sorted = ck.sorted

-- An opcode given by name or number -> code, set ("admin", "io" or "any").
local function opcode(v, path)
   if type(v) == "string" then
      if M.IO_OPC[v] then return M.IO_OPC[v], "io" end
      if M.ADMIN_OPC[v] then return M.ADMIN_OPC[v], "admin" end
      local all = sorted(M.IO_OPC)
      for _, k in ipairs(sorted(M.ADMIN_OPC)) do all[#all + 1] = k end
      local near = ck.suggest(v, all)
      ck.fail(path, "unknown opcode '%s'%s", v, near and (" (did you mean '%s'?)"):format(near)
         or " (I/O: " .. table.concat(sorted(M.IO_OPC), ", ") .. "; admin: "
         .. table.concat(sorted(M.ADMIN_OPC), ", ") .. "; or a number)")
   end
   return ck.integer(v, path, 0, 0xff), "any"
end

--- Check an `nvme = { ... }` matcher; returns its compiled form.
function M.check_match(t, path)
   local s = {}
   if t.queue ~= nil then
      local q = t.queue
      if q == "admin" or q == "io" then
         s.queue = q
      elseif type(q) == "number" then
         s.queue = ck.integer(q, path .. ".queue", 0, 0xffff)
      else
         ck.fail(path .. ".queue", "expected \"admin\", \"io\" or a queue id, got %s", ck.describe(q))
      end
   end
   if t.opcode ~= nil then
      s.ops = {}
      local list = type(t.opcode) == "table" and t.opcode or { t.opcode }
      if #list == 0 then ck.fail(path .. ".opcode", "an empty list") end
      for i, v in ipairs(list) do
         local p = type(t.opcode) == "table" and ("%s.opcode[%d]"):format(path, i) or path .. ".opcode"
         local code, set = opcode(v, p)
         if set ~= "any" and s.queue ~= nil then
            local qset = s.queue == "admin" and "admin" or s.queue == "io" and "io"
               or (s.queue == 0 and "admin" or "io")
            if qset ~= set then
               ck.fail(p, "'%s' is an %s opcode but queue is %s", v, set == "io" and "I/O" or "admin",
                  ck.describe(t.queue))
            end
         end
         local prev = s.ops[code]
         s.ops[code] = (prev and prev ~= set) and "any" or set
      end
   end
   if t.nsid ~= nil then
      s.nsid = {}
      if type(t.nsid) == "table" then
         for i, v in ipairs(t.nsid) do s.nsid[ck.integer(v, ("%s.nsid[%d]"):format(path, i), 0, 0xffffffff)] = true end
      else
         s.nsid[ck.integer(t.nsid, path .. ".nsid", 0, 0xffffffff)] = true
      end
   end
   if t.lba ~= nil then
      if type(t.lba) == "number" then
         s.lba_first = ck.integer(t.lba, path .. ".lba", 0, 2 ^ 53)
         s.lba_last = s.lba_first
      else
         ck.tbl(t.lba, path .. ".lba")
         if #t.lba ~= 2 then ck.fail(path .. ".lba", "expected an LBA or {first, last}") end
         s.lba_first = ck.integer(t.lba[1], path .. ".lba[1]", 0, 2 ^ 53)
         s.lba_last = ck.integer(t.lba[2], path .. ".lba[2]", s.lba_first, 2 ^ 53)
      end
   end
   return s
end

-- I/O opcodes whose CDW10-12 hold SLBA and NLB.
local HAS_LBA = { [0x01] = true, [0x02] = true, [0x04] = true, [0x05] = true, [0x08] = true,
   [0x0c] = true }

--- The fields matchers look at, from the 16 dwords of a submission entry.
function M.decode(sqid, sqe)
   local opc = band(sqe[0], 0xff)
   local ev = { sqid = sqid, opcode = opc, cid = rshift(sqe[0], 16), nsid = tonumber(sqe[1]) }
   if sqid ~= 0 and HAS_LBA[opc] then
      ev.slba = tonumber(sqe[11]) * 2 ^ 32 + tonumber(sqe[10])
      ev.nlb = band(sqe[12], 0xffff) + 1
   end
   return ev
end

function M.match(s, ev)
   local q, sqid = s.queue, ev.sqid
   if q ~= nil then
      if q == "admin" then
         if sqid ~= 0 then return false end
      elseif q == "io" then
         if sqid == 0 then return false end
      elseif q ~= sqid then
         return false
      end
   end
   if s.ops then
      local set = s.ops[ev.opcode]
      if not set then return false end
      if set == "admin" and sqid ~= 0 then return false end
      if set == "io" and sqid == 0 then return false end
   end
   if s.nsid and not s.nsid[ev.nsid] then return false end
   if s.lba_first then
      if not ev.slba then return false end
      if ev.slba > s.lba_last or ev.slba + ev.nlb - 1 < s.lba_first then return false end
   end
   return true
end

function M.describe(ev)
   local names = ev.sqid == 0 and admin_name or io_name
   local op = names[ev.opcode] or ("opcode 0x%02x"):format(ev.opcode)
   local s = ("nvme %s sq %d cid %d nsid %d"):format(op, ev.sqid, ev.cid, ev.nsid)
   if ev.slba then s = s .. (" lba %d+%d"):format(ev.slba, ev.nlb) end
   return s
end

--- A status by name or number (SCT << 8 | SC, up to 0x7fff with CRD/More/DNR).
function M.check_status(v, path)
   if type(v) == "string" then
      local code = M.STATUS[v]
      if not code then
         local near = ck.suggest(v, sorted(M.STATUS))
         ck.fail(path, "unknown status '%s'%s", v, near and (" (did you mean '%s'?)"):format(near)
            or " (known: " .. table.concat(sorted(M.STATUS), ", ") .. "; or a number SCT << 8 | SC)")
      end
      if code == 0 then ck.fail(path, "'success' is not a fault") end
      return code
   end
   return ck.integer(v, path, 1, 0x7fff)
end

--- corrupt = { cid = "wrong" | N, dw0 .. dw3 = XOR masks }.
function M.check_corrupt(v, path)
   if v == true then return { cid = "wrong" } end
   ck.tbl(v, path)
   ck.check_keys(v, { cid = true, dw0 = true, dw1 = true, dw2 = true, dw3 = true }, path)
   local out = {}
   if v.cid ~= nil then
      if v.cid == "wrong" then out.cid = "wrong"
      else out.cid = ck.integer(v.cid, path .. ".cid", 0, 0xffff) end
   end
   for i = 0, 3 do
      local k = "dw" .. i
      if v[k] ~= nil then out[i] = ck.integer(v[k], path .. "." .. k, 1, 0xffffffff) end
   end
   if next(out) == nil then ck.fail(path, "nothing to corrupt (cid, dw0..dw3)") end
   return out
end

-- Which way the data of an opcode goes, as the device's DMA: bits 1:0 of the
-- opcode (01b host to controller, 10b controller to host).
local function data_dir(opc)
   local d = band(opc, 3)
   if d == 1 then return "read" end
   if d == 2 then return "write" end
   return nil
end

-- The fast path's flag (devices/nvme/fastpath.h, struct nvme_fp_state, as c.st):
-- while set, the native side defers every I/O doorbell to the Lua model.
local function set_lua_only(c, v)
   for _, k in ipairs({ "st", "fp" }) do
      local s = rawget(c, k)
      if type(s) == "cdata" or type(s) == "table" then
         if pcall(function() s.lua_only = v end) then return end
      end
   end
end

--- Keep (on = true) or release the all-Lua I/O mode for `who` ("faults",
--- "trace"): the native fast path would serve commands, DMA and interrupts
--- out of sight of the hooks. The flag stays set while anyone holds it.
function M.hold_lua(c, who, on)
   local holders = rawget(c, "_lua_holders") or {}
   c._lua_holders = holders
   holders[who] = on or nil
   set_lua_only(c, next(holders) and 1 or 0)
end

--- Stop the controller from processing commands (surprise removal).
function M.halt(c)
   local s = rawget(c, "st")
   if type(s) == "cdata" then
      pcall(function() s.ready = 0 end)
   else
      c.ready = false
   end
end

-- ---- delayed completions ----
-- An NVMe command with a `delay` completes late without stalling the device:
-- it is held (swallowed), and a timerfd watched by the event loop runs it
-- when due. A controller reset (or its queue deleted) in between drops it:
-- a stale completion must never reach a driver that has moved on.

pcall(ffi.cdef, [[
struct pciem_faults_itimerspec { long it_interval_sec, it_interval_nsec, it_value_sec, it_value_nsec; };
int timerfd_create(int clockid, int flags);
int timerfd_settime(int fd, int flags, const struct pciem_faults_itimerspec *new_value, void *old_value);
long read(int fd, void *buf, unsigned long count);
int close(int fd);
]])
local TFD_NONBLOCK, TFD_CLOEXEC = 0x800, 0x80000
local CLOCK_MONOTONIC = 1
local itspec = ffi.new("struct pciem_faults_itimerspec")
local u64buf = ffi.new("uint64_t[1]")

-- Arm the timer for the earliest held command (0 disarms).
local function arm(st, now)
   local first
   for _, h in ipairs(st.nvme_held) do
      if not first or h.due < first then first = h.due end
   end
   local ns = first and math.max(first - now, 1000) or 0
   itspec.it_interval_sec, itspec.it_interval_nsec = 0, 0
   itspec.it_value_sec = math.floor(ns / 1e9)
   itspec.it_value_nsec = ns % 1e9
   ffi.C.timerfd_settime(st.nvme_timer, 0, itspec, nil)
end

-- Run and complete the held commands that are due.
local function run_due(dev, st, core)
   ffi.C.read(st.nvme_timer, u64buf, 8)
   local c = st.nvme_ctrl
   if not c then return end
   local now = core._now_ns()
   local keep = {}
   local due = {}
   for _, h in ipairs(st.nvme_held) do
      if h.due <= now then due[#due + 1] = h else keep[#keep + 1] = h end
   end
   st.nvme_held = keep
   local queues = dev.nvme.queues
   for _, h in ipairs(due) do
      local sq = c.sq[h.sqid]
      local ready = rawget(c, "st") and c.st.ready == 1 or rawget(c, "ready")
      if ready and sq.valid == 1 and sq.base == h.base then
         local ok, status, result = true, h.status, 0
         if not status then
            local exec = h.sqid == 0 and c.exec_admin or c.exec_io
            ok, status, result = pcall(exec, c, h.sqid, h.sqe)
            if not ok then status, result = 0x06, 0 end
         end
         if status then queues.post(c, sq.cqid, result or 0, sq.head, h.sqid, h.cid, status) end
      end
   end
   if queues.flush_irqs then queues.flush_irqs(c) end
   arm(st, now)
end

-- Hold command `sqe` of `sqid` for `ms`; false when the loop cannot time it.
local function hold(dev, st, core, sqid, sqe, ms)
   if type(dev.watch_fd) ~= "function" or not dev.nvme.queues then return false end
   if not st.nvme_timer then
      local fd = ffi.C.timerfd_create(CLOCK_MONOTONIC, bit.bor(TFD_NONBLOCK, TFD_CLOEXEC))
      if fd < 0 then return false end
      local w = dev:watch_fd(fd, function(d) run_due(d, st, core) end)
      if not w then ffi.C.close(fd) return false end
      st.nvme_timer, st.nvme_watch, st.nvme_held = fd, w, {}
   end
   local copy = ffi.new("uint32_t[16]")
   ffi.copy(copy, sqe, 64)
   local c = st.nvme_ctrl
   local now = core._now_ns()
   table.insert(st.nvme_held, { sqid = sqid, cid = rshift(sqe[0], 16), sqe = copy,
      base = c.sq[sqid].base, due = now + ms * 1e6 })
   arm(st, now)
   return true
end

local function drop_timer(dev, st)
   if st.nvme_timer then
      if st.nvme_watch and type(dev.unwatch_fd) == "function" then dev:unwatch_fd(st.nvme_watch) end
      ffi.C.close(st.nvme_timer)
   end
   st.nvme_timer, st.nvme_watch, st.nvme_held = nil, nil, nil
end

--- Install the controller hooks for the fault core `core` (pciem.faults).
function M.attach(dev, st, core)
   local c = dev.nvme.ctrl
   if st.nvme_ctrl == c then return end
   st.nvme_ctrl = c
   st.nvme_corrupt = {}
   -- A controller reset forgets the commands held for a delay.
   local reset_state = c.reset_state
   c.reset_state = function(self, ...)
      if st.nvme_held then st.nvme_held = {} end
      return reset_state(self, ...)
   end
   c.fault_cmd = function(_, sqid, sqe)
      st.nvme_flip = nil
      if st.removed then return false end
      local ev = M.decode(sqid, sqe)
      ev.seq = rawget(dev, "seq")
      local f = core._first_fire(dev, st, "nvme", ev)
      if not f then return nil end
      local a = f.act
      -- A delayed command is held and completed later; the device goes on.
      local held = a.delay and a.delay > 0 and not a.swallow and not a.fatal and not a.remove
         and hold(dev, st, core, sqid, sqe, a.delay)
      core._common(dev, st, f, ev, held)
      if a.fatal or st.removed then return false end	-- a dead controller completes nothing
      local key = sqid * 0x10000 + ev.cid
      if a.corrupt then st.nvme_corrupt[key] = a.corrupt end
      if a.flip then st.nvme_flip = { spec = a.flip, dir = data_dir(ev.opcode), key = key } end
      if a.swallow then return false end
      if held then
         if a.status then	-- completes late with the status instead of running
            st.nvme_held[#st.nvme_held].status = a.status
         end
         return false
      end
      return a.status
   end
   c.fault_cqe = function(_, _, e)
      local sqid, cid = rshift(e[2], 16), band(e[3], 0xffff)
      local key = sqid * 0x10000 + cid
      local armed = st.nvme_flip
      if armed and armed.key == key then st.nvme_flip = nil end
      local cor = st.nvme_corrupt[key]
      if not cor then return end
      st.nvme_corrupt[key] = nil
      for i = 0, 3 do
         if cor[i] then e[i] = bxor(e[i], cor[i]) end
      end
      if cor.cid then
         local new = cor.cid == "wrong" and bxor(cid, 0x8000) or cor.cid
         e[3] = bor(band(e[3], 0xffff0000), new)
      end
   end
   M.hold_lua(c, "faults", true)
end

--- Remove the controller hooks.
function M.detach(dev, st)
   local c = st.nvme_ctrl
   if not c then return end
   c.fault_cmd, c.fault_cqe = nil, nil
   rawset(c, "reset_state", nil)
   M.hold_lua(c, "faults", false)
   drop_timer(dev, st)
   st.nvme_ctrl, st.nvme_corrupt, st.nvme_flip = nil, nil, nil
end

return M
