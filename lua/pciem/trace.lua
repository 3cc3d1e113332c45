-- SPDX-License-Identifier: MIT
-- Access tracing: config writes, MMIO, DMA, interrupts and injected faults of a
-- running device as JSON lines (one object per event), and the per-register
-- summary `pciem-lua trace-summary FILE` prints. Nothing is hooked while off.
local ffi = require("ffi")
local hooks = require("pciem.faults.hooks")

local M = {}

pcall(ffi.cdef, [[
struct timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk_id, struct timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local ts = ffi.new("struct timespec[1]")

--- Monotonic time in nanoseconds (a Lua number).
function M.now_ns()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
   return tonumber(ts[0].tv_sec) * 1e9 + tonumber(ts[0].tv_nsec)
end

-- ---- JSON lines ----

local function json_string(s)
   s = s:gsub('[%c"\\]', function(ch)
      if ch == '"' then return '\\"' end
      if ch == "\\" then return "\\\\" end
      if ch == "\n" then return "\\n" end
      return ("\\u%04x"):format(ch:byte())
   end)
   return '"' .. s .. '"'
end

local function json_value(v)
   local t = type(v)
   if t == "number" then
      if v == math.floor(v) and v > -2 ^ 63 and v < 2 ^ 63 then return ("%d"):format(v) end
      return ("%.17g"):format(v)
   elseif t == "cdata" then
      return (tostring(v):gsub("U?LL$", ""))
   elseif t == "boolean" then
      return tostring(v)
   end
   return json_string(tostring(v))
end

-- Keys in the order every line uses; other keys follow, sorted.
local ORDER = { "seq", "t", "kind", "bar", "offset", "width", "value", "len", "addr",
   "vector", "name" }
local ORDERED = {}
for _, k in ipairs(ORDER) do ORDERED[k] = true end

--- One record as a JSON object on one line (no newline).
function M.encode(rec)
   local parts = {}
   for _, k in ipairs(ORDER) do
      local v = rec[k]
      if v ~= nil then parts[#parts + 1] = '"' .. k .. '":' .. json_value(v) end
   end
   local extra
   for k in pairs(rec) do
      if not ORDERED[k] then
         extra = extra or {}
         extra[#extra + 1] = k
      end
   end
   if extra then
      table.sort(extra)
      for _, k in ipairs(extra) do
         parts[#parts + 1] = json_string(tostring(k)) .. ":" .. json_value(rec[k])
      end
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

-- ---- register names from dev.regmap ----

-- dev.regmap: a list of registers (or a table with .registers), each with
-- name, offset, optional bar (0) and width (4); or a module with
-- lookup(bar, offset) / find(bar, offset) returning a name or a register.
local function name_index(regmap)
   if type(regmap) ~= "table" then return nil end
   local list = regmap.registers or regmap.regs or regmap
   local idx = {}
   local function add(r)
      if type(r) == "table" and type(r.name) == "string" and type(r.offset) == "number" then
         local bar = type(r.bar) == "number" and r.bar or 0
         local width = type(r.width) == "number" and r.width or 4
         for b = 0, width - 1 do
            local key = bar * 2 ^ 32 + r.offset + b
            if not idx[key] then idx[key] = r.name end
         end
      end
   end
   for _, r in ipairs(list) do add(r) end
   for k, r in pairs(list) do
      if type(k) == "string" and type(r) == "table" and r.name == nil and type(r.offset) == "number" then
         add({ name = k, offset = r.offset, bar = r.bar, width = r.width })
      end
   end
   return idx
end

local function resolver(dev)
   local rm = rawget(dev, "regmap")
   if type(rm) ~= "table" then return function() return nil end end
   local fn = rm.lookup or rm.find
   if type(fn) == "function" then
      return function(bar, off)
         local ok, r = pcall(fn, bar, off)
         if not ok then return nil end
         if type(r) == "table" then return r.name end
         if type(r) == "string" then return r end
      end
   end
   local ok, map = pcall(function() return require("pciem.regmap").of(rm) end)
   if ok and type(map) == "table" and type(map.list) == "table" then
      local idx = {}
      for _, r in ipairs(map.list) do
         for b = 0, (r.width or 4) - 1 do
            local key = (r.bar or 0) * 2 ^ 32 + r.offset + b
            if not idx[key] then idx[key] = r.name end
         end
      end
      return function(bar, off) return idx[bar * 2 ^ 32 + off] end
   end
   local idx = name_index(rm) or {}
   return function(bar, off) return idx[bar * 2 ^ 32 + off] end
end

-- ---- start / stop ----

local KIND = { read = "mmio_read", write = "mmio_write", cfg = "cfg" }

local function write_rec(tr, rec)
   rec.t = M.now_ns()
   tr.file:write(M.encode(rec), "\n")
   tr.count = tr.count + 1
end

--- Record `rec` (a table) in the trace of `dev`, if one is on: faults use
--- it with kind = "fault". Adds t; seq defaults to dev.seq.
function M.record(dev, rec)
   local tr = rawget(dev, "_trace")
   if not tr then return end
   if rec.seq == nil then rec.seq = rawget(dev, "seq") end
   write_rec(tr, rec)
end

--- Trace every config write, MMIO access the host sees, DMA and interrupt
--- of `dev` into file `path` as JSON lines. Returns true or nil, err.
function M.start(dev, path)
   if type(dev) ~= "table" or type(dev.desc) ~= "table" then
      error("trace.start: a device expected", 2)
   end
   if type(path) ~= "string" or path == "" then
      error("trace.start: a file path expected", 2)
   end
   local old = rawget(dev, "_trace")
   if old then return nil, ("already tracing to %s (trace.stop first)"):format(old.path) end
   local f, err = io.open(path, "w")
   if not f then return nil, ("trace: %s"):format(err) end
   local tr = { file = f, path = path, count = 0, name = resolver(dev) }
   if type(dev.tap) == "function" then
      local function after(d, a)
         local rec = { seq = a.seq, kind = KIND[a.kind] or a.kind, offset = a.offset,
            width = a.width, value = a.value }
         if a.bar ~= "cfg" and a.kind ~= "cfg" then
            rec.bar = a.bar
            rec.name = tr.name(a.bar, a.offset)
         end
         write_rec(tr, rec)
      end
      local ok, h = pcall(dev.tap, dev, nil, after)
      if not ok or h == nil then
         f:close()
         os.remove(path)
         return nil, ("trace: dev:tap failed: %s"):format(tostring(h))
      end
      tr.tap = h
   else
      io.stderr:write("trace: this event loop has no dev:tap; MMIO and config accesses are not traced\n")
   end
   hooks.set(dev, "trace", {
      irq = function(d, n) write_rec(tr, { seq = rawget(d, "seq"), kind = "irq", vector = n }) end,
      dma = function(d, dir, addr, len)
         write_rec(tr, { seq = rawget(d, "seq"), kind = dir == "read" and "dma_read" or "dma_write",
            addr = addr, len = len })
      end,
   })
   dev._trace = tr
   -- An NVMe model's native fast path would do DMA and interrupts out of sight.
   local c = type(dev.nvme) == "table" and dev.nvme.ctrl
   if c then
      require("pciem.faults.nvme").hold_lua(c, "trace", true)
      tr.nvme = c
   end
   return true
end

--- Stop tracing `dev` and close its file. Returns the number of records, or
--- nil when no trace was on.
function M.stop(dev)
   local tr = rawget(dev, "_trace")
   if not tr then return nil end
   if tr.tap and type(dev.untap) == "function" then dev:untap(tr.tap) end
   hooks.set(dev, "trace", nil)
   if tr.nvme then require("pciem.faults.nvme").hold_lua(tr.nvme, "trace", false) end
   dev._trace = nil
   tr.file:close()
   return tr.count
end

--- The trace file `path` of `dev`, when tracing.
function M.path(dev)
   local tr = rawget(dev, "_trace")
   return tr and tr.path
end

-- ---- summary ----

--- Parse one line this module wrote: a flat object of numbers, strings and
--- booleans. Returns a table, or nil for anything else.
function M.decode(line)
   if not line:match("^%s*{.*}%s*$") then return nil end
   local rec, pos = {}, line:find("{") + 1
   while true do
      local k, after = line:match('^%s*"([^"]*)"%s*:%s*()', pos)
      if not k then break end
      local v, nxt
      if line:sub(after, after) == '"' then
         local i, buf = after + 1, {}
         while i <= #line do
            local ch = line:sub(i, i)
            if ch == '"' then break end
            if ch == "\\" then
               local e = line:sub(i + 1, i + 1)
               if e == "u" then
                  buf[#buf + 1] = string.char(tonumber(line:sub(i + 2, i + 5), 16) % 256)
                  i = i + 6
               else
                  buf[#buf + 1] = e == "n" and "\n" or e
                  i = i + 2
               end
            else
               buf[#buf + 1] = ch
               i = i + 1
            end
         end
         v, nxt = table.concat(buf), i + 1
      else
         local tok
         tok, nxt = line:match("^([^,}%s]+)()", after)
         if not tok then return nil end
         if tok == "true" then v = true
         elseif tok == "false" then v = false
         elseif tok == "null" then v = nil
         else
            v = tonumber(tok)
            if v == nil then return nil end
         end
      end
      rec[k] = v
      local sep
      sep, pos = line:match("^%s*([,}])()", nxt)
      if sep ~= "," then break end
   end
   return rec
end

local KINDS = { "cfg", "mmio_read", "mmio_write", "dma_read", "dma_write", "irq", "fault" }

--- Counts of the trace at `path`: { records =, bad =, kinds = {kind = n},
--- regs = { {bar =, offset =, name =, reads =, writes =}, ... } sorted,
--- faults = { {name =, count =}, ... }, vectors = {n = count}, first_t, last_t }.
function M.counts(path)
   local f, err = io.open(path, "r")
   if not f then return nil, ("trace-summary: %s"):format(err) end
   local c = { records = 0, bad = 0, kinds = {}, vectors = {} }
   local regs, faults = {}, {}
   for line in f:lines() do
      local r = M.decode(line)
      if not r or type(r.kind) ~= "string" then
         if line:match("%S") then c.bad = c.bad + 1 end
      else
         c.records = c.records + 1
         c.kinds[r.kind] = (c.kinds[r.kind] or 0) + 1
         if type(r.t) == "number" then
            c.first_t = c.first_t or r.t
            c.last_t = r.t
         end
         if (r.kind == "mmio_read" or r.kind == "mmio_write" or r.kind == "cfg")
            and type(r.offset) == "number" then
            local bar = r.kind == "cfg" and "cfg" or (r.bar or 0)
            local key = tostring(bar) .. ":" .. (r.name or ("%x"):format(r.offset))
            local e = regs[key]
            if not e then
               e = { bar = bar, offset = r.offset, name = r.name, reads = 0, writes = 0 }
               regs[key] = e
            end
            if r.offset < e.offset then e.offset = r.offset end
            if r.kind == "mmio_read" then e.reads = e.reads + 1 else e.writes = e.writes + 1 end
         elseif r.kind == "irq" and type(r.vector) == "number" then
            c.vectors[r.vector] = (c.vectors[r.vector] or 0) + 1
         elseif r.kind == "fault" then
            local name = tostring(r.name or "?")
            faults[name] = (faults[name] or 0) + 1
         end
      end
   end
   f:close()
   local list = {}
   for _, e in pairs(regs) do list[#list + 1] = e end
   table.sort(list, function(a, b)
      local ka, kb = a.bar == "cfg" and -1 or a.bar, b.bar == "cfg" and -1 or b.bar
      if ka ~= kb then return ka < kb end
      return a.offset < b.offset
   end)
   c.regs = list
   local fl = {}
   for name, n in pairs(faults) do fl[#fl + 1] = { name = name, count = n } end
   table.sort(fl, function(a, b) return a.name < b.name end)
   c.faults = fl
   return c
end

--- Print the per-register counts (reads, writes) and totals per kind of the
--- trace at `path` to `out` (a file handle or a path; default stdout).
--- Returns true or nil, err.
function M.summary(path, out)
   local c, err = M.counts(path)
   if not c then return nil, err end
   local close = false
   if out == nil then
      out = io.stdout
   elseif type(out) == "string" then
      local f, oerr = io.open(out, "w")
      if not f then return nil, ("trace-summary: %s"):format(oerr) end
      out, close = f, true
   end
   local w = function(fmt, ...) out:write(fmt:format(...), "\n") end
   local span = c.first_t and c.last_t and (c.last_t - c.first_t) / 1e6 or 0
   w("%s: %d records over %.3f ms%s", path, c.records, span,
      c.bad > 0 and (", %d lines not understood"):format(c.bad) or "")
   w("")
   w("%-12s %10s", "kind", "count")
   for _, k in ipairs(KINDS) do w("%-12s %10d", k, c.kinds[k] or 0) end
   for k, n in pairs(c.kinds) do
      local known = false
      for _, kk in ipairs(KINDS) do known = known or kk == k end
      if not known then w("%-12s %10d", k, n) end
   end
   if #c.regs > 0 then
      w("")
      w("%-6s %-8s %-20s %10s %10s", "bar", "offset", "register", "reads", "writes")
      for _, e in ipairs(c.regs) do
         w("%-6s 0x%04x   %-20s %10d %10d", tostring(e.bar), e.offset, e.name or "-",
            e.reads, e.writes)
      end
   end
   local vecs = {}
   for v in pairs(c.vectors) do vecs[#vecs + 1] = v end
   if #vecs > 0 then
      table.sort(vecs)
      w("")
      w("%-12s %10s", "irq vector", "count")
      for _, v in ipairs(vecs) do w("%-12d %10d", v, c.vectors[v]) end
   end
   if #c.faults > 0 then
      w("")
      w("%-30s %10s", "fault", "fired")
      for _, e in ipairs(c.faults) do w("%-30s %10d", e.name, e.count) end
   end
   if close then out:close() else out:flush() end
   return true
end

return M
