// SPDX-License-Identifier: MIT
/*
 * How the event loop waits: busy-polling the ring's tail after activity,
 * sleeping on the eventfd with the signalfd, and the fds Lua watches (control
 * sockets, a terminal) so they are served while the device runs or pauses.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "pciem_ffi.h"
#include "pl_loop.h"
#include "pl_signal.h"

/* ---- watched fds ---- */

int pciem_ffi_loop_watch_fd(struct pl_loop *lp, int fd)
{
	uint32_t i;

	if (fd < 0)
		return pl_dev_error(lp->dev, -EBADF, "watch_fd: %d is not a file descriptor", fd);
	for (i = 0; i < PL_LOOP_MAX_FDS; i++) {
		if (lp->fds[i] < 0) {
			lp->fds[i] = fd;
			if (i >= lp->nfds)
				lp->nfds = i + 1;
			return (int)i;
		}
	}
	return pl_dev_error(lp->dev, -EMFILE, "watch_fd: the loop watches %d fds already",
			    PL_LOOP_MAX_FDS);
}

void pciem_ffi_loop_unwatch_fd(struct pl_loop *lp, int slot)
{
	if (slot < 0 || slot >= PL_LOOP_MAX_FDS)
		return;
	lp->fds[slot] = -1;
	lp->fds_ready &= ~(1u << slot);
	while (lp->nfds && lp->fds[lp->nfds - 1] < 0)
		lp->nfds--;
}

uint32_t pciem_ffi_loop_fds_ready(struct pl_loop *lp)
{
	uint32_t ready = lp->fds_ready;

	lp->fds_ready = 0;
	return ready;
}

/* Put the watched fds in @pfd (slot order); returns how many. */
static uint32_t fill_fds(const struct pl_loop *lp, struct pollfd *pfd, uint8_t *slot)
{
	uint32_t i, n = 0;

	for (i = 0; i < lp->nfds; i++) {
		if (lp->fds[i] < 0)
			continue;
		pfd[n].fd = lp->fds[i];
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		slot[n++] = (uint8_t)i;
	}
	return n;
}

static void note_ready(struct pl_loop *lp, const struct pollfd *pfd, const uint8_t *slot,
		       uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			lp->fds_ready |= 1u << slot[i];
}

/* Non-blocking check of the watched fds while busy: true when one is ready. */
bool pl_wait_fds_check(struct pl_loop *lp)
{
	struct pollfd pfd[PL_LOOP_MAX_FDS];
	uint8_t slot[PL_LOOP_MAX_FDS];
	uint32_t n;

	if (!lp->nfds)
		return false;
	n = fill_fds(lp, pfd, slot);
	if (n && poll(pfd, n, 0) > 0)
		note_ready(lp, pfd, slot, n);
	return lp->fds_ready != 0;
}

/* A termination signal pending on the signalfd? 0, or the signal number. */
int pl_wait_signal(int sfd, int timeout_ms)
{
	struct pollfd pfd = { .fd = sfd, .events = POLLIN };
	struct signalfd_siginfo si;

	if (sfd < 0 || poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

/* Busy-poll the tail for up to @budget_ns; true when events arrived. */
bool pl_wait_spin(struct pl_loop *lp, uint64_t budget_ns)
{
	uint64_t until = pl_now_ns() + budget_ns;
	uint32_t i = 0;

	while (load_tail(lp) == lp->ctrl->head) {
		__builtin_ia32_pause();
		if (++i % 64 == 0 && pl_now_ns() >= until)
			return false;
	}
	return true;
}

/*
 * Block on the eventfd (and the signalfd) after telling the producer so.
 * Returns 1 when events may be there, 0 on timeout, a signal number (> 1)
 * through *signo, or -errno.
 */
int pl_wait_sleep(struct pl_loop *lp, int timeout_ms, int *signo)
{
	struct pciem_ring_ctrl *c = lp->ctrl;
	struct pollfd pfd[2 + PL_LOOP_MAX_FDS] = {
		{ .fd = lp->efd, .events = POLLIN },
		{ .fd = pl_signal_fd(), .events = POLLIN },
	};
	uint8_t slot[PL_LOOP_MAX_FDS];
	uint32_t nx = fill_fds(lp, pfd + 2, slot);
	uint64_t count;
	int n;

	__atomic_store_n(&c->host_sleeping, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (load_tail(lp) != c->head) {
		__atomic_store_n(&c->host_sleeping, 0, __ATOMIC_RELAXED);
		return 1;
	}
	lp->stats.sleeps++;
	do
		n = poll(pfd, 2 + nx, timeout_ms);
	while (n < 0 && errno == EINTR);
	__atomic_store_n(&c->host_sleeping, 0, __ATOMIC_RELAXED);
	if (n < 0)
		return pl_dev_error(lp->dev, -errno, "event loop: poll: %s", strerror(errno));
	if (pfd[0].revents & POLLIN) {
		if (read(lp->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
			return pl_dev_error(lp->dev, -errno, "event loop: eventfd: %s",
					    strerror(errno));
	}
	if (pfd[1].revents & POLLIN) {
		*signo = pl_wait_signal(pfd[1].fd, 0);
		if (*signo)
			return 0;
	}
	note_ready(lp, pfd + 2, slot, nx);
	return load_tail(lp) != c->head ? 1 : 0;
}

int pciem_ffi_loop_serve_fds(struct pl_loop *lp, int timeout_ms)
{
	struct pollfd pfd[1 + PL_LOOP_MAX_FDS] = {
		{ .fd = pl_signal_fd(), .events = POLLIN },
	};
	uint8_t slot[PL_LOOP_MAX_FDS];
	uint32_t nx = fill_fds(lp, pfd + 1, slot);
	int n, signo;

	do
		n = poll(pfd, 1 + nx, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return pl_dev_error(lp->dev, -errno, "serve_fds: poll: %s", strerror(errno));
	if (pfd[0].revents & POLLIN) {
		signo = pl_wait_signal(pfd[0].fd, 0);
		if (signo) {
			lp->stats.signo = signo;
			return PL_LOOP_SIGNAL;
		}
	}
	note_ready(lp, pfd + 1, slot, nx);
	return (int)pciem_ffi_loop_fds_ready(lp);
}
