/*
 * supervisor/join.c: one scan for identical content in flight (see join.h).
 *
 * A leader's done callback is join.c's own (fanout); its owner's is kept in
 * orig_done. The fanout runs in the check phase like any answer: it takes
 * the leader off the list, answers its followers one at a time (a callback
 * may cancel another follower), then the leader's owner.
 */
#include "join.h"

#include <string.h>

#include "../platform/plat.h"
#include "queue.h"
#include "slot.h"
#include "stats.h"

static struct {
	struct sup_job *leaders;
	uint64_t joined;
} J;

static void unlist(struct sup_job *l)
{
	if (l->lprev)
		l->lprev->lnext = l->lnext;
	else if (J.leaders == l)
		J.leaders = l->lnext;
	if (l->lnext)
		l->lnext->lprev = l->lprev;
	l->lprev = l->lnext = NULL;
}

static void list(struct sup_job *l)
{
	l->lprev = NULL;
	l->lnext = J.leaders;
	if (J.leaders)
		J.leaders->lprev = l;
	J.leaders = l;
}

static void fanout(struct sup_job *l, const struct sup_verdict *v)
{
	struct sup_job *f;

	unlist(l);
	while ((f = l->followers) != NULL) {
		l->followers = f->fnext;
		f->fnext = NULL;
		f->leader = NULL;
		f->where = SUP_JOB_OUT;
		f->verdict = *v;
		J.joined++;
		sup_counters.joined++;
		sup_stats_answered(v->status, v->engine_code, plat_now_ns() - f->t_submit);
		log_info("scan", "id=%llu size=%zu verdict=%s%s%s joined=%llu", (unsigned long long)f->id, f->len,
		    ipc_status_name(v->status), v->name[0] ? " virus=" : "", v->name, (unsigned long long)l->id);
		f->done(f, &f->verdict);
	}
	l->done = l->orig_done;
	l->orig_done = NULL;
	l->done(l, v);
}

int sup_join_try(struct sup_job *job, uint32_t gen)
{
	if (!job->have_hash || gen == 0 || job->internal || job->allmatch)
		return 0;
	for (struct sup_job *l = J.leaders; l != NULL; l = l->lnext) {
		if (l->join_gen != gen || memcmp(l->hash, job->hash, sizeof(job->hash)) != 0)
			continue;
		/* Its bytes are not needed: the leader's are scanned. */
		ipc_gather_put(&job->buf);
		job->leader = l;
		job->where = SUP_JOB_JOINED;
		job->fnext = l->followers;
		l->followers = job;
		return 1;
	}
	return 0;
}

void sup_join_lead(struct sup_job *job, uint32_t gen)
{
	if (!job->have_hash || gen == 0 || job->internal || job->allmatch)
		return;
	job->join_gen = gen;
	job->followers = NULL;
	job->orig_done = job->done;
	job->done = fanout;
	list(job);
}

/* The first follower takes the leader's place; the rest follow it. */
static void promote(struct sup_job *l)
{
	struct sup_job *f = l->followers;

	l->followers = NULL;
	f->followers = f->fnext;
	f->fnext = NULL;
	f->leader = NULL;
	for (struct sup_job *o = f->followers; o != NULL; o = o->fnext)
		o->leader = f;
	f->join_gen = l->join_gen;
	f->orig_done = f->done;
	f->done = fanout;
	unlist(l);
	list(f);
	if (l->where == SUP_JOB_SCANNING && l->slot != NULL) {
		sup_slot_swap_job(l->slot, f);
	} else {
		/* Queued: f takes the bytes (the same), and the place. Answered:
		 * f takes the answer. */
		f->buf = l->buf;
		memset(&l->buf, 0, sizeof(l->buf));
		(void)sup_queue_replace(l, f);
	}
	l->done = l->orig_done;
	l->orig_done = NULL;
}

int sup_join_cancel(struct sup_job *job)
{
	if (job->where == SUP_JOB_JOINED) {
		struct sup_job **pp = &job->leader->followers;
		while (*pp != NULL && *pp != job)
			pp = &(*pp)->fnext;
		if (*pp == job)
			*pp = job->fnext;
		job->fnext = NULL;
		job->leader = NULL;
		job->where = SUP_JOB_OUT;
		return 1;
	}
	if (job->orig_done == NULL)
		return 0;  /* not a leader */
	if (job->followers != NULL) {
		promote(job);
		return 1;
	}
	unlist(job);
	job->done = job->orig_done;
	job->orig_done = NULL;
	return 0;
}

uint64_t sup_join_count(void)
{
	return J.joined;
}
