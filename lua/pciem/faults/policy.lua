-- SPDX-License-Identifier: MIT
-- BAR policies while faults are loaded: a range a register matcher watches is
-- made to reach the host (reads sync, writes posted) and put back after, to the
-- policy the device itself set; the MSI-X table and PBA are never touched.

local M = {}

local POLICY_NAME = { [0] = "memory", [1] = "posted", [2] = "sync" }

-- The policy of every dword of BAR `bar` as the device set it (description,
-- then its own set_policy calls, dev._policy_log): array [dword] = 0|1|2.
local function described(dev, bar)
   local b = dev.desc.bars[bar]
   local n = math.floor(b.size / 4)
   local pol = {}
   for i = 0, n - 1 do pol[i] = 1 end
   for _, r in ipairs(b.policy or {}) do
      for i = r.offset / 4, (r.offset + r.length) / 4 - 1 do pol[i] = r.policy end
   end
   for _, r in ipairs(rawget(dev, "_policy_log") or {}) do
      if r.bar == bar then
         for i = math.floor(r.offset / 4), math.min(n, math.ceil((r.offset + r.length) / 4)) - 1 do
            pol[i] = r.policy
         end
      end
   end
   return pol
end

-- Byte ranges of BAR `bar` the kernel owns (MSI-X table and PBA), sorted.
local function msix_ranges(dev, bar)
   local l = {}
   for _, c in ipairs(dev.desc.caps or {}) do
      if c.kind == "msix" then
         if c.table.bar == bar then l[#l + 1] = { c.table.offset, c.table.offset + c.vectors * 16 } end
         if c.pba.bar == bar then
            l[#l + 1] = { c.pba.offset, c.pba.offset + math.ceil(c.vectors / 64) * 8 }
         end
      end
   end
   table.sort(l, function(a, b) return a[1] < b[1] end)
   return l
end

-- The same as a set of dword indexes: never touched.
local function msix_owned(dev, bar)
   local own = {}
   for _, r in ipairs(msix_ranges(dev, bar)) do
      for i = math.floor(r[1] / 4), math.ceil(r[2] / 4) - 1 do own[i] = true end
   end
   return own
end

-- What every loaded fault needs: [bar][dword] = 1 (posted) | 2 (sync).
local function needed(dev, st)
   local need = {}
   local function want(bar, first, last, level)
      need[bar] = need[bar] or {}
      local nb = need[bar]
      for i = math.floor(first / 4), math.ceil(last / 4) - 1 do
         if (nb[i] or 0) < level then nb[i] = level end
      end
   end
   for _, f in ipairs(st.by_kind.mmio or {}) do
      local s = f.sel
      for bar = 0, 5 do
         local b = dev.desc.bars[bar]
         if b and (s.bar == nil or s.bar == bar) then
            local first, last = s.first or 0, s.last or b.size
            if last > b.size then last = b.size end
            if first < last then want(bar, first, last, s.access == "write" and 1 or 2) end
         end
      end
   end
   if st.removed then
      for bar = 0, 5 do
         local b = dev.desc.bars[bar]
         if b then want(bar, 0, b.size, 2) end
      end
   end
   return need
end

-- Bring the BAR policies to what the loaded faults need; returns true or nil, err.
local function apply_policies(dev, st)
   local need = needed(dev, st)
   st.applied = st.applied or {}
   for bar = 0, 5 do
      if dev.desc.bars[bar] and (need[bar] or st.applied[bar]) then
         local orig = described(dev, bar)
         local own = msix_owned(dev, bar)
         local nb, cur = need[bar] or {}, st.applied[bar] or {}
         local want = {}
         local n = math.floor(dev.desc.bars[bar].size / 4)
         local i = 0
         while i < n do
            local function target(j)
               if own[j] then return nil end
               local lvl = math.max(orig[j], nb[j] or 0)
               return lvl
            end
            local function current(j) return cur[j] or orig[j] end
            local t = target(i)
            if t and t ~= current(i) then
               local j = i
               while j + 1 < n and target(j + 1) == t and current(j + 1) ~= t do j = j + 1 end
               local ok, err = dev:_set_policy_unrecorded(bar, i * 4, (j - i + 1) * 4, POLICY_NAME[t])
               if not ok then return nil, ("bars[%d] 0x%x+0x%x: %s"):format(bar, i * 4, (j - i + 1) * 4, err) end
               i = j + 1
            else
               i = i + 1
            end
         end
         for j = 0, n - 1 do
            local t = not own[j] and math.max(orig[j], nb[j] or 0) or nil
            if t and t ~= orig[j] then want[j] = t end
         end
         st.applied[bar] = next(want) and want or nil
      end
   end
   return true
end

M.apply = apply_policies
M.msix_ranges = msix_ranges

return M
