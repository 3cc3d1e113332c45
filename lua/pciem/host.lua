-- SPDX-License-Identifier: MIT
-- What pciem-lua does after parsing its command line: run a device (load the
-- script, start it, serve its events and its control socket until SIGINT or
-- SIGTERM, remove it), or one of the subcommands list, attach, trace-summary.
local pciem = require("pciem")

local M = {}

-- Exit codes, as in host/pl_main.c and docs/cli.md.
M.EXIT_OK, M.EXIT_SCRIPT, M.EXIT_USAGE, M.EXIT_BACKEND = 0, 1, 2, 3

local SIGINT = 2

local function say(fmt, ...)
   io.stdout:write("pciem-lua: ", fmt:format(...), "\n")
   io.stdout:flush()
end

local function warn(fmt, ...)
   io.stderr:write("pciem-lua: ", fmt:format(...), "\n")
   io.stderr:flush()
end

-- A module of the fault/trace work, or nil and a message saying it is missing.
local function optional(name, feature)
   local ok, mod = pcall(require, name)
   if ok then return mod end
   return nil, ("%s is not available in this build (%s: %s)"):format(feature, name,
      tostring(mod):match("^[^\n]*"))
end

local function trace_summary(path)
   local trace, err = optional("pciem.trace", "tracing")
   if not trace then return M.EXIT_SCRIPT, err end
   local ok, serr = trace.summary(path, io.stdout)
   if not ok then return M.EXIT_SCRIPT, tostring(serr) end
   return M.EXIT_OK
end

-- The trace asked for on the command line: from before start, so that the
-- driver's probe is in it.
local function start_trace(dev, opts)
   if not opts.trace then return true end
   local trace, err = optional("pciem.trace", "--trace")
   if not trace then return nil, err end
   local ok, terr = trace.start(dev, opts.trace)
   if not ok then return nil, ("--trace %s: %s"):format(opts.trace, tostring(terr)) end
   return true
end

-- Fault plans asked for on the command line, once the device runs.
local function start_extras(dev, opts)
   for _, plan in ipairs(opts.faults or {}) do
      local faults, err = optional("pciem.faults", "--faults")
      if not faults then return nil, err end
      local h, ferr = faults.load(dev, plan)
      if not h then return nil, ("--faults %s: %s"):format(plan, tostring(ferr)) end
   end
   return true
end

local function stop_extras(dev, opts)
   if opts.trace then
      local ok, trace = pcall(require, "pciem.trace")
      if ok then pcall(trace.stop, dev) end
   end
end

--- Run the device of opts.script. opts: script, args (list), backend
--- ("kernel"|"sim"), dump, check, verbose, interactive, faults (list of plan
--- paths), trace (path). Returns an exit code and, on failure, the message.
local function run_device(opts)
   _G.arg = { [0] = opts.script, unpack(opts.args) }
   local dev = require("pciem.repl.reload").load(opts.script, unpack(opts.args))
   if not pciem.is_device(dev) then
      return M.EXIT_SCRIPT, ("%s: the script must return a device (return pciem.device { ... }), got %s")
         :format(opts.script, type(dev))
   end
   if opts.check then
      say("%s: description ok", dev.name)
      return M.EXIT_OK
   end
   local ok, err = start_trace(dev, opts)
   if not ok then return M.EXIT_SCRIPT, err end
   ok, err = dev:start(opts.backend)
   if not ok then
      stop_extras(dev, opts)
      return M.EXIT_BACKEND, err
   end
   say("%s at %s%s", dev.name, dev.info.pci_name,
      opts.backend == "sim" and " (sim backend)" or "")
   if opts.dump then
      io.stdout:write(dev:dump())
      io.stdout:flush()
   end
   ok, err = start_extras(dev, opts)
   if not ok then
      stop_extras(dev, opts)
      dev:stop()
      return M.EXIT_SCRIPT, err
   end
   -- the control socket: `pciem-lua list` and `attach` find the device by it
   local srv, serr = require("pciem.repl.server").start(dev,
      { script = opts.script, args = opts.args, backend = opts.backend })
   if not srv then warn("%s: no REPL attach: %s", dev.name, serr) end
   local term
   if opts.interactive then
      term, err = require("pciem.repl.term").start(dev, { script = opts.script, args = opts.args })
      if not term then warn("%s: no terminal REPL: %s", dev.name, err) end
   end
   -- serve the device's events until SIGINT/SIGTERM; with no handlers the
   -- loop still drains the ring (and answers sync reads from the shadow).
   -- With a terminal REPL, Ctrl-C (SIGINT) cancels the line being typed.
   -- A Lua error in a handler ends the loop: clean up (the terminal must not
   -- stay in readline's mode, the socket must go) before reporting it.
   local function serve()
      while true do
         local sig, run_err = dev:run()
         if sig == SIGINT and term and not term.quitting then
            term:interrupt()
         else
            return sig, run_err
         end
      end
   end
   local ran, sig, run_err = xpcall(serve, function(e)
      return opts.verbose and debug.traceback(tostring(e), 2) or tostring(e)
   end)
   if term then term:close() end
   if srv then srv:close() end
   stop_extras(dev, opts)
   if not ran then
      if dev.state == "started" then dev:stop() end
      return M.EXIT_SCRIPT, sig
   end
   if not sig then
      dev:stop()
      return M.EXIT_BACKEND, ("%s: event loop: %s"):format(dev.name, run_err)
   end
   if dev.state == "started" then
      ok, err = dev:stop()
      if not ok then
         return M.EXIT_BACKEND, ("%s: removing the device: %s"):format(dev.name, err)
      end
   end
   say("%s removed", dev.name)
   return M.EXIT_OK
end

--- opts.command: "run" (default), "list", "attach" (opts.target, opts.eval),
--- "trace-summary" (opts.file). Returns an exit code and, on failure, the
--- message to print. Lua errors in the script propagate (pciem-lua prints
--- them as "file:line: message").
function M.main(opts)
   local cmd = opts.command or "run"
   if cmd == "list" then
      return require("pciem.repl.client").list()
   elseif cmd == "attach" then
      return require("pciem.repl.client").attach(opts.target, opts.eval)
   elseif cmd == "trace-summary" then
      return trace_summary(opts.file)
   end
   return run_device(opts)
end

return M
