-- SPDX-License-Identifier: MIT
-- The device object pciem.device{} returns: a checked description that can be
-- started on a backend, then config space access, BAR views and bus info.
local bit = require("bit")
local ffi = require("ffi")
local pffi = require("pciem.ffi")
local plan = require("pciem.plan")
local bar = require("pciem.bar")
local events = require("pciem.events")
local io_ = require("pciem.io")
local C = pffi.C

local M = {}

local Device = {}
Device.__index = Device
M.Device = Device

--- A device for checked description `d` whose uapi plan is `p`; `source` is
--- "file:line" of the description, for messages.
function M.new(d, p, source)
   local self = setmetatable({
      name = d.name,
      desc = d,
      source = source,
      state = "described",	-- then "started", "stopped"
      backend = nil,
      bar = {},		-- [index] = BAR view, while started
      info = nil,		-- bus position and BAR addresses, while started
      _plan = p,
      _cdev = nil,
      _info = ffi.new("struct pciem_device_info"),
      _routes = {},		-- handlers, installed into the loop at start
      _natives = {},		-- native libraries, loaded at start
      _loop = nil,
   }, Device)
   io_.init(self)
   return self
end

-- Handlers, event loop, interrupts, DMA, counters: see events.lua and io.lua.
local internal = { init = true, open_loop = true, close_loop = true, close_irqfds = true }
for _, mod in ipairs({ events, io_ }) do
   for name, fn in pairs(mod) do
      if type(fn) == "function" and not internal[name] then
         Device[name] = fn
      end
   end
end

function M.is_device(v)
   return getmetatable(v) == Device
end

local function cdev_error(self)
   return ffi.string(C.pciem_ffi_dev_error(self._cdev))
end

local function where(self, msg)
   return self.source and (self.source .. ": " .. msg) or msg
end

function Device:_read_info()
   local i = self._info
   local rc = C.pciem_ffi_dev_info(self._cdev, i)
   if rc ~= 0 then return nil, cdev_error(self) end
   local info = {
      pci_name = ffi.string(i.pci_name),
      domain = i.domain, bus = i.bus, devfn = i.devfn,
      slot = bit.rshift(i.devfn, 3), func = bit.band(i.devfn, 7),
      state = i.state,
      bar_addr = {}, bar_len = {},
   }
   for n = 0, 5 do
      info.bar_addr[n] = tonumber(i.bar_addr[n])
      info.bar_len[n] = tonumber(i.bar_len[n])
   end
   self.info = info
   return info
end

--- Create, register and start the device on `backend` ("kernel" or "sim"),
--- then map its BARs. Returns the device, or nil and a message.
--- Everything the driver may touch is in place before START: BAR views,
--- policies, the event loop with its handlers and native libraries.
function Device:start(backend)
   backend = backend or "kernel"
   if backend ~= "kernel" and backend ~= "sim" then
      error(("unknown backend '%s' (kernel or sim)"):format(tostring(backend)), 2)
   end
   if self.state == "started" then
      error(("device '%s' is already started"):format(self.name), 2)
   end
   local cdev, err = plan.open(backend)
   if not cdev then return nil, err end
   local ok, fail = plan.apply(self._plan, cdev)
   if not ok then
      plan.free(cdev)
      return nil, where(self, fail.path .. ": " .. fail.msg)
   end
   self._cdev = cdev
   ok, err = self:_prepare()
   if not ok then
      self:_release()
      return nil, err
   end
   -- A driver already loaded probes inside START and its accesses reach the
   -- handlers now: their DMA and interrupts must work already.
   local prev_backend, prev_state = self.backend, self.state
   self.backend, self.state = backend, "started"
   ok, err = self:_start_serving(backend)
   local info_err
   if ok then info_err = select(2, self:_read_info()) end
   if not ok or info_err then
      self:_release()
      self.backend, self.state = prev_backend, prev_state
      return nil, info_err or where(self, err)
   end
   return self
end

-- START. On the kernel, a driver already loaded binds inside the START ioctl
-- and its probe may make sync accesses: start on a helper thread and serve
-- events meanwhile. A termination signal that comes in then is kept for run().
function Device:_start_serving(backend)
   local cdev = self._cdev
   if backend ~= "kernel" then
      if C.pciem_ffi_dev_start(cdev) ~= 0 then return nil, cdev_error(self) end
      return true
   end
   if C.pciem_ffi_dev_start_async(cdev) ~= 0 then return nil, cdev_error(self) end
   while C.pciem_ffi_dev_start_done(cdev, pffi.int_out) == 0 do
      local sig = self:run(1)
      if sig and sig > 0 then self._signal = sig end
   end
   if pffi.int_out[0] ~= 0 then return nil, cdev_error(self) end
   return true
end

-- Registered device: BAR views, policies from the description, event loop.
function Device:_prepare()
   local cdev = self._cdev
   local _, err = self:_read_info()
   if err then return nil, err end
   for i = 0, 5 do
      local b = self.desc.bars[i]
      if b then
         if C.pciem_ffi_bar_map(cdev, i, pffi.ptr_out, pffi.u64_out) ~= 0 then
            return nil, ("bars[%d]: %s"):format(i, cdev_error(self))
         end
         self.bar[i] = bar.new(i, pffi.ptr_out[0], tonumber(pffi.u64_out[0]),
            self.info.bar_addr[i], b)
         for k, r in ipairs(b.policy or {}) do
            if C.pciem_ffi_set_policy(cdev, i, r.policy, r.offset, r.length) ~= 0 then
               return nil, where(self, ("bars[%d].policy[%d]: %s"):format(i, k, cdev_error(self)))
            end
         end
      end
   end
   local ok, loop_err = events.open_loop(self, self._private_ring)	-- private ring: specs only
   if not ok then return nil, loop_err end
   if self._on_start then self._on_start(self) end
   return true
end

--- fn(dev) runs at each start once the BAR views and the event loop exist,
--- before drivers can bind: put reset values into the shadows there.
function Device:on_start(fn)
   if type(fn) ~= "function" and fn ~= nil then
      error(("on_start: a function expected, got %s"):format(type(fn)), 2)
   end
   self._on_start = fn
end

function Device:_release()
   io_.close_irqfds(self)
   events.close_loop(self)
   for i in pairs(self.bar) do self.bar[i] = nil end
   if self._cdev then plan.free(self._cdev) end
   self._cdev = nil
end

--- Remove the device from the bus and free it. BAR views are gone after.
--- Returns true, or nil and a message (the device is freed either way).
function Device:stop()
   if self.state ~= "started" then
      return nil, ("device '%s' is not started"):format(self.name)
   end
   local err
   if C.pciem_ffi_dev_stop(self._cdev) ~= 0 then err = cdev_error(self) end
   self:_release()
   self.state = "stopped"
   self.info = nil
   if err then return nil, err end
   return true
end

local function check_access(self, off, width, what)
   if self.state ~= "started" then
      error(("%s: device '%s' is not started"):format(what, self.name), 3)
   end
   if width ~= 1 and width ~= 2 and width ~= 4 then
      error(("%s: width must be 1, 2 or 4, got %s"):format(what, tostring(width)), 3)
   end
   if type(off) ~= "number" or off < 0 or off >= 4096 or off % width ~= 0 then
      error(("%s: offset %s is not a %d-byte aligned offset below 0x1000")
         :format(what, tostring(off), width), 3)
   end
end

--- Config space as the OS reads it (both backends). width 1, 2 or 4 (default 4).
function Device:cfg_read(off, width)
   width = width or 4
   check_access(self, off, width, "cfg_read")
   if C.pciem_ffi_cfg_read(self._cdev, off, width, pffi.u32_out) ~= 0 then
      return nil, cdev_error(self)
   end
   return pffi.u32_out[0]
end

--- A device-side write: no write masks, no RW1C; bytes the module owns
--- (BARs, capability headers, MSI/MSI-X) are refused with nil, message.
function Device:cfg_write(off, width, value)
   check_access(self, off, width, "cfg_write")
   if C.pciem_ffi_cfg_write(self._cdev, off, width, value) ~= 0 then
      return nil, cdev_error(self)
   end
   return true
end

--- OS-side config read (sim backend only): what a driver's config read sees.
function Device:os_cfg_read(off, width)
   width = width or 4
   check_access(self, off, width, "os_cfg_read")
   if C.pciem_ffi_os_cfg_read(self._cdev, off, width, pffi.u32_out) ~= 0 then
      return nil, cdev_error(self)
   end
   return pffi.u32_out[0]
end

--- OS-side config write (sim backend only): write masks and RW1C apply.
function Device:os_cfg_write(off, width, value)
   check_access(self, off, width, "os_cfg_write")
   if C.pciem_ffi_os_cfg_write(self._cdev, off, width, value) ~= 0 then
      return nil, cdev_error(self)
   end
   return true
end

--- The capability chain as the OS walks it: { {id=, offset=, ext=bool}, ... }.
function Device:capabilities()
   return require("pciem.dump").walk(function(off, w) return self:cfg_read(off, w) end)
end

--- A decoded config space dump (IDs, BARs, capability chain, hex).
function Device:dump()
   return require("pciem.dump").text(self)
end

function Device:__tostring()
   if self.info then
      return ("pciem device '%s' at %s (%s)"):format(self.name, self.info.pci_name, self.backend)
   end
   return ("pciem device '%s' (%s)"):format(self.name, self.state)
end

return M
