-- SPDX-License-Identifier: MIT
-- Trapped accesses as a running device sees them: read/write handlers per BAR
-- offset or range (Lua functions or native C handlers), the dispatch step and
-- the loop that runs until SIGINT/SIGTERM. Methods of the device object.
local ffi = require("ffi")
local bit = require("bit")
local pffi = require("pciem.ffi")
local C = pffi.C

local M = {}

local EV_READ = 2			-- PCIEM_EVENT_MMIO_READ
local ON_READ, ON_WRITE = 0, 1		-- PL_ON_*
local CFG_BAR = 6			-- PL_LOOP_CFG_BAR
local LOOP_SIGNAL = -4			-- PL_LOOP_SIGNAL
local LOOP_IDLE, LOOP_FDS = -5, -6	-- PL_LOOP_IDLE, PL_LOOP_FDS
local EV_NATIVE = 1			-- PL_EV_NATIVE
local NATIVE_DEFER = 1			-- PCIEM_NATIVE_DEFER
local EV_CFG, EV_SYNC = 3, 1		-- PCIEM_EVENT_CFG_WRITE, PCIEM_EVENT_F_SYNC

-- A native handler: `lib.name` or lib:handler("name") before or after start.
local NativeLib = {}
local NativeRef = {}
NativeRef.__index = NativeRef

function NativeLib.__index(lib, name)
   if NativeLib[name] then return NativeLib[name] end
   if type(name) ~= "string" then return nil end
   return setmetatable({ lib = lib, name = name }, NativeRef)
end

function NativeLib:handler(name)
   if type(name) ~= "string" then
      error("handler: the name of an exported function expected", 2)
   end
   return setmetatable({ lib = self, name = name }, NativeRef)
end

--- The address of symbol `name` in the loaded library (a void *), for data
--- or functions the script shares with it. Returns nil, err when absent or
--- when the library is not loaded yet (libraries load at start).
function NativeLib:symbol(name)
   if type(name) ~= "string" then error("symbol: a name expected", 2) end
   local c = rawget(self, "_c")
   if not c then return nil, ("%s is not loaded (the device has not started)"):format(self.path) end
   local out = ffi.new("void *[1]")
   if C.pciem_ffi_native_symbol(c, name, out) ~= 0 then
      return nil, ("%s exports no '%s'"):format(self.path, name)
   end
   return out[0]
end

--- The library's struct pciem_native * (as a void *), once loaded.
function NativeLib:context()
   local c = rawget(self, "_c")
   if not c then return nil, ("%s is not loaded (the device has not started)"):format(self.path) end
   return C.pciem_ffi_native_context(c)
end

function NativeRef:__tostring()
   return ("native handler %s in %s"):format(self.name, rawget(self.lib, "path"))
end

local function is_native(v)
   return getmetatable(v) == NativeRef
end

local function cerr(self)
   return ffi.string(C.pciem_ffi_dev_error(self._cdev))
end

-- (bar, where) -> start, end; `where` is an offset or {offset, length}.
local function range_of(self, bar, where, what)
   local size
   if bar == "cfg" then
      size = 4096
   else
      if type(bar) ~= "number" or bar < 0 or bar > 5 or bar % 1 ~= 0 or not self.desc.bars[bar] then
         error(("%s: BAR %s is not described"):format(what, tostring(bar)), 3)
      end
      size = self.desc.bars[bar].size
   end
   local first, len
   if type(where) == "number" then
      first, len = where, 1
   elseif type(where) == "table" then
      first, len = where[1], where[2]
   end
   if type(first) ~= "number" or type(len) ~= "number" or first % 1 ~= 0 or len % 1 ~= 0
      or first < 0 or len < 1 or first + len > size then
      error(("%s: %s is not an offset or {offset, length} inside the %s (0x%x bytes)")
         :format(what, type(where) == "table" and "{" .. tostring(where[1]) .. ", "
            .. tostring(where[2]) .. "}" or tostring(where),
            bar == "cfg" and "config space" or "BAR", size), 3)
   end
   return first, first + len
end

-- Put one route into the C table (loop running). Returns true or nil, err.
local function install(self, r)
   local lua_id, lib, fn = 0, nil, nil
   local luafn = r.fn
   if is_native(r.fn) then
      local l = r.fn.lib
      if not l._c then return nil, ("%s is not loaded"):format(tostring(r.fn)) end
      if C.pciem_ffi_native_handler(l._c, r.fn.name, pffi.voidp_out) ~= 0 then
         return nil, cerr(self)
      end
      lib, fn = l._c, pffi.voidp_out[0]
      luafn = r.fallback
   end
   if luafn then
      lua_id = #self._lua_fns + 1
      self._lua_fns[lua_id] = luafn
   end
   local bar = r.bar == "cfg" and CFG_BAR or r.bar
   if C.pciem_ffi_loop_on(self._loop, bar, r.access, r.first, r.last, lua_id, lib, fn) ~= 0 then
      return nil, cerr(self)
   end
   return true
end

local function route(self, access, bar, where, fn, what, fallback)
   local first, last = range_of(self, bar, where, what)
   if fn ~= nil and type(fn) ~= "function" and not is_native(fn) then
      error(("%s: handler must be a function, a native handler or nil, got %s")
         :format(what, type(fn)), 3)
   end
   if fallback ~= nil and (not is_native(fn) or type(fallback) ~= "function") then
      error(("%s: a fallback must be a Lua function after a native handler"):format(what), 3)
   end
   local key = ("%s:%d:%d:%d"):format(tostring(bar), access, first, last)
   local r = { bar = bar, access = access, first = first, last = last, fn = fn,
      fallback = fallback }
   if self._loop then
      local ok, err = install(self, r)
      if not ok then return nil, err end
   end
   self._routes[key] = fn ~= nil and r or nil
   return true
end

--- Handler for reads of BAR `bar` at `where` (an offset, or {offset, length}):
--- fn(dev, offset, width) returns the value (nil: the shadow's value). Only
--- accesses the kernel sends (sync ranges) reach it. fn nil removes it.
--- With a native fn, `fallback` (a Lua handler) runs for the events the
--- native one defers (PCIEM_NATIVE_DEFER).
function M.on_read(self, bar, where, fn, fallback)
   return route(self, ON_READ, bar, where, fn, "on_read", fallback)
end

--- Handler for writes: fn(dev, offset, value, width); value is a number for
--- widths 1..4, a uint64_t cdata for 8. dev.seq is the event's seq number.
--- `fallback` as for on_read.
function M.on_write(self, bar, where, fn, fallback)
   return route(self, ON_WRITE, bar, where, fn, "on_write", fallback)
end

--- Handler for the OS's config space writes: fn(dev, offset, value, width).
--- `where` defaults to the whole config space.
function M.on_cfg_write(self, where, fn)
   if fn == nil and type(where) == "function" then where, fn = { 0, 4096 }, where end
   return route(self, ON_WRITE, "cfg", where, fn, "on_cfg_write")
end

--- Load a native handler library (host/pciem_native.h). Returns the library;
--- lib.name (or lib:handler("name")) is a handler for on_read/on_write.
--- Before start the library is loaded when the device starts.
function M.load_native(self, path, args)
   if type(path) ~= "string" then error("load_native: path of a .so expected", 2) end
   if args ~= nil and type(args) ~= "string" then error("load_native: args must be a string", 2) end
   local lib = setmetatable({ path = path, args = args or "" }, NativeLib)
   if self._loop then
      local out = ffi.new("struct pl_native *[1]")
      if C.pciem_ffi_native_load(self._loop, path, lib.args, out) ~= 0 then
         return nil, cerr(self)
      end
      lib._c = out[0]
   end
   self._natives[#self._natives + 1] = lib
   return lib
end

--- Set up the event loop of a device whose BARs are mapped: load native
--- libraries, install the handlers. Returns true or nil, err.
function M.open_loop(self, private_entries)
   local out = ffi.new("struct pl_loop *[1]")
   local rc
   if private_entries then
      rc = C.pciem_ffi_loop_new_private(self._cdev, private_entries, out)
   else
      rc = C.pciem_ffi_loop_new(self._cdev, out)
   end
   if rc ~= 0 then return nil, cerr(self) end
   self._loop = out[0]
   self._batch = C.pciem_ffi_loop_batch(self._loop)
   self._stats = C.pciem_ffi_loop_stats(self._loop)
   self._lua_fns = {}
   local nout = ffi.new("struct pl_native *[1]")
   for _, lib in ipairs(self._natives) do
      if C.pciem_ffi_native_load(self._loop, lib.path, lib.args, nout) ~= 0 then
         return nil, cerr(self)
      end
      lib._c = nout[0]
   end
   for _, r in pairs(self._routes) do
      local ok, err = install(self, r)
      if not ok then return nil, err end
   end
   self._fd_slots = {}
   for _, w in ipairs(rawget(self, "_fds") or {}) do
      local slot = C.pciem_ffi_loop_watch_fd(self._loop, w.fd)
      if slot < 0 then return nil, cerr(self) end
      w.slot = slot
      self._fd_slots[slot] = w
   end
   self._taps = rawget(self, "_taps") or {}
   self._idle = rawget(self, "_idle") or {}
   self._intercept = #self._taps > 0
   C.pciem_ffi_loop_set_intercept(self._loop, self._intercept and 1 or 0)
   C.pciem_ffi_loop_set_idle(self._loop, #self._idle > 0 and 1 or 0)
   return true
end

--- fn(dev) runs whenever the ring has drained after events were handled,
--- before the loop waits: flush what a burst batched. Returns fn.
function M.on_idle(self, fn)
   if type(fn) ~= "function" then error("on_idle: a function expected", 2) end
   self._idle = rawget(self, "_idle") or {}
   table.insert(self._idle, fn)
   if self._loop then C.pciem_ffi_loop_set_idle(self._loop, 1) end
   return fn
end

--- Remove an idle function given to on_idle.
function M.off_idle(self, fn)
   local list = rawget(self, "_idle") or {}
   for i = #list, 1, -1 do
      if list[i] == fn then table.remove(list, i) end
   end
   if self._loop then C.pciem_ffi_loop_set_idle(self._loop, #list > 0 and 1 or 0) end
end

--- See every access: before(dev, a) runs before the handler and may return
--- "drop" (no handler; a read answers the shadow) or a number (a read's
--- answer without the handler; a write's value for it); after(dev, a) runs
--- after it with a.value the answer of a read. a = { kind = "read"|"write"|
--- "cfg", bar, offset, width, value, seq, sync }. While a tap exists every
--- access comes through Lua (native and default ones too). Returns a handle.
function M.tap(self, before, after)
   if (before ~= nil and type(before) ~= "function") or (after ~= nil and type(after) ~= "function")
      or (before == nil and after == nil) then
      error("tap: before and/or after must be functions", 2)
   end
   local t = { before = before, after = after }
   self._taps = rawget(self, "_taps") or {}
   table.insert(self._taps, t)
   self._intercept = true
   if self._loop then C.pciem_ffi_loop_set_intercept(self._loop, 1) end
   return t
end

--- Remove a tap (the handle tap returned); unknown handles are ignored.
function M.untap(self, t)
   local list = rawget(self, "_taps") or {}
   for i = #list, 1, -1 do
      if list[i] == t then table.remove(list, i) end
   end
   self._intercept = #list > 0
   if self._loop then C.pciem_ffi_loop_set_intercept(self._loop, self._intercept and 1 or 0) end
end

--- fn(dev, fd) runs from run()/step() when `fd` is readable or hung up (also
--- while native handlers keep the device busy). Returns a handle, or nil, err.
function M.watch_fd(self, fd, fn)
   if type(fd) ~= "number" or fd < 0 or fd % 1 ~= 0 then
      error("watch_fd: a file descriptor number expected", 2)
   end
   if type(fn) ~= "function" then error("watch_fd: a function expected", 2) end
   local w = { fd = fd, fn = fn }
   if self._loop then
      local slot = C.pciem_ffi_loop_watch_fd(self._loop, fd)
      if slot < 0 then return nil, cerr(self) end
      w.slot = slot
      self._fd_slots[slot] = w
   end
   self._fds = rawget(self, "_fds") or {}
   table.insert(self._fds, w)
   return w
end

--- Stop watching (the handle watch_fd returned).
function M.unwatch_fd(self, w)
   local list = rawget(self, "_fds") or {}
   for i = #list, 1, -1 do
      if list[i] == w then table.remove(list, i) end
   end
   if self._loop and w.slot then
      C.pciem_ffi_loop_unwatch_fd(self._loop, w.slot)
      self._fd_slots[w.slot] = nil
      w.slot = nil
   end
end


function M.close_loop(self)
   if self._loop then C.pciem_ffi_loop_free(self._loop) end
   for _, lib in ipairs(self._natives) do lib._c = nil end
   self._loop, self._batch, self._stats = nil, nil, nil
end

-- Run Lua handler fn for batch entry i (e). A read answered with nil gets
-- the shadow as it is now (an earlier handler of the batch may have set it).
local function call_handler(self, fn, e, i)
   local width = e.ev.width
   if e.ev.kind == EV_READ then
      local v = fn(self, e.ev.offset, width)
      if v ~= nil then e.answer = v else C.pciem_ffi_loop_reshadow(self._loop, i) end
   elseif width == 8 then
      fn(self, e.ev.offset, e.ev.value, 8)
   else
      fn(self, e.ev.offset, tonumber(e.ev.value), width)
   end
end

-- The access a tap sees, as a plain table.
local function tap_view(self, e)
   local ev = e.ev
   local kind = ev.kind == EV_READ and "read" or ev.kind == EV_CFG and "cfg" or "write"
   local value
   if kind ~= "read" then value = ev.width == 8 and ev.value or tonumber(ev.value) end
   return { kind = kind, bar = kind == "cfg" and "cfg" or ev.bar, offset = ev.offset,
      width = ev.width, value = value, seq = self.seq, sync = bit.band(ev.flags, EV_SYNC) ~= 0 }
end

-- Intercept mode (taps set): every access of the batch passes the taps; the
-- C side (native handler or default) is run from here, then Lua handlers.
local function dispatch_tapped(self, n)
   local batch, fns, loop = self._batch, self._lua_fns, self._loop
   local taps = { unpack(self._taps) }	-- a tap may untap itself
   for i = 0, n - 1 do
      local e = batch[i]
      self.seq = tonumber(e.ev.seq)
      local a = tap_view(self, e)
      local verdict
      for _, t in ipairs(taps) do
         if t.before then
            verdict = t.before(self, a)
            if verdict ~= nil then break end
         end
      end
      if type(verdict) == "number" and a.kind == "read" then
         e.answer = verdict
      elseif verdict ~= "drop" then
         if type(verdict) == "number" then e.ev.value = verdict end
         local lua = e.handler ~= 0
         if bit.band(e.flags, EV_NATIVE) ~= 0 or not lua then
            lua = C.pciem_ffi_loop_serve(loop, i) == NATIVE_DEFER and lua
         end
         if lua then call_handler(self, fns[e.handler], e, i) end
      end
      if a.kind == "read" then
         a.value = a.width == 8 and e.answer or tonumber(e.answer) % 2 ^ (8 * a.width)
      end
      for _, t in ipairs(taps) do
         if t.after then t.after(self, a) end
      end
   end
   C.pciem_ffi_loop_done(loop, n)
end

-- Run the Lua handlers of batch[0..n) in ring order, then answer them.
local function dispatch(self, n)
   if self._intercept then return dispatch_tapped(self, n) end
   local batch, fns = self._batch, self._lua_fns
   for i = 0, n - 1 do
      local e = batch[i]
      self.seq = tonumber(e.ev.seq)
      call_handler(self, fns[e.handler], e, i)
   end
   C.pciem_ffi_loop_done(self._loop, n)
end

-- The watched fds found ready: run their functions.
local function serve_ready(self, mask)
   local slots = self._fd_slots
   local served = 0
   for slot = 0, 15 do
      if bit.band(mask, bit.lshift(1, slot)) ~= 0 and slots[slot] then
         served = served + 1
         slots[slot].fn(self, slots[slot].fd)
      end
   end
   return served
end

-- Poll results other than a batch: idle point, ready fds. True when handled.
local function other(self, n)
   if n == LOOP_IDLE then
      for _, fn in ipairs({ unpack(self._idle) }) do fn(self) end
      return true
   elseif n == LOOP_FDS then
      serve_ready(self, C.pciem_ffi_loop_fds_ready(self._loop))
      return true
   end
   return false
end

local function check_loop(self, what)
   if not self._loop then
      error(("%s: device '%s' is not started"):format(what, self.name), 3)
   end
end

--- One dispatch step without waiting: serve everything the ring holds.
--- Returns the number of events Lua handled, or nil, "signal", signo, or
--- nil, err.
function M.step(self)
   check_loop(self, "step")
   local loop, total = self._loop, 0
   while true do
      local n = C.pciem_ffi_loop_poll(loop, 0)
      if n > 0 then
         dispatch(self, n)
         total = total + n
         if self._signal then return nil, "signal", self._signal end
      elseif n == 0 then
         return total
      elseif other(self, n) then
         if self._signal then return nil, "signal", self._signal end
      elseif n == LOOP_SIGNAL then
         return nil, "signal", self._stats.signo
      else
         return nil, cerr(self)
      end
   end
end

--- Serve events until SIGINT or SIGTERM (or `timeout_ms` passes with no
--- event for Lua, when given). Returns the signal number (0 on timeout), or
--- nil, err.
function M.run(self, timeout_ms)
   check_loop(self, "run")
   if timeout_ms ~= nil and (type(timeout_ms) ~= "number" or timeout_ms < 0) then
      error("run: timeout_ms must be a number >= 0", 2)
   end
   if self._signal then	-- came in while the device was starting
      local sig = self._signal
      self._signal = nil
      return sig
   end
   local loop = self._loop
   local wait = timeout_ms and math.floor(timeout_ms) or -1
   while true do
      if self._signal then	-- caught by serve_fds (a paused device)
         local sig = self._signal
         self._signal = nil
         return sig
      end
      local n = C.pciem_ffi_loop_poll(loop, wait)
      if n > 0 then
         dispatch(self, n)
      elseif n == 0 then
         if wait >= 0 then return 0 end
      elseif other(self, n) then
         -- served an idle point or watched fds
      elseif n == LOOP_SIGNAL then
         return self._stats.signo
      else
         return nil, cerr(self)
      end
   end
end

--- The loop's own statistics: events, native_events, lua_events,
--- default_events, answers, polls, sleeps, native_errors.
function M.loop_stats(self)
   check_loop(self, "loop_stats")
   local s = self._stats
   return {
      events = tonumber(s.events), native_events = tonumber(s.native_events),
      lua_events = tonumber(s.lua_events), default_events = tonumber(s.default_events),
      answers = tonumber(s.answers), polls = tonumber(s.polls), sleeps = tonumber(s.sleeps),
      native_errors = tonumber(s.native_errors),
   }
end

--- Wait up to timeout_ms (-1 forever) for watched fds only and serve them,
--- taking no ring events (a tap pausing the device loops on this). Returns
--- the number of fds served (0 on timeout), or nil, "signal", signo (kept
--- for run() to return), or nil, err.
function M.serve_fds(self, timeout_ms)
   check_loop(self, "serve_fds")
   local rc = C.pciem_ffi_loop_serve_fds(self._loop, math.floor(timeout_ms or -1))
   if rc == LOOP_SIGNAL then
      self._signal = self._stats.signo
      return nil, "signal", self._signal
   elseif rc < 0 then
      return nil, cerr(self)
   end
   return serve_ready(self, rc)
end

return M
