/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Copies between kernel memory and the host's buffers for DMA, by the method
 * that is fastest on this machine (see pciem_copy.c).
 */
#ifndef PCIEM_COPY_H
#define PCIEM_COPY_H

#include <linux/compiler_types.h>
#include <linux/types.h>

/* At module load: pick the method (parameter dma_copy, or measured). */
void pciem_copy_init(void);

/*
 * Like raw_copy_{to,from}_user: the bytes NOT copied (0 on success). The
 * user range passed access_ok() already; may fault and sleep.
 */
size_t pciem_copy_to_user(void __user *dst, const void *src, size_t n);
size_t pciem_copy_from_user(void *dst, const void __user *src, size_t n);

#endif /* PCIEM_COPY_H */
