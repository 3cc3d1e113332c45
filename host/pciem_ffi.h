/* SPDX-License-Identifier: MIT */
/*
 * Every C function the Lua library calls through LuaJIT's FFI. Plain C ABI:
 * int return 0 or -errno, results through out-params, error text per device.
 */
#ifndef PCIEM_FFI_H
#define PCIEM_FFI_H

#include <stdint.h>
#include "../include/uapi/pciem.h"

/*
 * The section between the markers is turned into a string at build time
 * (pciem_ffi_cdef_host()) and handed to ffi.cdef after the uapi section, so
 * it must stay free of macros and of anything LuaJIT's C parser rejects.
 */
/* pciem:ffi-begin */

/* A device as the host sees it: backend state, BAR mappings, last error. */
struct pl_dev;

/* The cdef strings themselves (uapi section, then this section). */
const char *pciem_ffi_cdef_uapi(void);
const char *pciem_ffi_cdef_host(void);

/*
 * pciem_ffi_dev_new - allocate a device bound to a backend, not opened yet.
 * @backend: "kernel" (/dev/pciem), "sim" (in-process bus) or "dry"
 *            (the sim's config space engine only: checks a description)
 * Return: 0, -EINVAL for an unknown backend, -ENOMEM.
 */
int pciem_ffi_dev_new(const char *backend, struct pl_dev **out);
/* Stops the device if needed, unmaps its BARs, closes the backend, frees. */
void pciem_ffi_dev_free(struct pl_dev *dev);
/* The last error of @dev as one line ("" if none). */
const char *pciem_ffi_dev_error(const struct pl_dev *dev);
/* The backend's name, as given to pciem_ffi_dev_new(). */
const char *pciem_ffi_dev_backend(const struct pl_dev *dev);

/* Lifecycle, in this order: open, create, add_bar/add_cap, register, start. */
int pciem_ffi_dev_open(struct pl_dev *dev);
int pciem_ffi_dev_create(struct pl_dev *dev, const struct pciem_device_desc *desc);
int pciem_ffi_dev_add_bar(struct pl_dev *dev, const struct pciem_bar_desc *bar);
/* raw.data of VENDOR and EXT_RAW caps points at raw.length payload bytes. */
int pciem_ffi_dev_add_cap(struct pl_dev *dev, const struct pciem_cap_desc *cap);
int pciem_ffi_dev_register(struct pl_dev *dev);
int pciem_ffi_dev_start(struct pl_dev *dev);
/* Removes the device from the bus; it may be registered again. */
int pciem_ffi_dev_stop(struct pl_dev *dev);
int pciem_ffi_dev_info(struct pl_dev *dev, struct pciem_device_info *info);

/*
 * pciem_ffi_bar_map - map the shadow of BAR @index into this process.
 * The mapping lives until pciem_ffi_dev_free(); mapping twice returns the
 * same pointer. @len receives the BAR length.
 */
int pciem_ffi_bar_map(struct pl_dev *dev, uint32_t index, uint8_t **ptr, uint64_t *len);

/* Device side of config space: reads what the OS reads, writes as the device. */
int pciem_ffi_cfg_read(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t *value);
int pciem_ffi_cfg_write(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t value);
/* OS side (sim backend only, -EOPNOTSUPP otherwise): write masks, RW1C. */
int pciem_ffi_os_cfg_read(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t *value);
int pciem_ffi_os_cfg_write(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t value);

/*
 * pciem_ffi_host_wait - wait for a termination signal (SIGINT, SIGTERM) for
 * at most @timeout_ms (-1: forever). Return: the signal number, 0 on timeout,
 * -errno; -ENOTSUP when the process did not set up signal handling (library).
 */
int pciem_ffi_host_wait(int timeout_ms);
/* One line on stderr, prefixed "pciem-lua: "; level 0 error, 1 info, 2 debug. */
void pciem_ffi_log(int level, const char *msg);
/* strerror() for a positive errno value. */
const char *pciem_ffi_strerror(int err);

/* pciem:ffi-end */

#endif /* PCIEM_FFI_H */
