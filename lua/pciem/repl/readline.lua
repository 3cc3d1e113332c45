-- SPDX-License-Identifier: MIT
-- Line editing for the REPL: libreadline's callback interface loaded with
-- ffi.load (history, tab completion; the caller's event loop stays in charge),
-- or a plain line reader when readline or a terminal is missing.
local ffi = require("ffi")
local jit = require("jit")
local sys = require("pciem.repl.sys")

local M = {}

pcall(ffi.cdef, [[
typedef void (*pciem_rl_line_fn)(char *);
typedef char *(*pciem_rl_entry_fn)(const char *, int);
typedef char **(*pciem_rl_complete_fn)(const char *, int, int);
void rl_callback_handler_install(const char *prompt, pciem_rl_line_fn fn);
void rl_callback_read_char(void);
void rl_callback_handler_remove(void);
void rl_callback_sigcleanup(void);
char **rl_completion_matches(const char *text, pciem_rl_entry_fn fn);
void add_history(const char *line);
int read_history(const char *path);
int write_history(const char *path);
int history_truncate_file(const char *path, int lines);
void rl_replace_line(const char *text, int clear_undo);
int rl_on_new_line(void);
void rl_redisplay(void);
int rl_forced_update_display(void);
int rl_clear_visible_line(void);
int rl_set_prompt(const char *prompt);
int rl_crlf(void);
void rl_free_line_state(void);
extern char *rl_line_buffer;
extern int rl_point;
extern int rl_end;
extern const char *rl_readline_name;
extern const char *rl_completer_word_break_characters;
extern pciem_rl_complete_fn rl_attempted_completion_function;
extern int rl_attempted_completion_over;
extern int rl_catch_signals;
extern int rl_catch_sigwinch;
extern int rl_completion_append_character;
]])
pcall(ffi.cdef, [[
void pciem_repl_free(void *p) __asm__("free");
char *pciem_repl_strdup(const char *s) __asm__("strdup");
]])

-- Characters that end a word for completion: all but [A-Za-z0-9_.:], so that
-- CSTS.RDY and dev:watch_fd complete as one word (as Session:complete sees it).
M.WORD_BREAKS = " \t\n\"'`@$><=;|&{}()[],+-*/%~^#!?\\"

local rl_lib
--- libreadline through the FFI, or nil and why.
function M.lib()
   if rl_lib ~= nil then return rl_lib or nil, "readline not available" end
   for _, name in ipairs({ "readline", "libreadline.so.8", "libreadline.so.7" }) do
      local ok, lib = pcall(ffi.load, name)
      if ok then
         rl_lib = lib
         return lib
      end
   end
   rl_lib = false
   return nil, "libreadline not found (apt-get install libreadline8)"
end

--- ~/.pciem_lua_history, or $PCIEM_LUA_HISTORY.
function M.history_path()
   local p = os.getenv("PCIEM_LUA_HISTORY")
   if p and p ~= "" then return p end
   local home = os.getenv("HOME")
   if home and home ~= "" then return home .. "/.pciem_lua_history" end
end

---------------------------------------------------------------------------
-- The readline editor (one per process: readline's state is global).

local Editor = {}
Editor.__index = Editor

local anchors = {}	-- strings and callbacks readline keeps pointers to

--- opts: on_line(line | nil at end of input) -> next prompt, or nil to wait
--- (then call resume(prompt)); complete(text_before_cursor) -> list, start;
--- history (path or nil).
function M.editor(opts)
   local fd = opts.fd or 0
   if opts.plain or not sys.isatty(fd) then return M.plain(opts) end
   local lib = M.lib()
   if not lib then return M.plain(opts) end
   local self = setmetatable({ lib = lib, fd = fd, opts = opts, active = false,
      history = opts.history, closed = false }, Editor)
   anchors.name = ffi.new("char[?]", 10, "pciem-lua")
   anchors.breaks = ffi.new("char[?]", #M.WORD_BREAKS + 1, M.WORD_BREAKS)
   lib.rl_readline_name = anchors.name
   lib.rl_completer_word_break_characters = anchors.breaks
   lib.rl_catch_signals = 0	-- SIGINT arrives through the signalfd
   if self.history then lib.read_history(self.history) end
   local cands, idx = {}, 0
   anchors.entry = ffi.cast("pciem_rl_entry_fn", function(_, state)
      if state == 0 then idx = 0 end
      idx = idx + 1
      if cands[idx] then return ffi.C.pciem_repl_strdup(cands[idx]) end
      return nil
   end)
   anchors.complete = ffi.cast("pciem_rl_complete_fn", function(text, _, last)
      lib.rl_attempted_completion_over = 1
      cands = {}
      if opts.complete then
         local line = ffi.string(lib.rl_line_buffer, last)
         local ok, list = pcall(opts.complete, line)
         if ok and type(list) == "table" then cands = list end
         local word = ffi.string(text)
         for i = #cands, 1, -1 do
            if cands[i]:sub(1, #word) ~= word then table.remove(cands, i) end
         end
         local only_member = #cands == 1 and cands[1]:find("[.:]$")
         lib.rl_completion_append_character = only_member and 0 or 32
      end
      if #cands == 0 then return nil end
      return lib.rl_completion_matches(text, anchors.entry)
   end)
   lib.rl_attempted_completion_function = anchors.complete
   anchors.line = ffi.cast("pciem_rl_line_fn", function(p)
      local line
      if p ~= nil then
         line = ffi.string(p)
         ffi.C.pciem_repl_free(p)
      end
      self:_line(line)
   end)
   return self
end

function Editor:_line(line)
   if line and line:find("%S") and self.history then
      self.lib.add_history(line)
      self.lib.write_history(self.history)
   end
   -- stop editing while the line is worked on: output prints normally
   self.lib.rl_callback_handler_remove()
   self.active = false
   local prompt = self.opts.on_line(line)
   if prompt and not self.closed then self:resume(prompt) end
end

--- Show `prompt` and edit a line.
function Editor:resume(prompt)
   self.prompt = prompt
   self.lib.rl_callback_handler_install(prompt, anchors.line)
   self.active = true
end
Editor.start = Editor.resume

--- The terminal is readable: let readline take a character. Never compiled:
--- readline calls back into Lua from here.
function Editor:feed()
   if self.active then self.lib.rl_callback_read_char() end
end
jit.off(Editor.feed)

--- Print asynchronous output without breaking the line being typed.
function Editor:print(text)
   if self.active then self.lib.rl_clear_visible_line() end
   io.stdout:write(text, "\n")
   io.stdout:flush()
   if self.active then self.lib.rl_forced_update_display() end
end

--- Ctrl-C: drop the line being typed; show `prompt` afresh (nil: wait for
--- resume()).
function Editor:interrupt(prompt)
   if not self.active then return end
   local lib = self.lib
   lib.rl_callback_sigcleanup()
   lib.rl_free_line_state()
   lib.rl_replace_line("", 0)
   io.stdout:write("^C\n")
   io.stdout:flush()
   lib.rl_callback_handler_remove()
   self.active = false
   if prompt then self:resume(prompt) end
end

function Editor:close()
   if self.closed then return end
   self.closed = true
   if self.active then self.lib.rl_callback_handler_remove() end
   self.active = false
   if self.history then
      self.lib.write_history(self.history)
      self.lib.history_truncate_file(self.history, 1000)
   end
end

---------------------------------------------------------------------------
-- Plain lines: no terminal (pipes, scripts) or no readline.

local Plain = {}
Plain.__index = Plain

function M.plain(opts)
   local fd = opts.fd or 0
   return setmetatable({ fd = fd, opts = opts, buf = "", active = false, closed = false,
      tty = sys.isatty(fd) }, Plain)
end

-- Ready for the next line: show `prompt` on a terminal.
function Plain:_prompt(prompt)
   self.prompt = prompt
   self.active = true
   if self.tty then
      io.stdout:write(prompt)
      io.stdout:flush()
   end
end

function Plain:resume(prompt)
   self:_prompt(prompt)
   -- lines already read wait for the next prompt
   self:_drain()
end
Plain.start = Plain.resume

function Plain:_drain()
   while self.active and not self.closed do
      local line, rest = self.buf:match("^([^\n]*)\n(.*)$")
      if not line then
         if self.eof then
            self.active = false
            local tail = self.buf
            self.buf = ""
            if tail ~= "" then
               self:_deliver(tail)
            else
               self.opts.on_line(nil)
            end
         end
         return
      end
      self.buf = rest
      self:_deliver(line)
   end
end

function Plain:_deliver(line)
   self.active = false
   local prompt = self.opts.on_line(line)
   if prompt and not self.closed then self:_prompt(prompt) end
end

function Plain:feed()
   local data, _, e = sys.read(self.fd)
   if data == nil and e == sys.EAGAIN then return end
   if not data or data == "" then
      self.eof = true
   else
      self.buf = self.buf .. data
   end
   self:_drain()
end

function Plain:print(text)
   io.stdout:write(text, "\n")
   io.stdout:flush()
end

function Plain:interrupt(prompt)
   if self.tty then io.stdout:write("^C\n", prompt or "") end
   io.stdout:flush()
end

function Plain:close() self.closed = true end

return M
