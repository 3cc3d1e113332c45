// SPDX-License-Identifier: MIT
/*
 * mmio_host: a minimal C host for the trapped-MMIO guest tests. It runs one
 * device straight on /dev/pciem and logs every event, so the tests see exactly
 * what the module produced, independent of pciem-lua.
 *
 *   mmio_host NAME EVENTLOG [OPTIONS]
 *     -t US    sync timeout in microseconds (CREATE's sync_timeout_us)
 *     -r N     ring entries (CREATE's ring_entries)
 *     -p       no policies (BAR 0 stays all POSTED)
 *     -S       stall: never take events (the ring fills, sync never answered)
 *
 * Device: 1234:beef class ff0000, BAR 0 16 KiB (32-bit), BAR 2 64 KiB
 * (64-bit). Policies of BAR 0: [0, 0x1000) POSTED, [0x1000, 0x2000) SYNC,
 * [0x2000, 0x4000) MEMORY; BAR 2 POSTED. Sync read handlers of BAR 0:
 *   0x1000  counter: 1, 2, 3, ... per read
 *   0x1004  clear-on-read: the last value written there, then 0
 *   0x1008  FIFO: writes push, reads pop (0xdeadbeef when empty)
 *   0x1ffc  never answered (a read times out)
 *   other   byte at offset a is (a & 0xff) ^ 0x5a, whatever the width
 * Prints the device's PCI name on stdout once started; each event becomes a
 * line "seq kind bar offset width value flags" (hex) in EVENTLOG.
 * SIGTERM/SIGINT: stop the device and exit 0.
 *
 *   mmio_host mmap-test FILE   try to mmap FILE (a sysfs resourceN) shared:
 *                              prints "mapped" or "refused errno N"
 *   mmio_host policy-check     SET_POLICY, SET_SYNC_TIMEOUT and SET_EVENTFD
 *                              validation: one "PASS/FAIL policy.<case>" line
 *                              per case
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../../include/uapi/pciem.h"

static volatile sig_atomic_t stop;
static int fd;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "mmio_host: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void set_policy(int bar, uint64_t off, uint64_t len, int policy)
{
	struct pciem_policy_desc p = {
		.size = sizeof(p), .bar = bar, .policy = policy, .offset = off, .length = len,
	};

	if (ioctl(fd, PCIEM_IOC_SET_POLICY, &p))
		die("SET_POLICY");
}

static uint32_t fifo[256];
static unsigned int fifo_head, fifo_tail;
static uint64_t counter, clear_on_read;

static uint64_t sync_read(uint32_t off, unsigned int width)
{
	uint64_t v = 0;
	unsigned int i;

	switch (off) {
	case 0x1000:
		return ++counter;
	case 0x1004:
		v = clear_on_read;
		clear_on_read = 0;
		return v;
	case 0x1008:
		if (fifo_head == fifo_tail)
			return 0xdeadbeef;
		return fifo[fifo_tail++ % 256];
	}
	for (i = 0; i < width; i++)
		v |= (uint64_t)(((off + i) & 0xff) ^ 0x5a) << (8 * i);
	return v;
}

static void sync_write(uint32_t off, uint64_t value)
{
	if (off == 0x1004)
		clear_on_read = value;
	else if (off == 0x1008 && fifo_head - fifo_tail < 256)
		fifo[fifo_head++ % 256] = value;
}

/* Expect request to fail with errno want (0: succeed). */
static int expect(const char *name, unsigned long req, void *arg, int want)
{
	int ret = ioctl(fd, req, arg) ? errno : 0;

	printf("%s policy.%s", ret == want ? "PASS" : "FAIL", name);
	if (ret != want)
		printf(": errno %d, want %d", ret, want);
	printf("\n");
	return ret != want;
}

static int policy_check(void)
{
	struct pciem_device_desc desc = { .size = sizeof(desc), .vendor_id = 0x1234,
		.device_id = 0xbeef, .class_code = 0xff, .name = "policy" };
	struct pciem_bar_desc bar0 = { .size = sizeof(bar0), .index = 0, .length = 0x4000 };
	struct pciem_bar_desc bar2 = { .size = sizeof(bar2), .index = 2, .length = 0x10000,
		.flags = PCIEM_BAR_MEM64 };
	struct pciem_cap_desc msix = { .size = sizeof(msix), .kind = PCIEM_CAP_MSIX,
		.u.msix = { .vectors = 4, .table_bar = 0, .pba_bar = 0,
			    .table_offset = 0x3000, .pba_offset = 0x3800 } };
	struct pciem_policy_desc p;
	struct pciem_sync_timeout st = { .size = sizeof(st) };
	struct pciem_eventfd ef = { .size = sizeof(ef) };
	int bad = 0;

#define POLICY(b, pol, off, len) \
	(p = (struct pciem_policy_desc){ .size = sizeof(p), .bar = (b), .policy = (pol), \
					  .offset = (off), .length = (len) }, &p)
	fd = open("/dev/pciem", O_RDWR);
	if (fd < 0)
		die("/dev/pciem");
	bad |= expect("before_create", PCIEM_IOC_SET_POLICY, POLICY(0, 1, 0, 4), EINVAL);
	if (ioctl(fd, PCIEM_IOC_CREATE, &desc) || ioctl(fd, PCIEM_IOC_ADD_BAR, &bar0) ||
	    ioctl(fd, PCIEM_IOC_ADD_BAR, &bar2) || ioctl(fd, PCIEM_IOC_ADD_CAP, &msix))
		die("describe");
	bad |= expect("ok_sync", PCIEM_IOC_SET_POLICY, POLICY(0, 2, 0x100, 0x100), 0);
	bad |= expect("ok_whole_bar2", PCIEM_IOC_SET_POLICY, POLICY(2, 0, 0, 0x10000), 0);
	bad |= expect("absent_bar", PCIEM_IOC_SET_POLICY, POLICY(1, 1, 0, 4), EINVAL);
	bad |= expect("upper_half", PCIEM_IOC_SET_POLICY, POLICY(3, 1, 0, 4), EINVAL);
	bad |= expect("bar_6", PCIEM_IOC_SET_POLICY, POLICY(6, 1, 0, 4), EINVAL);
	bad |= expect("unknown_policy", PCIEM_IOC_SET_POLICY, POLICY(0, 3, 0, 4), EINVAL);
	bad |= expect("unaligned_offset", PCIEM_IOC_SET_POLICY, POLICY(0, 1, 2, 4), EINVAL);
	bad |= expect("unaligned_length", PCIEM_IOC_SET_POLICY, POLICY(0, 1, 0, 6), EINVAL);
	bad |= expect("empty", PCIEM_IOC_SET_POLICY, POLICY(0, 1, 0, 0), EINVAL);
	bad |= expect("past_end", PCIEM_IOC_SET_POLICY, POLICY(0, 1, 0x3ffc, 8), EINVAL);
	bad |= expect("wrapping", PCIEM_IOC_SET_POLICY, POLICY(0, 1, 0x100, ~0ULL - 0xfb), EINVAL);
	bad |= expect("over_msix_table", PCIEM_IOC_SET_POLICY, POLICY(0, 2, 0x2ff0, 0x20), EINVAL);
	bad |= expect("over_msix_pba", PCIEM_IOC_SET_POLICY, POLICY(0, 0, 0x3800, 4), EINVAL);
	bad |= expect("after_pba_ok", PCIEM_IOC_SET_POLICY, POLICY(0, 0, 0x3808, 4), 0);
	p.reserved[2] = 1;
	bad |= expect("reserved", PCIEM_IOC_SET_POLICY, &p, EINVAL);
	p.reserved[2] = 0;
	p.size = 8;
	bad |= expect("size", PCIEM_IOC_SET_POLICY, &p, EINVAL);
	st.timeout_us = 0;
	bad |= expect("timeout_zero", PCIEM_IOC_SET_SYNC_TIMEOUT, &st, EINVAL);
	st.timeout_us = 10000001;
	bad |= expect("timeout_too_long", PCIEM_IOC_SET_SYNC_TIMEOUT, &st, EINVAL);
	st.timeout_us = 5000;
	bad |= expect("timeout_ok", PCIEM_IOC_SET_SYNC_TIMEOUT, &st, 0);
	ef.fd = 0;	/* stdin: not an eventfd */
	bad |= expect("eventfd_not_eventfd", PCIEM_IOC_SET_EVENTFD, &ef, EINVAL);
	ef.fd = eventfd(0, 0);
	bad |= expect("eventfd_ok", PCIEM_IOC_SET_EVENTFD, &ef, 0);
	ef.fd = eventfd(0, 0);
	bad |= expect("eventfd_replace", PCIEM_IOC_SET_EVENTFD, &ef, 0);
	ef.fd = -1;
	bad |= expect("eventfd_detach", PCIEM_IOC_SET_EVENTFD, &ef, 0);
	/* Policies may change while the device runs. */
	if (ioctl(fd, PCIEM_IOC_REGISTER) || ioctl(fd, PCIEM_IOC_START))
		die("REGISTER/START");
	bad |= expect("while_started", PCIEM_IOC_SET_POLICY, POLICY(0, 1, 0x100, 0x100), 0);
	return bad;
#undef POLICY
}

int main(int argc, char **argv)
{
	struct pciem_device_desc desc = { .size = sizeof(desc), .vendor_id = 0x1234,
		.device_id = 0xbeef, .class_code = 0xff };
	struct pciem_bar_desc bar0 = { .size = sizeof(bar0), .index = 0, .length = 0x4000 };
	struct pciem_bar_desc bar2 = { .size = sizeof(bar2), .index = 2, .length = 0x10000,
		.flags = PCIEM_BAR_MEM64 };
	struct pciem_device_info info = { .size = sizeof(info) };
	struct pciem_eventfd ef = { .size = sizeof(ef) };
	bool policies = true, stall = false;
	struct pciem_ring_ctrl *ctrl;
	struct pciem_answer *answers;
	struct pciem_event *events;
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t head = 0;
	FILE *log;
	void *ring;
	int opt, efd;

	if (argc == 3 && !strcmp(argv[1], "mmap-test")) {
		int rfd = open(argv[2], O_RDWR | O_SYNC);
		void *p;

		if (rfd < 0)
			die(argv[2]);
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
		if (p == MAP_FAILED)
			printf("refused errno %d\n", errno);
		else
			printf("mapped\n");
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "policy-check"))
		return policy_check();
	if (argc < 3) {
		fprintf(stderr, "usage: mmio_host NAME EVENTLOG [-t US] [-r N] [-p] [-S]\n");
		return 2;
	}
	snprintf(desc.name, sizeof(desc.name), "%s", argv[1]);
	log = fopen(argv[2], "w");
	if (!log)
		die(argv[2]);
	optind = 3;
	while ((opt = getopt(argc, argv, "t:r:pS")) != -1) {
		switch (opt) {
		case 't':
			desc.sync_timeout_us = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			desc.ring_entries = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			policies = false;
			break;
		case 'S':
			stall = true;
			break;
		default:
			return 2;
		}
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	fd = open("/dev/pciem", O_RDWR);
	if (fd < 0)
		die("/dev/pciem");
	if (ioctl(fd, PCIEM_IOC_CREATE, &desc))
		die("CREATE");
	if (ioctl(fd, PCIEM_IOC_ADD_BAR, &bar0) || ioctl(fd, PCIEM_IOC_ADD_BAR, &bar2))
		die("ADD_BAR");
	if (policies) {
		set_policy(0, 0x1000, 0x1000, PCIEM_POLICY_SYNC);
		set_policy(0, 0x2000, 0x2000, PCIEM_POLICY_MEMORY);
	}

	/* The ring's size is in its control block: map that first, then the whole. */
	ctrl = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
		    (off_t)PCIEM_MMAP_RING_INDEX << PCIEM_MMAP_BAR_SHIFT);
	if (ctrl == MAP_FAILED)
		die("mmap ring control page");
	ring = mmap(NULL, ctrl->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)PCIEM_MMAP_RING_INDEX << PCIEM_MMAP_BAR_SHIFT);
	if (ring == MAP_FAILED)
		die("mmap ring");
	munmap(ctrl, 4096);
	ctrl = ring;
	answers = (struct pciem_answer *)((char *)ring + ctrl->answers_offset);
	events = (struct pciem_event *)((char *)ring + ctrl->events_offset);

	efd = eventfd(0, EFD_NONBLOCK);
	if (efd < 0)
		die("eventfd");
	ef.fd = efd;
	if (ioctl(fd, PCIEM_IOC_SET_EVENTFD, &ef))
		die("SET_EVENTFD");

	if (ioctl(fd, PCIEM_IOC_REGISTER) || ioctl(fd, PCIEM_IOC_START))
		die("REGISTER/START");
	if (ioctl(fd, PCIEM_IOC_INFO, &info))
		die("INFO");
	printf("%s\n", info.pci_name);
	fflush(stdout);

	while (!stop) {
		uint64_t tail = __atomic_load_n(&ctrl->tail, __ATOMIC_ACQUIRE);
		struct pollfd pfd = { .fd = efd, .events = POLLIN };
		uint64_t junk;

		if (stall || head == tail) {
			if (stall) {
				usleep(10000);
				continue;
			}
			__atomic_store_n(&ctrl->host_sleeping, 1, __ATOMIC_SEQ_CST);
			tail = __atomic_load_n(&ctrl->tail, __ATOMIC_SEQ_CST);
			if (head == tail)
				poll(&pfd, 1, 100);
			__atomic_store_n(&ctrl->host_sleeping, 0, __ATOMIC_SEQ_CST);
			if (read(efd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
				die("read eventfd");
			continue;
		}
		while (head != tail) {
			struct pciem_event ev = events[head & (ctrl->entries - 1)];

			head++;
			if (ev.seq != head) {
				fprintf(log, "BADSEQ %llx want %llx\n",
					(unsigned long long)ev.seq, (unsigned long long)head);
			}
			fprintf(log, "%llx %x %x %x %x %llx %x\n", (unsigned long long)ev.seq,
				ev.kind, ev.bar, ev.offset, ev.width,
				(unsigned long long)ev.value, ev.flags);
			if (ev.kind == PCIEM_EVENT_MMIO_READ) {
				if (ev.bar == 0 && ev.offset == 0x1ffc)
					continue;	/* let it time out */
				answers[ev.answer].value = sync_read(ev.offset, ev.width);
				__atomic_store_n(&answers[ev.answer].seq, ev.seq, __ATOMIC_RELEASE);
			} else if (ev.kind == PCIEM_EVENT_MMIO_WRITE &&
				   (ev.flags & PCIEM_EVENT_F_SYNC)) {
				sync_write(ev.offset, ev.value);
				__atomic_store_n(&answers[ev.answer].seq, ev.seq, __ATOMIC_RELEASE);
			}
			__atomic_store_n(&ctrl->head, head, __ATOMIC_RELEASE);
		}
		fflush(log);
	}
	fflush(log);
	if (ioctl(fd, PCIEM_IOC_STOP))
		die("STOP");
	return 0;
}
