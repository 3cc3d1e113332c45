-- SPDX-License-Identifier: MIT
-- The pciem Lua library: describe a PCIe device as data, get a device object
-- that starts on the kernel or sim backend.
--    local pciem = require("pciem")
--    return pciem.device { name = "hello", vendor = 0x1234, device = 0xbeef, ... }
local desc = require("pciem.desc")
local plan = require("pciem.plan")
local device = require("pciem.device")

local pciem = {
   VERSION = "0.1.0",
   parse_size = function(v) return desc.parse_size(v, "size") end,
   is_device = device.is_device,
}

-- The script pciem.load() is running, to point messages at it when
-- `return pciem.device {...}` (a tail call) leaves no frame to ask.
local current_script
local this_source = debug.getinfo(1, "S").source

local function script_name(path)
   local base = path and path:match("([^/]+)$") or nil
   base = base and base:gsub("%.lua$", ""):gsub("[^%w_.-]", "_")
   return base ~= "" and base or nil
end

-- First line of `path` that looks like the device() call.
local function find_call_line(path)
   local f = io.open(path, "r")
   if not f then return nil end
   local n = 0
   for line in f:lines() do
      n = n + 1
      if line:find("device%s*[{(]") then
         f:close()
         return n
      end
   end
   f:close()
end

-- "file:line" of the code that called pciem.device.
local function caller_source()
   local info = debug.getinfo(3, "Sl")
   if info and info.currentline and info.currentline > 0 and info.source:sub(1, 1) == "@"
      and info.source ~= this_source then
      return info.short_src .. ":" .. info.currentline, info.source:sub(2)
   end
   if current_script then
      local line = find_call_line(current_script)
      return current_script .. (line and (":" .. line) or ""), current_script
   end
end

--- Describe a device (see docs/lua-api.md). Checks every field, then runs the
--- description through the C config space engine (the dry run); any problem
--- raises "file:line: field.path: message". Returns a device object, not
--- started yet: dev:start("kernel" | "sim").
function pciem.device(t)
   local source, file = caller_source()
   local ok, d = pcall(desc.check, t, script_name(file))
   local fail
   if ok then
      local p = plan.build(d)
      local dry_ok, dry_fail = plan.dry_run(p)
      if dry_ok then
         return device.new(d, p, source)
      end
      fail = dry_fail
   else
      fail = d
   end
   local msg = desc.format_error(fail)
   error(source and (source .. ": " .. msg) or msg, 0)
end

--- Load and run a device script with arguments (as `...`); returns what the
--- script returns. Errors propagate ("file:line: message").
function pciem.load(path, ...)
   local f, open_err = io.open(path, "r")
   if not f then error(open_err, 0) end
   f:close()
   local chunk, err = loadfile(path)
   if not chunk then error(err, 0) end
   -- no pcall here: an error keeps its traceback for pciem-lua -v
   current_script = path
   local results = { chunk(...) }
   current_script = nil
   return unpack(results, 1, table.maxn(results))
end

return pciem
