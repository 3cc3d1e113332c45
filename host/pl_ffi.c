// SPDX-License-Identifier: MIT
/*
 * The pciem_ffi_* entry points: lifecycle order checks, BAR mapping
 * bookkeeping and error text, then a call into the device's backend.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pl_backend.h"
#include "pl_log.h"

static const char *const state_names[] = {
	[PL_DEV_NEW] = "new",
	[PL_DEV_OPEN] = "open",
	[PL_DEV_CREATED] = "created",
	[PL_DEV_REGISTERED] = "registered",
	[PL_DEV_STARTED] = "started",
};

int pl_dev_error(struct pl_dev *dev, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dev->err, sizeof(dev->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* Lifecycle calls must come in order; say which state we were in when not. */
static int want_state(struct pl_dev *dev, enum pl_dev_state want, const char *what)
{
	if (dev->state == want)
		return 0;
	return pl_dev_error(dev, -EINVAL, "%s: device is %s, must be %s", what,
			    state_names[dev->state], state_names[want]);
}

static int check_access(struct pl_dev *dev, uint32_t off, uint32_t width, const char *what)
{
	if (dev->state < PL_DEV_CREATED)
		return pl_dev_error(dev, -EINVAL, "%s: device not created yet", what);
	if (width != 1 && width != 2 && width != 4)
		return pl_dev_error(dev, -EINVAL, "%s: width %u is not 1, 2 or 4", what, width);
	if (off >= PCIEM_CFG_SIZE || off % width)
		return pl_dev_error(dev, -EINVAL, "%s: offset 0x%x is out of range or not aligned to %u",
				    what, off, width);
	return 0;
}

int pciem_ffi_dev_new(const char *backend, struct pl_dev **out)
{
	const struct pl_backend_ops *ops;
	struct pl_dev *dev;

	*out = NULL;
	if (!backend)
		return -EINVAL;
	if (!strcmp(backend, pl_kernel_ops.name))
		ops = &pl_kernel_ops;
	else if (!strcmp(backend, pl_sim_ops.name))
		ops = &pl_sim_ops;
	else if (!strcmp(backend, pl_dry_ops.name))
		ops = &pl_dry_ops;
	else
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->ops = ops;
	dev->state = PL_DEV_NEW;
	*out = dev;
	return 0;
}

void pciem_ffi_dev_free(struct pl_dev *dev)
{
	uint32_t i;

	if (!dev)
		return;
	if (dev->start_thread) {
		int rc;

		while (!pciem_ffi_dev_start_done(dev, &rc))
			usleep(1000);
	}
	if (dev->state == PL_DEV_STARTED || dev->state == PL_DEV_REGISTERED)
		dev->ops->stop(dev);
	/* normally the event loop unmapped it already (pciem_ffi_loop_free) */
	if (dev->ring_ptr)
		dev->ops->ring_unmap(dev, dev->ring_ptr, dev->ring_len);
	for (i = 0; i < PCIEM_NUM_BARS; i++)
		if (dev->bar_ptr[i])
			dev->ops->bar_unmap(dev, i, dev->bar_ptr[i], dev->bar_len[i]);
	if (dev->state != PL_DEV_NEW)
		dev->ops->close(dev);
	free(dev);
}

const char *pciem_ffi_dev_error(const struct pl_dev *dev)
{
	return dev->err;
}

const char *pciem_ffi_dev_backend(const struct pl_dev *dev)
{
	return dev->ops->name;
}

int pciem_ffi_dev_open(struct pl_dev *dev)
{
	int rc = want_state(dev, PL_DEV_NEW, "open");

	if (!rc)
		rc = dev->ops->open(dev);
	if (!rc)
		dev->state = PL_DEV_OPEN;
	return rc;
}

int pciem_ffi_dev_create(struct pl_dev *dev, const struct pciem_device_desc *desc)
{
	int rc = want_state(dev, PL_DEV_OPEN, "create");

	if (!rc)
		rc = dev->ops->create(dev, desc);
	if (!rc)
		dev->state = PL_DEV_CREATED;
	return rc;
}

int pciem_ffi_dev_add_bar(struct pl_dev *dev, const struct pciem_bar_desc *bar)
{
	int rc = want_state(dev, PL_DEV_CREATED, "add_bar");

	if (!rc)
		rc = dev->ops->add_bar(dev, bar);
	if (!rc && bar->index < PCIEM_NUM_BARS)
		dev->bar_len[bar->index] = bar->length;
	return rc;
}

int pciem_ffi_dev_add_cap(struct pl_dev *dev, const struct pciem_cap_desc *cap)
{
	int rc = want_state(dev, PL_DEV_CREATED, "add_cap");

	if (!rc)
		rc = dev->ops->add_cap(dev, cap);
	return rc;
}

int pciem_ffi_dev_register(struct pl_dev *dev)
{
	int rc = want_state(dev, PL_DEV_CREATED, "register");

	if (!rc)
		rc = dev->ops->register_dev(dev);
	if (!rc)
		dev->state = PL_DEV_REGISTERED;
	return rc;
}

int pciem_ffi_dev_start(struct pl_dev *dev)
{
	int rc = want_state(dev, PL_DEV_REGISTERED, "start");

	if (!rc)
		rc = dev->ops->start(dev);
	if (!rc)
		dev->state = PL_DEV_STARTED;
	return rc;
}

/* The helper thread of an asynchronous START and its result. */
struct start_job {
	pthread_t thread;
	struct pl_dev *dev;
	int rc;
	int done;		/* set with release once rc is final */
};

static void *start_thread(void *arg)
{
	struct start_job *job = arg;

	job->rc = job->dev->ops->start(job->dev);
	__atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

int pciem_ffi_dev_start_async(struct pl_dev *dev)
{
	struct start_job *job;
	int rc = want_state(dev, PL_DEV_REGISTERED, "start");

	if (rc)
		return rc;
	if (dev->start_thread)
		return pl_dev_error(dev, -EBUSY, "start: already starting");
	job = calloc(1, sizeof(*job));
	if (!job)
		return pl_dev_error(dev, -ENOMEM, "start: out of memory");
	job->dev = dev;
	rc = pthread_create(&job->thread, NULL, start_thread, job);
	if (rc) {
		free(job);
		return pl_dev_error(dev, -rc, "start: cannot create a thread: %s", strerror(rc));
	}
	dev->start_thread = job;
	return 0;
}

int pciem_ffi_dev_start_done(struct pl_dev *dev, int *rc)
{
	struct start_job *job = dev->start_thread;

	*rc = 0;
	if (!job)
		return pl_dev_error(dev, -EINVAL, "start: no start in flight");
	if (!__atomic_load_n(&job->done, __ATOMIC_ACQUIRE))
		return 0;
	pthread_join(job->thread, NULL);
	*rc = job->rc;
	dev->start_thread = NULL;
	free(job);
	if (!*rc)
		dev->state = PL_DEV_STARTED;
	return 1;
}

int pciem_ffi_dev_stop(struct pl_dev *dev)
{
	int rc;

	if (dev->state != PL_DEV_STARTED && dev->state != PL_DEV_REGISTERED)
		return pl_dev_error(dev, -EINVAL, "stop: device is %s, must be registered or started",
				    state_names[dev->state]);
	rc = dev->ops->stop(dev);
	if (!rc)
		dev->state = PL_DEV_CREATED;
	return rc;
}

int pciem_ffi_dev_info(struct pl_dev *dev, struct pciem_device_info *info)
{
	if (dev->state < PL_DEV_CREATED)
		return pl_dev_error(dev, -EINVAL, "info: device not created yet");
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return dev->ops->info(dev, info);
}

int pciem_ffi_bar_map(struct pl_dev *dev, uint32_t index, uint8_t **ptr, uint64_t *len)
{
	void *p;
	int rc;

	*ptr = NULL;
	*len = 0;
	if (index >= PCIEM_NUM_BARS)
		return pl_dev_error(dev, -EINVAL, "bar_map: index %u is not 0..5", index);
	if (dev->state < PL_DEV_CREATED || !dev->bar_len[index])
		return pl_dev_error(dev, -EINVAL, "bar_map: BAR %u is not described", index);
	if (!dev->bar_ptr[index]) {
		rc = dev->ops->bar_map(dev, index, dev->bar_len[index], &p);
		if (rc)
			return rc;
		dev->bar_ptr[index] = p;
	}
	*ptr = dev->bar_ptr[index];
	*len = dev->bar_len[index];
	return 0;
}

int pciem_ffi_cfg_read(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t *value)
{
	int rc = check_access(dev, offset, width, "cfg_read");

	*value = 0;
	return rc ? rc : dev->ops->cfg_read(dev, offset, width, value);
}

int pciem_ffi_cfg_write(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t value)
{
	int rc = check_access(dev, offset, width, "cfg_write");

	return rc ? rc : dev->ops->cfg_write(dev, offset, width, value);
}

int pciem_ffi_os_cfg_read(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t *value)
{
	int rc;

	*value = 0;
	if (!dev->ops->os_cfg_read)
		return pl_dev_error(dev, -EOPNOTSUPP, "os_cfg_read: only the sim backend has an OS side");
	rc = check_access(dev, offset, width, "os_cfg_read");
	return rc ? rc : dev->ops->os_cfg_read(dev, offset, width, value);
}

int pciem_ffi_os_cfg_write(struct pl_dev *dev, uint32_t offset, uint32_t width, uint32_t value)
{
	int rc;

	if (!dev->ops->os_cfg_write)
		return pl_dev_error(dev, -EOPNOTSUPP, "os_cfg_write: only the sim backend has an OS side");
	rc = check_access(dev, offset, width, "os_cfg_write");
	return rc ? rc : dev->ops->os_cfg_write(dev, offset, width, value);
}

void pciem_ffi_log(int level, const char *msg)
{
	pl_log(level, "%s", msg);
}

const char *pciem_ffi_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}
