/*
 * supervisor/stats.h: the supervisor's counters and timing samples, for
 * `avwardenctl stats`, clamd's STATS and the scanner log.
 *
 * Counters only go up; each is written by the module that sees the event
 * (jobs, slots, generations). Nothing here decides anything.
 */
#ifndef AVW_STATS_H
#define AVW_STATS_H

#include <stdint.h>

#define SUP_STATS_CODES 300
/* Upper bounds, in ms, of the answer-time histogram's buckets (the last,
 * +Inf, is implied): Prometheus's avwarden_scan_duration_seconds. */
#define SUP_STATS_BUCKETS 14
extern const unsigned sup_stats_bucket_ms[SUP_STATS_BUCKETS];

struct sup_stats {
	uint64_t scanned, clean, infected, unscannable, errors;
	uint64_t worker_crashes, timeouts, violations, host_restarts;
	uint64_t scan_ns_total;
	uint64_t rejected_queue_full;
	uint64_t rejected_size;       /* INSTREAM past max_message_size */
	uint64_t rejected_path_size;  /* SCAN/FILDES file past max_path_scan_size */
	uint64_t rejected_memory;     /* a stream past max_message_memory (all messages at once) */
	uint64_t refused_connections; /* over max_connections */
	uint64_t refused_clients;     /* TCP clients outside a listener's allow= list */
	uint64_t cache_misses;        /* looked up in the verdict cache and not found */
	/* the shared cache (shared.c) */
	uint64_t shared_hits, shared_misses;
	uint64_t shared_errors;       /* Redis answered an error, or the connection went mid-lookup */
	uint64_t shared_timeouts;     /* lookups given up after shared_cache_timeout_ms */
	uint64_t shared_skipped;      /* not tried: Redis down, or too many in flight */
	uint64_t shared_forged;       /* entries that failed their HMAC or did not parse */
	uint64_t shared_stores, shared_store_failures;
	uint64_t poison_hits, retired;
	uint64_t cache_hits, reloads, reload_failures, engine_logs_dropped;
	uint64_t host_logs_dropped;   /* host LOG records past the rate limit */
	uint64_t spawn_failures;      /* forks the host could not make */
	uint64_t host_misbehaved;     /* hosts killed for a malformed or forged record */
	uint64_t joined;              /* answered by the scan of identical content in flight */
	uint64_t cancelled;           /* given up by their clients */
	uint64_t unscannable_passed;  /* answered OK by unscannable_action = pass */
	/* UNSCANNABLE and ERROR answers by engine code (index code + 1, codes
	 * -1 to SUP_STATS_CODES - 2): `stats` shows them by name */
	uint64_t by_code[SUP_STATS_CODES];
	/* answers by time from submit: by_time[i] took at most
	 * sup_stats_bucket_ms[i] and more than the bound before; the last, more */
	uint64_t by_time[SUP_STATS_BUCKETS + 1];
};

extern struct sup_stats sup_counters;

/* UNSCANNABLE and ERROR answers by code name (codes that share a name
 * summed), in code order, the names with no answer left out. */
void sup_stats_by_name(const struct sup_stats *s, void (*fn)(void *ctx, const char *name, uint64_t n), void *ctx);

/* A job answered with this status (enum ipc_status) and engine code, ns
 * after its submit. */
void sup_stats_answered(unsigned status, int32_t code, uint64_t ns);

/* Worker death to replacement serving, in ns (the last 256). */
void sup_stats_respawn(uint64_t ns);
unsigned sup_stats_respawn_samples(uint64_t *out, unsigned n);
/* Shared-cache lookups, ask to answer (or giving up), in ns (the last 1024). */
void sup_stats_shared(uint64_t ns);
unsigned sup_stats_shared_samples(uint64_t *out, unsigned n);
/* Per job: dispatch to answer minus the worker's time inside libclamav, in
 * ns (the last 4096): what the sandboxing and IPC cost. */
void sup_stats_overhead(uint64_t ns);
unsigned sup_stats_overhead_samples(uint64_t *out, unsigned n);
/* p50 and p99 of n samples (sorted in place), divided by unit. */
void sup_stats_percentiles(uint64_t *v, unsigned n, double unit, double *p50, double *p99);

#endif
