# SPDX-License-Identifier: MIT
# The pci_endpoint_test proof's guest tools, built from Debian's linux-source
# at test time (cached in .cache/epf/) and shipped to the guest's /pciem/bin:
# pci_endpoint_test.ko, pcitest (static), pcitest.sh. Included by vm.mk.

.PHONY: vm-epf
vm-epf:
	+$(Q)CC='$(CC)' $(TOP)/tests/vm/epf/build.sh $(CACHE) $(KDIR) $(BUILD)/vm/bin
