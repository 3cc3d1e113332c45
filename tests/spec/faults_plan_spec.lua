-- SPDX-License-Identifier: MIT
-- Fault plans that are wrong: every error names the field path (and the plan
-- file), suggests a close name for a misspelt one, and a refused plan leaves
-- nothing behind on the device.
local faults = require("pciem.faults")
local helper = require("helper")

local dev

-- The error of loading plan `p` (a table: { faults = {...} } made from one
-- fault when `p` has a match); fails the test when the plan loads.
local function err_of(p)
   if p.match or p.action then p = { faults = { p } } end
   if p.quiet == nil then p.quiet = true end
   local plan, err = faults.load(dev, p)
   if plan then
      faults.unload(dev, plan)
      error("the plan loaded", 2)
   end
   return err
end

local function untouched()
   assert.is_nil(rawget(dev, "_faults"))
   assert.is_nil(rawget(dev, "_hooks"))
   assert.is_nil(rawget(dev, "irq"))
   assert.equal(0, #(rawget(dev, "_taps") or {}))
end

local IRQ = { irq = { vector = 0 } }

describe("fault plan errors", function()
   before_each(function() dev = helper.sim() end)
   after_each(function()
      untouched()
      dev:stop()
   end)

   it("names the plan's own fields", function()
      assert.matches("plan: plan.sed: unknown field %(did you mean 'seed'%?%)", err_of { sed = 1, faults = {} })
      assert.matches("plan: faults: missing", err_of { seed = 1 })
      assert.matches("plan: faults: an empty list", err_of { faults = {} })
      assert.matches("plan: faults: expected a list, found key 'x'", err_of { faults = { x = 1 } })
      assert.matches("plan: seed: expected an integer, got '42'", err_of { seed = "42", faults = { { match = IRQ, action = "drop" } } })
      assert.matches("plan: quiet: expected a boolean", err_of { faults = { { match = IRQ, action = "drop" } }, quiet = 1 } )
   end)

   it("names a fault's fields", function()
      assert.matches("faults%[1%]: expected a table, got 3", err_of { faults = { 3 } })
      assert.matches("faults%[1%]%.match: missing", err_of { faults = { { action = "drop" } } })
      assert.matches("faults%[1%]%.action: missing", err_of { match = IRQ })
      assert.matches("faults%[1%]%.acton: unknown field %(did you mean 'action'%?%)",
         err_of { faults = { { match = IRQ, acton = "drop" } } })
      assert.matches("faults%[2%]%.name: 'x' is already the name of faults%[1%]", err_of { faults = {
         { name = "x", match = IRQ, action = "drop" }, { name = "x", match = IRQ, action = "drop" } } })
   end)

   it("names matcher kinds and their fields", function()
      assert.matches("faults%[1%]%.match%.mmoi: unknown matcher %(did you mean 'mmio'%?%)",
         err_of { match = { mmoi = {} }, action = "drop" })
      assert.matches("faults%[1%]%.match: no kind of access to match %(one of: cfg, dma, irq, mmio, nvme%)",
         err_of { match = { nth = 1 }, action = "drop" })
      assert.matches("faults%[1%]%.match: 'irq' and 'mmio' in one match",
         err_of { match = { irq = {}, mmio = {} }, action = "drop" })
      assert.matches("faults%[1%]%.match%.mmio%.ofset: unknown matcher %(did you mean 'offset'%?%)",
         err_of { match = { mmio = { ofset = 0 } }, action = "drop" })
      assert.matches("faults%[1%]%.match%.mmio%.bar: expected an integer, got '0'",
         err_of { match = { mmio = { bar = "0" } }, action = "drop" })
      assert.matches("faults%[1%]%.match%.mmio%.bar: BAR 1 is not described",
         err_of { match = { mmio = { bar = 1 } }, action = "drop" })
      assert.matches("faults%[1%]%.match%.mmio%.offset: 0xff0%+0x20 runs past the end %(0x1000 bytes%)",
         err_of { match = { mmio = { bar = 0, offset = { 0xff0, 0x20 } } }, action = "drop" })
      assert.matches("faults%[1%]%.match%.mmio%.access: 'rd' is not one of any, read, write",
         err_of { match = { mmio = { access = "rd" } }, action = "drop" })
      assert.matches("faults%[1%]%.match%.mmio%.width: 3",
         err_of { match = { mmio = { width = 3 } }, action = "drop" })
      assert.matches("faults%[1%]%.match%.mmio%.value: a value condition applies to writes",
         err_of { match = { mmio = { access = "read", value = 1 } }, action = "drop" })
      assert.matches("faults%[1%]%.match%.mmio%.value%.equals: has bits outside the mask",
         err_of { match = { mmio = { value = { mask = 0xf, equals = 0x10 } } }, action = "drop" })
      assert.matches("faults%[1%]%.match%.cfg%.offset: 4096 is out of range 0%.%.0xfff",
         err_of { match = { cfg = { offset = 0x1000 } }, action = "drop" })
      assert.matches("faults%[1%]%.match%.dma%.dir: 'in' is not one of any, read, write",
         err_of { match = { dma = { dir = "in" } }, action = "drop" })
      assert.matches("faults%[1%]%.match%.irq%.vector%[2%]: 2048 is out of range",
         err_of { match = { irq = { vector = { 1, 2048 } } }, action = "drop" })
      assert.matches("faults%[1%]%.match%.nvme: the device has no NVMe controller",
         err_of { match = { nvme = { opcode = "read" } }, action = { status = "write_fault" } })
   end)

   it("names the counting, probability and time fields", function()
      assert.matches("faults%[1%]%.match%.nth: expected an integer, got '3'",
         err_of { match = { irq = {}, nth = "3" }, action = "drop" })
      assert.matches("faults%[1%]%.match%.every: 0 is out of range",
         err_of { match = { irq = {}, every = 0 }, action = "drop" })
      assert.matches("faults%[1%]%.match%.probability: 1%.5 is out of range 0%.%.1",
         err_of { match = { irq = {}, probability = 1.5 }, action = "drop" })
      assert.matches("faults%[1%]%.match%.before: 5 ms is not after 'after' %(10 ms%)",
         err_of { match = { irq = {}, after = 10, before = 5 }, action = "drop" })
      assert.matches("faults%[1%]%.match%.when: expected a function",
         err_of { match = { irq = {}, when = true }, action = "drop" })
      assert.matches("faults%[1%]%.match%.probabilty: unknown matcher %(did you mean 'probability'%?%)",
         err_of { match = { irq = {}, probabilty = 0.5 }, action = "drop" })
   end)

   it("names actions: unknown, wrong kind, wrong type, incompatible", function()
      assert.matches("faults%[1%]%.action: unknown action 'drp' %(did you mean 'drop'%?%)",
         err_of { match = IRQ, action = "drp" })
      assert.matches("faults%[1%]%.action%.dupliate: unknown action %(did you mean 'duplicate'%?%)",
         err_of { match = IRQ, action = { dupliate = true } })
      assert.matches("faults%[1%]%.action%.allones: not an action for irq matches %(these are: call, delay, drop, duplicate, fatal, remove%)",
         err_of { match = IRQ, action = "allones" })
      assert.matches("faults%[1%]%.action%.delay: %-1 is out of range",
         err_of { match = IRQ, action = { delay = -1 } })
      assert.matches("faults%[1%]%.action%.duplicate: expected an integer, got 'twice'",
         err_of { match = IRQ, action = { duplicate = "twice" } })
      assert.matches("faults%[1%]%.action: 'drop' and 'duplicate' cannot be combined",
         err_of { match = IRQ, action = { drop = true, duplicate = true } })
      assert.matches("faults%[1%]%.action%.flip%.mask: 256 is out of range",
         err_of { match = { dma = {} }, action = { flip = { mask = 0x100 } } })
      assert.matches("faults%[1%]%.action%.flip%.ofset: unknown field %(did you mean 'offset'%?%)",
         err_of { match = { dma = {} }, action = { flip = { ofset = 1 } } })
      assert.matches("faults%[1%]%.action%.fatal: needs a device with an NVMe controller",
         err_of { match = IRQ, action = "fatal" })
      assert.matches("faults%[1%]%.action%.remove%.aftr_ms: unknown field %(did you mean 'after_ms'%?%)",
         err_of { match = IRQ, action = { remove = { aftr_ms = 1 } } })
      assert.matches("faults%[1%]%.action%.call: expected a function",
         err_of { match = IRQ, action = { call = "print" } })
      assert.matches("faults%[1%]%.action: no action given", err_of { match = IRQ, action = {} })
      assert.matches("faults%[1%]%.action: expected a table, got 7", err_of { match = IRQ, action = 7 })
   end)

   it("names the plan file in errors of a file, and refuses a file that returns no table", function()
      local bad = helper.script("return { faults = { { match = { irq = { vectr = 1 } }, action = 'drop' } } }\n")
      local _, err = faults.load(dev, bad)
      assert.equal(bad .. ": faults[1].match.irq.vectr: unknown matcher (did you mean 'vector'?)", err)
      local none = helper.script("return 42\n")
      _, err = faults.load(dev, none)
      assert.matches("a plan file must return a table", err)
      local syntax = helper.script("return { faults = \n")
      _, err = faults.load(dev, syntax)
      assert.matches(syntax:gsub("%p", "%%%0") .. ":%d+:", err)
      _, err = faults.load(dev, "/nonexistent/plan.lua")
      assert.matches("/nonexistent/plan.lua", err)
      os.remove(bad); os.remove(none); os.remove(syntax)
   end)

   it("raises for a call that is not a plan load at all", function()
      assert.has_error(function() faults.load(dev, 42) end)
      assert.has_error(function() faults.load(nil, {}) end)
   end)

   it("refuses a device that is not started", function()
      local d = require("pciem").device(helper.desc())
      local plan, err = faults.load(d, { faults = { { match = IRQ, action = "drop" } } })
      assert.is_nil(plan)
      assert.matches("not started", err)
   end)

   it("checks without loading: faults.check", function()
      local plan = assert(faults.check(dev, { faults = { { match = IRQ, action = "drop" } } }))
      assert.equal(1, #plan.faults)
      assert.same({}, faults.list(dev))
      assert.is_nil(faults.check(dev, { faults = { { match = IRQ, action = "dorp" } } }))
   end)
end)
