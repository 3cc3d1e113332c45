-- SPDX-License-Identifier: MIT
-- The BAR0 registers of pci-epf-test (as drivers/misc/pci_endpoint_test.c uses
-- them) as a pciem.regmap map, for the REPL: `STATUS` shows READ_SUCCESS, IRQ_RAISED ...
local IRQ_TYPES = { [0] = "INTx", [1] = "MSI", [2] = "MSI-X" }

return {
   name = "pci_epf_test", bar = 0,
   registers = {
      { name = "MAGIC", offset = 0x00, title = "scratch the driver's BAR test writes and reads" },
      { name = "COMMAND", offset = 0x04, title = "one bit starts an operation",
        fields = {
           { name = "RAISE_LEGACY_IRQ", bits = 0 },
           { name = "RAISE_MSI_IRQ", bits = 1 },
           { name = "RAISE_MSIX_IRQ", bits = 2 },
           { name = "READ", bits = 3 },
           { name = "WRITE", bits = 4 },
           { name = "COPY", bits = 5 },
        } },
      { name = "STATUS", offset = 0x08, title = "result of the last operation",
        fields = {
           { name = "READ_SUCCESS", bits = 0 },
           { name = "READ_FAIL", bits = 1 },
           { name = "WRITE_SUCCESS", bits = 2 },
           { name = "WRITE_FAIL", bits = 3 },
           { name = "COPY_SUCCESS", bits = 4 },
           { name = "COPY_FAIL", bits = 5 },
           { name = "IRQ_RAISED", bits = 6 },
           { name = "SRC_ADDR_INVALID", bits = 7 },
           { name = "DST_ADDR_INVALID", bits = 8 },
        } },
      { name = "SRC_ADDR_LO", offset = 0x0c, title = "source bus address (READ, COPY)" },
      { name = "SRC_ADDR_HI", offset = 0x10 },
      { name = "DST_ADDR_LO", offset = 0x14, title = "destination bus address (WRITE, COPY)" },
      { name = "DST_ADDR_HI", offset = 0x18 },
      { name = "SIZE", offset = 0x1c, title = "bytes to move" },
      { name = "CHECKSUM", offset = 0x20, title = "crc32 of the data moved" },
      { name = "IRQ_TYPE", offset = 0x24, title = "how completion is signalled",
        fields = { { name = "TYPE", bits = { 0, 31 }, values = IRQ_TYPES } } },
      { name = "IRQ_NUMBER", offset = 0x28, title = "1-based MSI / MSI-X vector" },
      { name = "FLAGS", offset = 0x2c, fields = { { name = "USE_DMA", bits = 0 } } },
   },
}
