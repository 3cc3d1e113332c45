-- SPDX-License-Identifier: MIT
-- A small pseudo-terminal driver for the REPL specs: run a command on a new
-- pty (as its controlling terminal), wait for text on the screen, type keys.
local ffi = require("ffi")
local bit = require("bit")

pcall(ffi.cdef, [[
int pciem_pty_openpt(int flags) __asm__("posix_openpt");
int pciem_pty_grantpt(int fd) __asm__("grantpt");
int pciem_pty_unlockpt(int fd) __asm__("unlockpt");
char *pciem_pty_ptsname(int fd) __asm__("ptsname");
int pciem_pty_fork(void) __asm__("fork");
int pciem_pty_setsid(void) __asm__("setsid");
int pciem_pty_open(const char *path, int flags, int mode) __asm__("open");
int pciem_pty_dup2(int a, int b) __asm__("dup2");
int pciem_pty_execv(const char *path, char *const argv[]) __asm__("execv");
void pciem_pty_exit(int code) __asm__("_exit");
long pciem_pty_read(int fd, void *buf, unsigned long n) __asm__("read");
long pciem_pty_write(int fd, const void *buf, unsigned long n) __asm__("write");
int pciem_pty_close(int fd) __asm__("close");
int pciem_pty_waitpid(int pid, int *status, int flags) __asm__("waitpid");
int pciem_pty_kill(int pid, int sig) __asm__("kill");
typedef struct { int fd; short events; short revents; } pciem_pty_pollfd;
int pciem_pty_poll(pciem_pty_pollfd *fds, unsigned long n, int timeout) __asm__("poll");
]])
local C = ffi.C

local O_RDWR, O_NOCTTY = 2, 0x100
local WNOHANG = 1

local M = {}
local Pty = {}
Pty.__index = Pty

--- Run `cmd` (a /bin/sh command line) on a new pty. Returns the pty object.
function M.spawn(cmd)
   local master = C.pciem_pty_openpt(bit.bor(O_RDWR, O_NOCTTY))
   assert(master >= 0, "posix_openpt failed")
   assert(C.pciem_pty_grantpt(master) == 0 and C.pciem_pty_unlockpt(master) == 0)
   local slave = ffi.string(C.pciem_pty_ptsname(master))
   -- everything the child needs exists before fork: it only makes C calls
   local argv = ffi.new("char *[4]")
   local a0, a1, a2 = ffi.new("char[?]", 3, "sh"), ffi.new("char[?]", 3, "-c"),
      ffi.new("char[?]", #cmd + 1, cmd)
   argv[0], argv[1], argv[2], argv[3] = a0, a1, a2, nil
   local sh = ffi.new("char[?]", 8, "/bin/sh")
   local spath = ffi.new("char[?]", #slave + 1, slave)
   local pid = C.pciem_pty_fork()
   assert(pid >= 0, "fork failed")
   if pid == 0 then
      C.pciem_pty_setsid()
      local fd = C.pciem_pty_open(spath, O_RDWR, 0)	-- becomes the controlling tty
      C.pciem_pty_dup2(fd, 0)
      C.pciem_pty_dup2(fd, 1)
      C.pciem_pty_dup2(fd, 2)
      C.pciem_pty_close(master)
      C.pciem_pty_execv(sh, argv)
      C.pciem_pty_exit(127)
   end
   return setmetatable({ fd = master, pid = pid, screen = "", seen = 0,
      buf = ffi.new("char[4096]"), anchors = { argv, a0, a1, a2, sh, spath } }, Pty)
end

-- Read what the pty has within `ms`; false when the child is gone (EIO).
function Pty:pump(ms)
   local p = ffi.new("pciem_pty_pollfd[1]")
   p[0].fd, p[0].events = self.fd, 1
   if C.pciem_pty_poll(p, 1, ms) <= 0 then return true end
   local n = C.pciem_pty_read(self.fd, self.buf, 4096)
   if n <= 0 then return false end
   self.screen = self.screen .. ffi.string(self.buf, n)
   return true
end

--- Wait (at most `timeout_s`) for plain text `text` to appear on the screen
--- after what earlier expect() calls consumed. Returns the new output, or
--- raises with the screen so far.
function Pty:expect(text, timeout_s)
   local deadline = os.time() + (timeout_s or 10)
   while true do
      local at, last = self.screen:find(text, self.seen + 1, true)
      if at then
         local out = self.screen:sub(self.seen + 1, last)
         self.seen = last
         return out
      end
      if os.time() > deadline or not self:pump(100) then
         if not self.screen:find(text, self.seen + 1, true) then
            error(("pty: '%s' did not appear; screen:\n%s"):format(text,
               self.screen:gsub("\27", "^[")), 2)
         end
      end
   end
end

--- Type `keys` (raw bytes: "\t" tab, "\3" Ctrl-C, "\27[A" up, "\4" Ctrl-D).
function Pty:type(keys)
   assert(C.pciem_pty_write(self.fd, keys, #keys) == #keys)
end

--- Wait for the child to exit (at most `timeout_s`); its exit status or nil.
function Pty:wait(timeout_s)
   local st = ffi.new("int[1]")
   local deadline = os.time() + (timeout_s or 10)
   while os.time() <= deadline do
      self:pump(100)
      local r = C.pciem_pty_waitpid(self.pid, st, WNOHANG)
      if r == self.pid then
         self.exited = true
         return bit.band(bit.rshift(st[0], 8), 0xff)
      end
   end
   return nil
end

function Pty:close()
   if not self.exited then
      C.pciem_pty_kill(self.pid, 9)
      C.pciem_pty_waitpid(self.pid, ffi.new("int[1]"), 0)
   end
   C.pciem_pty_close(self.fd)
end

return M
