// SPDX-License-Identifier: MIT
/*
 * Guest-side check of the /dev/pciem ioctl interface: every request with good
 * and bad input, state order, mmap bounds, two devices at once. Prints one
 * PASS/FAIL line per check; exits 1 if any failed.
 *   ioctl_check            run every check
 *   ioctl_check hold NAME  create+register+start a device, print its PCI
 *                          name, then wait to be killed
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "testhost.h"

#define BAR_OFF(n) ((off_t)(n) << PCIEM_MMAP_BAR_SHIFT)

static void expect(const char *name, int got, int want)
{
	if (got == want)
		report(true, "%s", name);
	else
		report(false, "%s (got %s, want %s)", name,
		       got ? strerror(-got) : "success",
		       want ? strerror(-want) : "success");
}

static int open_dev(void)
{
	int fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", DEV_PATH, strerror(errno));
		exit(2);
	}
	return fd;
}

static struct pciem_device_desc desc(const char *name, uint16_t device_id)
{
	struct pciem_device_desc d;

	memset(&d, 0, sizeof(d));
	d.size = sizeof(d);
	d.vendor_id = 0x1234;
	d.device_id = device_id;
	d.subsys_vendor_id = 0x1234;
	d.subsys_id = 0x0001;
	d.revision = 2;
	d.class_code = 0xff;
	snprintf(d.name, sizeof(d.name), "%s", name);
	return d;
}

static struct pciem_bar_desc bar(uint32_t index, uint64_t length, uint32_t flags)
{
	struct pciem_bar_desc b;

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.index = index;
	b.length = length;
	b.flags = flags;
	return b;
}

static struct pciem_cap_desc cap(uint16_t kind, uint16_t offset)
{
	struct pciem_cap_desc c;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.kind = kind;
	c.offset = offset;
	return c;
}

static struct pciem_device_info info(int fd)
{
	struct pciem_device_info i;

	memset(&i, 0, sizeof(i));
	i.size = sizeof(i);
	if (ioc(fd, PCIEM_IOC_INFO, &i))
		i.state = 0xdead;
	return i;
}

static void expect_state(const char *name, int fd, uint32_t state)
{
	struct pciem_device_info i = info(fd);

	report(i.state == state, "%s (state %u, want %u)", name, i.state, state);
}

static int cfg_access(int fd, unsigned long req, uint16_t offset, uint8_t width,
		      uint32_t *value)
{
	struct pciem_cfg_access a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.offset = offset;
	a.width = width;
	a.value = *value;
	ret = ioc(fd, req, &a);
	*value = a.value;
	return ret;
}

static bool sysfs_has(const char *pci_name, const char *file)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s%s%s", pci_name,
		 file ? "/" : "", file ? file : "");
	return stat(path, &st) == 0;
}

/* Devices of our domain in sysfs. */
static int count_domain_devices(uint32_t domain)
{
	char prefix[16];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(prefix, sizeof(prefix), "%04x:", domain);
	d = opendir("/sys/bus/pci/devices");
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

/* 0 if the mapping worked (and was undone), else -errno. */
static int try_mmap(int fd, size_t len, off_t off, int flags)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);

	if (p == MAP_FAILED)
		return -errno;
	munmap(p, len);
	return 0;
}

static void check_version(int fd)
{
	struct pciem_version v;

	memset(&v, 0, sizeof(v));
	v.size = sizeof(v);
	expect("version", ioc(fd, PCIEM_IOC_VERSION, &v), 0);
	report(v.version == PCIEM_UAPI_VERSION, "version-value (%u)", v.version);
	v.size = sizeof(v) - 4;
	expect("version-bad-size", ioc(fd, PCIEM_IOC_VERSION, &v), -EINVAL);
	v.size = sizeof(v);
	v.reserved[5] = 1;
	expect("version-reserved", ioc(fd, PCIEM_IOC_VERSION, &v), -EINVAL);
	v.reserved[5] = 0;
	expect("version-after-bad", ioc(fd, PCIEM_IOC_VERSION, &v), 0);
	expect("unknown-ioctl", ioc(fd, _IO(PCIEM_IOC_MAGIC, 0x7f), NULL), -ENOTTY);
}

static void check_empty_state(int fd)
{
	struct pciem_bar_desc b = bar(0, 4096, 0);
	struct pciem_cap_desc c = cap(PCIEM_CAP_PM, 0);
	uint32_t v = 0;

	expect_state("empty-info", fd, PCIEM_STATE_EMPTY);
	expect("empty-add-bar", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EINVAL);
	expect("empty-add-cap", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	expect("empty-register", ioc(fd, PCIEM_IOC_REGISTER, NULL), -EINVAL);
	expect("empty-start", ioc(fd, PCIEM_IOC_START, NULL), -EINVAL);
	expect("empty-stop", ioc(fd, PCIEM_IOC_STOP, NULL), -EINVAL);
	expect("empty-cfg-read", cfg_access(fd, PCIEM_IOC_CFG_READ, 0, 2, &v), -EINVAL);
	expect("empty-mmap", try_mmap(fd, 4096, BAR_OFF(0), MAP_SHARED), -EINVAL);
}

static void check_create(int fd)
{
	struct pciem_device_desc d;

	d = desc("chk", 0x0001);
	d.size--;
	expect("create-bad-size", ioc(fd, PCIEM_IOC_CREATE, &d), -EINVAL);
	d = desc("chk", 0x0001);
	d.flags = 1;
	expect("create-flags", ioc(fd, PCIEM_IOC_CREATE, &d), -EINVAL);
	d = desc("chk", 0x0001);
	d.reserved0[1] = 1;
	expect("create-reserved0", ioc(fd, PCIEM_IOC_CREATE, &d), -EINVAL);
	d = desc("chk", 0x0001);
	d.reserved[5] = 1;
	expect("create-reserved", ioc(fd, PCIEM_IOC_CREATE, &d), -EINVAL);
	d = desc("", 0x0001);
	expect("create-name-empty", ioc(fd, PCIEM_IOC_CREATE, &d), -EINVAL);
	d = desc("bad name", 0x0001);
	expect("create-name-charset", ioc(fd, PCIEM_IOC_CREATE, &d), -EINVAL);
	d = desc("x", 0x0001);
	memset(d.name, 'a', sizeof(d.name));
	expect("create-name-unterminated", ioc(fd, PCIEM_IOC_CREATE, &d), -EINVAL);
	d = desc("chk", 0x0001);
	d.vendor_id = 0xffff;
	expect("create-vendor-ffff", ioc(fd, PCIEM_IOC_CREATE, &d), -EINVAL);
	d = desc("chk", 0x0001);
	d.intx_pin = 5;
	expect("create-intx-pin", ioc(fd, PCIEM_IOC_CREATE, &d), -EINVAL);
	expect_state("create-failures-leave-empty", fd, PCIEM_STATE_EMPTY);

	d = desc("chk", 0x0001);
	expect("create", ioc(fd, PCIEM_IOC_CREATE, &d), 0);
	expect_state("create-state", fd, PCIEM_STATE_CREATED);
	expect("create-twice", ioc(fd, PCIEM_IOC_CREATE, &d), -EBUSY);
}

static void check_add_bar(int fd)
{
	struct pciem_bar_desc b;

	b = bar(0, 4096, 0);
	b.size = 8;
	expect("bar-bad-size", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EINVAL);
	b = bar(0, 4096, 0);
	b.reserved[2] = 1;
	expect("bar-reserved", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EINVAL);
	b = bar(6, 4096, 0);
	expect("bar-index-6", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EINVAL);
	b = bar(0, 0x3000, 0);
	expect("bar-length-not-pow2", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EINVAL);
	b = bar(0, 2048, 0);
	expect("bar-length-below-4k", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EINVAL);
	b = bar(0, 0, 0);
	expect("bar-length-0", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EINVAL);
	b = bar(0, 4096, 1u << 7);
	expect("bar-flags-unknown", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EINVAL);
	b = bar(5, 4096, PCIEM_BAR_MEM64);
	expect("bar-64bit-at-5", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EINVAL);
	b = bar(4, 1ull << 31, PCIEM_BAR_MEM64);
	expect("bar-too-big-for-shadow", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -ENOMEM);

	b = bar(0, 4096, 0);
	expect("bar0-32bit", ioc(fd, PCIEM_IOC_ADD_BAR, &b), 0);
	expect("bar0-duplicate", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EEXIST);
	b = bar(2, 65536, PCIEM_BAR_MEM64 | PCIEM_BAR_PREFETCH);
	expect("bar2-64bit-prefetch", ioc(fd, PCIEM_IOC_ADD_BAR, &b), 0);
	b = bar(3, 4096, 0);
	expect("bar3-upper-half-taken", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EEXIST);
	b = bar(1, 4096, PCIEM_BAR_MEM64);
	expect("bar1-64bit-overlaps-bar2", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EEXIST);
}

static const uint8_t vendor_payload[4] = { 0xde, 0xad, 0xbe, 0xef };
static const uint8_t ext_payload[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void check_add_cap(int fd)
{
	struct pciem_cap_desc c;
	uint8_t big[PCIEM_CAP_DATA_MAX + 4];

	c = cap(PCIEM_CAP_PM, 0);
	c.size = 16;
	expect("cap-bad-size", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	c = cap(PCIEM_CAP_PM, 0);
	c.reserved[0] = 1;
	expect("cap-reserved", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	c = cap(0, 0);
	expect("cap-kind-0", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	c = cap(7, 0);
	expect("cap-kind-7", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	c = cap(PCIEM_CAP_PM, 0x41);
	expect("cap-offset-misaligned", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	c = cap(PCIEM_CAP_PM, 0x1000);
	expect("cap-offset-out-of-range", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	c = cap(PCIEM_CAP_PM, 0x20);
	expect("cap-offset-in-header", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	c = cap(PCIEM_CAP_MSI, 0);
	c.u.msi.vectors = 3;
	expect("cap-msi-vectors-3", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	c = cap(PCIEM_CAP_MSIX, 0);
	c.u.msix.vectors = 0;
	expect("cap-msix-vectors-0", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	c = cap(PCIEM_CAP_PCIE, 0);
	c.u.pcie.port_type = 0x4;	/* root port: not an endpoint */
	expect("cap-pcie-port-type", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	memset(big, 0, sizeof(big));
	c = cap(PCIEM_CAP_EXT_RAW, 0);
	c.u.raw.id = 0x0b;
	c.u.raw.length = sizeof(big);
	c.u.raw.data = (uintptr_t)big;
	expect("cap-raw-too-long", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	c = cap(PCIEM_CAP_VENDOR, 0);
	c.u.raw.length = 4;
	expect("cap-raw-null-data", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EFAULT);
	c.u.raw.data = 8;	/* unmapped */
	expect("cap-raw-bad-pointer", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EFAULT);

	c = cap(PCIEM_CAP_PCIE, 0x40);
	expect("cap-pcie-at-0x40", ioc(fd, PCIEM_IOC_ADD_CAP, &c), 0);
	c = cap(PCIEM_CAP_PM, 0x44);
	expect("cap-pm-overlaps-pcie", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EINVAL);
	c = cap(PCIEM_CAP_PCIE, 0);
	expect("cap-pcie-twice", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EEXIST);
	c = cap(PCIEM_CAP_PM, 0);
	expect("cap-pm", ioc(fd, PCIEM_IOC_ADD_CAP, &c), 0);
	c = cap(PCIEM_CAP_MSI, 0);
	c.u.msi.vectors = 4;
	c.u.msi.addr64 = 1;
	c.u.msi.per_vector_mask = 1;
	expect("cap-msi", ioc(fd, PCIEM_IOC_ADD_CAP, &c), 0);
	c = cap(PCIEM_CAP_MSIX, 0);
	c.u.msix.vectors = 8;
	c.u.msix.table_bar = 0;
	c.u.msix.table_offset = 0x800;
	c.u.msix.pba_bar = 0;
	c.u.msix.pba_offset = 0xc00;
	expect("cap-msix", ioc(fd, PCIEM_IOC_ADD_CAP, &c), 0);
	c = cap(PCIEM_CAP_VENDOR, 0);
	c.u.raw.length = sizeof(vendor_payload);
	c.u.raw.data = (uintptr_t)vendor_payload;
	expect("cap-vendor", ioc(fd, PCIEM_IOC_ADD_CAP, &c), 0);
	c = cap(PCIEM_CAP_EXT_RAW, 0);
	c.u.raw.id = 0x0b;
	c.u.raw.version = 1;
	c.u.raw.length = sizeof(ext_payload);
	c.u.raw.data = (uintptr_t)ext_payload;
	expect("cap-ext-raw", ioc(fd, PCIEM_IOC_ADD_CAP, &c), 0);
}

static void check_mmap(int fd)
{
	volatile uint32_t *p;

	expect("mmap-absent-bar1", try_mmap(fd, 4096, BAR_OFF(1), MAP_SHARED), -EINVAL);
	expect("mmap-upper-half-bar3", try_mmap(fd, 4096, BAR_OFF(3), MAP_SHARED), -EINVAL);
	/* Index 6 is the event ring: a prefix from its start, shared only. */
	expect("mmap-ring-page", try_mmap(fd, 4096, BAR_OFF(6), MAP_SHARED), 0);
	expect("mmap-ring-private", try_mmap(fd, 4096, BAR_OFF(6), MAP_PRIVATE), -EINVAL);
	expect("mmap-ring-offset", try_mmap(fd, 4096, BAR_OFF(6) + 4096, MAP_SHARED), -EINVAL);
	expect("mmap-ring-too-long", try_mmap(fd, 64 << 20, BAR_OFF(6), MAP_SHARED), -EINVAL);
	expect("mmap-index-7", try_mmap(fd, 4096, BAR_OFF(7), MAP_SHARED), -EINVAL);
	expect("mmap-beyond-bar0", try_mmap(fd, 8192, BAR_OFF(0), MAP_SHARED), -EINVAL);
	expect("mmap-offset-beyond-bar0",
	       try_mmap(fd, 4096, BAR_OFF(0) + 4096, MAP_SHARED), -EINVAL);
	expect("mmap-private", try_mmap(fd, 4096, BAR_OFF(0), MAP_PRIVATE), -EINVAL);
	expect("mmap-bar2-tail", try_mmap(fd, 4096, BAR_OFF(2) + 61440, MAP_SHARED), 0);

	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, BAR_OFF(0));
	if (p == MAP_FAILED) {
		report(false, "mmap-bar0 (%s)", strerror(errno));
		return;
	}
	report(p[0] == 0 && p[1023] == 0, "mmap-bar0-zeroed");
	p[5] = 0xcafef00d;
	munmap((void *)p, 4096);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, BAR_OFF(0));
	if (p == MAP_FAILED) {
		report(false, "mmap-bar0-again (%s)", strerror(errno));
		return;
	}
	report(p[5] == 0xcafef00d, "mmap-bar0-shadow-persists (%#x)", p[5]);
	munmap((void *)p, 4096);
}

/* Offset of the first capability with this ID in the standard chain, or 0. */
static uint16_t find_cap(int fd, uint8_t id)
{
	uint32_t v = 0, ptr;
	int guard = 48;

	if (cfg_access(fd, PCIEM_IOC_CFG_READ, 0x34, 1, &v))
		return 0;
	for (ptr = v & 0xfc; ptr && guard--; ptr = (v >> 8) & 0xfc) {
		if (cfg_access(fd, PCIEM_IOC_CFG_READ, ptr, 2, &v))
			return 0;
		if ((v & 0xff) == id)
			return ptr;
	}
	return 0;
}

static uint32_t sysfs_cfg_read32(const char *pci_name, off_t off)
{
	char path[256];
	uint32_t v = 0xffffffff;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", pci_name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return v;
	if (pread(fd, &v, 4, off) != 4)
		v = 0xffffffff;
	close(fd);
	return v;
}

static void check_cfg_access(int fd, const char *pci_name)
{
	struct pciem_cfg_access a;
	uint32_t v = 0;
	uint16_t vend;

	expect("cfg-read-id", cfg_access(fd, PCIEM_IOC_CFG_READ, 0, 4, &v), 0);
	report(v == 0x00011234, "cfg-read-id-value (%#x)", v);
	v = 0;
	expect("cfg-read-width-3", cfg_access(fd, PCIEM_IOC_CFG_READ, 0, 3, &v), -EINVAL);
	expect("cfg-read-misaligned", cfg_access(fd, PCIEM_IOC_CFG_READ, 1, 2, &v), -EINVAL);
	expect("cfg-read-offset-4096", cfg_access(fd, PCIEM_IOC_CFG_READ, 4096, 1, &v), -EINVAL);
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.width = 4;
	a.reserved[0] = 1;
	expect("cfg-read-reserved", ioc(fd, PCIEM_IOC_CFG_READ, &a), -EINVAL);
	a.reserved[0] = 0;
	a.size = 4;
	expect("cfg-read-bad-size", ioc(fd, PCIEM_IOC_CFG_READ, &a), -EINVAL);

	v = 0x5678;
	expect("cfg-write-vendor-refused", cfg_access(fd, PCIEM_IOC_CFG_WRITE, 0, 2, &v), -EPERM);
	v = 0x1ff;
	expect("cfg-write-value-too-wide", cfg_access(fd, PCIEM_IOC_CFG_WRITE, 0x40, 1, &v), -EINVAL);
	vend = find_cap(fd, 0x09);
	report(vend != 0, "cfg-find-vendor-cap (%#x)", vend);
	if (vend) {
		v = 0x5a;
		expect("cfg-write-vendor-payload",
		       cfg_access(fd, PCIEM_IOC_CFG_WRITE, vend + 3, 1, &v), 0);
		v = 0;
		cfg_access(fd, PCIEM_IOC_CFG_READ, vend + 3, 1, &v);
		report(v == 0x5a, "cfg-write-vendor-payload-readback (%#x)", v);
		if (pci_name) {
			v = sysfs_cfg_read32(pci_name, vend & ~3u);
			report(((v >> ((vend + 3) % 4 * 8)) & 0xff) == 0x5a,
			       "cfg-write-seen-by-os (%#x)", v);
		}
	}
}

static void check_registered(int fd)
{
	struct pciem_device_info i = info(fd);
	struct pciem_bar_desc b = bar(4, 4096, 0);
	struct pciem_cap_desc c = cap(PCIEM_CAP_PM, 0);
	struct pciem_device_desc d = desc("chk", 1);
	char prefix[16];

	report(i.state == PCIEM_STATE_REGISTERED, "info-registered (state %u)", i.state);
	report(i.domain >= 0x10000, "info-domain (%#x)", i.domain);
	snprintf(prefix, sizeof(prefix), "%04x:00:", i.domain);
	report(!strncmp(i.pci_name, prefix, strlen(prefix)) && i.bus == 0 &&
	       (i.devfn & 7) == 0 && (i.devfn >> 3) >= 1,
	       "info-name (%s devfn %#x)", i.pci_name, i.devfn);
	report(i.bar_len[0] == 4096 && i.bar_len[1] == 0 && i.bar_len[2] == 65536 &&
	       i.bar_len[3] == 0, "info-bar-len");
	report(i.bar_addr[0] && i.bar_addr[0] < (1ull << 32) && !(i.bar_addr[0] & 4095),
	       "info-bar0-addr (%#llx)", (unsigned long long)i.bar_addr[0]);
	report(i.bar_addr[2] >= (1ull << 32) && !(i.bar_addr[2] & 65535),
	       "info-bar2-addr-64bit (%#llx)", (unsigned long long)i.bar_addr[2]);
	report(i.bar_addr[1] == 0 && i.bar_addr[3] == 0, "info-absent-bars-0");
	report(sysfs_has(i.pci_name, NULL), "sysfs-present-after-register");
	report((sysfs_cfg_read32(i.pci_name, 0) & 0xffff) == 0x1234,
	       "sysfs-config-vendor");
	report(!sysfs_has(i.pci_name, "driver"), "no-driver-before-start");

	expect("registered-add-bar", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EBUSY);
	expect("registered-add-cap", ioc(fd, PCIEM_IOC_ADD_CAP, &c), -EBUSY);
	expect("registered-register", ioc(fd, PCIEM_IOC_REGISTER, NULL), -EBUSY);
	expect("registered-create", ioc(fd, PCIEM_IOC_CREATE, &d), -EBUSY);
}

static void check_lifecycle(int fd)
{
	struct pciem_device_info i;
	struct pciem_bar_desc b = bar(4, 4096, 0);
	char name[32];

	expect("start-before-register", ioc(fd, PCIEM_IOC_START, NULL), -EINVAL);
	expect("stop-before-register", ioc(fd, PCIEM_IOC_STOP, NULL), -EINVAL);
	expect("register", ioc(fd, PCIEM_IOC_REGISTER, NULL), 0);
	check_registered(fd);
	i = info(fd);
	snprintf(name, sizeof(name), "%s", i.pci_name);
	check_cfg_access(fd, name);

	expect("start", ioc(fd, PCIEM_IOC_START, NULL), 0);
	expect_state("start-state", fd, PCIEM_STATE_STARTED);
	report(sysfs_has(name, "resource"), "sysfs-resource-after-start");
	expect("start-twice", ioc(fd, PCIEM_IOC_START, NULL), -EBUSY);
	expect("started-register", ioc(fd, PCIEM_IOC_REGISTER, NULL), -EBUSY);
	expect("stop", ioc(fd, PCIEM_IOC_STOP, NULL), 0);
	expect_state("stop-state", fd, PCIEM_STATE_CREATED);
	report(!sysfs_has(name, NULL), "sysfs-gone-after-stop");
	i = info(fd);
	report(i.pci_name[0] == 0 && i.bar_addr[0] == 0, "info-after-stop");
	expect("stop-twice", ioc(fd, PCIEM_IOC_STOP, NULL), -EINVAL);
	expect("add-bar-after-stop-frozen", ioc(fd, PCIEM_IOC_ADD_BAR, &b), -EBUSY);

	expect("register-again", ioc(fd, PCIEM_IOC_REGISTER, NULL), 0);
	i = info(fd);
	report(sysfs_has(i.pci_name, NULL), "sysfs-present-after-register-again");
	expect("start-again", ioc(fd, PCIEM_IOC_START, NULL), 0);
	expect("stop-from-started", ioc(fd, PCIEM_IOC_STOP, NULL), 0);
	expect("register-third", ioc(fd, PCIEM_IOC_REGISTER, NULL), 0);
	expect("stop-from-registered", ioc(fd, PCIEM_IOC_STOP, NULL), 0);
}

/* A REGISTER that fails leaves the device CREATED and nothing on the bus. */
static void check_failed_register(uint32_t domain)
{
	struct pciem_device_desc d = desc("failreg", 0x0002);
	struct pciem_bar_desc b;
	struct pciem_cap_desc c;
	int before = count_domain_devices(domain);
	int fd = open_dev();

	expect("failreg-create", ioc(fd, PCIEM_IOC_CREATE, &d), 0);
	b = bar(0, 4096, 0);
	expect("failreg-bar0", ioc(fd, PCIEM_IOC_ADD_BAR, &b), 0);
	c = cap(PCIEM_CAP_MSIX, 0);
	c.u.msix.vectors = 4;
	c.u.msix.table_bar = 4;	/* not described (yet) */
	c.u.msix.pba_bar = 0;
	c.u.msix.pba_offset = 0x800;
	expect("failreg-msix-absent-bar", ioc(fd, PCIEM_IOC_ADD_CAP, &c), 0);
	expect("failreg-register-fails", ioc(fd, PCIEM_IOC_REGISTER, NULL), -EINVAL);
	expect_state("failreg-state-created", fd, PCIEM_STATE_CREATED);
	report(count_domain_devices(domain) == before, "failreg-nothing-in-sysfs");
	b = bar(4, 4096, 0);
	expect("failreg-add-missing-bar", ioc(fd, PCIEM_IOC_ADD_BAR, &b), 0);
	expect("failreg-register-now", ioc(fd, PCIEM_IOC_REGISTER, NULL), 0);
	report(count_domain_devices(domain) == before + 1, "failreg-now-in-sysfs");
	close(fd);
	report(count_domain_devices(domain) == before, "failreg-close-removes");

	/* A 32-bit BAR bigger than any 32-bit window fails at assignment. */
	fd = open_dev();
	d = desc("nospace", 0x0003);
	expect("nospace-create", ioc(fd, PCIEM_IOC_CREATE, &d), 0);
	b = bar(0, 512u << 20, 0);
	expect("nospace-bar0-512m", ioc(fd, PCIEM_IOC_ADD_BAR, &b), 0);
	expect("nospace-register-fails", ioc(fd, PCIEM_IOC_REGISTER, NULL), -ENOSPC);
	expect_state("nospace-state-created", fd, PCIEM_STATE_CREATED);
	report(count_domain_devices(domain) == before, "nospace-nothing-in-sysfs");
	close(fd);
}

static void check_two_devices(int fd1)
{
	struct pciem_device_info i1, i2;
	struct pciem_device_desc d = desc("second", 0x0004);
	struct pciem_bar_desc b = bar(0, 8192, 0);
	int fd2 = open_dev();

	expect("two-create", ioc(fd2, PCIEM_IOC_CREATE, &d), 0);
	expect("two-bar0", ioc(fd2, PCIEM_IOC_ADD_BAR, &b), 0);
	expect("two-register-first", ioc(fd1, PCIEM_IOC_REGISTER, NULL), 0);
	expect("two-register-second", ioc(fd2, PCIEM_IOC_REGISTER, NULL), 0);
	expect("two-start-second", ioc(fd2, PCIEM_IOC_START, NULL), 0);
	i1 = info(fd1);
	i2 = info(fd2);
	report(strcmp(i1.pci_name, i2.pci_name) && sysfs_has(i1.pci_name, NULL) &&
	       sysfs_has(i2.pci_name, NULL), "two-both-present (%s, %s)",
	       i1.pci_name, i2.pci_name);
	report(i1.bar_addr[0] != i2.bar_addr[0], "two-distinct-bars");
	close(fd2);
	report(!sysfs_has(i2.pci_name, NULL) && sysfs_has(i1.pci_name, NULL),
	       "two-close-removes-only-second");
}

/* A root process without CAP_SYS_ADMIN must be refused. */
static void check_capability(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct data[2];
		int fd;

		memset(data, 0, sizeof(data));
		if (syscall(SYS_capset, &h, data))
			_exit(3);
		fd = open(DEV_PATH, O_RDWR);
		_exit(fd < 0 && errno == EPERM ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	report(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "open-without-cap-sys-admin (status %d)", status);
}

static int hold(const char *name)
{
	struct pciem_device_desc d = desc(name, 0x0005);
	struct pciem_bar_desc b = bar(0, 4096, 0);
	int fd = open_dev();

	if (ioc(fd, PCIEM_IOC_CREATE, &d) || ioc(fd, PCIEM_IOC_ADD_BAR, &b) ||
	    ioc(fd, PCIEM_IOC_REGISTER, NULL) || ioc(fd, PCIEM_IOC_START, NULL)) {
		fprintf(stderr, "hold: %s\n", strerror(errno));
		return 1;
	}
	printf("%s\n", info(fd).pci_name);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	uint32_t domain;
	int fd;

	if (argc == 3 && !strcmp(argv[1], "hold"))
		return hold(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: %s [hold NAME]\n", argv[0]);
		return 2;
	}

	fd = open_dev();
	domain = info(fd).domain;
	check_version(fd);
	check_empty_state(fd);
	check_create(fd);
	check_add_bar(fd);
	check_add_cap(fd);
	check_mmap(fd);
	check_lifecycle(fd);
	check_failed_register(domain);
	check_two_devices(fd);
	check_capability();
	{
		struct pciem_device_info i = info(fd);

		expect("final-start", ioc(fd, PCIEM_IOC_START, NULL), 0);
		close(fd);
		report(!sysfs_has(i.pci_name, NULL), "close-removes-started-device");
	}
	printf("%d failed\n", failures);
	return failures ? 1 : 0;
}
