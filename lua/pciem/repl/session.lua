-- SPDX-License-Identifier: MIT
-- One REPL session on a running device: a line goes in, output comes out
-- through the session's sink. Lines are commands (help, regs, peek, watch,
-- break, ...) or Lua run in the device's process with `dev` and helpers in
-- scope; an incomplete chunk waits for more lines. Also tab completion.
local regmap = require("pciem.regmap")
local show = require("pciem.repl.show")
local debug_ = require("pciem.repl.debug")
local reload = require("pciem.repl.reload")

local M = {}

M.PROMPT, M.MORE = "> ", ">> "

local Session = {}
Session.__index = Session

local next_id = 0

--- A session on `dev`. opts: out(text) and err(text) (the sink; text has no
--- final newline), script and args (for reload), id (a label), on_quit().
function M.new(dev, opts)
   next_id = next_id + 1
   local self = setmetatable({
      dev = dev, id = opts.id or next_id, script = opts.script, args = opts.args or {},
      sink_out = opts.out, sink_err = opts.err or opts.out, on_quit = opts.on_quit,
      pending = nil, quit = false,
   }, Session)
   self.env = self:make_env()
   self.debug = debug_.of(dev)
   self.debug:add_session(self)
   return self
end

function Session:out(text) if text and text ~= "" then self.sink_out(text) end end
function Session:err(text) self.sink_err(text) end
--- Asynchronous output (watch hits, breaks): same sink.
function Session:notify(text) self.sink_out(text) end

function Session:close()
   self.debug:drop_session(self)
end

---------------------------------------------------------------------------
-- Helpers: the functions behind the commands, also callable from Lua.

local function need_num(v, what)
   local n = type(v) == "number" and v or tonumber(v)
   if not n or n < 0 or n % 1 ~= 0 then
      error(("%s: a number expected, got %s"):format(what, tostring(v)), 0)
   end
   return n
end

local function bar_of(dev, b, what)
   b = need_num(b, what .. " bar")
   local view = dev.bar[b]
   if not view then error(("%s: BAR %d is not mapped"):format(what, b), 0) end
   return view
end

local WIDTHS = { [1] = "read8", [2] = "read16", [4] = "read32", [8] = "read64" }

function Session:map()
   return self.debug:map()
end

function Session:make_env()
   local dev, s = self.dev, self
   local H = {}
   function H.peek(b, off, width)
      width = need_num(width or 4, "peek width")
      if not WIDTHS[width] then error("peek: width 1, 2, 4 or 8", 0) end
      local view = bar_of(dev, b, "peek")
      return view[WIDTHS[width]](view, need_num(off, "peek offset"))
   end
   function H.poke(b, off, width, value)
      width = need_num(width, "poke width")
      if not WIDTHS[width] then error("poke: width 1, 2, 4 or 8", 0) end
      if type(value) ~= "cdata" then value = need_num(value, "poke value") end
      local view = bar_of(dev, b, "poke")
      view["write" .. (width * 8)](view, need_num(off, "poke offset"), value)
      return true
   end
   function H.cfg(off, width)
      if off == nil then return dev:dump() end
      return assert(dev:cfg_read(need_num(off, "cfg offset"), need_num(width or 4, "cfg width")))
   end
   function H.cfgw(off, width, value)
      return assert(dev:cfg_write(need_num(off, "cfgw offset"), need_num(width, "cfgw width"),
         need_num(value, "cfgw value")))
   end
   function H.dma(addr, len)
      addr, len = need_num(addr, "dma address"), need_num(len or 64, "dma length")
      local data, err = dev:dma_read(addr, len)
      if not data then error("dma: " .. tostring(err), 0) end
      return show.hexdump(data, addr)
   end
   function H.irq(n) return dev:irq(need_num(n, "irq vector")) end
   function H.intx(level) return dev:intx(level ~= 0 and level ~= false and level ~= "0") end
   function H.counters()
      local parts = {}
      local ok, c = pcall(dev.counters, dev)
      parts[#parts + 1] = show.counters("device (pciem.ko or sim):", ok and c or { error = tostring(c) })
      ok, c = pcall(dev.loop_stats, dev)
      parts[#parts + 1] = show.counters("event loop:", ok and c or { error = tostring(c) })
      local f = io.open("/sys/kernel/debug/pciem/unclaimed", "r")
      if f then
         parts[#parts + 1] = "debugfs pciem/unclaimed:\n" .. (f:read("*a") or "")
         f:close()
      end
      if dev.nvme and dev.nvme.ctrl and dev.nvme.ctrl.stats then
         parts[#parts + 1] = show.counters("nvme model:", dev.nvme.ctrl.stats)
      end
      return table.concat(parts, "\n")
   end
   function H.queues()
      local text, err = show.nvme_queues(dev)
      if not text then error(err, 0) end
      return text
   end
   function H.regs(pattern)
      local m = s:map()
      if not m then error("this device has no register map (dev.regmap)", 0) end
      if not pattern then return m:dump(dev) end
      local p = tostring(pattern):upper()
      return m:dump(dev, function(r) return r.name:find(p, 1, true) ~= nil end)
   end
   function H.reg(name)
      local m = s:map()
      if not m then error("this device has no register map (dev.regmap)", 0) end
      local r, why = m:resolve(name)
      if not r then error(why, 0) end
      return regmap.view(dev, r)
   end
   H.hexdump = show.hexdump
   self.helpers = H
   local env = setmetatable({ dev = dev, pciem = require("pciem") }, {
      __index = function(_, k)
         if H[k] then return H[k] end
         local m = s:map()
         local r = m and type(k) == "string" and m.by_name[k]
         if r then return regmap.view(dev, r) end
         return _G[k]
      end,
   })
   return env
end

---------------------------------------------------------------------------
-- Commands: the first word of a line, when it is one of these.

local HELP = {
   { "help [COMMAND]", "this list, or one command's help" },
   { "REG, REG.FIELD", "a register decoded (from dev.regmap), or one field; REG.FIELD = v writes the shadow" },
   { "regs [PATTERN]", "every register decoded (PATTERN: names containing it, doorbells too)" },
   { "peek BAR OFF [WIDTH]", "read the BAR shadow: WIDTH 1, 2, 4 (default) or 8" },
   { "poke BAR OFF WIDTH VALUE", "write the BAR shadow (the driver reads it; no handler runs)" },
   { "cfg [OFF [WIDTH [VALUE]]]", "config space: decoded dump, a read, or a device-side write" },
   { "dma ADDR [LEN]", "hex dump of LEN (64) bytes of host memory at bus address ADDR" },
   { "irq N / intx 0|1", "raise MSI/MSI-X vector N / set the INTx level" },
   { "counters", "module, event loop (and model) counters" },
   { "queues", "NVMe: every SQ and CQ (head, tail, phase, pending commands)" },
   { "watch [TARGET]", "print accesses live: REG, BAR:OFF[+LEN], cfg[:OFF[+LEN]], all; no TARGET lists" },
   { "unwatch ID|all", "stop a watch" },
   { "break [COND]", "pause the device on an access: REG.FIELD A->B, REG.FIELD == V, REG, BAR:OFF, or a Lua expression of `a`" },
   { "unbreak ID|all", "remove a break" },
   { "continue", "resume a paused device" },
   { "reload", "run the device script again and swap its handlers (state in keep() tables stays)" },
   { "faults load PATH | list | remove ID", "fault plans (pciem.faults)" },
   { "detach / quit", "leave this REPL (attach: the device keeps running; -i: the device stops)" },
   { "anything else", "Lua, run in the device's process: dev, peek(), poke(), cfg(), dma(), irq(), regs(), queues(), counters()" },
}
M.HELP = HELP

local COMMANDS = {}
M.COMMANDS = COMMANDS

local function words(rest)
   local w = {}
   for x in rest:gmatch("%S+") do w[#w + 1] = x end
   return w
end

local function value_of(self, text)
   local n = tonumber(text)
   if n then return n end
   local chunk = load("return " .. text, "=arg", "t", self.env)
   if not chunk then error(("'%s' is not a number"):format(text), 0) end
   return chunk()
end

function COMMANDS.help(self, rest)
   local want = rest:match("^%s*(%S+)")
   local out = {}
   for _, h in ipairs(HELP) do
      if not want or h[1]:find(want, 1, true) then
         out[#out + 1] = ("  %-36s %s"):format(h[1], h[2])
      end
   end
   if #out == 0 then return self:err(("no command '%s' (help lists them)"):format(want)) end
   self:out(table.concat(out, "\n"))
end

function COMMANDS.regs(self, rest)
   local p = rest:match("^%s*(%S+)")
   self:out(self.helpers.regs(p))
end

function COMMANDS.peek(self, rest)
   local w = words(rest)
   if #w < 2 then return self:err("usage: peek BAR OFF [WIDTH]") end
   local width = w[3] and value_of(self, w[3]) or 4
   local v = self.helpers.peek(value_of(self, w[1]), value_of(self, w[2]), width)
   self:out(regmap.hex(v, width) .. (type(v) == "number" and ("  (%d)"):format(v) or ""))
end

function COMMANDS.poke(self, rest)
   local w = words(rest)
   if #w ~= 4 then return self:err("usage: poke BAR OFF WIDTH VALUE") end
   self.helpers.poke(value_of(self, w[1]), value_of(self, w[2]), value_of(self, w[3]),
      value_of(self, w[4]))
end

function COMMANDS.cfg(self, rest)
   local w = words(rest)
   if #w == 0 then return self:out(self.dev:dump()) end
   local off, width = value_of(self, w[1]), w[2] and value_of(self, w[2]) or 4
   if w[3] then
      self.helpers.cfgw(off, width, value_of(self, w[3]))
   else
      self:out(regmap.hex(self.helpers.cfg(off, width), width))
   end
end

function COMMANDS.dma(self, rest)
   local w = words(rest)
   if #w < 1 then return self:err("usage: dma ADDR [LEN]") end
   self:out(self.helpers.dma(value_of(self, w[1]), w[2] and value_of(self, w[2]) or 64))
end

function COMMANDS.irq(self, rest)
   local w = words(rest)
   if #w ~= 1 then return self:err("usage: irq N") end
   local ok, err = self.helpers.irq(value_of(self, w[1]))
   if ok == nil then return self:err("irq: " .. tostring(err)) end
   self:out(ok and "delivered" or "pending (masked)")
end

function COMMANDS.intx(self, rest)
   local w = words(rest)
   if #w ~= 1 then return self:err("usage: intx 0|1") end
   local ok, err = self.helpers.intx(value_of(self, w[1]))
   if ok == nil then return self:err("intx: " .. tostring(err)) end
end

function COMMANDS.counters(self) self:out(self.helpers.counters()) end
function COMMANDS.queues(self) self:out(self.helpers.queues()) end

function COMMANDS.watch(self, rest)
   if not rest:find("%S") then return self:out(self.debug:list()) end
   local id, label = self.debug:watch(self, rest)
   if not id then return self:err("watch: " .. label) end
   self:out(("watch %d: %s"):format(id, label))
end

local function id_arg(rest)
   local a = rest:match("^%s*(%S+)%s*$")
   if a == "all" then return "all" end
   return tonumber(a)
end

function COMMANDS.unwatch(self, rest)
   local id = id_arg(rest)
   if not id then return self:err("usage: unwatch ID|all") end
   local n = self.debug:unwatch(self, id)
   if n == 0 then return self:err(("unwatch: no watch %s"):format(tostring(id))) end
end

COMMANDS["break"] = function(self, rest)
   if not rest:find("%S") then return self:out(self.debug:list()) end
   local id, label = self.debug:add_break(self, rest, self.env)
   if not id then return self:err("break: " .. label) end
   self:out(("break %d: %s"):format(id, label))
end

function COMMANDS.unbreak(self, rest)
   local id = id_arg(rest)
   if not id then return self:err("usage: unbreak ID|all") end
   if self.debug:remove_break(self, id) == 0 then
      return self:err(("unbreak: no break %s"):format(tostring(id)))
   end
end

function COMMANDS.continue(self)
   if not self.debug:continue() then return self:err("continue: the device is not paused") end
   self:out("continuing")
end
COMMANDS.c = COMMANDS.continue

function COMMANDS.reload(self)
   if not self.script then return self:err("reload: this session does not know the device script") end
   local ok, msg = reload.reload(self.dev, self.script, self.args)
   if not ok then return self:err(msg) end
   self:out(msg)
end

function COMMANDS.faults(self, rest)
   local w = words(rest)
   local ok, faults = pcall(require, "pciem.faults")
   if not ok then
      return self:err("faults: fault injection is not available (pciem.faults: "
         .. tostring(faults):match("^[^\n]*") .. ")")
   end
   local sub = w[1]
   if sub == "load" and w[2] then
      local h, err = faults.load(self.dev, w[2])
      if not h then return self:err("faults load: " .. tostring(err)) end
      self:out(("faults: plan %s '%s' loaded from %s (faults remove %s takes it out)")
         :format(tostring(h.id), tostring(h.name), w[2], tostring(h.id)))
   elseif sub == "list" then
      local l = faults.list(self.dev)
      local out = {}
      for _, p in ipairs(l) do
         out[#out + 1] = ("plan %s '%s': %d fired%s"):format(tostring(p.id), tostring(p.name),
            p.fired or 0, p.seed and (", seed %d"):format(p.seed) or "")
         for _, f in ipairs(p.faults or {}) do
            out[#out + 1] = ("  %-20s %-6s %-30s seen %d, fired %d"):format(tostring(f.name),
               tostring(f.kind), tostring(f.action), f.seen or 0, f.fired or 0)
         end
      end
      self:out(#out > 0 and table.concat(out, "\n") or "no fault plans loaded")
   elseif sub == "remove" and w[2] then
      local id = tonumber(w[2]) or w[2]
      local ok2, err = faults.unload(self.dev, id)
      if ok2 == nil and err then return self:err("faults remove: " .. tostring(err)) end
      self:out(("faults: removed %s"):format(w[2]))
   else
      self:err("usage: faults load PATH | faults list | faults remove ID")
   end
end

function COMMANDS.detach(self)
   self.quit = true
   if self.on_quit then self.on_quit(self) end
end
COMMANDS.quit, COMMANDS.exit = COMMANDS.detach, COMMANDS.detach

---------------------------------------------------------------------------
-- Input.

--- The command a line starts with (name, rest), or nil when it is Lua.
function M.parse_command(line)
   local name, rest = line:match("^%s*([%a_]+)(.*)$")
   if not name or not COMMANDS[name] then return nil end
   if rest ~= "" and not rest:match("^%s") then return nil end	-- regs(...) is Lua
   -- "c = 1" or "help.x" are Lua, not commands
   if rest:match("^%s*[=%.%[%(:]") and not rest:match("^%s*==") then return nil end
   return name, rest
end

local function is_incomplete(err)
   return err and err:find("<eof>", 1, true) ~= nil
end

-- Run Lua: an expression first (its values are printed), else statements.
function Session:run_lua(chunk_text)
   local fn, err = load("return " .. chunk_text, "=repl", "t", self.env)
   if not fn then
      fn, err = load(chunk_text, "=repl", "t", self.env)
   end
   if not fn then
      if is_incomplete(err) then return "more" end
      return self:err(err)
   end
   local results = { pcall(fn) }
   if not results[1] then return self:err(tostring(results[2])) end
   local out = {}
   for i = 2, table.maxn(results) do out[#out + 1] = show.value(results[i]) end
   if #out > 0 then self:out(table.concat(out, "\t")) end
end

--- Feed one line. Returns the prompt to show next ("> " or ">> ").
function Session:input(line)
   line = line:gsub("\r$", "")
   if self.pending then
      local text = self.pending .. "\n" .. line
      self.pending = nil
      if self:run_lua(text) == "more" then self.pending = text end
      return self.pending and M.MORE or M.PROMPT
   end
   if not line:find("%S") then return M.PROMPT end
   local name, rest = M.parse_command(line)
   if name then
      local ok, err = pcall(COMMANDS[name], self, rest)
      if not ok then self:err(tostring(err)) end
      return M.PROMPT
   end
   if line:match("^%s*=") then line = "return " .. line:match("^%s*=(.*)$") end
   if self:run_lua(line) == "more" then self.pending = line end
   return self.pending and M.MORE or M.PROMPT
end

--- Ctrl-C: forget a partly typed chunk.
function Session:cancel()
   self.pending = nil
   return M.PROMPT
end

---------------------------------------------------------------------------
-- Completion.

local function add_keys(set, t, seen)
   if type(t) ~= "table" or seen[t] then return end
   seen[t] = true
   for k in pairs(t) do
      if type(k) == "string" and k:match("^[%a_][%w_]*$") then set[k] = true end
   end
   local mt = getmetatable(t)
   if mt and type(mt.__index) == "table" then add_keys(set, mt.__index, seen) end
end

-- Names after "base." or "base:" where base is an expression path (a.b.c).
function Session:members(base, sep)
   local m = self:map()
   local reg = m and m.by_name[base]
   local set = {}
   if reg and sep == "." and not self.helpers[base] then
      for _, f in ipairs(reg.fields) do set[f.name] = true end
      set.value = true
      return set
   end
   local fn = load("return " .. base, "=complete", "t", self.env)
   if not fn then return set end
   local ok, v = pcall(fn)
   if not ok then return set end
   if type(v) == "string" then v = string end
   add_keys(set, v, {})
   if sep == ":" then
      for k in pairs(set) do
         local member = v[k]
         if type(member) ~= "function" then set[k] = nil end
      end
   end
   return set
end

--- Candidates for the word that ends `line` (the text before the cursor):
--- full replacement words, sorted. Returns the list and the word's start
--- (1-based index in line).
function Session:complete(line)
   local start = #line + 1
   while start > 1 and line:sub(start - 1, start - 1):match("[%w_.:]") do start = start - 1 end
   local word = line:sub(start)
   local before = line:sub(1, start - 1)
   local set = {}
   local first_word = not before:find("%S")
   local cmd = before:match("^%s*([%a_]+)%s+$") or before:match("^%s*([%a_]+)%s")
   local m = self:map()
   if cmd == "faults" and before:match("^%s*faults%s+$") then
      for _, x in ipairs({ "load", "list", "remove" }) do set[x] = true end
   elseif (cmd == "watch" or cmd == "break" or cmd == "regs") and m then
      for _, n in ipairs(m:names()) do set[n] = true end
      if cmd == "watch" then set.all = true; set.cfg = true end
   else
      local base, sep, part = word:match("^(.*)([.:])([%w_]*)$")
      if base and base ~= "" then
         for k in pairs(self:members(base, sep)) do
            if k:sub(1, #part) == part then set[base .. sep .. k] = true end
         end
      else
         if first_word then for k in pairs(COMMANDS) do set[k] = true end end
         for k in pairs(self.helpers) do set[k] = true end
         set.dev = true
         add_keys(set, _G, {})
         for k in pairs(self.env) do
            if type(k) == "string" then set[k] = true end
         end
         if m then for _, r in ipairs(m.list) do set[r.name] = true end end
      end
   end
   local out = {}
   for k in pairs(set) do
      if k:sub(1, #word) == word then out[#out + 1] = k end
   end
   table.sort(out)
   return out, start
end

return M
