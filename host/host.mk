# SPDX-License-Identifier: MIT
# pciem-lua, the host program, and libpciem-host.so (the same code for busted
# running under plain luajit). Included by the top Makefile.
#   make host        $(BUILD)/pciem-lua and $(BUILD)/libpciem-host.so
#   make host-clean

PCIEM_VERSION := 0.1.0
HOST_BUILD := $(BUILD)/host

HOST_CFLAGS := -std=gnu11 -O2 -g -fPIC -Wall -Wextra -MMD -MP \
	-DPL_VERSION='"$(PCIEM_VERSION)"' \
	-DPL_LUA_DEFAULT_DIR='"$(TOP)/lua"' \
	-I$(TOP)/host -I$(HOST_BUILD) $(shell pkg-config --cflags luajit)
HOST_LIBS := $(shell pkg-config --libs luajit) -lm -ldl -lpthread

# Everything Lua reaches through the FFI (shared by the program and the library).
HOST_CORE_SRCS := host/pl_ffi.c host/pl_engine.c host/pl_loop.c host/pl_wait.c host/pl_native.c host/pl_kernel.c host/pl_sim.c host/pl_signal.c host/pl_log.c
HOST_CORE_OBJS := $(patsubst host/%.c,$(HOST_BUILD)/%.o,$(HOST_CORE_SRCS)) \
	$(HOST_BUILD)/pciem_cfg.o $(HOST_BUILD)/cdef_uapi.o $(HOST_BUILD)/cdef_host.o
HOST_MAIN_OBJS := $(HOST_BUILD)/pl_main.o $(HOST_BUILD)/pl_lua.o
# The sim backend's parts, and the freestanding kmod logic it shares with pciem.ko.
HOST_CORE_OBJS += $(HOST_BUILD)/pl_sim_mmio.o $(HOST_BUILD)/pl_sim_irq.o \
	$(HOST_BUILD)/pl_sim_dma.o $(HOST_BUILD)/pciem_policy.o $(HOST_BUILD)/pciem_vec.o \
	$(HOST_BUILD)/cdef_sim.o

UAPI_H := $(TOP)/include/uapi/pciem.h
UAPI_PRELUDE := "typedef uint8_t __u8;" "typedef uint16_t __u16;" \
	"typedef uint32_t __u32;" "typedef uint64_t __u64;" \
	"typedef int8_t __s8;" "typedef int16_t __s16;" \
	"typedef int32_t __s32;" "typedef int64_t __s64;"

.PHONY: host host-clean
host: $(BUILD)/pciem-lua $(BUILD)/libpciem-host.so

$(BUILD)/pciem-lua: $(HOST_MAIN_OBJS) $(HOST_CORE_OBJS)
	$(E) "LINK     $(@F)"
	$(Q)$(CC) -rdynamic -o $@ $^ $(HOST_LIBS)

$(BUILD)/libpciem-host.so: $(HOST_CORE_OBJS)
	$(E) "LINK     $(@F)"
	$(Q)$(CC) -shared -o $@ $^ -ldl -lpthread

$(HOST_BUILD)/%.o: host/%.c | $(HOST_BUILD)
	$(E) "CC       host/$*.c"
	$(Q)$(CC) $(HOST_CFLAGS) -c -o $@ $<

# The shared config space engine, built for userspace (sim backend, dry run).
$(HOST_BUILD)/pciem_cfg.o: kmod/pciem_cfg.c | $(HOST_BUILD)
	$(E) "CC       kmod/pciem_cfg.c (host)"
	$(Q)$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(HOST_BUILD)/cdef_uapi.c: $(UAPI_H) host/gen_cdef.sh host/host.mk | $(HOST_BUILD)
	$(E) "GEN      $(@F)"
	$(Q)host/gen_cdef.sh pciem_ffi_cdef_uapi $< $(UAPI_PRELUDE) >$@.tmp && mv $@.tmp $@

$(HOST_BUILD)/cdef_host.c: host/pciem_ffi.h host/gen_cdef.sh | $(HOST_BUILD)
	$(E) "GEN      $(@F)"
	$(Q)host/gen_cdef.sh pciem_ffi_cdef_host $< >$@.tmp && mv $@.tmp $@

$(HOST_BUILD)/cdef_%.o: $(HOST_BUILD)/cdef_%.c
	$(E) "CC       $(@F)"
	$(Q)$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(HOST_BUILD)/pciem_policy.o $(HOST_BUILD)/pciem_vec.o: $(HOST_BUILD)/%.o: kmod/%.c | $(HOST_BUILD)
	$(E) "CC       kmod/$*.c (host)"
	$(Q)$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(HOST_BUILD)/cdef_sim.c: host/pl_sim_os.h host/gen_cdef.sh | $(HOST_BUILD)
	$(E) "GEN      $(@F)"
	$(Q)host/gen_cdef.sh pciem_ffi_cdef_sim $< >$@.tmp && mv $@.tmp $@

$(HOST_BUILD):
	$(Q)mkdir -p $@

host-clean:
	$(Q)rm -rf $(HOST_BUILD) $(BUILD)/pciem-lua $(BUILD)/libpciem-host.so

-include $(wildcard $(HOST_BUILD)/*.d)

# Native handler libraries (host/pciem_native.h): examples/*.c and
# devices/*_native.c -> $(BUILD)/examples/*.so, $(BUILD)/devices/*.so.
NATIVE_SOS := $(patsubst examples/%.c,$(BUILD)/examples/%.so,$(wildcard examples/*.c)) \
	$(patsubst devices/%.c,$(BUILD)/devices/%.so,$(wildcard devices/*_native.c))
NATIVE_CFLAGS := -std=gnu11 -O2 -g -fPIC -shared -Wall -Wextra -I$(TOP)/host
.PHONY: examples
examples: $(NATIVE_SOS)
host: $(NATIVE_SOS)

$(BUILD)/examples/%.so: examples/%.c host/pciem_native.h $(UAPI_H)
	$(Q)mkdir -p $(@D)
	$(E) "CC       examples/$*.c"
	$(Q)$(CC) $(NATIVE_CFLAGS) -o $@ $<

$(BUILD)/devices/%.so: devices/%.c host/pciem_native.h $(UAPI_H)
	$(Q)mkdir -p $(@D)
	$(E) "CC       devices/$*.c"
	$(Q)$(CC) $(NATIVE_CFLAGS) -o $@ $<

# The NVMe fast path: its command half and the header of the state it shares with
# the Lua modules live beside them in devices/nvme/.
NVME_NATIVE_SRCS := devices/nvme_native.c devices/nvme/native_io.c
$(BUILD)/devices/nvme_native.so: $(NVME_NATIVE_SRCS) devices/nvme/native.h devices/nvme/fastpath.h \
		host/pciem_native.h $(UAPI_H)
	$(Q)mkdir -p $(@D)
	$(E) "CC       $(NVME_NATIVE_SRCS)"
	$(Q)$(CC) $(NATIVE_CFLAGS) -o $@ $(NVME_NATIVE_SRCS)
