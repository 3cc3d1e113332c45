-- SPDX-License-Identifier: MIT
-- NVMe 1.4 controller: `pciem-lua devices/nvme.lua [size=1G namespaces=1 queues=8
-- backing=PATH fastpath=off]`. Modules in devices/nvme/; see devices/nvme.md.
local bit = require("bit")
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
  fastpath=on|off  native I/O path (not built yet: off is the only mode)
  serial=STR       serial number (default PCIEM0001)
  nssr=on|off      advertise NVM Subsystem Reset (default on)
  dbbuf=on|off     offer Doorbell Buffer Config, shadow doorbells (default on)
  --help           this text]]

local function parse_options(args)
   local o = { size = 2 ^ 30, namespaces = 1, queues = 8, backing = nil, fastpath = false,
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
         if o.fastpath then bad("fastpath=on: the native fast path is not built yet; use fastpath=off") end
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
   self.cq_dirty = {}
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
end

local vectors = opts.queues + 1
local c = setmetatable({
   opts = opts, regs_mod = regs, queues = queues, vectors = vectors,
   mdts = MDTS, lba_formats = LBA_FORMATS, page = 4096, dbbuf_ok = opts.dbbuf,
   ready = false, enabled = false, intms = 0,
   smart = { read_cmds = 0, write_cmds = 0, read_blocks = 0, write_blocks = 0 },
   errors = {}, error_count = 0, changed_ns = {}, power_cycles = 1, started_at = os.time(),
   aers = {}, cq_dirty = {}, ns = {},
   stats = { commands = 0, doorbells = 0, shadow_tails = 0 },
   exec_admin = admin.exec, exec_io = nvio.exec,
}, Ctrl)
queues.init(c, opts.queues)
nvio.init(c, 2 ^ MDTS * 4096)
admin.reset_features(c)

for k = 1, opts.namespaces do
   local st, err
   if opts.backing then
      st, err = store.file(k == 1 and opts.backing or opts.backing .. "." .. k, opts.size)
      if not st then error("nvme: " .. err, 0) end
   else
      st = store.ram(opts.size)
   end
   local nguid = {}
   for i = 1, 16 do nguid[i] = (i * 37 + k * 101 + #opts.serial) % 256 end
   nguid[16] = k
   local ns = { id = k, store = st, nguid = nguid }
   c:set_format(ns, 0)
   c.ns[k] = ns
end

---------------------------------------------------------------------------
-- The device.

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
c.dev = dev

dev:on_start(function(d)
   c.regs = d.bar[0].u32
   c.enabled = false
   c.ready = false
   c:reset_state()
   regs.power_on(c)
end)

local REG = regs.REG
dev:on_write(0, { REG.INTMS, 8 }, function(_, off, value) regs.intm_written(c, off, value) end)
dev:on_write(0, REG.CC, function() regs.cc_written(c) end)
dev:on_write(0, REG.NSSR, function(_, _, value) regs.nssr_written(c, value) end)
dev:on_write(0, { REG.DOORBELLS, 0x1000 }, function(_, off, value) queues.doorbell(c, off, value) end)

-- Stopping the host is a surprise removal for the driver: CSTS.CFS tells it the
-- controller is gone, so it skips the queue teardown that nobody would answer.
local stop_device = dev.stop
function dev.stop(d)
   if d.state == "started" and c.regs then
      regs.fatal(c)
      local st, k = c.stats, d:counters() or {}
      c:log(("%d commands, %d doorbell writes, %d tails taken from shadow doorbells, "
         .. "%d trapped writes, %d interrupts")
         :format(st.commands, st.doorbells, st.shadow_tails, k.trap_writes or 0,
            k.irqs_delivered or 0))
   end
   return stop_device(d)
end

dev.nvme = { ctrl = c, options = opts, regs = regs, admin = admin, io = nvio, queues = queues,
   store = store }
return dev
