-- SPDX-License-Identifier: MIT
-- devices/nvme.lua's admin command set beyond queues and identify: features,
-- log pages, AER, Abort, Keep Alive, Doorbell Buffer Config with shadow
-- doorbells, Format NVM; and SGLs on I/O.
local bit = require("bit")
local ffi = require("ffi")
local pciem = require("pciem")
local nvmehost = require("pciem.nvmehost")
local fx = require("nvme_fixture")

local band, bor, lshift = bit.band, bit.bor, bit.lshift
local S = nvmehost.status


local nit = it

local dev, osim, h

local function ready(n, ...)
   dev, osim, h = fx.ready(n, 32, ...)
end

local function stop()
   fx.stop(dev, osim, h)
   dev, osim, h = nil, nil, nil
end

local pattern = require("helper").pattern

local function st(c, err)
   assert(c, err)
   return c.name
end

local function u8(s, o) return s:byte(o + 1) end
local function le(s, o, n) return nvmehost.le(ffi.cast("const uint8_t *", s), o, n) end

fx.each_mode("nvme admin", function()
   after_each(stop)

   describe("features", function()
      -- fid, a value to set (cdw11), what Get Features reads back (dw0)
      local settable = {
         { "Arbitration", 0x01, 0x03020103, 0x03020103 },
         { "Temperature Threshold", 0x04, 0x0160, 0x0160 },
         { "Error Recovery", 0x05, 0x0010, 0x0010 },
         { "Interrupt Coalescing", 0x08, 0x0a04, 0x0a04 },
         { "Async Event Configuration", 0x0b, 0x0100, 0x0100 },
      }
      for _, f in ipairs(settable) do
         nit(f[1] .. " reads back what was set", function()
            ready(0)
            assert.equal("success", st(h:set_features(f[2], f[3])))
            local c = assert(h:get_features(f[2]))
            assert.equal("success", c.name)
            assert.equal(f[4], c.dw0)
         end)
      end

      nit("Power Management accepts power state 0 and refuses one beyond NPSS", function()
         ready(0)
         local id = assert(h:identify_ctrl())
         local npss = u8(id.raw, 263)
         assert.equal("success", st(h:set_features(0x02, 0)))
         assert.equal(0, band(assert(h:get_features(0x02)).dw0, 0x1f))
         assert.equal(nvmehost.status_name(S.invalid_field), st(h:set_features(0x02, npss + 1)))
      end)

      nit("Volatile Write Cache follows VWC", function()
         ready(0)
         local id = assert(h:identify_ctrl())
         if band(id.vwc, 1) == 1 then
            assert.equal("success", st(h:set_features(0x06, 1)))
            assert.equal(1, assert(h:get_features(0x06)).dw0)
            assert.equal("success", st(h:set_features(0x06, 0)))
            assert.equal(0, assert(h:get_features(0x06)).dw0)
         else
            assert.is_false(h:set_features(0x06, 1).ok)
         end
      end)

      nit("Interrupt Vector Configuration keeps Coalescing Disable per vector", function()
         ready(2)
         assert.equal("success", st(h:set_features(0x09, bor(lshift(1, 16), 1))))
         local c = assert(h:get_features(0x09, 1))
         assert.equal("success", c.name)
         assert.equal(bor(lshift(1, 16), 1), c.dw0)
         assert.equal(0, band(assert(h:get_features(0x09, 2)).dw0, lshift(1, 16)))
      end)

      nit("Number of Queues reports what was allocated", function()
         ready(0, "queues=4")
         local c = assert(h:set_features(0x07, bor(lshift(7, 16), 7)))
         assert.equal("success", c.name)
         assert.equal(bor(lshift(3, 16), 3), c.dw0)
         assert.equal(c.dw0, assert(h:get_features(0x07)).dw0)
      end)
   end)

   describe("log pages", function()
      nit("SMART / Health counts read and write commands", function()
         ready(1)
         local bs = h:block_size(1)
         local a = assert(h:get_log_page(0x02, 512))
         assert.is_true(h:write(1, 0, 1, pattern(bs, 1)).ok)
         assert.is_truthy(h:read(1, 0, 1))
         assert.is_truthy(h:read(1, 0, 1))
         local b = assert(h:get_log_page(0x02, 512))
         assert.equal(le(a, 64, 8) + 2, le(b, 64, 8)) -- Host Read Commands
         assert.equal(le(a, 80, 8) + 1, le(b, 80, 8)) -- Host Write Commands
         assert.is_true(le(b, 1, 2) > 0)               -- Composite Temperature (K)
      end)

      nit("Error Information records a failed command", function()
         ready(1)
         local c = assert(h:io(1, { opc = 0x02, nsid = 1, prp1 = 0x1000 }))
         assert.is_false(c.ok)
         local log = assert(h:get_log_page(0x01, 64))
         assert.is_true(le(log, 0, 8) > 0)       -- Error Count
         assert.equal(1, le(log, 8, 2))           -- Submission Queue ID
         assert.equal(c.cid, le(log, 10, 2))      -- Command ID
      end)

      nit("Firmware Slot names an active slot and its revision", function()
         ready(0)
         local log = assert(h:get_log_page(0x03, 512))
         local afi = u8(log, 0)
         local slot = band(afi, 7)
         assert.is_true(slot >= 1 and slot <= 7)
         local fr = log:sub(8 + 8 * (slot - 1) + 1, 8 + 8 * slot):gsub("[%s%z]+$", "")
         assert.equal(assert(h:identify_ctrl()).fr, fr)
      end)

      nit("Changed Namespace List answers", function()
         ready(0)
         local log, c = h:get_log_page(0x04, 4096)
         assert.equal("success", c.name)
         assert.equal(4096, #log)
      end)

      nit("Commands Supported and Effects lists Identify, Read and Write", function()
         ready(0)
         local log = assert(h:get_log_page(0x05, 4096))
         assert.equal(1, band(le(log, 4 * 0x06, 4), 1))
         assert.equal(1, band(le(log, 1024 + 4 * 0x02, 4), 1))
         assert.equal(1, band(le(log, 1024 + 4 * 0x01, 4), 1))
         assert.equal(0, band(le(log, 4 * 0x7e, 4), 1))
      end)

      nit("a log page read from an offset matches the whole page", function()
         ready(0)
         local whole = assert(h:get_log_page(0x02, 512))
         local tail = assert(h:get_log_page(0x02, 256, nil, 256))
         assert.equal(whole:sub(257, 512):sub(1, 8), tail:sub(1, 8))
      end)
   end)

   describe("asynchronous events and abort", function()
      nit("an AER is held, and Abort ends it", function()
         ready(0)
         local cid = h:submit(0, { opc = 0x0c })
         h:ring(0)
         for _ = 1, 4 do osim:step() end
         h:reap(0)
         assert.is_nil(h.cqs[0].done[cid])
         local c = assert(h:admin { opc = 0x08, cdw10 = lshift(cid, 16) })
         assert.equal("success", c.name)
         assert.equal(0, band(c.dw0, 1))
         local aer = assert(h:wait(0, cid))
         assert.equal(nvmehost.status_name(S.aborted_by_request), aer.name)
      end)

      nit("Abort of a command that already completed says so in dw0", function()
         ready(0)
         local c = assert(h:admin { opc = 0x08, cdw10 = lshift(0x1234, 16) })
         assert.equal("success", c.name)
         assert.equal(1, band(c.dw0, 1))
      end)

      nit("more AERs than AERL + 1 is AER Limit Exceeded", function()
         ready(0)
         local id = assert(h:identify_ctrl())
         for _ = 0, id.aerl do h:submit(0, { opc = 0x0c }) end
         local over = h:submit(0, { opc = 0x0c })
         h:ring(0)
         local c = assert(h:wait(0, over))
         assert.equal(nvmehost.status_name(S.aer_limit), c.name)
      end)

      nit("Keep Alive succeeds", function()
         ready(0)
         assert.equal("success", st(h:admin { opc = 0x18 }))
      end)
   end)

   describe("doorbell buffer config", function()
      nit("refuses unaligned buffers", function()
         ready(0)
         local a = osim:alloc(8192)
         assert.equal(nvmehost.status_name(S.invalid_field),
            st(h:admin { opc = 0x7c, prp1 = a + 8, prp2 = a + 4096 }))
      end)

      nit("I/O goes on through shadow doorbells", function()
         ready(2)
         local bs = h:block_size(1)
         assert.equal("success", st(h:doorbell_buffer()))
         for i = 1, 20 do
            assert.equal("success", st(h:write(1, i, 1, pattern(bs, i), { qid = 1 + i % 2 })))
         end
         for i = 1, 20 do assert.equal(pattern(bs, i), (h:read(1, i, 1))) end
         assert.is_true(h.dbbuf.rung + h.dbbuf.skipped >= 80)
      end)
   end)

   describe("format", function()
      nit("Format NVM erases the namespace", function()
         ready(1)
         local bs = h:block_size(1)
         assert.is_true(h:write(1, 9, 1, pattern(bs, 9)).ok)
         assert.equal("success", st(h:admin { opc = 0x80, nsid = 1, cdw10 = 0 }))
         assert.equal(("\0"):rep(bs), (h:read(1, 9, 1)))
      end)

      nit("Format NVM to a format that does not exist is Invalid Format", function()
         ready(0)
         local ns = assert(h:identify_ns(1))
         assert.equal(nvmehost.status_name(S.invalid_format),
            st(h:admin { opc = 0x80, nsid = 1, cdw10 = ns.nlbaf + 1 }))
      end)
   end)

   describe("SGLs", function()
      nit("a single Data Block descriptor and a Last Segment list move the same data", function()
         ready(1)
         local id = assert(h:identify_ctrl())
         if band(id.sgls, 3) == 0 then return end
         local bs = h:block_size(1)
         local data = pattern(16 * bs, 4)
         assert.equal("success", st(h:write(1, 40, 16, data, { sgl = true })))
         assert.equal(data, (h:read(1, 40, 16)))
         local got, c = h:read(1, 40, 16, { sgl = 1000 })
         assert.equal("success", c.name)
         assert.equal(data, got)
         assert.equal("success", st(h:write(1, 80, 16, data, { sgl = 3 * bs })))
         assert.equal(data, (h:read(1, 80, 16, { sgl = true })))
      end)

      nit("an SGL shorter than the transfer is Data SGL Length Invalid", function()
         ready(1)
         local bs = h:block_size(1)
         local b = h:buffer(2 * bs, { sgl = true })
         b.sgl1.len = bs
         local c = assert(h:io(1, { opc = 0x02, nsid = 1, psdt = 1, sgl1 = b.sgl1, cdw12 = 1 }))
         assert.equal(nvmehost.status_name(S.sgl_length_invalid), c.name)
         h:free(b)
      end)

      nit("an unknown descriptor type is SGL Descriptor Type Invalid", function()
         ready(1)
         local bs = h:block_size(1)
         local b = h:buffer(bs, { sgl = true })
         b.sgl1.type = 0xe0
         local c = assert(h:io(1, { opc = 0x02, nsid = 1, psdt = 1, sgl1 = b.sgl1 }))
         assert.equal(nvmehost.status_name(S.sgl_type_invalid), c.name)
         h:free(b)
      end)
   end)
end)
