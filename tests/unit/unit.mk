# SPDX-License-Identifier: MIT
# Unit tier: C tests of the freestanding kmod code, built for the host with
# sanitizers. tests/unit/test_NAME.c is linked with kmod/pciem_NAME.c when that
# file exists; each binary prints PASS/FAIL lines (tests/unit/check.h) and gets
# PCIEM_TEST_DATA=tests/unit for its data files.
#   make test-unit           build and run every unit test
#   make unit-uapi-layout    build $(UAPI_LAYOUT), which prints the uapi layout

UNIT_DIR := $(TOP)/tests/unit
UNIT_OUT := $(BUILD)/unit
UNIT_NAMES := $(patsubst $(UNIT_DIR)/test_%.c,%,$(wildcard $(UNIT_DIR)/test_*.c))
UNIT_BINS := $(addprefix $(UNIT_OUT)/test_,$(UNIT_NAMES))
UNIT_HDRS := $(wildcard $(TOP)/kmod/*.h) $(TOP)/include/uapi/pciem.h $(UNIT_DIR)/check.h \
	$(UNIT_DIR)/unit.mk
UNIT_CFLAGS := -O2 -g -Wall -Wextra -Werror -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -I$(TOP)/kmod -I$(TOP)/include
# The uapi header must stay plain ISO C for every consumer.
UNIT_CFLAGS_uapi := -std=c99 -pedantic
# A sanitizer report exits with this code, so a crash is told apart from a FAIL.
UNIT_SAN_ENV := ASAN_OPTIONS=exitcode=86:detect_leaks=1 UBSAN_OPTIONS=exitcode=86:print_stacktrace=1

# Printed by $(UAPI_LAYOUT): "struct field offset size" per line; the host's Lua
# tests compare it with ffi.offsetof/ffi.sizeof of the generated cdef.
UAPI_LAYOUT := $(UNIT_OUT)/uapi_layout

.PHONY: unit-uapi-layout
unit-uapi-layout: $(UAPI_LAYOUT)

$(UNIT_OUT):
	$(Q)mkdir -p $@

define unit_test_rule
$(UNIT_OUT)/test_$(1): $(UNIT_DIR)/test_$(1).c $(wildcard $(TOP)/kmod/pciem_$(1).c) $(UNIT_HDRS) | $(UNIT_OUT)
	$(E) "CC       tests/unit/test_$(1)"
	$(Q)$(CC) $(UNIT_CFLAGS) $(UNIT_CFLAGS_$(1)) -o $$@ $$(filter %.c,$$^)
endef
$(foreach n,$(UNIT_NAMES),$(eval $(call unit_test_rule,$(n))))

$(UAPI_LAYOUT): $(UNIT_DIR)/uapi_layout.c $(TOP)/include/uapi/pciem.h | $(UNIT_OUT)
	$(E) "CC       tests/unit/uapi_layout"
	$(Q)$(CC) -std=c99 -pedantic -Wall -Wextra -Werror -I$(TOP)/include -o $@ $<

# Build and run every suite even after a failure; a suite that does not build,
# or crashes without a FAIL line of its own, is recorded as failed.
unit_record = echo "FAIL unit/$$n ($(1))"; \
	if [ -n "$$PCIEM_RESULTS" ]; then echo "FAIL unit/$$n ($(1))" >>"$$PCIEM_RESULTS"; fi

test-unit: $(UAPI_LAYOUT)
	$(Q)rc=0; for n in $(UNIT_NAMES); do \
		t=$(UNIT_OUT)/test_$$n; \
		if ! $(MAKE) -s $$t; then rc=1; $(call unit_record,does not build); continue; fi; \
		env $(UNIT_SAN_ENV) PCIEM_TEST_DATA=$(UNIT_DIR) $$t; s=$$?; \
		if [ $$s -ne 0 ]; then rc=1; fi; \
		if [ $$s -ne 0 ] && [ $$s -ne 1 ]; then $(call unit_record,exit $$s); fi; \
	done; exit $$rc
