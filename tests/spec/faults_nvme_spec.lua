-- SPDX-License-Identifier: MIT
-- pciem.faults on devices/nvme.lua (sim, lua/pciem/nvmehost.lua as the driver):
-- command matchers (opcode, queue, nsid, LBA range) with error statuses,
-- swallowed commands, corrupted completions, flipped data, controller fatal
-- status, dropped interrupts, determinism, in both I/O modes.
local bit = require("bit")
local faults = require("pciem.faults")
local fx = require("nvme_fixture")

local dev, osim, h

local function ready(n, ...)
   dev, osim, h = fx.ready(n or 1, 16, ...)
end

local function stop()
   fx.stop(dev, osim, h)
   dev, osim, h = nil, nil, nil
end

local function load(p)
   p.quiet = true
   return assert(faults.load(dev, p))
end

-- Blocks `first`..`first+n-1` of namespace 1 written with a pattern per block.
local function fill(first, n)
   local bs = h:block_size(1)
   local parts = {}
   for i = first, first + n - 1 do parts[#parts + 1] = string.char(65 + i % 26):rep(bs) end
   local data = table.concat(parts)
   assert.is_true(h:write(1, first, n, data).ok)
   return data, bs
end

fx.each_mode("faults on nvme", function()
   after_each(stop)

   it("fails reads in an LBA range with a media error and leaves the rest readable", function()
      ready()
      local data, bs = fill(0, 16)
      local plan = load { faults = { { name = "bad-sectors",
         match = { nvme = { opcode = "read", nsid = 1, lba = { 4, 7 } } },
         action = { status = "unrecovered_read_error", dnr = true } } } }
      local got, c = h:read(1, 4, 1)
      assert.is_nil(got)
      assert.equal(0x281, c.status)
      -- DNR is bit 31 of the entry's dword 3 (read raw: the kit decodes it elsewhere)
      local cq = h.queues[1].cq
      local last = (cq.head + cq.depth - 1) % cq.depth
      assert.equal(1, bit.rshift(cq.p[last * 4 + 3], 31))
      got, c = h:read(1, 6, 4)		-- 6..9 overlaps
      assert.is_nil(got)
      assert.equal(0x281, c.status)
      assert.equal(data:sub(1, 4 * bs), (h:read(1, 0, 4)))
      assert.equal(data:sub(8 * bs + 1, 16 * bs), (h:read(1, 8, 8)))
      -- writes are not matched
      assert.is_true(h:write(1, 5, 1, ("z"):rep(bs)).ok)
      assert.equal(2, plan.faults[1].fired)
      assert.equal("bad-sectors", plan.log[1].name)
      assert.matches("nvme read sq 1 cid %d+ nsid 1 lba 4%+1", plan.log[1].detail)
      assert.is_true(faults.unload(dev, plan))
      assert.equal(("z"):rep(bs), (h:read(1, 5, 1)))
   end)

   it("matches admin opcodes by name, the nth one only", function()
      ready(0)
      load { faults = { { match = { nvme = { opcode = "identify" }, nth = 2 },
         action = { status = "internal_error" } } } }
      assert.equal("success", select(2, h:identify(1, 0)).name)
      assert.equal(0x006, select(2, h:identify(1, 0)).status)
      assert.equal("success", select(2, h:identify(1, 0)).name)
   end)

   it("matches a queue id and a namespace", function()
      ready(2, "namespaces=2")
      local plan = load { faults = { { match = { nvme = { queue = 2, nsid = 2 } },
         action = { status = 0x80 } } } }
      assert.is_true(h:io(1, { opc = 0x00, nsid = 2 }).ok)
      assert.is_true(h:io(2, { opc = 0x00, nsid = 1 }).ok)
      assert.equal(0x80, h:io(2, { opc = 0x00, nsid = 2 }).status)
      assert.equal(1, plan.faults[1].fired)
   end)

   it("swallows a command: it never completes, and the controller goes on", function()
      ready()
      fill(0, 1)
      local plan = load { faults = { { match = { nvme = { opcode = "read" }, times = 1 }, action = "swallow" } } }
      local cid = h:submit(1, { opc = 0x02, nsid = 1 })
      h:ring(1)
      assert.is_nil(h:wait(1, cid, 16))
      assert.is_truthy(h:read(1, 0, 1))
      assert.equal(1, plan.faults[1].fired)
   end)

   it("corrupts a completion: wrong command id, flipped dword bits", function()
      ready()
      load { faults = {
         { match = { nvme = { opcode = "flush" }, nth = 1 }, action = { corrupt = { cid = "wrong" } } },
         { match = { nvme = { opcode = "flush" }, nth = 2 }, action = { corrupt = { dw0 = 0x5a5a } } },
      } }
      local cid = h:submit(1, { opc = 0x00, nsid = 1 })
      h:ring(1)
      assert.is_nil(h:wait(1, cid, 8))
      local wrong = bit.bxor(cid, 0x8000)
      assert.is_truthy(h.queues[1].cq.done[wrong])
      local c = assert(h:io(1, { opc = 0x00, nsid = 1 }))
      assert.equal(0x5a5a, c.dw0)
   end)

   it("flips bytes of the data a read returns and of the data a write takes", function()
      ready()
      local _, bs = fill(2, 1)
      load { faults = { { match = { nvme = { opcode = "read", lba = 2 }, times = 1 },
         action = { flip = { offset = 0, count = 4 } } } } }
      local got = h:read(1, 2, 1)
      assert.equal(string.char(bit.bxor(65 + 2, 0xff)):rep(4) .. ("C"):rep(bs - 4), got)
      assert.equal(("C"):rep(bs), (h:read(1, 2, 1)))
      load { faults = { { match = { nvme = { opcode = "write" } }, action = { flip = { offset = 1, mask = 0x20 } } } } }
      assert.is_true(h:write(1, 3, 1, ("a"):rep(bs)).ok)
      assert.equal("aA" .. ("a"):rep(bs - 2), (h:read(1, 3, 1)))
   end)

   it("sets controller fatal status; a controller reset brings it back", function()
      ready()
      fill(0, 1)
      local plan = load { faults = { { match = { nvme = { opcode = "write" }, times = 1 }, action = "fatal" } } }
      local cid = h:submit(1, { opc = 0x01, nsid = 1 })
      h:ring(1)
      assert.is_nil(h:wait(1, cid, 8))
      assert.is_true(h:csts().cfs)
      assert.is_true(faults.unload(dev, plan))
      h:disable()
      assert.is_false(h:csts().cfs)
      assert.is_truthy(h:enable())
      assert.equal(1, h:create_io_queues(1, 16))
      assert.is_truthy(h:read(1, 0, 1))
   end)

   it("drops the interrupts of a queue; the driver polling its queue still sees completions", function()
      ready()
      fill(0, 1)
      osim:clear_irqs()
      local plan = load { faults = { { match = { irq = { vector = 1 } }, action = "drop" } } }
      assert.is_truthy(h:read(1, 0, 1))
      for _, e in ipairs(osim:irqs()) do assert.are_not.equal(1, e.vector) end
      assert.is_true(plan.faults[1].fired >= 1)
   end)

   -- Run the controller (its timers too) until pred() holds, sleeping between steps.
   local function eventually(pred)
      for _ = 1, 400 do
         if pred() then return true end
         faults._sleep_ms(5)
         osim:step()
      end
      return pred()
   end

   it("completes a delayed command late while the device serves other commands", function()
      ready(2)
      local _, bs = fill(0, 2)
      local plan = load { faults = { { match = { nvme = { opcode = "read", lba = 1 } },
         action = { delay = 300 } } } }
      local b = h:buffer(bs)
      local cid = h:submit(1, { opc = 0x02, nsid = 1, cdw10 = 1, prp1 = b.prp1, prp2 = b.prp2 })
      h:ring(1)
      -- meanwhile another queue is served at once
      assert.equal(("A"):rep(bs), (h:read(1, 0, 1, { qid = 2 })))
      assert.is_true(eventually(function()
         h:reap(1)
         return h.queues[1].cq.done[cid] ~= nil
      end))
      assert.is_true(h.queues[1].cq.done[cid].ok)
      assert.equal(("B"):rep(bs), require("ffi").string(b.p, bs))
      h:free(b)
      assert.equal(1, plan.faults[1].fired)
   end)

   it("forgets a delayed command when the controller resets", function()
      ready()
      fill(0, 2)
      load { faults = { { match = { nvme = { opcode = "flush" } }, action = { delay = 50, status = "internal_error" } } } }
      local cid = h:submit(1, { opc = 0x00, nsid = 1 })
      h:ring(1)
      h:disable()
      assert.is_truthy(h:enable())
      assert.equal(1, h:create_io_queues(1, 16))
      faults._sleep_ms(80)
      osim:step()
      h:reap(1)
      assert.is_nil(h.queues[1].cq.done[cid])
      assert.is_truthy(h:read(1, 0, 1))
   end)

   it("keeps every I/O in the Lua model while a plan matches NVMe commands", function()
      ready()
      local c = dev.nvme.ctrl
      local plan = load { faults = { { match = { nvme = { opcode = "read" } }, action = { delay = 0 } } } }
      if c.st ~= nil then assert.equal(1, c.st.lua_only) end
      assert.is_function(c.fault_cmd)
      faults.unload(dev, plan)
      if c.st ~= nil then assert.equal(0, c.st.lua_only) end
      assert.is_nil(c.fault_cmd)
      assert.is_nil(c.fault_cqe)
   end)

   it("gives the same errors for the same seed and the same commands", function()
      local function run(seed)
         ready()
         load { seed = seed, faults = { { match = { nvme = { opcode = "read" }, probability = 0.4 },
            action = { status = "unrecovered_read_error" } } } }
         local out = {}
         for i = 1, 30 do
            local got = h:read(1, i, 1)
            out[i] = got and "." or "x"
         end
         stop()
         return table.concat(out)
      end
      local a, b, other = run(5), run(5), run(6)
      assert.equal(a, b)
      assert.matches("x", a)
      assert.matches("%.", a)
      assert.are_not.equal(a, other)
   end)

   it("a surprise removal makes the registers read all-ones and stops the queues", function()
      ready()
      fill(0, 1)
      load { faults = { { match = { nvme = { opcode = "read" } }, action = "remove" } } }
      local cid = h:submit(1, { opc = 0x02, nsid = 1 })
      h:ring(1)
      assert.is_nil(h:wait(1, cid, 8))
      assert.equal(0xffffffff, h:rd32(0x1c))
      assert.equal(0xffffffff, h:rd32(0x00))
      assert.is_true(faults.removed(dev))
   end)
end)
