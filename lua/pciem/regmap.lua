-- SPDX-License-Identifier: MIT
-- Register maps as data (name, bar, offset, width, fields with bit ranges and
-- value names): lookup by name or address, field decode, and the register
-- views the REPL shows (`CSTS` prints RDY, CFS, SHST ...).
local bit = require("bit")
local ffi = require("ffi")
local band, rshift, lshift, bor, bnot = bit.band, bit.rshift, bit.lshift, bit.bor, bit.bnot

local M = {}

--[[ The format (see docs/repl.md):
   return {
      name = "nvme", bar = 0,                -- bar: default for every register
      registers = {
         { name = "CSTS", offset = 0x1c, width = 4, section = "3.1.6",
           title = "Controller Status",
           fields = {
              { name = "RDY", bits = 0 },               -- one bit
              { name = "SHST", bits = { 2, 3 },         -- lo, hi (inclusive)
                values = { [0] = "normal", [1] = "occurring", [2] = "complete" } },
           } },
      },
   }
]]

local Map = {}
Map.__index = Map
M.Map = Map

local function bad(path, msg)
   error(("regmap: %s: %s"):format(path, msg), 3)
end

local function check_field(f, path, width)
   if type(f) ~= "table" then bad(path, "a table expected, got " .. type(f)) end
   if type(f.name) ~= "string" or not f.name:match("^[%a_][%w_]*$") then
      bad(path .. ".name", "an identifier expected, got " .. tostring(f.name))
   end
   local lo, hi
   if type(f.bits) == "number" then
      lo, hi = f.bits, f.bits
   elseif type(f.bits) == "table" then
      lo, hi = f.bits[1], f.bits[2]
   end
   if type(lo) ~= "number" or type(hi) ~= "number" or lo % 1 ~= 0 or hi % 1 ~= 0
      or lo < 0 or hi < lo or hi >= width * 8 then
      bad(path .. ".bits", ("a bit number or {lo, hi} inside %d bits expected"):format(width * 8))
   end
   if f.values ~= nil and type(f.values) ~= "table" then
      bad(path .. ".values", "a table of value = name expected")
   end
   return { name = f.name, lo = lo, hi = hi, values = f.values, title = f.title }
end

--- Check a register map (the format above) and index it. Raises
--- "regmap: registers[3].fields[2].bits: ..." for a malformed one.
function M.new(spec)
   if type(spec) ~= "table" or type(spec.registers) ~= "table" then
      error("regmap: a table with a `registers` list expected", 2)
   end
   local self = setmetatable({ name = spec.name or "regs", list = {}, by_name = {} }, Map)
   for i, r in ipairs(spec.registers) do
      local path = ("registers[%d]"):format(i)
      if type(r) ~= "table" then bad(path, "a table expected") end
      if type(r.name) ~= "string" or not r.name:match("^[%a_][%w_]*$") then
         bad(path .. ".name", "an identifier expected, got " .. tostring(r.name))
      end
      path = path .. " (" .. r.name .. ")"
      if self.by_name[r.name] then bad(path .. ".name", "defined twice") end
      local width = r.width or 4
      if width ~= 1 and width ~= 2 and width ~= 4 and width ~= 8 then
         bad(path .. ".width", "1, 2, 4 or 8 expected, got " .. tostring(width))
      end
      local barno = r.bar or spec.bar or 0
      if type(barno) ~= "number" or barno < 0 or barno > 5 then
         bad(path .. ".bar", "0..5 expected, got " .. tostring(barno))
      end
      if type(r.offset) ~= "number" or r.offset < 0 or r.offset % width ~= 0 then
         bad(path .. ".offset", ("a %d-byte aligned offset expected, got %s")
            :format(width, tostring(r.offset)))
      end
      local reg = { name = r.name, bar = barno, offset = r.offset, width = width,
         section = r.section, title = r.title, quiet = r.quiet and true or false,
         fields = {}, field = {} }
      for k, f in ipairs(r.fields or {}) do
         local fd = check_field(f, ("%s.fields[%d]"):format(path, k), width)
         if reg.field[fd.name] then bad(("%s.fields[%d].name"):format(path, k), "defined twice") end
         reg.fields[k] = fd
         reg.field[fd.name] = fd
      end
      self.list[#self.list + 1] = reg
      self.by_name[r.name] = reg
   end
   return self
end

--- A map from a module table or an already built map.
function M.of(v)
   if getmetatable(v) == Map then return v end
   return M.new(v)
end

--- The register called `name` (exact, then case-insensitive), or nil.
function Map:find(name)
   local r = self.by_name[name]
   if r or type(name) ~= "string" then return r end
   local up = name:upper()
   for _, reg in ipairs(self.list) do
      if reg.name:upper() == up then return reg end
   end
end

--- The register containing byte `offset` of BAR `bar`, or nil.
function Map:at(barno, offset)
   for _, r in ipairs(self.list) do
      if r.bar == barno and offset >= r.offset and offset < r.offset + r.width then return r end
   end
end

--- Every register name, and every REG.FIELD, for completion.
function Map:names()
   local out = {}
   for _, r in ipairs(self.list) do
      out[#out + 1] = r.name
      for _, f in ipairs(r.fields) do out[#out + 1] = r.name .. "." .. f.name end
   end
   return out
end

-- Register values are Lua numbers; a 64-bit one that a double cannot hold
-- exactly (2^53 and above) is a uint64_t cdata.
local function make64(lo, hi)
   if hi < 2^21 then return lo + hi * 2^32 end
   return ffi.new("uint64_t", hi) * 0x100000000ULL + lo
end
M.make64 = make64

local function halves(value)
   if type(value) == "cdata" then
      local lo = tonumber(bit.band(value, 0xffffffffULL))
      local hi = tonumber(bit.rshift(value, 32))
      return lo, hi
   end
   local hi = math.floor(value / 2^32)
   return value - hi * 2^32, hi
end

local function bits_of(word, lo, hi)
   local n = hi - lo + 1
   local v = rshift(word, lo)
   if n < 32 then v = band(v, lshift(1, n) - 1) end
   if v < 0 then v = v + 2^32 end
   return v
end

--- The value of field `f` (from reg.fields) in register value `value`.
function M.field_value(f, value)
   local lo32, hi32 = halves(value)
   if f.hi < 32 then return bits_of(lo32, f.lo, f.hi) end
   if f.lo >= 32 then return bits_of(hi32, f.lo - 32, f.hi - 32) end
   -- spans both halves (64-bit address fields)
   local low = bits_of(lo32, f.lo, 31)
   return low + bits_of(hi32, 0, f.hi - 32) * 2^(32 - f.lo)
end

--- `value` with field `f` replaced by `v` (registers up to 32 bits; 64-bit
--- ones per half).
function M.with_field(f, value, v)
   local lo32, hi32 = halves(value)
   local function put(word, lo, hi, x)
      local n = hi - lo + 1
      local mask = n >= 32 and 0xffffffff or lshift(lshift(1, n) - 1, lo)
      local r = bor(band(word, bnot(mask)), band(lshift(x, lo), mask))
      if r < 0 then r = r + 2^32 end
      return r
   end
   if f.hi < 32 then
      lo32 = put(lo32, f.lo, f.hi, v)
   elseif f.lo >= 32 then
      hi32 = put(hi32, f.lo - 32, f.hi - 32, v)
   else
      lo32 = put(lo32, f.lo, 31, v % 2^(32 - f.lo))
      hi32 = put(hi32, 0, f.hi - 32, math.floor(v / 2^(32 - f.lo)))
   end
   return make64(lo32, hi32)
end

--- The current value of `reg` in the device's BAR shadow (what a memory or
--- posted read by the driver returns).
function M.read(dev, reg)
   local b = dev.bar and dev.bar[reg.bar]
   if not b then return nil, ("BAR %d of %s is not mapped"):format(reg.bar, reg.name) end
   local o = reg.offset
   if reg.width == 8 then
      return make64(b.u32[o / 4], b.u32[o / 4 + 1])
   elseif reg.width == 4 then
      return b.u32[o / 4]
   elseif reg.width == 2 then
      return b.u16[o / 2]
   end
   return b.u8[o]
end

--- Write `value` into the shadow of `reg` (device side; no handler runs).
function M.write(dev, reg, value)
   local b = dev.bar and dev.bar[reg.bar]
   if not b then return nil, ("BAR %d of %s is not mapped"):format(reg.bar, reg.name) end
   local o = reg.offset
   if reg.width == 8 then
      local lo, hi = halves(value)
      b.u32[o / 4], b.u32[o / 4 + 1] = lo, hi
   elseif reg.width == 4 then
      b.u32[o / 4] = value
   elseif reg.width == 2 then
      b.u16[o / 2] = value
   else
      b.u8[o] = value
   end
   return true
end

local function hex(value, width)
   if width == 8 then
      local lo, hi = halves(value)
      return ("0x%08x%08x"):format(hi, lo)
   end
   return ("0x%0" .. (width * 2) .. "x"):format(value)
end
M.hex = hex

--- "RDY=1 CFS=0 SHST=2(complete)" for a value of `reg`.
function M.fields_text(reg, value)
   local parts = {}
   for _, f in ipairs(reg.fields) do
      local v = M.field_value(f, value)
      local s = f.hi - f.lo >= 8 and ("0x%x"):format(v) or tostring(v)
      local name = f.values and f.values[v]
      parts[#parts + 1] = f.name .. "=" .. s .. (name and ("(" .. name .. ")") or "")
   end
   return table.concat(parts, " ")
end

--- One line: "CSTS   bar0+0x1c = 0x00000001  RDY=1 CFS=0 ...  [3.1.6 Controller Status]".
function M.format(reg, value)
   local where = ("bar%d+0x%x"):format(reg.bar, reg.offset)
   local s = ("%-8s %-11s = %s"):format(reg.name, where, hex(value, reg.width))
   if #reg.fields > 0 then s = s .. "  " .. M.fields_text(reg, value) end
   if reg.section or reg.title then
      local label = reg.section and reg.title and (reg.section .. " " .. reg.title)
         or reg.section or reg.title
      s = s .. "  [" .. label .. "]"
   end
   return s
end

--- Resolve "REG" or "REG.FIELD" to the register and the field (or nil).
function Map:resolve(text)
   local rname, fname = text:match("^([%w_]+)%.([%w_]+)$")
   if not rname then rname = text end
   local reg = self:find(rname)
   if not reg then return nil, ("no register '%s' in the %s map"):format(rname, self.name) end
   if not fname then return reg end
   local f = reg.field[fname] or reg.field[fname:upper()]
   if not f then
      local names = {}
      for _, x in ipairs(reg.fields) do names[#names + 1] = x.name end
      return nil, ("%s has no field '%s' (fields: %s)"):format(reg.name, fname,
         #names > 0 and table.concat(names, " ") or "none")
   end
   return reg, f
end

---------------------------------------------------------------------------
-- Views: what the REPL's environment hands out for a register name.

local View = {}
M.View = View

local function view_value(v)
   return (M.read(rawget(v, "_dev"), rawget(v, "_reg")))
end

View.__index = function(v, k)
   local reg = rawget(v, "_reg")
   if k == "value" then return view_value(v) end
   if k == "reg" then return reg end
   local f = reg.field[k]
   if not f then
      error(("%s has no field '%s'"):format(reg.name, tostring(k)), 2)
   end
   return M.field_value(f, view_value(v))
end

View.__newindex = function(v, k, x)
   local reg, dev = rawget(v, "_reg"), rawget(v, "_dev")
   if type(x) ~= "number" then
      error(("%s.%s: a number expected, got %s"):format(reg.name, tostring(k), type(x)), 2)
   end
   if k == "value" then
      M.write(dev, reg, x)
      return
   end
   local f = reg.field[k]
   if not f then error(("%s has no field '%s'"):format(reg.name, tostring(k)), 2) end
   if x < 0 or x >= 2^(f.hi - f.lo + 1) or x % 1 ~= 0 then
      error(("%s.%s: %s does not fit in %d bits"):format(reg.name, k, tostring(x),
         f.hi - f.lo + 1), 2)
   end
   M.write(dev, reg, M.with_field(f, view_value(v), x))
end

View.__tostring = function(v)
   local reg = rawget(v, "_reg")
   local value, err = view_value(v)
   if not value then return reg.name .. ": " .. tostring(err) end
   return M.format(reg, value)
end

--- `CSTS` -> a view: tostring decodes, .RDY reads a field, .value the whole
--- register; assigning a field or .value writes the shadow.
function M.view(dev, reg)
   return setmetatable({ _dev = dev, _reg = reg }, View)
end

function M.is_view(v)
   return getmetatable(v) == View
end

--- Every register of the map decoded, one per line (those marked `quiet`,
--- e.g. doorbells, only when `filter` accepts them).
function Map:dump(dev, filter)
   local out = {}
   for _, r in ipairs(self.list) do
      if (filter and filter(r)) or (not filter and not r.quiet) then
         local v, err = M.read(dev, r)
         out[#out + 1] = v and M.format(r, v) or (r.name .. ": " .. err)
      end
   end
   return table.concat(out, "\n")
end

return M
