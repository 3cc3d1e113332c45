-- SPDX-License-Identifier: MIT
-- `pciem-lua -i` driven through a pseudo-terminal on the sim backend: type,
-- tab-complete, multi-line chunks, Ctrl-C cancels the line (not the device),
-- history across runs, quit removes the device.
local helper = require("helper")
local pty = require("repl_pty")

local function have_readline()
   local ok = pcall(require("ffi").load, "libreadline.so.8")
   return ok
end

describe("pciem-lua -i on a terminal", function()
   local dir, hist, p
   before_each(function()
      dir = os.tmpname()
      os.remove(dir)
      hist = os.tmpname()
      os.remove(hist)
   end)
   after_each(function()
      if p then p:close() end
      p = nil
      os.remove(hist)
      os.execute("rm -rf '" .. dir .. "'")
   end)

   local function start()
      return pty.spawn(("TERM=xterm INPUTRC=/dev/null PCIEM_REPL_DIR='%s' PCIEM_LUA_HISTORY='%s' "
         .. "exec %s -i --backend=sim %s/devices/nvme.lua size=1M")
         :format(dir, hist, helper.bin, helper.top))
   end

   it("completes, evaluates, continues chunks, survives Ctrl-C and keeps history", function()
      if not have_readline() then
         pending("libreadline.so.8 is not installed")
         return
      end
      p = start()
      p:expect("nvme at ")
      p:expect("> ")
      p:type("CST\t")
      p:expect("CSTS")			-- the tab completed the register name
      p:type("\r")
      p:expect("RDY=0 CFS=0 SHST=0(normal operation)")
      p:expect("> ")
      p:type("CSTS.\t\t")		-- two tabs: the fields are listed
      p:expect("RDY")
      p:expect("SHST")
      p:type("\21")			-- Ctrl-U: drop the line
      p:type("dev:wat\t")
      p:expect("ch_fd")			-- API name completed
      p:type("\21function f(x)\r")
      p:expect(">> ")			-- an incomplete chunk asks for more
      p:type("return x * 3\rend\r")
      p:expect("> ")
      p:type("f(14)\r")
      p:expect("42 (0x2a)")
      p:expect("> ")
      p:type("for i = 1, 3 do\r")
      p:expect(">> ")
      p:type("\3")			-- Ctrl-C: the chunk and line go, the device stays
      p:expect("^C")
      p:expect("> ")
      p:type("7 * 6\r")
      p:expect("42 (0x2a)")
      p:expect("> ")
      p:type("peek 0 0x8\r")
      p:expect("0x00010400")		-- VS: the device still answers
      p:expect("> ")
      p:type("quit\r")
      p:expect("nvme removed")
      assert.are.equal(0, p:wait(10))
      p:close()
      -- history: the next run recalls "7 * 6" two lines up (before "peek", "quit")
      p = start()
      p:expect("> ")
      p:type("\27[A\27[A\27[A\r")
      p:expect("7 * 6")
      p:expect("42 (0x2a)")
      p:expect("> ")
      p:type("\4")			-- Ctrl-D on an empty line stops the device
      p:expect("nvme removed")
      assert.are.equal(0, p:wait(10))
   end)

   it("attaches to a running device: remote completion, live watch output, Ctrl-C, detach", function()
      if not have_readline() then
         pending("libreadline.so.8 is not installed")
         return
      end
      local rc, out = helper.run(([[
         PCIEM_REPL_DIR='%s' %s --backend=sim %s/devices/nvme.lua size=1M >/dev/null 2>&1 &
         echo $!
         i=0
         while ! ls '%s'/nvme.*.sock >/dev/null 2>&1 && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
      ]]):format(dir, helper.bin, helper.top, dir))
      assert.are.equal(0, rc)
      local dev_pid = tonumber(out:match("%d+"))
      local ok, err = pcall(function()
         p = pty.spawn(("TERM=xterm INPUTRC=/dev/null PCIEM_REPL_DIR='%s' PCIEM_LUA_HISTORY='%s' "
            .. "exec %s attach nvme"):format(dir, hist, helper.bin))
         p:expect("attached to nvme (pid " .. dev_pid .. ")")
         p:expect("> ")
         p:type("CST\t")
         p:expect("CSTS")			-- candidates came from the device
         p:type("\r")
         p:expect("RDY=0")
         p:expect("> ")
         p:type("watch CC\r")
         p:expect("watch 1: CC")
         p:expect("> ")
         p:type("abc")			-- half a line when the watch fires
         p:expect("abc")
         -- another client plays the driver: a CC write through the sim's OS side
         local rc2 = helper.run(("PCIEM_REPL_DIR='%s' %s attach nvme -e "
            .. "'o = require(\"pciem.sim\").new(dev); o:enable_memory(true); o:mmio_write(0, 0x14, 4, 0x460000)'")
            :format(dir, helper.bin))
         assert.are.equal(0, rc2)
         p:expect("[watch 1] #")
         p:expect("(CC) = 0x00460000  EN=0")
         p:expect("> abc")			-- the line being typed is drawn again
         p:type("\3")
         p:expect("> ")
         p:type("1 + 1\r")
         p:expect("2")
         p:expect("> ")
         p:type("detach\r")
         assert.are.equal(0, p:wait(10))
         -- the device is still running
         local rc3, listed = helper.run(("PCIEM_REPL_DIR='%s' %s list"):format(dir, helper.bin))
         assert.are.equal(0, rc3)
         assert.is_truthy(listed:find("nvme%s+" .. dev_pid), listed)
      end)
      os.execute("kill -TERM " .. dev_pid)
      assert(ok, err)
   end)

   it("pauses at a break while the terminal keeps working; Ctrl-C keeps the pause", function()
      if not have_readline() then
         pending("libreadline.so.8 is not installed")
         return
      end
      p = start()
      p:expect("> ")
      p:type("break CC.EN 0->1\r")
      p:expect("break 1: CC write: CC.EN 0->1")
      p:expect("> ")
      -- play the driver from the REPL itself: the write is handled after this line
      p:type('o = require("pciem.sim").new(dev); o:enable_memory(true); o:mmio_write(0, 0x14, 4, 0x460001)\r')
      p:expect("[break 1] CC write: CC.EN 0->1 -- #")
      p:expect("the device is paused")
      p:expect("> ")
      p:type("dev.nvme.ctrl.enabled\r")	-- the CC handler has not run
      p:expect("false")
      p:expect("> ")
      p:type("xyz\3")
      p:expect("^C")
      p:expect("> ")
      p:type("break\r")
      p:expect("paused at break 1")		-- Ctrl-C did not end the pause
      p:expect("> ")
      p:type("continue\r")
      p:expect("continuing")
      p:expect("> ")
      p:type("dev.nvme.ctrl.enabled\r")	-- now it has
      p:expect("true")
      p:expect("> ")
      p:type("quit\r")
      p:expect("nvme removed")
      assert.are.equal(0, p:wait(10))
   end)
end)
