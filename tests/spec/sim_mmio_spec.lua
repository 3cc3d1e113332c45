-- SPDX-License-Identifier: MIT
-- The sim backend's trapped accesses, as pciem.ko applies them: bus decode,
-- MEMORY/POSTED/SYNC policies, the sync deadline, event order and seq
-- numbers, a full ring, config write events, counters.
local h = require("helper")
local sim_host = require("sim_host")
local C = require("pciem.ffi").C

local READ, WRITE, CFG = 2, 1, 3

local function started(raw)
   local host, os = assert(sim_host.new(nil, raw))
   os:enable_memory()
   host:step()
   host:clear()
   return host, os
end

local function delta(before, after)
   local d = {}
   for k, v in pairs(after) do
      if v ~= before[k] then d[k] = v - before[k] end
   end
   return d
end

describe("sim mmio: decode", function()
   it("decodes BAR accesses only with Memory Space Enable on", function()
      local host, os = assert(sim_host.new())
      local before = os:counters()
      local v, st = os:mmio_read(0, 0x10, 4)
      assert.are.equal(0xffffffff, v)
      assert.are.equal("abort", st)
      assert.are.equal("abort", os:mmio_write(0, 0x10, 4, 1))
      assert.are.same({}, delta(before, os:counters()))
      assert.are.equal(0, host.dev.bar[0]:read32(0x10))
      os:enable_memory()
      assert.are.equal("ok", os:mmio_write(0, 0x10, 4, 7))
      assert.are.equal(7, host.dev.bar[0]:read32(0x10))
      host:stop()
   end)

   it("follows the BAR registers when the OS moves a BAR", function()
      local host, os = started()
      local old = os:bar_addr(0)
      host.dev.bar[0]:write32(0x40, 0xabcd)
      os:cfg_write(0x10, 4, 0x90000000)
      assert.are.equal(0x90000000, os:bar_addr(0))
      assert.are.equal(0xabcd, (os:mem_read(0x90000040, 4)))
      local v, st = os:mem_read(old + 0x40, 4)
      assert.are.equal("abort", st)
      assert.are.equal(0xffffffff, v)
      host:stop()
   end)

   it("decodes the 64-bit BAR through both registers", function()
      local host, os = started()
      local addr = os:bar_addr(2)
      assert.is_true(addr >= 2 ^ 32)
      host.dev.bar[2]:write64(0x100, 0x1122334455667788ULL)
      local v = os:mem_read(addr + 0x100, 8)
      assert.are.equal(0x1122334455667788ULL, v)
      host:stop()
   end)

   it("aborts accesses no BAR decodes and accesses running past a BAR", function()
      local host, os = started()
      local _, st = os:mem_read(os:bar_addr(0) + 4096, 4)
      assert.are.equal("abort", st)
      _, st = os:mem_read(0x1000, 2)
      assert.are.equal("abort", st)
      host:stop()
   end)

   it("refuses bad widths and misaligned addresses as misuse", function()
      local host, os = started()
      assert.has_error(function() os:mmio_read(0, 0x10, 3) end)
      assert.has_error(function() os:mmio_read(0, 0x11, 4) end, "mmio_read: mmio: address 0x"
         .. ("%x"):format(os:bar_addr(0) + 0x11) .. " is not 4-byte aligned")
      host:stop()
   end)
end)

describe("sim mmio: policies", function()
   it("starts POSTED: writes land and queue events, reads come from the shadow", function()
      local host, os = started()
      local before = os:counters()
      host.dev.bar[0]:write32(0x20, 0x55)
      assert.are.equal(0x55, (os:mmio_read(0, 0x20, 4)))
      assert.are.equal(0, #host.events)
      os:mmio_write(0, 0x24, 2, 0xbeef)
      assert.are.equal(0xbeef, host.dev.bar[0]:read16(0x24))
      host:step()
      assert.are.equal(1, #host.events)
      local ev = host.events[1]
      assert.are.same({ WRITE, 0, 0x24, 2, 0 }, { ev.kind, ev.bar, ev.offset, ev.width, ev.flags })
      assert.are.equal(0xbeefULL, ev.value)
      assert.are.same({ trap_reads = 1, trap_writes = 1, memory_accesses = 1, events = 1 },
         delta(before, os:counters()))
      host:stop()
   end)

   it("MEMORY: reads and writes stay in the shadow, no event", function()
      local host, os = started()
      assert(host:policy(0, 0x100, 0x100, "memory"))
      local before = os:counters()
      os:mmio_write(0, 0x104, 4, 0x12345678)
      assert.are.equal(0x12345678, (os:mmio_read(0, 0x104, 4)))
      assert.are.equal(0x34, (os:mmio_read(0, 0x106, 1)))
      host:step()
      assert.are.equal(0, #host.events)
      assert.are.same({ trap_reads = 2, trap_writes = 1, memory_accesses = 3 },
         delta(before, os:counters()))
      host:stop()
   end)

   it("SYNC read: the value is what the host's read handler computes", function()
      local host, os = started()
      assert(host:policy(0, 0x40, 4, "sync"))
      local n = 0
      host:on_read(0, 0x40, function() n = n + 1; return 100 + n end)
      host.dev.bar[0]:write32(0x40, 0xdead)
      assert.are.equal(101, (os:mmio_read(0, 0x40, 4)))
      assert.are.equal(102, (os:mmio_read(0, 0x40, 4)))
      local ev = host.events[1]
      assert.are.same({ READ, 0, 0x40, 4, 0, 0 },
         { ev.kind, ev.bar, ev.offset, ev.width, ev.flags, ev.answer_slot })
      local c = os:counters()
      assert.are.equal(2, c.sync_roundtrips)
      assert.are.equal(0, c.sync_timeouts)
      host:stop()
   end)

   it("SYNC read answers are cut to the access width", function()
      local host, os = started()
      assert(host:policy(0, 0x40, 8, "sync"))
      host:on_read(0, 0x40, function() return 0x1ff end)
      assert.are.equal(0xff, (os:mmio_read(0, 0x40, 1)))
      host:on_read(0, 0x40, function() return 0x0102030405060708ULL end)
      assert.are.equal(0x0102030405060708ULL, (os:mmio_read(0, 0x40, 8)))
      host:stop()
   end)

   it("SYNC write: lands in the shadow, event flagged sync, acknowledged", function()
      local host, os = started()
      assert(host:policy(0, 0x80, 4, "sync"))
      assert.are.equal("ok", os:mmio_write(0, 0x80, 4, 9))
      assert.are.equal(9, host.dev.bar[0]:read32(0x80))
      local ev = host.events[1]
      assert.are.same({ WRITE, C.PCIEM_EVENT_F_SYNC, 9 },
         { ev.kind, ev.flags, tonumber(ev.value) })
      assert.are.equal(1, os:counters().sync_roundtrips)
      host:stop()
   end)

   it("an access straddling two ranges gets the stricter policy", function()
      local host, os = started()
      assert(host:policy(0, 0x200, 4, "memory"))
      assert(host:policy(0, 0x204, 4, "sync"))
      host:on_read(0, 0x200, function() return 0xaabbccdd11223344ULL end)
      assert.are.equal(0xaabbccdd11223344ULL, (os:mmio_read(0, 0x200, 8)))
      assert.are.equal(READ, host.events[1].kind)
      host:clear()
      -- memory next to posted: a write over both queues an event
      assert(host:policy(0, 0x204, 4, "posted"))
      os:mmio_write(0, 0x200, 8, 1)
      host:step()
      assert.are.equal(1, #host.events)
      host:stop()
   end)

   it("policies change while the device runs", function()
      local host, os = started()
      os:mmio_write(0, 0x300, 4, 1)
      assert(host:policy(0, 0x300, 4, "memory"))
      os:mmio_write(0, 0x300, 4, 2)
      assert(host:policy(0, 0x300, 4, "posted"))
      os:mmio_write(0, 0x300, 4, 3)
      host:step()
      assert.are.equal(2, #host.events)
      assert.are.same({ 1, 3 }, { tonumber(host.events[1].value), tonumber(host.events[2].value) })
      host:stop()
   end)

   it("refuses bad policy requests, naming what is wrong", function()
      local host = started()
      local function refused(bar, off, len, pol, pattern, errno)
         local ok, err, rc = host:policy(bar, off, len, pol)
         assert.is_nil(ok)
         assert.is_truthy(err:find(pattern), err)
         if errno then assert.are.equal(errno, rc) end
      end
      refused(1, 0, 4, "memory", "not described", -22)
      refused(3, 0, 4, "memory", "BAR 3", -22)	-- the upper half of 64-bit BAR 2
      refused(0, 2, 4, "memory", "aligned")
      refused(0, 0, 0, "memory", "empty")
      refused(0, 0xffc, 8, "memory", "outside")
      refused(0, 0x800, 4, "sync", "MSI%-X table or PBA", -22)
      refused(0, 0x7fc, 8, "memory", "MSI%-X table or PBA", -22)
      refused(0, 0xc00, 4, "posted", "MSI%-X table or PBA", -22)
      host:stop()
   end)

   it("keeps the MSI-X table and PBA memory-like whatever the policies", function()
      local host, os = started()
      assert(host:policy(0, 0, 0x800, "sync"))
      local before = os:counters()
      os:mmio_write(0, 0x808, 4, 0x1234)
      assert.are.equal(0x1234, (os:mmio_read(0, 0x808, 4)))
      host:step()
      assert.are.equal(0, #host.events)
      assert.are.same({ trap_reads = 1, trap_writes = 1, memory_accesses = 2 },
         delta(before, os:counters()))
      host:stop()
   end)
end)

describe("sim mmio: sync deadline", function()
   it("an unanswered sync read reads all-ones, is counted, and the device keeps working", function()
      local host, os = started()
      assert(host:policy(0, 0x40, 4, "sync"))
      host:on_read(0, 0x40, function() return 5 end)
      host.silent = true
      local v, st = os:mmio_read(0, 0x40, 4)
      assert.are.same({ 0xffffffff, "timeout" }, { v, st })
      v = os:mmio_read(0, 0x40, 2)
      assert.are.equal(0xffff, v)
      local c = os:counters()
      assert.are.same({ 2, 0 }, { c.sync_timeouts, c.sync_roundtrips })
      host.silent = false
      assert.are.same({ 5, "ok" }, { os:mmio_read(0, 0x40, 4) })
      assert.are.equal(1, os:counters().sync_roundtrips)
      -- posted traffic never waited
      assert.are.equal("ok", os:mmio_write(0, 0x10, 4, 1))
      host:stop()
   end)

   it("a host that never runs: sync reads and writes time out", function()
      local host, os = started()
      assert(host:policy(0, 0x40, 8, "sync"))
      os:set_host(false)
      local v, st = os:mmio_read(0, 0x40, 8)
      assert.are.equal(0xffffffffffffffffULL, v)
      assert.are.equal("timeout", st)
      assert.are.equal("timeout", os:mmio_write(0, 0x40, 4, 3))
      -- a sync write lands before it waits, as in the kernel
      assert.are.equal(3, host.dev.bar[0]:read32(0x40))
      assert.are.equal(2, os:counters().sync_timeouts)
      host:stop()
   end)

   it("ignores a late answer to a timed-out read", function()
      local host, os = started()
      assert(host:policy(0, 0x40, 4, "sync"))
      local n = 0
      host:on_read(0, 0x40, function() n = n + 1; return n end)
      os:set_host(false)
      assert.are.equal(0xffffffff, (os:mmio_read(0, 0x40, 4)))
      host:step()	-- the late host answers seq 1 now
      assert.are.equal(1, n)
      os:set_host(function() host:step() end)
      assert.are.same({ 2, "ok" }, { os:mmio_read(0, 0x40, 4) })
      host:stop()
   end)

   it("a host that raises ends the wait: the error reaches the caller, the next access works", function()
      local host, os = started()
      assert(host:policy(0, 0x40, 4, "sync"))
      os:set_host(function() error("handler blew up", 0) end)
      assert.has_error(function() os:mmio_read(0, 0x40, 4) end, "handler blew up")
      assert.are.equal(1, os:counters().sync_timeouts)
      os:set_host(function() host:step() end)
      host:on_read(0, 0x40, function() return 8 end)
      assert.are.same({ 8, "ok" }, { os:mmio_read(0, 0x40, 4) })
      host:stop()
   end)
end)

describe("sim mmio: events", function()
   it("numbers events 1, 2, 3... in access order, config writes included", function()
      local host, os = assert(sim_host.new())
      os:enable_memory()
      assert(host:policy(0, 0x40, 4, "sync"))
      os:mmio_write(0, 0x10, 4, 1)
      os:mmio_write(0, 0x14, 1, 2)
      os:mmio_read(0, 0x40, 4)
      os:cfg_write(0x3c, 1, 0x0b)
      os:mmio_write(2, 0x18, 8, 0x0123456789abcdefULL)
      host:step()
      local got = {}
      for i, e in ipairs(host.events) do
         assert.are.equal(i, e.seq)
         got[i] = { e.kind, e.bar, e.offset, e.width }
      end
      assert.are.same({
         { CFG, 0xff, 0x04, 2 },	-- enable_memory
         { WRITE, 0, 0x10, 4 }, { WRITE, 0, 0x14, 1 }, { READ, 0, 0x40, 4 },
         { CFG, 0xff, 0x3c, 1 }, { WRITE, 2, 0x18, 8 },
      }, got)
      assert.are.equal(0x0123456789abcdefULL, host.events[6].value)
      assert.are.equal(0x0bULL, host.events[5].value)
      host:stop()
   end)

   it("loses nothing when the ring fills: the producer waits for the host", function()
      local host, os = started({ ring_entries = 64 })
      for i = 1, 1000 do os:mmio_write(0, 0x10, 4, i) end
      host:step()
      assert.are.equal(1000, #host.events)
      local first = host.events[1].seq
      for i, e in ipairs(host.events) do
         assert.are.equal(i, tonumber(e.value))
         assert.are.equal(first + i - 1, e.seq)	-- never skips
      end
      local c = os:counters()
      assert.is_true(c.ring_full_waits > 0)
      assert.are.equal(0, c.sync_timeouts)
      host:stop()
   end)

   it("a full ring with no consumer fails the access like a timeout", function()
      local host, os = started({ ring_entries = 64 })
      os:set_host(false)
      local before = os:counters()
      for i = 1, 64 do assert.are.equal("ok", os:mmio_write(0, 0x10, 4, i)) end
      assert.are.equal("timeout", os:mmio_write(0, 0x10, 4, 65))
      -- the write landed in the shadow; only its event is lost, as in the kernel
      assert.are.equal(65, host.dev.bar[0]:read32(0x10))
      assert.are.same({ ring_full_waits = 1, sync_timeouts = 1, events = 64, trap_writes = 65 },
         delta(before, os:counters()))
      -- memory-policy accesses need no room
      assert(host:policy(0, 0x100, 4, "memory"))
      assert.are.equal("ok", os:mmio_write(0, 0x100, 4, 1))
      host:step()
      assert.are.equal(64, #host.events)
      assert.are.equal("ok", os:mmio_write(0, 0x10, 4, 66))
      host:stop()
   end)

   it("refuses ring sizes and deadlines out of range before anything starts", function()
      for _, bad in ipairs({ { ring_entries = 100 }, { ring_entries = 32 }, { ring_entries = 131072 },
         { sync_timeout_us = 10000001 } }) do
         local host, err = sim_host.new(nil, bad)
         assert.is_nil(host)
         assert.is_truthy(err:find(next(bad), 1, true), err)
      end
      local host = assert(sim_host.new(nil, { ring_entries = 65536, sync_timeout_us = 1 }))
      host:stop()
   end)
end)
