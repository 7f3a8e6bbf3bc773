/*
 * supervisor/pool.h: what the rest of the supervisor asks of the scanners:
 * submit a job, cancel it, reload the database, drain, describe.
 *
 * Promises: every submitted job is answered exactly once (unless its owner
 * cancels it first), always from the loop's check phase and never from
 * inside a pool call; it waits for a worker at most `timeout`, and scans at
 * most `timeout`. Behind it (pool.c and the modules it names): verdicts.c
 * (cache and poison), queue.c (waiting jobs, answers), gen.c (generations
 * of scanners), slot.c (one worker each), hostlink.c (the host process).
 */
#ifndef AVW_POOL_H
#define AVW_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../ipc/ipc.h"
#include "clamd.h"
#include "config.h"
#include "poison.h"  /* SUP_HASH_LEN */

struct sup_job;
struct sup_slot;
typedef void (*sup_job_done_cb)(struct sup_job *job, const struct sup_verdict *v);

/* Owned by the submitter; the pool links it and fills it until answered. */
struct sup_job {
	struct ipc_gather buf;     /* the bytes, until a worker has them */
	size_t len;
	uint64_t id;               /* for logs */
	sup_job_done_cb done;
	void *ctx;
	size_t tag;                /* the submitter's, e.g. which file of a MULTISCAN */
	int allmatch;              /* the submitter's: every signature that matches (ALLMATCHSCAN);
	                            * never answered from the cache or another scan */
	unsigned nmore;            /* the answer's: names after verdict.name, for allmatch */
	char more[IPC_MORE_MAX][IPC_NAME_MAX];
	/* the pool's, from here on */
	uint64_t t_submit;         /* ns */
	uint64_t t_dispatch;       /* ns, when a worker got it */
	struct sup_job *next;      /* queue or answer list */
	struct sup_slot *slot;     /* while a worker has it */
	int where;                 /* SUP_JOB_*: which list or slot holds it */
	int internal;              /* the supervisor's own (a canary): not counted, not remembered */
	uint32_t turn;             /* the loop turn its answer goes out on */
	/* identical content in flight (join.c): one scan, every asker answered */
	uint32_t join_gen;         /* the generation it is scanned for */
	struct sup_job *followers; /* a leader's: jobs waiting for its verdict */
	struct sup_job *fnext;     /* a follower's link */
	struct sup_job *leader;    /* a follower's */
	struct sup_job *lprev, *lnext;  /* the leaders' list */
	sup_job_done_cb orig_done; /* a leader's owner's callback */
	int have_hash;
	int blame;                 /* its content crashed or hung a worker (observed) */
	uint32_t cached;           /* answered from the cache of this generation */
	void *shared;              /* its shared-cache lookup in flight (shared.c) */
	uint32_t shared_gen;       /* the generation that lookup is for */
	unsigned char hash[SUP_HASH_LEN];  /* SHA-256 of the bytes, when needed */
	struct sup_verdict verdict; /* the answer, until it is handed over */
};
enum { SUP_JOB_OUT = 0, SUP_JOB_QUEUED, SUP_JOB_SCANNING, SUP_JOB_ANSWERED, SUP_JOB_JOINED, SUP_JOB_SHARED };

/* The serving generation and the pool, for stats and version. */
struct sup_pool_info {
	uint32_t generation;       /* 0: none serving */
	unsigned signatures;
	long loaded_at;            /* time_t */
	int64_t database_built;    /* time_t: build time, or newest file change (0: unknown) */
	char engine[64];
	char database[160];        /* versions and dates, as the host read them */
	char last_reload[512];
	size_t queue_depth;
	unsigned busy, idle;
	size_t cache_entries;
	unsigned cache_size;
	int reloading;
	int healthy;               /* a generation serves and can take a job */
	char unhealthy[160];       /* why not, when not */
};

struct sup_worker_info {
	uint32_t generation;
	int serving;
	uint32_t id;
	int pid;
	const char *state;
	uint64_t jobs;
	uint64_t rss;              /* bytes resident */
	double age_s;
};

/* ok: 1 when the new generation serves; msg says which, or why not. */
typedef void (*sup_reload_cb)(void *ctx, int ok, const char *msg);

/* Starts the first generation; ready_cb once it serves. 0 or -errno
 * (-ENOENT: no such user, -EPERM: the user is root). */
int sup_pool_init(uv_loop_t *loop, const struct sup_config *cfg, void (*ready_cb)(void));
/* Takes the job; its done callback is called exactly once, from the loop. */
void sup_pool_submit(struct sup_job *job);
/* The owner gives up on a job it submitted (its client left): it is
 * dropped wherever it is and its done callback is never called. */
void sup_pool_cancel(struct sup_job *job);
/* Accepts no new jobs; lets queued and in-flight ones finish, then calls cb
 * (from the loop). */
void sup_pool_drain(void (*cb)(void));
/* Kills the hosts and workers, answers anything left, closes handles. */
void sup_pool_close(void);
void sup_pool_free(void);
/*
 * Loads the database into a new generation; it takes new jobs once its
 * workers are up, and the old one drains. While one loads, further requests
 * join it. cb (may be NULL) is called once, with the outcome.
 */
void sup_pool_reload(const char *why, sup_reload_cb cb, void *ctx);
const char *sup_pool_engine_version(void);
/* 1 when a generation serves and can take a job; else 0 with why. */
int sup_pool_healthy(char *why, size_t len);
void sup_pool_describe(struct sup_pool_info *info);
/* Every live worker of every generation; returns how many were written. */
size_t sup_pool_workers(struct sup_worker_info *out, size_t n);

#endif
