-- SPDX-License-Identifier: MIT
-- Fault plans: Lua data mapping matchers (register accesses, config writes, DMA,
-- interrupts, NVMe commands) to actions, checked fully before anything is
-- installed, fired deterministically (seeded PRNG) and logged with dev.seq.
local bit = require("bit")
local ffi = require("ffi")
local desc = require("pciem.desc")
local trace = require("pciem.trace")
local hooks = require("pciem.faults.hooks")
local nvme = require("pciem.faults.nvme")
local ck = require("pciem.faults.check")
local kinds = require("pciem.faults.match")
local policy = require("pciem.faults.policy")

local fail, describe, check_keys, sorted = ck.fail, ck.describe, ck.check_keys, ck.sorted
local integer, number, tbl = ck.integer, ck.number, ck.tbl

local bxor, lshift, rshift = bit.bxor, bit.lshift, bit.rshift

local M = {}

pcall(ffi.cdef, "int usleep(unsigned int usec);")
pcall(ffi.cdef, "int getpid(void);")
pcall(ffi.cdef, "int kill(int pid, int sig);")
local SIGTERM = 15
local MAX_LOG = 10000		-- log entries kept per plan (oldest dropped)
local MAX_DELAY_MS = 60000

-- Actions: which kinds take each, and its check -> normalised value.
local function flag(v, path)
   if v ~= true then fail(path, "expected true, got %s", describe(v)) end
   return true
end

local ALL = { mmio = true, cfg = true, dma = true, irq = true, nvme = true }
local actions = {
   delay = { kinds = ALL, check = function(v, p) return number(v, p, 0, MAX_DELAY_MS) end },
   call = { kinds = ALL, check = function(v, p)
      if type(v) ~= "function" then fail(p, "expected a function, got %s", describe(v)) end
      return v
   end },
   fatal = { kinds = ALL, check = function(v, p, dev)
      if type(dev.nvme) ~= "table" or not dev.nvme.ctrl then
         fail(p, "needs a device with an NVMe controller (dev.nvme.ctrl); use call = function(dev) ... end")
      end
      if v ~= true and type(v) ~= "string" then fail(p, "expected true or a message, got %s", describe(v)) end
      return v == true and "fault injected" or v
   end },
   remove = { kinds = ALL, check = function(v, p)
      if v == true then return { after_ms = 0 } end
      tbl(v, p)
      check_keys(v, { after_ms = true }, p)
      return { after_ms = v.after_ms == nil and 0 or number(v.after_ms, p .. ".after_ms", 0, MAX_DELAY_MS) }
   end },
   allones = { kinds = { mmio = true }, check = flag },
   value = { kinds = { mmio = true, cfg = true }, check = function(v, p) return integer(v, p, 0, 2 ^ 64) end },
   drop = { kinds = { mmio = true, cfg = true, dma = true, irq = true }, check = flag },
   swallow = { kinds = { mmio = true, nvme = true }, check = flag },
   duplicate = { kinds = { irq = true }, check = function(v, p)
      if v == true then return 1 end
      return integer(v, p, 1, 64)
   end },
   error = { kinds = { dma = true }, check = flag },
   flip = { kinds = { dma = true, nvme = true }, check = function(v, p)
      if v == true then return { offset = 0, count = 1, mask = 0xff } end
      tbl(v, p)
      check_keys(v, { offset = true, count = true, mask = true }, p)
      return {
         offset = v.offset == nil and 0 or integer(v.offset, p .. ".offset", 0),
         count = v.count == nil and 1 or integer(v.count, p .. ".count", 1),
         mask = v.mask == nil and 0xff or integer(v.mask, p .. ".mask", 1, 0xff),
      }
   end },
   status = { kinds = { nvme = true }, check = function(v, p) return nvme.check_status(v, p) end },
   dnr = { kinds = { nvme = true }, check = function(v, p)
      if type(v) ~= "boolean" then fail(p, "expected a boolean, got %s", describe(v)) end
      return v
   end },
   corrupt = { kinds = { nvme = true }, check = function(v, p) return nvme.check_corrupt(v, p) end },
}
local EXCLUSIVE = { "allones", "value", "drop", "swallow", "status", "error", "duplicate" }
local ACTION_NAMES = {}
for k in pairs(actions) do ACTION_NAMES[k] = true end

local function action_text(a)
   local parts = {}
   for _, k in ipairs(sorted(a)) do
      local v = a[k]
      if k == "dnr" then	-- shown in the status
      elseif v == true then parts[#parts + 1] = k
      elseif k == "delay" then parts[#parts + 1] = ("delay %g ms"):format(v)
      elseif k == "status" then parts[#parts + 1] = "status " .. nvme.status_text(v)
      elseif k == "value" then parts[#parts + 1] = ("value 0x%x"):format(v)
      elseif k == "remove" then parts[#parts + 1] = ("remove after %g ms"):format(v.after_ms)
      elseif k == "fatal" then parts[#parts + 1] = "fatal"
      elseif k == "call" then parts[#parts + 1] = "call"
      elseif type(v) == "table" then parts[#parts + 1] = k
      else parts[#parts + 1] = ("%s %s"):format(k, tostring(v)) end
   end
   return table.concat(parts, ", ")
end

local function check_action(v, path, kind, dev)
   if type(v) == "string" then
      if not actions[v] then
         local near = desc.suggest(v, sorted(ACTION_NAMES))
         fail(path, "unknown action %s%s", describe(v),
            near and (" (did you mean '%s'?)"):format(near) or "")
      end
      local a = { [v] = true }
      v = a
   end
   tbl(v, path)
   check_keys(v, ACTION_NAMES, path, "action")
   local out, primary = {}, nil
   for _, name in ipairs(sorted(v)) do
      local spec = actions[name]
      local p = path .. "." .. name
      if not spec.kinds[kind] then
         fail(p, "not an action for %s matches (these are: %s)", kind, table.concat((function()
            local l = {}
            for _, k in ipairs(sorted(ACTION_NAMES)) do
               if actions[k].kinds[kind] then l[#l + 1] = k end
            end
            return l
         end)(), ", "))
      end
      out[name] = spec.check(v[name], p, dev)
   end
   for _, name in ipairs(EXCLUSIVE) do
      if out[name] ~= nil then
         if primary then fail(path, "'%s' and '%s' cannot be combined", primary, name) end
         primary = name
      end
   end
   if out.dnr ~= nil and out.status == nil then fail(path .. ".dnr", "needs a status") end
   if out.status and out.dnr then out.status = bit.bor(out.status, 0x4000) end
   if next(out) == nil then fail(path, "no action given") end
   return out
end

local MATCH_COMMON = { nth = true, every = true, probability = true, after = true,
   before = true, times = true, when = true }

local function check_match(t, path, dev)
   tbl(t, path)
   local kind
   local known = {}
   for k in pairs(MATCH_COMMON) do known[k] = true end
   for k in pairs(kinds) do known[k] = true end
   check_keys(t, known, path, "matcher")
   for _, k in ipairs(sorted(kinds)) do
      if t[k] ~= nil then
         if kind then fail(path, "'%s' and '%s' in one match: give one kind per fault", kind, k) end
         kind = k
      end
   end
   if not kind then fail(path, "no kind of access to match (one of: %s)", table.concat(sorted(kinds), ", ")) end
   local kp = path .. "." .. kind
   local kt = tbl(t[kind], kp)
   check_keys(kt, kinds[kind].fields, kp, "matcher")
   local f = { kind = kind, sel = kinds[kind].check(kt, kp, dev) }
   if t.nth ~= nil then f.nth = integer(t.nth, path .. ".nth", 1) end
   if t.every ~= nil then f.every = integer(t.every, path .. ".every", 1) end
   if t.times ~= nil then f.times = integer(t.times, path .. ".times", 1) end
   if t.probability ~= nil then f.prob = number(t.probability, path .. ".probability", 0, 1) end
   if t.after ~= nil then f.after = number(t.after, path .. ".after", 0, 1e12) end
   if t.before ~= nil then f.before = number(t.before, path .. ".before", 0, 1e12) end
   if f.after and f.before and f.before <= f.after then
      fail(path .. ".before", "%g ms is not after 'after' (%g ms)", f.before, f.after)
   end
   if t.when ~= nil then
      if type(t.when) ~= "function" then fail(path .. ".when", "expected a function, got %s", describe(t.when)) end
      f.when = t.when
   end
   return f
end

-- Seeded xorshift32 per fault, so one fault's draws do not depend on others'.
local function rng_seed(seed, index)
   local x = bit.tobit((seed * 2654435769 + index * 40503 + 0x9e3779b9) % 2 ^ 32)
   for _ = 1, 4 do
      x = bxor(x, lshift(x, 13)); x = bxor(x, rshift(x, 17)); x = bxor(x, lshift(x, 5))
   end
   if x == 0 then x = 0x6d2b79f5 end
   return x
end

local function rand(f)
   local x = f.rng
   x = bxor(x, lshift(x, 13)); x = bxor(x, rshift(x, 17)); x = bxor(x, lshift(x, 5))
   f.rng = x
   return (x % 2 ^ 32) / 2 ^ 32
end

--- Check plan table `p` against `dev`; returns the compiled plan or raises
--- { path =, msg = }.
local function compile(p, dev, default_name)
   tbl(p, "plan")
   check_keys(p, { name = true, seed = true, quiet = true, faults = true }, "plan")
   local plan = { name = default_name or "plan", faults = {}, log = {}, quiet = false }
   if p.name ~= nil then
      if type(p.name) ~= "string" or p.name == "" then fail("name", "expected a non-empty string, got %s", describe(p.name)) end
      plan.name = p.name
   end
   if p.seed ~= nil then plan.seed = integer(p.seed, "seed", 0, 2 ^ 53) end
   if p.quiet ~= nil then
      if type(p.quiet) ~= "boolean" then fail("quiet", "expected a boolean, got %s", describe(p.quiet)) end
      plan.quiet = p.quiet
   end
   local list = p.faults
   if list == nil then fail("faults", "missing: a list of { match = ..., action = ... }") end
   tbl(list, "faults")
   for k in pairs(list) do
      if type(k) ~= "number" or k < 1 or k > #list or k ~= math.floor(k) then
         fail("faults", "expected a list, found key %s", describe(k))
      end
   end
   if #list == 0 then fail("faults", "an empty list") end
   local names = {}
   for i, t in ipairs(list) do
      local path = ("faults[%d]"):format(i)
      tbl(t, path)
      check_keys(t, { name = true, match = true, action = true }, path)
      if t.match == nil then fail(path .. ".match", "missing") end
      if t.action == nil then fail(path .. ".action", "missing") end
      local f = check_match(t.match, path .. ".match", dev)
      f.act = check_action(t.action, path .. ".action", f.kind, dev)
      f.act_text = action_text(f.act)
      if t.name ~= nil then
         if type(t.name) ~= "string" or t.name == "" then fail(path .. ".name", "expected a non-empty string, got %s", describe(t.name)) end
         f.name = t.name
      else
         f.name = ("%s[%d]"):format(plan.name, i)
      end
      if names[f.name] then fail(path .. ".name", "'%s' is already the name of faults[%d]", f.name, names[f.name]) end
      names[f.name] = i
      f.index, f.count, f.fired, f.plan = i, 0, 0, plan
      if f.prob then plan.random = true end
      plan.faults[i] = f
   end
   if plan.random and plan.seed == nil then
      plan.seed = os.time() % 2 ^ 31
      plan.seed_chosen = true
   end
   for i, f in ipairs(plan.faults) do f.rng = rng_seed(plan.seed or 1, i) end
   return plan
end

-- ---- firing ----

local function now_ms(plan) return (trace.now_ns() - plan.t0) / 1e6 end

-- Whether event `ev`, which fault `f`'s matcher accepted, is in its time
-- window and passes its `when`; such events are counted (f.count).
local function counts(f, ev)
   if f.after or f.before then
      local t = now_ms(f.plan)
      if f.after and t < f.after then return false end
      if f.before and t >= f.before then return false end
   end
   if f.when and not f.when(ev) then return false end
   f.count = f.count + 1
   return true
end

-- Whether fault `f`, having counted this event, fires for it.
local function decide(f)
   if f.times and f.fired >= f.times then return false end
   local n = f.count
   if f.nth then
      if n < f.nth then return false end
      if f.every then
         if (n - f.nth) % f.every ~= 0 then return false end
      elseif n ~= f.nth then
         return false
      end
   elseif f.every and n % f.every ~= 0 then
      return false
   end
   if f.prob and rand(f) >= f.prob then return false end
   return true
end

local function say(plan, line)
   if not plan.quiet then
      io.stderr:write("faults: ", line, "\n")
      io.stderr:flush()
   end
end

local function fire(dev, f, ev, detail)
   f.fired = f.fired + 1
   local plan = f.plan
   local seq = ev.seq or rawget(dev, "seq")
   local log = plan.log
   log[#log + 1] = { seq = seq, name = f.name, action = f.act_text, detail = detail }
   if #log > MAX_LOG then table.remove(log, 1) end
   say(plan, ("seq %s: %s: %s (%s)"):format(tostring(seq or "-"), f.name, f.act_text, detail))
   trace.record(dev, { seq = seq, kind = "fault", name = f.name, action = f.act_text,
      detail = detail })
end


--- The first fault of `kind` that fires for `ev` on `dev` (logged), or nil.
--- Every fault whose matcher accepts the event counts it (so `nth` means the
--- nth such event whatever other faults did); the first that fires acts, and
--- the faults after it only count.
local function first_fire(dev, st, kind, ev)
   local list = st.by_kind[kind]
   if not list then return nil end
   local match, winner = kinds[kind].match, nil
   for i = 1, #list do
      local f = list[i]
      if match(f.sel, ev) and counts(f, ev) and not winner and decide(f) then
         winner = f
      end
   end
   if winner then fire(dev, winner, ev, kinds[kind].detail(ev)) end
   return winner
end
M._first_fire = first_fire

local function sleep_ms(ms)
   if ms > 0 then ffi.C.usleep(math.floor(ms * 1000)) end
end
M._sleep_ms = sleep_ms

local ONES64 = ffi.new("uint64_t", -1)
local function allones(width)
   if width == 8 then return ONES64 end
   return 2 ^ (8 * width) - 1
end

-- ---- actions ----

local function nvme_ctrl(dev)
   return type(dev.nvme) == "table" and dev.nvme.ctrl or nil
end

-- Surprise removal: from now on the device answers nothing (all-ones reads,
-- writes dropped, no interrupts, no DMA); on the kernel the host then exits
-- (SIGTERM to itself), which removes the device from the bus.
local function remove(dev, st, spec)
   if st.removed then return end
   st.removed = true
   for i = 0, 5 do
      local b = dev.bar[i]
      if b then
         local at = 0
         for _, r in ipairs(policy.msix_ranges(dev, i)) do
            if r[1] > at then ffi.fill(b.u8 + at, r[1] - at, 0xff) end
            if r[2] > at then at = r[2] end
         end
         if b.size > at then ffi.fill(b.u8 + at, b.size - at, 0xff) end
      end
   end
   local ok, err = policy.apply(dev, st)
   if not ok then io.stderr:write("faults: removal: ", err, "\n") end
   local c = nvme_ctrl(dev)
   if c then nvme.halt(c) end
   if dev.backend == "kernel" then
      sleep_ms(spec.after_ms)
      io.stderr:write("faults: surprise removal: stopping the host\n")
      ffi.C.kill(ffi.C.getpid(), SIGTERM)
   end
end
M._remove = remove

--- Effects every kind shares; call with the fired fault (`no_delay`: the
--- caller delays the effect itself).
local function common(dev, st, f, ev, no_delay)
   local a = f.act
   if a.delay and not no_delay then sleep_ms(a.delay) end
   if a.call then a.call(dev, ev) end
   if a.fatal then
      local c = nvme_ctrl(dev)
      if c then c:fatal(("%s: %s"):format(f.name, a.fatal)) end
   end
   if a.remove then remove(dev, st, a.remove) end
end
M._common = common
M._now_ns = trace.now_ns

-- The tap's before-callback.
local function on_access(dev, a)
   local st = rawget(dev, "_faults")
   if not st then return nil end
   if st.removed then
      if a.kind == "read" then return allones(a.width) end
      return "drop"
   end
   local kind = a.kind == "cfg" and "cfg" or "mmio"
   local f = first_fire(dev, st, kind, a)
   if not f then return nil end
   common(dev, st, f, a)
   local act = f.act
   if st.removed then
      if a.kind == "read" then return allones(a.width) end
      return "drop"
   end
   if act.value then return act.value end
   if a.kind == "read" then
      if act.allones or act.swallow then return allones(a.width) end
      if act.drop then return "drop" end
   else
      if act.drop or act.swallow then return "drop" end
   end
   return nil
end

local DMA_ERROR, IRQ_DROP = { error = true }, "drop"

local io_hooks = {
   irq = function(dev, n)
      local st = rawget(dev, "_faults")
      if not st then return nil end
      if st.removed then return IRQ_DROP end
      local ev = { vector = n, seq = rawget(dev, "seq") }
      local f = first_fire(dev, st, "irq", ev)
      if not f then return nil end
      common(dev, st, f, ev)
      if st.removed or f.act.drop then return IRQ_DROP end
      return f.act.duplicate
   end,
   dma = function(dev, ev)
      local st = rawget(dev, "_faults")
      if not st then return nil end
      if st.removed then return DMA_ERROR end
      local armed = st.nvme_flip
      if armed and ev.sg and (armed.dir == nil or armed.dir == ev.dir) then
         return { flip = armed.spec }
      end
      ev.seq = rawget(dev, "seq")
      local f = first_fire(dev, st, "dma", ev)
      if not f then return nil end
      common(dev, st, f, ev)
      local act = f.act
      if st.removed or act.error then return DMA_ERROR end
      if act.drop and ev.dir == "write" then return { drop = true } end
      if act.drop then return DMA_ERROR end
      if act.flip then return { flip = act.flip } end
      return nil
   end,
}

-- ---- per-device state ----

-- Rebuild the per-kind lists and (un)install taps, wrappers and NVMe hooks.
local function rebuild(dev, st)
   local by_kind, need_tap, need_io, need_nvme = {}, false, false, false
   for _, plan in ipairs(st.plans) do
      for _, f in ipairs(plan.faults) do
         by_kind[f.kind] = by_kind[f.kind] or {}
         table.insert(by_kind[f.kind], f)
         if f.kind == "mmio" or f.kind == "cfg" then need_tap = true end
         if f.kind == "dma" or f.kind == "irq" then need_io = true end
         if f.kind == "nvme" then need_nvme = true; need_io = need_io or f.act.flip ~= nil end
         if f.act.remove then need_tap, need_io = true, true end
      end
   end
   -- On an NVMe model every plan keeps I/O in Lua (interrupts and DMA of the
   -- native fast path would bypass the hooks) and hooks its commands.
   if #st.plans > 0 and nvme_ctrl(dev) then need_nvme = true end
   st.by_kind = by_kind
   if need_tap and not st.tap then
      local h = dev:tap(on_access, nil)
      if not h then return nil, "dev:tap failed" end
      st.tap = h
   elseif not need_tap and st.tap and not st.removed then
      dev:untap(st.tap)
      st.tap = nil
   end
   if need_io or st.removed then hooks.set(dev, "fault", io_hooks) else hooks.set(dev, "fault", nil) end
   if need_nvme then nvme.attach(dev, st, M) else nvme.detach(dev, st) end
   return policy.apply(dev, st)
end

local function state(dev)
   local st = rawget(dev, "_faults")
   if not st then
      st = { plans = {}, next_id = 1, by_kind = {} }
      dev._faults = st
   end
   return st
end

-- ---- API ----

local function read_plan(path)
   local chunk, err = loadfile(path)
   if not chunk then return nil, err end
   local ok, p = pcall(chunk)
   if not ok then return nil, tostring(p) end
   if type(p) ~= "table" then
      return nil, ("%s: a plan file must return a table ({ seed = ..., faults = {...} }), got %s")
         :format(path, type(p))
   end
   return p
end

--- Check a plan (a table, or the path of a Lua file returning one) against
--- `dev` without loading it. Returns true, or nil and "where: field.path: message".
function M.check(dev, p)
   local where, name = "plan", nil
   if type(p) == "string" then
      where = p
      name = p:match("([^/]+)%.lua$") or p:match("([^/]+)$")
      local t, err = read_plan(p)
      if not t then return nil, err end
      p = t
   end
   local ok, plan = pcall(compile, p, dev, name)
   if not ok then
      if type(plan) == "table" and plan.path then
         return nil, ("%s: %s: %s"):format(where, plan.path, plan.msg)
      end
      return nil, ("%s: %s"):format(where, tostring(plan))
   end
   return plan
end

--- Load a fault plan into running device `dev`: a table or the path of a
--- Lua file that returns one. Checked fully first; nothing is installed on
--- error. Returns the plan handle ({ id =, name =, faults =, log = }), or nil, err.
function M.load(dev, p)
   if type(dev) ~= "table" or type(dev.desc) ~= "table" then
      error("faults.load: a device expected", 2)
   end
   if type(p) ~= "string" and type(p) ~= "table" then
      error(("faults.load: a plan table or the path of a plan file expected, got %s"):format(type(p)), 2)
   end
   if dev.state ~= "started" then
      return nil, ("faults.load: device '%s' is not started"):format(dev.name)
   end
   local plan, err = M.check(dev, p)
   if not plan then return nil, err end
   local has_access = false
   for _, f in ipairs(plan.faults) do
      if f.kind == "mmio" or f.kind == "cfg" or f.act.remove then has_access = true end
   end
   if has_access and type(dev.tap) ~= "function" then
      return nil, ("%s: register, config and removal faults need dev:tap, which this event loop lacks")
         :format(type(p) == "string" and p or "plan")
   end
   local st = state(dev)
   plan.id = st.next_id
   plan.t0 = trace.now_ns()
   local prev = {}
   for i, q in ipairs(st.plans) do prev[i] = q end
   st.plans[#st.plans + 1] = plan
   local ok, rerr = rebuild(dev, st)
   if not ok then
      st.plans = prev
      rebuild(dev, st)
      if #st.plans == 0 and not st.removed then dev._faults = nil end
      return nil, ("%s: %s"):format(type(p) == "string" and p or "plan", rerr)
   end
   st.next_id = st.next_id + 1
   say(plan, ("plan %d '%s' loaded: %d fault%s%s"):format(plan.id, plan.name, #plan.faults,
      #plan.faults == 1 and "" or "s",
      plan.seed and (", seed %d%s"):format(plan.seed, plan.seed_chosen
         and " (chosen: put seed = " .. plan.seed .. " in the plan to repeat this run)" or "") or ""))
   return plan
end

local function find(st, handle)
   for i, q in ipairs(st.plans) do
      if q == handle or q.id == handle or q.name == handle then return i, q end
   end
end

--- Remove a plan (its handle, id or name) from `dev`. Returns true, or nil, err.
function M.unload(dev, handle)
   local st = rawget(dev, "_faults")
   local i, plan
   if st then i, plan = find(st, handle) end
   if not i then
      return nil, ("faults.unload: no plan %s on device '%s'"):format(
         type(handle) == "table" and tostring(handle.name) or tostring(handle), dev.name)
   end
   table.remove(st.plans, i)
   local ok, err = true, nil
   if dev.state == "started" then ok, err = rebuild(dev, st) end
   if #st.plans == 0 and not st.removed then dev._faults = nil end
   say(plan, ("plan %d '%s' unloaded"):format(plan.id, plan.name))
   if not ok then return nil, err end
   return true
end

--- Every plan loaded on `dev`: { {id =, name =, fired =, faults = { {name =,
--- kind =, action =, seen =, fired =}, ... } }, ... } in load order.
function M.list(dev)
   local out = {}
   local st = rawget(dev, "_faults")
   if not st then return out end
   for _, plan in ipairs(st.plans) do
      local e = { id = plan.id, name = plan.name, fired = 0, seed = plan.seed, faults = {} }
      for _, f in ipairs(plan.faults) do
         e.fired = e.fired + f.fired
         e.faults[#e.faults + 1] = { name = f.name, kind = f.kind, action = f.act_text,
            seen = f.count, fired = f.fired }
      end
      out[#out + 1] = e
   end
   return out
end

--- Whether a surprise removal fault fired on `dev`.
function M.removed(dev)
   local st = rawget(dev, "_faults")
   return st ~= nil and st.removed == true
end

M.allones = allones
M.status = nvme.STATUS

return M
