-- SPDX-License-Identifier: MIT
-- The pciem-lua binary: options, exit codes and messages of the error paths,
-- and a sim run that SIGTERM ends cleanly.
local h = require("helper")

local function pl(args)
   return h.run(h.bin .. " " .. args)
end

local good = [[
local pciem = require("pciem")
return pciem.device {
   name = "clidev", vendor = 0x1234, device = 0x3,
   bars = { [0] = { size = 4096 } },
}
]]

describe("pciem-lua", function()
   it("prints its help with --help and exits 0", function()
      local rc, out = pl("--help")
      assert.are.equal(0, rc)
      assert.is_truthy(out:find("usage: pciem%-lua"))
      assert.is_truthy(out:find("--backend", 1, true))
   end)

   it("prints the project and LuaJIT versions with --version", function()
      local rc, out = pl("--version")
      assert.are.equal(0, rc)
      assert.is_truthy(out:find("^pciem%-lua %d+%.%d+%.%d+\n"), out)
      assert.is_truthy(out:find("LuaJIT 2", 1, true), out)
   end)

   it("exits 2 without a script, or with an unknown option or backend", function()
      assert.are.equal(2, (pl("")))
      assert.are.equal(2, (pl("--frobnicate x.lua")))
      local rc, _, err = pl("--backend=qemu x.lua")
      assert.are.equal(2, rc)
      assert.is_truthy(err:find("unknown backend 'qemu'", 1, true), err)
   end)

   it("exits 1 naming a missing script", function()
      local rc, _, err = pl("--backend=sim /nonexistent/dev.lua")
      assert.are.equal(1, rc)
      assert.is_truthy(err:find("pciem-lua: /nonexistent/dev.lua: No such file", 1, true), err)
   end)

   it("reports a syntax error as file:line", function()
      local path = h.script("local pciem = require('pciem')\nlocal x = = 1\n")
      local rc, _, err = pl("--backend=sim " .. path)
      os.remove(path)
      assert.are.equal(1, rc)
      assert.is_truthy(err:find("pciem-lua: " .. path .. ":2: ", 1, true), err)
   end)

   it("reports a runtime error as file:line, with a traceback only with -v", function()
      local path = h.script("local function f() error('boom') end\nf()\n")
      local rc, _, err = pl("--backend=sim " .. path)
      assert.are.equal(1, rc)
      assert.is_truthy(err:find("pciem-lua: " .. path .. ":1: boom", 1, true), err)
      assert.is_falsy(err:find("stack traceback", 1, true))
      rc, _, err = pl("-v --backend=sim " .. path)
      os.remove(path)
      assert.are.equal(1, rc)
      assert.is_truthy(err:find("stack traceback", 1, true), err)
   end)

   it("reports a bad description with file:line and the field path", function()
      local path = h.script(good:gsub("size = 4096", "size = 4000"))
      local rc, _, err = pl("--backend=sim " .. path)
      os.remove(path)
      assert.are.equal(1, rc)
      assert.is_truthy(err:find("pciem-lua: " .. path .. ":2: bars[0].size: ", 1, true), err)
   end)

   it("exits 1 when the script returns no device", function()
      local path = h.script("return 42\n")
      local rc, _, err = pl("--backend=sim " .. path)
      os.remove(path)
      assert.are.equal(1, rc)
      assert.is_truthy(err:find("must return a device", 1, true), err)
   end)

   it("checks a description with --check and passes arguments as ...", function()
      local path = h.script("local a, b = ...\nassert(a == 'x' and b == 'y', 'args')\n" .. good)
      local rc, out, err = pl("--check " .. path .. " x y")
      os.remove(path)
      assert.are.equal(0, rc, err)
      assert.is_truthy(out:find("clidev: description ok", 1, true), out)
   end)

   it("explains a missing /dev/pciem with the kernel backend", function()
      local f = io.open("/dev/pciem", "r")
      if f then
         f:close()
         pending("/dev/pciem exists here")
         return
      end
      local path = h.script(good)
      local rc, _, err = pl(path)
      os.remove(path)
      assert.are.equal(3, rc)
      assert.is_truthy(err:find("/dev/pciem not found", 1, true), err)
      assert.is_truthy(err:find("insmod kmod/pciem.ko", 1, true), err)
      assert.is_truthy(err:find("make demo", 1, true), err)
   end)

   it("runs on sim, dumps config space, and exits 0 on SIGTERM", function()
      local out = os.tmpname()
      -- start in the background, wait (bounded) for the "at" line, then SIGTERM
      local rc, stdout = h.run(([[
         %s --backend=sim --dump %s/examples/hello.lua >%s 2>&1 &
         pid=$!
         i=0
         while ! grep -q ' at ' %s && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
         kill -TERM $pid
         wait $pid
         echo "exit=$?"
         cat %s
      ]]):format(h.bin, h.top, out, out, out))
      os.remove(out)
      assert.are.equal(0, rc)
      assert.is_truthy(stdout:find("exit=0", 1, true), stdout)
      assert.is_truthy(stdout:find("pciem%-lua: hello at %x+:%x%x:%x%x%.0 %(sim backend%)"), stdout)
      assert.is_truthy(stdout:find("[84] MSI-X: 4 vectors", 1, true), stdout)
      assert.is_truthy(stdout:find("pciem-lua: hello removed", 1, true), stdout)
   end)
end)
