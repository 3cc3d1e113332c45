// SPDX-License-Identifier: MIT
/*
 * SIGINT and SIGTERM arrive through a signalfd: the device's main loop waits
 * on it (pciem_ffi_host_wait) and removes the device cleanly, never from a
 * signal handler.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "pciem_ffi.h"
#include "pl_signal.h"

static int signal_fd = -1;

int pl_signal_setup(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
	return signal_fd < 0 ? -errno : 0;
}

int pl_signal_fd(void)
{
	return signal_fd;
}

int pciem_ffi_host_wait(int timeout_ms)
{
	struct pollfd pfd = { .events = POLLIN };
	struct signalfd_siginfo si;
	int n;

	if (signal_fd < 0)
		return -ENOTSUP;
	pfd.fd = signal_fd;
	for (;;) {
		n = poll(&pfd, 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (read(signal_fd, &si, sizeof(si)) != sizeof(si))
			return -EIO;
		return (int)si.ssi_signo;
	}
}
