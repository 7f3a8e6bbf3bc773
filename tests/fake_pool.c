/*
 * tests/fake_pool.c: see fake_pool.h.
 */
#include "fake_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_MAX 64

static struct sup_job *pending[FAKE_MAX];
static size_t npending;
static int healthy = 1;

static int find(const struct sup_job *job)
{
	for (size_t i = 0; i < npending; i++)
		if (pending[i] == job)
			return (int)i;
	return -1;
}

static void take(size_t i)
{
	memmove(&pending[i], &pending[i + 1], (npending - i - 1) * sizeof(pending[0]));
	npending--;
}

void sup_pool_submit(struct sup_job *job)
{
	if (find(job) >= 0 || job->done == NULL) {
		fprintf(stderr, "fake_pool: job %p submitted twice, or without a callback\n", (void *)job);
		abort();
	}
	if (npending == FAKE_MAX) {
		/* As the real pool does with a full queue: an answer, later. */
		fprintf(stderr, "fake_pool: more than %d jobs at once\n", FAKE_MAX);
		abort();
	}
	job->where = SUP_JOB_QUEUED;
	pending[npending++] = job;
}

void sup_pool_cancel(struct sup_job *job)
{
	int i = find(job);

	if (i < 0) {
		fprintf(stderr, "fake_pool: cancel of job %p, which the pool does not hold\n", (void *)job);
		abort();
	}
	ipc_gather_put(&job->buf);
	job->where = SUP_JOB_OUT;
	take((size_t)i);
}

static void answer(size_t i, unsigned how)
{
	struct sup_job *job = pending[i];
	struct sup_verdict v;

	take(i);
	memset(&v, 0, sizeof(v));
	switch (how % 4) {
	case 0: v.status = IPC_CLEAN; break;
	case 1: v.status = IPC_INFECTED; snprintf(v.name, sizeof(v.name), "Eicar-Test-Signature"); break;
	case 2: v.status = IPC_UNSCANNABLE; v.engine_code = 25; snprintf(v.name, sizeof(v.name), "Heuristics.Limits.Exceeded.MaxFiles"); break;
	default: v.status = IPC_ERROR; v.engine_code = 100; snprintf(v.reason, sizeof(v.reason), "scanner crashed: SIGSEGV"); break;
	}
	ipc_gather_put(&job->buf);
	job->where = SUP_JOB_OUT;
	job->verdict = v;
	job->done(job, &job->verdict);
}

size_t fake_pool_pending(void)
{
	return npending;
}

void fake_pool_answer_one(unsigned v)
{
	if (npending > 0)
		answer(0, v);
}

void fake_pool_answer_all(unsigned v)
{
	while (npending > 0)
		answer(0, v);
}

void fake_pool_set_health(int ok)
{
	healthy = ok;
}

void fake_pool_check_empty(void)
{
	if (npending != 0) {
		fprintf(stderr, "fake_pool: %zu jobs left behind by sessions that are gone\n", npending);
		abort();
	}
}

void sup_pool_reload(const char *why, sup_reload_cb cb, void *ctx)
{
	(void)why;
	if (cb != NULL)
		cb(ctx, 1, "generation 2 serving");
}

const char *sup_pool_engine_version(void)
{
	return "1.4.6";
}

int sup_pool_healthy(char *why, size_t len)
{
	if (!healthy)
		snprintf(why, len, "the database is loading");
	return healthy;
}

void sup_pool_describe(struct sup_pool_info *info)
{
	memset(info, 0, sizeof(*info));
	info->generation = 1;
	info->idle = 2;
	info->healthy = healthy;
}
