-- SPDX-License-Identifier: MIT
-- The few POSIX calls the REPL needs (unix sockets, poll, directories, pids),
-- through the FFI under private names so no other module's cdef can clash.
local ffi = require("ffi")
local bit = require("bit")

local M = {}

ffi.cdef [[
typedef struct { uint16_t family; char path[108]; } pciem_repl_sockaddr_un;
typedef struct { int fd; short events; short revents; } pciem_repl_pollfd;
typedef struct {
	uint64_t dev, ino, nlink;
	uint32_t mode, uid, gid, pad0;
	uint64_t rdev;
	int64_t size, blksize, blocks;
	int64_t times[6];
	int64_t reserved[3];
} pciem_repl_stat;
typedef struct {
	uint64_t ino;
	int64_t off;
	uint16_t reclen;
	uint8_t type;
	char name[256];
} pciem_repl_dirent;
int pciem_repl_socket(int domain, int type, int proto) __asm__("socket");
int pciem_repl_bind(int fd, const pciem_repl_sockaddr_un *a, uint32_t len) __asm__("bind");
int pciem_repl_listen(int fd, int backlog) __asm__("listen");
int pciem_repl_accept4(int fd, void *a, void *len, int flags) __asm__("accept4");
int pciem_repl_connect(int fd, const pciem_repl_sockaddr_un *a, uint32_t len) __asm__("connect");
long pciem_repl_read(int fd, void *buf, unsigned long n) __asm__("read");
long pciem_repl_send(int fd, const void *buf, unsigned long n, int flags) __asm__("send");
int pciem_repl_close(int fd) __asm__("close");
int pciem_repl_unlink(const char *path) __asm__("unlink");
int pciem_repl_chmod(const char *path, uint32_t mode) __asm__("chmod");
int pciem_repl_mkdir(const char *path, uint32_t mode) __asm__("mkdir");
int pciem_repl_lstat(const char *path, pciem_repl_stat *st) __asm__("lstat");
int pciem_repl_getpid(void) __asm__("getpid");
uint32_t pciem_repl_getuid(void) __asm__("getuid");
int pciem_repl_kill(int pid, int sig) __asm__("kill");
int pciem_repl_poll(pciem_repl_pollfd *fds, unsigned long n, int timeout) __asm__("poll");
int pciem_repl_isatty(int fd) __asm__("isatty");
uint32_t pciem_repl_umask(uint32_t mask) __asm__("umask");
void *pciem_repl_opendir(const char *path) __asm__("opendir");
pciem_repl_dirent *pciem_repl_readdir(void *dir) __asm__("readdir");
int pciem_repl_closedir(void *dir) __asm__("closedir");
char *pciem_repl_strerror(int errnum) __asm__("strerror");
int pciem_repl_fcntl(int fd, int cmd, ...) __asm__("fcntl");
]]

local C = ffi.C
M.C = C

local AF_UNIX, SOCK_STREAM = 1, 1
local SOCK_NONBLOCK, SOCK_CLOEXEC = 0x800, 0x80000
local EINTR, EAGAIN, ENOENT, EEXIST, ESRCH, EPERM = 4, 11, 2, 17, 3, 1
M.EAGAIN, M.EINTR = EAGAIN, EINTR
M.POLLIN, M.POLLOUT, M.POLLERR, M.POLLHUP = 1, 4, 8, 16
local S_IFMT, S_IFDIR = 0xf000, 0x4000

function M.strerror(e)
   return ffi.string(C.pciem_repl_strerror(e or ffi.errno()))
end

local function fail(what)
   return nil, what .. ": " .. M.strerror(ffi.errno()), ffi.errno()
end

local function addr(path)
   if #path >= 108 then return nil end
   local a = ffi.new("pciem_repl_sockaddr_un")
   a.family = AF_UNIX
   ffi.copy(a.path, path)
   return a
end

function M.getpid() return C.pciem_repl_getpid() end
function M.getuid() return C.pciem_repl_getuid() end
function M.isatty(fd) return C.pciem_repl_isatty(fd) == 1 end
function M.close(fd) return C.pciem_repl_close(fd) end
function M.unlink(path) return C.pciem_repl_unlink(path) == 0 end

--- Whether process `pid` exists (EPERM: it does, owned by someone else).
function M.alive(pid)
   if C.pciem_repl_kill(pid, 0) == 0 then return true end
   return ffi.errno() == EPERM
end

function M.kill(pid, sig) return C.pciem_repl_kill(pid, sig) == 0 end

--- lstat: { mode, uid, is_dir, is_socket } or nil, err.
function M.lstat(path)
   local st = ffi.new("pciem_repl_stat")
   if C.pciem_repl_lstat(path, st) ~= 0 then return fail(path) end
   return { mode = bit.band(st.mode, 0xfff), uid = st.uid,
      is_dir = bit.band(st.mode, S_IFMT) == S_IFDIR,
      is_socket = bit.band(st.mode, S_IFMT) == 0xc000 }
end

--- A private directory (0700, ours, not a symlink), made if missing.
function M.private_dir(path)
   if C.pciem_repl_mkdir(path, tonumber("700", 8)) ~= 0 and ffi.errno() ~= EEXIST then
      return fail(path)
   end
   local st, err = M.lstat(path)
   if not st then return nil, err end
   if not st.is_dir then return nil, path .. ": not a directory" end
   if st.uid ~= M.getuid() then return nil, path .. ": owned by another user" end
   if bit.band(st.mode, tonumber("077", 8)) ~= 0 then
      if C.pciem_repl_chmod(path, tonumber("700", 8)) ~= 0 then return fail(path) end
   end
   return true
end

--- A non-blocking listening unix socket at `path`, mode 0600.
function M.listen(path)
   local a = addr(path)
   if not a then return nil, path .. ": path too long for a unix socket" end
   local fd = C.pciem_repl_socket(AF_UNIX, bit.bor(SOCK_STREAM, SOCK_NONBLOCK, SOCK_CLOEXEC), 0)
   if fd < 0 then return fail("socket") end
   C.pciem_repl_unlink(path)
   -- the socket is born 0600: no window in which others could connect
   local old = C.pciem_repl_umask(tonumber("177", 8))
   local rc = C.pciem_repl_bind(fd, a, ffi.sizeof(a))
   local e = ffi.errno()
   C.pciem_repl_umask(old)
   if rc ~= 0 then
      C.pciem_repl_close(fd)
      return nil, path .. ": " .. M.strerror(e)
   end
   if C.pciem_repl_listen(fd, 16) ~= 0 then
      local r1, r2 = fail(path)
      C.pciem_repl_close(fd)
      C.pciem_repl_unlink(path)
      return r1, r2
   end
   return fd
end

--- Accept one client (non-blocking fd), nil when none is waiting.
function M.accept(fd)
   local c = C.pciem_repl_accept4(fd, nil, nil, bit.bor(SOCK_NONBLOCK, SOCK_CLOEXEC))
   if c < 0 then return nil, M.strerror(ffi.errno()), ffi.errno() end
   return c
end

--- Connect to the socket at `path` (blocking fd).
function M.connect(path)
   local a = addr(path)
   if not a then return nil, path .. ": path too long" end
   local fd = C.pciem_repl_socket(AF_UNIX, bit.bor(SOCK_STREAM, SOCK_CLOEXEC), 0)
   if fd < 0 then return fail("socket") end
   if C.pciem_repl_connect(fd, a, ffi.sizeof(a)) ~= 0 then
      local e = ffi.errno()
      C.pciem_repl_close(fd)
      return nil, path .. ": " .. M.strerror(e), e
   end
   return fd
end

local rbuf = ffi.new("uint8_t[?]", 65536)

--- Read what is there: a string, "" at end of file, or nil, err, errno
--- (errno EAGAIN: nothing now).
function M.read(fd)
   while true do
      local n = C.pciem_repl_read(fd, rbuf, 65536)
      if n > 0 then return ffi.string(rbuf, n) end
      if n == 0 then return "" end
      local e = ffi.errno()
      if e ~= EINTR then return nil, M.strerror(e), e end
   end
end

local MSG_NOSIGNAL = 0x4000

--- Write as much of `s` to socket `fd` as goes without blocking: bytes
--- written, or nil, err. A peer that went away is an error, never a SIGPIPE
--- (which would end the device's process).
function M.write(fd, s)
   local done = 0
   while done < #s do
      local n = C.pciem_repl_send(fd, ffi.cast("const char *", s) + done, #s - done, MSG_NOSIGNAL)
      if n < 0 then
         local e = ffi.errno()
         if e == EAGAIN then return done end
         if e ~= EINTR then return nil, M.strerror(e), e end
      else
         done = done + tonumber(n)
      end
   end
   return done
end

--- Write all of `s` to a blocking socket.
function M.write_all(fd, s)
   local done = 0
   while done < #s do
      local n, err = M.write(fd, s:sub(done + 1))
      if not n then return nil, err end
      done = done + n
   end
   return true
end

--- poll(2) over { {fd=, events=} ... }: fills .revents; returns the count.
function M.poll(list, timeout_ms)
   local n = #list
   local p = ffi.new("pciem_repl_pollfd[?]", n)
   for i, x in ipairs(list) do
      p[i - 1].fd, p[i - 1].events = x.fd, x.events or M.POLLIN
   end
   local rc
   repeat
      rc = C.pciem_repl_poll(p, n, timeout_ms)
   until rc >= 0 or ffi.errno() ~= EINTR
   for i, x in ipairs(list) do x.revents = p[i - 1].revents end
   return rc
end

--- The names in directory `path` (nil, err if it cannot be read).
function M.listdir(path)
   local d = C.pciem_repl_opendir(path)
   if d == nil then return fail(path) end
   local out = {}
   while true do
      local e = C.pciem_repl_readdir(d)
      if e == nil then break end
      local name = ffi.string(e.name)
      if name ~= "." and name ~= ".." then out[#out + 1] = name end
   end
   C.pciem_repl_closedir(d)
   table.sort(out)
   return out
end

M.ENOENT, M.ESRCH = ENOENT, ESRCH
return M
