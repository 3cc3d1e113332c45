-- SPDX-License-Identifier: MIT
-- Binding to the host's C side: declares the uapi and host cdefs (generated
-- from the headers at build time) and finds the pciem_ffi_* functions.
local ffi = require("ffi")

local M = {}

-- The two functions that hand out the generated cdef strings.
ffi.cdef [[
const char *pciem_ffi_cdef_uapi(void);
const char *pciem_ffi_cdef_host(void);
]]

-- Inside pciem-lua the functions are in the executable (linked -rdynamic);
-- under plain luajit (busted) they come from libpciem-host.so.
local function find_library()
   local ok = pcall(function() return ffi.C.pciem_ffi_cdef_uapi end)
   if ok then
      return ffi.C
   end
   local path = os.getenv("PCIEM_HOST_LIB")
   if not path or path == "" then
      error("pciem: the host library is not loaded: run the script with pciem-lua, "
         .. "or set PCIEM_HOST_LIB to build/libpciem-host.so", 0)
   end
   local lib_ok, lib = pcall(ffi.load, path)
   if not lib_ok then
      error("pciem: cannot load PCIEM_HOST_LIB=" .. path .. ": " .. tostring(lib), 0)
   end
   return lib
end

local C = find_library()
ffi.cdef(ffi.string(C.pciem_ffi_cdef_uapi()))
ffi.cdef(ffi.string(C.pciem_ffi_cdef_host()))

M.C = C

-- Scratch out-params, allocated once (never ffi.new on a hot path).
M.u32_out = ffi.new("uint32_t[1]")
M.int_out = ffi.new("int[1]")
M.u64_out = ffi.new("uint64_t[1]")
M.ptr_out = ffi.new("uint8_t *[1]")
M.voidp_out = ffi.new("void *[1]")

--- Text of a negative errno.
function M.strerror(rc)
   return ffi.string(C.pciem_ffi_strerror(rc))
end

return M
