-- SPDX-License-Identifier: MIT
-- Shared set-up of the NVMe specs: devices/nvme.lua started on the sim with
-- lua/pciem/nvmehost.lua as its driver, and torn down after each case.
local pciem = require("pciem")
local sim = require("pciem.sim")
local nvmehost = require("pciem.nvmehost")
local helper = require("helper")

local M = {}

M.SCRIPT = helper.top .. "/devices/nvme.lua"

--- Start the model with script arguments `...`; returns dev, its OS side and a host driver.
function M.start(...)
   local dev = pciem.load(M.SCRIPT, ...)
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
