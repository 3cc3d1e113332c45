-- SPDX-License-Identifier: MIT
-- Per-device wrappers of dev:irq and the dev:dma_* methods, shared by the fault
-- injector and the tracer. Installed as instance fields only while one of them
-- needs them, so a device with neither pays nothing.
local ffi = require("ffi")
local bit = require("bit")

local M = {}

-- The consumers: "fault" may change what happens (a verdict), "trace" observes.
--   fault.irq(dev, n) -> nil | "drop" | extra raises (a number)
--   fault.dma(dev, ev) -> nil | { drop = true } | { error = true } | { flip = spec }
--      ev = { dir = "read"|"write", addr =, len =, segs = list or nil, sg = bool }
--   trace.irq(dev, n, ok) ; trace.dma(dev, dir, addr, len)
local WRAPPED = {
   "irq", "dma_read", "dma_read_into", "dma_write", "dma_readv", "dma_writev",
   "dma_read8", "dma_read16", "dma_read32", "dma_read64",
   "dma_write8", "dma_write16", "dma_write32", "dma_write64",
}

local u8p = ffi.typeof("uint8_t *")
local scratch = ffi.new("uint64_t[1]")

--- XOR `spec.mask` into `spec.count` bytes from `spec.offset` of the `len`
--- bytes at `p` (bytes past the end are left alone).
function M.flip_bytes(p, len, spec)
   p = ffi.cast(u8p, p)
   local last = math.min(spec.offset + spec.count, len)
   for i = spec.offset, last - 1 do
      p[i] = bit.bxor(p[i], spec.mask)
   end
end

local function flipped_string(s, len, spec)
   local buf = ffi.new("uint8_t[?]", len)
   ffi.copy(buf, s, len)
   M.flip_bytes(buf, len, spec)
   return ffi.string(buf, len)
end

local function flipped_copy(src, len, spec)
   local buf = ffi.new("uint8_t[?]", len)
   ffi.copy(buf, src, len)
   M.flip_bytes(buf, len, spec)
   return buf
end

local function seg_total(list)
   local total = 0
   if type(list) == "table" then
      for i = 1, #list do
         local s = list[i]
         if type(s) == "table" and type(s[2]) == "number" then total = total + s[2] end
      end
   end
   return total
end

local INJECTED = "DMA error injected by a fault plan"

-- The wrappers, built against the class methods `base` (the metatable's).
local function make(base)
   local w = {}

   function w.irq(self, n)
      local h = self._hooks
      local extra = 0
      if h.fault then
         local v = h.fault.irq(self, n)
         if v == "drop" then return true end
         if type(v) == "number" then extra = v end
      end
      local ok, err = base.irq(self, n)
      if h.trace then h.trace.irq(self, n, ok) end
      for _ = 1, extra do
         base.irq(self, n)
         if h.trace then h.trace.irq(self, n, ok) end
      end
      return ok, err
   end

   -- Ask the fault side about a transfer; returns its verdict (or nil).
   local function verdict(self, ev)
      local f = self._hooks.fault
      if f then return f.dma(self, ev) end
   end

   local function traced(self, dir, addr, len)
      local t = self._hooks.trace
      if t then t.dma(self, dir, addr, len) end
   end

   function w.dma_read(self, addr, len)
      local v = verdict(self, { dir = "read", addr = addr, len = len })
      if v and v.error then return nil, INJECTED, 0 end
      local s, err, done = base.dma_read(self, addr, len)
      if s and v and v.flip then s = flipped_string(s, len, v.flip) end
      traced(self, "read", addr, len)
      return s, err, done
   end

   function w.dma_read_into(self, addr, dst, len)
      local v = verdict(self, { dir = "read", addr = addr, len = len })
      if v and v.error then return nil, INJECTED, 0 end
      local ok, err, done = base.dma_read_into(self, addr, dst, len)
      if ok and v and v.flip then M.flip_bytes(dst, len, v.flip) end
      traced(self, "read", addr, len)
      return ok, err, done
   end

   function w.dma_write(self, addr, data, len)
      local n = len or (type(data) == "string" and #data) or 0
      local v = verdict(self, { dir = "write", addr = addr, len = n })
      if v then
         if v.error then return nil, INJECTED, 0 end
         if v.drop then traced(self, "write", addr, n) return true end
         if v.flip and n > 0 then
            if type(data) == "string" then
               data = flipped_string(data, n, v.flip)
            else
               data = flipped_copy(data, n, v.flip)
            end
         end
      end
      local ok, err, done = base.dma_write(self, addr, data, len)
      traced(self, "write", addr, n)
      return ok, err, done
   end

   function w.dma_readv(self, list, buf)
      local addr = type(list) == "table" and type(list[1]) == "table" and list[1][1] or 0
      local total = seg_total(list)
      local v = verdict(self, { dir = "read", addr = addr, len = total, segs = list, sg = true })
      if v and v.error then return nil, INJECTED, 0 end
      local got, err, done = base.dma_readv(self, list, buf)
      if got and v and v.flip then M.flip_bytes(buf, got, v.flip) end
      traced(self, "read", addr, total)
      return got, err, done
   end

   function w.dma_writev(self, list, buf)
      local addr = type(list) == "table" and type(list[1]) == "table" and list[1][1] or 0
      local total = seg_total(list)
      local v = verdict(self, { dir = "write", addr = addr, len = total, segs = list, sg = true })
      if v then
         if v.error then return nil, INJECTED, 0 end
         if v.drop then traced(self, "write", addr, total) return total end
         if v.flip and total > 0 then buf = flipped_copy(buf, total, v.flip) end
      end
      local got, err, done = base.dma_writev(self, list, buf)
      traced(self, "write", addr, total)
      return got, err, done
   end

   for _, bits in ipairs({ 8, 16, 32, 64 }) do
      local bytes = bits / 8
      local ptr_t = ffi.typeof(("uint%d_t *"):format(bits))
      local rname, wname = "dma_read" .. bits, "dma_write" .. bits
      w[rname] = function(self, addr)
         local v = verdict(self, { dir = "read", addr = addr, len = bytes })
         if v and v.error then return nil, INJECTED, 0 end
         local val, err, done = base[rname](self, addr)
         if val ~= nil and v and v.flip then
            local p = ffi.cast(ptr_t, scratch)
            p[0] = val
            M.flip_bytes(scratch, bytes, v.flip)
            val = p[0]
            if bits < 64 then val = tonumber(val) end
         end
         traced(self, "read", addr, bytes)
         return val, err, done
      end
      w[wname] = function(self, addr, val)
         local v = verdict(self, { dir = "write", addr = addr, len = bytes })
         if v then
            if v.error then return nil, INJECTED, 0 end
            if v.drop then traced(self, "write", addr, bytes) return true end
            if v.flip then
               local p = ffi.cast(ptr_t, scratch)
               p[0] = val
               M.flip_bytes(scratch, bytes, v.flip)
               val = p[0]
            end
         end
         local ok, err, done = base[wname](self, addr, val)
         traced(self, "write", addr, bytes)
         return ok, err, done
      end
   end
   return w
end

local wrappers_of = setmetatable({}, { __mode = "k" })	-- class table -> wrappers

--- Set (h a table) or clear (h nil) the consumer `slot` ("fault" or "trace")
--- of `dev`; the wrappers exist while any slot is set.
function M.set(dev, slot, h)
   if slot ~= "fault" and slot ~= "trace" then
      error("hooks.set: slot must be 'fault' or 'trace'", 2)
   end
   local hooks = rawget(dev, "_hooks")
   if h then
      if not hooks then
         local class = getmetatable(dev).__index
         local w = wrappers_of[class]
         if not w then
            w = make(class)
            wrappers_of[class] = w
         end
         hooks = {}
         dev._hooks = hooks
         for _, name in ipairs(WRAPPED) do rawset(dev, name, w[name]) end
      end
      hooks[slot] = h
      return
   end
   if not hooks then return end
   hooks[slot] = nil
   if not hooks.fault and not hooks.trace then
      for _, name in ipairs(WRAPPED) do rawset(dev, name, nil) end
      dev._hooks = nil
   end
end

return M
