# SPDX-License-Identifier: MIT
# Test tiers. Each tier records PASS/FAIL lines (see tests/tier.sh);
# `make test` runs them all and ends with the summary line.
#   unit  C unit tests, no kernel        (tests/unit/unit.mk)
#   spec  busted specs on the sim backend (tests/spec/spec.mk)
#   vm    the real module in a QEMU guest (tests/vm/vm.mk)
#   vm-iommu  the tests that need an IOMMU, in a second guest that has one

RESULTS := $(BUILD)/results

.PHONY: test test-unit test-spec test-vm
test: deps-ensure
	$(Q)$(MAKE) all
	$(Q)rm -rf $(RESULTS)
	$(Q)$(TOP)/tests/tier.sh $(RESULTS) unit $(MAKE) test-unit
	$(Q)$(TOP)/tests/tier.sh $(RESULTS) spec $(MAKE) test-spec
	$(Q)$(TOP)/tests/tier.sh $(RESULTS) vm $(MAKE) test-vm
	$(Q)$(TOP)/tests/tier.sh $(RESULTS) vm-iommu $(MAKE) test-vm VM_TESTS='*iommu*' \
		VM_QEMU_ARGS='-device intel-iommu,intremap=off' VM_APPEND='intel_iommu=on' \
		VM_DIR=$(BUILD)/vm-iommu
	$(Q)$(TOP)/tests/summary.sh $(RESULTS)

include tests/unit/unit.mk
include tests/spec/spec.mk
