-- SPDX-License-Identifier: MIT
-- `watch` and `break` for a running device: one tap (dev:tap) shared by every
-- REPL session of the device, set only while a watch or break exists. A break
-- pauses the device inside the tap, serving only the watched fds
-- (dev:serve_fds) until `continue`: the driver sees a slow device.
local regmap = require("pciem.regmap")
local show = require("pciem.repl.show")

local M = {}

local SIGINT = 2

--- Set by the terminal REPL (-i): called for a SIGINT that comes during a
--- pause; returning true keeps the device paused.
M.on_sigint = nil

local Debug = {}
Debug.__index = Debug

--- The debugger of `dev` (made on first use).
function M.of(dev)
   local d = rawget(dev, "_repl_debug")
   if d then return d end
   d = setmetatable({ dev = dev, watches = {}, breaks = {}, next_id = 1, sessions = {},
      paused = nil, tap = nil }, Debug)
   rawset(dev, "_repl_debug", d)
   return d
end

function Debug:map()
   local m = rawget(self.dev, "regmap") or self.dev.regmap
   if not m then return nil end
   if getmetatable(m) ~= regmap.Map then
      local ok, built = pcall(regmap.new, m)
      if not ok then return nil end
      rawset(self.dev, "regmap", built)
      m = built
   end
   return m
end

local function num(s)
   local n = tonumber(s)
   if n and n >= 0 and n % 1 == 0 then return n end
end

--- A watch target: REG, REG.FIELD, BAR:OFF[+LEN], cfg[:OFF[+LEN]], all.
--- Returns { bar, first, last, label, reg } (bar nil: any), or nil, err.
function Debug:target(text)
   text = text and text:match("^%s*(.-)%s*$") or ""
   if text == "" then return nil, "what? a register, BAR:OFFSET[+LENGTH], cfg[:OFFSET[+LENGTH]] or all" end
   if text == "all" then return { label = "all accesses" } end
   local b, rest = text:match("^(%w+):(.+)$")
   if not b and text == "cfg" then return { bar = "cfg", first = 0, last = 4096, label = "cfg" } end
   if b then
      local barno = b == "cfg" and "cfg" or num(b)
      if barno == nil or (barno ~= "cfg" and barno > 5) then
         return nil, ("'%s': BAR 0..5 or cfg expected before ':'"):format(b)
      end
      local off, len = rest:match("^([%wx]+)%+([%wx]+)$")
      local first, last
      if off then
         first, len = num(off), num(len)
         if first and len then last = first + len end
      else
         local lo, hi = rest:match("^([%wx]+)%-([%wx]+)$")
         if lo then first, last = num(lo), num(hi) else first = num(rest); last = first and first + 1 end
      end
      if not first or not last or last <= first then
         return nil, ("'%s': OFFSET, OFFSET+LENGTH or FIRST-END expected"):format(rest)
      end
      return { bar = barno, first = first, last = last, label = text }
   end
   local m = self:map()
   if not m then return nil, ("'%s': this device has no register map (dev.regmap); use BAR:OFFSET"):format(text) end
   local reg, why = m:resolve(text)
   if not reg then return nil, why end
   return { bar = reg.bar, first = reg.offset, last = reg.offset + reg.width, label = reg.name, reg = reg }
end

local function hits(t, a)
   if t.bar == nil then return true end
   if t.bar ~= a.bar then return false end
   return a.offset < t.last and a.offset + a.width > t.first
end

-- Everything a tap callback does runs protected: an error there must never end
-- the device's loop. It goes to the session concerned instead.
local function protected(session, what, fn, ...)
   local ok, err = pcall(fn, ...)
   if not ok and session then session:notify(("%s failed: %s"):format(what, tostring(err))) end
   return ok, err
end

function Debug:before(a)
   if self.paused then return nil end
   for _, b in ipairs({ unpack(self.breaks) }) do
      local ok, hit = protected(b.session, ("break %d"):format(b.id), b.test, a)
      if not ok then
         self:remove_break(nil, b.id)
      elseif hit then
         self:pause(b, a)
         break
      end
   end
   return nil
end

function Debug:after(a)
   if #self.watches == 0 then return end
   local m = self:map()
   for _, w in ipairs(self.watches) do
      if hits(w.target, a) then
         protected(w.session, "watch", function()
            w.session:notify(("[watch %d] %s"):format(w.id, show.access(a, m)))
         end)
      end
   end
end

-- Set or remove the tap to match whether anything is watched.
function Debug:sync()
   local need = #self.watches > 0 or #self.breaks > 0
   if need and not self.tap then
      self.tap = self.dev:tap(function(_, a) return self:before(a) end,
         function(_, a) self:after(a) end)
   elseif not need and self.tap then
      self.dev:untap(self.tap)
      self.tap = nil
   end
end

function Debug:add_session(s) self.sessions[s] = true end

--- A session goes away: its watches and breaks go, a pause it caused ends.
function Debug:drop_session(s)
   self.sessions[s] = nil
   for i = #self.watches, 1, -1 do
      if self.watches[i].session == s then table.remove(self.watches, i) end
   end
   for i = #self.breaks, 1, -1 do
      if self.breaks[i].session == s then table.remove(self.breaks, i) end
   end
   if self.paused and self.paused.brk.session == s then self.paused = nil end
   self:sync()
end

function Debug:watch(session, text)
   local t, err = self:target(text)
   if not t then return nil, err end
   local w = { id = self.next_id, session = session, target = t }
   self.next_id = self.next_id + 1
   self.watches[#self.watches + 1] = w
   self:sync()
   return w.id, t.label
end

-- Remove entries of `list` with id `id` ("all": those of `session`).
local function remove(list, session, id)
   local n = 0
   for i = #list, 1, -1 do
      local x = list[i]
      if (id == "all" and (session == nil or x.session == session)) or x.id == id then
         table.remove(list, i)
         n = n + 1
      end
   end
   return n
end

function Debug:unwatch(session, id)
   local n = remove(self.watches, session, id)
   self:sync()
   return n
end

function Debug:remove_break(session, id)
   local n = remove(self.breaks, session, id)
   self:sync()
   return n
end

--- Compile a break condition into test(a) -> bool:
---   REG.FIELD A->B   a write moves the field from A to B
---   REG.FIELD == V   a write leaves the field at V
---   REG.FIELD        a write changes the field
---   REG | BAR:OFF..  any access to it
---   anything else    a Lua expression of `a` (the access) and `dev`
function Debug:condition(text, env)
   text = text:match("^%s*(.-)%s*$")
   if text == "" then return nil, "break needs a condition (see help break)" end
   local m = self:map()
   local name, from, to = text:match("^([%w_]+%.[%w_]+)%s+(%d%w*)%s*%->%s*(%d%w*)$")
   local eq_name, eq_v
   if not name then eq_name, eq_v = text:match("^([%w_]+%.[%w_]+)%s*==%s*(%d%w*)$") end
   local field_name = name or eq_name or (text:match("^[%w_]+%.[%w_]+$") and text)
   if field_name and m and m:resolve(field_name) then
      local reg, f = m:resolve(field_name)
      if not f then return nil, ("'%s' is a register, not a field"):format(field_name) end
      local A, B, V = num(from or ""), num(to or ""), num(eq_v or "")
      if (name and (not A or not B)) or (eq_name and not V) then
         return nil, ("'%s': values must be numbers"):format(text)
      end
      local cur = regmap.read(self.dev, reg)
      local prev = cur and regmap.field_value(f, cur) or 0
      return function(a)
         if a.kind ~= "write" or a.bar ~= reg.bar or a.offset ~= reg.offset then return false end
         local new = regmap.field_value(f, a.value)
         local old = prev
         prev = new
         if name then return old == A and new == B end
         if eq_name then return new == V end
         return old ~= new
      end, ("%s write: %s"):format(reg.name, text)
   end
   local t = self:target(text)
   if t and (t.reg or t.bar ~= nil) then
      return function(a) return hits(t, a) end, t.label
   end
   local chunk, err = load("local a, dev = ...; return " .. text, "=break", "t", env)
   if not chunk then return nil, ("'%s': not a register condition, and as Lua: %s"):format(text, err) end
   local dev = self.dev
   return function(a) return chunk(a, dev) and true or false end, text
end

function Debug:add_break(session, text, env)
   local test, label = self:condition(text, env)
   if not test then return nil, label end
   local b = { id = self.next_id, session = session, test = test, label = label, text = text }
   self.next_id = self.next_id + 1
   self.breaks[#self.breaks + 1] = b
   self:sync()
   return b.id, label
end

function Debug:notify_all(text)
   for s in pairs(self.sessions) do pcall(s.notify, s, text) end
end

--- Inside the tap: hold this access until `continue`, serving only the
--- control fds. A termination signal ends the pause (run() then returns it).
function Debug:pause(b, a)
   self.paused = { brk = b, access = a }
   self:notify_all(("[break %d] %s -- %s\n  the device is paused (this access waits; "
      .. "sync reads keep their deadline); `continue` resumes")
      :format(b.id, b.label, show.access(a, self:map())))
   while self.paused do
      local n, why, sig = self.dev:serve_fds(250)
      if n == nil then
         if why == "signal" and sig == SIGINT and M.on_sigint and M.on_sigint() then
            -- Ctrl-C at the terminal REPL cancelled its line: the pause goes
            -- on, and run() must not see the signal (events.lua keeps it there)
            rawset(self.dev, "_signal", nil)
         else
            self.paused = nil
            break
         end
      end
   end
end

--- Resume a paused device. Returns false when it was not paused.
function Debug:continue()
   if not self.paused then return false end
   self.paused = nil
   return true
end

--- Watches and breaks, for `watch` and `break` without arguments.
function Debug:list()
   local out = {}
   for _, w in ipairs(self.watches) do
      out[#out + 1] = ("watch %d: %s (session %s)"):format(w.id, w.target.label, tostring(w.session.id))
   end
   for _, b in ipairs(self.breaks) do
      out[#out + 1] = ("break %d: %s (session %s)"):format(b.id, b.label, tostring(b.session.id))
   end
   if self.paused then
      out[#out + 1] = ("paused at break %d"):format(self.paused.brk.id)
   end
   if #out == 0 then return "no watches or breaks" end
   return table.concat(out, "\n")
end

return M
