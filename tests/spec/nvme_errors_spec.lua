-- SPDX-License-Identifier: MIT
-- devices/nvme.lua answers every malformed command with the status NVMe 1.4
-- prescribes (section 4.6.1.2 and each command's own status list), never a
-- hang or a silent success; after each, the controller still works.
local bit = require("bit")
local pciem = require("pciem")
local nvmehost = require("pciem.nvmehost")
local fx = require("nvme_fixture")

local bor, lshift = bit.bor, bit.lshift
local S = nvmehost.status


local nit = it

local dev, osim, h

local function ready(n, ...)
   dev, osim, h = fx.ready(n, 16, ...)
end

local function stop()
   fx.stop(dev, osim, h)
   dev, osim, h = nil, nil, nil
end

-- The status of a completion as its name, for readable failures.
local function st(c, err)
   assert(c, err)
   return c.name
end

local function name(s) return nvmehost.status_name(s) end

-- The controller still answers a good command afterwards.
local function still_works()
   assert.equal("success", select(2, h:identify(1, 0)).name)
end

fx.each_mode("nvme errors", function()
   after_each(stop)

   describe("generic", function()
      nit("Invalid Opcode for an unknown admin and I/O opcode", function()
         ready(1)
         assert.equal(name(S.invalid_opcode), st(h:admin { opc = 0x7e }))
         assert.equal(name(S.invalid_opcode), st(h:io(1, { opc = 0x7e, nsid = 1 })))
         still_works()
      end)

      nit("sets Do Not Retry on a permanent error and not on success; More stays clear", function()
         ready(1)
         local bad = h:admin { opc = 0x7e }
         assert.is_true(bad.dnr)
         assert.is_false(bad.more)
         local _, good = h:identify(1, 0)
         assert.is_true(good.ok, good.name)
         assert.is_false(good.dnr)
      end)

      nit("Invalid Field in Command for an unknown CNS, feature and reserved bits", function()
         ready(0)
         assert.equal(name(S.invalid_field), select(2, h:identify(0x7f, 0)).name)
         assert.equal(name(S.invalid_field), st(h:get_features(0x7f)))
         -- PSDT 11b is reserved
         assert.equal(name(S.invalid_field), st(h:admin { opc = 0x06, psdt = 3, cdw10 = 1 }))
         still_works()
      end)

      nit("Invalid Namespace or Format for an I/O to a namespace that does not exist", function()
         ready(1)
         local none, c = h:read(1, 0, 1, { cmd = { nsid = 99 } })
         assert.is_nil(none)
         assert.equal(name(S.invalid_namespace), c.name)
         assert.equal(name(S.invalid_namespace), st(h:io(1, { opc = 0x02, nsid = 0 })))
         assert.equal(name(S.invalid_namespace), select(2, h:identify(0, 99)).name)
      end)

      nit("LBA Out of Range past the end of the namespace", function()
         ready(1, "size=1M")
         local ns = assert(h:identify_ns(1))
         local none, c = h:read(1, ns.nsze - 1, 2)
         assert.is_nil(none)
         assert.equal(name(S.lba_out_of_range), c.name)
         assert.equal(name(S.lba_out_of_range), st(h:write_zeroes(1, ns.nsze, 1)))
         assert.equal(name(S.lba_out_of_range),
            st(h:write(1, ns.nsze, 1, ("x"):rep(ns.lba_size))))
         -- the last block itself is fine
         assert.equal("success", select(2, h:read(1, ns.nsze - 1, 1)).name)
      end)

      nit("Data Transfer Error for a PRP that points at no memory", function()
         ready(1)
         local bs = h:block_size(1)
         -- 0x1000 is not RAM on the sim bus
         assert.equal(name(S.data_transfer_error),
            st(h:io(1, { opc = 0x02, nsid = 1, prp1 = 0x1000, cdw10 = 0 })))
         assert.equal(name(S.data_transfer_error),
            st(h:io(1, { opc = 0x01, nsid = 1, prp1 = 0x1000, cdw10 = 0 })))
         -- a PRP list entry that points nowhere
         local b = h:buffer(4 * 4096)
         b.list_p[2], b.list_p[3] = 0x2000, 0
         assert.equal(name(S.data_transfer_error), st(h:io(1, { opc = 0x02, nsid = 1,
            prp1 = b.prp1, prp2 = b.prp2, cdw12 = 4 * 4096 / bs - 1 })))
         h:free(b)
         assert.equal("success", select(2, h:read(1, 0, 1)).name)
      end)

      nit("Invalid PRP Offset for a PRP list entry that is not page aligned", function()
         ready(1)
         local bs = h:block_size(1)
         local b = h:buffer(3 * 4096)
         b.list_p[0] = b.list_p[0] + 8
         local c = assert(h:io(1, { opc = 0x02, nsid = 1, prp1 = b.prp1, prp2 = b.prp2,
            cdw12 = 3 * 4096 / bs - 1 }))
         assert.is_false(c.ok)
         assert.is_truthy(c.status == S.invalid_prp_offset or c.status == S.invalid_field,
            c.name)
         h:free(b)
      end)

      nit("Compare Failure when the data differ", function()
         ready(1)
         local bs = h:block_size(1)
         assert.is_true(h:write(1, 3, 1, ("a"):rep(bs)).ok)
         assert.equal(name(S.compare_failure), st(h:compare(1, 3, 1, ("a"):rep(bs - 1) .. "b")))
         assert.equal("success", st(h:compare(1, 3, 1, ("a"):rep(bs))))
      end)

      nit("a transfer over MDTS is Invalid Field in Command", function()
         ready(1)
         local id = assert(h:identify_ctrl())
         if id.mdts == 0 then return end -- no limit advertised
         local bs = h:block_size(1)
         local max = 4096 * 2 ^ id.mdts
         local nlb = max / bs + 1
         if nlb > 65536 then return end
         assert.equal(name(S.invalid_field), st(h:io(1, { opc = 0x02, nsid = 1,
            prp1 = 0x100000000, prp2 = 0x100000000, cdw12 = nlb - 1 })))
      end)
   end)

   describe("queue management", function()
      nit("Invalid Queue Identifier for queue 0, beyond the maximum, or in use", function()
         ready(1, "queues=2")
         assert.equal(name(S.invalid_qid), st(h:create_cq(0, 16)))
         assert.equal(name(S.invalid_qid), st(h:create_cq(1, 16)))
         assert.equal(name(S.invalid_qid), st(h:create_cq(100, 16)))
         assert.equal(name(S.invalid_qid), st(h:create_sq(1, 16)))
         assert.equal(name(S.invalid_qid), st(h:delete_sq(0)))
         assert.equal(name(S.invalid_qid), st(h:delete_sq(2)))
         assert.equal(name(S.invalid_qid), st(h:delete_cq(2)))
         assert.equal(name(S.invalid_qid), st(h:delete_cq(0)))
      end)

      nit("Invalid Queue Size for a queue of one entry or above CAP.MQES", function()
         ready(0)
         local mqes = h:cap().mqes
         assert.equal(name(S.invalid_queue_size), st(h:create_cq(1, 1)))
         if mqes < 65536 then
            assert.equal(name(S.invalid_queue_size), st(h:create_cq(1, mqes + 1)))
         end
         assert.equal("success", st(h:create_cq(1, 16)))
         assert.equal(name(S.invalid_queue_size), st(h:create_sq(1, 1)))
      end)

      nit("Completion Queue Invalid for an SQ on a CQ that does not exist", function()
         ready(0)
         assert.equal(name(S.cq_invalid), st(h:create_sq(1, 16, { cqid = 1 })))
         assert.equal(name(S.cq_invalid), st(h:create_sq(1, 16, { cqid = 0 })))
      end)

      nit("Invalid Queue Deletion for a CQ an SQ still uses; fine after the SQ goes", function()
         ready(1)
         assert.equal(name(S.invalid_queue_deletion), st(h:delete_cq(1)))
         assert.equal("success", st(h:delete_sq(1)))
         assert.equal("success", st(h:delete_cq(1)))
         -- and the pair can be made again
         assert.equal("success", st(h:create_cq(1, 16)))
         assert.equal("success", st(h:create_sq(1, 16)))
         assert.equal("success", select(2, h:read(1, 0, 1)).name)
      end)

      nit("Invalid Interrupt Vector for a CQ vector beyond the MSI-X table", function()
         ready(0)
         local vectors = osim:msix_layout().vectors
         assert.equal(name(S.invalid_vector), st(h:create_cq(1, 16, { vector = vectors })))
      end)

      nit("Invalid Field for a physically non-contiguous queue (PC = 0) when CAP.CQR", function()
         ready(0)
         if not h:cap().cqr then return end
         assert.equal(name(S.invalid_field), st(h:create_cq(1, 16, { pc = false })))
      end)
   end)

   describe("log pages and features", function()
      nit("Invalid Log Page for an unsupported log identifier", function()
         ready(0)
         assert.equal(name(S.invalid_log_page), select(2, h:get_log_page(0x7f, 512)).name)
      end)

      nit("Number of Queues: 0xffff is Invalid Field, a valid count is granted", function()
         ready(0)
         assert.equal(name(S.invalid_field), st(h:set_features(0x07, 0xffff)))
         assert.equal("success", st(h:set_features(0x07, bor(lshift(1, 16), 1))))
         local c = assert(h:get_features(0x07))
         assert.equal("success", c.name)
      end)
   end)
end)
