-- SPDX-License-Identifier: MIT
-- `reload`: run the device script again while the device stays bound, and swap
-- its handlers in one step. The description is not re-applied; state a script
-- wants to keep lives in keep() tables. Any error keeps the old handlers.
local M = {}

-- keep() tables, per script path and key, for the life of the process.
local kept = {}
local current_script

--- In a device script: `local state = require("pciem.repl.reload").keep("state",
--- function() return { count = 0 } end)` returns the same table on every run
--- of the script in this process (the first run makes it with init()).
function M.keep(key, init)
   local script = current_script or "?"
   kept[script] = kept[script] or {}
   local t = kept[script][key]
   if t == nil then
      if type(init) == "function" then t = init() else t = init end
      if t == nil then t = {} end
      kept[script][key] = t
   end
   return t
end

--- Run a device script the first time (pciem-lua does this for its script),
--- so keep() knows which script is asking. Same results as pciem.load.
function M.load(path, ...)
   local pciem = require("pciem")
   -- no pcall: an error keeps its traceback for pciem-lua -v (and ends it)
   current_script = path
   local results = { pciem.load(path, ...) }
   current_script = nil
   local dev = results[1]
   if pciem.is_device(dev) then
      -- what belongs to the script, for the next reload to replace
      local idle = rawget(dev, "_idle") or {}
      rawset(dev, "_script_idle", { unpack(idle) })
   end
   return unpack(results, 1, table.maxn(results))
end

local RECORDED = { "on_read", "on_write", "on_cfg_write", "on_start", "on_idle", "load_native" }

-- The script's new handlers, recorded instead of installed.
local function recorder(dev, staged)
   local rec = {}
   function rec.on_read(_, bar, where, fn, fallback)
      staged.routes[#staged.routes + 1] = { "on_read", bar, where, fn, fallback }
      return true
   end
   function rec.on_write(_, bar, where, fn, fallback)
      staged.routes[#staged.routes + 1] = { "on_write", bar, where, fn, fallback }
      return true
   end
   function rec.on_cfg_write(_, where, fn)
      if fn == nil and type(where) == "function" then where, fn = { 0, 4096 }, where end
      staged.routes[#staged.routes + 1] = { "on_write", "cfg", where, fn }
      return true
   end
   function rec.on_start(_, fn) staged.on_start = fn end
   function rec.on_idle(_, fn)
      staged.idle[#staged.idle + 1] = fn
      return fn
   end
   function rec.load_native(d, path, args)
      for _, lib in ipairs(rawget(d, "_natives") or {}) do
         if lib.path == path then return lib end
      end
      return getmetatable(dev).__index.load_native(d, path, args)
   end
   return rec
end

-- The device's current Lua-visible routes, as on_read/on_write calls.
local function current_routes(dev)
   local list = {}
   for _, r in pairs(dev._routes) do
      list[#list + 1] = { r.access == 0 and "on_read" or "on_write", r.bar,
         { r.first, r.last - r.first }, r.fn, r.fallback }
   end
   return list
end

local function install_all(dev, routes)
   local D = getmetatable(dev).__index
   for _, r in ipairs(routes) do
      local ok, err = D[r[1]](dev, r[2], r[3], r[4], r[5])
      if not ok then return nil, err end
   end
   return true
end

local function clear_all(dev, routes)
   local D = getmetatable(dev).__index
   for _, r in ipairs(routes) do D[r[1]](dev, r[2], r[3], nil) end
end

--- Reload `script` (with `args`) into the running `dev`. Returns true and a
--- summary, or nil and why (the old handlers stay in place).
function M.reload(dev, script, args)
   local pciem = require("pciem")
   if dev.state ~= "started" then return nil, "reload: the device is not started" end
   local chunk, err = loadfile(script)
   if not chunk then return nil, ("reload: %s; the old handlers stay"):format(err) end
   local staged = { routes = {}, idle = {} }
   local rec = recorder(dev, staged)
   local D = getmetatable(dev).__index
   -- instance fields the script set last time (wrapped methods like a
   -- custom stop) are hidden so the new run wraps the originals again
   local saved = {}
   for k, v in pairs(dev) do
      if type(k) == "string" and type(v) == "function" and D[k] then saved[k] = v end
   end
   for k in pairs(saved) do rawset(dev, k, nil) end
   for _, name in ipairs(RECORDED) do rawset(dev, name, rec[name]) end
   local real_device = pciem.device
   pciem.device = function() return dev end
   current_script = script
   local ok, result = pcall(chunk, unpack(args or {}))
   current_script = nil
   pciem.device = real_device
   for _, name in ipairs(RECORDED) do rawset(dev, name, nil) end
   local function undo()
      for k, v in pairs(saved) do
         if rawget(dev, k) == nil then rawset(dev, k, v) end
      end
   end
   if not ok then
      undo()
      return nil, ("reload: %s; the old handlers stay"):format(tostring(result))
   end
   if result ~= dev then
      undo()
      return nil, ("reload: %s returned %s, not its device; the old handlers stay")
         :format(script, type(result))
   end
   -- swap: every old route out, every new one in; on failure put the old back
   local old = current_routes(dev)
   clear_all(dev, old)
   local done, install_err = install_all(dev, staged.routes)
   if not done then
      clear_all(dev, staged.routes)
      install_all(dev, old)
      undo()
      return nil, ("reload: %s; the old handlers stay"):format(tostring(install_err))
   end
   for _, fn in ipairs(rawget(dev, "_script_idle") or {}) do dev:off_idle(fn) end
   for _, fn in ipairs(staged.idle) do D.on_idle(dev, fn) end
   rawset(dev, "_script_idle", staged.idle)
   if staged.on_start then D.on_start(dev, staged.on_start) end
   return true, ("reloaded %s: %d handlers (was %d)"):format(script, #staged.routes, #old)
end

return M
