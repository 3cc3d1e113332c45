-- SPDX-License-Identifier: MIT
-- `pciem-lua list` and `pciem-lua attach NAME|PID [-e CHUNK]`: find running
-- devices by their control sockets, and talk to one (interactively with
-- readline, or one chunk / stdin's lines for scripts and tests).
local ffi = require("ffi")
local sys = require("pciem.repl.sys")
local server = require("pciem.repl.server")
local readline = require("pciem.repl.readline")

local M = {}

local TIMEOUT_MS = 5000

-- A connection: blocking fd, buffered line reads with a deadline.
local Conn = {}
Conn.__index = Conn

local function connect(path)
   local fd, err = sys.connect(path)
   if not fd then return nil, err end
   return setmetatable({ fd = fd, buf = "" }, Conn)
end

function Conn:send(line) return sys.write_all(self.fd, line .. "\n") end

--- The next line, or nil and "timeout" / "closed".
function Conn:line(timeout_ms)
   while true do
      local l, rest = self.buf:match("^([^\n]*)\n(.*)$")
      if l then
         self.buf = rest
         return l
      end
      local p = { { fd = self.fd } }
      if sys.poll(p, timeout_ms or TIMEOUT_MS) == 0 then return nil, "timeout" end
      local data = sys.read(self.fd)
      if not data or data == "" then return nil, "closed" end
      self.buf = self.buf .. data
   end
end

function Conn:close() sys.close(self.fd) end

--- Every running device: { name, pid, pci, script, backend, socket }; stale
--- sockets (their process is gone) are removed on the way.
function M.running()
   local out = {}
   for _, dir in ipairs(server.dirs()) do
      for _, file in ipairs(sys.listdir(dir) or {}) do
         local name, pid = server.parse_name(file)
         local path = dir .. "/" .. file
         if name and not sys.alive(pid) then
            sys.unlink(path)
         elseif name then
            local e = { name = name, pid = pid, socket = path, pci = "?", script = "?", backend = "?" }
            local c = connect(path)
            if c then
               c:send("S")
               local l = c:line(1000)
               c:close()
               if l and l:sub(1, 1) == "I" then
                  local f = {}
                  for x in (l:sub(2) .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = x end
                  e.pci, e.script, e.backend = f[3], f[4], f[5]
               end
            else
               e.pci = "(not answering)"
            end
            out[#out + 1] = e
         end
      end
   end
   table.sort(out, function(a, b) return a.pid < b.pid end)
   return out
end

--- `pciem-lua list`: prints a table; returns the exit code.
function M.list()
   local all = M.running()
   if #all == 0 then
      io.stdout:write("no running pciem-lua devices\n")
      return 0
   end
   io.stdout:write(("%-16s %7s  %-16s %-5s  %-30s %s\n"):format("NAME", "PID", "PCI", "BACKEND",
      "SCRIPT", "SOCKET"))
   for _, e in ipairs(all) do
      io.stdout:write(("%-16s %7d  %-16s %-5s  %-30s %s\n"):format(e.name, e.pid, e.pci,
         e.backend, e.script, e.socket))
   end
   return 0
end

--- The running device NAME or PID is; socket path or nil, err.
function M.find(target)
   local all = M.running()
   local pid = tonumber(target)
   local hits = {}
   for _, e in ipairs(all) do
      if (pid and e.pid == pid) or e.name == target then hits[#hits + 1] = e end
   end
   if #hits == 1 then return hits[1].socket, hits[1] end
   if #hits == 0 then
      local names = {}
      for _, e in ipairs(all) do names[#names + 1] = ("%s (pid %d)"):format(e.name, e.pid) end
      local hint = ""
      if sys.getuid() ~= 0 and sys.lstat("/run/pciem-lua") then
         hint = " (devices run by root are attached to as root)"
      end
      return nil, ("no running device '%s'%s%s"):format(target,
         #names > 0 and ("; running: " .. table.concat(names, ", ")) or " (pciem-lua list shows none)",
         hint)
   end
   local pids = {}
   for _, e in ipairs(hits) do pids[#pids + 1] = tostring(e.pid) end
   return nil, ("'%s' names %d devices (pids %s): attach by pid"):format(target, #hits,
      table.concat(pids, ", "))
end

-- Print one server line; returns "prompt", text for P, true for errors.
local function show_line(l, print_out, print_err)
   local tag, rest = l:sub(1, 1), l:sub(2)
   if tag == "O" then print_out(rest)
   elseif tag == "E" then print_err(rest); return "error"
   elseif tag == "P" then return "prompt", rest
   elseif tag == "Q" then return "quit"
   elseif tag == "M" then return "matches", rest
   end
end

local function stdout_line(t) io.stdout:write(t, "\n"); io.stdout:flush() end
local function stderr_line(t) io.stderr:write(t, "\n"); io.stderr:flush() end

-- The input is over: say if it stopped inside a chunk, leave, exit code.
local function end_session(c, failed, last_prompt)
   if last_prompt ~= "> " then
      stderr_line("pciem-lua: attach: the input ends inside an unfinished Lua chunk")
      failed = true
   end
   c:send("Q")
   return failed and 1 or 0
end

-- Send `lines` one by one, each after the previous one's prompt, printing
-- what comes back. Returns the exit code (1 if any line failed).
local function batch(c, lines)
   local failed, last_prompt = false, "> "
   local function until_prompt()
      while true do
         local l, err = c:line(-1)
         if not l then return nil, err end
         local kind, rest = show_line(l, stdout_line, stderr_line)
         if kind == "error" then failed = true end
         if kind == "prompt" then last_prompt = rest; return true end
         if kind == "quit" then return nil, "quit" end
      end
   end
   local ok, err = until_prompt()		-- the greeting
   if not ok then
      stderr_line("pciem-lua: attach: the device closed the connection (" .. tostring(err) .. ")")
      return 1
   end
   for _, line in ipairs(lines) do
      c:send("L" .. line)
      ok, err = until_prompt()
      if not ok then
         if err == "quit" then return failed and 1 or 0 end
         stderr_line("pciem-lua: attach: the device closed the connection")
         return 1
      end
   end
   return end_session(c, failed, last_prompt)
end

-- Lines from a pipe or file on stdin, each sent once the previous one's
-- prompt came back; output the device sends meanwhile (watch, break) is
-- printed as it comes. Ends at the end of stdin. Returns the exit code.
local function from_stdin(c)
   local failed, waiting, eof, inbuf = false, true, false, ""
   local last_prompt = "> "
   while true do
      if not waiting then
         local l, rest = inbuf:match("^([^\n]*)\n(.*)$")
         if not l and eof and inbuf ~= "" then l, rest = inbuf, "" end
         if l then
            inbuf = rest
            c:send("L" .. l)
            waiting = true
         elseif eof then
            break
         end
      end
      local p = { { fd = c.fd } }
      if not eof and not waiting then p[2] = { fd = 0 } end
      -- lines already buffered from the socket first
      local have = c.buf:find("\n", 1, true)
      if not have then sys.poll(p, -1) end
      if have or p[1].revents ~= 0 then
         if not have then
            local data = sys.read(c.fd)
            if not data or data == "" then
               stderr_line("pciem-lua: attach: the device closed the connection")
               return 1
            end
            c.buf = c.buf .. data
         end
         while true do
            local l, rest = c.buf:match("^([^\n]*)\n(.*)$")
            if not l then break end
            c.buf = rest
            local kind, prompt = show_line(l, stdout_line, stderr_line)
            if kind == "error" then failed = true end
            if kind == "prompt" then waiting = false; last_prompt = prompt end
            if kind == "quit" then return failed and 1 or 0 end
         end
      elseif p[2] and p[2].revents ~= 0 then
         local data = sys.read(0)
         if not data or data == "" then eof = true else inbuf = inbuf .. data end
      end
   end
   return end_session(c, failed, last_prompt)
end

local function split_lines(s)
   local out = {}
   for l in (s:gsub("\n$", "") .. "\n"):gmatch("([^\n]*)\n") do out[#out + 1] = l end
   return out
end

-- The interactive client: readline on the terminal, the socket, and the
-- signalfd (Ctrl-C cancels the line) in one poll loop.
local function interactive(c, entry)
   local pffi_ok, pffi = pcall(require, "pciem.ffi")
   pcall(ffi.cdef, "int pl_signal_fd(void);")
   local sigfd = -1
   if pffi_ok then
      local ok, fd = pcall(function() return pffi.C.pl_signal_fd() end)
      if ok then sigfd = fd end
   end
   local done, code = false, 0
   local waiting = true		-- for the server's prompt
   local ed
   ed = readline.editor({
      history = readline.history_path(),
      on_line = function(line)
         if line == nil then
            io.stdout:write("\n")
            c:send("Q")
            done = true
            return nil
         end
         c:send("L" .. line)
         waiting = true
         return nil		-- the prompt comes from the server
      end,
      complete = function(line)
         c:send("C" .. line)
         while true do
            local l = c:line(2000)
            if not l then return {} end
            local kind, rest = show_line(l, function(t) ed:print(t) end, function(t) ed:print(t) end)
            if kind == "matches" then
               local list = {}
               for x in rest:gmatch("[^\t]+") do list[#list + 1] = x end
               table.remove(list, 1)		-- the word's start
               return list
            end
         end
      end,
   })
   io.stdout:write(("attached to %s (pid %d) at %s; `help` lists commands, `detach` or Ctrl-D leaves\n")
      :format(entry.name, entry.pid, entry.pci))
   io.stdout:flush()
   -- the server's lines already read (the greeting's prompt)
   local function drain()
      while true do
         local l, rest = c.buf:match("^([^\n]*)\n(.*)$")
         if not l then break end
         c.buf = rest
         local kind, prompt = show_line(l, function(t) ed:print(t) end,
            function(t) ed:print(t) end)
         if kind == "prompt" then
            waiting = false
            ed:resume(prompt)
         elseif kind == "quit" then
            done = true
         end
      end
   end
   drain()
   while not done do
      local p = { { fd = c.fd } }
      if not waiting then p[#p + 1] = { fd = ed.fd } end
      if sigfd >= 0 then p[#p + 1] = { fd = sigfd } end
      sys.poll(p, -1)
      for _, x in ipairs(p) do
         if x.revents ~= 0 then
            if x.fd == c.fd then
               local data = sys.read(c.fd)
               if not data or data == "" then
                  ed:close()
                  io.stdout:write("\nthe device went away\n")
                  return 1
               end
               c.buf = c.buf .. data
               drain()
            elseif x.fd == sigfd then
               local sig = pffi.C.pciem_ffi_host_wait(0)
               if sig == 15 then
                  c:send("Q")
                  done = true
               elseif not waiting then
                  c:send("X")
                  waiting = true
                  ed:interrupt(nil)	-- the server's prompt comes back
               end
            elseif not done then
               ed:feed()
            end
         end
      end
   end
   ed:close()
   return code
end

--- `pciem-lua attach TARGET [-e CHUNK]`; returns the exit code.
function M.attach(target, chunk)
   local path, entry = M.find(target)
   if not path then
      stderr_line("pciem-lua: attach: " .. entry)
      return 1
   end
   local c, err = connect(path)
   if not c then
      stderr_line("pciem-lua: attach: " .. err)
      return 1
   end
   c:send("H")
   local l = c:line()
   if not l or l:sub(1, 1) ~= "I" then
      stderr_line("pciem-lua: attach: " .. path .. " did not answer")
      c:close()
      return 1
   end
   local code
   if chunk then
      code = batch(c, split_lines(chunk))
   elseif not sys.isatty(0) then
      code = from_stdin(c)
   else
      code = interactive(c, entry)
   end
   c:close()
   return code
end

return M
