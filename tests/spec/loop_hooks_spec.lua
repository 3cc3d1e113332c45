-- SPDX-License-Identifier: MIT
-- Event-loop hooks: native handlers deferring to a Lua fallback, library
-- symbols, idle points (native and Lua), taps that see every access, and
-- watched file descriptors served by the loop.
local ffi = require("ffi")
local pciem = require("pciem")
local helper = require("helper")
local C = require("pciem.ffi").C

local LIB = helper.top .. "/build/spec/loop_hooks_native.so"
local WRITE, READ, CFG = 1, 2, 3
local F_SYNC = 1

pcall(ffi.cdef, [[
int pciem_spec_pipe(int fds[2]) __asm__("pipe");
long pciem_spec_write(int fd, const void *buf, unsigned long n) __asm__("write");
long pciem_spec_read(int fd, void *buf, unsigned long n) __asm__("read");
int pciem_spec_close(int fd) __asm__("close");
]])

local function private(with_lib)
   local dev = pciem.device(helper.desc(function(d)
      d.bars = { [0] = { size = 4096 } }
   end))
   dev._private_ring = 1024
   local lib = with_lib and dev:load_native(LIB) or nil
   return dev, lib
end

local function inject(dev, kind, off, width, value, flags)
   local seq = C.pciem_ffi_loop_inject(dev._loop, kind, 0, off, width, value or 0, flags or 0)
   assert(seq > 0, ffi.string(C.pciem_ffi_dev_error(dev._cdev)))
   return tonumber(seq)
end

local seq_out, val_out = ffi.new("uint64_t[1]"), ffi.new("uint64_t[1]")
local function answer0(dev)
   assert(C.pciem_ffi_loop_answer(dev._loop, 0, seq_out, val_out) == 0)
   return tonumber(seq_out[0]), tonumber(val_out[0])
end

-- served, deferred, idles, last (struct hooks_state in loop_hooks_native.c)
local function native_state(lib)
   return ffi.cast("uint64_t *", assert(lib:symbol("hooks_state")))
end

describe("event loop hooks: native deferral", function()
   it("runs the Lua fallback for the events the native handler defers, in ring order", function()
      local dev, lib = private(true)
      local got = {}
      assert(dev:on_write(0, { 0x40, 8 }, lib.even_write, function(_, off, v)
         got[#got + 1] = ("fallback %x=%d"):format(off, v)
      end))
      assert(dev:on_write(0, 0x10, function(_, _, v) got[#got + 1] = "lua " .. v end))
      assert(dev:start("sim"))
      local st = native_state(lib)
      inject(dev, WRITE, 0x10, 4, 1)
      inject(dev, WRITE, 0x40, 4, 2)
      inject(dev, WRITE, 0x44, 4, 3)
      inject(dev, WRITE, 0x10, 4, 4)
      inject(dev, WRITE, 0x40, 4, 6)
      dev:step()
      assert.are.same({ "lua 1", "fallback 44=3", "lua 4" }, got)
      assert.are.equal(2, tonumber(st[0]))
      assert.are.equal(1, tonumber(st[1]))
      assert.are.equal(6, tonumber(st[3]))
      dev:stop()
   end)

   it("answers a deferred read with the fallback's value", function()
      local dev, lib = private(true)
      assert(dev:on_read(0, { 0x48, 8 }, lib.even_read, function() return 0x77 end))
      assert(dev:on_write(0, { 0x40, 8 }, lib.even_write))
      assert(dev:start("sim"))
      inject(dev, WRITE, 0x40, 4, 8)
      local seq = inject(dev, READ, 0x48, 4, 0, F_SYNC)
      dev:step()
      assert.are.same({ seq, 1 }, { answer0(dev) })
      seq = inject(dev, READ, 0x4c, 4, 0, F_SYNC)
      dev:step()
      assert.are.same({ seq, 0x77 }, { answer0(dev) })
      dev:stop()
   end)

   it("counts a deferred event without a fallback as served", function()
      local dev, lib = private(true)
      assert(dev:on_write(0, { 0x40, 8 }, lib.even_write))
      assert(dev:start("sim"))
      inject(dev, WRITE, 0x40, 4, 5)
      assert.are.equal(0, dev:step())
      assert.are.equal(1, tonumber(native_state(lib)[1]))
      assert.are.equal(0, dev:loop_stats().lua_events)
      dev:stop()
   end)

   it("refuses a fallback without a native handler, and a fallback that is not a function", function()
      local dev, lib = private(true)
      assert.has_error(function() dev:on_write(0, 0x40, function() end, function() end) end,
         "on_write: a fallback must be a Lua function after a native handler")
      assert.has_error(function() dev:on_read(0, 0x40, lib.even_read, 5) end,
         "on_read: a fallback must be a Lua function after a native handler")
   end)

   it("gives a loaded library's symbols and context, and says why it cannot", function()
      local dev, lib = private(true)
      local sym, err = lib:symbol("hooks_state")
      assert.is_nil(sym)
      assert.matches("is not loaded", err)
      assert(dev:start("sim"))
      assert.is_not_nil(lib:symbol("hooks_state"))
      assert.is_not_nil(lib:context())
      sym, err = lib:symbol("no_such_symbol")
      assert.is_nil(sym)
      assert.matches("exports no 'no_such_symbol'", err)
      assert.has_error(function() lib:symbol(3) end, "symbol: a name expected")
      dev:stop()
   end)
end)

describe("event loop hooks: native scatter-gather DMA", function()
   it("moves several segments each way in one call of nd->dma_sg", function()
      local dev, lib = private(true)
      assert(dev:on_write(0, { 0x60, 8 }, lib.swap_write))
      assert(dev:start("sim"))
      local os = require("pciem.sim").new(dev)
      os:enable_memory()
      os:bus_master(true)
      local addr, p = os:alloc(0x200)
      for i = 0, 7 do p[i] = i + 1; p[0x100 + i] = i + 0x41 end
      inject(dev, WRITE, 0x60, 8, addr)
      dev:step()
      assert.are.equal("ABCDEFGH", ffi.string(p, 8))
      assert.are.same({ 1, 8 }, { p[0x100], p[0x107] })
      assert.are.equal(0, dev:loop_stats().native_errors)
      os:bus_master(false)		-- refused now: the handler's error is counted
      inject(dev, WRITE, 0x60, 8, addr)
      dev:step()
      assert.are.equal(1, dev:loop_stats().native_errors)
      os:close()
      dev:stop()
   end)
end)

describe("event loop hooks: idle points", function()
   it("runs native and Lua idle hooks once per drained burst", function()
      local dev, lib = private(true)
      local idles = 0
      local fn = dev:on_idle(function() idles = idles + 1 end)
      assert(dev:on_write(0, { 0x40, 8 }, lib.even_write))
      assert(dev:start("sim"))
      local st = native_state(lib)
      for i = 1, 5 do inject(dev, WRITE, 0x40, 4, i * 2) end
      dev:step()
      assert.are.equal(1, idles)
      assert.are.equal(1, tonumber(st[2]))
      dev:step()
      assert.are.equal(1, idles)
      inject(dev, WRITE, 0x40, 4, 2)
      dev:step()
      assert.are.equal(2, idles)
      dev:off_idle(fn)
      inject(dev, WRITE, 0x40, 4, 2)
      dev:step()
      assert.are.equal(2, idles)
      assert.are.equal(3, tonumber(st[2]))
      dev:stop()
   end)
end)

describe("event loop hooks: taps", function()
   it("sees every access, native and default ones included, before and after", function()
      local dev, lib = private(true)
      local seen = {}
      assert(dev:on_write(0, { 0x40, 8 }, lib.even_write))
      assert(dev:on_write(0, 0x10, function() seen[#seen + 1] = "handler" end))
      assert(dev:start("sim"))
      dev.bar[0].u32[0x20 / 4] = 0x1234
      dev:tap(function(_, a) seen[#seen + 1] = ("before %s %x"):format(a.kind, a.offset) end,
         function(_, a) seen[#seen + 1] = ("after %s %x %s"):format(a.kind, a.offset, tostring(a.value)) end)
      inject(dev, WRITE, 0x40, 4, 2)
      inject(dev, WRITE, 0x10, 4, 9)
      inject(dev, READ, 0x20, 4, 0, F_SYNC)
      inject(dev, CFG, 0x4, 2, 6)
      dev:step()
      assert.are.same({ "before write 40", "after write 40 2", "before write 10", "handler",
         "after write 10 9", "before read 20", "after read 20 4660", "before cfg 4",
         "after cfg 4 6" }, seen)
      assert.are.equal(2, tonumber(native_state(lib)[3]))
      assert.are.same({ 0x1234 }, { select(2, answer0(dev)) })
      dev:stop()
   end)

   it("drops, overrides a read's answer and a write's value; untap restores C dispatch", function()
      local dev = private()
      local got = {}
      assert(dev:on_write(0, 0x10, function(_, _, v) got[#got + 1] = v end))
      assert(dev:on_read(0, 0x20, function() return 5 end))
      assert(dev:start("sim"))
      local t = dev:tap(function(_, a)
         if a.kind == "write" and a.value == 1 then return "drop" end
         if a.kind == "write" and a.value == 2 then return 20 end
         if a.kind == "read" then return 0xabc end
      end)
      inject(dev, WRITE, 0x10, 4, 1)
      inject(dev, WRITE, 0x10, 4, 2)
      inject(dev, WRITE, 0x10, 4, 3)
      dev:step()
      assert.are.same({ 20, 3 }, got)
      local seq = inject(dev, READ, 0x20, 4, 0, F_SYNC)
      dev:step()
      assert.are.same({ seq, 0xabc }, { answer0(dev) })
      dev:untap(t)
      local before = dev:loop_stats().lua_events
      inject(dev, WRITE, 0x30, 4, 1)		-- no handler: served in C again
      seq = inject(dev, READ, 0x20, 4, 0, F_SYNC)
      dev:step()
      assert.are.same({ seq, 5 }, { answer0(dev) })
      assert.are.equal(before + 1, dev:loop_stats().lua_events)
      assert.has_error(function() dev:tap(5) end, "tap: before and/or after must be functions")
      dev:stop()
   end)
end)

describe("event loop hooks: reads see earlier handlers' shadow changes", function()
   for _, tapped in ipairs({ false, true }) do
      it(("a default read and a nil-returning handler answer the shadow as it is now%s")
         :format(tapped and " (tapped)" or ""), function()
         local dev = private()
         assert(dev:on_write(0, 0x10, function(d, _, v)
            d.bar[0].u32[0x14 / 4] = v * 2
            d.bar[0].u32[0x18 / 4] = v * 3
         end))
         assert(dev:on_read(0, 0x18, function() return nil end))
         assert(dev:start("sim"))
         if tapped then dev:tap(nil, function() end) end
         inject(dev, WRITE, 0x10, 4, 3)
         local seq = inject(dev, READ, 0x14, 4, 0, F_SYNC)
         dev:step()
         assert.are.same({ seq, 6 }, { answer0(dev) })
         inject(dev, WRITE, 0x10, 4, 5)
         seq = inject(dev, READ, 0x18, 4, 0, F_SYNC)
         dev:step()
         assert.are.same({ seq, 15 }, { answer0(dev) })
         dev:stop()
      end)
   end
end)

describe("event loop hooks: watched fds", function()
   it("serves a readable fd from step(), run() and serve_fds(), and stops after unwatch", function()
      local fds = ffi.new("int[2]")
      assert(ffi.C.pciem_spec_pipe(fds) == 0)
      local rfd, wfd = fds[0], fds[1]
      local dev = private()
      local buf = ffi.new("char[16]")
      local reads = {}
      local w = dev:watch_fd(rfd, function(_, fd)
         local n = ffi.C.pciem_spec_read(fd, buf, 16)
         reads[#reads + 1] = ffi.string(buf, n)
      end)
      assert(dev:start("sim"))
      assert.are.equal(0, dev:serve_fds(0))
      ffi.C.pciem_spec_write(wfd, "0", 1)
      dev:step()
      assert.are.same({ "0" }, reads)
      reads = {}
      ffi.C.pciem_spec_write(wfd, "a", 1)
      assert.are.equal(1, dev:serve_fds(100))
      ffi.C.pciem_spec_write(wfd, "b", 1)
      assert.are.equal(0, dev:run(50))
      assert.are.same({ "a", "b" }, reads)
      dev:unwatch_fd(w)
      ffi.C.pciem_spec_write(wfd, "c", 1)
      assert.are.equal(0, dev:run(10))
      assert.are.same({ "a", "b" }, reads)
      assert.has_error(function() dev:watch_fd(-1, function() end) end,
         "watch_fd: a file descriptor number expected")
      dev:stop()
      ffi.C.pciem_spec_close(rfd)
      ffi.C.pciem_spec_close(wfd)
   end)
end)
