// SPDX-License-Identifier: GPL-2.0-only
/*
 * The copy loop of device DMA. The kernel's user copies use string
 * instructions (rep movsb on CPUs with ERMS), the fastest way on hardware
 * and under KVM. An emulator that translates instructions (QEMU's TCG)
 * runs a string instruction an element at a time: there a loop of 8-byte
 * moves copies 128 KiB about six times faster. Which one this machine
 * wants is measured at load, unless the dma_copy parameter says.
 */
#define pr_fmt(fmt) "pciem: " fmt

#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/preempt.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <asm/unaligned.h>

#include "pciem_copy.h"

enum pciem_copy_method { PCIEM_COPY_AUTO, PCIEM_COPY_STRING, PCIEM_COPY_WORDS };

static const char * const pciem_copy_names[] = {
	[PCIEM_COPY_AUTO] = "auto",
	[PCIEM_COPY_STRING] = "string",
	[PCIEM_COPY_WORDS] = "words",
};

static int dma_copy = PCIEM_COPY_AUTO;	/* what the parameter asks */
static bool pciem_copy_words;		/* what copies use */

static int pciem_copy_param_set(const char *val, const struct kernel_param *kp)
{
	int i = sysfs_match_string(pciem_copy_names, val);

	if (i < 0) {
		pr_err("dma_copy: '%s' is not auto, string or words\n", val);
		return -EINVAL;
	}
	dma_copy = i;
	return 0;
}

static int pciem_copy_param_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", pciem_copy_names[dma_copy]);
}

static const struct kernel_param_ops pciem_copy_param_ops = {
	.set = pciem_copy_param_set,
	.get = pciem_copy_param_get,
};
module_param_cb(dma_copy, &pciem_copy_param_ops, NULL, 0444);
MODULE_PARM_DESC(dma_copy,
		 "DMA copy loop: auto (measured at load, the default), string (the kernel's user copies) or words (8-byte moves, for instruction-translating emulators)");

/* ---- 8-byte moves ------------------------------------------------------- */

/*
 * unsafe_{get,put}_user are single moves with an exception-table entry;
 * being asm, the compiler cannot turn these loops back into a memcpy call.
 */
static size_t pciem_copy_words_to_user(void __user *dst, const void *src, size_t n)
{
	size_t done = 0;

	if (!user_access_begin(dst, n))
		return n;
	for (; n - done >= 8; done += 8)
		unsafe_put_user(get_unaligned((const u64 *)(src + done)),
				(u64 __user *)(dst + done), fault);
	for (; done < n; done++)
		unsafe_put_user(*(const u8 *)(src + done), (u8 __user *)(dst + done), fault);
	user_access_end();
	return 0;
fault:
	user_access_end();
	return n - done;
}

static size_t pciem_copy_words_from_user(void *dst, const void __user *src, size_t n)
{
	size_t done = 0;
	u64 q;
	u8 b;

	if (!user_access_begin(src, n))
		return n;
	for (; n - done >= 8; done += 8) {
		unsafe_get_user(q, (const u64 __user *)(src + done), fault);
		put_unaligned(q, (u64 *)(dst + done));
	}
	for (; done < n; done++) {
		unsafe_get_user(b, (const u8 __user *)(src + done), fault);
		*(u8 *)(dst + done) = b;
	}
	user_access_end();
	return 0;
fault:
	user_access_end();
	return n - done;
}

size_t pciem_copy_to_user(void __user *dst, const void *src, size_t n)
{
	if (pciem_copy_words)
		return pciem_copy_words_to_user(dst, src, n);
	return raw_copy_to_user(dst, src, n);
}

size_t pciem_copy_from_user(void *dst, const void __user *src, size_t n)
{
	if (pciem_copy_words)
		return pciem_copy_words_from_user(dst, src, n);
	return raw_copy_from_user(dst, src, n);
}

/* ---- choosing ----------------------------------------------------------- */

#define PCIEM_COPY_PROBE	SZ_64K
#define PCIEM_COPY_ROUNDS	4

/* Best of a few rounds: one round can meet an interrupt. */
static u64 pciem_copy_time(void *dst, const void *src, bool words)
{
	u64 best = U64_MAX;
	int r;

	for (r = 0; r < PCIEM_COPY_ROUNDS; r++) {
		u64 t0, t;
		size_t i;

		preempt_disable();
		t0 = ktime_get_ns();
		if (words) {
			for (i = 0; i < PCIEM_COPY_PROBE; i += 8)
				WRITE_ONCE(*(u64 *)(dst + i), READ_ONCE(*(const u64 *)(src + i)));
		} else {
			memcpy(dst, src, PCIEM_COPY_PROBE);	/* the same string op as user copies */
		}
		t = ktime_get_ns() - t0;
		preempt_enable();
		best = min(best, t);
	}
	return best;
}

void pciem_copy_init(void)
{
	u64 string_ns, words_ns;
	void *buf;

	if (dma_copy != PCIEM_COPY_AUTO) {
		pciem_copy_words = dma_copy == PCIEM_COPY_WORDS;
		pr_info("DMA copies with %s (dma_copy=%s)\n",
			pciem_copy_words ? "8-byte moves" : "string instructions",
			pciem_copy_names[dma_copy]);
		return;
	}
	buf = kvmalloc(2 * PCIEM_COPY_PROBE, GFP_KERNEL);
	if (!buf)
		return;		/* the kernel's copies, as without us */
	memset(buf, 0x5a, 2 * PCIEM_COPY_PROBE);
	string_ns = pciem_copy_time(buf, buf + PCIEM_COPY_PROBE, false);
	words_ns = pciem_copy_time(buf, buf + PCIEM_COPY_PROBE, true);
	kvfree(buf);
	/* Only a clear win moves away from the kernel's own choice. */
	pciem_copy_words = words_ns * 2 < string_ns;
	pr_info("DMA copies with %s: 64 KiB in %llu ns with string instructions, %llu ns with 8-byte moves\n",
		pciem_copy_words ? "8-byte moves" : "string instructions", string_ns, words_ns);
}
