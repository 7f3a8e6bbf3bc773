/*
 * supervisor/pool.c: the pool's face (see pool.h). A job's path: verdict
 * memory first (verdicts.c: poison, cache), then the queue (queue.c), then
 * an idle worker of the serving generation (gen.c, slot.c), and back
 * through sup_job_answer() to its owner, from the loop's check phase.
 *
 * The supervisor decides everything here and below: which worker gets which
 * job, when a worker is killed, how its job is answered (exactly once), and
 * when a host is restarted.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../platform/plat.h"
#include "dbwatch.h"
#include "gen.h"
#include "join.h"
#include "queue.h"
#include "shared.h"
#include "slot.h"
#include "stats.h"
#include "verdicts.h"

static struct {
	const struct sup_config *cfg;
	void (*ready_cb)(void);
	void (*drain_cb)(void);
	int draining;
	int closing;
	uv_timer_t drain_timer;   /* hands drain_cb over from the loop */
} P;

static void dispatch(void)
{
	struct sup_slot *s;

	while (sup_queue_len() > 0 && (s = sup_gens_idle_slot()) != NULL)
		sup_slot_give(s, sup_queue_pop());
}

static void drain_fire(uv_timer_t *t)
{
	void (*cb)(void) = P.drain_cb;

	(void)t;
	P.drain_cb = NULL;
	if (cb != NULL)
		cb();
}

/* Drained once nothing waits and no worker holds a job. */
static void check_drained(void)
{
	if (!P.draining || P.drain_cb == NULL || sup_queue_len() > 0 || sup_gens_in_flight() > 0 ||
	    sup_shared_pending() > 0)
		return;
	if (!uv_is_active((uv_handle_t *)&P.drain_timer))
		(void)uv_timer_start(&P.drain_timer, drain_fire, 0, 0);
}

static void on_capacity(void)
{
	dispatch();
	check_drained();
}

static void on_unavailable(const char *reason)
{
	sup_queue_fail_all(IPC_CODE_UNAVAILABLE, reason);
}

static void on_ready(void)
{
	void (*cb)(void) = P.ready_cb;

	P.ready_cb = NULL;
	if (cb != NULL)
		cb();
}

static const struct sup_gen_hooks gen_hooks = {
	.capacity = on_capacity,
	.unavailable = on_unavailable,
	.ready = on_ready,
};

/* update_interval: a changed database is reloaded, as clamd's SelfCheck. */
static void db_check(void)
{
	uint64_t now;

	if (sup_gens_serving_id() == 0 || sup_gens_loading() || P.draining)
		return;
	now = sup_db_fingerprint(P.cfg->database);
	if (now == 0 || now == sup_gens_serving_print() || now == sup_gens_failed_print())
		return;
	log_info("database_changed", "database=%s gen=%u action=reload", P.cfg->database, sup_gens_serving_id());
	sup_pool_reload("database changed", NULL, NULL);
}

int sup_pool_init(uv_loop_t *loop, const struct sup_config *cfg, void (*ready_cb)(void))
{
	int rc;

	memset(&P, 0, sizeof(P));
	P.cfg = cfg;
	P.ready_cb = ready_cb;
	if (sup_verdicts_init(cfg) < 0)
		return -ENOMEM;
	if (cfg->max_jobs_per_worker != 1)
		log_warnx("worker_reuse", "max_jobs_per_worker=%u reason=\"a worker an attachment compromised "
		    "goes on to see %s other messages, and can answer for them\" "
		    "fix=\"max_jobs_per_worker = 1 (the default): one message, one process\"",
		    cfg->max_jobs_per_worker, cfg->max_jobs_per_worker == 0 ? "every" : "up to that many");
	if ((rc = sup_queue_init(loop, cfg, check_drained)) < 0 || (rc = uv_timer_init(loop, &P.drain_timer)) < 0 ||
	    (rc = sup_dbwatch_start(loop, cfg->update_interval, db_check)) < 0)
		return rc;
	return sup_gens_init(loop, cfg, &gen_hooks);
}

static void submit_scan(struct sup_job *job);
static void shared_answered(struct sup_job *job, const struct sup_verdict *v);

void sup_pool_submit(struct sup_job *job)
{
	const unsigned char *sigset;
	struct sup_verdict v;
	const char *why;

	job->t_submit = plat_now_ns();
	job->slot = NULL;
	job->cached = 0;
	job->blame = 0;
	job->have_hash = 0;
	job->nmore = 0;
	job->shared = NULL;
	if (P.draining || P.closing) {
		sup_job_error(job, IPC_CODE_UNAVAILABLE, "avwarden is shutting down");
		return;
	}
	if ((why = sup_gens_unavailable()) != NULL) {
		/* Fail fast: a tempfail now beats a hang until the client times out. */
		sup_job_error(job, IPC_CODE_UNAVAILABLE, "no scanner available: %.100s", why);
		return;
	}
	if (sup_verdicts_ask(job, sup_gens_serving_id(), &v)) {
		sup_job_answer(job, &v, NULL);
		return;
	}
	if (!job->allmatch && sup_shared_enabled() && (sigset = sup_gens_serving_sigset()) != NULL) {
		sup_verdicts_hash(job, job->buf.base);
		job->shared_gen = sup_gens_serving_id();
		if (sup_shared_ask(job, sigset, shared_answered)) {
			job->where = SUP_JOB_SHARED;
			return;  /* shared_answered goes on */
		}
	}
	submit_scan(job);
}

/* The verdict from the shared cache, or none: the scan after all. */
static void shared_answered(struct sup_job *job, const struct sup_verdict *v)
{
	job->where = SUP_JOB_OUT;
	/* A reload meanwhile: an older signature set's verdict is not ours. */
	if (v != NULL && job->shared_gen == sup_gens_serving_id()) {
		sup_verdicts_remember(job, job->shared_gen, v);
		sup_job_answer(job, v, NULL);
	} else {
		submit_scan(job);
	}
	check_drained();
}

/* After the caches: join identical bytes in flight, or queue for a worker. */
static void submit_scan(struct sup_job *job)
{
	const char *why;

	if (P.closing) {
		sup_job_error(job, IPC_CODE_UNAVAILABLE, "avwarden is shutting down");
		return;
	}
	if ((why = sup_gens_unavailable()) != NULL) {
		sup_job_error(job, IPC_CODE_UNAVAILABLE, "no scanner available: %.100s", why);
		return;
	}
	if (sup_join_try(job, sup_gens_serving_id()))
		return;  /* the same bytes are being scanned: their verdict is ours */
	if (sup_queue_len() >= P.cfg->max_queue && sup_gens_idle_slot() == NULL) {
		sup_counters.rejected_queue_full++;
		log_warnx("queue_full", "max_queue=%u max_concurrency=%u "
		    "fix=\"raise max_concurrency if the machine has cores to spare, or max_queue\"",
		    P.cfg->max_queue, P.cfg->max_concurrency);
		sup_job_error(job, IPC_CODE_QUEUE_FULL, "queue full (max_queue %u)", P.cfg->max_queue);
		return;
	}
	sup_queue_push(job);
	sup_join_lead(job, sup_gens_serving_id());
	dispatch();
}

void sup_pool_cancel(struct sup_job *job)
{
	sup_counters.cancelled++;
	if (sup_join_cancel(job)) {
		check_drained();
		return;
	}
	switch (job->where) {
	case SUP_JOB_SHARED:
		sup_shared_cancel(job);
		job->where = SUP_JOB_OUT;
		break;
	case SUP_JOB_QUEUED:
	case SUP_JOB_ANSWERED:
		(void)sup_queue_remove(job);
		break;
	case SUP_JOB_SCANNING:
		if (job->slot != NULL)
			sup_slot_cancel(job->slot);
		break;
	default:
		break;
	}
	check_drained();
}

void sup_pool_reload(const char *why, sup_reload_cb cb, void *ctx)
{
	if (P.draining || P.closing) {
		if (cb != NULL)
			cb(ctx, 0, "avwarden is shutting down");
		return;
	}
	sup_gens_reload(why, cb, ctx);
}

void sup_pool_drain(void (*cb)(void))
{
	P.draining = 1;
	P.drain_cb = cb;
	if (sup_gens_serving_id() == 0)
		sup_queue_fail_all(IPC_CODE_UNAVAILABLE, "avwarden is shutting down");
	check_drained();
}

void sup_pool_close(void)
{
	P.closing = 1;
	sup_shared_close();  /* lookups in flight: answered, as shutting down */
	uv_close((uv_handle_t *)&P.drain_timer, NULL);
	sup_dbwatch_stop();
	sup_queue_fail_all(IPC_CODE_UNAVAILABLE, "avwarden is shutting down");
	sup_gens_close("avwarden is shutting down");
	sup_queue_close();
}

void sup_pool_free(void)
{
	sup_gens_free();
	sup_verdicts_free();
	ipc_gather_drain();
}

int sup_pool_healthy(char *why, size_t len)
{
	const char *cause;

	if (P.draining || P.closing)
		snprintf(why, len, "avwarden is shutting down");
	else if ((cause = sup_gens_unavailable()) != NULL)
		snprintf(why, len, "%.150s", cause);
	else if (sup_gens_serving_id() == 0)
		snprintf(why, len, "the database is loading");
	else if (sup_gens_count(1) + sup_gens_count(0) == 0 && sup_gens_spawn_failing())
		/* Between two jobs a worker is being replaced: that is no outage;
		 * forks that fail (and back off) are. */
		snprintf(why, len, "no worker is running: forks fail");
	else
		return 1;
	return 0;
}

void sup_pool_describe(struct sup_pool_info *info)
{
	memset(info, 0, sizeof(*info));
	info->queue_depth = sup_queue_len();
	info->busy = sup_gens_count(1);
	info->idle = sup_gens_count(0);
	info->cache_entries = sup_verdicts_cached();
	info->cache_size = P.cfg->cache_size;
	sup_gens_describe(info);
	info->healthy = sup_pool_healthy(info->unhealthy, sizeof(info->unhealthy));
}

const char *sup_pool_engine_version(void)
{
	static struct sup_pool_info pi;

	sup_gens_describe(&pi);
	return pi.generation != 0 && pi.engine[0] ? pi.engine : "?";
}

size_t sup_pool_workers(struct sup_worker_info *out, size_t n)
{
	return sup_gens_workers(out, n);
}
