-- SPDX-License-Identifier: MIT
-- DMA on the sim backend, with the kernel's checks: simulated host memory,
-- refusals (bus mastering off, not RAM, bad fields), `done` bytes, large
-- and scatter-gather transfers, counters.
local ffi = require("ffi")
local sim_host = require("sim_host")
local C = require("pciem.ffi").C

local FROM, TO = C.PCIEM_DMA_FROM_HOST, C.PCIEM_DMA_TO_HOST
local EPERM, ENXIO, EINVAL, EFAULT = -1, -6, -22, -14

local done = ffi.new("uint64_t[1]")

local function started()
   local host, os = assert(sim_host.new())
   os:enable_memory()
   os:bus_master(true)
   return host, os
end

-- One contiguous transfer through the scatter-gather entry point.
local function dma(host, dir, addr, buf, len)
   local seg = ffi.new("struct pciem_dma_seg[1]")
   seg[0].bus_addr = addr
   seg[0].user_addr = ffi.cast("uintptr_t", buf)
   seg[0].length = len
   local rc = C.pciem_ffi_dma(host.dev._cdev, dir, seg, 1, done)
   return rc, tonumber(done[0])
end

local function err(host)
   return ffi.string(C.pciem_ffi_dev_error(host.dev._cdev))
end

-- A deterministic byte pattern.
local function fill(p, len, seed)
   for i = 0, len - 1 do p[i] = (i * 7 + seed) % 251 end
end

local function same(a, b, len)
   return ffi.string(a, len) == ffi.string(b, len)
end

describe("sim dma: host memory", function()
   it("hands out zeroed regions at distinct bus addresses with gaps between", function()
      local host, os = started()
      local a, pa = os:alloc(100)
      local b = os:alloc(4096)
      assert.are.equal(0, pa[0] + pa[99])
      assert.is_true(b >= a + 4096 + 4096)	-- a page of "not RAM" after each region
      assert.is_nil(os:mem(a + 4096, 1))
      assert.is_truthy(os:mem(b, 4096))
      os:free(a)
      assert.is_nil(os:mem(a, 1))
      assert.has_error(function() os:free(a) end)
      host:stop()
   end)
end)

describe("sim dma: transfers", function()
   it("reads and writes host memory at bus addresses", function()
      local host, os = started()
      local addr, p = os:alloc(8192)
      fill(p, 8192, 3)
      local buf = ffi.new("uint8_t[?]", 8192)
      local rc, n = dma(host, FROM, addr, buf, 8192)
      assert.are.same({ 0, 8192 }, { rc, n })
      assert.is_true(same(buf, p, 8192))
      fill(buf, 100, 9)
      rc, n = dma(host, TO, addr + 1000, buf, 100)
      assert.are.same({ 0, 100 }, { rc, n })
      assert.is_true(same(buf, p + 1000, 100))
      local c = os:counters()
      assert.are.same({ 8192, 100, 0 }, { c.dma_bytes_from_host, c.dma_bytes_to_host, c.dma_errors })
      host:stop()
   end)

   it("moves 16 MiB in one call", function()
      local host, os = started()
      local size = 16 * 1024 * 1024
      local addr, p = os:alloc(size)
      local src = ffi.new("uint8_t[?]", size)
      fill(src, 65536, 1)
      for off = 65536, size - 1, 65536 do ffi.copy(src + off, src, 65536) end
      src[size - 1] = 0xee
      local rc, n = dma(host, TO, addr, src, size)
      assert.are.same({ 0, size }, { rc, n })
      assert.are.equal(0xee, p[size - 1])
      assert.is_true(same(src, p, size))
      host:stop()
   end)

   it("runs a scatter-gather list in order, across regions", function()
      local host, os = started()
      local a, pa = os:alloc(4096)
      local b, pb = os:alloc(4096)
      local buf = ffi.new("uint8_t[?]", 300)
      fill(buf, 300, 5)
      local segs = ffi.new("struct pciem_dma_seg[3]")
      local plan = { { a + 10, 0, 100 }, { b + 4000, 100, 96 }, { a + 2000, 196, 104 } }
      for i, s in ipairs(plan) do
         segs[i - 1].bus_addr = s[1]
         segs[i - 1].user_addr = ffi.cast("uintptr_t", buf + s[2])
         segs[i - 1].length = s[3]
      end
      assert.are.equal(0, C.pciem_ffi_dma(host.dev._cdev, TO, segs, 3, done))
      assert.are.equal(300, tonumber(done[0]))
      assert.is_true(same(pa + 10, buf, 100))
      assert.is_true(same(pb + 4000, buf + 100, 96))
      assert.is_true(same(pa + 2000, buf + 196, 104))
      host:stop()
   end)
end)

describe("sim dma: refusals", function()
   it("refuses while Bus Master Enable is off, and works again once it is on", function()
      local host, os = started()
      local addr = os:alloc(64)
      local buf = ffi.new("uint8_t[64]")
      os:bus_master(false)
      local rc, n = dma(host, FROM, addr, buf, 64)
      assert.are.same({ EPERM, 0 }, { rc, n })
      assert.is_truthy(err(host):find("Bus Master Enable is off", 1, true))
      os:bus_master(true)
      assert.are.equal(0, (dma(host, FROM, addr, buf, 64)))
      assert.are.equal(1, os:counters().dma_errors)
      host:stop()
   end)

   it("refuses addresses that are not RAM: 0, a BAR, a gap, beyond a region", function()
      local host, os = started()
      local addr = os:alloc(4096)
      local buf = ffi.new("uint8_t[8192]")
      for _, a in ipairs({ 0, os:bar_addr(0), addr + 4096, 0xfee00000 }) do
         local rc, n = dma(host, FROM, a, buf, 16)
         assert.are.same({ ENXIO, 0 }, { rc, n })
         assert.is_truthy(err(host):find("is not RAM", 1, true))
      end
      -- a transfer running off the end stops there and says how far it got
      local rc, n = dma(host, TO, addr + 4000, buf, 200)
      assert.are.same({ ENXIO, 96 }, { rc, n })
      assert.are.equal(96, os:counters().dma_bytes_to_host)
      assert.are.equal(5, os:counters().dma_errors)
      host:stop()
   end)

   it("refuses bad segments before copying anything", function()
      local host, os = started()
      local addr = os:alloc(4096)
      local buf = ffi.new("uint8_t[16]")
      local segs = ffi.new("struct pciem_dma_seg[2]")
      local function try(i, bus, user, len)
         segs[0].bus_addr, segs[0].user_addr, segs[0].length = addr, ffi.cast("uintptr_t", buf), 16
         segs[i].bus_addr, segs[i].user_addr, segs[i].length = bus, user, len
         return C.pciem_ffi_dma(host.dev._cdev, FROM, segs, 2, done), tonumber(done[0]), err(host)
      end
      local ubuf = ffi.cast("uintptr_t", buf)
      local rc, n, msg = try(1, addr, ubuf, 0)
      assert.are.same({ EINVAL, 0 }, { rc, n })
      assert.is_truthy(msg:find("seg 1: length is 0", 1, true))
      rc, n, msg = try(1, -1ULL, ubuf, 2)
      assert.are.same({ EINVAL, 0 }, { rc, n })
      assert.is_truthy(msg:find("overflows", 1, true))
      rc, n, msg = try(1, addr, -1ULL, 2)
      assert.are.same({ EINVAL, 0 }, { rc, n })
      assert.is_truthy(msg:find("user_addr", 1, true))
      rc, n = try(1, addr, 0xffff888000000000ULL, 16)	-- a kernel address
      assert.are.same({ EFAULT, 0 }, { rc, n })
      assert.are.equal(0, os:counters().dma_bytes_from_host)
      assert.are.equal(4, os:counters().dma_errors)
      -- direction and segment count are checked too
      assert.are.equal(EINVAL, C.pciem_ffi_dma(host.dev._cdev, 3, segs, 1, done))
      assert.are.equal(EINVAL, C.pciem_ffi_dma(host.dev._cdev, FROM, segs, 0, done))
      assert.are.equal(EINVAL, C.pciem_ffi_dma(host.dev._cdev, FROM, segs, C.PCIEM_DMA_MAX_SEGS + 1, done))
      host:stop()
   end)
end)
