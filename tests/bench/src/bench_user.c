// SPDX-License-Identifier: MIT
/*
 * Guest userspace baselines of `make bench`: a null syscall, an eventfd
 * ping-pong between two threads, memcpy bandwidth.
 *   bench_user syscall N          mean=NS per getppid()
 *   bench_user eventfd N [CPU]    median=NS p99=NS: one-way wake-up (half a round trip);
 *                                 the second thread on CPU, the caller where it is
 *   bench_user memcpy BYTES REPS  ns=NS per copy
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int bench_syscall(unsigned long n)
{
	uint64_t t0 = now_ns();
	unsigned long i;

	for (i = 0; i < n; i++)
		syscall(SYS_getppid);	/* not the libc wrapper: no caching */
	printf("mean=%llu n=%lu\n", (unsigned long long)((now_ns() - t0) / n), n);
	return 0;
}

struct pingpong {
	int ping, pong;
	unsigned long n;
	long cpu;	/* the pong thread's CPU, -1 = anywhere */
};

static void *pong_thread(void *arg)
{
	struct pingpong *pp = arg;
	uint64_t v;
	unsigned long i;

	if (pp->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(pp->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
			fprintf(stderr, "bench_user: cannot pin to CPU %ld\n", pp->cpu);
	}
	for (i = 0; i < pp->n; i++) {
		if (read(pp->ping, &v, sizeof(v)) != sizeof(v))
			break;
		if (write(pp->pong, &v, sizeof(v)) != sizeof(v))
			break;
	}
	return NULL;
}

static int bench_eventfd(unsigned long n, long cpu)
{
	struct pingpong pp = { .n = n, .cpu = cpu };
	uint64_t *s, t0, one = 1, v;
	pthread_t th;
	unsigned long i;

	s = calloc(n, sizeof(*s));
	pp.ping = eventfd(0, 0);
	pp.pong = eventfd(0, 0);
	if (!s || pp.ping < 0 || pp.pong < 0) {
		perror("bench_user: eventfd");
		return 1;
	}
	if (pthread_create(&th, NULL, pong_thread, &pp)) {
		fprintf(stderr, "bench_user: pthread_create failed\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		if (write(pp.ping, &one, sizeof(one)) != sizeof(one) ||
		    read(pp.pong, &v, sizeof(v)) != sizeof(v)) {
			perror("bench_user: ping-pong");
			return 1;
		}
		s[i] = (now_ns() - t0) / 2;
	}
	pthread_join(th, NULL);
	qsort(s, n, sizeof(*s), cmp_u64);
	printf("median=%llu p99=%llu n=%lu\n", (unsigned long long)s[n / 2],
	       (unsigned long long)s[n * 99 / 100 < n ? n * 99 / 100 : n - 1], n);
	free(s);
	return 0;
}

static int bench_memcpy(unsigned long len, unsigned long reps)
{
	char *src = malloc(len), *dst = malloc(len);
	volatile char sink;
	uint64_t t0;
	unsigned long i;

	if (!src || !dst) {
		fprintf(stderr, "bench_user: out of memory\n");
		return 1;
	}
	memset(src, 0x5a, len);
	memset(dst, 0, len);	/* fault the pages in before timing */
	t0 = now_ns();
	for (i = 0; i < reps; i++) {
		memcpy(dst, src, len);
		sink = dst[i % len];	/* keep the copy */
	}
	(void)sink;
	printf("ns=%llu bytes=%lu\n", (unsigned long long)((now_ns() - t0) / reps), len);
	free(src);
	free(dst);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long a = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
	unsigned long b = argc > 3 ? strtoul(argv[3], NULL, 0) : 0;

	if (argc > 2 && a && !strcmp(argv[1], "syscall"))
		return bench_syscall(a);
	if (argc > 2 && a && !strcmp(argv[1], "eventfd"))
		return bench_eventfd(a, argc > 3 ? (long)b : -1);
	if (argc > 3 && a && b && !strcmp(argv[1], "memcpy"))
		return bench_memcpy(a, b);
	fprintf(stderr, "usage: bench_user syscall N | eventfd N [CPU] | memcpy BYTES REPS\n");
	return 2;
}
