-- SPDX-License-Identifier: MIT
-- What pciem-lua does after parsing its command line: load the script, start
-- its device, say where it is, serve its events until SIGINT/SIGTERM, remove
-- the device.
local pciem = require("pciem")

local M = {}

-- Exit codes, as in host/pl_main.c and docs/cli.md.
M.EXIT_OK, M.EXIT_SCRIPT, M.EXIT_BACKEND = 0, 1, 3

local function say(fmt, ...)
   io.stdout:write("pciem-lua: ", fmt:format(...), "\n")
   io.stdout:flush()
end

--- opts: script, args (list), backend ("kernel"|"sim"), dump, check, verbose.
--- Returns an exit code and, on failure, the message to print. Lua errors in
--- the script propagate (pciem-lua prints them as "file:line: message").
function M.main(opts)
   _G.arg = { [0] = opts.script, unpack(opts.args) }
   local dev = pciem.load(opts.script, unpack(opts.args))
   if not pciem.is_device(dev) then
      return M.EXIT_SCRIPT, ("%s: the script must return a device (return pciem.device { ... }), got %s")
         :format(opts.script, type(dev))
   end
   if opts.check then
      say("%s: description ok", dev.name)
      return M.EXIT_OK
   end
   local ok, err = dev:start(opts.backend)
   if not ok then
      return M.EXIT_BACKEND, err
   end
   say("%s at %s%s", dev.name, dev.info.pci_name,
      opts.backend == "sim" and " (sim backend)" or "")
   if opts.dump then
      io.stdout:write(dev:dump())
      io.stdout:flush()
   end
   -- serve the device's events until SIGINT/SIGTERM; with no handlers the
   -- loop still drains the ring (and answers sync reads from the shadow)
   local sig, run_err = dev:run()
   if not sig then
      dev:stop()
      return M.EXIT_BACKEND, ("%s: event loop: %s"):format(dev.name, run_err)
   end
   ok, err = dev:stop()
   if not ok then
      return M.EXIT_BACKEND, ("%s: removing the device: %s"):format(dev.name, err)
   end
   say("%s removed", dev.name)
   return M.EXIT_OK
end

return M
