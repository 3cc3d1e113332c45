-- SPDX-License-Identifier: MIT
-- How the REPL shows things: values (tables, numbers in hex, register views),
-- hex dumps, counters, and the NVMe model's queues decoded.
local regmap = require("pciem.regmap")

local M = {}

local function is_int(v)
   return type(v) == "number" and v % 1 == 0 and v >= -2^53 and v <= 2^53
end

local function key_text(k)
   if type(k) == "string" and k:match("^[%a_][%w_]*$") then return k end
   return "[" .. (type(k) == "string" and ("%q"):format(k) or tostring(k)) .. "]"
end

local function scalar(v)
   if type(v) == "string" then return ("%q"):format(v) end
   if is_int(v) and v >= 10 then return ("%d (0x%x)"):format(v, v) end
   return tostring(v)
end

local function sorted_keys(t)
   local keys = {}
   for k in pairs(t) do keys[#keys + 1] = k end
   table.sort(keys, function(a, b)
      if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
      return type(a) < type(b)
   end)
   return keys
end

--- A value as the REPL prints it: register views decoded, tables one level
--- deep (nested tables shown as {...}), integers also in hex.
function M.value(v, depth)
   depth = depth or 0
   if regmap.is_view(v) then return tostring(v) end
   if type(v) ~= "table" or (getmetatable(v) and getmetatable(v).__tostring) then
      return scalar(v)
   end
   if depth > 0 then return "{...}" end
   local keys = sorted_keys(v)
   if #keys == 0 then return "{}" end
   local parts = {}
   for i, k in ipairs(keys) do
      if i > 64 then
         parts[#parts + 1] = ("  ... %d more"):format(#keys - 64)
         break
      end
      parts[#parts + 1] = ("  %s = %s"):format(key_text(k), M.value(v[k], depth + 1))
   end
   return "{\n" .. table.concat(parts, "\n") .. "\n}"
end

--- A hex dump of string `s` whose first byte is at address `base`.
function M.hexdump(s, base)
   local out = {}
   for row = 0, #s - 1, 16 do
      local chunk = s:sub(row + 1, row + 16)
      local hex = chunk:gsub(".", function(c) return ("%02x "):format(c:byte()) end)
      local text = chunk:gsub("[^%g ]", ".")
      out[#out + 1] = ("%012x  %-48s |%s|"):format(base + row, hex, text)
   end
   return table.concat(out, "\n")
end

-- Counter names an FFI struct may have (the NVMe model's nvme_fp_stats and
-- similar): those it has are shown; LuaJIT cannot list a struct's fields.
local STRUCT_NAMES = { "commands", "doorbells", "shadow_tails", "native_cmds",
   "native_doorbells", "deferred", "idle_calls", "irqs", "irq_calls", "sqe_dmas", "sqes",
   "data_dmas", "data_bytes", "prp_dmas", "cqe_dmas", "cqes", "shadow_dmas" }

local function struct_fields(cd)
   local t = {}
   for _, name in ipairs(STRUCT_NAMES) do
      local ok, v = pcall(function() return cd[name] end)
      if ok and v ~= nil then t[name] = tonumber(v) end
   end
   return t
end

--- "name value" lines for a table (or FFI struct) of counters, sorted by name.
function M.counters(title, t)
   if type(t) == "cdata" then t = struct_fields(t) end
   local out = { title }
   for _, k in ipairs(sorted_keys(t)) do
      local v = t[k]
      if type(v) == "cdata" then v = tonumber(v) end
      out[#out + 1] = ("  %-22s %s"):format(k, tostring(v))
   end
   return table.concat(out, "\n")
end

-- NVMe opcode names (NVMe 1.4 figures 139 and 346).
local ADMIN_OPS = {
   [0x00] = "Delete I/O SQ", [0x01] = "Create I/O SQ", [0x02] = "Get Log Page",
   [0x04] = "Delete I/O CQ", [0x05] = "Create I/O CQ", [0x06] = "Identify", [0x08] = "Abort",
   [0x09] = "Set Features", [0x0a] = "Get Features", [0x0c] = "Async Event Request",
   [0x0d] = "Namespace Management", [0x10] = "Firmware Commit", [0x11] = "Firmware Download",
   [0x14] = "Device Self-test", [0x15] = "Namespace Attachment", [0x18] = "Keep Alive",
   [0x7c] = "Doorbell Buffer Config", [0x80] = "Format NVM",
}
local IO_OPS = {
   [0x00] = "Flush", [0x01] = "Write", [0x02] = "Read", [0x04] = "Write Uncorrectable",
   [0x05] = "Compare", [0x08] = "Write Zeroes", [0x09] = "Dataset Management",
}
M.ADMIN_OPS, M.IO_OPS = ADMIN_OPS, IO_OPS

local SHOW_PENDING = 8
local STALLED = { [1] = " (stalled: CQ full)", [2] = " (stalled: left to Lua's idle function)" }

-- The SQEs between head and tail (fetched from host memory), at most SHOW_PENDING.
local function pending_sqes(dev, qid, sq)
   local out = {}
   local n = (sq.tail - sq.head) % sq.size
   local idx = sq.head
   for i = 1, math.min(n, SHOW_PENDING) do
      local raw = dev:dma_read(sq.base + idx * 64, 16)
      if not raw then
         out[#out + 1] = "      (entries not readable)"
         break
      end
      local op, _, b3, b4 = raw:byte(1, 4)
      local nsid = raw:byte(5) + raw:byte(6) * 256 + raw:byte(7) * 65536 + raw:byte(8) * 16777216
      local cid = b3 + b4 * 256
      local name = (qid == 0 and ADMIN_OPS or IO_OPS)[op] or "?"
      out[#out + 1] = ("      slot %d: cid %d opcode 0x%02x %s%s"):format(idx, cid, op, name,
         qid ~= 0 and (" nsid %d"):format(nsid) or "")
      idx = (idx + 1) % sq.size
      if i == SHOW_PENDING and n > SHOW_PENDING then
         out[#out + 1] = ("      ... %d more"):format(n - SHOW_PENDING)
      end
   end
   return out, n
end

--- The NVMe model's queues (devices/nvme.lua: dev.nvme.ctrl), decoded.
function M.nvme_queues(dev)
   local c = dev.nvme and dev.nvme.ctrl
   if not c or not c.sq then return nil, "this device has no NVMe queues (dev.nvme.ctrl)" end
   local ready = c.ready
   if ready == nil and c.st then ready = c.st.ready == 1 end
   local out = { ("controller: %s, %s, page %d"):format(c.enabled and "enabled" or "disabled",
      ready and "ready" or "not ready", c.page or 0) }
   local any = false
   for q = 0, c.maxq do
      local cq = c.cq[q]
      if cq.valid == 1 then
         any = true
         local used = (cq.tail - cq.head) % cq.size
         out[#out + 1] = ("CQ %-3d base 0x%x size %d  head %d tail %d phase %d  vector %d%s  "
            .. "%d posted, not consumed  %d SQ(s)"):format(q, tonumber(cq.base), cq.size, cq.head,
            cq.tail, cq.phase, cq.iv, cq.ien == 1 and "" or " (no interrupts)", used, cq.sqs)
      end
   end
   for q = 0, c.maxq do
      local sq = c.sq[q]
      if sq.valid == 1 then
         any = true
         local lines, n = pending_sqes(dev, q, sq)
         out[#out + 1] = ("SQ %-3d base 0x%x size %d  head %d tail %d  -> CQ %d  %d pending%s")
            :format(q, tonumber(sq.base), sq.size, sq.head, sq.tail, sq.cqid, n,
               STALLED[sq.stalled] or "")
         for _, l in ipairs(lines) do out[#out + 1] = l end
      end
   end
   if not any then out[#out + 1] = "no queues (the controller is not enabled)" end
   if c.aers and #c.aers > 0 then
      out[#out + 1] = ("held: %d Async Event Request(s), cid %s"):format(#c.aers,
         table.concat(c.aers, " "))
   end
   if c.dbbuf then
      out[#out + 1] = ("shadow doorbells at 0x%x, EventIdx at 0x%x"):format(
         tonumber(c.dbbuf.shadow), tonumber(c.dbbuf.eventidx))
   end
   return table.concat(out, "\n")
end

--- "write bar0+0x14 (CC) = 0x00460001 EN=1 ..." for a tap's access record.
function M.access(a, map)
   local where
   if a.bar == "cfg" then
      where = ("cfg+0x%x"):format(a.offset)
   else
      where = ("bar%d+0x%x"):format(a.bar, a.offset)
   end
   local reg = map and a.bar ~= "cfg" and map:at(a.bar, a.offset) or nil
   local value = a.value
   local s = ("#%s %s%s %s"):format(tostring(a.seq), a.kind, a.sync and "(sync)" or "", where)
   if reg then
      s = s .. (reg.offset == a.offset and (" (%s)"):format(reg.name)
         or (" (%s+%d)"):format(reg.name, a.offset - reg.offset))
   end
   if value == nil then return s end
   local n = type(value) == "number" and value or tonumber(value)
   s = s .. (a.kind == "read" and " -> " or " = ") .. regmap.hex(n, a.width)
   if reg and reg.offset == a.offset and a.width == math.min(reg.width, 4) and #reg.fields > 0
      and reg.width <= 4 then
      s = s .. "  " .. regmap.fields_text(reg, n)
   end
   return s
end

return M
