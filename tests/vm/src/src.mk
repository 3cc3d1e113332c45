# SPDX-License-Identifier: MIT
# Guest-side C test programs of the /dev/pciem interface, built static on
# this host and shipped into the guest at /pciem/bin (included by vm.mk).

VM_SRC_DIR := $(TOP)/tests/vm/src
VM_BIN_DIR := $(BUILD)/vm/bin
VM_SRC_PROGS := $(patsubst $(VM_SRC_DIR)/%.c,$(VM_BIN_DIR)/%,$(wildcard $(VM_SRC_DIR)/*.c))
VM_SRC_CFLAGS := -static -O2 -g -std=gnu11 -Wall -Wextra -Werror

# The guest test driver module (tests/vm/testdrv): defines vm-testdrv.
include $(TOP)/tests/vm/testdrv/testdrv.mk

.PHONY: vm-src
vm-src: $(VM_SRC_PROGS) vm-testdrv

$(VM_BIN_DIR)/%: $(VM_SRC_DIR)/%.c $(VM_SRC_DIR)/testhost.h $(TOP)/include/uapi/pciem.h
	$(Q)mkdir -p $(VM_BIN_DIR)
	$(E) "CC       $@"
	$(Q)$(CC) $(VM_SRC_CFLAGS) -o $@ $<
