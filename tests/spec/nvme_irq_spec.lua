-- SPDX-License-Identifier: MIT
-- devices/nvme.lua's interrupts: MSI-X per queue with masking (PBA), INTx when
-- the driver enables no MSI-X, INTMS/INTMC masking INTx, CQs without IEN.
local bit = require("bit")
local ffi = require("ffi")
local pciem = require("pciem")
local nvmehost = require("pciem.nvmehost")
local fx = require("nvme_fixture")

local nit = it

local dev, osim, h

local function start(...)
   dev, osim, h = fx.start(...)
end

local function stop()
   fx.stop(dev, osim, h)
   dev, osim, h = nil, nil, nil
end

-- Submit one read of block 0 on qid and let the controller run, without
-- reaping: the completion (and its interrupt) is left for the test to see.
local function read_unreaped(qid)
   local b = h:buffer(h:block_size(1))
   local cid = h:submit(qid, { opc = 0x02, nsid = 1, prp1 = b.prp1 })
   h:ring(qid)
   osim:step()
   return cid, b
end

fx.each_mode("nvme interrupts", function()
   after_each(stop)

   nit("a masked MSI-X vector leaves its PBA bit set; unmasking delivers it", function()
      start()
      assert(h:enable())
      assert.equal(2, h:create_io_queues(2, 16))
      local bs = h:block_size(1)
      osim:msix_mask(1, true)
      osim:clear_irqs()
      assert.is_true(h:write(1, 0, 1, ("m"):rep(bs), { qid = 1 }).ok)
      assert.equal(0, #osim:irqs())
      assert.is_true(osim:msix_pending(1))
      osim:msix_mask(1, false)
      local irqs = osim:irqs()
      assert.equal(1, #irqs)
      assert.equal(1, irqs[1].vector)
      assert.is_false(osim:msix_pending(1))
   end)

   nit("a CQ created without IEN completes with no interrupt", function()
      start()
      assert(h:enable())
      assert.equal("success", h:set_features(0x07, 0x00010001).name)
      assert.equal("success", h:create_cq(1, 16, { vector = 1, ien = false }).name)
      assert.equal("success", h:create_sq(1, 16).name)
      h:block_size(1) -- its Identify interrupts on the admin vector: before the clear
      osim:clear_irqs()
      assert.is_truthy(h:read(1, 0, 1))
      assert.equal(0, #osim:irqs())
   end)

   local function intx_ready()
      start()
      assert(h:enable({ msix = false }))
      assert.equal(1, h:create_io_queues(1, 16))
      osim:intx_disable(false)
   end

   nit("without MSI-X, INTx follows unconsumed completions and INTMS masks it", function()
      intx_ready()
      local cid, b = read_unreaped(1)
      assert.is_true(osim:intx())
      -- consumed: the CQ head doorbell brings the line down
      assert.equal("success", assert(h:wait(1, cid)).name)
      osim:step()
      assert.is_false(osim:intx())
      h:free(b)
      -- masked by INTMS while a completion waits
      h:wr32(nvmehost.reg.INTMS, 1)
      osim:step()
      cid, b = read_unreaped(1)
      assert.is_false(osim:intx())
      assert.equal("success", assert(h:wait(1, cid)).name)
      h:free(b)
   end)

   nit("INTMC brings INTx back for completions that arrived while masked", function()
      intx_ready()
      h:wr32(nvmehost.reg.INTMS, 1)
      osim:step()
      local cid, b = read_unreaped(1)
      assert.is_false(osim:intx())
      h:wr32(nvmehost.reg.INTMC, 1)
      osim:step()
      assert.is_true(osim:intx())
      assert.equal("success", assert(h:wait(1, cid)).name)
      osim:step()
      assert.is_false(osim:intx())
      h:free(b)
   end)

   nit("a full CQ holds completions until the host frees entries", function()
      start()
      assert(h:enable())
      assert.equal(1, h:create_io_queues(1, 4))
      local bs = h:block_size(1)
      -- 3 usable entries per queue of 4: keep the SQ fed over several wraps
      for round = 1, 6 do
         local bufs, cids = {}, {}
         for i = 1, 3 do
            bufs[i] = h:buffer(bs)
            ffi.copy(bufs[i].p, ("%d"):format(round * 10 + i):rep(bs):sub(1, bs), bs)
            cids[i] = h:submit(1, { opc = 0x01, nsid = 1, prp1 = bufs[i].prp1, cdw10 = i })
         end
         h:ring(1)
         for i = 1, 3 do
            assert.equal("success", assert(h:wait(1, cids[i])).name)
            h:free(bufs[i])
         end
      end
      assert.equal(("63"):rep(bs):sub(1, bs), (h:read(1, 3, 1)))
   end)
end)
