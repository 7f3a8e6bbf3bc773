/*
 * supervisor/stats.c: counters and sample rings (see stats.h).
 */
#include "stats.h"

#include <stdlib.h>
#include <string.h>

#include "../ipc/ipc.h"

#define RESPAWN_SAMPLES 256
#define OVERHEAD_SAMPLES 4096
#define SHARED_SAMPLES 1024

struct sup_stats sup_counters;

const unsigned sup_stats_bucket_ms[SUP_STATS_BUCKETS] = {
	1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000,
};

static struct {
	uint64_t respawn[RESPAWN_SAMPLES];
	unsigned nrespawn;     /* total seen; the ring holds the last ones */
	uint64_t overhead[OVERHEAD_SAMPLES];
	unsigned noverhead;
	uint64_t shared[SHARED_SAMPLES];
	unsigned nshared;
} S;

void sup_stats_shared(uint64_t ns)
{
	S.shared[S.nshared++ % SHARED_SAMPLES] = ns;
}

void sup_stats_answered(unsigned status, int32_t code, uint64_t ns)
{
	unsigned b = 0;

	if ((status == 3 || status == 4) && code >= -1 && code < SUP_STATS_CODES - 1)
		sup_counters.by_code[code + 1]++;
	while (b < SUP_STATS_BUCKETS && ns > (uint64_t)sup_stats_bucket_ms[b] * 1000000u)
		b++;
	sup_counters.by_time[b]++;
	sup_counters.scanned++;
	sup_counters.scan_ns_total += ns;
	switch (status) {
	case 1: sup_counters.clean++; break;        /* IPC_CLEAN */
	case 2: sup_counters.infected++; break;     /* IPC_INFECTED */
	case 3: sup_counters.unscannable++; break;  /* IPC_UNSCANNABLE */
	default: sup_counters.errors++; break;
	}
}

void sup_stats_by_name(const struct sup_stats *s, void (*fn)(void *ctx, const char *name, uint64_t n), void *ctx)
{
	for (int i = 0; i < SUP_STATS_CODES; i++) {
		const char *name = ipc_code_name(i - 1);
		uint64_t n = 0;
		int first = 1;
		if (s->by_code[i] == 0)
			continue;
		for (int j = 0; j < SUP_STATS_CODES && first; j++) {
			if (s->by_code[j] == 0 || strcmp(ipc_code_name(j - 1), name) != 0)
				continue;
			if (j < i)
				first = 0;  /* counted with an earlier code */
			n += s->by_code[j];
		}
		if (first)
			fn(ctx, name, n);
	}
}

void sup_stats_respawn(uint64_t ns)
{
	S.respawn[S.nrespawn++ % RESPAWN_SAMPLES] = ns;
}

void sup_stats_overhead(uint64_t ns)
{
	S.overhead[S.noverhead++ % OVERHEAD_SAMPLES] = ns;
}

static unsigned copy_ring(const uint64_t *ring, unsigned cap, unsigned seen, uint64_t *out, unsigned n)
{
	unsigned have = seen < cap ? seen : cap;
	unsigned k = have < n ? have : n;

	memcpy(out, ring, k * sizeof(*out));
	return k;
}

unsigned sup_stats_respawn_samples(uint64_t *out, unsigned n)
{
	return copy_ring(S.respawn, RESPAWN_SAMPLES, S.nrespawn, out, n);
}

unsigned sup_stats_shared_samples(uint64_t *out, unsigned n)
{
	return copy_ring(S.shared, SHARED_SAMPLES, S.nshared, out, n);
}

unsigned sup_stats_overhead_samples(uint64_t *out, unsigned n)
{
	return copy_ring(S.overhead, OVERHEAD_SAMPLES, S.noverhead, out, n);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void sup_stats_percentiles(uint64_t *v, unsigned n, double unit, double *p50, double *p99)
{
	*p50 = *p99 = 0;
	if (n == 0)
		return;
	qsort(v, n, sizeof(v[0]), cmp_u64);
	*p50 = (double)v[n / 2] / unit;
	*p99 = (double)v[(n * 99) / 100] / unit;
}
