-- SPDX-License-Identifier: MIT
-- The REPL's sessions on the sim: command parsing, Lua evaluation and
-- multi-line chunks, completion candidates, peek/poke/cfg/dma helpers, watch
-- and break through the tap, and reload keeping state.
local ffi = require("ffi")
local pciem = require("pciem")
local sim = require("pciem.sim")
local session = require("pciem.repl.session")
local helper = require("helper")

pcall(ffi.cdef, [[
int pciem_spec_pipe(int fds[2]) __asm__("pipe");
long pciem_spec_write(int fd, const void *buf, unsigned long n) __asm__("write");
long pciem_spec_read(int fd, void *buf, unsigned long n) __asm__("read");
int pciem_spec_close(int fd) __asm__("close");
]])

local MAP = {
   name = "toy", bar = 0,
   registers = {
      { name = "CTRL", offset = 0x0, section = "1.1", title = "Control", fields = {
         { name = "EN", bits = 0 }, { name = "MODE", bits = { 4, 6 } } } },
      { name = "STATUS", offset = 0x4, fields = { { name = "RDY", bits = 0 } } },
      { name = "DATA", offset = 0x8 },
   },
}

local SCRIPT = [[
local pciem = require("pciem")
local reload = require("pciem.repl.reload")
local state = reload.keep("state", function() return { writes = 0 } end)
local dev = pciem.device {
   name = "toy", vendor = 0x1234, device = 0x77,
   bars = { [0] = { size = 4096, policy = { { 0x8, 4, "sync" } } } },
}
dev.regmap = %s
dev:on_write(0, 0x0, function(d, _, v)
   state.writes = state.writes + 1
   d.bar[0].u32[1] = v %% 2		-- STATUS.RDY follows CTRL.EN
end)
dev:on_read(0, 0x8, function() return state.writes * %d end)
return dev
]]

local function map_src()
   return [[{ name = "toy", bar = 0, registers = {
      { name = "CTRL", offset = 0x0, fields = { { name = "EN", bits = 0 }, { name = "MODE", bits = { 4, 6 } } } },
      { name = "STATUS", offset = 0x4, fields = { { name = "RDY", bits = 0 } } },
      { name = "DATA", offset = 0x8 } } }]]
end

local function write_script(path, factor, broken)
   local f = assert(io.open(path, "w"))
   f:write(SCRIPT:format(map_src(), factor))
   if broken then f:write("\nlocal x = = 1\n") end
   f:close()
end

-- A started toy device, its OS side, and a session whose output is collected.
local function setup()
   local path = os.tmpname() .. ".lua"
   write_script(path, 1)
   local dev = require("pciem.repl.reload").load(path)
   assert(dev:start("sim"))
   local osim = sim.new(dev)
   osim:enable_memory()
   local out = {}
   local s = session.new(dev, { script = path, args = {},
      out = function(t) out[#out + 1] = t end,
      err = function(t) out[#out + 1] = "ERR " .. t end })
   local function run(line)
      for i = #out, 1, -1 do out[i] = nil end
      local prompt = s:input(line)
      return table.concat(out, "\n"), prompt
   end
   return { dev = dev, osim = osim, s = s, run = run, path = path, out = out }
end

local function teardown(t)
   if not t then return end
   t.s:close()
   t.osim:close()
   if t.dev.state == "started" then t.dev:stop() end
   os.remove(t.path)
end

describe("repl command parsing", function()
   it("tells commands from Lua", function()
      assert.are.equal("peek", (session.parse_command("peek 0 0x10")))
      assert.are.equal("regs", (session.parse_command("regs")))
      assert.are.equal("break", (session.parse_command("break CC.EN 0->1")))
      assert.is_nil(session.parse_command("regs()"))
      assert.is_nil(session.parse_command("peek(0, 0x10)"))
      assert.is_nil(session.parse_command("c = 1"))
      assert.is_nil(session.parse_command("help.x"))
      assert.is_nil(session.parse_command("dev:irq(1)"))
      assert.is_nil(session.parse_command("print(1)"))
   end)
end)

describe("a repl session", function()
   local t
   after_each(function() teardown(t); t = nil end)

   it("evaluates expressions and statements, with hex for numbers", function()
      t = setup()
      assert.are.equal("3", (t.run("1 + 2")))
      assert.are.equal("28 (0x1c)", (t.run("0x1c")))
      assert.are.equal("", (t.run("x = 40")))
      assert.are.equal("42 (0x2a)", (t.run("x + 2")))
      assert.are.equal('"toy"', (t.run("dev.name")))
      local out = t.run("error('boom')")
      assert.is_truthy(out:find("^ERR .*boom"), out)
      assert.is_falsy(out:find("traceback", 1, true), out)
      out = t.run("local = 1")
      assert.is_truthy(out:find("^ERR repl:1:"), out)
   end)

   it("waits for the rest of an incomplete chunk, and Ctrl-C forgets it", function()
      t = setup()
      local out, prompt = t.run("function f(a)")
      assert.are.equal("", out)
      assert.are.equal(session.MORE, prompt)
      out, prompt = t.run("  return a * 2")
      assert.are.equal(session.MORE, prompt)
      out, prompt = t.run("end")
      assert.are.equal(session.PROMPT, prompt)
      assert.are.equal("14 (0xe)", (t.run("f(7)")))
      local _, p2 = t.run("for i = 1, 2 do")
      assert.are.equal(session.MORE, p2)
      assert.are.equal(session.PROMPT, t.s:cancel())
      assert.are.equal("5", (t.run("5")))
   end)

   it("shows registers by name with decoded fields, and writes fields", function()
      t = setup()
      t.dev.bar[0].u32[0] = 0x31
      local out = t.run("CTRL")
      assert.is_truthy(out:find("CTRL     bar0+0x0    = 0x00000031  EN=1 MODE=3", 1, true), out)
      assert.are.equal("3", (t.run("CTRL.MODE")))
      t.run("CTRL.MODE = 5")
      assert.are.equal(0x51, t.dev.bar[0].u32[0])
      out = t.run("regs")
      assert.is_truthy(out:find("STATUS", 1, true) and out:find("DATA", 1, true), out)
      out = t.run("NOPE.X")
      assert.is_truthy(out:find("^ERR"), out)
   end)

   it("peeks and pokes the BAR at every width, reads config space and DMA", function()
      t = setup()
      t.run("poke 0 0x10 4 0x11223344")
      assert.are.equal("0x11223344  (287454020)", (t.run("peek 0 0x10")))
      assert.are.equal("0x44  (68)", (t.run("peek 0 0x10 1")))
      assert.are.equal("0x1122  (4386)", (t.run("peek 0 0x12 2")))
      t.run("poke 0 0x18 8 0x0001020305060708")
      assert.are.equal(0x05060708, t.dev.bar[0].u32[6])
      assert.are.equal(0x00010203, t.dev.bar[0].u32[7])
      t.run("poke 0 0x20 1 0xab")
      assert.are.equal(0xab, t.dev.bar[0].u8[0x20])
      t.run("poke 0 0x22 2 0xbeef")
      assert.are.equal(0xbeef, t.dev.bar[0].u16[0x11])
      assert.are.equal("0x1234", (t.run("cfg 0 2")))
      assert.are.equal("0x0077", (t.run("cfg 2 2")))
      assert.is_truthy(t.run("cfg"):find("id 1234:0077", 1, true))
      local addr, mem = t.osim:alloc(4096)
      t.osim:bus_master(true)
      ffi.copy(mem, "abcd")
      local out = t.run(("dma 0x%x 16"):format(addr))
      assert.is_truthy(out:find("61 62 63 64 ", 1, true) and out:find("|abcd", 1, true), out)
      out = t.run("peek 3 0")
      assert.is_truthy(out:find("^ERR peek: BAR 3 is not mapped"), out)
      out = t.run("poke 0 0x10 3 1")
      assert.is_truthy(out:find("^ERR"), out)
   end)

   it("completes commands, helpers, registers, fields and API names", function()
      t = setup()
      local function cands(line) return table.concat((t.s:complete(line)), " ") end
      local p = " " .. cands("p") .. " "
      assert.is_truthy(p:find(" peek poke ", 1, true), p)
      assert.is_truthy(p:find(" print ", 1, true), p)
      assert.is_falsy(p:find("regs", 1, true), p)
      assert.are.equal("CTRL", cands("CT"))
      assert.are.equal("CTRL.EN", cands("CTRL.E"))
      assert.are.equal("STATUS.RDY", cands("x = STATUS.R"))
      assert.is_truthy(cands("dev:irq"):find("dev:irq", 1, true))
      assert.is_truthy(cands("dev:wat"):find("dev:watch_fd", 1, true))
      assert.is_truthy(cands("watch C"):find("CTRL.MODE", 1, true))
      assert.are.equal("list load", cands("faults l"))
      local list, start = t.s:complete("print(CTRL.M")
      assert.are.equal("CTRL.MODE", list[1])
      assert.are.equal(7, start)
   end)

   it("watches a register: each access is printed to the session that asked", function()
      t = setup()
      local out = t.run("watch CTRL")
      assert.is_truthy(out:find("watch 1: CTRL", 1, true), out)
      for i = #t.out, 1, -1 do t.out[i] = nil end
      t.osim:mmio_write(0, 0x0, 4, 0x31)
      t.osim:mmio_write(0, 0x10, 4, 7)		-- not watched
      t.osim:step()
      local seen = table.concat(t.out, "\n")
      assert.is_truthy(seen:find("[watch 1] #", 1, true), seen)
      assert.is_truthy(seen:find("write bar0+0x0 (CTRL) = 0x00000031  EN=1 MODE=3", 1, true), seen)
      assert.is_falsy(seen:find("0x10", 1, true), seen)
      t.run("unwatch 1")
      for i = #t.out, 1, -1 do t.out[i] = nil end
      t.osim:mmio_write(0, 0x0, 4, 0)
      t.osim:step()
      assert.are.equal(0, #t.out)
      assert.is_nil(t.dev._repl_debug.tap)
   end)

   it("breaks on CTRL.EN 0->1 inside the access and continues from a control fd", function()
      t = setup()
      local out = t.run("break CTRL.EN 0->1")
      assert.is_truthy(out:find("break 1:", 1, true), out)
      -- the control fd: a pipe whose line is fed to the session while paused
      local fds = ffi.new("int[2]")
      assert(ffi.C.pciem_spec_pipe(fds) == 0)
      local served = {}
      local buf = ffi.new("char[64]")
      local w = t.dev:watch_fd(fds[0], function()
         local n = ffi.C.pciem_spec_read(fds[0], buf, 64)
         local line = ffi.string(buf, n):gsub("\n$", "")
         served[#served + 1] = { line = line, paused = t.dev._repl_debug.paused ~= nil,
            handled = t.dev.bar[0].u32[1] }
         t.s:input(line)
      end)
      t.osim:mmio_write(0, 0x0, 4, 0x10)	-- EN stays 0: no break
      t.osim:step()
      assert.are.equal(0, #served)
      -- the line waits in the pipe; the access is taken first and pauses
      ffi.C.pciem_spec_write(fds[1], "continue\n", 9)
      t.osim:mmio_write(0, 0x0, 4, 0x11)	-- EN 0 -> 1: paused, served, resumed
      t.osim:step()
      assert.are.equal(1, #served)
      assert.is_true(served[1].paused)
      assert.are.equal(0, served[1].handled)	-- the handler had not run yet
      assert.are.equal(1, t.dev.bar[0].u32[1])	-- it ran after continue
      local seen = table.concat(t.out, "\n")
      assert.is_truthy(seen:find("[break 1] CTRL write: CTRL.EN 0->1", 1, true), seen)
      assert.is_truthy(seen:find("continuing", 1, true), seen)
      t.osim:mmio_write(0, 0x0, 4, 0x11)	-- 1 -> 1: no break
      t.osim:step()
      assert.are.equal(1, #served)
      t.dev:unwatch_fd(w)
      ffi.C.pciem_spec_close(fds[0]); ffi.C.pciem_spec_close(fds[1])
   end)

   it("takes a Lua predicate as a break condition and reports a bad one", function()
      t = setup()
      local out = t.run("break a.kind == 'write' and a.offset == 0x10 and a.value == 9")
      assert.is_truthy(out:find("break 1:", 1, true), out)
      out = t.run("break a.offset ==")
      assert.is_truthy(out:find("^ERR break:"), out)
      t.run("unbreak all")
      assert.is_nil(t.dev._repl_debug.tap)
   end)

   it("reloads the script keeping its state; a syntax error keeps the old handlers", function()
      t = setup()
      t.osim:mmio_write(0, 0x0, 4, 1)
      t.osim:mmio_write(0, 0x0, 4, 0)
      assert.are.equal(2, t.osim:mmio_read(0, 0x8, 4))		-- writes * 1
      write_script(t.path, 10)
      local out = t.run("reload")
      assert.is_truthy(out:find("reloaded", 1, true), out)
      assert.are.equal(20, t.osim:mmio_read(0, 0x8, 4))	-- same state, new handler
      t.osim:mmio_write(0, 0x0, 4, 1)
      assert.are.equal(30, t.osim:mmio_read(0, 0x8, 4))
      write_script(t.path, 100, true)
      out = t.run("reload")
      assert.is_truthy(out:find("^ERR reload: .*:%d+: .*the old handlers stay"), out)
      assert.are.equal(30, t.osim:mmio_read(0, 0x8, 4))	-- old handler still in place
   end)

   it("loads, lists and removes fault plans; misuse gets the usage", function()
      t = setup()
      local out = t.run("faults frob")
      assert.is_truthy(out:find("^ERR .*faults"), out)
      if not pcall(require, "pciem.faults") then return end
      local plan = os.tmpname() .. ".lua"
      local f = assert(io.open(plan, "w"))
      f:write([[return { name = "ones", quiet = true, faults = { { name = "data",
         match = { mmio = { bar = 0, offset = 0x8, access = "read" } }, action = "allones" } } }]])
      f:close()
      out = t.run("faults load " .. plan)
      assert.is_truthy(out:find("plan 1 'ones' loaded", 1, true), out)
      assert.are.equal(0xffffffff, t.osim:mmio_read(0, 0x8, 4))
      out = t.run("faults list")
      assert.is_truthy(out:find("plan 1 'ones': 1 fired", 1, true), out)
      out = t.run("faults remove 1")
      assert.is_truthy(out:find("removed", 1, true), out)
      assert.are.equal(0, t.osim:mmio_read(0, 0x8, 4))
      assert.are.equal("no fault plans loaded", (t.run("faults list")))
      out = t.run("faults load /nonexistent/plan.lua")
      assert.is_truthy(out:find("^ERR faults load:"), out)
      os.remove(plan)
   end)
end)

local _ = pciem and helper and MAP
