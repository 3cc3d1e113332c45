-- SPDX-License-Identifier: MIT
-- Shared bits of the specs: a valid base description to vary, error capture,
-- and the paths the spec tier passes in the environment.
local M = {}

M.top = os.getenv("PCIEM_TOP") or "."
M.bin = os.getenv("PCIEM_BIN") or (M.top .. "/build/pciem-lua")

--- `n` bytes of test data, different for each seed.
function M.pattern(n, seed)
   local t = {}
   for i = 1, n do t[i] = string.char((i * 7 + seed * 13) % 251) end
   return table.concat(t)
end

--- A deep copy of a table.
function M.copy(t)
   if type(t) ~= "table" then return t end
   local c = {}
   for k, v in pairs(t) do c[k] = M.copy(v) end
   return c
end

--- A valid description; `change(d)` may edit it before use.
function M.desc(change)
   local d = {
      name = "spec",
      vendor = 0x1234, device = 0xbeef, subsystem_vendor = 0x1234, subsystem = 0x0001,
      revision = 1, class = 0xff0000, interrupt_pin = "A",
      bars = { [0] = { size = 4096 }, [2] = { size = "1M", bits = 64, prefetchable = true } },
      caps = {
         { "pcie", port = "endpoint", max_payload = 256 },
         { "pm", d1 = true, pme = { "D0", "D3hot" } },
         { "msi", vectors = 4, addr64 = true, per_vector_mask = true },
         { "msix", vectors = 4, table = { bar = 0, offset = 0x800 }, pba = { bar = 0, offset = 0xc00 } },
         { "vendor", data = "\1\2\3\4" },
         { "ext", id = 0x000b, version = 1, data = ("\0"):rep(8), offset = 0x100 },
      },
   }
   if change then change(d) end
   return d
end

--- The message pciem.device raises for a description, or nil if it passes.
function M.device_error(d)
   local pciem = require("pciem")
   local ok, err = pcall(pciem.device, d)
   if ok then return nil end
   return tostring(err)
end

--- A started sim device for a description (base one by default).
function M.sim(d)
   local pciem = require("pciem")
   local dev = pciem.device(d or M.desc())
   assert(dev:start("sim"))
   return dev
end

--- Run a shell command; returns exit status, stdout, stderr.
function M.run(cmd)
   local out, errf = os.tmpname(), os.tmpname()
   local ok, how, code = os.execute(("(%s\n) >%s 2>%s"):format(cmd, out, errf))
   -- LuaJIT without 5.2 compat returns the raw wait status
   local status = type(ok) == "number" and math.floor(ok / 256) or (how == "exit" and code or 128)
   local function slurp(p)
      local f = io.open(p, "r")
      local s = f:read("*a")
      f:close()
      os.remove(p)
      return s
   end
   return status, slurp(out), slurp(errf)
end

--- Write a script file and return its path.
function M.script(text)
   local path = os.tmpname() .. ".lua"
   local f = assert(io.open(path, "w"))
   f:write(text)
   f:close()
   return path
end

return M
