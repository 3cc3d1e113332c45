-- SPDX-License-Identifier: MIT
-- NVMe 1.4 controller: `pciem-lua devices/nvme.lua [size=1G namespaces=1 queues=8
-- backing=PATH fastpath=on|off]`. Modules in devices/nvme/, the native I/O path in
-- devices/nvme_native.c; see devices/nvme.md and devices/nvme_native.md.
local bit = require("bit")
local ffi = require("ffi")
local pciem = require("pciem")

-- Modules beside this script: devices/nvme/*.lua as nvme.*.
do
   local src = debug.getinfo(1, "S").source
   local dir = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/[^/]*$") or "."
   local pattern = dir .. "/?.lua"
   if not package.path:find(pattern, 1, true) then
      package.path = pattern .. ";" .. package.path
   end
end
-- A `reload` from the REPL runs this script again and must see edits to the modules
-- too: they load afresh each run (nvme.state's cdef guards itself).
for _, name in ipairs({ "nvme.regs", "nvme.queues", "nvme.io", "nvme.admin", "nvme.store",
      "nvme.regmap" }) do
   package.loaded[name] = nil
end
local state = require("nvme.state")
local regs = require("nvme.regs")
local queues = require("nvme.queues")
local nvio = require("nvme.io")
local admin = require("nvme.admin")
local store = require("nvme.store")

local USAGE = [[
usage: pciem-lua devices/nvme.lua [OPTION=VALUE ...]
  size=SIZE        namespace size (default 1G; 4K..16T, as 512M, 1G, 0x100000)
  namespaces=N     namespaces, 1..16 (default 1), each of `size`
  queues=N         most I/O queue pairs the driver may create, 1..127 (default 8)
  backing=PATH     keep the data in file PATH (namespace k > 1 in PATH.k) instead of RAM
  fastpath=on|off  native I/O path, build/devices/nvme_native.so (default on;
                   NVME_NATIVE=PATH names another); off runs everything in Lua
  fptiming=on|off  time the native path's stages (counters in the stop line)
  serial=STR       serial number (default PCIEM0001)
  nssr=on|off      advertise NVM Subsystem Reset (default on)
  dbbuf=on|off     offer Doorbell Buffer Config, shadow doorbells (default on)
  --help           this text]]

local function parse_options(args)
   local o = { size = 2 ^ 30, namespaces = 1, queues = 8, backing = nil, fastpath = true,
      fptiming = false,
      serial = "PCIEM0001", model = "pciem-lua NVMe controller", firmware = "0.1",
      vendor = 0x1de5, device = 0x4e56, nssr = true, dbbuf = true }
   local function bad(msg) error("nvme: " .. msg .. " (--help lists the options)", 0) end
   local function onoff(k, v)
      if v == "on" or v == "1" or v == "true" then return true end
      if v == "off" or v == "0" or v == "false" then return false end
      bad(("%s=%s: on or off expected"):format(k, v))
   end
   local function integer(k, v, lo, hi)
      local n = tonumber(v)
      if not n or n ~= math.floor(n) or n < lo or n > hi then
         bad(("%s=%s: %d..%d expected"):format(k, v, lo, hi))
      end
      return n
   end
   for _, a in ipairs(args) do
      a = tostring(a)
      if a == "--help" or a == "-h" or a == "help" then
         io.stdout:write(USAGE, "\n")
         os.exit(0)
      end
      local k, v = a:match("^([%w_]+)=(.*)$")
      if not k then bad(("argument '%s' is not OPTION=VALUE"):format(a)) end
      if k == "size" then
         local ok, n = pcall(pciem.parse_size, tonumber(v) or v)
         if not ok or type(n) ~= "number" then bad(("size=%s: not a size"):format(v)) end
         if n < 4096 or n > 2 ^ 44 or n % 4096 ~= 0 then
            bad(("size=%s: a multiple of 4 KiB from 4K to 16T expected"):format(v))
         end
         o.size = n
      elseif k == "namespaces" then
         o.namespaces = integer(k, v, 1, 16)
      elseif k == "queues" then
         o.queues = integer(k, v, 1, 127)
      elseif k == "backing" then
         if v == "" then bad("backing=: a file path expected") end
         o.backing = v
      elseif k == "fastpath" then
         o.fastpath = onoff(k, v)
      elseif k == "fptiming" then
         o.fptiming = onoff(k, v)
      elseif k == "serial" then
         if #v < 1 or #v > 20 or v:find("[^%w%-_.]") then bad("serial=: 1..20 characters of [A-Za-z0-9-_.]") end
         o.serial = v
      elseif k == "nssr" then
         o.nssr = onoff(k, v)
      elseif k == "dbbuf" then
         o.dbbuf = onoff(k, v)
      else
         bad(("unknown option '%s'"):format(k))
      end
   end
   return o
end

local opts = parse_options({ ... })

---------------------------------------------------------------------------
-- The controller object the modules share.

local MDTS = 8				-- 2^8 pages of 4 KiB: 1 MiB per command
local LBA_FORMATS = { 9, 12 }		-- LBAF0 512 bytes, LBAF1 4 KiB

local Ctrl = {}
Ctrl.__index = Ctrl

function Ctrl:log(msg) io.stderr:write("nvme: ", msg, "\n") end

function Ctrl:fatal(msg)
   self:log("controller fatal status: " .. msg)
   regs.fatal(self)
end

function Ctrl:bad_doorbell(off, value, why)
   self:log(("doorbell 0x%x = %d ignored: %s"):format(off, value, why))
   -- Error status AER, Invalid Doorbell Write Value / Register (5.2.1).
   admin.post_event(self, 0, why:find("no such") and 0 or 1, 0x01)
end

--- A failed command goes into the error log (and the SMART error count).
function Ctrl:log_error(sqid, cid, status, sqe)
   self.error_count = self.error_count + 1
   local e = { count = self.error_count, sqid = sqid, cid = cid, status = status,
      nsid = sqe[1], lba = sqid ~= 0 and nvio.u64(sqe, 10) or 0 }
   local errs = self.errors
   errs[#errs + 1] = e
   if #errs > admin.ERROR_LOG then table.remove(errs, 1) end
end

--- Everything a controller reset clears.
function Ctrl:reset_state()
   queues.reset(self)
   self.aers = {}
   self.dbbuf = nil
   admin.reset_features(self)
end

function Ctrl:flush_all()
   local ok = true
   for _, ns in ipairs(self.ns) do ok = ns.store:flush() and ok end
   return ok
end

function Ctrl:deliver_events() end

function Ctrl:set_format(ns, lbaf)
   ns.lbaf = lbaf
   ns.lba_size = 2 ^ LBA_FORMATS[lbaf + 1]
   ns.blocks = math.floor(ns.store.size / ns.lba_size)
   local fp = self.st.ns[ns.id - 1]
   fp.blocks, fp.lba_shift, fp.store = ns.blocks, LBA_FORMATS[lbaf + 1], ns.store.fp
end

--- A new controller for `opts`: shared FFI state, buffers, namespaces.
local function new_controller(o)
   local vectors = o.queues + 1
   -- Queues, interrupts, namespaces, counters: FFI state the native path shares.
   local st, st_keep = state.new(o.queues, vectors, o.namespaces)
   st.mdts_bytes = 2 ^ MDTS * 4096
   st.timing = o.fptiming and 1 or 0
   local c = setmetatable({
      opts = o, vectors = vectors,
      mdts = MDTS, lba_formats = LBA_FORMATS, page = 4096, dbbuf_ok = o.dbbuf,
      enabled = false, st = st, st_keep = st_keep, smart = st.smart, stats = st.stats,
      errors = {}, error_count = 0, changed_ns = {}, power_cycles = 1, started_at = os.time(),
      aers = {}, ns = {},
   }, Ctrl)
   queues.init(c, o.queues)
   nvio.init(c, 2 ^ MDTS * 4096)
   admin.reset_features(c)

   for k = 1, o.namespaces do
      local s, err
      if o.backing then
         s, err = store.file(k == 1 and o.backing or o.backing .. "." .. k, o.size)
         if not s then error("nvme: " .. err, 0) end
      else
         s = store.ram(o.size)
      end
      local nguid = {}
      for i = 1, 16 do nguid[i] = (i * 37 + k * 101 + #o.serial) % 256 end
      nguid[16] = k
      local ns = { id = k, store = s, nguid = nguid }
      c:set_format(ns, 0)
      c.ns[k] = ns
   end
   return c
end

---------------------------------------------------------------------------
-- The device.

local vectors = opts.queues + 1
local dev = pciem.device {
   name = "nvme",
   vendor = opts.vendor, device = opts.device,
   subsystem_vendor = opts.vendor, subsystem = 0x0001,
   class = 0x010802,
   interrupt_pin = "A",
   bars = { [0] = { size = regs.BAR0_SIZE, bits = 64, policy = regs.policies(vectors) } },
   caps = {
      { "pm" },
      { "pcie", port = "endpoint", max_payload = 256, link_speed = 8, link_width = 4 },
      { "msix", vectors = vectors,
        table = { bar = 0, offset = regs.MSIX_TABLE },
        pba = { bar = 0, offset = regs.MSIX_PBA } },
   },
}

-- `reload` gives this script the running device again: its controller, queues,
-- namespaces, counters and fault hooks stay, and the options of the first run
-- with them; the code below and in the modules is the new one.
local c
local kept = rawget(dev, "nvme")
if kept then
   c, opts = kept.ctrl, kept.options
   vectors = c.vectors
   setmetatable(c, Ctrl)
else
   c = new_controller(opts)
end
c.dev = dev
c.regs_mod, c.queues, c.exec_admin, c.exec_io = regs, queues, admin.exec, nvio.exec

-- The native fast path (devices/nvme_native.c): I/O doorbells served in C on the
-- same shared state, with the Lua doorbell handler as the fallback for what it defers.
local native
if opts.fastpath then
   local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
   -- The build tree's library, or the installed layout's (bin/ beside devices/, as
   -- in the test guest); NVME_NATIVE names it explicitly.
   local env = os.getenv("NVME_NATIVE")
   local candidates = env and { env }
      or { here .. "/../build/devices/nvme_native.so", here .. "/../bin/nvme_native.so" }
   local so
   for _, path in ipairs(candidates) do
      local f = io.open(path, "rb")
      if f then f:close(); so = path; break end
   end
   if not so then
      error(("nvme: fastpath=on: the native library %s is missing (`make host` builds it; "
         .. "NVME_NATIVE=PATH names another, fastpath=off runs all in Lua)")
         :format(table.concat(candidates, " or ")), 0)
   end
   native = dev:load_native(so)
   c.native = native
end

dev:on_start(function(d)
   c.regs = d.bar[0].u32
   c.enabled = false
   c.st.ready = 0
   c:reset_state()
   regs.power_on(c)
   if native then
      local sym, err = native:symbol("nvme_native_attach")
      if not sym then error("nvme: fastpath: " .. tostring(err), 0) end
      local attach = ffi.cast("int (*)(void *, struct nvme_fp_state *)", sym)
      local rc = attach(native:context(), c.st)
      if rc ~= 0 then error(("nvme: fastpath: nvme_native_attach refused the state (%d)"):format(rc), 0) end
   end
end)

local REG = regs.REG
local function doorbell(_, off, value) queues.doorbell(c, off, value) end
dev:on_write(0, { REG.INTMS, 8 }, function(_, off, value) regs.intm_written(c, off, value) end)
dev:on_write(0, REG.CC, function() regs.cc_written(c) end)
dev:on_write(0, REG.NSSR, function(_, _, value) regs.nssr_written(c, value) end)
if native then
   -- Admin doorbells stay in Lua; I/O queue doorbells go to C first.
   dev:on_write(0, { REG.DOORBELLS, 8 }, doorbell)
   dev:on_write(0, { REG.DOORBELLS + 8, 0x1000 - 8 }, native.nvme_doorbell, doorbell)
else
   dev:on_write(0, { REG.DOORBELLS, 0x1000 }, doorbell)
end
-- The end of a burst: interrupts held back by coalescing go out.
dev:on_idle(function() queues.idle(c) end)

-- Stopping the host is a surprise removal for the driver: CSTS.CFS tells it the
-- controller is gone, so it skips the queue teardown that nobody would answer.
local stop_device = dev.stop
function dev.stop(d)
   if d.state == "started" and c.regs then
      regs.fatal(c)
      c:log(c:stats_line(d))
   end
   return stop_device(d)
end

--- The counters of the stop line (also for the bench helper).
function Ctrl:stats_line(d)
   local s, k = self.st.stats, d:counters() or {}
   local n = tonumber
   local line = ("%d commands (%d in C), %d doorbell writes (%d deferred to Lua), "
      .. "%d tails taken from shadow doorbells, %d trapped writes, %d interrupts")
      :format(n(s.commands), n(s.native_cmds), n(s.doorbells), n(s.deferred),
         n(s.shadow_tails), k.trap_writes or 0, k.irqs_delivered or 0)
   if self.st.timing == 1 then
      local function per(ns, count)
         count = n(count)
         return count > 0 and ("%.0f"):format(n(ns) / count) or "-"
      end
      line = line .. ("; native ns: %s per SQE fetch (%d DMAs, %d SQEs), %s per data DMA "
         .. "(%d), %s per CQE DMA (%d for %d CQEs), %s per interrupt (%d), %s per shadow "
         .. "access (%d)"):format(per(s.ns_fetch, s.sqe_dmas), n(s.sqe_dmas), n(s.sqes),
         per(s.ns_data, s.data_dmas), n(s.data_dmas), per(s.ns_post, s.cqe_dmas),
         n(s.cqe_dmas), n(s.cqes), per(s.ns_irq, s.irq_calls), n(s.irq_calls),
         per(s.ns_shadow, s.shadow_dmas), n(s.shadow_dmas))
   end
   return line
end

dev.nvme = { ctrl = c, options = opts, regs = regs, admin = admin, io = nvio, queues = queues,
   store = store, state = state, native = native }
-- The REPL's register map, when devices/nvme/regmap.lua exists.
do
   local ok, regmap = pcall(require, "nvme.regmap")
   if ok then dev.regmap = regmap end
end
return dev
