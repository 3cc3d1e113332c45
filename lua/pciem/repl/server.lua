-- SPDX-License-Identifier: MIT
-- The control socket of a running pciem-lua: a root-only unix socket served
-- from the device's event loop (dev:watch_fd). Non-blocking throughout; a line
-- protocol (docs/repl.md), one REPL session per client, several at once.
local sys = require("pciem.repl.sys")
local session = require("pciem.repl.session")

local M = {}

local MAX_LINE = 1024 * 1024		-- a client sending more without a newline goes
local MAX_OUT = 4 * 1024 * 1024		-- output kept for a slow client, then dropped

--- Where sockets live: $PCIEM_REPL_DIR; /run/pciem-lua for root (when /run is
--- writable); $XDG_RUNTIME_DIR/pciem-lua; /tmp/pciem-lua-<uid>. Each is 0700.
function M.dirs()
   local env = os.getenv("PCIEM_REPL_DIR")
   if env and env ~= "" then return { env } end
   local list = {}
   if sys.getuid() == 0 then list[#list + 1] = "/run/pciem-lua" end
   local xdg = os.getenv("XDG_RUNTIME_DIR")
   if xdg and xdg ~= "" then list[#list + 1] = xdg .. "/pciem-lua" end
   list[#list + 1] = ("/tmp/pciem-lua-%d"):format(sys.getuid())
   return list
end

--- The first directory of M.dirs() that can be made private; path or nil, err.
function M.dir()
   local errs = {}
   for _, d in ipairs(M.dirs()) do
      local ok, err = sys.private_dir(d)
      if ok then return d end
      errs[#errs + 1] = err
   end
   return nil, "no directory for the control socket: " .. table.concat(errs, "; ")
end

--- "name.pid.sock" -> name, pid.
function M.parse_name(file)
   local name, pid = file:match("^(.+)%.(%d+)%.sock$")
   if name then return name, tonumber(pid) end
end

local Server = {}
Server.__index = Server

--- Serve the control socket of started device `dev`. info: script, args,
--- backend; on_quit(session) for sessions that end the process (-i).
function M.start(dev, info)
   local dir, err = M.dir()
   if not dir then return nil, err end
   local path = ("%s/%s.%d.sock"):format(dir, dev.name, sys.getpid())
   local fd, lerr = sys.listen(path)
   if not fd then return nil, "control socket " .. lerr end
   local self = setmetatable({ dev = dev, path = path, fd = fd, info = info or {},
      clients = {}, idle = nil }, Server)
   local w, werr = dev:watch_fd(fd, function() self:accept() end)
   if not w then
      sys.close(fd)
      sys.unlink(path)
      return nil, "control socket: " .. tostring(werr)
   end
   self.watch = w
   return self
end

function Server:describe()
   local d, info = self.dev, self.info
   return table.concat({ d.name, tostring(sys.getpid()), d.info and d.info.pci_name or "-",
      info.script or "-", d.backend or "-" }, "\t")
end

function Server:accept()
   while true do
      local fd = sys.accept(self.fd)
      if not fd then return end
      local c = { fd = fd, inbuf = "", outbuf = "", dropped = 0 }
      local w, err = self.dev:watch_fd(fd, function() self:readable(c) end)
      if not w then
         sys.write(fd, "Ecannot serve another client: " .. tostring(err) .. "\n")
         sys.close(fd)
      else
         c.watch = w
         self.clients[c] = true
      end
   end
end

-- Queue output for client `c` and try to send it now.
function Server:send(c, text)
   if c.closed then return end
   if #c.outbuf + #text > MAX_OUT then
      c.dropped = c.dropped + 1
      return
   end
   if c.dropped > 0 then
      c.outbuf = c.outbuf .. ("O(%d lines dropped: the client reads too slowly)\n"):format(c.dropped)
      c.dropped = 0
   end
   c.outbuf = c.outbuf .. text
   self:flush(c)
end

function Server:flush(c)
   if c.outbuf == "" or c.closed then return end
   local n = sys.write(c.fd, c.outbuf)
   if not n then return self:drop(c) end
   c.outbuf = c.outbuf:sub(n + 1)
   self:idle_hook()
end

-- While some client has output waiting (its socket was full), retry at each
-- idle point of the loop; otherwise no idle hook costs anything.
function Server:idle_hook()
   local waiting = false
   for c in pairs(self.clients) do
      if c.outbuf ~= "" then waiting = true break end
   end
   if waiting and not self.idle then
      self.idle = self.dev:on_idle(function()
         for c in pairs(self.clients) do self:flush(c) end
      end)
   elseif not waiting and self.idle then
      self.dev:off_idle(self.idle)
      self.idle = nil
   end
end

local function framed(tag, text)
   local out = {}
   for line in (text .. "\n"):gmatch("([^\n]*)\n") do out[#out + 1] = tag .. line .. "\n" end
   return table.concat(out)
end

function Server:session_of(c)
   if c.session then return c.session end
   c.session = session.new(self.dev, {
      script = self.info.script, args = self.info.args,
      out = function(t) self:send(c, framed("O", t)) end,
      err = function(t) self:send(c, framed("E", t)) end,
      on_quit = function() c.quitting = true end,
   })
   return c.session
end

-- One request line from client `c` (docs/repl.md, "Protocol").
function Server:request(c, line)
   local tag, rest = line:sub(1, 1), line:sub(2)
   if tag == "S" then
      self:send(c, "I" .. self:describe() .. "\n")
   elseif tag == "H" then
      self:session_of(c)
      self:send(c, "I" .. self:describe() .. "\n")
      self:send(c, "P" .. session.PROMPT .. "\n")
   elseif tag == "L" then
      local prompt = self:session_of(c):input(rest)
      if c.quitting then
         self:send(c, "Q\n")
         return self:drop(c)
      end
      self:send(c, "P" .. prompt .. "\n")
   elseif tag == "C" then
      local list, start = self:session_of(c):complete(rest)
      self:send(c, "M" .. tostring(start) .. (#list > 0 and "\t" .. table.concat(list, "\t") or "") .. "\n")
   elseif tag == "X" then
      self:send(c, "P" .. self:session_of(c):cancel() .. "\n")
   elseif tag == "Q" then
      return self:drop(c)
   else
      self:send(c, framed("E", ("unknown request '%s'"):format(tag)))
   end
end

function Server:readable(c)
   local ok, err = pcall(function()
      local data, _, e = sys.read(c.fd)
      if data == nil and e == sys.EAGAIN then return end
      if not data or data == "" then return self:drop(c) end
      c.inbuf = c.inbuf .. data
      while not c.closed do
         local line, rest = c.inbuf:match("^([^\n]*)\n(.*)$")
         if not line then break end
         c.inbuf = rest
         self:request(c, line)
      end
      if #c.inbuf > MAX_LINE then self:drop(c) end
   end)
   if not ok then
      -- never let a client's trouble end the device
      io.stderr:write("pciem-lua: control socket: ", tostring(err), "\n")
      self:drop(c)
   end
end

--- Disconnect a client; its watches and breaks go with it.
function Server:drop(c)
   if c.closed then return end
   c.closed = true
   if c.outbuf ~= "" then sys.write(c.fd, c.outbuf) end
   if c.watch then self.dev:unwatch_fd(c.watch) end
   sys.close(c.fd)
   self.clients[c] = nil
   if c.session then c.session:close() end
   self:idle_hook()
end

--- Close every client and the socket, and remove it.
function Server:close()
   for c in pairs(self.clients) do self:drop(c) end
   if self.idle then self.dev:off_idle(self.idle); self.idle = nil end
   if self.watch and self.dev._loop then self.dev:unwatch_fd(self.watch) end
   self.watch = nil
   if self.fd then sys.close(self.fd) end
   self.fd = nil
   sys.unlink(self.path)
end

return M
