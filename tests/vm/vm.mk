# SPDX-License-Identifier: MIT
# The QEMU guest bench: Debian's kernel matching the headers pciem.ko is built
# against, a busybox initramfs with the test tools, pciem.ko and pciem-lua.
#   make vm-run GUEST=script.sh   boot, load pciem.ko, run the script as root
#   make test-vm                  every tests/vm/guest/*.sh in one boot
#   make demo                     devices/nvme.lua under the guest's nvme driver, ext4, fio
#   make vm-clean                 drop the built initramfs (kernel download kept)
# See docs/guest.md for the variables below.

VM_DIR := $(BUILD)/vm
# The uncompressed kernel (PVH boot) when fetch-kernel.sh could extract it.
VM_KERNEL ?= $(CACHE)/kernel/$(KVER)/boot/guest-kernel

VM_MEM ?= 2G
VM_SMP ?= 2
# Bounds for a hung guest, not run times: the pci_endpoint_test proof alone
# runs pcitest 2100 times (about 45-90 ms per process under TCG).
VM_TIMEOUT ?= 1200
VM_QEMU_ARGS ?=
VM_APPEND ?=
# pciem.ko's parameters at every insmod in the guest. Sync deadlines of 2 s:
# a TCG vCPU can be off the real CPU for the built-in 100 ms.
VM_MODULE_ARGS ?= sync_timeout_default_us=2000000
# Guest kernel modules (with their dependencies) and host tools (with their
# libraries) in the cached base archive; *_EXTRA adds to them.
VM_MODULES ?= nvme null_blk ext4 loop crc32c_generic crc32c-intel pci-stub $(VM_MODULES_EXTRA)
VM_TOOLS ?= lspci setpci nvme fio mke2fs mkfs.ext4 e2fsck blkdiscard lsblk kmod luajit \
	$(VM_TOOLS_EXTRA)
# make test-vm: which tests (shell globs on the name without .sh), per-test deadline.
VM_TESTS ?=
VM_TEST_TIMEOUT ?= 600

# Guest-side C test programs (owned by the kmod part): defines vm-src.
-include $(TOP)/tests/vm/src/src.mk
# pci_endpoint_test.ko and pcitest from Debian's linux-source: defines vm-epf.
include $(TOP)/tests/vm/epf/epf.mk

VM_HAVE_SRC := $(wildcard $(TOP)/tests/vm/src/src.mk)

VM_ENV = TOP='$(TOP)' BUILD='$(BUILD)' CACHE='$(CACHE)' KVER='$(KVER)' \
	VM_MODULES='$(strip $(VM_MODULES))' VM_TOOLS='$(strip $(VM_TOOLS))'
# Variables for the guest's /pciem/env (initrd.sh's trailing VAR=value).
VM_GUEST_ENV = PCIEM_MODULE_ARGS='$(VM_MODULE_ARGS)'
VM_RUN_ENV = VM_MEM='$(VM_MEM)' VM_SMP='$(VM_SMP)' VM_TIMEOUT='$(VM_TIMEOUT)' \
	VM_QEMU_ARGS='$(VM_QEMU_ARGS)' VM_APPEND='$(VM_APPEND)'
VM_RUN = $(VM_RUN_ENV) $(TOP)/tests/vm/run.sh $(VM_KERNEL)

# -s: no "Nothing to be done" lines between the steps (V=1 shows everything).
VM_SUBMAKE = $(MAKE) $(if $(filter 1,$(V)),,-s)

.PHONY: vm-build vm-run test-vm demo vm-clean

# Everything the guest carries that this tree builds (VM_NO_BUILD=1: boot
# with whatever is already built).
vm-build:
	$(Q)mkdir -p $(VM_DIR)
ifneq ($(VM_NO_BUILD),1)
	$(Q)$(VM_SUBMAKE) kmod
	$(Q)$(VM_SUBMAKE) host
ifneq ($(VM_HAVE_SRC),)
	$(Q)$(VM_SUBMAKE) vm-src
endif
	$(Q)$(VM_SUBMAKE) vm-epf
endif

vm-run: vm-build
	$(Q)test -n "$(GUEST)" || { echo "usage: make vm-run GUEST=path/to/script.sh" >&2; exit 2; }
	$(Q)test -f "$(GUEST)" || { echo "vm-run: GUEST=$(GUEST): no such file" >&2; exit 2; }
	$(Q)$(VM_ENV) $(TOP)/tests/vm/initrd.sh $(VM_DIR)/initrd.img "$(GUEST)" $(VM_GUEST_ENV)
	$(E) "VM       $(GUEST) (TCG, $(VM_SMP) CPUs, $(VM_MEM), deadline $(VM_TIMEOUT)s)"
	$(Q)$(VM_RUN) $(VM_DIR)/initrd.img $(VM_DIR)/console.log

test-vm: vm-build
	$(Q)$(VM_ENV) $(TOP)/tests/vm/initrd.sh $(VM_DIR)/initrd-test.img \
		$(TOP)/tests/vm/runner.sh PCIEM_TESTS='$(VM_TESTS)' \
		PCIEM_TEST_TIMEOUT='$(VM_TEST_TIMEOUT)' $(VM_GUEST_ENV)
	$(E) "VM       tests/vm/guest/*.sh (TCG, $(VM_SMP) CPUs, $(VM_MEM))"
	$(Q)$(VM_RUN_ENV) $(TOP)/tests/vm/test-vm.sh $(VM_KERNEL) $(VM_DIR)/initrd-test.img \
		$(VM_DIR)/console-test.log

# deps first, then the build: not as two prerequisites, which -j would race.
demo: deps-ensure
	$(Q)$(VM_SUBMAKE) vm-build
	$(Q)$(VM_ENV) $(TOP)/tests/vm/initrd.sh $(VM_DIR)/initrd-demo.img \
		$(TOP)/tests/vm/demo.sh $(VM_GUEST_ENV)
	$(E) "DEMO     booting the QEMU guest (software emulation, about 40 s)..."
	$(Q)VM_SHOW='demo| ' $(VM_RUN) $(VM_DIR)/initrd-demo.img $(VM_DIR)/console-demo.log

vm-clean:
	$(Q)rm -rf $(VM_DIR) $(CACHE)/vm
