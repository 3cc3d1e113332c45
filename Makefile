# SPDX-License-Identifier: MIT
# pciem-lua top-level build. Each part keeps its own rules in a fragment
# (host/host.mk, tests/tests.mk, tests/vm/vm.mk); this file ties them together.
#
#   make            build pciem.ko and pciem-lua
#   make deps       install the Debian packages everything needs (root)
#   make demo       boot the QEMU guest: the NVMe device in Lua, formatted, mounted, fio
#   make test       every test tier; ends with "N passed, N failed"
#   make vm-run GUEST=script.sh   run a script as root in the guest
#   V=1             show full commands

V ?= 0
ifeq ($(V),1)
Q :=
else
Q := @
MAKEFLAGS += --no-print-directory
endif
E := @echo

TOP := $(CURDIR)
BUILD := $(TOP)/build
CACHE := $(TOP)/.cache
# The module is built against the newest installed Debian amd64 headers.
KVER ?= $(shell ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sed 's|.*/linux-headers-||' | sort -V | tail -n 1)
KDIR ?= /usr/src/linux-headers-$(KVER)

.PHONY: all kmod deps deps-ensure clean
all: kmod host

deps:
	$(Q)$(TOP)/tests/deps.sh

# Used by demo and test: install only when something is missing.
deps-ensure:
	$(Q)$(TOP)/tests/deps.sh --check 2>/dev/null || $(TOP)/tests/deps.sh

kmod:
	$(Q)test -n "$(KVER)" || { echo "no linux-headers-*-amd64 installed: run 'make deps'" >&2; exit 1; }
	$(E) "KMOD     kmod/pciem.ko ($(KVER))"
	$(Q)$(MAKE) -C $(KDIR) M=$(TOP)/kmod $(if $(filter 1,$(V)),V=1,) modules \
		$(if $(filter 1,$(V)),,>$(BUILD)/kmod.log 2>&1 || { cat $(BUILD)/kmod.log; exit 1; })

$(shell mkdir -p $(BUILD))

clean: host-clean
	$(Q)$(MAKE) -C $(KDIR) M=$(TOP)/kmod clean >/dev/null 2>&1 || true
	$(Q)rm -rf $(BUILD)

include host/host.mk
include tests/tests.mk
include tests/vm/vm.mk
-include tests/bench/bench.mk
