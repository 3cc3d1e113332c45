-- SPDX-License-Identifier: MIT
-- Interrupts on the sim backend, by the rules pciem.ko applies (the shared
-- kmod/pciem_vec.c): MSI-X and MSI masks, pending bits delivered on unmask,
-- level INTx with INTx Disable, irqfds, counters.
local ffi = require("ffi")
local h = require("helper")
local sim_host = require("sim_host")
local sim = require("pciem.sim")
local C = require("pciem.ffi").C

ffi.cdef [[
int dup(int fd);
int open(const char *path, int flags, ...);
]]

local RAISE, ASSERT, DEASSERT = C.PCIEM_IRQ_RAISE, C.PCIEM_IRQ_INTX_ASSERT, C.PCIEM_IRQ_INTX_DEASSERT

local function started(d)
   local host, os = assert(sim_host.new(d))
   os:enable_memory()
   return host, os
end

local function irq(host, op, vector)
   return C.pciem_ffi_irq(host.dev._cdev, op, vector or 0)
end

local function vectors(list, kind)
   local v = {}
   for _, e in ipairs(list) do
      if not kind or e.kind == kind then v[#v + 1] = e.vector end
   end
   return v
end

local function with_msix(n)
   return h.desc(function(d)
      d.bars[0].size = 65536
      d.caps[4] = { "msix", vectors = n, table = { bar = 0, offset = 0x1000 },
         pba = { bar = 0, offset = 0x9000 } }
   end)
end

describe("sim irq: MSI-X", function()
   it("refuses to raise before the driver enabled MSI or MSI-X", function()
      local host = started()
      assert.are.equal(-107, irq(host, RAISE, 0))	-- -ENOTCONN
      host:stop()
   end)

   it("delivers with the address and data the driver wrote into the table", function()
      local host, os = started()
      os:enable_msix()
      assert.are.equal(0, irq(host, RAISE, 2))
      local got = os:irqs()
      assert.are.equal(1, #got)
      assert.are.same({ "msix", 2, sim.MSI_ADDR, sim.msg_data(2) },
         { got[1].kind, got[1].vector, got[1].addr, got[1].data })
      assert.are.equal(-22, irq(host, RAISE, 4))	-- 4 vectors: 0..3
      host:stop()
   end)

   it("starts with every table entry masked, as at reset", function()
      local host, os = started()
      local l = os:msix_layout()
      for v = 0, l.vectors - 1 do
         assert.are.equal(1, (os:mmio_read(l.table_bar, l.table + 16 * v + 12, 4)))
      end
      host:stop()
   end)

   it("a masked vector becomes pending (PBA bit), delivered on unmask", function()
      local host, os = started()
      os:enable_msix()
      os:msix_mask(1, true)
      assert.are.equal(1, irq(host, RAISE, 1))
      assert.are.equal(1, irq(host, RAISE, 1))	-- still one pending message
      assert.is_true(os:msix_pending(1))
      assert.are.same({}, os:irqs())
      local before = os:counters()
      os:msix_mask(1, false)
      assert.are.same({ 1 }, vectors(os:irqs()))
      assert.is_false(os:msix_pending(1))
      local c = os:counters()
      assert.are.same({ 1, 2 }, { c.irqs_delivered - before.irqs_delivered, c.irqs_pended })
      host:stop()
   end)

   it("the function mask holds every vector; clearing it delivers them in order", function()
      local host, os = started()
      os:enable_msix()
      os:msix_function_mask(true)
      for _, v in ipairs({ 3, 0, 2 }) do assert.are.equal(1, irq(host, RAISE, v)) end
      assert.are.same({ true, false, true, true },
         { os:msix_pending(0), os:msix_pending(1), os:msix_pending(2), os:msix_pending(3) })
      os:msix_mask(2, true)
      os:msix_function_mask(false)
      assert.are.same({ 0, 3 }, vectors(os:irqs()))
      assert.is_true(os:msix_pending(2))
      os:msix_mask(2, false)
      assert.are.same({ 0, 3, 2 }, vectors(os:irqs()))
      host:stop()
   end)

   it("never merges back-to-back raises of unmasked vectors", function()
      local host, os = started(with_msix(2048))
      os:enable_msix()
      for _ = 1, 3 do assert.are.equal(0, irq(host, RAISE, 7)) end
      for v = 0, 2047 do assert.are.equal(0, irq(host, RAISE, v)) end
      local got = os:irqs()
      assert.are.equal(3 + 2048, #got)
      for i, e in ipairs(got) do
         assert.are.equal(i, e.seq)
         assert.are.equal(i <= 3 and 7 or i - 4, e.vector)
      end
      assert.are.equal(2051, os:counters().irqs_delivered)
      host:stop()
   end)

   it("PBA accesses stay in the kernel: memory semantics, no event", function()
      local host, os = started()
      os:enable_msix()
      os:msix_mask(0, true)
      irq(host, RAISE, 0)
      local l = os:msix_layout()
      os:mmio_write(l.pba_bar, l.pba, 8, 0)	-- lands in the shadow like memory
      host:step()
      for _, e in ipairs(host.events) do assert.are_not.equal(l.pba, e.offset) end
      host:stop()
   end)
end)

describe("sim irq: MSI", function()
   it("raises vectors below the enabled count, data low bits = vector", function()
      local host, os = started()
      os:enable_msi(4)
      for v = 0, 3 do assert.are.equal(0, irq(host, RAISE, v)) end
      assert.are.equal(-22, irq(host, RAISE, 4))
      local got = os:irqs()
      assert.are.same({ 0, 1, 2, 3 }, vectors(got, "msi"))
      for _, e in ipairs(got) do
         assert.are.equal(sim.MSI_ADDR, e.addr)
         assert.are.equal(sim.msg_data(0) + e.vector, e.data)
      end
      host:stop()
   end)

   it("caps Multiple Message Enable at what the device is capable of", function()
      local host, os = started()
      os:enable_msi(32)	-- capable of 4
      assert.are.equal(0, irq(host, RAISE, 3))
      assert.are.equal(-22, irq(host, RAISE, 4))
      host:stop()
   end)

   it("per-vector mask: pending bit, delivered on unmask", function()
      local host, os = started()
      os:enable_msi(4, { masked = true })
      assert.are.equal(1, irq(host, RAISE, 2))
      assert.is_true(os:msi_pending(2))
      assert.is_false(os:msi_pending(1))
      os:msi_mask(1, false)
      assert.are.same({}, os:irqs())
      os:msi_mask(2, false)
      assert.are.same({ 2 }, vectors(os:irqs()))
      assert.is_false(os:msi_pending(2))
      host:stop()
   end)

   it("MSI-X wins over MSI when both are enabled", function()
      local host, os = started()
      os:enable_msi(1)
      os:enable_msix()
      irq(host, RAISE, 0)
      assert.are.same({ "msix" }, { os:irqs()[1].kind })
      host:stop()
   end)
end)

describe("sim irq: INTx", function()
   it("is a level: assert, deassert, reflected in Status.Interrupt Status", function()
      local host, os = started()
      assert.are.equal(0, irq(host, ASSERT))
      assert.is_true(os:intx())
      assert.is_true(os:intx_status())
      assert.are.equal(0, irq(host, ASSERT))	-- asserting again runs the handler again
      assert.are.equal(0, irq(host, DEASSERT))
      assert.is_false(os:intx())
      assert.is_false(os:intx_status())
      local got = {}
      for _, e in ipairs(os:irqs()) do got[#got + 1] = { e.kind, e.level } end
      assert.are.same({ { "intx", true }, { "intx", true }, { "intx", false } }, got)
      assert.are.equal(2, os:counters().irqs_delivered)
      assert.are.equal(-22, irq(host, ASSERT, 1))	-- intx has no vectors
      host:stop()
   end)

   it("INTx Disable holds the line; Status still says asserted; enabling delivers", function()
      local host, os = started()
      os:intx_disable(true)
      assert.are.equal(1, irq(host, ASSERT))
      assert.is_false(os:intx())
      assert.is_true(os:intx_status())
      assert.are.same({}, os:irqs())
      os:intx_disable(false)
      assert.is_true(os:intx())
      os:intx_disable(true)
      assert.is_false(os:intx())
      local c = os:counters()
      assert.are.same({ 1, 1 }, { c.irqs_delivered, c.irqs_pended })
      host:stop()
   end)

   it("is silent while MSI is enabled", function()
      local host, os = started()
      os:enable_msi(1)
      os:intx_disable(false)
      irq(host, ASSERT)
      assert.is_false(os:intx())
      host:stop()
   end)

   it("refuses without an interrupt pin", function()
      local host = started(h.desc(function(d) d.interrupt_pin = nil end))
      assert.are.equal(-107, irq(host, ASSERT))
      host:stop()
   end)
end)

describe("sim irq: irqfd", function()
   it("raises the bound vector once per eventfd write, in the dispatch step", function()
      local host, os = started()
      os:enable_msix()
      local cdev = host.dev._cdev
      local fd = C.pciem_ffi_eventfd_new()
      assert.is_true(fd >= 0)
      assert.are.equal(0, C.pciem_ffi_irqfd(cdev, fd, 3, 0))
      assert.are.equal(-16, C.pciem_ffi_irqfd(cdev, fd, 3, 0))	-- -EBUSY: bound already
      C.pciem_ffi_eventfd_add(fd, 1)
      C.pciem_ffi_eventfd_add(fd, 2)
      assert.are.same({}, os:irqs())
      host:step()
      assert.are.same({ 3, 3, 3 }, vectors(os:irqs()))
      assert.are.equal(0, C.pciem_ffi_irqfd(cdev, fd, 3, C.PCIEM_IRQFD_DEASSIGN))
      C.pciem_ffi_eventfd_add(fd, 1)
      host:step()
      assert.are.equal(3, #os:irqs())
      assert.are.equal(-2, C.pciem_ffi_irqfd(cdev, fd, 3, C.PCIEM_IRQFD_DEASSIGN))
      C.pciem_ffi_fd_close(fd)
      host:stop()
   end)

   it("knows an eventfd by identity, not by descriptor number", function()
      local host, os = started()
      os:enable_msix()
      local cdev = host.dev._cdev
      local fd = C.pciem_ffi_eventfd_new()
      local other = ffi.C.dup(fd)
      assert.are.equal(0, C.pciem_ffi_irqfd(cdev, fd, 1, 0))
      assert.are.equal(-16, C.pciem_ffi_irqfd(cdev, other, 1, 0))	-- -EBUSY
      assert.are.equal(0, C.pciem_ffi_irqfd(cdev, other, 2, 0))	-- another vector is fine
      -- one signal is one raise: the binding made last takes it, as in the module
      C.pciem_ffi_eventfd_add(other, 1)
      host:step()
      assert.are.same({ 2 }, vectors(os:irqs()))
      assert.are.equal(0, C.pciem_ffi_irqfd(cdev, other, 1, C.PCIEM_IRQFD_DEASSIGN))
      assert.are.equal(0, C.pciem_ffi_irqfd(cdev, fd, 2, C.PCIEM_IRQFD_DEASSIGN))
      C.pciem_ffi_fd_close(other)
      C.pciem_ffi_fd_close(fd)
      host:stop()
   end)

   it("refuses descriptors that are closed or not eventfds", function()
      local host = started()
      local cdev = host.dev._cdev
      local fd = C.pciem_ffi_eventfd_new()
      C.pciem_ffi_fd_close(fd)
      assert.are.equal(-9, C.pciem_ffi_irqfd(cdev, fd, 0, 0))	-- -EBADF
      local null = ffi.C.open("/dev/null", 0, 0)	-- O_RDONLY; the mode keeps any declaration of open happy
      assert.is_true(null >= 0)
      assert.are.equal(-22, C.pciem_ffi_irqfd(cdev, null, 0, 0))	-- -EINVAL
      assert.are.equal(-22, C.pciem_ffi_irqfd(cdev, null, 0, C.PCIEM_IRQFD_DEASSIGN))
      C.pciem_ffi_fd_close(null)
      host:stop()
   end)
end)
