-- SPDX-License-Identifier: MIT
-- From a checked description to the uapi requests (CREATE, ADD_BAR, ADD_CAP,
-- REGISTER), applied to a backend device; a failure is reported against the
-- description's field path. The dry run applies the same plan to the C engine.
local bit = require("bit")
local ffi = require("ffi")
local pffi = require("pciem.ffi")
local C = pffi.C

local M = {}

local cap_kind = { pcie = 1, pm = 2, msi = 3, msix = 4, vendor = 5, ext = 6 }
local cap_engine_name = { pcie = "pcie", pm = "pm", msi = "msi", msix = "msix",
   vendor = "vendor", ext = "ext_raw" }

--- Build the uapi structs for a checked description. The returned plan keeps
--- the payload strings alive as long as the structs that point at them.
function M.build(d)
   local p = { bars = {}, caps = {}, anchors = {} }

   local dev = ffi.new("struct pciem_device_desc")
   dev.size = ffi.sizeof(dev)
   dev.vendor_id = d.vendor
   dev.device_id = d.device
   dev.subsys_vendor_id = d.subsystem_vendor
   dev.subsys_id = d.subsystem
   dev.revision = d.revision
   dev.prog_if = bit.band(d.class, 0xff)
   dev.subclass = bit.band(bit.rshift(d.class, 8), 0xff)
   dev.class_code = bit.rshift(d.class, 16)
   dev.intx_pin = d.interrupt_pin
   ffi.copy(dev.name, d.name)
   dev.ring_entries = d.ring_entries
   dev.sync_timeout_us = math.ceil(d.sync_timeout_ms * 1000)
   p.device = dev

   for i = 0, 5 do
      local b = d.bars[i]
      if b then
         local s = ffi.new("struct pciem_bar_desc")
         s.size = ffi.sizeof(s)
         s.index = i
         s.length = b.size
         s.flags = (b.bits == 64 and C.PCIEM_BAR_MEM64 or 0)
            + (b.prefetchable and C.PCIEM_BAR_PREFETCH or 0)
         p.bars[#p.bars + 1] = { index = i, desc = s, path = ("bars[%d]"):format(i) }
      end
   end

   for i, c in ipairs(d.caps) do
      local s = ffi.new("struct pciem_cap_desc")
      s.size = ffi.sizeof(s)
      s.kind = cap_kind[c.kind]
      s.offset = c.offset
      if c.kind == "pcie" then
         s.u.pcie.port_type = c.port
         s.u.pcie.max_payload = c.max_payload
         s.u.pcie.link_speed = c.link_speed
         s.u.pcie.link_width = c.link_width
      elseif c.kind == "pm" then
         s.u.pm.d1 = c.d1 and 1 or 0
         s.u.pm.d2 = c.d2 and 1 or 0
         s.u.pm.pme_support = c.pme
      elseif c.kind == "msi" then
         s.u.msi.vectors = c.vectors
         s.u.msi.addr64 = c.addr64 and 1 or 0
         s.u.msi.per_vector_mask = c.per_vector_mask and 1 or 0
      elseif c.kind == "msix" then
         s.u.msix.vectors = c.vectors
         s.u.msix.table_bar = c.table.bar
         s.u.msix.table_offset = c.table.offset
         s.u.msix.pba_bar = c.pba.bar
         s.u.msix.pba_offset = c.pba.offset
      else
         if c.kind == "ext" then
            s.u.raw.id = c.id
            s.u.raw.version = c.version
         end
         s.u.raw.length = #c.data
         if #c.data > 0 then
            local buf = ffi.new("uint8_t[?]", #c.data)
            ffi.copy(buf, c.data, #c.data)
            p.anchors[#p.anchors + 1] = buf
            s.u.raw.data = ffi.cast("uint64_t", ffi.cast("uintptr_t", buf))
         end
      end
      p.caps[#p.caps + 1] = { kind = c.kind, desc = s, path = c.path }
   end
   return p
end

-- Engine words -> description field, per item. First match wins.
local device_fields = {
   { "vendor_id", "vendor" }, { "intx_pin", "interrupt_pin" }, { "name", "name" },
}
local bar_fields = {
   { "cannot start at index 5", "bits" }, { "64%-bit BAR needs slot", "bits" },
   { "length", "size" },
}
local cap_fields = {
   { "overlaps pba", "pba.offset" }, { "^pba %(", "pba.offset" }, { "^table %(", "table.offset" },
   { "table_offset", "table.offset" }, { "pba_offset", "pba.offset" },
   { "table_bar", "table.bar" }, { "pba_bar", "pba.bar" },
   { "^table bar", "table.bar" }, { "^pba bar", "pba.bar" },
   { "port_type", "port" }, { "max_payload", "max_payload" },
   { "link_speed", "link_speed" }, { "link_width", "link_width" },
   { "pme_support", "pme" }, { "per_vector_mask", "per_vector_mask" },
   { "addr64", "addr64" }, { "vectors", "vectors" },
   { "raw%.length", "data" }, { "raw%.id", "id" }, { "raw%.version", "version" },
   { "^offset", "offset" }, { "^at 0x", "offset" },
}

local function field_of(msg, table_)
   for _, rule in ipairs(table_) do
      if msg:find(rule[1]) then return rule[2] end
   end
end

-- Which description item an engine message is about, when the failing call
-- does not say (pciem_cfg_finish checks several items at once).
local function item_of(p, msg)
   local n = msg:match("^bar (%d)")
   if n then
      for _, b in ipairs(p.bars) do
         if b.index == tonumber(n) then return b.path, "bar" end
      end
      return ("bars[%s]"):format(n), "bar"
   end
   local name = msg:match("^cap ([%w_]+)")
   if name then
      for _, c in ipairs(p.caps) do
         if cap_engine_name[c.kind] == name then return c.path, "cap" end
      end
   end
   return "device", "device"
end

-- One failed request -> {path=, msg=, rc=}.
local function failure(p, cdev, rc, path, kind)
   local msg = ffi.string(C.pciem_ffi_dev_error(cdev))
   if msg == "" then msg = pffi.strerror(rc) end
   if not path then path, kind = item_of(p, msg) end
   local detail = msg:gsub("^device: ", ""):gsub("^bar %d: ", ""):gsub("^cap [%w_]+:? ?", "")
   local field = field_of(detail, kind == "bar" and bar_fields
      or kind == "cap" and cap_fields or device_fields)
   if field and kind == "device" then
      path = field
   elseif field then
      path = path .. "." .. field
   end
   return { path = path, msg = detail, rc = rc }
end

--- Apply the plan to an opened backend device, up to REGISTER (included).
--- Returns true, or nil and {path=, msg=, rc=}.
function M.apply(p, cdev)
   local rc = C.pciem_ffi_dev_create(cdev, p.device)
   if rc ~= 0 then return nil, failure(p, cdev, rc, "device", "device") end
   for _, b in ipairs(p.bars) do
      rc = C.pciem_ffi_dev_add_bar(cdev, b.desc)
      if rc ~= 0 then return nil, failure(p, cdev, rc, b.path, "bar") end
   end
   for _, c in ipairs(p.caps) do
      rc = C.pciem_ffi_dev_add_cap(cdev, c.desc)
      if rc ~= 0 then return nil, failure(p, cdev, rc, c.path, "cap") end
   end
   rc = C.pciem_ffi_dev_register(cdev)
   if rc ~= 0 then return nil, failure(p, cdev, rc) end
   return true
end

--- A new backend device ("kernel", "sim" or "dry"), opened, freed by the GC
--- unless released with M.free(). Returns the device, or nil and a message.
function M.open(backend)
   local out = ffi.new("struct pl_dev *[1]")
   local rc = C.pciem_ffi_dev_new(backend, out)
   if rc ~= 0 then
      return nil, ("backend '%s': %s"):format(backend, pffi.strerror(rc))
   end
   local cdev = ffi.gc(out[0], C.pciem_ffi_dev_free)
   rc = C.pciem_ffi_dev_open(cdev)
   if rc ~= 0 then
      local msg = ffi.string(C.pciem_ffi_dev_error(cdev))
      M.free(cdev)
      return nil, msg, rc
   end
   return cdev
end

--- Free a backend device now (stops it and, for the kernel, closes its fd).
function M.free(cdev)
   ffi.gc(cdev, nil)
   C.pciem_ffi_dev_free(cdev)
end

--- Run the plan through the C config space engine alone.
--- Returns true, or nil and {path=, msg=}.
function M.dry_run(p)
   local cdev, err = M.open("dry")
   if not cdev then return nil, { path = "device", msg = err } end
   local ok, fail = M.apply(p, cdev)
   M.free(cdev)
   return ok, fail
end

return M
