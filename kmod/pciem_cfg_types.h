/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The few types and helpers the config space engine needs, taken from the
 * kernel headers inside pciem.ko and from libc in the host and the unit tests.
 */
#ifndef PCIEM_CFG_TYPES_H
#define PCIEM_CFG_TYPES_H

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/kernel.h>
#include <linux/stdarg.h>

#else /* host and unit tests */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

/* The host may include several kernel-style headers; define these once. */
#ifndef PCIEM_HAVE_KERNEL_INTS
#define PCIEM_HAVE_KERNEL_INTS
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
#endif

#ifndef __printf
#define __printf(fmt, args) __attribute__((format(printf, fmt, args)))
#endif

#endif /* __KERNEL__ */

#define PCIEM_ARRAY_LEN(a) ((u32)(sizeof(a) / sizeof((a)[0])))

#endif /* PCIEM_CFG_TYPES_H */
