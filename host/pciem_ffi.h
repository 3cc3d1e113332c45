/* SPDX-License-Identifier: MIT */
/*
 * Every C function the Lua library calls through LuaJIT's FFI. Plain C ABI:
 * int return 0 or -errno, results through out-params, error text per device.
 */
#ifndef PCIEM_FFI_H
#define PCIEM_FFI_H

#include <stdint.h>
#include "../include/uapi/pciem.h"

/*
 * The section between the markers is turned into a string at build time
 * (pciem_ffi_cdef_host()) and handed to ffi.cdef after the uapi section, so
 * it must stay free of macros and of anything LuaJIT's C parser rejects.
 */
/* pciem:ffi-begin */

/* A device as the host sees it: backend state, BAR mappings, last error. */
struct pl_dev;

/* The cdef strings themselves (uapi section, then this section). */
const char *pciem_ffi_cdef_uapi(void);
const char *pciem_ffi_cdef_host(void);

/*
 * pciem_ffi_dev_new - allocate a device bound to a backend, not opened yet.
 * @backend: "kernel" (/dev/pciem), "sim" (in-process bus) or "dry"
 *            (the sim's config space engine only: checks a description)
 * Return: 0, -EINVAL for an unknown backend, -ENOMEM.
 */
int pciem_ffi_dev_new(const char *backend, struct pl_dev **out);
/* Stops the device if needed, unmaps its BARs, closes the backend, frees. */
void pciem_ffi_dev_free(struct pl_dev *dev);
/* The last error of @dev as one line ("" if none). */
const char *pciem_ffi_dev_error(const struct pl_dev *dev);
/* The backend's name, as given to pciem_ffi_dev_new(). */
const char *pciem_ffi_dev_backend(const struct pl_dev *dev);

/* Lifecycle, in this order: open, create, add_bar/add_cap, register, start. */
int pciem_ffi_dev_open(struct pl_dev *dev);
int pciem_ffi_dev_create(struct pl_dev *dev, const struct pciem_device_desc *desc);
int pciem_ffi_dev_add_bar(struct pl_dev *dev, const struct pciem_bar_desc *bar);
/* raw.data of VENDOR and EXT_RAW caps points at raw.length payload bytes. */
int pciem_ffi_dev_add_cap(struct pl_dev *dev, const struct pciem_cap_desc *cap);
int pciem_ffi_dev_register(struct pl_dev *dev);
int pciem_ffi_dev_start(struct pl_dev *dev);
/*
 * pciem_ffi_dev_start_async - START on a helper thread, so the caller can run
 * the event loop meanwhile: a driver that binds during START (its probe runs
 * inside the ioctl) may make sync accesses the loop must answer.
 * pciem_ffi_dev_start_done() then says 0 (still starting) or 1 with the
 * start's result in *rc (the device is started when *rc is 0).
 */
int pciem_ffi_dev_start_async(struct pl_dev *dev);
int pciem_ffi_dev_start_done(struct pl_dev *dev, int *rc);
/* Removes the device from the bus; it may be registered again. */
int pciem_ffi_dev_stop(struct pl_dev *dev);
int pciem_ffi_dev_info(struct pl_dev *dev, struct pciem_device_info *info);

/*
 * pciem_ffi_bar_map - map the shadow of BAR @index into this process.
 * The mapping lives until pciem_ffi_dev_free(); mapping twice returns the
 * same pointer. @len receives the BAR length.
 */
int pciem_ffi_bar_map(struct pl_dev *dev, uint32_t index, uint8_t **ptr, uint64_t *len);

/* Device side of config space: reads what the OS reads, writes as the device. */
int pciem_ffi_cfg_read(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t *value);
int pciem_ffi_cfg_write(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t value);
/* OS side (sim backend only, -EOPNOTSUPP otherwise): write masks, RW1C. */
int pciem_ffi_os_cfg_read(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t *value);
int pciem_ffi_os_cfg_write(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t value);

/* ---- Policies, interrupts, DMA, counters (state: created or later) ---- */

/*
 * pciem_ffi_set_policy - PCIEM_POLICY_* for [offset, offset + length) of BAR
 * @bar (4-byte aligned, inside the BAR). Allowed before and after start.
 */
int pciem_ffi_set_policy(struct pl_dev *dev, uint32_t bar, uint32_t policy,
			 uint64_t offset, uint64_t length);
/* Deadline of a sync access, 1..10000000 us. */
int pciem_ffi_set_sync_timeout(struct pl_dev *dev, uint32_t timeout_us);
/*
 * pciem_ffi_irq - PCIEM_IRQ_RAISE @vector, or PCIEM_IRQ_INTX_ASSERT/DEASSERT.
 * Return: 0 delivered, 1 left pending (masked), -ENOTCONN (the driver has not
 * enabled that kind of interrupt), -EINVAL (no such vector), other -errno.
 */
int pciem_ffi_irq(struct pl_dev *dev, uint32_t op, uint32_t vector);
/* Bind eventfd @fd to @vector (flags 0) or unbind it (PCIEM_IRQFD_DEASSIGN). */
int pciem_ffi_irqfd(struct pl_dev *dev, int fd, uint32_t vector, uint32_t flags);
/*
 * pciem_ffi_dma - PCIEM_DMA_FROM_HOST / _TO_HOST over a scatter-gather list
 * (1..PCIEM_DMA_MAX_SEGS segments, user_addr are pointers in this process).
 * *done: bytes copied, also on error. -EPERM bus mastering off, -ENXIO not RAM.
 */
int pciem_ffi_dma(struct pl_dev *dev, uint32_t dir, const struct pciem_dma_seg *segs,
		  uint32_t nsegs, uint64_t *done);
/* One contiguous transfer of @len bytes between @bus_addr and @buf. */
int pciem_ffi_dma_from_host(struct pl_dev *dev, uint64_t bus_addr, void *buf, uint64_t len,
			    uint64_t *done);
int pciem_ffi_dma_to_host(struct pl_dev *dev, uint64_t bus_addr, const void *buf, uint64_t len,
			  uint64_t *done);
int pciem_ffi_counters(struct pl_dev *dev, struct pciem_counters *out);

/* Eventfds for irqfd: a new one (fd or -errno), add @n to it, close it. */
int pciem_ffi_eventfd_new(void);
int pciem_ffi_eventfd_add(int fd, uint64_t n);
void pciem_ffi_fd_close(int fd);

/* ---- The event loop (host/pl_loop.c) ---- */

/* One device's event loop: ring, eventfd, handler table, batch buffer. */
struct pl_loop;
/* A native handler library loaded with pciem_ffi_native_load(). */
struct pl_native;

enum pl_loop_abi {
	PL_ON_READ = 0,		/* handlers for PCIEM_EVENT_MMIO_READ */
	PL_ON_WRITE = 1,	/* handlers for PCIEM_EVENT_MMIO_WRITE */
	PL_LOOP_CFG_BAR = 6,	/* "BAR" index of config writes (PL_ON_WRITE only) */
	PL_LOOP_BATCH = 256,	/* events handed to Lua per poll, at most */
	PL_LOOP_SIGNAL = -4,	/* poll return: a termination signal (-EINTR) */
	PL_LOOP_IDLE = -5,	/* poll return: the ring drained after activity */
	PL_LOOP_FDS = -6,	/* poll return: a watched fd is ready */
	PL_LOOP_MAX_FDS = 16,	/* fds a loop watches at most */
	PL_EV_NATIVE = 1,	/* pl_lua_event.flags: the range has a native handler */
};

/*
 * An event for a Lua handler, as the poll leaves it in the batch buffer.
 * For a read (or a sync write) Lua may set `answer` before
 * pciem_ffi_loop_done(); it starts as the shadow's value at the offset.
 */
struct pl_lua_event {
	struct pciem_event ev;
	uint32_t handler;	/* the Lua handler id given to pciem_ffi_loop_on() */
	uint32_t flags;		/* PL_EV_* */
	uint64_t answer;
};

struct pl_loop_stats {
	uint64_t events;	/* taken from the ring */
	uint64_t native_events;	/* served by a native handler */
	uint64_t lua_events;	/* handed to Lua */
	uint64_t default_events;	/* no handler: reads answered from the shadow */
	uint64_t answers;	/* answer slots written */
	uint64_t polls;		/* pciem_ffi_loop_poll() calls */
	uint64_t sleeps;	/* times the loop blocked on its eventfd */
	uint64_t native_errors;	/* native handlers that returned < 0 */
	int32_t signo;		/* the signal that ended the last poll, 0 if none */
	uint32_t spin_ns;	/* current busy-poll budget */
};

/*
 * pciem_ffi_loop_new - map the device's event ring, give the backend an
 * eventfd, and allocate the handler table and the batch buffer. The device
 * must be created; its BARs mapped (pciem_ffi_bar_map) before native handlers
 * want them. One loop per device.
 */
int pciem_ffi_loop_new(struct pl_dev *dev, struct pl_loop **out);
/*
 * pciem_ffi_loop_new_private - a loop on a private in-memory ring of @entries
 * events (power of two, 64..65536) that only pciem_ffi_loop_inject() fills:
 * dispatch tests and benchmarks without a producer. @dev gives the BARs.
 */
int pciem_ffi_loop_new_private(struct pl_dev *dev, uint32_t entries, struct pl_loop **out);
/* Detaches the eventfd, unloads native libraries, unmaps the ring. */
void pciem_ffi_loop_free(struct pl_loop *lp);
/*
 * pciem_ffi_loop_on - route accesses of @access (PL_ON_*) to BAR @bar whose
 * offset is in [start, end) to a Lua handler (@lua_id > 0) or to native
 * handler @fn of library @lib, or both: the Lua handler then gets the events
 * the native one defers (PCIEM_NATIVE_DEFER). Both unset removes the handler
 * of exactly that range. An existing handler of exactly the same range is
 * replaced; a partial overlap is refused (-EEXIST).
 */
int pciem_ffi_loop_on(struct pl_loop *lp, uint32_t bar, uint32_t access, uint64_t start,
		      uint64_t end, uint32_t lua_id, struct pl_native *lib, void *fn);
/* The batch buffer (PL_LOOP_BATCH entries), valid for the loop's lifetime. */
struct pl_lua_event *pciem_ffi_loop_batch(struct pl_loop *lp);
/*
 * pciem_ffi_loop_poll - take events from the ring in order: native handlers
 * and events without a handler are served here; events for Lua handlers are
 * copied to the batch buffer. A batch stops where a non-Lua event follows Lua
 * ones, so the order of effects is the ring's order. Waits up to @timeout_ms
 * (0: do not wait, -1: forever): busy-polls briefly, then sleeps on the
 * eventfd and the signalfd.
 * Return: n > 0 events in the batch (answer them with pciem_ffi_loop_done),
 * 0 when the wait ended with no Lua event, PL_LOOP_SIGNAL on SIGINT/SIGTERM,
 * PL_LOOP_IDLE once the ring drained after activity (only when Lua asked for
 * it), PL_LOOP_FDS when a watched fd is ready (pciem_ffi_loop_fds_ready),
 * other -errno. Native libraries' idle hooks run where PL_LOOP_IDLE would.
 */
int pciem_ffi_loop_poll(struct pl_loop *lp, int timeout_ms);
/* Answer the reads and sync writes among batch[0..n) (value, then seq, release). */
void pciem_ffi_loop_done(struct pl_loop *lp, uint32_t n);
const struct pl_loop_stats *pciem_ffi_loop_stats(const struct pl_loop *lp);
/* Busy-poll budget after activity, in ns (0: never spin). */
void pciem_ffi_loop_set_spin(struct pl_loop *lp, uint32_t max_ns);
/* Whether poll returns PL_LOOP_IDLE when the ring drains after activity. */
void pciem_ffi_loop_set_idle(struct pl_loop *lp, int on);
/*
 * Intercept mode: every event goes to the batch (handler 0 where no Lua
 * handler is set, PL_EV_NATIVE where a native one is), so Lua sees all
 * accesses; pciem_ffi_loop_serve() then runs the C side of one of them.
 */
void pciem_ffi_loop_set_intercept(struct pl_loop *lp, int on);
/*
 * Serve batch entry @i in C (native handler, else the default): its answer
 * is updated. Returns 0, 1 when the native handler deferred it to Lua, or
 * -errno (the native handler failed: the answer is all-ones).
 */
int pciem_ffi_loop_serve(struct pl_loop *lp, uint32_t i);
/* Batch entry @i, a read: its answer becomes the shadow's value now. */
void pciem_ffi_loop_reshadow(struct pl_loop *lp, uint32_t i);
/*
 * Watch @fd for input (POLLIN/POLLHUP) as long as the loop runs: returns its
 * slot (0..PL_LOOP_MAX_FDS-1) or -errno. Unwatch by slot.
 */
int pciem_ffi_loop_watch_fd(struct pl_loop *lp, int fd);
void pciem_ffi_loop_unwatch_fd(struct pl_loop *lp, int slot);
/* Slots found ready by the last PL_LOOP_FDS (bit per slot); clears them. */
uint32_t pciem_ffi_loop_fds_ready(struct pl_loop *lp);
/*
 * Wait up to @timeout_ms (-1: forever) for a watched fd only, taking no ring
 * events: the ready mask (> 0), 0 on timeout, PL_LOOP_SIGNAL, or -errno.
 */
int pciem_ffi_loop_serve_fds(struct pl_loop *lp, int timeout_ms);
/*
 * pciem_ffi_loop_inject - publish an event on a private ring as the kernel
 * would (seq, answer slot 0 for reads and F_SYNC). Return: its seq, or -errno
 * (-ENOSPC ring full, -EOPNOTSUPP not a private ring).
 */
int64_t pciem_ffi_loop_inject(struct pl_loop *lp, uint32_t kind, uint32_t bar, uint32_t offset,
			      uint32_t width, uint64_t value, uint32_t flags);
/* The answer slot @slot of the loop's ring: seq and value last written. */
int pciem_ffi_loop_answer(const struct pl_loop *lp, uint32_t slot, uint64_t *seq, uint64_t *value);

/*
 * pciem_ffi_native_load - dlopen a native handler library (host/pciem_native.h),
 * call its pciem_native_init(ctx, @args). Unloaded by pciem_ffi_loop_free().
 */
int pciem_ffi_native_load(struct pl_loop *lp, const char *path, const char *args,
			  struct pl_native **out);
/* The handler @name exported by @lib (-ENOENT if it has none). */
int pciem_ffi_native_handler(struct pl_native *lib, const char *name, void **fn);
/* Any symbol @name of @lib (-ENOENT if it has none), and its context. */
int pciem_ffi_native_symbol(struct pl_native *lib, const char *name, void **sym);
void *pciem_ffi_native_context(struct pl_native *lib);

/*
 * pciem_ffi_host_wait - wait for a termination signal (SIGINT, SIGTERM) for
 * at most @timeout_ms (-1: forever). Return: the signal number, 0 on timeout,
 * -errno; -ENOTSUP when the process did not set up signal handling (library).
 */
int pciem_ffi_host_wait(int timeout_ms);
/* One line on stderr, prefixed "pciem-lua: "; level 0 error, 1 info, 2 debug. */
void pciem_ffi_log(int level, const char *msg);
/* strerror() for a positive errno value. */
const char *pciem_ffi_strerror(int err);

/* pciem:ffi-end */

#endif /* PCIEM_FFI_H */
