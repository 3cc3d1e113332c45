# SPDX-License-Identifier: MIT
# make bench: the engine's measurements as ratios against baselines from one
# guest boot (docs/performance.md). Not part of make test; the guest test
# tests/vm/guest/bench_smoke.sh runs a tiny configuration of it.
#   make bench                     full run: table on stdout, build/bench/results.json
#   make bench BENCH_SCALE=smoke   a few iterations (proves the pipeline only)
#   make bench BENCH_PIN=1         device host and driver loops on distinct CPUs
# Included by the top-level Makefile.

BENCH_SRC := $(TOP)/tests/bench
BENCH_OUT := $(BUILD)/bench
# Shipped to the guest's /pciem/bin with the other guest programs.
BENCH_BIN := $(BUILD)/vm/bin
BENCH_SCALE ?= full
BENCH_PIN ?= 0
BENCH_GUEST := $(addprefix $(BENCH_BIN)/,pciem_bench.ko bench_user bench_native.so \
	bench.lua bench_guest.sh bench_report.lua)

.PHONY: bench bench-build
bench-build: $(BENCH_GUEST)

# make vm-run / test-vm carry the bench too (bench_smoke needs it).
ifneq ($(VM_NO_BUILD),1)
vm-build: bench-build
endif

$(BENCH_BIN)/pciem_bench.ko: $(BENCH_SRC)/kmod/pciem_bench.c $(BENCH_SRC)/kmod/Kbuild
	$(E) "KMOD     tests/bench/kmod/pciem_bench.ko ($(KVER))"
	$(Q)rm -rf $(BENCH_OUT)/kmod && mkdir -p $(BENCH_OUT)/kmod $(@D)
	$(Q)cp $^ $(BENCH_OUT)/kmod/
	$(Q)$(MAKE) -C $(KDIR) M=$(BENCH_OUT)/kmod modules >$(BENCH_OUT)/kmod/build.log 2>&1 || \
		{ cat $(BENCH_OUT)/kmod/build.log; exit 1; }
	$(Q)cp $(BENCH_OUT)/kmod/pciem_bench.ko $@

$(BENCH_BIN)/bench_user: $(BENCH_SRC)/src/bench_user.c
	$(Q)mkdir -p $(@D)
	$(E) "CC       $@"
	$(Q)$(CC) -static -O2 -g -std=gnu11 -Wall -Wextra -Werror -pthread -o $@ $<

$(BENCH_BIN)/bench_native.so: $(BENCH_SRC)/bench_native.c $(TOP)/host/pciem_native.h \
		$(TOP)/include/uapi/pciem.h
	$(Q)mkdir -p $(@D)
	$(E) "CC       $@"
	$(Q)$(CC) -std=gnu11 -O2 -g -fPIC -shared -Wall -Wextra -Werror -I$(TOP)/host -o $@ $<

$(BENCH_BIN)/bench.lua: $(BENCH_SRC)/bench.lua
	$(Q)mkdir -p $(@D) && cp $< $@
$(BENCH_BIN)/bench_guest.sh: $(BENCH_SRC)/guest.sh
	$(Q)mkdir -p $(@D) && cp $< $@
$(BENCH_BIN)/bench_report.lua: $(BENCH_SRC)/report.lua
	$(Q)mkdir -p $(@D) && cp $< $@

bench: bench-build
	$(Q)MAKE='$(MAKE)' BUILD='$(BUILD)' TOP='$(TOP)' BENCH_SCALE='$(BENCH_SCALE)' \
		BENCH_PIN='$(BENCH_PIN)' $(BENCH_SRC)/run.sh
