-- SPDX-License-Identifier: MIT
-- The REPL's `reload` of devices/nvme.lua on a live controller: queues, data,
-- counters and the fault hooks stay, the new code (modules included) runs.
local ffi = require("ffi")
local pciem = require("pciem")
local sim = require("pciem.sim")
local nvmehost = require("pciem.nvmehost")
local reload = require("pciem.repl.reload")
local fx = require("nvme_fixture")
local helper = require("helper")

local pattern = require("helper").pattern

local dev, osim, h
local function stop()
   fx.stop(dev, osim, h)
   dev, osim, h = nil, nil, nil
end

fx.each_mode("nvme reload", function(mode)
   after_each(stop)

   it("keeps the enabled controller, its queues, data and counters", function()
      dev, osim, h = fx.ready(2, 16)
      local before = pattern(4096, 1)
      assert.is_true(h:write(1, 8, 8, before).ok)
      assert.equal(before, (h:read(1, 8, 8)))
      local ctrl = dev.nvme.ctrl
      local reads = tonumber(ctrl.smart.read_cmds)
      local cq1 = dev.nvme.ctrl.cq[1]
      local tail = cq1.tail

      local ok, msg = reload.reload(dev, fx.SCRIPT, { mode })
      assert.is_true(ok, msg)
      assert.is_truthy(msg:find("reloaded", 1, true))
      assert.equal(ctrl, dev.nvme.ctrl)
      assert.is_true(h:csts().rdy)
      assert.equal(tail, cq1.tail)
      -- The queue pairs made before the reload carry I/O on, both of them.
      assert.equal(before, (h:read(1, 8, 8, { qid = 2 })))
      local after = pattern(4096, 2)
      assert.is_true(h:write(1, 16, 8, after, { qid = 1 }).ok)
      assert.equal(after, (h:read(1, 16, 8, { qid = 2 })))
      assert.equal(reads + 2, tonumber(ctrl.smart.read_cmds))
      -- Admin still answers, and a controller reset works on the new code.
      assert.equal("PCIEM0001", (h:identify_ctrl().sn:gsub("%s+$", "")))
      assert.is_true(h:disable())
      assert.is_true(h:enable())
      assert.equal(1, h:create_io_queues(1, 8))
      assert.equal(before, (h:read(1, 8, 8)))
   end)

   it("keeps a loaded fault plan", function()
      dev, osim, h = fx.ready(1, 16)
      local faults = require("pciem.faults")
      assert(faults.load(dev, { quiet = true, faults = { {
         match = { nvme = { opcode = "read", lba = { 100, 107 } } },
         action = { status = "unrecovered_read_error" } } } }))
      assert.is_true(reload.reload(dev, fx.SCRIPT, { mode }))
      local data, c = h:read(1, 100, 1)
      assert.is_nil(data)
      assert.equal(0x281, c.status)
      assert.is_truthy((h:read(1, 200, 1)))
   end)
end)

describe("nvme reload of edited modules", function()
   after_each(stop)

   it("runs the edited code of devices/nvme/*.lua", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute(("mkdir -p %s && cp -R %s/devices/nvme.lua %s/devices/nvme %s/")
         :format(dir, helper.top, helper.top, dir)) == 0)
      local script = dir .. "/nvme.lua"
      dev = pciem.load(script, "fastpath=off")
      assert(dev:start("sim"))
      osim = sim.new(dev)
      h = nvmehost.new(osim)
      assert(h:enable())
      assert.equal(1, h:create_io_queues(1, 8))
      assert.is_true(h:flush(1).ok)
      -- Flush now completes with Invalid Field in Command.
      local path = dir .. "/nvme/io.lua"
      local f = assert(io.open(path))
      local src = f:read("*a")
      f:close()
      local edited, n = src:gsub("elseif opcode == OP%.FLUSH then return flush%(c, sqe%)",
         "elseif opcode == OP.FLUSH then return 0x02")
      assert.equal(1, n)
      f = assert(io.open(path, "w"))
      f:write(edited)
      f:close()
      assert.is_true(reload.reload(dev, script, { "fastpath=off" }))
      assert.equal(0x002, h:flush(1).status)
      os.execute("rm -rf " .. dir)
   end)
end)
