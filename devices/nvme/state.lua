-- SPDX-License-Identifier: MIT
-- The state shared with the native fast path: the "nvme:ffi-begin".."nvme:ffi-end"
-- section of devices/nvme/fastpath.h, cdef'd here (one copy), and its allocation.
local ffi = require("ffi")

local M = {}

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
M.HEADER = here .. "/fastpath.h"

-- cdef the marked section once per Lua state.
local function declare()
   local ok = pcall(ffi.typeof, "struct nvme_fp_state")
   if ok then return end
   local f, err = io.open(M.HEADER, "r")
   if not f then error("nvme: shared state header: " .. tostring(err), 0) end
   local text = f:read("*a")
   f:close()
   local body = text:match("/%* nvme:ffi%-begin %*/\n(.-)/%* nvme:ffi%-end %*/")
   if not body then error("nvme: " .. M.HEADER .. ": no nvme:ffi-begin/end section", 0) end
   ffi.cdef(body)
end
declare()

M.MAGIC = ffi.C.NVME_FP_MAGIC
M.CHUNK_SHIFT = ffi.C.NVME_FP_CHUNK_SHIFT

--- Allocate the shared state for queue ids 0..maxq, `nvec` vectors and `nns`
--- namespaces. Returns the state (a struct nvme_fp_state *) and a table holding
--- every allocation alive (keep it as long as the state).
function M.new(maxq, nvec, nns)
   local keep = {
      st = ffi.new("struct nvme_fp_state[1]"),
      sq = ffi.new("struct nvme_fp_sq[?]", maxq + 1),
      cq = ffi.new("struct nvme_fp_cq[?]", maxq + 1),
      vec = ffi.new("struct nvme_fp_vec[?]", nvec),
      ns = ffi.new("struct nvme_fp_ns[?]", nns),
   }
   local st = keep.st[0]
   st.magic = M.MAGIC
   st.state_size = ffi.sizeof("struct nvme_fp_state")
   st.maxq, st.nvec, st.nns = maxq, nvec, nns
   st.sq, st.cq, st.vec, st.ns = keep.sq, keep.cq, keep.vec, keep.ns
   st.page = 4096
   return keep.st + 0, keep
end

return M
