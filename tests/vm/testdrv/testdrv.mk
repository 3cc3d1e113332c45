# SPDX-License-Identifier: MIT
# The guest test driver pciem_testdrv.ko, built against the guest kernel's
# headers in a copy of its sources under $(BUILD)/vm/testdrv (keeping Kbuild
# outputs out of the tree) and shipped to the guest's /pciem/bin.
# Included by tests/vm/src/src.mk.

TESTDRV_SRC := $(TOP)/tests/vm/testdrv
TESTDRV_OUT := $(BUILD)/vm/testdrv
TESTDRV_KO := $(BUILD)/vm/bin/pciem_testdrv.ko
TESTDRV_FILES := $(wildcard $(TESTDRV_SRC)/*.c $(TESTDRV_SRC)/*.h) $(TESTDRV_SRC)/Kbuild

.PHONY: vm-testdrv
vm-testdrv: $(TESTDRV_KO)

$(TESTDRV_KO): $(TESTDRV_FILES)
	$(E) "KMOD     tests/vm/testdrv/pciem_testdrv.ko ($(KVER))"
	$(Q)rm -rf $(TESTDRV_OUT) && mkdir -p $(TESTDRV_OUT) $(dir $@)
	$(Q)cp $(TESTDRV_FILES) $(TESTDRV_OUT)/
	$(Q)$(MAKE) -C $(KDIR) M=$(TESTDRV_OUT) modules >$(TESTDRV_OUT)/build.log 2>&1 || \
		{ cat $(TESTDRV_OUT)/build.log; exit 1; }
	$(Q)cp $(TESTDRV_OUT)/pciem_testdrv.ko $@
