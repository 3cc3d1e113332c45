-- SPDX-License-Identifier: MIT
-- The report of `make bench-nvme` (shipped as /pciem/bin/bench_nvme_report.lua):
--   luajit nvme_report.lua RAW JSON       fio's JSON files and the counter deltas
--                                         named in RAW -> a table on stdout, JSON
--   luajit nvme_report.lua --check JSON [MODE,...]
--                                         the JSON parses and is complete; the
--                                         listed modes must have run (exit 1 if not)
-- RAW lines (tests/bench/nvme_guest.sh): "NA mode why", "DISK mode disk ctrl",
-- "RUN mode job fio=PATH fio_status=N ios=N irqs=N traps=N pciem_irqs=N pciem=0|1",
-- "SKIP mode job" (not run in that mode), "WARN mode what" (command timeouts,
-- controller resets, lost accesses in the kernel log while it ran), "STOP mode LINE" (devices/nvme.lua's stop
-- line; with fptiming=on it gives the per-stage cost budget).
-- Fingerprint fields come from the environment (BENCH_*).

local json = (function()
   local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
   for _, name in ipairs({ "bench_json.lua", "json.lua" }) do
      local f = io.open(dir .. "/" .. name)
      if f then
         f:close()
         return dofile(dir .. "/" .. name)
      end
   end
   error("bench_nvme_report: no bench_json.lua or json.lua beside " .. dir, 0)
end)()
local jstr, jnum = json.string, json.number

local MODES = {
   fast = "devices/nvme.lua fastpath=on",
   fast_nodbbuf = "devices/nvme.lua fastpath=on dbbuf=off",
   lua = "devices/nvme.lua fastpath=off (all-Lua)",
   lua_nodbbuf = "devices/nvme.lua fastpath=off dbbuf=off",
   qemu = "QEMU's emulated NVMe (-device nvme)",
   null_blk = "null_blk (no memory backing)",
   fast_timing = "devices/nvme.lua fastpath=on fptiming=on (stage clocks; no prefill)",
}
local OURS = { fast = true, fast_nodbbuf = true, lua = true, lua_nodbbuf = true,
   fast_timing = true }

local FINGERPRINT = {
   { "kernel", "BENCH_GUEST_KERNEL" }, { "guest_cpu", "BENCH_GUEST_CPU" },
   { "guest_cpus", "BENCH_GUEST_CPUS" }, { "host_cpu", "BENCH_HOST_CPU" },
   { "qemu", "BENCH_QEMU" }, { "qemu_nvme_backing", "BENCH_QEMU_BACKING" },
   { "fio", "BENCH_FIO" }, { "ioengine", "BENCH_ENGINE" },
   { "runtime_s", "BENCH_RUNTIME" }, { "disk_mib", "BENCH_SIZE_MB" },
   { "git_commit", "BENCH_COMMIT" }, { "scale", "BENCH_SCALE" }, { "rounds", "BENCH_ROUNDS" },
   { "pinned", "BENCH_PINNED" },
   { "modes", "BENCH_NVME_MODES" }, { "jobs", "BENCH_NVME_JOBS" },
}

-- Targets of issue 4, shown (not asserted): name, what, want, compare.
local HEADLINE = "randread_4k_qd32"

local function words(s)
   local t = {}
   for w in (s or ""):gmatch("%S+") do t[#t + 1] = w end
   return t
end

local function median(list)
   local t = {}
   for i, v in ipairs(list) do t[i] = v end
   table.sort(t)
   local n = #t
   if n % 2 == 1 then return t[(n + 1) / 2] end
   return (t[n / 2] + t[n / 2 + 1]) / 2
end

local function queue_depth(job)
   return tonumber(job:match("qd(%d+)$"))
end

-- iops, MB/s, mean completion latency (us), error of fio's JSON output.
local function fio_figures(path)
   local doc, err = json.read_file(path)
   if not doc then return nil, err end
   local job = type(doc.jobs) == "table" and doc.jobs[1]
   if type(job) ~= "table" then return nil, path .. ": no jobs" end
   local iops, bytes, lat_sum, n, p50, p99 = 0, 0, 0, 0, 0, 0
   for _, dir in ipairs({ "read", "write" }) do
      local d = job[dir]
      if type(d) == "table" and (d.total_ios or 0) > 0 then
         iops = iops + (d.iops or 0)
         bytes = bytes + (d.bw_bytes or 0)
         local clat = type(d.clat_ns) == "table" and d.clat_ns or {}
         lat_sum = lat_sum + (clat.mean or 0) * d.total_ios
         n = n + d.total_ios
         -- percentiles: the worse direction's (one direction per job here)
         local pct = type(clat.percentile) == "table" and clat.percentile or {}
         p50 = math.max(p50, pct["50.000000"] or 0)
         p99 = math.max(p99, pct["99.000000"] or 0)
      end
   end
   if job.error and job.error ~= 0 then return nil, ("fio error %d"):format(job.error) end
   return { iops = iops, mb_s = bytes / 1e6, lat_us = n > 0 and lat_sum / n / 1000 or nil,
      p50_us = p50 > 0 and p50 / 1000 or nil, p99_us = p99 > 0 and p99 / 1000 or nil }
end

local function read_raw(path)
   local f, err = io.open(path)
   if not f then return nil, err end
   local na, disks, runs, stops, paired_runs, warns = {}, {}, {}, {}, {}, {}
   for line in f:lines() do
      local kind, mode, rest = line:match("^(%u+) (%S+) ?(.*)$")
      if kind == "NA" then
         na[mode] = rest ~= "" and rest or "did not start"
      elseif kind == "DISK" then
         local w = words(rest)
         disks[mode] = { disk = w[1], ctrl = w[2] }
      elseif kind == "SKIP" then
         runs[mode .. "/" .. rest] = { skipped = true }
      elseif kind == "WARN" then
         warns[mode] = warns[mode] or {}
         table.insert(warns[mode], rest)
      elseif kind == "STOP" then
         stops[mode] = rest
      elseif kind == "RUN" then
         local job, kv = rest:match("^(%S+) (.*)$")
         local r = { mode = mode, job = job }
         for k, v in (kv or ""):gmatch("([%w_]+)=(%S+)") do r[k] = tonumber(v) or v end
         local key = mode .. "/" .. (job or "?")
         runs[key] = runs[key] or {}
         table.insert(runs[key], r)
         if r.pair then
            -- paired_runs["fast/job"][round] = the QEMU run right after fast's
            local pk = r.pair .. "/" .. (job or "?")
            paired_runs[pk] = paired_runs[pk] or {}
            paired_runs[pk][r.round] = r
         end
      end
   end
   f:close()
   return na, disks, runs, stops, paired_runs, warns
end

-- The stop line's counters; with fptiming=on also ns per call of each stage.
local function parse_stop(line)
   if not line then return nil end
   local t = {}
   t.commands, t.native_cmds = line:match("(%d+) commands %((%d+) in C%)")
   t.traps = line:match("(%d+) trapped writes")
   t.irqs = line:match("(%d+) interrupts")
   local timing = line:match("native ns: (.*)$")
   if timing then
      local function per(pat)
         local v, calls = timing:match(pat)
         return tonumber(v), tonumber(calls)
      end
      t.stages = {}
      local function stage(name, ns, calls) t.stages[#t.stages + 1] = { name, ns, calls } end
      local ns, calls = per("(%S+) per SQE fetch %((%d+) DMAs")
      stage("SQE fetch (one DMA per run of entries)", ns, calls)
      ns, calls = per("(%S+) per data DMA %((%d+)%)")
      stage("data DMA (per segment and chunk piece)", ns, calls)
      ns, calls = per("(%S+) per CQE DMA %((%d+) for")
      stage("CQE post (one DMA per run of entries)", ns, calls)
      ns, calls = per("(%S+) per interrupt %((%d+)%)")
      stage("interrupt (nd->irq)", ns, calls)
      ns, calls = per("(%S+) per shadow access %((%d+)%)")
      stage("shadow doorbell / EventIdx access", ns, calls)
   end
   for _, k in ipairs({ "commands", "native_cmds", "traps", "irqs" }) do t[k] = tonumber(t[k]) end
   return t
end

local function fmt(x, digits)
   if x == nil then return "-" end
   if digits == 0 then return ("%d"):format(math.floor(x + 0.5)) end
   return ("%." .. (digits or 2) .. "f"):format(x)
end

local function report(raw_path, json_path)
   local na, disks, runs, stops, paired_runs, warns = read_raw(raw_path)
   if not na then
      io.stderr:write("bench_nvme_report: ", disks, "\n")
      return 1
   end
   local modes = words(os.getenv("BENCH_NVME_MODES"))
   local jobs = words(os.getenv("BENCH_NVME_JOBS"))
   local failures = 0
   -- results[mode][job] = { status, figures... }
   local results = {}
   for _, mode in ipairs(modes) do
      results[mode] = {}
      for _, job in ipairs(jobs) do
         local rounds = runs[mode .. "/" .. job]
         local res = { mode = mode, job = job, qd = queue_depth(job) }
         if na[mode] then
            res.status, res.reason = "n/a", na[mode]
         elseif rounds and rounds.skipped then
            res.status = "skipped"
         elseif not rounds then
            res.status, res.reason = "failed", "no measurement"
         else
            -- Rates: the median over the rounds; counts: summed over them.
            local figs = { iops = {}, mb_s = {}, lat_us = {}, p50_us = {}, p99_us = {} }
            local sums = { ios = 0, irqs = 0, traps = 0, pciem_irqs = 0 }
            for _, r in ipairs(rounds) do
               local fig, err = fio_figures(r.fio)
               if not fig or r.fio_status ~= 0 then
                  res.status = "failed"
                  res.reason = err or ("fio exited " .. tostring(r.fio_status))
                  break
               end
               for k, list in pairs(figs) do list[#list + 1] = fig[k] end
               -- the paired QEMU run of this round, if any
               local q = paired_runs[mode .. "/" .. job] and paired_runs[mode .. "/" .. job][r.round]
               local qfig = q and q.fio_status == 0 and fio_figures(q.fio)
               if qfig and qfig.iops > 0 then
                  res.paired = res.paired or {}
                  res.paired[#res.paired + 1] = fig.iops / qfig.iops
               end
               for k in pairs(sums) do sums[k] = sums[k] + (tonumber(r[k]) or 0) end
            end
            if res.status ~= "failed" then
               res.status = "ok"
               res.samples = #rounds
               for k, list in pairs(figs) do res[k] = #list > 0 and median(list) or nil end
               res.iops_min, res.iops_max = math.min(unpack(figs.iops)), math.max(unpack(figs.iops))
               res.ios, res.irqs = sums.ios, sums.irqs
               if sums.ios > 0 then
                  if rounds[1].pciem == 1 then
                     res.traps = sums.traps
                     res.traps_per_io = sums.traps / sums.ios
                     res.pciem_irqs = sums.pciem_irqs
                  end
                  -- (a controller reset re-creates the vectors: the delta is then
                  -- meaningless, often negative)
                  if disks[mode] and disks[mode].ctrl and sums.irqs >= 0 then
                     res.irqs_per_io = sums.irqs / sums.ios
                  end
               end
            end
         end
         if res.status == "failed" then
            failures = failures + 1
            io.stderr:write("bench_nvme_report: ", mode, " ", job, ": ", res.reason, "\n")
         end
         results[mode][job] = res
      end
   end
   local function iops(mode, job)
      local r = results[mode] and results[mode][job]
      return r and r.status == "ok" and r.iops or nil
   end
   local function ratio(a, b) return a and b and b > 0 and a / b or nil end
   for _, mode in ipairs(modes) do
      for _, job in ipairs(jobs) do
         local r = results[mode][job]
         if r.paired then
            r.vs_qemu, r.vs_qemu_paired = median(r.paired), #r.paired
         elseif mode ~= "qemu" then
            r.vs_qemu = ratio(r.iops, iops("qemu", job))
         end
         if mode ~= "null_blk" then r.vs_null_blk = ratio(r.iops, iops("null_blk", job)) end
      end
   end

   -- The issue's targets: shown, never asserted.
   local worst_traps
   for _, job in ipairs(jobs) do
      local r = results.fast and results.fast[job]
      if r and r.traps_per_io and (queue_depth(job) or 0) >= 4 then
         worst_traps = math.max(worst_traps or 0, r.traps_per_io)
      end
   end
   local targets = {
      { "fast_vs_qemu_" .. HEADLINE, results.fast and results.fast[HEADLINE]
         and results.fast[HEADLINE].vs_qemu, ">=", 1.0 },
      { "lua_vs_fast_" .. HEADLINE, ratio(iops("lua", HEADLINE), iops("fast", HEADLINE)), ">=", 0.5 },
      { "fast_traps_per_io_worst_qd_ge_4", worst_traps, "<=", 0.3 },
   }

   -- The table.
   local head = "%-18s %-13s %8s %7s %8s %8s %9s %8s %8s %8s"
   print(head:format("job", "mode", "IOPS", "MB/s", "lat us", "p99 us", "traps/IO", "irqs/IO",
      "vs QEMU", "vs null"))
   for _, job in ipairs(jobs) do
      for _, mode in ipairs(modes) do
         local r = results[mode][job]
         if r.status == "ok" then
            print(head:format(job, mode, fmt(r.iops, 0), fmt(r.mb_s, 1), fmt(r.lat_us, 0),
               fmt(r.p99_us, 0),
               fmt(r.traps_per_io, 3), fmt(r.irqs_per_io, 3), fmt(r.vs_qemu), fmt(r.vs_null_blk)))
         elseif r.status ~= "skipped" then
            print(("%-18s %-13s %9s"):format(job, mode, r.status))
         end
      end
   end
   for _, mode in ipairs(modes) do
      if na[mode] then print(("n/a %s: %s"):format(mode, na[mode])) end
      for _, w in ipairs(warns[mode] or {}) do
         print(("WARNING %s: kernel trouble while it ran (setup or jobs): %s"):format(mode, w))
      end
   end
   print(("(IOPS, MB/s, latency: median over %s round(s) of %s s; per-I/O counts over all rounds;")
      :format(os.getenv("BENCH_ROUNDS") or "?", os.getenv("BENCH_RUNTIME") or "?"))
   print(" vs QEMU: median of ratios to the QEMU run paired with each run, when there is one)")
   print("targets (shown, not asserted):")
   local tj = {}
   for _, t in ipairs(targets) do
      local name, value, op, want = unpack(t)
      local met
      if value then
         if op == ">=" then met = value >= want else met = value <= want end
      end
      print(("  %-38s %8s  want %s %s  %s"):format(name, fmt(value, 3), op, fmt(want, 1),
         value == nil and "n/a" or (met and "met" or "not met")))
      tj[#tj + 1] = ("    {\"name\": %s, \"value\": %s, \"want\": %s, \"met\": %s}"):format(
         jstr(name), jnum(value), jstr(op .. " " .. want),
         value == nil and "null" or tostring(met))
   end

   -- The per-stage cost budget of the fast path, from fast_timing's stop line.
   local budget = {}
   local stop = parse_stop(stops.fast_timing)
   local bjob
   for _, job in ipairs(jobs) do
      local r = results.fast_timing and results.fast_timing[job]
      if r and r.status == "ok" then bjob = r end
   end
   if stop and stop.stages and bjob and stop.native_cmds and stop.native_cmds > 0 then
      local wall = 1e9 / bjob.iops
      print(("cost budget per I/O, fast path, %s (fptiming=on: %d IOPS, %d commands in C):")
         :format(bjob.job, bjob.iops, stop.native_cmds))
      print(("  %-40s %10s %10s %10s"):format("stage", "ns/call", "calls/IO", "ns/IO"))
      local c_total = 0
      for _, st in ipairs(stop.stages) do
         local name, ns, calls = unpack(st)
         local per_io = ns and calls and ns * calls / stop.native_cmds or nil
         c_total = c_total + (per_io or 0)
         print(("  %-40s %10s %10s %10s"):format(name, fmt(ns, 0),
            fmt(calls and calls / stop.native_cmds, 3), fmt(per_io, 0)))
         budget[#budget + 1] = ("      {\"stage\": %s, \"ns_per_call\": %s, \"calls_per_io\": %s, "
            .. "\"ns_per_io\": %s}"):format(jstr(name), jnum(ns),
            jnum(calls and calls / stop.native_cmds), jnum(per_io))
      end
      print(("  %-40s %10s %10s %10s"):format("timed C stages", "", "", fmt(c_total, 0)))
      print(("  %-40s %10s %10s %10s"):format("wall time per I/O (1 / IOPS)", "", "", fmt(wall, 0)))
      print(("  %-40s %10s %10s %10s"):format("rest (traps, event loop, wake-ups, guest)", "", "",
         fmt(wall - c_total, 0)))
      budget = { ("    \"job\": %s, \"iops\": %s, \"commands_in_c\": %s, \"wall_ns_per_io\": %s, "
         .. "\"c_stages_ns_per_io\": %s,\n    \"stages\": [\n%s\n    ]"):format(jstr(bjob.job),
         jnum(bjob.iops), jnum(stop.native_cmds), jnum(wall), jnum(c_total),
         table.concat(budget, ",\n")) }
   else
      budget = nil
   end

   -- The JSON.
   local fp = {}
   for _, kv in ipairs(FINGERPRINT) do
      fp[#fp + 1] = ("    %s: %s"):format(jstr(kv[1]), jstr(os.getenv(kv[2]) or ""))
   end
   local mj = {}
   for _, mode in ipairs(modes) do
      local d = disks[mode] or {}
      mj[#mj + 1] = ("    {\"name\": %s, \"what\": %s, \"ours\": %s, \"status\": %s, "
         .. "\"reason\": %s, \"disk\": %s, \"controller\": %s, \"stop_line\": %s, "
         .. "\"kernel_warnings\": [%s]}"):format(
         jstr(mode), jstr(MODES[mode] or mode), tostring(OURS[mode] == true),
         jstr(na[mode] and "n/a" or "ok"), na[mode] and jstr(na[mode]) or "null",
         d.disk and jstr(d.disk) or "null", d.ctrl and jstr(d.ctrl) or "null",
         stops[mode] and jstr(stops[mode]) or "null", table.concat((function()
            local t = {}
            for i, w in ipairs(warns[mode] or {}) do t[i] = jstr(w) end
            return t
         end)(), ", "))
   end
   local rj = {}
   local FIELDS = { "samples", "iops", "iops_min", "iops_max", "mb_s", "lat_us", "p50_us",
      "p99_us", "ios", "traps", "traps_per_io", "irqs",
      "irqs_per_io", "pciem_irqs", "vs_qemu", "vs_qemu_paired", "vs_null_blk" }
   for _, job in ipairs(jobs) do
      for _, mode in ipairs(modes) do
         local r = results[mode][job]
         local parts = { ("\"job\": %s, \"mode\": %s, \"qd\": %s, \"status\": %s"):format(
            jstr(job), jstr(mode), jnum(r.qd), jstr(r.status)) }
         if r.reason then parts[#parts + 1] = "\"reason\": " .. jstr(r.reason) end
         for _, k in ipairs(FIELDS) do
            parts[#parts + 1] = ("%s: %s"):format(jstr(k), jnum(r[k]))
         end
         rj[#rj + 1] = "    {" .. table.concat(parts, ", ") .. "}"
      end
   end
   local f = assert(io.open(json_path, "w"))
   f:write("{\n  \"fingerprint\": {\n", table.concat(fp, ",\n"), "\n  },\n",
      "  \"note\": \"TCG guest: compare ratios from one boot, not absolute numbers\",\n",
      "  \"modes\": [\n", table.concat(mj, ",\n"), "\n  ],\n",
      "  \"results\": [\n", table.concat(rj, ",\n"), "\n  ],\n",
      "  \"targets\": [\n", table.concat(tj, ",\n"), "\n  ],\n",
      "  \"budget\": ", budget and ("{\n" .. budget[1] .. "\n  }") or "null", "\n}\n")
   f:close()
   return failures == 0 and 0 or 1
end

-- --check: the file parses, every mode x job has a result, "ok" results carry
-- numbers, "n/a" ones a reason; modes in REQUIRED must be "ok".
local function check(json_path, required)
   local doc, err = json.read_file(json_path)
   local bad = 0
   local function complain(...)
      io.stderr:write("bench_nvme_report: ", ...)
      io.stderr:write("\n")
      bad = bad + 1
   end
   if not doc then
      complain(err)
      return 1
   end
   if type(doc.fingerprint) ~= "table" or type(doc.modes) ~= "table"
      or type(doc.results) ~= "table" or type(doc.targets) ~= "table" then
      complain("no fingerprint, modes, results or targets")
      return 1
   end
   for _, kv in ipairs(FINGERPRINT) do
      if type(doc.fingerprint[kv[1]]) ~= "string" then complain("fingerprint.", kv[1], " missing") end
   end
   local jobs = words(doc.fingerprint.jobs)
   if #jobs == 0 then complain("fingerprint.jobs is empty") end
   local status = {}
   for _, m in ipairs(doc.modes) do
      if type(m.name) ~= "string" then
         complain("a mode without a name")
      else
         status[m.name] = m.status
         if m.status == "n/a" and type(m.reason) ~= "string" then
            complain("mode ", m.name, ": n/a without a reason")
         elseif m.status ~= "ok" and m.status ~= "n/a" then
            complain("mode ", m.name, ": status ", tostring(m.status))
         end
      end
   end
   local seen = {}
   for _, r in ipairs(doc.results) do
      local key = tostring(r.mode) .. "/" .. tostring(r.job)
      seen[key] = true
      if r.status == "ok" then
         for _, k in ipairs({ "iops", "mb_s", "ios" }) do
            if type(r[k]) ~= "number" or r[k] <= 0 then complain(key, ".", k, ": not a positive number") end
         end
         if OURS[r.mode] and type(r.traps_per_io) ~= "number" then
            complain(key, ".traps_per_io: not a number")
         end
         if r.mode ~= "null_blk" and type(r.irqs_per_io) ~= "number" then
            complain(key, ".irqs_per_io: not a number")
         end
      elseif r.status == "n/a" then
         if type(r.reason) ~= "string" then complain(key, ": n/a without a reason") end
      elseif r.status == "skipped" then
         if r.mode ~= "fast_timing" then complain(key, ": skipped") end
      else
         complain(key, ": status ", tostring(r.status), " (", tostring(r.reason), ")")
      end
   end
   for mode in pairs(status) do
      for _, job in ipairs(jobs) do
         if not seen[mode .. "/" .. job] then complain(mode, "/", job, ": missing") end
      end
   end
   for _, mode in ipairs(required) do
      if status[mode] ~= "ok" then complain("mode ", mode, ": required, but ", tostring(status[mode])) end
   end
   for _, t in ipairs(doc.targets) do
      if type(t.name) ~= "string" or type(t.want) ~= "string" then complain("a malformed target") end
   end
   if bad == 0 then
      print(("bench_nvme_report: %s: %d results ok"):format(json_path, #doc.results))
   end
   return bad == 0 and 0 or 1
end

local a, b, c = ...
if a == "--check" and b then
   local required = {}
   for m in (c or ""):gmatch("[^,%s]+") do required[#required + 1] = m end
   os.exit(check(b, required))
elseif a and b then
   os.exit(report(a, b))
end
io.stderr:write("usage: luajit nvme_report.lua RAW JSON | --check JSON [MODE,...]\n")
os.exit(2)
