-- SPDX-License-Identifier: MIT
-- devices/nvme.lua on the sim backend, driven by lua/pciem/nvmehost.lua:
-- registers, enable/disable/shutdown, identify, queues, data round trips,
-- controller reset in the middle of I/O. Error statuses: nvme_errors_spec.lua.
local bit = require("bit")
local ffi = require("ffi")
local pciem = require("pciem")
local nvmehost = require("pciem.nvmehost")
local fx = require("nvme_fixture")

local band, rshift = bit.band, bit.rshift


local nit = it

local pattern = require("helper").pattern

local dev, osim, h

local function start(...)
   dev, osim, h = fx.start(...)
   return h
end

local function stop()
   fx.stop(dev, osim, h)
   dev, osim, h = nil, nil, nil
end

-- Enabled, with n I/O queue pairs.
local function ready(n, ...)
   start(...)
   assert(h:enable())
   if n and n > 0 then assert.equal(n, h:create_io_queues(n, 32)) end
   return h
end

fx.each_mode("nvme controller", function()
   after_each(stop)

   describe("description and options", function()
      nit("is an NVMe class device with a 16 KiB 64-bit BAR0 and MSI-X at 0x2000", function()
         start()
         assert.equal(0x010802, rshift(dev:cfg_read(0x08, 4), 8))
         assert.equal(16384, dev.bar[0].size)
         assert.equal(64, dev.desc.bars[0].bits)
         local l = osim:msix_layout()
         assert.equal(0, l.table_bar)
         assert.equal(0x2000, l.table)
         assert.equal(0x3000, l.pba)
         local ids = {}
         for _, c in ipairs(dev:capabilities()) do ids[c.id] = true end
         assert.is_true(ids[0x10] and ids[0x01] and ids[0x11])
      end)

      nit("rejects an unknown option and a bad size with a message naming it", function()
         local ok, err = pcall(pciem.load, fx.SCRIPT, "bogus=1")
         assert.is_false(ok)
         assert.matches("bogus", err)
         ok, err = pcall(pciem.load, fx.SCRIPT, "size=lots")
         assert.is_false(ok)
         assert.matches("size", err)
         ok, err = pcall(pciem.load, fx.SCRIPT, "namespaces=0")
         assert.is_false(ok)
         assert.matches("namespaces", err)
      end)
   end)

   describe("registers", function()
      nit("has CAP and VS as NVMe 1.4 describes them", function()
         start()
         osim:enable_memory()
         local cap = h:cap()
         assert.is_true(cap.mqes >= 2)
         assert.is_true(cap.cqr)
         assert.equal(0, cap.dstrd)
         assert.equal(1, band(cap.css, 1))
         assert.is_true(cap.to > 0)
         assert.equal(0, cap.mpsmin)
         assert.equal(0x00010400, h:rd32(nvmehost.reg.VS))
         assert.is_false(h:csts().rdy)
      end)

      nit("sets CSTS.RDY on CC.EN and clears it on disable", function()
         start()
         assert(h:enable())
         assert.is_true(h:csts().rdy)
         assert(h:disable())
         assert.is_false(h:csts().rdy)
         assert(h:enable())
         assert.is_true(h:csts().rdy)
      end)

      nit("reports a normal shutdown through CSTS.SHST", function()
         ready(1)
         assert.is_true(h:write(1, 0, 1, pattern(512, 1)).ok)
         assert(h:shutdown())
         assert.equal(2, h:csts().shst)
         -- a reset after shutdown brings the controller back
         assert(h:enable())
         assert.equal(0, h:csts().shst)
      end)

      nit("NSSR with 'NVMe' resets the subsystem and sets CSTS.NSSRO, when CAP.NSSRS", function()
         ready(1)
         if not h:cap().nssrs then return end
         h:wr32(nvmehost.reg.NSSR, 0x12345678)
         osim:step()
         assert.is_true(h:csts().rdy)
         h:wr32(nvmehost.reg.NSSR, 0x4e564d65)
         osim:step()
         local c = h:csts()
         assert.is_false(c.rdy)
         assert.is_true(c.nssro)
         assert(h:enable())
         assert.equal(1, h:create_io_queues(1, 16))
         assert.is_truthy(h:read(1, 0, 1))
      end)

      nit("keeps INTMS/INTMC as a mask that reads back", function()
         ready(0)
         h:wr32(nvmehost.reg.INTMS, 0x1)
         osim:step()
         assert.equal(1, band(h:rd32(nvmehost.reg.INTMS), 1))
         h:wr32(nvmehost.reg.INTMC, 0x1)
         osim:step()
         assert.equal(0, band(h:rd32(nvmehost.reg.INTMS), 1))
      end)
   end)

   describe("identify", function()
      nit("describes the controller", function()
         ready(0, "namespaces=2")
         local id = assert(h:identify_ctrl())
         assert.is_true(id.vid ~= 0)
         assert.is_true(#id.sn > 0 and #id.mn > 0)
         assert.equal(2, id.nn)
         assert.equal(0x66, id.sqes)
         assert.equal(0x44, id.cqes)
         assert.equal(0x00010400, id.ver)
      end)

      nit("describes a namespace of the configured size", function()
         ready(0, "size=16M")
         local ns = assert(h:identify_ns(1))
         assert.equal(16 * 2 ^ 20, ns.nsze * ns.lba_size)
         assert.equal(ns.nsze, ns.ncap)
      end)

      nit("lists the active namespaces and their descriptors", function()
         ready(0, "namespaces=2")
         assert.same({ 1, 2 }, h:active_ns(0))
         assert.same({ 2 }, h:active_ns(1))
         local d, c = h:identify(3, 1)
         assert.equal("success", c.name)
         assert.is_true(d:byte(1) ~= 0) -- NIDT of the first descriptor
      end)
   end)

   describe("I/O", function()
      nit("creates the queues it is asked for", function()
         start("queues=4")
         assert(h:enable())
         assert.equal(4, h:create_io_queues(4, 16))
      end)

      nit("writes, reads back and compares, over one page, two pages and a PRP list", function()
         ready(2)
         local bs = h:block_size(1)
         for _, n in ipairs({ 1, 8, 16, 64 }) do
            for _, off in ipairs({ 0, 512 }) do
               local data = pattern(n * bs, n + off)
               local c = assert(h:write(1, 10, n, data, { qid = 1, offset = off }))
               assert.equal("success", c.name)
               local got, rc = h:read(1, 10, n, { qid = 2, offset = off })
               assert.equal("success", rc.name)
               assert.is_true(got == data, ("%d blocks, offset %d"):format(n, off))
               assert.equal("success", h:compare(1, 10, n, data).name)
            end
         end
      end)

      nit("reads zeroes where nothing was written, and after Write Zeroes and deallocate", function()
         ready(1)
         local bs = h:block_size(1)
         assert.equal(("\0"):rep(4 * bs), (h:read(1, 1000, 4)))
         assert.is_true(h:write(1, 50, 4, pattern(4 * bs, 2)).ok)
         assert.equal("success", h:write_zeroes(1, 50, 2).name)
         assert.equal(("\0"):rep(2 * bs) .. pattern(4 * bs, 2):sub(2 * bs + 1), (h:read(1, 50, 4)))
         assert.equal("success", h:deallocate(1, { { 52, 2 } }).name)
         assert.equal(("\0"):rep(4 * bs), (h:read(1, 50, 4)))
         assert.equal("success", h:flush(1).name)
      end)

      nit("keeps namespaces apart", function()
         ready(1, "namespaces=2")
         local bs = h:block_size(1)
         assert.is_true(h:write(1, 0, 1, pattern(bs, 1)).ok)
         assert.is_true(h:write(2, 0, 1, pattern(bs, 2)).ok)
         assert.equal(pattern(bs, 1), (h:read(1, 0, 1)))
         assert.equal(pattern(bs, 2), (h:read(2, 0, 1)))
      end)

      nit("interrupts on each I/O queue's own MSI-X vector", function()
         ready(3)
         local bs = h:block_size(1)
         for q = 1, 3 do
            osim:clear_irqs()
            assert.is_true(h:write(1, q, 1, pattern(bs, q), { qid = q }).ok)
            local irqs = osim:irqs()
            assert.is_true(#irqs >= 1)
            assert.equal(q, irqs[#irqs].vector)
         end
      end)

      nit("completes a batch of commands rung with one doorbell", function()
         ready(1)
         local bs = h:block_size(1)
         local bufs, cids = {}, {}
         for i = 1, 16 do
            bufs[i] = h:buffer(bs)
            ffi.copy(bufs[i].p, pattern(bs, i), bs)
            cids[i] = h:submit(1, { opc = 0x01, nsid = 1, prp1 = bufs[i].prp1, cdw10 = 200 + i })
         end
         h:ring(1)
         for i = 1, 16 do
            assert.equal("success", assert(h:wait(1, cids[i])).name)
            h:free(bufs[i])
         end
         for i = 1, 16 do assert.equal(pattern(bs, i), (h:read(1, 200 + i, 1))) end
      end)

      nit("counts data units in the SMART log", function()
         ready(1)
         local bs = h:block_size(1)
         local before = assert(h:get_log_page(0x02, 512))
         for i = 0, 9 do assert.is_true(h:write(1, i * 8, 8, pattern(8 * bs, i)).ok) end
         local after = assert(h:get_log_page(0x02, 512))
         local function u64at(s, o) return nvmehost.le(ffi.cast("const uint8_t *", s), o, 8) end
         -- Host Write Commands (offset 80) and Data Units Written (offset 48)
         assert.equal(u64at(before, 80) + 10, u64at(after, 80))
         assert.is_true(u64at(after, 48) > u64at(before, 48))
      end)
   end)

   describe("controller reset", function()
      nit("in the middle of I/O: the controller comes back and works", function()
         ready(2)
         local bs = h:block_size(1)
         assert.is_true(h:write(1, 7, 1, pattern(bs, 7)).ok)
         -- commands in flight on both queues, then CC.EN cleared before the
         -- controller has answered them
         local bufs = {}
         for i = 1, 8 do
            bufs[i] = h:buffer(bs)
            ffi.copy(bufs[i].p, pattern(bs, 100 + i), bs)
            h:submit(1 + i % 2, { opc = 0x01, nsid = 1, prp1 = bufs[i].prp1, cdw10 = 300 + i })
         end
         h:ring(1)
         h:ring(2)
         assert(h:disable())
         assert.is_false(h:csts().rdy)
         -- the old queues are gone: a doorbell to them does nothing harmful
         h:wr32(nvmehost.reg.DB + 8, 3)
         osim:step()
         assert.is_false(h:csts().cfs)
         assert(h:enable())
         assert.equal(2, h:create_io_queues(2, 32))
         assert.equal(pattern(bs, 7), (h:read(1, 7, 1)))
         assert.is_true(h:write(1, 8, 1, pattern(bs, 8), { qid = 2 }).ok)
         assert.equal(pattern(bs, 8), (h:read(1, 8, 1)))
         for i = 1, 8 do h:free(bufs[i]) end
      end)
   end)

   describe("backing file", function()
      nit("keeps data across a restart", function()
         local path = os.tmpname()
         os.remove(path)
         ready(1, "size=4M", "backing=" .. path)
         local bs = h:block_size(1)
         assert.is_true(h:write(1, 33, 2, pattern(2 * bs, 33)).ok)
         assert.equal("success", h:flush(1).name)
         stop()
         ready(1, "size=4M", "backing=" .. path)
         assert.equal(pattern(2 * bs, 33), (h:read(1, 33, 2)))
         stop()
         os.remove(path)
      end)
   end)
end)
