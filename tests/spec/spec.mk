# SPDX-License-Identifier: MIT
# The spec tier: busted specs under LuaJIT against the sim backend and the
# built pciem-lua binary. Included by tests/tests.mk.
#   make test-spec      run them, PASS/FAIL lines into $PCIEM_RESULTS
#   make test-spec SPEC=tests/spec/desc_spec.lua    one file

SPEC_BUILD := $(BUILD)/spec
SPEC ?= tests/spec
SPEC_ENV := PCIEM_HOST_LIB=$(BUILD)/libpciem-host.so PCIEM_LUA_PATH=$(TOP)/lua \
	PCIEM_BIN=$(BUILD)/pciem-lua PCIEM_TOP=$(TOP) PCIEM_LAYOUT=$(SPEC_BUILD)/uapi_layout

.PHONY: test-spec
test-spec: host $(SPEC_BUILD)/uapi_layout
	$(E) "SPEC     $(SPEC)"
	$(Q)cd $(TOP) && $(SPEC_ENV) luajit /usr/bin/busted \
		--lpath="$(TOP)/lua/?.lua;$(TOP)/lua/?/init.lua;$(TOP)/tests/spec/?.lua" \
		--pattern=_spec -o TAP $(SPEC) >$(SPEC_BUILD)/tap.txt 2>&1; \
		tests/spec/tap2results.sh $(SPEC_BUILD)/tap.txt

$(SPEC_BUILD)/uapi_layout.c: include/uapi/pciem.h tests/spec/gen_layout.lua
	$(Q)mkdir -p $(SPEC_BUILD)
	$(E) "GEN      $(@F)"
	$(Q)luajit tests/spec/gen_layout.lua $< >$@.tmp && mv $@.tmp $@

$(SPEC_BUILD)/uapi_layout: $(SPEC_BUILD)/uapi_layout.c
	$(E) "CC       $(@F)"
	$(Q)$(CC) -std=c99 -Wall -Wextra -I$(TOP)/include/uapi -o $@ $<

# The native library of loop_hooks_spec.lua.
SPEC_NATIVE := $(SPEC_BUILD)/loop_hooks_native.so
test-spec: $(SPEC_NATIVE)
$(SPEC_NATIVE): tests/spec/loop_hooks_native.c host/pciem_native.h $(UAPI_H)
	$(Q)mkdir -p $(@D)
	$(E) "CC       $(@F)"
	$(Q)$(CC) -std=gnu11 -O2 -fPIC -shared -Wall -Wextra -Werror -Ihost -o $@ $<
