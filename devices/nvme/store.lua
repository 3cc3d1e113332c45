-- SPDX-License-Identifier: MIT
-- Backing store of one namespace: RAM allocated lazily in chunks (a 1 GiB disk costs
-- what is written), or a file read and written in place with pread/pwrite. Both are
-- described by a struct nvme_fp_store (fastpath.h) the native fast path uses too.
local ffi = require("ffi")
local state = require("nvme.state")

local function declare(decl) pcall(ffi.cdef, decl) end
declare("void *calloc(size_t nmemb, size_t size);")
declare("void free(void *ptr);")
-- A private name for open(2) with its mode argument: another module may declare
-- open() itself, and through a variadic prototype LuaJIT would pass the mode as a double.
declare("int pciem_nvme_open(const char *pathname, int flags, int mode) __asm__(\"open\");")
declare("int close(int fd);")
declare("int64_t pread(int fd, void *buf, size_t count, int64_t offset);")
declare("int64_t pwrite(int fd, const void *buf, size_t count, int64_t offset);")
declare("int ftruncate(int fd, int64_t length);")
declare("int fsync(int fd);")
declare("char *strerror(int errnum);")
local C = ffi.C

local CHUNK_SHIFT = state.CHUNK_SHIFT	-- 256 KiB chunks
local CHUNK = 2 ^ CHUNK_SHIFT
local O_RDWR, O_CREAT = 2, 64
local u8p = ffi.typeof("uint8_t *")
local u8pp = ffi.typeof("uint8_t **")

local function errno_msg() return ffi.string(C.strerror(ffi.errno())) end

---------------------------------------------------------------------------
-- RAM store

local Ram = {}
Ram.__index = Ram

-- The chunk table is calloc'ed memory C shares: chunks[idx] is NULL for a hole.
local function chunk_of(self, idx, create)
   local p = self.chunks[idx]
   if p == nil and create then
      p = C.calloc(1, CHUNK)
      if p == nil then error("nvme store: out of memory", 0) end
      p = ffi.cast(u8p, p)
      self.chunks[idx] = p
      self.fp.allocated = self.fp.allocated + CHUNK
   end
   return p
end

--- Copy `len` bytes at byte offset `off` into uint8_t * `buf` (holes read as zeroes).
function Ram:read(off, buf, len)
   local done = 0
   while done < len do
      local pos = off + done
      local idx = math.floor(pos / CHUNK)
      local in_off = pos - idx * CHUNK
      local n = math.min(CHUNK - in_off, len - done)
      local p = self.chunks[idx]
      if p ~= nil then ffi.copy(buf + done, p + in_off, n) else ffi.fill(buf + done, n, 0) end
      done = done + n
   end
   return true
end

--- Copy `len` bytes from `buf` to offset `off`; buf nil writes zeroes.
function Ram:write(off, buf, len)
   local done = 0
   while done < len do
      local pos = off + done
      local idx = math.floor(pos / CHUNK)
      local in_off = pos - idx * CHUNK
      local n = math.min(CHUNK - in_off, len - done)
      if buf ~= nil then
         ffi.copy(chunk_of(self, idx, true) + in_off, buf + done, n)
      else
         local p = self.chunks[idx]
         if p ~= nil then
            if n == CHUNK then
               C.free(p); self.chunks[idx] = nil; self.fp.allocated = self.fp.allocated - CHUNK
            else
               ffi.fill(p + in_off, n, 0)
            end
         end
      end
      done = done + n
   end
   return true
end

--- The store's own memory for `len` bytes at `off`, when one chunk holds them all:
--- commands move data straight between it and host memory, with no copy through a
--- buffer. nil for a range across chunks, or a hole unless `create` allocates it.
function Ram:span(off, len, create)
   local idx = math.floor(off / CHUNK)
   local in_off = off - idx * CHUNK
   if in_off + len > CHUNK then return nil end
   local p = chunk_of(self, idx, create)
   if p == nil then return nil end
   return p + in_off
end

--- Zero (and free) a range: Write Zeroes, deallocate, format.
function Ram:zero(off, len) return self:write(off, nil, len) end
function Ram:flush() return true end

-- Free every chunk and the table (idempotent; also when the store is collected).
local function ram_free(fp)
   local chunks = fp.chunks
   if chunks == nil then return end
   for idx = 0, tonumber(fp.nchunks) - 1 do
      if chunks[idx] ~= nil then C.free(chunks[idx]) end
   end
   C.free(chunks)
   fp.chunks, fp.nchunks, fp.allocated = nil, 0, 0
end

function Ram:close()
   ram_free(self.fp)
   self.chunks = nil
end

--- Bytes of RAM the store holds.
function Ram:allocated() return tonumber(self.fp.allocated) end

---------------------------------------------------------------------------
-- File store

local File = {}
File.__index = File

function File:read(off, buf, len)
   local done = 0
   while done < len do
      local n = tonumber(C.pread(self.fd, buf + done, len - done, off + done))
      if n < 0 then return nil, "pread: " .. errno_msg() end
      if n == 0 then ffi.fill(buf + done, len - done, 0); break end
      done = done + n
   end
   return true
end

function File:write(off, buf, len)
   if buf == nil then
      buf = self.zeroes
      local done = 0
      while done < len do
         local n = math.min(len - done, self.zero_len)
         local ok, err = self:write(off + done, buf, n)
         if not ok then return nil, err end
         done = done + n
      end
      return true
   end
   local done = 0
   while done < len do
      local n = tonumber(C.pwrite(self.fd, buf + done, len - done, off + done))
      if n <= 0 then return nil, "pwrite: " .. errno_msg() end
      done = done + n
   end
   return true
end

function File:zero(off, len) return self:write(off, nil, len) end

function File:flush()
   if C.fsync(self.fd) ~= 0 then return nil, "fsync: " .. errno_msg() end
   return true
end

function File:close()
   if self.fd >= 0 then C.close(self.fd); self.fd = -1; self.fp.fd = -1 end
end

function File:allocated() return 0 end

---------------------------------------------------------------------------

local M = { CHUNK = CHUNK }

-- The shared description, freed (with a RAM store's chunks) when collected.
local function new_fp(size)
   local fp = ffi.gc(ffi.cast("struct nvme_fp_store *", C.calloc(1, ffi.sizeof("struct nvme_fp_store"))),
      function(p) ram_free(p); C.free(p) end)
   if fp == nil then error("nvme store: out of memory", 0) end
   fp.size, fp.fd = size, -1
   return fp
end

--- A RAM store of `size` bytes.
function M.ram(size)
   local fp = new_fp(size)
   local n = math.ceil(size / CHUNK)
   local chunks = C.calloc(n, ffi.sizeof("uint8_t *"))
   if chunks == nil then error("nvme store: out of memory for the chunk table", 0) end
   fp.chunks, fp.nchunks = ffi.cast(u8pp, chunks), n
   return setmetatable({ kind = "ram", size = size, fp = fp, chunks = fp.chunks }, Ram)
end

--- A file store of `size` bytes at `path` (created, or grown to size; never shrunk).
function M.file(path, size)
   local fd = C.pciem_nvme_open(path, O_RDWR + O_CREAT, 420)	-- 0644
   if fd < 0 then return nil, ("backing file %s: %s"):format(path, errno_msg()) end
   local f = io.open(path, "rb")
   local cur = f and f:seek("end") or 0
   if f then f:close() end
   if cur < size and C.ftruncate(fd, size) ~= 0 then
      local msg = errno_msg()
      C.close(fd)
      return nil, ("backing file %s: cannot size it to %d bytes: %s"):format(path, size, msg)
   end
   local zero_len = 1048576
   local fp = new_fp(size)
   fp.fd = fd
   return setmetatable({ kind = "file", path = path, size = size, fd = fd, fp = fp,
      zeroes = ffi.new("uint8_t[?]", zero_len), zero_len = zero_len }, File)
end

return M
