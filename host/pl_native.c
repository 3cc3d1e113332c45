// SPDX-License-Identifier: MIT
/*
 * Native handler libraries (host/pciem_native.h): dlopen, init with the
 * device's BARs and services, look up handlers by name, unload.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pciem_ffi.h"
#include "pl_loop.h"

typedef int native_init_fn(struct pciem_native *nd, const char *args);
typedef void native_exit_fn(struct pciem_native *nd);

static int native_irq(struct pciem_native *nd, uint32_t vector)
{
	return pciem_ffi_irq(nd->host, PCIEM_IRQ_RAISE, vector);
}

static int native_intx(struct pciem_native *nd, int level)
{
	return pciem_ffi_irq(nd->host, level ? PCIEM_IRQ_INTX_ASSERT : PCIEM_IRQ_INTX_DEASSERT, 0);
}

static int native_dma_read(struct pciem_native *nd, uint64_t bus_addr, void *buf, uint64_t len)
{
	uint64_t done;

	return pciem_ffi_dma_from_host(nd->host, bus_addr, buf, len, &done);
}

static int native_dma_write(struct pciem_native *nd, uint64_t bus_addr, const void *buf,
			    uint64_t len)
{
	uint64_t done;

	return pciem_ffi_dma_to_host(nd->host, bus_addr, buf, len, &done);
}

static int native_dma_sg(struct pciem_native *nd, uint32_t dir, const struct pciem_dma_seg *segs,
			 uint32_t nsegs)
{
	uint64_t done;

	return pciem_ffi_dma(nd->host, dir, segs, nsegs, &done);
}

void pl_native_ctx_init(struct pciem_native *ctx, struct pl_dev *dev)
{
	int i;

	memset(ctx, 0, sizeof(*ctx));
	ctx->abi = PCIEM_NATIVE_ABI;
	for (i = 0; i < PCIEM_NUM_BARS; i++) {
		ctx->bar[i] = dev->bar_ptr[i];
		ctx->bar_len[i] = dev->bar_ptr[i] ? dev->bar_len[i] : 0;
	}
	ctx->irq = native_irq;
	ctx->intx = native_intx;
	ctx->dma_read = native_dma_read;
	ctx->dma_write = native_dma_write;
	ctx->dma_sg = native_dma_sg;
	ctx->host = dev;
}

int pciem_ffi_native_load(struct pl_loop *lp, const char *path, const char *args,
			  struct pl_native **out)
{
	struct pl_dev *dev = pl_loop_dev(lp);
	native_init_fn *init;
	struct pl_native *lib;
	int rc;

	*out = NULL;
	lib = calloc(1, sizeof(*lib));
	if (!lib)
		return pl_dev_error(dev, -ENOMEM, "native %s: out of memory", path);
	lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib->handle) {
		rc = pl_dev_error(dev, -ENOENT, "native: %s", dlerror());
		goto err_free;
	}
	init = (native_init_fn *)dlsym(lib->handle, "pciem_native_init");
	if (!init) {
		rc = pl_dev_error(dev, -ENOENT, "native %s: exports no pciem_native_init", path);
		goto err_close;
	}
	lib->idle = (void (*)(struct pciem_native *))dlsym(lib->handle, "pciem_native_idle");
	pl_native_ctx_init(&lib->ctx, dev);
	rc = init(&lib->ctx, args ? args : "");
	if (rc < 0) {
		rc = pl_dev_error(dev, rc, "native %s: pciem_native_init refused: %s", path,
				  strerror(-rc));
		goto err_close;
	}
	pl_loop_add_native(lp, lib);
	*out = lib;
	return 0;

err_close:
	dlclose(lib->handle);
err_free:
	free(lib);
	return rc;
}

int pciem_ffi_native_handler(struct pl_native *lib, const char *name, void **fn)
{
	*fn = dlsym(lib->handle, name);
	if (!*fn || !strcmp(name, "pciem_native_init") || !strcmp(name, "pciem_native_exit")) {
		*fn = NULL;
		return pl_dev_error(lib->ctx.host, -ENOENT, "native: the library exports no handler '%s'",
				    name);
	}
	return 0;
}

int pciem_ffi_native_symbol(struct pl_native *lib, const char *name, void **sym)
{
	*sym = dlsym(lib->handle, name);
	if (!*sym)
		return pl_dev_error(lib->ctx.host, -ENOENT, "native: the library exports no '%s'",
				    name);
	return 0;
}

void *pciem_ffi_native_context(struct pl_native *lib)
{
	return &lib->ctx;
}

void pl_native_unload_all(struct pl_native *list)
{
	while (list) {
		struct pl_native *next = list->next;
		native_exit_fn *exit_fn = (native_exit_fn *)dlsym(list->handle, "pciem_native_exit");

		if (exit_fn)
			exit_fn(&list->ctx);
		dlclose(list->handle);
		free(list);
		list = next;
	}
}
