-- SPDX-License-Identifier: MIT
-- The NVMe 1.4 controller registers (section 3.1) as a pciem.regmap map: what the
-- REPL decodes when you type CSTS or `watch CC`. Bit positions from the spec's figures.
local AMS = { [0] = "round robin", [1] = "weighted round robin", [7] = "vendor" }
local SHN = { [0] = "none", [1] = "normal", [2] = "abrupt" }
local SHST = { [0] = "normal operation", [1] = "shutdown occurring", [2] = "shutdown complete" }
local CSS = { [0] = "NVM command set" }

local registers = {
   { name = "CAP", offset = 0x00, width = 8, section = "3.1.1", title = "Controller Capabilities",
     fields = {
        { name = "MQES", bits = { 0, 15 } },		-- entries per queue, 0's based
        { name = "CQR", bits = 16 },			-- contiguous queues required
        { name = "AMS", bits = { 17, 18 } },		-- bit0 WRR with urgent, bit1 vendor
        { name = "TO", bits = { 24, 31 } },		-- ready timeout, 500 ms units
        { name = "DSTRD", bits = { 32, 35 } },		-- doorbell stride 2^(2+DSTRD)
        { name = "NSSRS", bits = 36 },
        { name = "CSS", bits = { 37, 44 } },		-- bit0 NVM command set
        { name = "BPS", bits = 45 },
        { name = "MPSMIN", bits = { 48, 51 } },		-- 2^(12+MPSMIN)
        { name = "MPSMAX", bits = { 52, 55 } },
        { name = "PMRS", bits = 56 },
        { name = "CMBS", bits = 57 },
     } },
   { name = "VS", offset = 0x08, section = "3.1.2", title = "Version",
     fields = {
        { name = "TER", bits = { 0, 7 } },
        { name = "MNR", bits = { 8, 15 } },
        { name = "MJR", bits = { 16, 31 } },
     } },
   { name = "INTMS", offset = 0x0c, section = "3.1.3", title = "Interrupt Mask Set",
     fields = { { name = "IVMS", bits = { 0, 31 } } } },
   { name = "INTMC", offset = 0x10, section = "3.1.4", title = "Interrupt Mask Clear",
     fields = { { name = "IVMC", bits = { 0, 31 } } } },
   { name = "CC", offset = 0x14, section = "3.1.5", title = "Controller Configuration",
     fields = {
        { name = "EN", bits = 0 },
        { name = "CSS", bits = { 4, 6 }, values = CSS },
        { name = "MPS", bits = { 7, 10 } },		-- page size 2^(12+MPS)
        { name = "AMS", bits = { 11, 13 }, values = AMS },
        { name = "SHN", bits = { 14, 15 }, values = SHN },
        { name = "IOSQES", bits = { 16, 19 } },		-- 2^n bytes, 6 = 64
        { name = "IOCQES", bits = { 20, 23 } },		-- 2^n bytes, 4 = 16
     } },
   { name = "CSTS", offset = 0x1c, section = "3.1.6", title = "Controller Status",
     fields = {
        { name = "RDY", bits = 0 },
        { name = "CFS", bits = 1 },			-- controller fatal status
        { name = "SHST", bits = { 2, 3 }, values = SHST },
        { name = "NSSRO", bits = 4 },			-- subsystem reset occurred
        { name = "PP", bits = 5 },			-- processing paused
     } },
   { name = "NSSR", offset = 0x20, section = "3.1.7", title = "NVM Subsystem Reset",
     fields = { { name = "NSSRC", bits = { 0, 31 } } } },	-- "NVMe" = 0x4e564d65
   { name = "AQA", offset = 0x24, section = "3.1.8", title = "Admin Queue Attributes",
     fields = {
        { name = "ASQS", bits = { 0, 11 } },		-- 0's based
        { name = "ACQS", bits = { 16, 27 } },
     } },
   { name = "ASQ", offset = 0x28, width = 8, section = "3.1.9",
     title = "Admin Submission Queue Base Address",
     fields = { { name = "ASQB", bits = { 12, 63 } } } },
   { name = "ACQ", offset = 0x30, width = 8, section = "3.1.10",
     title = "Admin Completion Queue Base Address",
     fields = { { name = "ACQB", bits = { 12, 63 } } } },
   { name = "CMBLOC", offset = 0x38, section = "3.1.11", title = "Controller Memory Buffer Location",
     fields = {
        { name = "BIR", bits = { 0, 2 } },
        { name = "CQMMS", bits = 3 },
        { name = "CQPDS", bits = 4 },
        { name = "CDPMLS", bits = 5 },
        { name = "CDPCILS", bits = 6 },
        { name = "CDMMMS", bits = 7 },
        { name = "CQDA", bits = 8 },
        { name = "OFST", bits = { 12, 31 } },
     } },
   { name = "CMBSZ", offset = 0x3c, section = "3.1.12", title = "Controller Memory Buffer Size",
     fields = {
        { name = "SQS", bits = 0 },
        { name = "CQS", bits = 1 },
        { name = "LISTS", bits = 2 },
        { name = "RDS", bits = 3 },
        { name = "WDS", bits = 4 },
        { name = "SZU", bits = { 8, 11 } },
        { name = "SZ", bits = { 12, 31 } },
     } },
   { name = "BPINFO", offset = 0x40, section = "3.1.13", title = "Boot Partition Information",
     fields = {
        { name = "BPSZ", bits = { 0, 14 } },
        { name = "BRS", bits = { 24, 25 } },
        { name = "ABPID", bits = 31 },
     } },
   { name = "BPRSEL", offset = 0x44, section = "3.1.14", title = "Boot Partition Read Select",
     fields = {
        { name = "BPRSZ", bits = { 0, 9 } },
        { name = "BPROF", bits = { 10, 29 } },
        { name = "BPID", bits = 31 },
     } },
   { name = "BPMBL", offset = 0x48, width = 8, section = "3.1.15",
     title = "Boot Partition Memory Buffer Location",
     fields = { { name = "BMBBA", bits = { 12, 63 } } } },
   { name = "CMBMSC", offset = 0x50, width = 8, section = "3.1.16",
     title = "Controller Memory Buffer Memory Space Control",
     fields = {
        { name = "CRE", bits = 0 },
        { name = "CMSE", bits = 1 },
        { name = "CBA", bits = { 12, 63 } },
     } },
   { name = "CMBSTS", offset = 0x58, section = "3.1.17", title = "Controller Memory Buffer Status",
     fields = { { name = "CBAI", bits = 0 } } },
   { name = "PMRCAP", offset = 0xe00, section = "3.1.18",
     title = "Persistent Memory Capabilities",
     fields = {
        { name = "RDS", bits = 3 },
        { name = "WDS", bits = 4 },
        { name = "BIR", bits = { 5, 7 } },
        { name = "PMRTU", bits = { 8, 9 } },
        { name = "PMRWBM", bits = { 10, 13 } },
        { name = "PMRTO", bits = { 16, 23 } },
        { name = "CMSS", bits = 24 },
     } },
   { name = "PMRCTL", offset = 0xe04, section = "3.1.19", title = "Persistent Memory Region Control",
     fields = { { name = "EN", bits = 0 } } },
   { name = "PMRSTS", offset = 0xe08, section = "3.1.20", title = "Persistent Memory Region Status",
     fields = {
        { name = "ERR", bits = { 0, 7 } },
        { name = "NRDY", bits = 8 },
        { name = "HSTS", bits = { 9, 11 } },
        { name = "CBAI", bits = 12 },
     } },
   { name = "PMREBS", offset = 0xe0c, section = "3.1.21",
     title = "Persistent Memory Region Elasticity Buffer Size",
     fields = {
        { name = "PMRSZU", bits = { 0, 3 } },
        { name = "RBB", bits = 4 },
        { name = "PMRWBZ", bits = { 8, 31 } },
     } },
   { name = "PMRSWTP", offset = 0xe10, section = "3.1.22",
     title = "Persistent Memory Region Sustained Write Throughput",
     fields = {
        { name = "PMRSWTU", bits = { 0, 3 } },
        { name = "PMRSWTV", bits = { 8, 31 } },
     } },
   -- 3.1.23 is one 64-bit register at 0xe14, not 8-byte aligned: two halves here.
   { name = "PMRMSCL", offset = 0xe14, section = "3.1.23",
     title = "Persistent Memory Region Controller Memory Space Control (low)",
     fields = {
        { name = "CMSE", bits = 1 },
        { name = "CBA", bits = { 12, 31 } },
     } },
   { name = "PMRMSCU", offset = 0xe18, section = "3.1.23",
     title = "Persistent Memory Region Controller Memory Space Control (high)",
     fields = { { name = "CBA", bits = { 0, 31 } } } },
}

-- 3.1.24/3.1.25 doorbells with CAP.DSTRD = 0: SQyTDBL at 0x1000 + 8y, CQyHDBL at
-- 0x1000 + 8y + 4, for every queue id the model can create (0..127).
for y = 0, 127 do
   registers[#registers + 1] = { name = ("SQ%dTDBL"):format(y), offset = 0x1000 + 8 * y,
      section = "3.1.24", title = ("Submission Queue %d Tail Doorbell"):format(y), quiet = true,
      fields = { { name = "SQT", bits = { 0, 15 } } } }
   registers[#registers + 1] = { name = ("CQ%dHDBL"):format(y), offset = 0x1000 + 8 * y + 4,
      section = "3.1.25", title = ("Completion Queue %d Head Doorbell"):format(y), quiet = true,
      fields = { { name = "CQH", bits = { 0, 15 } } } }
end

return { name = "nvme", bar = 0, registers = registers }
