-- SPDX-License-Identifier: MIT
-- `pciem-lua -i`: a REPL session on the terminal of the device's own process.
-- The terminal is one more fd of the event loop (dev:watch_fd), so the device
-- keeps serving its driver while a person types.
local sys = require("pciem.repl.sys")
local session = require("pciem.repl.session")
local readline = require("pciem.repl.readline")
local debug_ = require("pciem.repl.debug")

local M = {}

local SIGTERM = 15

local Term = {}
Term.__index = Term

--- Start the terminal REPL on started device `dev`. info: script, args.
--- Ending it (quit, Ctrl-D, end of input) ends the process like SIGTERM.
function M.start(dev, info)
   local self = setmetatable({ dev = dev, quitting = false }, Term)
   local function quit()
      if self.quitting then return end
      self.quitting = true
      if self.watch then dev:unwatch_fd(self.watch); self.watch = nil end
      sys.kill(sys.getpid(), SIGTERM)	-- run() returns; the device is removed
   end
   self.s = session.new(dev, {
      script = info.script, args = info.args, id = "tty",
      out = function(t) self.ed:print(t) end,
      err = function(t) self.ed:print(t) end,
      on_quit = quit,
   })
   self.ed = readline.editor({
      history = readline.history_path(),
      on_line = function(line)
         if line == nil then
            quit()
            return nil
         end
         local prompt = self.s:input(line)
         if self.s.quit then quit() return nil end
         return prompt
      end,
      complete = function(line) return self.s:complete(line) end,
   })
   local w, err = dev:watch_fd(0, function()
      local ok, ferr = pcall(self.ed.feed, self.ed)
      if not ok then io.stderr:write("pciem-lua: REPL: ", tostring(ferr), "\n") end
   end)
   if not w then
      self.ed:close()
      self.s:close()
      return nil, err
   end
   self.watch = w
   -- Ctrl-C while a break holds the device cancels the line, as at any time
   debug_.on_sigint = function()
      self:interrupt()
      return true
   end
   io.stdout:write(("REPL on %s: `help` lists commands, Ctrl-D or `quit` stops the device\n")
      :format(dev.name))
   io.stdout:flush()
   self.ed:start(session.PROMPT)
   return self
end

--- SIGINT came: cancel the line (and any unfinished chunk), not the device.
function Term:interrupt()
   self.ed:interrupt(self.s:cancel())
end

function Term:close()
   debug_.on_sigint = nil
   if self.watch then self.dev:unwatch_fd(self.watch); self.watch = nil end
   self.ed:close()
   self.s:close()
end

return M
