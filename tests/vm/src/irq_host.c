// SPDX-License-Identifier: MIT
/*
 * Guest-side interrupt test: a device host on /dev/pciem (MSI with 32
 * vectors and per-vector masks, MSI-X with 2048, INTA#) bound to
 * pciem_testdrv, whose irq/ debugfs files allocate vectors and count every
 * interrupt. Raises each vector of every MSI size and of 2048 MSI-X vectors,
 * bursts of the same and different vectors, masked vectors pending and
 * delivered on unmask (MSI, MSI-X vector and function masks, disable_irq),
 * INTx level with INTx Disable, irqfds, counters and refusals.
 * Prints one PASS/FAIL line per check; exits 1 if any failed.
 *   irq_host           run every check
 *   irq_host flood     MSI-X 64 with irqfds on vectors 0..3; print "ready",
 *                      then raise and signal without end (to be killed)
 *   irq_host intx-early  INTx asserted before the driver probed reaches it
 *                      once it requests the irq
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
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "testhost.h"

#define MSIX_VECTORS 2048
#define BAR0_LEN 0x10000
#define PBA_OFF 0x8000
#define WAIT_MS 10000		/* a deferred delivery gives up after this */

static volatile uint8_t *bar0;	/* the BAR shadow (MSI-X table and PBA) */
static long counts[MSIX_VECTORS];

/* ---- debugfs ---- */

/* The driver allocates vectors; dies when it cannot. */
static void setup(const char *what)
{
	int ret = dbg_write("setup", "%s", what);

	if (ret)
		die("driver setup \"%s\": %s", what, strerror(-ret));
	dbg_write("total", "0");
}

/* counts[] from the driver; returns the number of vectors listed. */
static int read_counts(void)
{
	static char buf[MSIX_VECTORS * 24];
	char path[320], *p;
	ssize_t n, got = 0;
	int fd, lines = 0;
	unsigned int v;
	long c;

	snprintf(path, sizeof(path), "%s/counts", dbg_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	memset(counts, 0, sizeof(counts));
	for (p = buf; sscanf(p, "%u %ld", &v, &c) == 2; lines++) {
		if (v < MSIX_VECTORS)
			counts[v] = c;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return lines;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Deferred deliveries (unmask, irqfd) land soon: wait for counts[v] >= want. */
static long wait_count(unsigned int v, long want)
{
	int ms;

	for (ms = 0; ms < WAIT_MS; ms += 10) {
		read_counts();
		if (counts[v] >= want)
			break;
		sleep_ms(10);
	}
	return counts[v];
}

static long read_total(void)
{
	char path[320], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/total", dbg_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strtol(buf, NULL, 10);
}

/*
 * Raises are delivered by a kernel worker, after the ioctl returns: wait
 * until the driver counted want interrupts in all (or WAIT_MS passed), then
 * read the per-vector counts.
 */
static long wait_total(long want)
{
	long total = 0;
	int ms;

	for (ms = 0; ms < WAIT_MS; ms += 10) {
		total = read_total();
		if (total >= want)
			break;
		sleep_ms(10);
	}
	read_counts();
	return total;
}

/* ---- the device ---- */

/* PCIEM_IOC_IRQ: 0 delivered, 1 pending, or -errno. */
static int irq_op(uint32_t op, uint32_t vector)
{
	struct pciem_irq r = { .size = sizeof(r), .op = op, .vector = vector };
	int ret = ioctl(pciem_fd, PCIEM_IOC_IRQ, &r);

	return ret < 0 ? -errno : ret;
}

static int raise_vec(uint32_t v)
{
	return irq_op(PCIEM_IRQ_RAISE, v);
}

static int irqfd(int fd, uint32_t vector, uint32_t flags)
{
	struct pciem_irqfd f = { .size = sizeof(f), .fd = fd, .vector = vector, .flags = flags };

	return ioc(pciem_fd, PCIEM_IOC_IRQFD, &f);
}

static struct pciem_counters get_counters(void)
{
	struct pciem_counters c = { .size = sizeof(c) };

	if (ioc(pciem_fd, PCIEM_IOC_COUNTERS, &c))
		die("counters: %s", strerror(errno));
	return c;
}

static uint32_t cfg_read(uint16_t off, uint8_t width)
{
	struct pciem_cfg_access a = { .size = sizeof(a), .offset = off, .width = width };

	if (ioc(pciem_fd, PCIEM_IOC_CFG_READ, &a))
		die("cfg read %#x: %s", off, strerror(errno));
	return a.value;
}

static bool pba_bit(unsigned int v)
{
	return bar0[PBA_OFF + v / 8] >> (v % 8) & 1;
}

static void add_cap(struct pciem_cap_desc *c)
{
	int ret;

	c->size = sizeof(*c);
	ret = ioc(pciem_fd, PCIEM_IOC_ADD_CAP, c);
	if (ret)
		die("add cap %u: %s", c->kind, strerror(-ret));
}

/* early_intx: assert INTx between REGISTER and START, before any driver. */
static void create_device(bool early_intx)
{
	struct pciem_device_desc d = { .size = sizeof(d) };
	struct pciem_bar_desc b = { .size = sizeof(b) };
	struct pciem_cap_desc msi = { .kind = PCIEM_CAP_MSI };
	struct pciem_cap_desc msix = { .kind = PCIEM_CAP_MSIX };
	struct pciem_cap_desc pcie = { .kind = PCIEM_CAP_PCIE };
	void *map;
	int ret;

	open_pciem();
	d.vendor_id = 0x1234;
	d.device_id = 0xd3a2;
	d.subsys_vendor_id = 0x1234;
	d.subsys_id = 0x0002;
	d.class_code = 0xff;
	d.intx_pin = 1;
	snprintf(d.name, sizeof(d.name), "irq_host");
	b.index = 0;
	b.length = BAR0_LEN;
	if ((ret = ioc(pciem_fd, PCIEM_IOC_CREATE, &d)) ||
	    (ret = ioc(pciem_fd, PCIEM_IOC_ADD_BAR, &b)))
		die("create/add_bar: %s", strerror(-ret));
	pcie.u.pcie.port_type = PCIEM_PCIE_ENDPOINT;
	add_cap(&pcie);
	msi.u.msi.vectors = 32;
	msi.u.msi.addr64 = 1;
	msi.u.msi.per_vector_mask = 1;
	add_cap(&msi);
	msix.u.msix.vectors = MSIX_VECTORS;
	msix.u.msix.table_bar = 0;
	msix.u.msix.table_offset = 0;
	msix.u.msix.pba_bar = 0;
	msix.u.msix.pba_offset = PBA_OFF;
	add_cap(&msix);
	if ((ret = ioc(pciem_fd, PCIEM_IOC_REGISTER, NULL)))
		die("register: %s", strerror(-ret));
	map = mmap(NULL, BAR0_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, pciem_fd, 0);
	if (map == MAP_FAILED)
		die("mmap bar 0: %s", strerror(errno));
	bar0 = map;
	override_driver();
	if (early_intx) {
		report(irq_op(PCIEM_IRQ_INTX_ASSERT, 0) == 0, "intx-early-assert");
		report(cfg_read(0x06, 2) & 0x8, "intx-early-status-set");
	}
	if ((ret = ioc(pciem_fd, PCIEM_IOC_START, NULL)))
		die("start: %s", strerror(-ret));
	wait_driver("irq");
}

/* ---- checks ---- */

/*
 * Every vector once; every count exactly 1. Vector n must be refused when n
 * is the limit the device knows (MSI: the enabled count; MSI-X: the table).
 */
static void check_each(const char *kind, unsigned int n, bool n_is_limit)
{
	unsigned int v, bad_ret = 0, bad_count = 0;
	int ret;

	for (v = 0; v < n; v++)
		if ((ret = raise_vec(v)) != 0 && bad_ret++ == 0)
			printf("  %s %u: raise %u returned %d\n", kind, n, v, ret);
	wait_total(n);
	if (read_counts() != (int)n)
		bad_count = n;
	for (v = 0; v < n; v++)
		if (counts[v] != 1 && bad_count++ == 0)
			printf("  %s %u: vector %u counted %ld\n", kind, n, v, counts[v]);
	report(!bad_ret && !bad_count, "%s-%u-each-vector-once", kind, n);
	if (n_is_limit)
		report(raise_vec(n) == -EINVAL, "%s-%u-vector-%u-out-of-range", kind, n, n);
}

static void check_msi_sizes(void)
{
	unsigned int n;
	char what[32];

	for (n = 1; n <= 32; n *= 2) {
		snprintf(what, sizeof(what), "msi %u", n);
		setup(what);
		check_each("msi", n, true);
	}
}

static void check_msix_all(void)
{
	setup("msix 2048");
	check_each("msix", MSIX_VECTORS, true);
	/* Managed (spread) vectors: at most one per CPU, and the guest has 2. */
	setup("msix 2 affinity");
	check_each("msix-affinity", 2, false);
}

/* Back to back, from one thread: every raise is one interrupt. */
static void check_bursts(const char *kind, unsigned int nvec, unsigned int n)
{
	char what[32];
	unsigned int i, v;
	bool ok = true;

	snprintf(what, sizeof(what), "%s %u", kind, nvec);
	setup(what);
	for (i = 0; i < n; i++)
		ok = ok && raise_vec(0) == 0;
	wait_total(n);
	report(ok && counts[0] == (long)n, "%s-burst-same-vector-%u (counted %ld)", kind, n,
	       counts[0]);
	dbg_write("total", "0");
	for (i = 0; i < n; i++)
		for (v = 0; v < nvec; v++)
			ok = ok && raise_vec(v) == 0;
	wait_total((long)n * nvec);
	for (v = 0; v < nvec; v++)
		ok = ok && counts[v] == (long)n;
	report(ok, "%s-burst-%u-vectors-x%u", kind, nvec, n);
}

static void check_msix_masks(void)
{
	struct pciem_counters a, b;
	long c;

	setup("msix 8");
	a = get_counters();
	dbg_write("ctl", "mask 3");
	report(raise_vec(3) == 1, "msix-masked-raise-pends");
	report(raise_vec(3) == 1, "msix-masked-raise-again-pends");
	report(pba_bit(3), "msix-pba-bit-set");
	read_counts();
	report(counts[3] == 0, "msix-masked-not-delivered");
	report(raise_vec(2) == 0 && wait_count(2, 1) == 1, "msix-other-vector-delivered");
	dbg_write("ctl", "unmask 3");
	c = wait_count(3, 1);
	report(c == 1, "msix-unmask-delivers-once (counted %ld)", c);
	report(!pba_bit(3), "msix-pba-bit-cleared");
	b = get_counters();
	report(b.irqs_pended - a.irqs_pended == 2, "msix-counter-pended (%" PRIu64 ")",
	       b.irqs_pended - a.irqs_pended);

	dbg_write("total", "0");
	dbg_write("ctl", "fmask 1");
	report(raise_vec(0) == 1 && raise_vec(1) == 1 && raise_vec(5) == 1,
	       "msix-function-mask-pends");
	report(pba_bit(0) && pba_bit(1) && pba_bit(5), "msix-function-mask-pba");
	read_counts();
	report(counts[0] + counts[1] + counts[5] == 0, "msix-function-mask-not-delivered");
	dbg_write("ctl", "fmask 0");
	wait_count(0, 1);
	wait_count(1, 1);
	wait_count(5, 1);
	report(counts[0] == 1 && counts[1] == 1 && counts[5] == 1 && counts[4] == 0,
	       "msix-function-unmask-delivers");

	dbg_write("total", "0");
	dbg_write("ctl", "disable 4");
	report(raise_vec(4) == 0, "msix-disabled-irq-raise");
	sleep_ms(100);
	read_counts();
	report(counts[4] == 0, "msix-disabled-irq-held");
	dbg_write("ctl", "enable 4");
	c = wait_count(4, 1);
	report(c == 1, "msix-enable-irq-delivers-held (counted %ld)", c);
}

static void check_msi_masks(void)
{
	uint32_t pending_off, off;
	long c;

	setup("msi 8");
	/* Find the MSI capability: the pending bits follow the mask bits. */
	for (off = cfg_read(0x34, 1); off; off = cfg_read(off + 1, 1))
		if (cfg_read(off, 1) == 0x05)
			break;
	if (!off)
		die("no MSI capability in config space");
	pending_off = off + 0x14;	/* 64-bit form with per-vector masks */
	dbg_write("ctl", "mask 6");
	report(raise_vec(6) == 1, "msi-masked-raise-pends");
	report(cfg_read(pending_off, 4) & 1u << 6, "msi-pending-bit-set");
	read_counts();
	report(counts[6] == 0, "msi-masked-not-delivered");
	report(raise_vec(5) == 0 && wait_count(5, 1) == 1, "msi-other-vector-delivered");
	dbg_write("ctl", "unmask 6");
	c = wait_count(6, 1);
	report(c == 1, "msi-unmask-delivers-once (counted %ld)", c);
	report(!(cfg_read(pending_off, 4) & 1u << 6), "msi-pending-bit-cleared");
}

static void check_intx(void)
{
	long c1, c2;

	setup("intx");
	report(!(cfg_read(0x06, 2) & 0x8), "intx-status-clear-at-start");
	report(irq_op(PCIEM_IRQ_INTX_ASSERT, 0) == 0, "intx-assert-delivered");
	report(cfg_read(0x06, 2) & 0x8, "intx-status-set");
	/* Level: the handler does not clear the cause, so it keeps coming. */
	c1 = wait_count(0, 3);
	report(c1 >= 3, "intx-level-repeats-while-asserted (counted %ld)", c1);
	report(irq_op(PCIEM_IRQ_INTX_DEASSERT, 0) == 0, "intx-deassert");
	report(!(cfg_read(0x06, 2) & 0x8), "intx-status-cleared");
	sleep_ms(100);
	read_counts();
	c1 = counts[0];
	sleep_ms(300);
	read_counts();
	c2 = counts[0];
	report(c1 == c2, "intx-quiet-after-deassert (%ld then %ld)", c1, c2);

	dbg_write("ctl", "intx 0");	/* Command.INTx Disable set */
	report(cfg_read(0x04, 2) & 0x400, "intx-disable-bit-set");
	dbg_write("total", "0");
	report(irq_op(PCIEM_IRQ_INTX_ASSERT, 0) == 1, "intx-assert-while-disabled-held");
	report(cfg_read(0x06, 2) & 0x8, "intx-status-set-while-disabled");
	sleep_ms(100);
	read_counts();
	report(counts[0] == 0, "intx-disabled-not-delivered");
	dbg_write("ctl", "intx 1");
	c1 = wait_count(0, 1);
	report(c1 >= 1, "intx-enable-delivers-held-level (counted %ld)", c1);
	irq_op(PCIEM_IRQ_INTX_DEASSERT, 0);
	report(irq_op(PCIEM_IRQ_INTX_ASSERT, 1) == -EINVAL, "intx-vector-must-be-0");
}

static void check_irqfd(void)
{
	int efd = eventfd(0, EFD_CLOEXEC), efd2;
	const unsigned int n = 2000;
	uint64_t one = 1;
	unsigned int i;
	long c;

	if (efd < 0)
		die("eventfd: %s", strerror(errno));
	setup("msix 4");
	report(irqfd(efd, 2, 0) == 0, "irqfd-assign");
	report(irqfd(efd, 2, 0) == -EBUSY, "irqfd-assign-twice-refused");
	report(irqfd(efd, 3, 0) == 0, "irqfd-same-fd-second-vector");
	report(irqfd(efd, 3, PCIEM_IRQFD_DEASSIGN) == 0, "irqfd-deassign-second");
	for (i = 0; i < n; i++)
		if (write(efd, &one, sizeof(one)) != sizeof(one))
			die("eventfd write: %s", strerror(errno));
	c = wait_count(2, n);
	sleep_ms(100);
	read_counts();
	report(counts[2] == (long)n && counts[3] == 0, "irqfd-each-signal-raises (%ld of %u)",
	       counts[2], n);
	report(irqfd(efd, 2, PCIEM_IRQFD_DEASSIGN) == 0, "irqfd-deassign");
	report(irqfd(efd, 2, PCIEM_IRQFD_DEASSIGN) == -ENOENT, "irqfd-deassign-unbound");
	if (write(efd, &one, sizeof(one)) != sizeof(one))
		die("eventfd write: %s", strerror(errno));
	sleep_ms(200);
	read_counts();
	report(counts[2] == (long)n, "irqfd-deassigned-is-silent (%ld)", counts[2]);
	report(irqfd(0, 1, 0) == -EINVAL || irqfd(0, 1, 0) == -EBADF,
	       "irqfd-not-an-eventfd-refused");
	report(irqfd(efd, MSIX_VECTORS, 0) == -EINVAL, "irqfd-vector-out-of-range");

	/* Closing a bound eventfd unbinds it; a new one on the same vector works. */
	efd2 = eventfd(0, EFD_CLOEXEC);
	report(irqfd(efd2, 1, 0) == 0, "irqfd-assign-to-close");
	close(efd2);
	close(efd);
	efd = eventfd(0, EFD_CLOEXEC);
	report(irqfd(efd, 1, 0) == 0, "irqfd-assign-after-close");
	dbg_write("total", "0");
	if (write(efd, &one, sizeof(one)) != sizeof(one))
		die("eventfd write: %s", strerror(errno));
	c = wait_count(1, 1);
	report(c == 1, "irqfd-after-close-raises (%ld)", c);
	/* Left bound: released when the device fd closes. */
}

static void check_refusals(void)
{
	struct pciem_irq r = { .size = sizeof(r), .op = 9 };
	struct pciem_counters a, b;

	setup("none");
	report(raise_vec(0) == -ENOTCONN, "raise-without-msi-refused");
	report(ioc(pciem_fd, PCIEM_IOC_IRQ, &r) == -EINVAL, "unknown-op-refused");
	r.op = PCIEM_IRQ_RAISE;
	r.reserved[0] = 1;
	report(ioc(pciem_fd, PCIEM_IOC_IRQ, &r) == -EINVAL, "reserved-refused");
	setup("msi 2");
	a = get_counters();
	raise_vec(0);
	raise_vec(1);
	wait_total(2);
	b = get_counters();
	report(b.irqs_delivered - a.irqs_delivered == 2, "counter-delivered (%" PRIu64 ")",
	       b.irqs_delivered - a.irqs_delivered);
}

/* Interrupts in flight everywhere when the host dies. */
static void flood(void)
{
	uint64_t one = 1;
	int efd[4], i;
	uint32_t v;

	setup("msix 64");
	for (i = 0; i < 4; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC);
		if (efd[i] < 0 || irqfd(efd[i], i, 0))
			die("irqfd %d: %s", i, strerror(errno));
	}
	dbg_write("ctl", "mask 7");
	printf("ready %s\n", dev_info.pci_name);
	for (v = 0;; v = (v + 1) % 64) {
		raise_vec(v);
		if (write(efd[v % 4], &one, sizeof(one)) != sizeof(one))
			die("eventfd write: %s", strerror(errno));
	}
}

/* The line was up before the driver existed: its request_irq sees it. */
static void intx_early(void)
{
	long c;

	setup("intx");
	c = wait_count(0, 1);
	report(c >= 1, "intx-early-delivered-at-request (counted %ld)", c);
	report(irq_op(PCIEM_IRQ_INTX_DEASSERT, 0) == 0, "intx-early-deassert");
	setup("none");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	create_device(!strcmp(mode, "intx-early"));
	if (!strcmp(mode, "flood"))
		flood();
	if (!strcmp(mode, "intx-early")) {
		intx_early();
		close(pciem_fd);
		return failures ? 1 : 0;
	}
	printf("device %s, debugfs %s\n", dev_info.pci_name, dbg_dir);
	check_refusals();
	check_msi_sizes();
	check_msix_all();
	check_bursts("msix", 16, 2000);
	check_bursts("msi", 8, 2000);
	check_msix_masks();
	check_msi_masks();
	check_intx();
	check_irqfd();
	setup("none");
	close(pciem_fd);
	return failures ? 1 : 0;
}
