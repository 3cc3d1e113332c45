-- SPDX-License-Identifier: MIT
-- The report of `make bench` (shipped as /pciem/bin/bench_report.lua, run by
-- plain luajit in the guest):
--   luajit report.lua RAW JSON      medians over runs, figures and ratios:
--                                   a table on stdout, the JSON into JSON
--   luajit report.lua --check JSON  parse JSON, check every figure is there
--                                   with numbers (exit 1 otherwise)
-- RAW holds "RAW name k=v k=v ..." lines, one per measurement and run.
-- Fingerprint fields come from the environment (BENCH_*).

-- Figures: name, unit, value (measurement, field), baseline (measurement, field).
-- A ratio is always value / baseline: for times "how many times slower", for
-- bandwidths the fraction of memcpy's.
local DMA_SIZES = { { 4096, "4k" }, { 131072, "128k" }, { 4194304, "4m" } }

local FIGURES = {
   { "posted_write_vs_ram_write", "ns", "posted_write", "mean_ns", "ram_write", "mean_ns" },
   { "posted_write_vs_null_syscall", "ns", "posted_write", "mean_ns", "null_syscall", "mean" },
   { "sync_read_lua_median_vs_ram_read", "ns", "sync_read_lua", "median", "ram_read", "median" },
   { "sync_read_lua_p99_vs_ram_read", "ns", "sync_read_lua", "p99", "ram_read", "p99" },
   { "sync_read_lua_vs_null_syscall", "ns", "sync_read_lua", "median", "null_syscall", "mean" },
   { "sync_read_native_median_vs_ram_read", "ns", "sync_read_native", "median", "ram_read", "median" },
   { "sync_read_native_p99_vs_ram_read", "ns", "sync_read_native", "p99", "ram_read", "p99" },
   { "sync_read_native_vs_null_syscall", "ns", "sync_read_native", "median", "null_syscall", "mean" },
   { "irq_raise_to_handler_median_vs_eventfd", "ns", "irq_latency", "median", "eventfd_wake", "median" },
   { "irq_raise_to_handler_p99_vs_eventfd", "ns", "irq_latency", "p99", "eventfd_wake", "p99" },
}
for _, s in ipairs(DMA_SIZES) do
   for _, dir in ipairs({ "read", "write" }) do
      FIGURES[#FIGURES + 1] = { ("dma_%s_%s_vs_memcpy"):format(dir, s[2]), "MiB/s",
         ("dma_%s_%d"):format(dir, s[1]), "mib_s", ("memcpy_%d"):format(s[1]), "mib_s" }
   end
end

local FINGERPRINT = {
   { "kernel", "BENCH_GUEST_KERNEL" }, { "guest_cpu", "BENCH_GUEST_CPU" },
   { "host_cpu", "BENCH_HOST_CPU" }, { "qemu", "BENCH_QEMU" },
   { "luajit", "BENCH_LUAJIT" }, { "git_commit", "BENCH_COMMIT" },
   { "scale", "BENCH_SCALE" }, { "runs", "BENCH_RUNS_DONE" }, { "pinned", "BENCH_PINNED" },
}

local function median(list)
   table.sort(list)
   local n = #list
   if n % 2 == 1 then return list[(n + 1) / 2] end
   return (list[n / 2] + list[n / 2 + 1]) / 2
end

-- samples[measurement][field] = { run values }
local function read_raw(path)
   local f, err = io.open(path)
   if not f then return nil, err end
   local samples = {}
   for line in f:lines() do
      local name, rest = line:match("^RAW (%S+) (.*)$")
      if name then
         local m = samples[name] or {}
         samples[name] = m
         for k, v in rest:gmatch("([%w_]+)=(%d+)") do
            m[k] = m[k] or {}
            table.insert(m[k], tonumber(v))
         end
         -- Derived fields: sub-nanosecond RAM stores, bandwidths.
         if m.mean_ps then
            m.mean_ns = {}
            for i, ps in ipairs(m.mean_ps) do m.mean_ns[i] = ps / 1000 end
         end
         if m.ns and m.bytes then
            m.mib_s = {}
            for i, ns in ipairs(m.ns) do
               m.mib_s[i] = ns > 0 and (m.bytes[i] / 1048576) / (ns / 1e9) or 0
            end
         end
      end
   end
   f:close()
   return samples
end

local function field(samples, name, key)
   local m = samples[name]
   if not m or not m[key] or #m[key] == 0 then return nil end
   local copy = {}
   for i, v in ipairs(m[key]) do copy[i] = v end
   local mid = median(copy)   -- sorts copy
   return mid, #copy, copy[1], copy[#copy]
end

local function json_string(s)
   return '"' .. tostring(s):gsub('[%c"\\]', function(c)
      return ({ ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\t'] = '\\t' })[c]
         or ("\\u%04x"):format(c:byte())
   end) .. '"'
end

local function json_number(x)
   if x == nil or x ~= x or x == math.huge or x == -math.huge then return "null" end
   return ("%.6g"):format(x)
end

local function report(raw_path, json_path)
   local samples, err = read_raw(raw_path)
   if not samples then
      io.stderr:write("bench_report: ", err, "\n")
      return 1
   end
   local missing = 0
   local out = {}
   local rows = {}
   for _, fig in ipairs(FIGURES) do
      local name, unit, vm, vf, bm, bf = unpack(fig)
      local value, runs, vmin, vmax = field(samples, vm, vf)
      local base, _, bmin, bmax = field(samples, bm, bf)
      local ratio = value and base and base > 0 and value / base or nil
      if not ratio then
         missing = missing + 1
         io.stderr:write("bench_report: ", name, ": no ", value and bm or vm, " measurement\n")
      end
      rows[#rows + 1] = { name, value, unit, bm .. "." .. bf, base, ratio }
      out[#out + 1] = ("    {\"name\": %s, \"value\": %s, \"unit\": %s, \"measure\": %s, "
         .. "\"baseline_name\": %s, \"baseline\": %s, \"ratio\": %s, \"runs\": %s, "
         .. "\"value_range\": [%s, %s], \"baseline_range\": [%s, %s]}")
         :format(json_string(name), json_number(value), json_string(unit),
            json_string(vm .. "." .. vf), json_string(bm .. "." .. bf), json_number(base),
            json_number(ratio), json_number(runs), json_number(vmin), json_number(vmax),
            json_number(bmin), json_number(bmax))
   end

   print(("%-40s %12s %-6s %-22s %12s %10s"):format("figure", "value", "unit", "baseline",
      "base value", "ratio"))
   for _, r in ipairs(rows) do
      print(("%-40s %12s %-6s %-22s %12s %10s"):format(r[1], json_number(r[2]), r[3], r[4],
         json_number(r[5]), json_number(r[6])))
   end
   print("(medians over the runs; value_range/baseline_range in the JSON give min..max)")

   local fp = {}
   for _, kv in ipairs(FINGERPRINT) do
      fp[#fp + 1] = ("    %s: %s"):format(json_string(kv[1]), json_string(os.getenv(kv[2]) or ""))
   end
   local f = assert(io.open(json_path, "w"))
   f:write("{\n  \"fingerprint\": {\n", table.concat(fp, ",\n"), "\n  },\n",
      "  \"note\": \"TCG guest: absolute numbers are meaningless, compare ratios\",\n",
      "  \"figures\": [\n", table.concat(out, ",\n"), "\n  ]\n}\n")
   f:close()
   return missing == 0 and 0 or 1
end

-- A strict JSON reader, enough to prove the file parses.
local function json_decode(s)
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

local function check(json_path)
   local f, err = io.open(json_path)
   if not f then
      io.stderr:write("bench_report: ", err, "\n")
      return 1
   end
   local ok, doc = pcall(json_decode, f:read("*a"))
   f:close()
   if not ok then
      io.stderr:write("bench_report: ", json_path, ": ", doc, "\n")
      return 1
   end
   local bad = 0
   local function complain(...)
      io.stderr:write("bench_report: ", ...)
      io.stderr:write("\n")
      bad = bad + 1
   end
   if type(doc) ~= "table" or type(doc.figures) ~= "table" or type(doc.fingerprint) ~= "table" then
      complain("no fingerprint or figures")
      return 1
   end
   local by_name = {}
   for _, fig in ipairs(doc.figures) do
      if type(fig) == "table" and fig.name then by_name[fig.name] = fig end
   end
   for _, want in ipairs(FIGURES) do
      local fig = by_name[want[1]]
      if not fig then
         complain(want[1], ": missing")
      else
         for _, k in ipairs({ "value", "baseline", "ratio" }) do
            if type(fig[k]) ~= "number" or fig[k] < 0 then
               complain(want[1], ".", k, ": not a number")
            end
         end
         if type(fig.unit) ~= "string" then complain(want[1], ".unit missing") end
      end
   end
   for _, kv in ipairs(FINGERPRINT) do
      if type(doc.fingerprint[kv[1]]) ~= "string" then
         complain("fingerprint.", kv[1], " missing")
      end
   end
   if bad == 0 then print(("bench_report: %s: %d figures ok"):format(json_path, #FIGURES)) end
   return bad == 0 and 0 or 1
end

local a, b = ...
if a == "--check" and b then
   os.exit(check(b))
elseif a and b then
   os.exit(report(a, b))
end
io.stderr:write("usage: luajit report.lua RAW JSON | --check JSON\n")
os.exit(2)
