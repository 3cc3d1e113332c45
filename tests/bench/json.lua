-- SPDX-License-Identifier: MIT
-- The little JSON the bench reports need (shipped as /pciem/bin/bench_json.lua):
-- string and number encoders and a strict decoder (fio's --output-format=json,
-- and checking the files the reports write).
local M = {}

function M.string(s)
   return '"' .. tostring(s):gsub('[%c"\\]', function(c)
      return ({ ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\t'] = '\\t' })[c]
         or ("\\u%04x"):format(c:byte())
   end) .. '"'
end

-- nil, NaN and infinities become null.
function M.number(x)
   if x == nil or x ~= x or x == math.huge or x == -math.huge then return "null" end
   return ("%.6g"):format(x)
end

--- Decode a JSON text; raises "JSON: what at byte N" on malformed input.
-- null decodes to nil (so a null member is simply absent).
function M.decode(s)
   local pos = 1
   local value
   local function fail(what)
      error(("JSON: %s at byte %d"):format(what, pos), 0)
   end
   local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
   local function str()
      local buf = {}
      pos = pos + 1
      while true do
         local c = s:sub(pos, pos)
         if c == "" then fail("unterminated string") end
         if c == '"' then pos = pos + 1; return table.concat(buf) end
         if c == "\\" then
            local e = s:sub(pos + 1, pos + 1)
            if e == "u" then
               local hex = s:match("^%x%x%x%x", pos + 2) or fail("bad \\u escape")
               buf[#buf + 1] = string.char(tonumber(hex, 16) % 256)
               pos = pos + 6
            else
               local map = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f",
                  n = "\n", r = "\r", t = "\t" }
               buf[#buf + 1] = map[e] or fail("bad escape")
               pos = pos + 2
            end
         elseif c:byte() < 32 then
            fail("control character in string")
         else
            buf[#buf + 1] = c
            pos = pos + 1
         end
      end
   end
   function value()
      ws()
      local c = s:sub(pos, pos)
      if c == "{" then
         local t = {}
         pos = pos + 1
         ws()
         if s:sub(pos, pos) == "}" then pos = pos + 1; return t end
         while true do
            ws()
            if s:sub(pos, pos) ~= '"' then fail("object key expected") end
            local k = str()
            ws()
            if s:sub(pos, pos) ~= ":" then fail("':' expected") end
            pos = pos + 1
            t[k] = value()
            ws()
            local d = s:sub(pos, pos)
            pos = pos + 1
            if d == "}" then return t end
            if d ~= "," then fail("',' or '}' expected") end
         end
      elseif c == "[" then
         local t = {}
         pos = pos + 1
         ws()
         if s:sub(pos, pos) == "]" then pos = pos + 1; return t end
         while true do
            t[#t + 1] = value()
            ws()
            local d = s:sub(pos, pos)
            pos = pos + 1
            if d == "]" then return t end
            if d ~= "," then fail("',' or ']' expected") end
         end
      elseif c == '"' then
         return str()
      elseif s:find("^true", pos) then pos = pos + 4; return true
      elseif s:find("^false", pos) then pos = pos + 5; return false
      elseif s:find("^null", pos) then pos = pos + 4; return nil
      end
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or not tonumber(num) then fail("value expected") end
      pos = pos + #num
      return tonumber(num)
   end
   local v = value()
   ws()
   if pos <= #s then fail("trailing data") end
   return v
end

--- Read and decode a file: the value, or nil and a message.
function M.read_file(path)
   local f, err = io.open(path)
   if not f then return nil, err end
   local text = f:read("*a")
   f:close()
   local ok, v = pcall(M.decode, text)
   if not ok then return nil, path .. ": " .. v end
   return v
end

return M
