-- SPDX-License-Identifier: MIT
-- Fault matchers per kind of event (mmio, cfg, dma, irq, nvme): checking a
-- matcher table into its compiled form, and testing an event against it.
local bit = require("bit")
local ck = require("pciem.faults.check")
local nvme = require("pciem.faults.nvme")

local band = bit.band
local fail, describe, check_keys = ck.fail, ck.describe, ck.check_keys
local integer, tbl, range, one_of = ck.integer, ck.tbl, ck.range, ck.one_of

-- value = N (equal) or { mask = M, equals = V }.
local function value_cond(v, path)
   if type(v) == "number" then
      integer(v, path, 0, 2 ^ 64)
      return { eq = v }
   end
   tbl(v, path)
   check_keys(v, { mask = true, equals = true }, path)
   local mask = integer(v.mask == nil and 0xffffffff or v.mask, path .. ".mask", 0, 0xffffffff)
   local eq = integer(v.equals, path .. ".equals", 0, 0xffffffff)
   if band(eq, mask) ~= bit.tobit(eq) then fail(path .. ".equals", "has bits outside the mask") end
   return { mask = mask, equals = bit.tobit(eq) }
end

-- Matchers per kind: check(t, path, dev) -> sel ; match(sel, ev) -> bool.
local kinds = {}
local M = kinds

kinds.mmio = {
   fields = { bar = true, offset = true, access = true, width = true, value = true },
   check = function(t, path, dev)
      local s = {}
      if t.bar ~= nil then
         s.bar = integer(t.bar, path .. ".bar", 0, 5)
         if not dev.desc.bars[s.bar] then fail(path .. ".bar", "BAR %d is not described", s.bar) end
      end
      if t.offset ~= nil then
         local size = s.bar and dev.desc.bars[s.bar].size or 2 ^ 52
         if s.bar == nil then
            for i = 0, 5 do
               local b = dev.desc.bars[i]
               if b and b.size < size then size = b.size end
            end
         end
         s.first, s.last = range(t.offset, path .. ".offset", size)
      end
      if t.access ~= nil then
         s.access = one_of(t.access, path .. ".access", { read = true, write = true, any = true })
         if s.access == "any" then s.access = nil end
      end
      if t.width ~= nil then s.width = one_of(t.width, path .. ".width", { [1] = 1, [2] = 2, [4] = 4, [8] = 8 }) end
      if t.value ~= nil then
         if s.access == "read" then fail(path .. ".value", "a value condition applies to writes, not reads") end
         s.value = value_cond(t.value, path .. ".value")
         s.access = "write"
      end
      return s
   end,
}

kinds.cfg = {
   fields = { offset = true, width = true, value = true },
   check = function(t, path)
      local s = {}
      if t.offset ~= nil then s.first, s.last = range(t.offset, path .. ".offset", 4096) end
      if t.width ~= nil then s.width = one_of(t.width, path .. ".width", { [1] = 1, [2] = 2, [4] = 4 }) end
      if t.value ~= nil then s.value = value_cond(t.value, path .. ".value") end
      return s
   end,
}

kinds.dma = {
   fields = { dir = true, addr = true, len = true },
   check = function(t, path)
      local s = {}
      if t.dir ~= nil then
         s.dir = one_of(t.dir, path .. ".dir", { read = true, write = true, any = true })
         if s.dir == "any" then s.dir = nil end
      end
      if t.addr ~= nil then s.first, s.last = range(t.addr, path .. ".addr", 2 ^ 52) end
      if t.len ~= nil then
         if type(t.len) == "number" then
            s.len_lo = integer(t.len, path .. ".len", 1)
            s.len_hi = s.len_lo
         else
            tbl(t.len, path .. ".len")
            s.len_lo = integer(t.len[1], path .. ".len[1]", 1)
            s.len_hi = integer(t.len[2], path .. ".len[2]", s.len_lo)
         end
      end
      return s
   end,
}

kinds.irq = {
   fields = { vector = true },
   check = function(t, path)
      local s = {}
      if t.vector ~= nil then
         s.vectors = {}
         if type(t.vector) == "table" then
            if #t.vector == 0 then fail(path .. ".vector", "an empty list") end
            for i, v in ipairs(t.vector) do
               s.vectors[integer(v, ("%s.vector[%d]"):format(path, i), 0, 2047)] = true
            end
         else
            s.vectors[integer(t.vector, path .. ".vector", 0, 2047)] = true
         end
      end
      return s
   end,
}

kinds.nvme = {
   fields = nvme.match_fields,
   check = function(t, path, dev)
      if type(dev.nvme) ~= "table" or not dev.nvme.ctrl then
         fail(path, "the device has no NVMe controller (dev.nvme.ctrl)")
      end
      return nvme.check_match(t, path)
   end,
}

local function value_ok(c, v)
   if v == nil then return false end
   if c.eq then return v == c.eq end
   if type(v) == "cdata" then v = tonumber(band(v, 0xffffffff)) end
   return band(v, c.mask) == c.equals
end

local function overlaps(s, first, len)
   return s.first == nil or (first < s.last and first + len > s.first)
end

kinds.mmio.match = function(s, a)
   if a.kind == "cfg" then return false end
   if s.access and s.access ~= a.kind then return false end
   if s.bar and s.bar ~= a.bar then return false end
   if s.width and s.width ~= a.width then return false end
   if not overlaps(s, a.offset, a.width) then return false end
   if s.value and not value_ok(s.value, a.value) then return false end
   return true
end

kinds.cfg.match = function(s, a)
   if s.width and s.width ~= a.width then return false end
   if not overlaps(s, a.offset, a.width) then return false end
   if s.value and not value_ok(s.value, a.value) then return false end
   return true
end

kinds.dma.match = function(s, ev)
   if s.dir and s.dir ~= ev.dir then return false end
   if s.len_lo and (ev.len < s.len_lo or ev.len > s.len_hi) then return false end
   if s.first then
      if ev.segs then
         for _, seg in ipairs(ev.segs) do
            if overlaps(s, tonumber(seg[1]), seg[2]) then return true end
         end
         return false
      end
      return overlaps(s, tonumber(ev.addr), ev.len)
   end
   return true
end

kinds.irq.match = function(s, ev)
   return s.vectors == nil or s.vectors[ev.vector] == true
end

kinds.nvme.match = function(s, ev) return nvme.match(s, ev) end

--- Kinds with their detail text for logs: kinds.detail[kind](ev).
kinds.mmio.detail = function(a)
   return ("mmio_%s bar%d+0x%x/%d%s"):format(a.kind, a.bar, a.offset, a.width,
      a.value ~= nil and (" = 0x%x"):format(tonumber(a.value) or 0) or "")
end
kinds.cfg.detail = function(a) return ("cfg 0x%x/%d = 0x%x"):format(a.offset, a.width, tonumber(a.value) or 0) end
kinds.dma.detail = function(ev) return ("dma_%s 0x%x+%d"):format(ev.dir, tonumber(ev.addr) or 0, ev.len) end
kinds.irq.detail = function(ev) return ("irq %d"):format(ev.vector) end
kinds.nvme.detail = function(ev) return nvme.describe(ev) end

return M
