-- SPDX-License-Identifier: MIT
-- The control socket: served from the device's loop (in-process on the sim),
-- root-only files, the line protocol with partial lines and several clients,
-- stale sockets cleaned by list; and the pciem-lua list / attach commands
-- against a sim device running in the background.
local pciem = require("pciem")
local sys = require("pciem.repl.sys")
local server = require("pciem.repl.server")
local client = require("pciem.repl.client")
local helper = require("helper")

local function tmpdir()
   local d = os.tmpname()
   os.remove(d)
   return d
end

-- Read one reply line from blocking fd `fd` after letting the device serve.
local function reply(dev, fd, acc)
   for _ = 1, 50 do
      dev:serve_fds(10)
      local p = { { fd = fd } }
      if sys.poll(p, 10) > 0 then
         local data = sys.read(fd)
         acc.buf = acc.buf .. (data or "")
      end
      local l, rest = acc.buf:match("^([^\n]*)\n(.*)$")
      if l then
         acc.buf = rest
         return l
      end
   end
   error("no reply; have: " .. acc.buf)
end

describe("the control socket", function()
   local dir, dev, srv
   before_each(function()
      dir = tmpdir()
      dev = helper.sim()
   end)
   after_each(function()
      if srv then srv:close() end
      srv = nil
      if dev.state == "started" then dev:stop() end
      os.execute("rm -rf '" .. dir .. "'")
   end)

   local function start()
      local old = os.getenv("PCIEM_REPL_DIR")
      assert.is_nil(old and old ~= dir and nil)
      -- M.dirs() reads the environment: give it ours through a wrapper
      local dirs = server.dirs
      server.dirs = function() return { dir } end
      local s, err = server.start(dev, { script = "spec.lua", args = {}, backend = "sim" })
      server.dirs = dirs
      assert(s, err)
      return s
   end

   it("is a 0600 socket in a 0700 directory, named name.pid.sock, removed at close", function()
      srv = start()
      local st = sys.lstat(dir)
      assert.is_true(st.is_dir)
      assert.are.equal(tonumber("700", 8), st.mode)
      local path = ("%s/spec.%d.sock"):format(dir, sys.getpid())
      assert.are.equal(path, srv.path)
      local sst = sys.lstat(path)
      assert.is_true(sst.is_socket)
      assert.are.equal(tonumber("600", 8), sst.mode)
      srv:close()
      srv = nil
      assert.is_nil((sys.lstat(path)))
   end)

   it("answers requests in the line protocol, buffering partial lines", function()
      srv = start()
      local fd = assert(sys.connect(srv.path))
      local acc = { buf = "" }
      sys.write_all(fd, "H\n")
      local info = reply(dev, fd, acc)
      assert.is_truthy(info:find("^Ispec\t" .. sys.getpid() .. "\t"), info)
      assert.are.equal("P> ", reply(dev, fd, acc))
      sys.write_all(fd, "L1 +")			-- half a line: nothing yet
      dev:serve_fds(10)
      sys.write_all(fd, " 41\n")
      assert.are.equal("O42 (0x2a)", reply(dev, fd, acc))
      assert.are.equal("P> ", reply(dev, fd, acc))
      sys.write_all(fd, "Lif true then\n")
      assert.are.equal("P>> ", reply(dev, fd, acc))
      sys.write_all(fd, "X\n")			-- Ctrl-C
      assert.are.equal("P> ", reply(dev, fd, acc))
      sys.write_all(fd, "Lerror('no')\n")
      assert.is_truthy(reply(dev, fd, acc):find("^E.*no"))
      sys.write_all(fd, "Cdev:cfg_r\n")
      local m = reply(dev, fd, acc)
      while m:sub(1, 1) ~= "M" do m = reply(dev, fd, acc) end
      assert.are.equal("M1\tdev:cfg_read", m)
      sys.write_all(fd, "Ldetach\n")
      assert.are.equal("Q", reply(dev, fd, acc))
      sys.close(fd)
   end)

   it("serves several clients at once, each with its own session", function()
      srv = start()
      local a, b = assert(sys.connect(srv.path)), assert(sys.connect(srv.path))
      local acc_a, acc_b = { buf = "" }, { buf = "" }
      sys.write_all(a, "H\nLx = 1\n")
      sys.write_all(b, "H\nLx = 2\n")
      for _ = 1, 3 do reply(dev, a, acc_a); reply(dev, b, acc_b) end
      sys.write_all(a, "Lx\n")
      sys.write_all(b, "Lx\n")
      assert.are.equal("O1", reply(dev, a, acc_a))
      assert.are.equal("O2", reply(dev, b, acc_b))
      sys.close(a)
      dev:serve_fds(10)
      sys.write_all(b, "Lx + 1\n")
      assert.are.equal("P> ", reply(dev, b, acc_b))
      assert.are.equal("O3", reply(dev, b, acc_b))
      sys.close(b)
   end)

   it("survives a client that goes away before its answers are written", function()
      srv = start()
      local fd = assert(sys.connect(srv.path))
      sys.write_all(fd, "H\n" .. ("Lhelp\n"):rep(50))
      sys.close(fd)
      for _ = 1, 5 do dev:serve_fds(10) end	-- writes to the closed peer: EPIPE, no SIGPIPE
      assert.are.equal(nil, next(srv.clients))
      local again = assert(sys.connect(srv.path))
      local acc = { buf = "" }
      sys.write_all(again, "S\n")
      assert.is_truthy(reply(dev, again, acc):find("^Ispec"))
      sys.close(again)
   end)

   it("drops a client's watches when it goes", function()
      srv = start()
      local fd = assert(sys.connect(srv.path))
      local acc = { buf = "" }
      sys.write_all(fd, "H\nLwatch 0:0x10\n")
      for _ = 1, 3 do reply(dev, fd, acc) end
      assert.is_not_nil(dev._repl_debug.tap)
      sys.close(fd)
      dev:serve_fds(10)
      assert.is_nil(dev._repl_debug.tap)
   end)

   it("is listed by list, and a stale socket of a dead process is removed", function()
      srv = start()
      local stale = ("%s/ghost.%d.sock"):format(dir, 999999)
      local fd = assert(sys.listen(stale))
      sys.close(fd)
      local dirs = server.dirs
      server.dirs = function() return { dir } end
      -- (our own socket cannot answer while we wait: its details stay "?")
      local all = client.running()
      server.dirs = dirs
      assert.is_nil((sys.lstat(stale)))
      assert.are.equal(1, #all)
      assert.are.equal("spec", all[1].name)
      assert.are.equal(sys.getpid(), all[1].pid)
   end)
end)

describe("pciem-lua list and attach", function()
   local dir = tmpdir()
   local env = ("PCIEM_REPL_DIR='%s' "):format(dir)
   local pid, log

   setup(function()
      log = os.tmpname()
      local rc, out = helper.run(([[
         %s %s --backend=sim %s/devices/nvme.lua size=1M >%s 2>&1 &
         echo $!
         i=0
         while ! ls %s/nvme.*.sock >/dev/null 2>&1 && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
      ]]):format(env, helper.bin, helper.top, log, dir))
      assert(rc == 0)
      pid = tonumber(out:match("(%d+)"))
   end)
   teardown(function()
      if pid then os.execute("kill -TERM " .. pid .. "; sleep 0.3") end
      os.remove(log)
      os.execute("rm -rf '" .. dir .. "'")
   end)

   local function pl(args, input)
      local cmd = env .. helper.bin .. " " .. args
      if input then cmd = "printf '" .. input .. "' | " .. cmd else cmd = cmd .. " </dev/null" end
      return helper.run(cmd)
   end

   it("lists the running device with its pid, address, script and socket", function()
      local rc, out = pl("list")
      assert.are.equal(0, rc)
      assert.is_truthy(out:find("^NAME"), out)
      assert.is_truthy(out:find(("nvme%%s+%d%%s+10000:"):format(pid)), out)
      assert.is_truthy(out:find("devices/nvme.lua", 1, true), out)
      assert.is_truthy(out:find(dir, 1, true), out)
   end)

   it("runs one chunk with attach -e, by name or pid", function()
      local rc, out, err = pl("attach nvme -e 'CSTS.RDY'")
      assert.are.equal(0, rc, err)
      assert.are.equal("0\n", out)
      rc, out = pl(("attach %d -e 'VS'"):format(pid))
      assert.are.equal(0, rc)
      assert.is_truthy(out:find("MNR=4", 1, true), out)
      rc, out = pl("attach nvme -e 'dev.name'")
      assert.are.equal('"nvme"\n', out)
   end)

   it("exits 1 with the error of a failing chunk, and of an unknown device", function()
      local rc, _, err = pl("attach nvme -e 'nope()'")
      assert.are.equal(1, rc)
      assert.is_truthy(err:find("nope", 1, true), err)
      rc, _, err = pl("attach nosuchdev -e '1'")
      assert.are.equal(1, rc)
      assert.is_truthy(err:find("no running device 'nosuchdev'", 1, true), err)
      assert.is_truthy(err:find("nvme (pid " .. pid .. ")", 1, true), err)
   end)

   it("reads commands from stdin when it is not a terminal", function()
      local rc, out = pl("attach nvme", "x = 20\\nfunction g()\\nreturn x + 1\\nend\\ng() * 2\\n")
      assert.are.equal(0, rc)
      assert.are.equal("42 (0x2a)\n", out)
   end)

   it("rejects a bad attach or list command line with exit 2", function()
      assert.are.equal(2, (pl("attach")))
      assert.are.equal(2, (pl("attach nvme -x 1")))
      assert.are.equal(2, (pl("list extra")))
      assert.are.equal(2, (pl("trace-summary")))
   end)
end)

local _ = pciem

describe("pciem-lua --faults, --trace and trace-summary", function()
   it("refuses a missing fault plan, removing the device, exit 1", function()
      local rc, _, err = helper.run(("%s --backend=sim --faults /nonexistent/plan.lua %s/examples/hello.lua")
         :format(helper.bin, helper.top))
      assert.are.equal(1, rc)
      assert.is_truthy(err:find("--faults /nonexistent/plan.lua: ", 1, true), err)
   end)

   it("summarises a trace file, and names a missing one", function()
      local trace = os.tmpname()
      local dir = tmpdir()
      local rc, out = helper.run(([[
         PCIEM_REPL_DIR=%s %s --backend=sim --trace %s %s/examples/hello.lua >/dev/null 2>&1 &
         pid=$!
         i=0
         while ! ls %s/hello.*.sock >/dev/null 2>&1 && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
         kill -TERM $pid
         wait $pid
         %s trace-summary %s
      ]]):format(dir, helper.bin, trace, helper.top, dir, helper.bin, trace))
      os.execute("rm -rf '" .. dir .. "'")
      os.remove(trace)
      assert.are.equal(0, rc)
      assert.is_truthy(out:find("mmio_write", 1, true), out)
      local rc2, _, err = helper.run(helper.bin .. " trace-summary /nonexistent/trace.jsonl")
      assert.are.equal(1, rc2)
      assert.is_truthy(err:find("/nonexistent/trace.jsonl", 1, true), err)
   end)
end)

describe("a handler's error", function()
   it("ends pciem-lua with exit 1 and removes its control socket", function()
      local dir = tmpdir()
      local script = helper.script([[
local pciem = require("pciem")
return pciem.device { name = "boom", vendor = 0x1234, device = 1, bars = { [0] = { size = 4096 } } }
]])
      local rc, out = helper.run(([[
         PCIEM_REPL_DIR='%s' %s --backend=sim %s >/dev/null 2>%s.err &
         pid=$!
         i=0
         while ! ls '%s'/boom.*.sock >/dev/null 2>&1 && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
         PCIEM_REPL_DIR='%s' %s attach boom -e 'dev:on_write(0, 0, function() error("handler boom") end); o = require("pciem.sim").new(dev); o:enable_memory(true); o:mmio_write(0, 0, 4, 1)'
         wait $pid
         echo "exit=$?"
         cat %s.err
         ls '%s'
      ]]):format(dir, helper.bin, script, script, dir, dir, helper.bin, script, dir))
      os.remove(script)
      os.remove(script .. ".err")
      os.execute("rm -rf '" .. dir .. "'")
      assert.are.equal(0, rc)
      assert.is_truthy(out:find("exit=1", 1, true), out)
      assert.is_truthy(out:find("handler boom", 1, true), out)
      assert.is_falsy(out:find(".sock", 1, true), out)
   end)
end)
