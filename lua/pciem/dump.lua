-- SPDX-License-Identifier: MIT
-- Decode a config space for humans: IDs, BARs, the capability chain and a hex
-- dump, read through any reader function(offset, width) -> value.
local bit = require("bit")
local band, rshift = bit.band, bit.rshift

local M = {}

local cap_names = {
   [0x01] = "Power Management", [0x05] = "MSI", [0x09] = "Vendor Specific",
   [0x10] = "PCI Express", [0x11] = "MSI-X",
}
local port_names = { [0x0] = "endpoint", [0x1] = "legacy endpoint", [0x9] = "RC integrated endpoint" }
local pme_names = { "D0", "D1", "D2", "D3hot", "D3cold" }

--- Walk the capability chains as the OS does: standard from 0x34 (when
--- Status says there is a list), extended from 0x100.
--- Returns { {id=, offset=, ext=bool, version=(ext only)}, ... }.
function M.walk(read)
   local caps, seen = {}, {}
   if band(read(0x06, 2), 0x10) ~= 0 then
      local ptr = band(read(0x34, 1), 0xfc)
      while ptr >= 0x40 and not seen[ptr] do
         seen[ptr] = true
         caps[#caps + 1] = { id = read(ptr, 1), offset = ptr, ext = false }
         ptr = band(read(ptr + 1, 1), 0xfc)
      end
   end
   local ptr = 0x100
   while ptr >= 0x100 and ptr < 0x1000 and not seen[ptr] do
      seen[ptr] = true
      local hdr = read(ptr, 4)
      if hdr == 0 or hdr == 0xffffffff then break end
      caps[#caps + 1] = { id = band(hdr, 0xffff), version = band(rshift(hdr, 16), 0xf),
         offset = ptr, ext = true }
      ptr = band(rshift(hdr, 20), 0xffc)
   end
   return caps
end

--- "4K", "1M", "16G" for a power-of-two size, else the byte count.
function M.size(n)
   for _, u in ipairs({ { 2^40, "T" }, { 2^30, "G" }, { 2^20, "M" }, { 2^10, "K" } }) do
      if n >= u[1] and n % u[1] == 0 then return ("%d%s"):format(n / u[1], u[2]) end
   end
   return tostring(n)
end

local function yes(v) return v ~= 0 and "yes" or "no" end

local decoders = {
   [0x10] = function(read, o)
      local cap = read(o + 2, 2)
      local mps = band(read(o + 4, 4), 7)
      return ("v%d, %s, max payload %d"):format(band(cap, 0xf),
         port_names[band(rshift(cap, 4), 0xf)] or "port type " .. band(rshift(cap, 4), 0xf),
         128 * 2^mps)
   end,
   [0x01] = function(read, o)
      local pmc = read(o + 2, 2)
      local parts = { ("v%d"):format(band(pmc, 7)) }
      if band(pmc, 0x200) ~= 0 then parts[#parts + 1] = "D1" end
      if band(pmc, 0x400) ~= 0 then parts[#parts + 1] = "D2" end
      local pme = {}
      for i, n in ipairs(pme_names) do
         if band(rshift(pmc, 10 + i), 1) ~= 0 then pme[#pme + 1] = n end
      end
      parts[#parts + 1] = #pme > 0 and ("PME from " .. table.concat(pme, " ")) or "no PME"
      parts[#parts + 1] = ("state D%d"):format(band(read(o + 4, 2), 3))
      return table.concat(parts, ", ")
   end,
   [0x05] = function(read, o)
      local ctl = read(o + 2, 2)
      return ("%d vectors, %s, %s, enabled %s"):format(2^band(rshift(ctl, 1), 7),
         band(ctl, 0x80) ~= 0 and "64-bit" or "32-bit",
         band(ctl, 0x100) ~= 0 and "per-vector mask" or "no per-vector mask",
         yes(band(ctl, 1)))
   end,
   [0x11] = function(read, o)
      local ctl, tbl, pba = read(o + 2, 2), read(o + 4, 4), read(o + 8, 4)
      return ("%d vectors, table BAR%d+0x%x, PBA BAR%d+0x%x, enabled %s"):format(
         band(ctl, 0x7ff) + 1, band(tbl, 7), band(tbl, bit.bnot(7)), band(pba, 7),
         band(pba, bit.bnot(7)), yes(band(ctl, 0x8000)))
   end,
   [0x09] = function(read, o)
      return ("%d payload bytes"):format(read(o + 2, 1) - 3)
   end,
}

local function hex(read)
   local lines = {}
   for row = 0, 0xf0, 16 do
      local bytes = {}
      for i = 0, 15 do bytes[#bytes + 1] = ("%02x"):format(read(row + i, 1)) end
      lines[#lines + 1] = ("  %02x: %s"):format(row, table.concat(bytes, " "))
   end
   return table.concat(lines, "\n")
end

--- The dump of a started device object.
function M.text(dev)
   local read = function(off, w) return assert(dev:cfg_read(off, w)) end
   local out = {}
   local function add(fmt, ...) out[#out + 1] = fmt:format(...) end
   local class = read(0x08, 4)
   local pin = read(0x3d, 1)
   add("%s %s (%s backend)", dev.info.pci_name, dev.name, dev.backend)
   add("  id %04x:%04x  subsystem %04x:%04x  revision %02x  class %06x",
      read(0x00, 2), read(0x02, 2), read(0x2c, 2), read(0x2e, 2), band(class, 0xff),
      rshift(class, 8))
   add("  command %04x  status %04x  header type %02x  interrupt pin %s",
      read(0x04, 2), read(0x06, 2), read(0x0e, 1),
      pin == 0 and "none" or string.char(64 + pin))
   for i = 0, 5 do
      local b = dev.desc.bars[i]
      if b then
         add("  BAR%d  %-5s %s  at 0x%x  size %s", i, "mem" .. b.bits,
            b.prefetchable and "prefetchable    " or "non-prefetchable",
            dev.info.bar_addr[i], M.size(b.size))
      end
   end
   for _, c in ipairs(M.walk(read)) do
      if c.ext then
         add("  [%03x] extended capability %04x v%d", c.offset, c.id, c.version)
      else
         local decode = decoders[c.id]
         add("  [%02x] %s%s", c.offset, cap_names[c.id] or ("capability %02x"):format(c.id),
            decode and (": " .. decode(read, c.offset)) or "")
      end
   end
   out[#out + 1] = hex(read)
   return table.concat(out, "\n") .. "\n"
end

return M
