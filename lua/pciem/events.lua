-- SPDX-License-Identifier: MIT
-- Trapped accesses as a running device sees them: read/write handlers per BAR
-- offset or range (Lua functions or native C handlers), the dispatch step and
-- the loop that runs until SIGINT/SIGTERM. Methods of the device object.
local ffi = require("ffi")
local pffi = require("pciem.ffi")
local C = pffi.C

local M = {}

local EV_READ = 2			-- PCIEM_EVENT_MMIO_READ
local ON_READ, ON_WRITE = 0, 1		-- PL_ON_*
local CFG_BAR = 6			-- PL_LOOP_CFG_BAR
local LOOP_SIGNAL = -4			-- PL_LOOP_SIGNAL

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
   if is_native(r.fn) then
      local l = r.fn.lib
      if not l._c then return nil, ("%s is not loaded"):format(tostring(r.fn)) end
      if C.pciem_ffi_native_handler(l._c, r.fn.name, pffi.voidp_out) ~= 0 then
         return nil, cerr(self)
      end
      lib, fn = l._c, pffi.voidp_out[0]
   elseif r.fn then
      lua_id = #self._lua_fns + 1
      self._lua_fns[lua_id] = r.fn
   end
   local bar = r.bar == "cfg" and CFG_BAR or r.bar
   if C.pciem_ffi_loop_on(self._loop, bar, r.access, r.first, r.last, lua_id, lib, fn) ~= 0 then
      return nil, cerr(self)
   end
   return true
end

local function route(self, access, bar, where, fn, what)
   local first, last = range_of(self, bar, where, what)
   if fn ~= nil and type(fn) ~= "function" and not is_native(fn) then
      error(("%s: handler must be a function, a native handler or nil, got %s")
         :format(what, type(fn)), 3)
   end
   local key = ("%s:%d:%d:%d"):format(tostring(bar), access, first, last)
   local r = { bar = bar, access = access, first = first, last = last, fn = fn }
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
function M.on_read(self, bar, where, fn)
   return route(self, ON_READ, bar, where, fn, "on_read")
end

--- Handler for writes: fn(dev, offset, value, width); value is a number for
--- widths 1..4, a uint64_t cdata for 8. dev.seq is the event's seq number.
function M.on_write(self, bar, where, fn)
   return route(self, ON_WRITE, bar, where, fn, "on_write")
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
   return true
end

function M.close_loop(self)
   if self._loop then C.pciem_ffi_loop_free(self._loop) end
   for _, lib in ipairs(self._natives) do lib._c = nil end
   self._loop, self._batch, self._stats = nil, nil, nil
end

-- Run the Lua handlers of batch[0..n) in ring order, then answer them.
local function dispatch(self, n)
   local batch, fns = self._batch, self._lua_fns
   for i = 0, n - 1 do
      local e = batch[i]
      local fn = fns[e.handler]
      local width = e.ev.width
      self.seq = tonumber(e.ev.seq)
      if e.ev.kind == EV_READ then
         local v = fn(self, e.ev.offset, width)
         if v ~= nil then e.answer = v end
      elseif width == 8 then
         fn(self, e.ev.offset, e.ev.value, 8)
      else
         fn(self, e.ev.offset, tonumber(e.ev.value), width)
      end
   end
   C.pciem_ffi_loop_done(self._loop, n)
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
      elseif n == 0 then
         return total
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
      local n = C.pciem_ffi_loop_poll(loop, wait)
      if n > 0 then
         dispatch(self, n)
      elseif n == 0 then
         if wait >= 0 then return 0 end
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

return M
