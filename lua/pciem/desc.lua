-- SPDX-License-Identifier: MIT
-- Device descriptions: field names, types and value domains are checked here
-- (with the field path in every message); layout rules come from the dry run
-- through the shared C config space engine (pciem.dryrun).
local bit = require("bit")

local M = {}

local MAX_NAME = 31

local function fail(path, fmt, ...)
   error({ path = path, msg = fmt:format(...) }, 0)
end

local function edit_distance(a, b)
   local prev = {}
   for j = 0, #b do prev[j] = j end
   for i = 1, #a do
      local cur = { [0] = i }
      for j = 1, #b do
         local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
         cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      end
      prev = cur
   end
   return prev[#b]
end

local function sorted_keys(t)
   local keys = {}
   for k in pairs(t) do keys[#keys + 1] = k end
   table.sort(keys)
   return keys
end
M.sorted_keys = sorted_keys	-- the keys of a table, sorted (error messages list them)

--- The closest known name to a misspelt one, or nil when nothing is close.
function M.suggest(name, known)
   local best, best_d
   for _, k in ipairs(known) do
      local d = edit_distance(name:lower(), k:lower())
      if not best_d or d < best_d then best, best_d = k, d end
   end
   if best and best_d <= math.max(2, math.floor(#name / 3)) then
      return best
   end
end

-- Reject keys the schema does not know, suggesting the closest one.
-- `positional` is how many array slots the table may have (caps: 1).
local function check_keys(t, fields, path, positional)
   local known = sorted_keys(fields)
   for k in pairs(t) do
      if type(k) == "number" then
         if not (positional and k >= 1 and k <= positional and k == math.floor(k)) then
            fail(path, "unexpected positional value [%s]", tostring(k))
         end
      elseif type(k) ~= "string" then
         fail(path, "unexpected key of type %s", type(k))
      elseif not fields[k] then
         local near = M.suggest(k, known)
         if near then
            fail(path .. "." .. k, "unknown field (did you mean '%s'?)", near)
         end
         fail(path .. "." .. k, "unknown field (known: %s)", table.concat(known, ", "))
      end
   end
end

local function describe(v)
   if type(v) == "string" then return ("'%s'"):format(v) end
   return ("%s (%s)"):format(tostring(v), type(v))
end

local function integer(v, path, lo, hi)
   if type(v) ~= "number" or v ~= math.floor(v) then
      fail(path, "expected an integer, got %s", describe(v))
   end
   if v < lo or v > hi then
      fail(path, "%s is out of range %s..0x%x", tostring(v), tostring(lo), hi)
   end
   return v
end

local function boolean(v, path)
   if type(v) ~= "boolean" then
      fail(path, "expected true or false, got %s", describe(v))
   end
   return v
end

local function str(v, path)
   if type(v) ~= "string" then
      fail(path, "expected a string, got %s", describe(v))
   end
   return v
end

local function tbl(v, path)
   if type(v) ~= "table" then
      fail(path, "expected a table, got %s", describe(v))
   end
   return v
end

local units = { [""] = 1, k = 2^10, m = 2^20, g = 2^30, t = 2^40 }

--- A byte count: a number, or a string like "4K", "64 KiB", "1M", "16G".
function M.parse_size(v, path)
   if type(v) == "number" then
      return integer(v, path, 0, 2^53)
   end
   if type(v) ~= "string" then
      fail(path, "expected a size (number or string like \"4K\"), got %s", describe(v))
   end
   local n, unit = v:match("^%s*(%d+)%s*([kKmMgGtT]?)i?[bB]?%s*$")
   if not n then
      n = v:match("^%s*(0[xX]%x+)%s*$")
      unit = ""
   end
   if not n then
      fail(path, "'%s' is not a size (use a number, or a string like \"4K\", \"1M\", \"2G\")", v)
   end
   return tonumber(n) * units[unit:lower()]
end

-- Field schemas: a checker per name, called as check(value, path, entry).
local U8, U16, U32 = 0xff, 0xffff, 0xffffffff

local function opt(check, default)
   return function(v, path)
      if v == nil then return default end
      return check(v, path)
   end
end

local function req(check)
   return function(v, path)
      if v == nil then fail(path, "is required") end
      return check(v, path)
   end
end

local function int(hi)
   return function(v, path) return integer(v, path, 0, hi) end
end

local function enum(names)
   return function(v, path)
      if names[v] == nil then
         local list = sorted_keys(names)
         for i, n in ipairs(list) do list[i] = tostring(n) end
         fail(path, "%s is not one of %s", describe(v), table.concat(list, ", "))
      end
      return names[v]
   end
end

local pin_values = { A = 1, B = 2, C = 3, D = 4, none = 0 }
local port_values = { endpoint = 0x0, legacy_endpoint = 0x1, rc_endpoint = 0x9 }
local payload_values = { [128] = 0, [256] = 1, [512] = 2, [1024] = 3, [2048] = 4, [4096] = 5 }
local speed_values = { [2.5] = 1, [5] = 2, [8] = 3, [16] = 4, [32] = 5 }
local pme_bits = { D0 = 0, D1 = 1, D2 = 2, D3hot = 3, D3cold = 4 }

local function pme_list(v, path)
   tbl(v, path)
   local mask = 0
   for k, state in pairs(v) do
      if type(k) ~= "number" then
         fail(path, "expected a list of power states, found key '%s'", tostring(k))
      end
      local shift = pme_bits[state]
      if not shift then
         fail(("%s[%d]"):format(path, k), "%s is not a power state (D0, D1, D2, D3hot, D3cold)",
            describe(state))
      end
      mask = bit.bor(mask, bit.lshift(1, shift))
   end
   return mask
end

local function region(v, path)
   tbl(v, path)
   check_keys(v, { bar = true, offset = true }, path)
   return {
      bar = opt(int(U8), 0)(v.bar, path .. ".bar"),
      offset = req(int(U32))(v.offset, path .. ".offset"),
   }
end

local top_fields = {
   name = opt(str),
   vendor = req(int(U16)),
   device = req(int(U16)),
   subsystem_vendor = opt(int(U16), 0),
   subsystem = opt(int(U16), 0),
   revision = opt(int(U8), 0),
   class = opt(int(0xffffff), 0xff0000),
   interrupt_pin = function(v, path)
      if v == nil or v == false then return 0 end
      return enum(pin_values)(v, path)
   end,
   bars = opt(tbl, {}),
   caps = opt(tbl, {}),
   ring_entries = function(v, path)
      if v == nil then return 0 end
      integer(v, path, 64, 65536)
      if bit.band(v, v - 1) ~= 0 then fail(path, "%d is not a power of two", v) end
      return v
   end,
   sync_timeout_ms = function(v, path)
      if v == nil then return 0 end
      if type(v) ~= "number" or v < 0.001 or v > 10000 then
         fail(path, "%s is not a deadline in milliseconds, 0.001..10000", describe(v))
      end
      return v
   end,
}

M.policy_names = { memory = 0, posted = 1, sync = 2 }

-- bars[i].policy = { {offset, length, "memory"|"posted"|"sync"}, ... }
local function policy_list(v, path, b)
   if v == nil then return {} end
   tbl(v, path)
   local size = b and type(b.size) ~= "nil" and select(2, pcall(M.parse_size, b.size, path))
   local out = {}
   for k, r in pairs(v) do
      local rpath = ("%s[%s]"):format(path, tostring(k))
      if type(k) ~= "number" then
         fail(path, "expected a list of {offset, length, policy}, found key '%s'", tostring(k))
      end
      tbl(r, rpath)
      local off = integer(r[1], rpath .. "[1] (offset)", 0, 2 ^ 52)
      local len = integer(r[2], rpath .. "[2] (length)", 4, 2 ^ 52)
      if off % 4 ~= 0 or len % 4 ~= 0 then
         fail(rpath, "offset 0x%x and length 0x%x must be multiples of 4", off, len)
      end
      if type(size) == "number" and off + len > size then
         fail(rpath, "0x%x+0x%x runs past the end of the BAR (0x%x bytes)", off, len, size)
      end
      local pol = M.policy_names[r[3]]
      if pol == nil then
         fail(rpath .. "[3] (policy)", "%s is not one of memory, posted, sync", describe(r[3]))
      end
      out[#out + 1] = { offset = off, length = len, policy = pol, name = r[3] }
   end
   table.sort(out, function(a, b2) return a.offset < b2.offset end)
   return out
end

local bar_fields = {
   size = req(M.parse_size),
   bits = opt(enum({ [32] = 32, [64] = 64 }), 32),
   prefetchable = opt(boolean, false),
   policy = policy_list,
}

local offset_field = opt(int(0xfff), 0)

local cap_fields = {
   pcie = {
      port = opt(enum(port_values), 0),
      max_payload = opt(enum(payload_values), 0),
      link_speed = opt(enum(speed_values), 0),
      link_width = opt(int(U8), 0),
      offset = offset_field,
   },
   pm = {
      d1 = opt(boolean, false),
      d2 = opt(boolean, false),
      pme = opt(pme_list, 0),
      offset = offset_field,
   },
   msi = {
      vectors = opt(int(U16), 1),
      addr64 = opt(boolean, true),
      per_vector_mask = opt(boolean, false),
      offset = offset_field,
   },
   msix = {
      vectors = req(int(U16)),
      table = req(region),
      pba = req(region),
      offset = offset_field,
   },
   vendor = {
      data = opt(str, ""),
      offset = offset_field,
   },
   ext = {
      id = req(int(U16)),
      version = opt(int(U8), 1),
      data = opt(str, ""),
      offset = offset_field,
   },
}
M.cap_kinds = sorted_keys(cap_fields)

-- Apply a schema to t: every known field checked, unknown ones refused.
local function apply(t, fields, path, positional)
   check_keys(t, fields, path, positional)
   local out = {}
   -- sorted, so that of several mistakes the same one is always reported
   for _, name in ipairs(sorted_keys(fields)) do
      out[name] = fields[name](t[name], path .. "." .. name, t)
   end
   return out
end

local function check_bars(bars)
   local out = {}
   for k, b in pairs(bars) do
      if type(k) ~= "number" or k ~= math.floor(k) or k < 0 or k > 5 then
         fail("bars", "key %s is not a BAR index 0..5 (write bars = { [0] = {...} })",
            type(k) == "number" and tostring(k) or describe(k))
      end
      local path = ("bars[%d]"):format(k)
      if b ~= false then
         local bar = apply(tbl(b, path), bar_fields, path)
         bar.index = k
         out[k] = bar
      end
   end
   return out
end

local function check_caps(caps)
   local out = {}
   for k in pairs(caps) do
      if type(k) ~= "number" or k < 1 or k > #caps or k ~= math.floor(k) then
         fail("caps", "must be a list { {\"kind\", ...}, ... }, found key %s", describe(k))
      end
   end
   for i, c in ipairs(caps) do
      local path = ("caps[%d]"):format(i)
      tbl(c, path)
      local kind = c[1]
      if type(kind) ~= "string" then
         fail(path, "the first value must be the capability kind (%s), got %s",
            table.concat(M.cap_kinds, ", "), describe(kind))
      end
      local fields = cap_fields[kind]
      if not fields then
         local near = M.suggest(kind, M.cap_kinds)
         fail(path, "unknown capability kind '%s'%s (known: %s)", kind,
            near and (" (did you mean '" .. near .. "'?)") or "", table.concat(M.cap_kinds, ", "))
      end
      path = ("caps[%d] (%s)"):format(i, kind)
      local cap = apply(c, fields, path, 1)
      cap.kind = kind
      cap.path = path
      out[i] = cap
   end
   return out
end

--- Check a description table; returns the normalised description or raises
--- {path=, msg=}. `default_name` is used when the description has no name.
function M.check(t, default_name)
   if type(t) ~= "table" then
      fail("device", "expected a description table, got %s", describe(t))
   end
   local d = apply(t, top_fields, "device")
   -- messages for top-level fields read better without the "device." prefix
   d.name = d.name or default_name or "pciem"
   if #d.name == 0 or #d.name > MAX_NAME then
      fail("name", "'%s' must be 1..%d characters", d.name, MAX_NAME)
   end
   d.bars = check_bars(d.bars)
   d.caps = check_caps(d.caps)
   return d
end

--- Turn a {path=, msg=} failure into one line.
function M.format_error(e)
   if type(e) == "table" and e.path then
      local path = e.path:gsub("^device%.", "")
      return path .. ": " .. e.msg
   end
   return tostring(e)
end

return M
