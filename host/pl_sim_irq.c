// SPDX-License-Identifier: MIT
/*
 * Sim backend, interrupts: MSI and MSI-X by the decisions pciem.ko makes
 * (kmod/pciem_vec.c, shared), level INTx, irqfds served in the dispatch step,
 * and the log of what the OS's interrupt controller received.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include "../kmod/pciem_vec.h"
#include "pl_log.h"
#include "pl_sim.h"
#include "pl_sim_os.h"

static void log_irq(struct pl_sim *s, uint32_t kind, uint32_t vector, uint64_t addr,
		    uint32_t data)
{
	struct sim_irq_entry *e;

	if (s->irq_count == s->irq_cap) {
		uint32_t cap = s->irq_cap ? s->irq_cap * 2 : 256;

		e = realloc(s->irq_log, cap * sizeof(*e));
		if (!e) {
			pl_log(PL_LOG_ERR, "sim: out of memory for the interrupt log");
			return;
		}
		s->irq_log = e;
		s->irq_cap = cap;
	}
	e = &s->irq_log[s->irq_count++];
	*e = (struct sim_irq_entry){ .seq = ++s->irq_seq, .kind = kind, .vector = vector,
				     .addr = addr, .data = data };
}

static void deliver(struct pl_sim *s, const struct pciem_vec_msg *m)
{
	s->counters.irqs_delivered++;
	log_irq(s, m->msix ? PCIEM_SIM_IRQ_MSIX : PCIEM_SIM_IRQ_MSI, m->vector, m->addr, m->data);
}

static void bars_of(struct pl_sim *s, void **bars)
{
	memcpy(bars, s->shadow, sizeof(s->shadow));
}

/* After a mask or enable change: deliver what became deliverable, in vector order. */
static void deliver_unmasked(struct pl_sim *s)
{
	void *bars[PCIEM_NUM_BARS];
	struct pciem_vec_msg m;
	uint32_t cursor = 0;

	bars_of(s, bars);
	while (pciem_vec_next_unmasked(&s->cfg, bars, &cursor, &m))
		deliver(s, &m);
}

/* One INTx delivery: the handler of a level interrupt runs. */
static void intx_deliver(struct pl_sim *s)
{
	s->intx_seen = true;
	s->counters.irqs_delivered++;
	log_irq(s, PCIEM_SIM_IRQ_INTX, 1, 0, 0);
}

/*
 * Config space changed (INTx Disable, MSI enables, Status): a line that came
 * up is delivered, as the module does on unmask; one that went down is logged.
 */
static void intx_update(struct pl_sim *s)
{
	bool line = pciem_vec_intx_line(&s->cfg);

	if (line == s->intx_seen)
		return;
	if (line) {
		intx_deliver(s);
		return;
	}
	s->intx_seen = false;
	log_irq(s, PCIEM_SIM_IRQ_INTX, 0, 0, 0);
}

int pl_sim_irq(struct pl_dev *dev, uint32_t op, uint32_t vector)
{
	struct pl_sim *s = pl_sim_of(dev);
	void *bars[PCIEM_NUM_BARS];
	struct pciem_vec_msg m;
	int rc;

	if (!s->slot)
		return pl_dev_error(dev, -ENOTCONN, "irq: the device is not on the bus");
	switch (op) {
	case PCIEM_IRQ_RAISE:
		bars_of(s, bars);
		rc = pciem_vec_raise(&s->cfg, bars, vector, &m);
		if (rc == PCIEM_VEC_DELIVER) {
			deliver(s, &m);
			return 0;
		}
		if (rc == PCIEM_VEC_PENDING) {
			s->counters.irqs_pended++;
			return 1;
		}
		if (rc == -ENOTCONN)
			return pl_dev_error(dev, rc, "irq: the driver has enabled neither MSI nor MSI-X");
		return pl_dev_error(dev, rc, "irq: vector %u is beyond the %s vectors the driver enabled",
				    vector, pciem_vec_msix_enabled(&s->cfg) ? "MSI-X" : "MSI");
	case PCIEM_IRQ_INTX_ASSERT:
	case PCIEM_IRQ_INTX_DEASSERT:
		if (vector)
			return pl_dev_error(dev, -EINVAL, "irq: vector must be 0 for intx, got %u",
					    vector);
		rc = pciem_vec_intx_set(&s->cfg, op == PCIEM_IRQ_INTX_ASSERT);
		if (rc)
			return pl_dev_error(dev, -ENOTCONN, "irq: the device has no interrupt pin");
		s->intx_asserted = op == PCIEM_IRQ_INTX_ASSERT;
		if (!s->intx_asserted) {
			intx_update(s);
			return 0;
		}
		/* every assert the OS can see runs the handler, as in the module */
		if (pciem_vec_intx_line(&s->cfg)) {
			intx_deliver(s);
			return 0;
		}
		s->counters.irqs_pended++;
		return 1;
	default:
		return pl_dev_error(dev, -EINVAL, "irq: op %u is not RAISE, INTX_ASSERT or INTX_DEASSERT",
				    op);
	}
}

void pl_sim_irq_cfg_written(struct pl_dev *dev, uint32_t offset, uint32_t width)
{
	struct pl_sim *s = pl_sim_of(dev);

	(void)offset;
	(void)width;
	deliver_unmasked(s);
	intx_update(s);
}

void pl_sim_irq_msix_written(struct pl_dev *dev, uint32_t bar, uint64_t offset, uint32_t width)
{
	(void)bar;
	(void)offset;
	(void)width;
	deliver_unmasked(pl_sim_of(dev));
}

bool pl_sim_msix_owned(struct pl_sim *s, uint32_t bar, uint64_t offset, uint64_t len)
{
	struct pciem_vec_msix_layout l;

	if (pciem_vec_msix_layout(&s->cfg, &l))
		return false;
	return (bar == l.table_bar && offset < (uint64_t)l.table_offset + l.table_len &&
		l.table_offset < offset + len) ||
	       (bar == l.pba_bar && offset < (uint64_t)l.pba_offset + l.pba_len &&
		l.pba_offset < offset + len);
}

/* ---- irqfd -------------------------------------------------------------- */

int64_t pl_sim_eventfd_id(int fd)
{
	char path[64], line[128];
	int64_t id = -1;
	ssize_t n;
	FILE *f;

	if (fd < 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, line, sizeof(line) - 1);
	if (n < 0)
		return -EBADF;
	line[n] = 0;
	if (strcmp(line, "anon_inode:[eventfd]"))
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "eventfd-id: %" SCNd64, &id) == 1)
			break;
	if (f)
		fclose(f);
	/* kernels without eventfd-id: the descriptor number stands in */
	return id >= 0 ? id : ((int64_t)1 << 40) + fd;
}

int pl_sim_irqfd(struct pl_dev *dev, int fd, uint32_t vector, uint32_t flags)
{
	struct pl_sim *s = pl_sim_of(dev);
	int64_t id;
	uint32_t i;
	int copy;

	if (flags & ~(uint32_t)PCIEM_IRQFD_DEASSIGN)
		return pl_dev_error(dev, -EINVAL, "irqfd: unknown flags 0x%x", flags);
	if (vector >= PCIEM_MSIX_MAX_VECTORS)
		return pl_dev_error(dev, -EINVAL, "irqfd: vector %u is out of range 0..%u", vector,
				    PCIEM_MSIX_MAX_VECTORS - 1);
	id = pl_sim_eventfd_id(fd);
	if (id == -EBADF)
		return pl_dev_error(dev, -EBADF, "irqfd: fd %d is not open", fd);
	if (id < 0)
		return pl_dev_error(dev, -EINVAL, "irqfd: fd %d is not an eventfd", fd);
	/* as the module: one binding per (eventfd, vector), whatever fd names it */
	for (i = 0; i < s->nirqfds; i++)
		if (s->irqfds[i].id == id && s->irqfds[i].vector == vector)
			break;
	if (flags & PCIEM_IRQFD_DEASSIGN) {
		if (i == s->nirqfds)
			return pl_dev_error(dev, -ENOENT, "irqfd: fd %d is not bound to vector %u",
					    fd, vector);
		close(s->irqfds[i].fd);
		s->nirqfds--;
		memmove(&s->irqfds[i], &s->irqfds[i + 1], (s->nirqfds - i) * sizeof(s->irqfds[0]));
		return 0;
	}
	if (i < s->nirqfds)
		return pl_dev_error(dev, -EBUSY, "irqfd: fd %d is already bound to vector %u",
				    fd, vector);
	if (s->nirqfds == SIM_MAX_IRQFDS)
		return pl_dev_error(dev, -ENOSPC, "irqfd: the sim binds at most %d eventfds",
				    SIM_MAX_IRQFDS);
	copy = dup(fd);
	if (copy < 0)
		return pl_dev_error(dev, -errno, "irqfd: fd %d: %s", fd, strerror(errno));
	s->irqfds[s->nirqfds++] = (struct sim_irqfd){ .fd = copy, .id = id, .vector = vector };
	return 0;
}

/*
 * Each write to a bound eventfd raises its vector once (RAISE semantics).
 * Newest binding first: in the module the latest wait-queue entry sees the
 * signal first and takes the count, so an eventfd bound to two vectors
 * raises the one bound last.
 */
void pl_sim_irq_step(struct pl_dev *dev)
{
	struct pl_sim *s = pl_sim_of(dev);
	uint32_t i;

	for (i = s ? s->nirqfds : 0; i-- > 0; ) {
		struct pollfd pfd = { .fd = s->irqfds[i].fd, .events = POLLIN };
		uint64_t count;

		if (poll(&pfd, 1, 0) != 1 || read(pfd.fd, &count, sizeof(count)) != sizeof(count))
			continue;
		while (count--)
			pl_sim_irq(dev, PCIEM_IRQ_RAISE, s->irqfds[i].vector);
	}
}

void pl_sim_irq_reset(struct pl_sim *s)
{
	void *bars[PCIEM_NUM_BARS];

	bars_of(s, bars);
	pciem_vec_reset(&s->cfg, bars);
	s->intx_asserted = false;
	s->intx_seen = false;
}

void pl_sim_irq_destroy(struct pl_sim *s)
{
	uint32_t i;

	for (i = 0; i < s->nirqfds; i++)
		close(s->irqfds[i].fd);
	s->nirqfds = 0;
	free(s->irq_log);
	s->irq_log = NULL;
	s->irq_count = s->irq_cap = 0;
}

/* ---- the OS side's view ------------------------------------------------- */

uint32_t pciem_sim_irq_log(struct pl_dev *dev, uint32_t from, struct pciem_sim_irq *out,
			   uint32_t max)
{
	struct pl_sim *s = pl_sim_of(dev);
	uint32_t n, i;

	if (!s || from >= s->irq_count)
		return 0;
	n = s->irq_count - from < max ? s->irq_count - from : max;
	for (i = 0; i < n; i++) {
		const struct sim_irq_entry *e = &s->irq_log[from + i];

		out[i] = (struct pciem_sim_irq){ .seq = e->seq, .kind = e->kind,
						 .vector = e->vector, .addr = e->addr,
						 .data = e->data };
	}
	return n;
}

uint32_t pciem_sim_irq_log_count(struct pl_dev *dev)
{
	struct pl_sim *s = pl_sim_of(dev);

	return s ? s->irq_count : 0;
}

void pciem_sim_irq_log_clear(struct pl_dev *dev)
{
	struct pl_sim *s = pl_sim_of(dev);

	if (s)
		s->irq_count = 0;
}

int pciem_sim_intx_level(struct pl_dev *dev)
{
	struct pl_sim *s = pl_sim_of(dev);

	return s && s->intx_seen;
}
