/*
 * tests/bench_inproc.c: the in-process reference for `make bench`: libclamav
 * called directly (scanner/engine.c, same options), no sandbox, no IPC, no
 * sockets. The ceiling avwarden's throughput is compared against.
 *
 *   bench-inproc DATABASE SECONDS THREADS FILE...
 * prints: load_ms, pss_kb after loading, scans, rps, p50_ms, p99_ms, and
 * cpu_us: CPU per scan of the whole process. Every message is made unique
 * by a first header line, as avwarden's bench client does, and libclamav's
 * own cache is off, as in avwarden's workers: the same scan options.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "../scanner/scan.h"

struct sample {
	void *data;
	size_t len;
};

static struct cl_engine *engine;
static struct sample *samples;
static size_t nsamples;
static uint64_t deadline;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *lat;
static size_t nlat, caplat;

static long pss_kb(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* As clamd-client's: no two runs send the same bytes. */
static unsigned long long run_mark;

static void *run(void *arg)
{
	size_t i = (size_t)(uintptr_t)arg, most = 0;
	unsigned thread = (unsigned)i;
	unsigned char *buf;
	uint64_t n = 0;

	for (size_t k = 0; k < nsamples; k++)
		most = samples[k].len > most ? samples[k].len : most;
	buf = malloc(most + 80);
	while (plat_now_ns() < deadline) {
		struct sample *s = &samples[i++ % nsamples];
		struct ipc_result r;
		int h = snprintf((char *)buf, 80, "X-Bench-Unique: %llx-%u-%llu\r\n", run_mark, thread, (unsigned long long)++n);
		memcpy(buf + h, s->data, s->len);
		uint64_t t0 = plat_now_ns();
		scan_buffer(engine, buf, (size_t)h + s->len, &r);
		uint64_t dt = plat_now_ns() - t0;
		pthread_mutex_lock(&mu);
		if (nlat == caplat) {
			caplat = caplat ? caplat * 2 : 65536;
			lat = realloc(lat, caplat * sizeof(*lat));
		}
		lat[nlat++] = dt;
		pthread_mutex_unlock(&mu);
	}
	free(buf);
	return NULL;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	    ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	pthread_t th[64];
	char err[512];
	unsigned sigs;
	uint64_t t0;
	int threads;
	double secs;

	if (argc < 5) {
		fprintf(stderr, "usage: bench-inproc DATABASE SECONDS THREADS FILE...\n");
		return 2;
	}
	secs = atof(argv[2]);
	threads = atoi(argv[3]);
	if (threads < 1 || threads > 64)
		return 2;
	t0 = plat_now_ns();
	/* libclamav's temp files on tmpfs, as avwarden's scanners have them. */
	struct scan_limits lim = { .no_cache = 1 };
	engine = scan_engine_load(argv[1], argv[1], "/dev/shm", &lim, &sigs, err, sizeof(err));
	if (engine == NULL) {
		fprintf(stderr, "bench-inproc: %s\n", err);
		return 1;
	}
	double load_ms = (double)(plat_now_ns() - t0) / 1e6;
	nsamples = (size_t)(argc - 4);
	samples = calloc(nsamples, sizeof(*samples));
	for (size_t i = 0; i < nsamples; i++) {
		struct stat st;
		int fd = open(argv[4 + i], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			perror(argv[4 + i]);
			return 1;
		}
		samples[i].len = (size_t)st.st_size;
		samples[i].data = malloc(samples[i].len + 1);
		if (plat_read_full(fd, samples[i].data, samples[i].len) != (ssize_t)samples[i].len)
			return 1;
		close(fd);
	}
	long pss = pss_kb();
	scan_engine_warm_up(engine);
	run_mark = plat_now_ns() ^ ((unsigned long long)getpid() << 40);
	deadline = plat_now_ns() + (uint64_t)(secs * 1e9);
	double c0 = cpu_s();
	t0 = plat_now_ns();
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, run, (void *)(uintptr_t)(i * 7));
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	double el = (double)(plat_now_ns() - t0) / 1e9, cpu = cpu_s() - c0;
	qsort(lat, nlat, sizeof(*lat), cmp);
	printf("load_ms=%.0f pss_kb=%ld signatures=%u scans=%zu rps=%.1f cpu_us=%.0f p50_ms=%.3f p99_ms=%.3f\n",
	    load_ms, pss, sigs, nlat, (double)nlat / el, nlat ? cpu * 1e6 / (double)nlat : 0.0,
	    nlat ? (double)lat[nlat / 2] / 1e6 : 0.0, nlat ? (double)lat[nlat * 99 / 100] / 1e6 : 0.0);
	for (size_t i = 0; i < nsamples; i++)
		free(samples[i].data);
	free(samples);
	free(lat);
	cl_engine_free(engine);
	return 0;
}
