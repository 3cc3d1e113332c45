# SPDX-License-Identifier: MIT
# make bench: the engine's measurements as ratios against baselines from one
# guest boot, then the NVMe benchmark from a second boot (docs/performance.md,
# devices/nvme.md). Not part of make test; the guest tests bench_smoke.sh and
# bench_nvme_smoke.sh run tiny configurations of both.
#   make bench                     both: tables on stdout, build/bench/results.json
#                                  and build/bench/nvme.json
#   make bench-engine              the engine figures only
#   make bench-nvme                the NVMe benchmark only (fio against devices/nvme.lua,
#                                  QEMU's NVMe and null_blk)
#   BENCH_SCALE=smoke              a few iterations / 1 s per fio job (pipeline only)
#   BENCH_PIN=1                    engine: device host and driver loops on distinct CPUs
#   BENCH_NVME_MODES='lua qemu'    NVMe: some modes only (fast lua lua_nodbbuf
#                                  fast_nodbbuf qemu null_blk fast_timing; default
#                                  all but lua_nodbbuf)
#   BENCH_RUNTIME=N BENCH_ROUNDS=N NVMe: seconds per fio job, rounds over the modes
#                                  (full: 4 s, 2 rounds; the median is reported)
#   BENCH_NVME_REV=HEAD            NVMe: devices/ of that git revision, not the
#                                  working tree's
#   BENCH_QEMU_BACKING=tmpfs       NVMe: QEMU's disk file in /dev/shm instead of
#                                  build/bench (both cache=unsafe); direct: in
#                                  build/bench with cache=none (O_DIRECT)
# Included by the top-level Makefile.

BENCH_SRC := $(TOP)/tests/bench
BENCH_OUT := $(BUILD)/bench
# Shipped to the guest's /pciem/bin with the other guest programs.
BENCH_BIN := $(BUILD)/vm/bin
BENCH_SCALE ?= full
BENCH_PIN ?= 0
BENCH_NVME_MODES ?=
BENCH_RUNTIME ?=
BENCH_ROUNDS ?=
BENCH_QEMU_BACKING ?= file
BENCH_NVME_REV ?=
BENCH_FIO_JOBS := $(notdir $(wildcard $(BENCH_SRC)/fio/*.fio))
BENCH_GUEST := $(addprefix $(BENCH_BIN)/,pciem_bench.ko bench_user bench_native.so \
	bench.lua bench_guest.sh bench_report.lua bench_json.lua \
	bench_nvme_guest.sh bench_nvme_report.lua) \
	$(addprefix $(BENCH_BIN)/bench_fio/,$(BENCH_FIO_JOBS))

.PHONY: bench bench-build bench-engine bench-nvme
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
$(BENCH_BIN)/bench_json.lua: $(BENCH_SRC)/json.lua
	$(Q)mkdir -p $(@D) && cp $< $@
$(BENCH_BIN)/bench_nvme_guest.sh: $(BENCH_SRC)/nvme_guest.sh
	$(Q)mkdir -p $(@D) && cp $< $@
$(BENCH_BIN)/bench_nvme_report.lua: $(BENCH_SRC)/nvme_report.lua
	$(Q)mkdir -p $(@D) && cp $< $@
$(BENCH_BIN)/bench_fio/%.fio: $(BENCH_SRC)/fio/%.fio
	$(Q)mkdir -p $(@D) && cp $< $@

BENCH_RUN = MAKE='$(MAKE)' BUILD='$(BUILD)' TOP='$(TOP)' BENCH_SCALE='$(BENCH_SCALE)' \
	BENCH_PIN='$(BENCH_PIN)' BENCH_NVME_MODES='$(BENCH_NVME_MODES)' \
	BENCH_RUNTIME='$(BENCH_RUNTIME)' BENCH_ROUNDS='$(BENCH_ROUNDS)' BENCH_QEMU_BACKING='$(BENCH_QEMU_BACKING)' \
	BENCH_NVME_REV='$(BENCH_NVME_REV)' \
	$(BENCH_SRC)/run.sh

# One boot after the other (never two guests at once), the NVMe one even when
# the engine one failed; the status says whether both worked.
bench: bench-build
	$(Q)st=0; $(BENCH_RUN) engine || st=1; $(BENCH_RUN) nvme || st=1; exit $$st
bench-engine: bench-build
	$(Q)$(BENCH_RUN) engine
bench-nvme: bench-build
	$(Q)$(BENCH_RUN) nvme
