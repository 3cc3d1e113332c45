// SPDX-License-Identifier: MIT
/*
 * Guest-side DMA test: a device host on /dev/pciem that binds pciem_testdrv
 * to its device, lets the driver allocate and fill buffers through debugfs,
 * and moves data with PCIEM_IOC_DMA, checked by CRC32 on both ends.
 * Prints one PASS/FAIL/SKIP line per check; exits 1 if any failed.
 *   dma_host           run every check (DMA_HOST_STREAM=bytes: smaller
 *                      streaming buffer, for swiotlb=force runs)
 *   dma_host bench     DMA bandwidth at 4 KiB, 128 KiB, 4 MiB vs memcpy (a table)
 *   dma_host hold      create the device, bind the driver, print the PCI name
 *                      and the debugfs dir, then wait to be killed
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testhost.h"

#define MIB (1024 * 1024)

#define PASS(...) report_as("PASS", __VA_ARGS__)
#define FAIL(...) report_as("FAIL", __VA_ARGS__)

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		die("out of memory for %zu bytes", n);
	return p;
}

/* ---- CRC32 (zlib's) and the seeded pattern, same as testdrv_dma.c ---- */

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320 ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32_buf(const uint8_t *p, size_t n)
{
	uint32_t c = ~0u;

	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed ? seed : 0x9e3779b9;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* ---- the driver's debugfs files ---- */

struct dbuf {
	int id;
	uint64_t bus;
	size_t size;
};

static struct dbuf drv_alloc(const char *kind, size_t size)
{
	char path[320], buf[128];
	struct dbuf b;
	int ret;

	ret = dbg_write("alloc", "%s %zu", kind, size);
	if (ret)
		die("driver cannot allocate a %s buffer of %zu bytes: %s", kind, size,
		    strerror(-ret));
	snprintf(path, sizeof(path), "%s/alloc", dbg_dir);
	if (read_file(path, buf, sizeof(buf)) ||
	    sscanf(buf, "%d %" SCNx64 " %zu", &b.id, &b.bus, &b.size) != 3)
		die("cannot read %s", path);
	return b;
}

static void drv_free(struct dbuf b)
{
	dbg_write("free", "%d", b.id);
}

static void drv_fill(struct dbuf b, uint32_t seed)
{
	int ret = dbg_write("fill", "%d %u", b.id, seed);

	if (ret)
		die("fill %d: %s", b.id, strerror(-ret));
}

static uint32_t drv_crc(struct dbuf b, size_t off, size_t n)
{
	char path[320], buf[64];
	int ret;

	ret = dbg_write("crc", "%d %zu %zu", b.id, off, n);
	snprintf(path, sizeof(path), "%s/crc", dbg_dir);
	if (ret || read_file(path, buf, sizeof(buf)))
		die("crc %d %zu %zu: %s", b.id, off, n, strerror(-ret));
	return (uint32_t)strtoul(buf, NULL, 16);
}

static void drv_master(bool on)
{
	int ret = dbg_write("master", "%d", on);

	if (ret)
		die("master %d: %s", on, strerror(-ret));
}

/* ---- the device ---- */

static void create_device(void)
{
	struct pciem_device_desc d = { .size = sizeof(d) };
	struct pciem_bar_desc b = { .size = sizeof(b) };
	int ret;

	open_pciem();
	d.vendor_id = 0x1234;
	d.device_id = 0xd3a0;
	d.subsys_vendor_id = 0x1234;
	d.subsys_id = 0x0001;
	d.class_code = 0xff;
	snprintf(d.name, sizeof(d.name), "dma_host");
	b.index = 0;
	b.length = 4096;
	if ((ret = ioc(pciem_fd, PCIEM_IOC_CREATE, &d)) ||
	    (ret = ioc(pciem_fd, PCIEM_IOC_ADD_BAR, &b)) ||
	    (ret = ioc(pciem_fd, PCIEM_IOC_REGISTER, NULL)))
		die("create/add_bar/register: %s", strerror(-ret));
	override_driver();
	if ((ret = ioc(pciem_fd, PCIEM_IOC_START, NULL)))
		die("start: %s", strerror(-ret));
	wait_driver("dma");
}

/* One DMA request; returns 0 or -errno, *done gets the bytes copied. */
static int dma(uint32_t dir, const struct pciem_dma_seg *segs, uint32_t nsegs,
	       uint64_t *done)
{
	struct pciem_dma d = { .size = sizeof(d) };
	int ret;

	d.dir = dir;
	d.nsegs = nsegs;
	d.segs = (uintptr_t)segs;
	ret = ioc(pciem_fd, PCIEM_IOC_DMA, &d);
	if (done)
		*done = d.done;
	return ret;
}

static int dma1(uint32_t dir, uint64_t bus, void *user, uint64_t len, uint64_t *done)
{
	struct pciem_dma_seg s = { .bus_addr = bus, .user_addr = (uintptr_t)user,
				   .length = len };

	return dma(dir, &s, 1, done);
}

static int counters(struct pciem_counters *c)
{
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	return ioc(pciem_fd, PCIEM_IOC_COUNTERS, c);
}

static const char *err_name(int err)
{
	return err ? strerror(-err) : "success";
}

static void expect_err(const char *name, int got, int want)
{
	if (got == want)
		PASS("%s", name);
	else
		FAIL("%s (got %s, want %s)", name, err_name(got), err_name(want));
}

/* ---- checks ---- */

static struct dbuf probe_buf;	/* a small buffer for "still works" checks */

/* After a refusal, a plain 4 KiB read and write of a driver buffer still work. */
static void still_works(const char *after)
{
	uint8_t *p = xmalloc(4096);
	uint64_t done = 0;
	bool ok;

	drv_fill(probe_buf, 77);
	ok = !dma1(PCIEM_DMA_FROM_HOST, probe_buf.bus, p, 4096, &done) && done == 4096 &&
	     crc32_buf(p, 4096) == drv_crc(probe_buf, 0, 4096);
	fill_pattern(p, 4096, 78);
	ok = ok && !dma1(PCIEM_DMA_TO_HOST, probe_buf.bus, p, 4096, &done) &&
	     done == 4096 && crc32_buf(p, 4096) == drv_crc(probe_buf, 0, 4096);
	if (ok)
		PASS("works-after-%s", after);
	else
		FAIL("works-after-%s", after);
	free(p);
}

/*
 * Read [off, off + n) of a driver buffer the driver filled, and write it back
 * with a host pattern; the bytes around the range must not change.
 */
static void check_size(struct dbuf b, const char *kind, size_t off, size_t n,
		       unsigned int user_misalign)
{
	uint8_t *raw = xmalloc(n + 16), *p = raw + user_misalign;
	uint32_t before_lo, before_hi, seed = (uint32_t)(n * 31 + off);
	uint64_t done = 0;
	int ret;

	drv_fill(b, seed);
	ret = dma1(PCIEM_DMA_FROM_HOST, b.bus + off, p, n, &done);
	if (!ret && done == n && crc32_buf(p, n) == drv_crc(b, off, n))
		PASS("read-%s-%zu-at-%zu", kind, n, off);
	else
		FAIL("read-%s-%zu-at-%zu (%s, done %" PRIu64 ")", kind, n, off,
		     err_name(ret), done);

	before_lo = drv_crc(b, 0, off);
	before_hi = drv_crc(b, off + n, b.size - off - n);
	fill_pattern(p, n, seed + 1);
	ret = dma1(PCIEM_DMA_TO_HOST, b.bus + off, p, n, &done);
	if (!ret && done == n && crc32_buf(p, n) == drv_crc(b, off, n) &&
	    before_lo == drv_crc(b, 0, off) &&
	    before_hi == drv_crc(b, off + n, b.size - off - n))
		PASS("write-%s-%zu-at-%zu", kind, n, off);
	else
		FAIL("write-%s-%zu-at-%zu (%s, done %" PRIu64 ")", kind, n, off,
		     err_name(ret), done);
	free(raw);
}

static void check_sizes(void)
{
	static const size_t sizes[] = { 1, 4095, 4096, 4097, MIB + 1 };
	static const size_t offs[] = { 0, 1, 4095, 2049 };
	struct dbuf coh = drv_alloc("coherent", 2 * MIB);
	/* DMA_HOST_STREAM: a smaller streaming buffer (swiotlb=force maps 256 KiB at most). */
	const char *env = getenv("DMA_HOST_STREAM");
	struct dbuf str = drv_alloc("stream", env ? strtoul(env, NULL, 0) : 2 * MIB);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t j = 0; j < sizeof(offs) / sizeof(offs[0]); j++) {
			check_size(coh, "coherent", offs[j], sizes[i], (unsigned int)j * 3);
			if (offs[j] + sizes[i] <= str.size)
				check_size(str, "stream", offs[j], sizes[i], (unsigned int)j);
		}
	}
	drv_free(coh);
	drv_free(str);
}

/* 16 MiB in one request: four 4 MiB coherent buffers (largest buddy block). */
static void check_16mib(void)
{
	struct pciem_dma_seg segs[4];
	struct dbuf b[4];
	uint8_t *p = xmalloc(16 * MIB);
	uint64_t done = 0;
	bool ok = true;
	int ret, i;

	for (i = 0; i < 4; i++) {
		b[i] = drv_alloc("coherent", 4 * MIB);
		drv_fill(b[i], 1000 + i);
		segs[i].bus_addr = b[i].bus;
		segs[i].user_addr = (uintptr_t)(p + i * 4 * MIB);
		segs[i].length = 4 * MIB;
	}
	ret = dma(PCIEM_DMA_FROM_HOST, segs, 4, &done);
	for (i = 0; i < 4; i++)
		ok = ok && crc32_buf(p + i * 4 * MIB, 4 * MIB) == drv_crc(b[i], 0, 4 * MIB);
	if (!ret && done == 16 * MIB && ok)
		PASS("read-16MiB");
	else
		FAIL("read-16MiB (%s, done %" PRIu64 ")", err_name(ret), done);

	fill_pattern(p, 16 * MIB, 4242);
	ret = dma(PCIEM_DMA_TO_HOST, segs, 4, &done);
	ok = true;
	for (i = 0; i < 4; i++)
		ok = ok && crc32_buf(p + i * 4 * MIB, 4 * MIB) == drv_crc(b[i], 0, 4 * MIB);
	if (!ret && done == 16 * MIB && ok)
		PASS("write-16MiB");
	else
		FAIL("write-16MiB (%s, done %" PRIu64 ")", err_name(ret), done);
	for (i = 0; i < 4; i++)
		drv_free(b[i]);
	free(p);
}

/* Odd pieces of two buffers, gathered into and scattered from one host buffer. */
static void check_multi_segment(void)
{
	struct dbuf a = drv_alloc("coherent", 64 * 1024);
	struct dbuf b = drv_alloc("stream", 64 * 1024);
	static const struct { int buf; size_t off, len; } pieces[] = {
		{ 0, 3, 5000 }, { 1, 40959, 2 }, { 0, 20000, 1 }, { 1, 100, 30000 },
		{ 0, 60000, 5536 }, { 1, 65535, 1 },
	};
	enum { N = sizeof(pieces) / sizeof(pieces[0]) };
	struct pciem_dma_seg segs[N];
	uint8_t *p = xmalloc(128 * 1024), *q = p;
	uint64_t done = 0, total = 0;
	bool ok = true;
	int ret, i;

	drv_fill(a, 5);
	drv_fill(b, 6);
	for (i = 0; i < N; i++) {
		segs[i].bus_addr = (pieces[i].buf ? b.bus : a.bus) + pieces[i].off;
		segs[i].user_addr = (uintptr_t)q;
		segs[i].length = pieces[i].len;
		q += pieces[i].len;
		total += pieces[i].len;
	}
	ret = dma(PCIEM_DMA_FROM_HOST, segs, N, &done);
	for (i = 0; i < N; i++)
		ok = ok && crc32_buf((uint8_t *)(uintptr_t)segs[i].user_addr, segs[i].length) ==
			   drv_crc(pieces[i].buf ? b : a, pieces[i].off, pieces[i].len);
	if (!ret && done == total && ok)
		PASS("read-multi-segment");
	else
		FAIL("read-multi-segment (%s, done %" PRIu64 ")", err_name(ret), done);

	fill_pattern(p, total, 99);
	ret = dma(PCIEM_DMA_TO_HOST, segs, N, &done);
	ok = true;
	for (i = 0; i < N; i++)
		ok = ok && crc32_buf((uint8_t *)(uintptr_t)segs[i].user_addr, segs[i].length) ==
			   drv_crc(pieces[i].buf ? b : a, pieces[i].off, pieces[i].len);
	if (!ret && done == total && ok)
		PASS("write-multi-segment");
	else
		FAIL("write-multi-segment (%s, done %" PRIu64 ")", err_name(ret), done);
	drv_free(a);
	drv_free(b);
	free(p);
}

static void check_bus_master(void)
{
	uint8_t buf[4096];
	uint64_t done = 1;

	drv_master(false);
	expect_err("refused-bus-master-off-read",
		   dma1(PCIEM_DMA_FROM_HOST, probe_buf.bus, buf, 4096, &done), -EPERM);
	expect_err("refused-bus-master-off-write",
		   dma1(PCIEM_DMA_TO_HOST, probe_buf.bus, buf, 4096, &done), -EPERM);
	if (done == 0)
		PASS("refused-bus-master-off-done-0");
	else
		FAIL("refused-bus-master-off-done-0 (done %" PRIu64 ")", done);
	drv_master(true);
	still_works("bus-master-off");
}

/* Physical address ranges from /proc/iomem: the end of RAM, the kernel code. */
static void iomem_find(uint64_t *ram_end, uint64_t *kernel_code)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];

	*ram_end = 0;
	*kernel_code = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		uint64_t lo, hi;

		if (sscanf(line, " %" SCNx64 "-%" SCNx64, &lo, &hi) != 2)
			continue;
		if (strstr(line, ": System RAM") && line[0] != ' ' && hi + 1 > *ram_end)
			*ram_end = hi + 1;
		if (strstr(line, ": Kernel code") && !*kernel_code)
			*kernel_code = lo;
	}
	fclose(f);
}

static void check_not_ram(void)
{
	uint64_t ram_end, kernel_code, done = 1;
	uint8_t *buf = xmalloc(8192);
	struct pciem_dma_seg segs[2];

	iomem_find(&ram_end, &kernel_code);
	expect_err("refused-bar-window-read",
		   dma1(PCIEM_DMA_FROM_HOST, dev_info.bar_addr[0], buf, 4, &done), -ENXIO);
	expect_err("refused-bar-window-write",
		   dma1(PCIEM_DMA_TO_HOST, dev_info.bar_addr[0], buf, 4, &done), -ENXIO);
	still_works("bar-window");
	expect_err("refused-lapic-fee00000",
		   dma1(PCIEM_DMA_FROM_HOST, 0xfee00000, buf, 4, &done), -ENXIO);
	still_works("lapic");
	if (ram_end) {
		expect_err("refused-beyond-ram",
			   dma1(PCIEM_DMA_FROM_HOST, ram_end, buf, 4096, &done), -ENXIO);
		expect_err("refused-far-beyond-ram",
			   dma1(PCIEM_DMA_TO_HOST, 1ULL << 45, buf, 4096, &done), -ENXIO);
		still_works("beyond-ram");
	} else {
		FAIL("refused-beyond-ram (no System RAM in /proc/iomem)");
	}
	if (kernel_code) {
		expect_err("refused-kernel-code-write",
			   dma1(PCIEM_DMA_TO_HOST, kernel_code, buf, 16, &done), -ENXIO);
		still_works("kernel-code");
	} else {
		report_as("SKIP", "refused-kernel-code-write (no Kernel code in /proc/iomem)");
	}

	/* A good segment, then a bad one: stops there, done says how far it got. */
	segs[0] = (struct pciem_dma_seg){ probe_buf.bus, (uintptr_t)buf, 4096 };
	segs[1] = (struct pciem_dma_seg){ 0xfee00000, (uintptr_t)(buf + 4096), 4096 };
	expect_err("refused-second-segment", dma(PCIEM_DMA_FROM_HOST, segs, 2, &done),
		   -ENXIO);
	if (done == 4096)
		PASS("refused-second-segment-done");
	else
		FAIL("refused-second-segment-done (done %" PRIu64 ", want 4096)", done);
	free(buf);
}

static void check_bad_fields(void)
{
	struct pciem_dma_seg seg = { probe_buf.bus, 0, 4096 }, many[PCIEM_DMA_MAX_SEGS + 1];
	uint8_t *buf = xmalloc(4096), *hole;
	struct pciem_dma d;
	struct dbuf two;
	uint64_t done;

	seg.user_addr = (uintptr_t)buf;
#define BAD(name, mutate, want)						\
	do {								\
		memset(&d, 0, sizeof(d));				\
		d.size = sizeof(d);					\
		d.dir = PCIEM_DMA_FROM_HOST;				\
		d.nsegs = 1;						\
		d.segs = (uintptr_t)&seg;				\
		mutate;							\
		expect_err("bad-" name, ioc(pciem_fd, PCIEM_IOC_DMA, &d), want); \
	} while (0)

	BAD("size", d.size = sizeof(d) - 4, -EINVAL);
	BAD("dir-0", d.dir = 0, -EINVAL);
	BAD("dir-3", d.dir = 3, -EINVAL);
	BAD("nsegs-0", d.nsegs = 0, -EINVAL);
	BAD("nsegs-too-many", (d.nsegs = PCIEM_DMA_MAX_SEGS + 1, d.segs = (uintptr_t)many),
	    -EINVAL);
	BAD("reserved0", d.reserved0 = 1, -EINVAL);
	BAD("reserved", d.reserved[3] = 1, -EINVAL);
	BAD("segs-null", d.segs = 0, -EFAULT);
	seg.length = 0;
	BAD("seg-length-0", , -EINVAL);
	seg.length = 4096;
	seg.bus_addr = ~0ULL - 100;
	BAD("seg-bus-overflow", , -EINVAL);
	seg.bus_addr = probe_buf.bus;
	seg.user_addr = ~0ULL - 100;
	BAD("seg-user-overflow", , -EINVAL);
	seg.user_addr = 0;
	BAD("seg-user-null", , -EFAULT);
	seg.user_addr = 0xffff888000000000ULL;
	BAD("seg-user-kernel-address", , -EFAULT);
	seg.user_addr = (uintptr_t)buf;
#undef BAD
	still_works("bad-fields");

	/* A user buffer whose second page is unmapped: stops after the first. */
	two = drv_alloc("coherent", 8192);
	hole = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	munmap(hole + 4096, 4096);
	expect_err("user-hole", dma1(PCIEM_DMA_FROM_HOST, two.bus, hole, 8192, &done),
		   -EFAULT);
	if (done == 4096)
		PASS("user-hole-done");
	else
		FAIL("user-hole-done (done %" PRIu64 ", want 4096)", done);
	munmap(hole, 4096);
	drv_free(two);
	still_works("user-hole");
	free(buf);
}

/* DMA before the device is on the bus: nothing to reach memory with. */
static void check_state(void)
{
	struct pciem_device_desc d = { .size = sizeof(d) };
	uint8_t buf[16];
	int fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	struct pciem_dma_seg seg = { probe_buf.bus, (uintptr_t)buf, sizeof(buf) };
	struct pciem_dma r = { .size = sizeof(r), .dir = PCIEM_DMA_FROM_HOST, .nsegs = 1,
			       .segs = (uintptr_t)&seg };

	if (fd < 0)
		die("open %s: %s", DEV_PATH, strerror(errno));
	expect_err("refused-empty-device", ioc(fd, PCIEM_IOC_DMA, &r), -EINVAL);
	d.vendor_id = 0x1234;
	d.device_id = 0xd3a1;
	d.class_code = 0xff;
	snprintf(d.name, sizeof(d.name), "dma_host_unreg");
	if (ioc(fd, PCIEM_IOC_CREATE, &d))
		die("create: %s", strerror(errno));
	expect_err("refused-created-device", ioc(fd, PCIEM_IOC_DMA, &r), -EINVAL);
	close(fd);
}

static void check_counters(void)
{
	struct pciem_counters a, b;
	uint8_t *buf = xmalloc(8192);
	int ret;

	ret = counters(&a);
	if (ret) {
		report_as(ret == -ENOTTY ? "SKIP" : "FAIL", "counters (%s)", err_name(ret));
		free(buf);
		return;
	}
	dma1(PCIEM_DMA_FROM_HOST, probe_buf.bus, buf, 3000, NULL);
	dma1(PCIEM_DMA_TO_HOST, probe_buf.bus, buf, 4096, NULL);
	dma1(PCIEM_DMA_FROM_HOST, 0xfee00000, buf, 4, NULL);
	ret = counters(&b);
	if (!ret && b.dma_bytes_from_host - a.dma_bytes_from_host == 3000 &&
	    b.dma_bytes_to_host - a.dma_bytes_to_host == 4096 &&
	    b.dma_errors - a.dma_errors == 1)
		PASS("counters-move");
	else
		FAIL("counters-move (%s; from %" PRIu64 " to %" PRIu64 " errors %" PRIu64 ")",
		     err_name(ret), b.dma_bytes_from_host - a.dma_bytes_from_host,
		     b.dma_bytes_to_host - a.dma_bytes_to_host, b.dma_errors - a.dma_errors);
	free(buf);
}

/*
 * STOP while a child of ours (sharing the fd) keeps reading 16 MiB per
 * request: the module holds its own pci_dev reference, STOP restores config
 * space (Bus Master Enable off) and unbinds the driver, so the transfer in
 * flight ends with EPERM (or the next is refused with EINVAL), never a
 * splat. Reads only: the driver frees its buffer on unbind, and a device
 * reading freed memory harms nobody. Ends the device: run it last.
 */
static void check_stop_race(void)
{
	struct dbuf b = drv_alloc("coherent", 4 * MIB);
	struct pciem_dma_seg segs[4];
	int sync[2], status, ret, i;
	pid_t child;
	char c;

	for (i = 0; i < 4; i++)
		segs[i] = (struct pciem_dma_seg){ b.bus, 0, 4 * MIB };
	if (pipe(sync))
		die("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (!child) {
		uint8_t *p = xmalloc(4 * MIB);
		uint64_t done;
		int n;

		for (i = 0; i < 4; i++)
			segs[i].user_addr = (uintptr_t)p;
		for (n = 0; n < 100000; n++) {
			ret = dma(PCIEM_DMA_FROM_HOST, segs, 4, &done);
			if (ret)
				_exit(n > 0 && (ret == -EPERM || ret == -EINVAL) ? 0 : 10 - ret);
			if (n == 0 && write(sync[1], "x", 1) != 1)
				_exit(3);
		}
		_exit(4);
	}
	close(sync[1]);
	if (read(sync[0], &c, 1) != 1)
		FAIL("stop-during-dma (no first transfer)");
	ret = ioc(pciem_fd, PCIEM_IOC_STOP, NULL);
	waitpid(child, &status, 0);
	if (!ret && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		PASS("stop-during-dma");
	else
		FAIL("stop-during-dma (stop %s, child status %#x)", err_name(ret), status);
	close(sync[0]);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Bandwidth of one-segment requests of 4 KiB, 128 KiB and 4 MiB each way,
 * against memcpy of the same size between two user buffers, about 64 MiB
 * per figure. Prints a table; asserts nothing.
 */
static void bench(void)
{
	static const size_t sizes[] = { 4096, 128 * 1024, 4 * MIB };
	const size_t total = 64 * MIB;

	printf("%-8s %12s %12s %12s %8s %8s\n", "size", "from_host", "to_host", "memcpy",
	       "from/mc", "to/mc");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], reps = total / n, r;
		struct dbuf b = drv_alloc("coherent", n);
		uint8_t *p = xmalloc(n), *q = xmalloc(n);
		double t, from, to, mc;

		memset(p, 1, n);
		memset(q, 2, n);
		t = now_s();
		for (r = 0; r < reps; r++)
			dma1(PCIEM_DMA_FROM_HOST, b.bus, p, n, NULL);
		from = total / (now_s() - t) / MIB;
		t = now_s();
		for (r = 0; r < reps; r++)
			dma1(PCIEM_DMA_TO_HOST, b.bus, p, n, NULL);
		to = total / (now_s() - t) / MIB;
		t = now_s();
		for (r = 0; r < reps; r++) {
			memcpy(q, p, n);
			__asm__ volatile("" : : "r"(q) : "memory");
		}
		mc = total / (now_s() - t) / MIB;
		printf("%-8zu %9.0f MB/s %7.0f MB/s %7.0f MB/s %8.2f %8.2f\n", n, from, to, mc,
		       from / mc, to / mc);
		drv_free(b);
		free(p);
		free(q);
	}
}

int main(int argc, char **argv)
{
	crc_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	create_device();
	if (argc > 1 && !strcmp(argv[1], "hold")) {
		printf("%s %s\n", dev_info.pci_name, dbg_dir);
		fflush(stdout);
		pause();
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "bench")) {
		bench();
		return 0;
	}
	printf("device %s, debugfs %s\n", dev_info.pci_name, dbg_dir);
	probe_buf = drv_alloc("coherent", 4096);

	check_sizes();
	check_16mib();
	check_multi_segment();
	check_bus_master();
	check_not_ram();
	check_bad_fields();
	check_state();
	check_counters();
	drv_free(probe_buf);
	check_stop_race();

	close(pciem_fd);
	return failures ? 1 : 0;
}
