-- SPDX-License-Identifier: MIT
-- Shared set-up of the NVMe specs: devices/nvme.lua started on the sim with
-- lua/pciem/nvmehost.lua as its driver, and torn down after each case.
local pciem = require("pciem")
local sim = require("pciem.sim")
local nvmehost = require("pciem.nvmehost")
local helper = require("helper")

local M = {}

M.SCRIPT = helper.top .. "/devices/nvme.lua"
M.NATIVE = helper.top .. "/build/devices/nvme_native.so"

--- The I/O modes to run: the native fast path (when built) and all-Lua.
function M.modes()
   local f = io.open(M.NATIVE, "rb")
   if f then f:close(); return { "fastpath=on", "fastpath=off" } end
   return { "fastpath=off" }
end

--- describe(name, body) once per mode of M.modes(): every M.start in it gets
--- the mode's option first (a test's own fastpath= still wins).
function M.each_mode(name, body)
   local env = getfenv(2)	-- busted's functions live in the spec file's environment
   for _, mode in ipairs(M.modes()) do
      env.describe(("%s [%s]"):format(name, mode), function()
         env.before_each(function() M.mode_arg = mode end)
         env.after_each(function() M.mode_arg = nil end)
         body(mode)
      end)
   end
end

--- Start the model with script arguments `...`; returns dev, its OS side and a host driver.
function M.start(...)
   local dev
   if M.mode_arg then dev = pciem.load(M.SCRIPT, M.mode_arg, ...)
   else dev = pciem.load(M.SCRIPT, ...) end
   assert(dev:start("sim"))
   local osim = sim.new(dev)
   return dev, osim, nvmehost.new(osim)
end

--- Enable the controller and, when n > 0, create n I/O queue pairs of `depth` entries.
function M.ready(n, depth, ...)
   local dev, osim, h = M.start(...)
   assert(h:enable())
   if n > 0 then
      local got = h:create_io_queues(n, depth)
      if got ~= n then error(("created %s I/O queue pairs, wanted %d"):format(tostring(got), n), 2) end
   end
   return dev, osim, h
end

--- Undo M.start; every argument may be nil.
function M.stop(dev, osim, h)
   if h then h:close() end
   if osim then osim:close() end
   if dev and dev.state == "started" then dev:stop() end
end

return M
