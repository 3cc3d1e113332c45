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

-- tests/bench/json.lua, beside this file (shipped as bench_json.lua).
local json = (function()
   local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
   for _, name in ipairs({ "bench_json.lua", "json.lua" }) do
      local f = io.open(dir .. "/" .. name)
      if f then
         f:close()
         return dofile(dir .. "/" .. name)
      end
   end
   error("bench_report: no bench_json.lua or json.lua beside " .. dir, 0)
end)()
local json_string, json_number = json.string, json.number

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

local function check(json_path)
   local f, err = io.open(json_path)
   if not f then
      io.stderr:write("bench_report: ", err, "\n")
      return 1
   end
   local ok, doc = pcall(json.decode, f:read("*a"))
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
