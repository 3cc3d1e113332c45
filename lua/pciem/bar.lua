-- SPDX-License-Identifier: MIT
-- A BAR as the device sees it: its shadow memory through FFI pointers of
-- each width, plus checked read/write helpers. Handlers live on the device
-- (dev:on_read/on_write), the shadow is what they and the driver share.
local ffi = require("ffi")

local Bar = {}
Bar.__index = Bar

local M = {}

--- A view of BAR `index` mapped at `ptr` (uint8_t *), `size` bytes long.
--- `info` carries the bus address and the description (bits, prefetchable).
function M.new(index, ptr, size, addr, bar_desc)
   return setmetatable({
      index = index,
      size = size,
      addr = addr,
      bits = bar_desc.bits,
      prefetchable = bar_desc.prefetchable,
      u8 = ptr,
      u16 = ffi.cast("uint16_t *", ptr),
      u32 = ffi.cast("uint32_t *", ptr),
      u64 = ffi.cast("uint64_t *", ptr),
   }, Bar)
end

local function check(self, off, width, level)
   if type(off) ~= "number" or off < 0 or off + width > self.size or off % width ~= 0 then
      error(("bar[%d]: offset %s is outside the BAR (0x%x bytes) or not %d-byte aligned")
         :format(self.index, tostring(off), self.size, width), level + 1)
   end
end

function Bar:read8(off) check(self, off, 1, 2) return self.u8[off] end
function Bar:read16(off) check(self, off, 2, 2) return self.u16[off / 2] end
function Bar:read32(off) check(self, off, 4, 2) return self.u32[off / 4] end
--- 64-bit reads return a uint64_t cdata (exact above 2^53).
function Bar:read64(off) check(self, off, 8, 2) return self.u64[off / 8] end
function Bar:write8(off, v) check(self, off, 1, 2) self.u8[off] = v end
function Bar:write16(off, v) check(self, off, 2, 2) self.u16[off / 2] = v end
function Bar:write32(off, v) check(self, off, 4, 2) self.u32[off / 4] = v end
function Bar:write64(off, v) check(self, off, 8, 2) self.u64[off / 8] = v end

--- Copy a Lua string into the BAR at `off`, or read `len` bytes as a string.
function Bar:write_bytes(off, s)
   check(self, off, 1, 2)
   if off + #s > self.size then
      error(("bar[%d]: %d bytes at 0x%x run past the end"):format(self.index, #s, off), 2)
   end
   ffi.copy(self.u8 + off, s, #s)
end

function Bar:read_bytes(off, len)
   check(self, off, 1, 2)
   if off + len > self.size then
      error(("bar[%d]: %d bytes at 0x%x run past the end"):format(self.index, len, off), 2)
   end
   return ffi.string(self.u8 + off, len)
end

function Bar:__tostring()
   return ("bar[%d] 0x%x bytes at 0x%x"):format(self.index, self.size, self.addr)
end

return M
