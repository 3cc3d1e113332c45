-- SPDX-License-Identifier: MIT
-- What a running device does to the host: interrupts (MSI/MSI-X vectors,
-- INTx level, irqfd), DMA at bus addresses, counters, policies and the sync
-- deadline. Methods of the device object; buffers are per device, reused.
local ffi = require("ffi")
local pffi = require("pciem.ffi")
local desc = require("pciem.desc")
local C = pffi.C

local M = {}

local IRQ_RAISE, INTX_ASSERT, INTX_DEASSERT = 1, 2, 3
local DMA_FROM_HOST, DMA_TO_HOST = 1, 2
local MAX_SEGS = 1024

local function cerr(self)
   return ffi.string(C.pciem_ffi_dev_error(self._cdev))
end

local function started(self, what)
   if self.state ~= "started" then
      error(("%s: device '%s' is not started"):format(what, self.name), 3)
   end
end

local function check_vector(n, what)
   if type(n) ~= "number" or n < 0 or n % 1 ~= 0 or n > 2047 then
      error(("%s: vector %s is not an integer 0..2047"):format(what, tostring(n)), 3)
   end
end

--- Raise MSI/MSI-X vector n as the driver set it up. Returns true when
--- delivered, false when left pending (masked), or nil, err (not enabled by
--- the driver, no such vector).
function M.irq(self, n)
   started(self, "irq")
   check_vector(n, "irq")
   local rc = C.pciem_ffi_irq(self._cdev, IRQ_RAISE, n)
   if rc == 0 then return true end
   if rc == 1 then return false end
   return nil, cerr(self)
end

--- Drive INTx: true asserts, false deasserts (level-triggered).
function M.intx(self, level)
   started(self, "intx")
   if type(level) ~= "boolean" then
      error(("intx: level must be true or false, got %s"):format(type(level)), 2)
   end
   local rc = C.pciem_ffi_irq(self._cdev, level and INTX_ASSERT or INTX_DEASSERT, 0)
   if rc < 0 then return nil, cerr(self) end
   return true
end

-- An eventfd bound to a vector: fd for other processes/threads, raise() here.
local Irqfd = {}
Irqfd.__index = Irqfd

--- Raise the bound vector through the eventfd (no ioctl per interrupt).
function Irqfd:raise(count)
   if not self.fd then error("irqfd: closed", 2) end
   local rc = C.pciem_ffi_eventfd_add(self.fd, count or 1)
   if rc ~= 0 then return nil, pffi.strerror(rc) end
   return true
end

--- Unbind and close the eventfd.
function Irqfd:close()
   if not self.fd then return true end
   local rc = C.pciem_ffi_irqfd(self.dev._cdev, self.fd, self.vector, 1)
   C.pciem_ffi_fd_close(self.fd)
   self.fd = nil
   if rc ~= 0 then return nil, cerr(self.dev) end
   return true
end

--- Bind a new eventfd to vector n. Returns an object with .fd (the number,
--- for whoever writes to it), :raise() and :close(); or nil, err.
function M.irqfd(self, n)
   started(self, "irqfd")
   check_vector(n, "irqfd")
   local fd = C.pciem_ffi_eventfd_new()
   if fd < 0 then return nil, "irqfd: eventfd: " .. pffi.strerror(fd) end
   if C.pciem_ffi_irqfd(self._cdev, fd, n, 0) ~= 0 then
      C.pciem_ffi_fd_close(fd)
      return nil, cerr(self)
   end
   local o = setmetatable({ dev = self, fd = fd, vector = n }, Irqfd)
   self._irqfds[#self._irqfds + 1] = o
   return o
end

function M.close_irqfds(self)
   for _, o in ipairs(self._irqfds) do
      if o.fd then C.pciem_ffi_fd_close(o.fd) o.fd = nil end
   end
   self._irqfds = {}
end

-- ---- DMA ----

local function check_addr(addr, what)
   if (type(addr) ~= "number" or addr < 0 or addr % 1 ~= 0) and not ffi.istype("uint64_t", addr) then
      error(("%s: bus address %s is not a non-negative integer"):format(what, tostring(addr)), 3)
   end
end

local function check_len(len, what)
   if type(len) ~= "number" or len < 1 or len % 1 ~= 0 then
      error(("%s: length %s is not a positive integer"):format(what, tostring(len)), 3)
   end
end

-- The per-device bounce buffer, grown (never shrunk) to hold `len` bytes.
local function buffer(self, len)
   if self._dma_cap < len then
      local cap = math.max(len, 2 * self._dma_cap, 4096)
      self._dma_buf = ffi.new("uint8_t[?]", cap)
      self._dma_cap = cap
   end
   return self._dma_buf
end

local function dma_failed(self)
   return nil, cerr(self), tonumber(self._done[0])
end

--- Read `len` bytes of host memory at bus address `addr`; returns a string,
--- or nil, err, bytes_done.
function M.dma_read(self, addr, len)
   started(self, "dma_read")
   check_addr(addr, "dma_read")
   check_len(len, "dma_read")
   local buf = buffer(self, len)
   if C.pciem_ffi_dma_from_host(self._cdev, addr, buf, len, self._done) ~= 0 then
      return dma_failed(self)
   end
   return ffi.string(buf, len)
end

--- Read `len` bytes at `addr` into FFI buffer `dst` (a pointer you own).
function M.dma_read_into(self, addr, dst, len)
   started(self, "dma_read_into")
   check_addr(addr, "dma_read_into")
   check_len(len, "dma_read_into")
   if type(dst) ~= "cdata" then error("dma_read_into: dst must be an FFI buffer", 2) end
   if C.pciem_ffi_dma_from_host(self._cdev, addr, dst, len, self._done) ~= 0 then
      return dma_failed(self)
   end
   return true
end

--- Write a Lua string, or `len` bytes of an FFI buffer, to host memory at
--- `addr`. Returns true, or nil, err, bytes_done.
function M.dma_write(self, addr, data, len)
   started(self, "dma_write")
   check_addr(addr, "dma_write")
   if type(data) == "string" then
      len = len or #data
      if len > #data then error("dma_write: len is longer than the string", 2) end
   elseif type(data) ~= "cdata" then
      error(("dma_write: data must be a string or an FFI buffer, got %s"):format(type(data)), 2)
   end
   check_len(len, "dma_write")
   if C.pciem_ffi_dma_to_host(self._cdev, addr, data, len, self._done) ~= 0 then
      return dma_failed(self)
   end
   return true
end

-- u8..u64 at bus addresses, through one per-device scalar.
local widths = { 8, 16, 32, 64 }
for _, bits in ipairs(widths) do
   local bytes = bits / 8
   local ptr_t = ffi.typeof(("uint%d_t *"):format(bits))
   local rname, wname = "dma_read" .. bits, "dma_write" .. bits
   --- dma_readN(addr) -> value (64: uint64_t cdata); dma_writeN(addr, v) -> true
   M[rname] = function(self, addr)
      started(self, rname)
      check_addr(addr, rname)
      local s = self._scalar
      if C.pciem_ffi_dma_from_host(self._cdev, addr, s, bytes, self._done) ~= 0 then
         return dma_failed(self)
      end
      local v = ffi.cast(ptr_t, s)[0]
      if bits < 64 then return tonumber(v) end
      return v
   end
   M[wname] = function(self, addr, v)
      started(self, wname)
      check_addr(addr, wname)
      if type(v) ~= "number" and type(v) ~= "cdata" then
         error(("%s: value must be a number, got %s"):format(wname, type(v)), 2)
      end
      local s = self._scalar
      ffi.cast(ptr_t, s)[0] = v
      if C.pciem_ffi_dma_to_host(self._cdev, addr, s, bytes, self._done) ~= 0 then
         return dma_failed(self)
      end
      return true
   end
end

local u8p_t, uintptr_t = ffi.typeof("uint8_t *"), ffi.typeof("uintptr_t")

-- Fill the per-device segment array from {{addr, len}, ...} over `buf`.
local function fill_segs(self, list, buf, what)
   if type(list) ~= "table" or #list < 1 or #list > MAX_SEGS then
      error(("%s: a list of 1..%d {addr, len} segments expected"):format(what, MAX_SEGS), 3)
   end
   if type(buf) ~= "cdata" then error(what .. ": buf must be an FFI buffer", 3) end
   local segs, base, total = self._segs, ffi.cast(u8p_t, buf), 0
   for i = 1, #list do
      local s = list[i]
      if type(s) ~= "table" then error(("%s: segment %d is not {addr, len}"):format(what, i), 3) end
      check_addr(s[1], what)
      check_len(s[2], what)
      local seg = segs[i - 1]
      seg.bus_addr = s[1]
      seg.user_addr = ffi.cast(uintptr_t, base + total)
      seg.length = s[2]
      total = total + s[2]
   end
   return #list, total
end

--- Scatter-gather read: the segments {{addr, len}, ...} one after another
--- into FFI buffer `buf`, in one call. Returns total bytes, or nil, err, done.
function M.dma_readv(self, list, buf)
   started(self, "dma_readv")
   local n, total = fill_segs(self, list, buf, "dma_readv")
   if C.pciem_ffi_dma(self._cdev, DMA_FROM_HOST, self._segs, n, self._done) ~= 0 then
      return dma_failed(self)
   end
   return total
end

--- Scatter-gather write: consecutive bytes of `buf` out to the segments.
function M.dma_writev(self, list, buf)
   started(self, "dma_writev")
   local n, total = fill_segs(self, list, buf, "dma_writev")
   if C.pciem_ffi_dma(self._cdev, DMA_TO_HOST, self._segs, n, self._done) ~= 0 then
      return dma_failed(self)
   end
   return total
end

-- ---- counters, policies, deadline ----

local counter_names = {
   "trap_reads", "trap_writes", "memory_accesses", "events", "sync_roundtrips",
   "sync_timeouts", "undecodable", "ring_full_waits", "irqs_delivered", "irqs_pended",
   "dma_bytes_from_host", "dma_bytes_to_host", "dma_errors",
}
M.counter_names = counter_names

--- The device's counters since it was created, as a table of numbers.
function M.counters(self)
   started(self, "counters")
   local c = self._counters
   if C.pciem_ffi_counters(self._cdev, c) ~= 0 then return nil, cerr(self) end
   local t = {}
   for _, name in ipairs(counter_names) do t[name] = tonumber(c[name]) end
   return t
end

-- Check and apply a policy change; true or nil, err.
local function apply_policy(self, bar, offset, length, name)
   started(self, "set_policy")
   if type(bar) ~= "number" or not self.desc.bars[bar] then
      error(("set_policy: BAR %s is not described"):format(tostring(bar)), 3)
   end
   local pol = desc.policy_names[name]
   if pol == nil then
      error(("set_policy: policy %s is not memory, posted or sync"):format(tostring(name)), 3)
   end
   if type(offset) ~= "number" or type(length) ~= "number" then
      error("set_policy: offset and length must be numbers", 3)
   end
   if C.pciem_ffi_set_policy(self._cdev, bar, pol, offset, length) ~= 0 then
      return nil, cerr(self)
   end
   return true
end

--- Set the policy ("memory", "posted" or "sync") of [offset, offset+length)
--- of BAR `bar`, while running. Returns true or nil, err. The device's own
--- changes are kept in dev._policy_log (what a fault plan restores on unload).
function M.set_policy(self, bar, offset, length, name)
   local ok, err = apply_policy(self, bar, offset, length, name)
   if ok then
      local log = rawget(self, "_policy_log") or {}
      self._policy_log = log
      log[#log + 1] = { bar = bar, offset = offset, length = length,
         policy = desc.policy_names[name] }
   end
   return ok, err
end

--- set_policy for tools that change policies for a while (fault plans): not
--- recorded as the device's own.
function M._set_policy_unrecorded(self, bar, offset, length, name)
   return apply_policy(self, bar, offset, length, name)
end

--- The deadline of sync accesses, in milliseconds (0.001..10000).
function M.set_sync_timeout(self, ms)
   started(self, "set_sync_timeout")
   if type(ms) ~= "number" or ms < 0.001 or ms > 10000 then
      error(("set_sync_timeout: %s is not 0.001..10000 ms"):format(tostring(ms)), 2)
   end
   if C.pciem_ffi_set_sync_timeout(self._cdev, math.ceil(ms * 1000)) ~= 0 then
      return nil, cerr(self)
   end
   return true
end

--- Per-device buffers, allocated once when the device is made.
function M.init(self)
   self._done = ffi.new("uint64_t[1]")
   self._scalar = ffi.new("uint64_t[1]")
   self._segs = ffi.new("struct pciem_dma_seg[?]", MAX_SEGS)
   self._counters = ffi.new("struct pciem_counters")
   self._dma_buf, self._dma_cap = nil, 0
   self._irqfds = {}
end

return M
