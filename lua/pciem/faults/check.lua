-- SPDX-License-Identifier: MIT
-- Checking fault plans: errors as { path =, msg = } (the field path, as
-- pciem.desc reports description errors), names suggested for typos.
local desc = require("pciem.desc")

local M = {}

local function fail(path, fmt, ...)
   error({ path = path, msg = fmt:format(...) }, 0)
end

local function describe(v)
   if type(v) == "string" then return ("'%s'"):format(v) end
   return ("%s (%s)"):format(tostring(v), type(v))
end

local sorted = desc.sorted_keys

--- Raise for a key of `t` not in `known` (a set), suggesting the closest.
local function check_keys(t, known, path, what)
   for k in pairs(t) do
      if type(k) ~= "string" then
         fail(path, "unexpected %s key %s", what or "", describe(k))
      elseif not known[k] then
         local names = sorted(known)
         local near = desc.suggest(k, names)
         if near then fail(path .. "." .. k, "unknown %s (did you mean '%s'?)", what or "field", near) end
         fail(path .. "." .. k, "unknown %s (known: %s)", what or "field", table.concat(names, ", "))
      end
   end
end

local function integer(v, path, lo, hi)
   if type(v) ~= "number" or v ~= math.floor(v) then
      fail(path, "expected an integer, got %s", describe(v))
   end
   if v < lo or (hi and v > hi) then
      fail(path, "%s is out of range %d..%s", tostring(v), lo, hi and ("0x%x"):format(hi) or "")
   end
   return v
end

local function number(v, path, lo, hi)
   if type(v) ~= "number" or v ~= v then fail(path, "expected a number, got %s", describe(v)) end
   if v < lo or v > hi then fail(path, "%s is out of range %s..%s", tostring(v), lo, hi) end
   return v
end

local function tbl(v, path)
   if type(v) ~= "table" then fail(path, "expected a table, got %s", describe(v)) end
   return v
end

-- An offset or {offset, length} inside `size` bytes -> first, last (exclusive).
local function range(v, path, size)
   local first, len
   if type(v) == "number" then
      first, len = integer(v, path, 0, size - 1), 1
   elseif type(v) == "table" then
      if #v ~= 2 then fail(path, "expected an offset or {offset, length}") end
      first = integer(v[1], path .. "[1]", 0, size - 1)
      len = integer(v[2], path .. "[2]", 1, size)
      if first + len > size then
         fail(path, "0x%x+0x%x runs past the end (0x%x bytes)", first, len, size)
      end
   else
      fail(path, "expected an offset or {offset, length}, got %s", describe(v))
   end
   return first, first + len
end

local function one_of(v, path, set)
   if not set[v] then
      fail(path, "%s is not one of %s", describe(v), table.concat(sorted(set), ", "))
   end
   return v
end

M.fail = fail
M.describe = describe
M.sorted = sorted
M.check_keys = check_keys
M.integer = integer
M.number = number
M.tbl = tbl
M.range = range
M.one_of = one_of
M.suggest = desc.suggest

return M
