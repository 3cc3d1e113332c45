/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the guest-side C test programs: PASS/FAIL lines, the
 * ioctl wrapper, sysfs/debugfs file access, and a device on /dev/pciem bound
 * to pciem_testdrv. Header-only: src.mk builds each *.c on its own.
 */
#ifndef PCIEM_TESTHOST_H
#define PCIEM_TESTHOST_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../../include/uapi/pciem.h"

#define DEV_PATH "/dev/pciem"
#define DRIVER "pciem_testdrv"

/* FAIL lines so far: main() exits 1 when there is any. */
static int failures;

/* ---- results ---- */

static inline void vreport(const char *verdict, const char *fmt, va_list ap)
{
	printf("%s ", verdict);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	if (!strcmp(verdict, "FAIL"))
		failures++;
}

/* One line "<verdict> <name...>"; verdict is PASS, FAIL or SKIP. */
static inline void report_as(const char *verdict, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(verdict, fmt, ap);
	va_end(ap);
}

static inline void report(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ok ? "PASS" : "FAIL", fmt, ap);
	va_end(ap);
}

/* A check cannot even be set up: one FAIL line, exit 1. */
static inline __attribute__((noreturn)) void die(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL setup: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(1);
}

/* 0 on success, else -errno. */
static inline int ioc(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

/* ---- sysfs and debugfs ---- */

/* Writes the formatted text in one write(); 0 or -errno. */
static inline int write_file(const char *path, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int fd, n, ret = 0;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

/* Up to size - 1 bytes of path, NUL-terminated; 0 or -errno. */
static inline int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* ---- a device bound to pciem_testdrv ---- */

static int pciem_fd;
static struct pciem_device_info dev_info;
/* /sys/kernel/debug/pciem_testdrv/<pci name>/<area> once the driver probed */
static char dbg_dir[256];

/* Writes the formatted text to dbg_dir/file; 0 or -errno. */
static inline int dbg_write(const char *file, const char *fmt, ...)
{
	char path[320], buf[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dbg_dir, file);
	return write_file(path, "%s", buf);
}

/* pciem_fd on /dev/pciem, or die. */
static inline void open_pciem(void)
{
	pciem_fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	if (pciem_fd < 0)
		die("open %s: %s", DEV_PATH, strerror(errno));
}

/*
 * After REGISTER: dev_info from INFO, and the driver picked by
 * driver_override whatever its ID table says, before drivers may probe.
 */
static inline void override_driver(void)
{
	char path[256];
	int ret;

	dev_info.size = sizeof(dev_info);
	if ((ret = ioc(pciem_fd, PCIEM_IOC_INFO, &dev_info)))
		die("info: %s", strerror(-ret));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 dev_info.pci_name);
	if ((ret = write_file(path, DRIVER)))
		die("%s: %s", path, strerror(-ret));
}

/*
 * After START: wait (up to 10 s, asking drivers_probe again) for the
 * driver's debugfs directory of this device, area being "irq", "dma", ...
 */
static inline void wait_driver(const char *area)
{
	const struct timespec tick = { 0, 100000000L };
	struct stat st;
	int i;

	snprintf(dbg_dir, sizeof(dbg_dir), "/sys/kernel/debug/%s/%s/%s", DRIVER,
		 dev_info.pci_name, area);
	for (i = 0; i < 100 && stat(dbg_dir, &st); i++) {
		write_file("/sys/bus/pci/drivers_probe", "%s", dev_info.pci_name);
		nanosleep(&tick, NULL);
	}
	if (stat(dbg_dir, &st))
		die("%s did not appear: is %s loaded and bound to %s?", dbg_dir, DRIVER,
		    dev_info.pci_name);
}

#endif /* PCIEM_TESTHOST_H */
