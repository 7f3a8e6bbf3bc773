/*
 * supervisor/queue.c: the job queue with its deadline, and the answer list
 * drained in the loop's check phase (see queue.h).
 */
#define _GNU_SOURCE
#include "queue.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

static struct {
	uv_loop_t *loop;
	const struct sup_config *cfg;
	struct sup_job *qhead, *qtail;
	size_t qlen;
	uv_timer_t timer;         /* the oldest queued job's deadline */
	/*
	 * Answered jobs wait here for the check phase of the loop: a done
	 * callback never runs inside a pool call (a submit answered from the
	 * cache, a reload failing the queue, ...), so a caller never finds its
	 * request answered, and maybe freed, under its feet.
	 */
	uv_check_t check;
	uv_idle_t idle;           /* keeps poll from blocking while answers wait */
	struct sup_job *ahead, *atail;
	uint32_t turn;            /* answers stamped with it go out this turn */
	void (*answered)(void);
	int closing;
} Q;

static void queue_arm(void);

void sup_verdict_error(struct sup_verdict *v, int32_t code, const char *fmt, ...)
{
	va_list ap;

	memset(v, 0, sizeof(*v));
	v->status = IPC_ERROR;
	v->engine_code = code;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

static void log_answer(const struct sup_job *job, const struct sup_verdict *v, const struct sup_answer_by *by, uint64_t ns)
{
	uint32_t worker = by ? by->worker : 0, gen = by ? by->gen : 0;
	/* Why it was not scanned whole, by Momentum's name where it has one. */
	const char *code = v->status == IPC_ERROR || v->status == IPC_UNSCANNABLE ? ipc_code_name(v->engine_code) : NULL;

	if (v->status == IPC_ERROR)
		log_warnx("scan", "id=%" PRIu64 " size=%zu ms=%.3f verdict=ERROR reason=\"%s\"%s%s worker=%u gen=%u",
		    job->id, job->len, (double)ns / 1e6, v->reason, code ? " code=" : "", code ? code : "", worker, gen);
	else
		log_info("scan", "id=%" PRIu64 " size=%zu ms=%.3f verdict=%s%s%s%s%s %s=%u",
		    job->id, job->len, (double)ns / 1e6, ipc_status_name(v->status),
		    v->name[0] ? " virus=" : "", v->name, code ? " code=" : "", code ? code : "",
		    job->cached ? "cached_gen" : "worker", job->cached ? job->cached : worker);
}

static void idle_cb(uv_idle_t *h)
{
	(void)h;  /* only there to keep the loop from blocking in poll */
}

static void close_handles(void)
{
	if (uv_is_closing((uv_handle_t *)&Q.check))
		return;
	uv_close((uv_handle_t *)&Q.check, NULL);
	uv_close((uv_handle_t *)&Q.idle, NULL);
}

/*
 * Hands answered jobs to their owners. Only those answered before this
 * turn (stamped with it): a callback that submits again (the next file of a CONTSCAN,
 * answered from the cache) is answered on the next turn, so nothing
 * recurses and a long run of instant answers cannot starve the sockets.
 */
static void check_cb(uv_check_t *h)
{
	uint32_t turn = Q.turn++;
	struct sup_job *job;
	int any = 0;

	(void)h;
	/* One at a time off the head: a callback may cancel any other job. */
	while ((job = Q.ahead) != NULL && job->turn == turn) {
		Q.ahead = job->next;
		if (Q.ahead == NULL)
			Q.atail = NULL;
		job->next = NULL;
		job->where = SUP_JOB_OUT;
		job->done(job, &job->verdict);
		any = 1;
	}
	if (any && Q.answered != NULL)
		Q.answered();
	if (Q.ahead == NULL)
		(void)uv_idle_stop(&Q.idle);
	if (Q.closing && Q.ahead == NULL)
		close_handles();
}

void sup_job_answer(struct sup_job *job, const struct sup_verdict *v, const struct sup_answer_by *by)
{
	uint64_t ns = plat_now_ns() - job->t_submit;

	if (!job->internal) {
		sup_stats_answered(v->status, v->engine_code, ns);
		sup_verdicts_tell(job, v, by);
		log_answer(job, v, by, ns);
	}
	ipc_gather_put(&job->buf);
	job->slot = NULL;
	job->verdict = *v;
	job->next = NULL;
	job->where = SUP_JOB_ANSWERED;
	job->turn = Q.turn;
	if (Q.atail)
		Q.atail->next = job;
	else
		Q.ahead = job;
	Q.atail = job;
	if (!uv_is_active((uv_handle_t *)&Q.idle))
		(void)uv_idle_start(&Q.idle, idle_cb);
}

void sup_job_error(struct sup_job *job, int32_t code, const char *fmt, ...)
{
	struct sup_verdict v;
	va_list ap;

	memset(&v, 0, sizeof(v));
	v.status = IPC_ERROR;
	v.engine_code = code;
	va_start(ap, fmt);
	vsnprintf(v.reason, sizeof(v.reason), fmt, ap);
	va_end(ap);
	sup_job_answer(job, &v, NULL);
}

/* A queued job waits for a worker at most `timeout`, like a scan. */
static void queue_expired(uv_timer_t *t)
{
	uint64_t now = plat_now_ns(), limit = (uint64_t)Q.cfg->timeout * 1000000000ull;

	(void)t;
	while (Q.qhead != NULL && now - Q.qhead->t_submit >= limit)
		sup_job_error(sup_queue_pop(), IPC_CODE_UNAVAILABLE, "no scanner available within %u s", Q.cfg->timeout);
	queue_arm();
}

static void queue_arm(void)
{
	uint64_t limit = (uint64_t)Q.cfg->timeout * 1000000000ull, waited;

	if (Q.closing)
		return;
	if (Q.qhead == NULL) {
		(void)uv_timer_stop(&Q.timer);
		return;
	}
	waited = plat_now_ns() - Q.qhead->t_submit;
	(void)uv_timer_start(&Q.timer, queue_expired, waited >= limit ? 0 : (limit - waited + 999999) / 1000000, 0);
}

int sup_queue_init(uv_loop_t *loop, const struct sup_config *cfg, void (*answered)(void))
{
	int rc;

	memset(&Q, 0, sizeof(Q));
	Q.loop = loop;
	Q.cfg = cfg;
	Q.answered = answered;
	if ((rc = uv_timer_init(loop, &Q.timer)) < 0 || (rc = uv_check_init(loop, &Q.check)) < 0 ||
	    (rc = uv_idle_init(loop, &Q.idle)) < 0 || (rc = uv_check_start(&Q.check, check_cb)) < 0)
		return rc;
	/* The check handle alone must not keep the loop alive; the idle one,
	 * active only while answers wait, does. */
	uv_unref((uv_handle_t *)&Q.check);
	return 0;
}

void sup_queue_push(struct sup_job *job)
{
	job->next = NULL;
	job->where = SUP_JOB_QUEUED;
	if (Q.qtail)
		Q.qtail->next = job;
	else
		Q.qhead = job;
	Q.qtail = job;
	if (++Q.qlen == 1)
		queue_arm();
}

struct sup_job *sup_queue_pop(void)
{
	struct sup_job *job = Q.qhead;

	if (job == NULL)
		return NULL;
	Q.qhead = job->next;
	if (Q.qhead == NULL)
		Q.qtail = NULL;
	Q.qlen--;
	job->next = NULL;
	job->where = SUP_JOB_OUT;
	queue_arm();
	return job;
}

size_t sup_queue_len(void)
{
	return Q.qlen;
}

/* Unlinks job from a singly linked list; 1 if it was there. */
static int unlink_from(struct sup_job **head, struct sup_job **tail, struct sup_job *job)
{
	struct sup_job *prev = NULL;

	for (struct sup_job *j = *head; j != NULL; prev = j, j = j->next) {
		if (j != job)
			continue;
		if (prev)
			prev->next = j->next;
		else
			*head = j->next;
		if (*tail == j)
			*tail = prev;
		j->next = NULL;
		j->where = SUP_JOB_OUT;
		return 1;
	}
	return 0;
}

int sup_queue_remove(struct sup_job *job)
{
	if (job->where == SUP_JOB_QUEUED && unlink_from(&Q.qhead, &Q.qtail, job)) {
		Q.qlen--;
		ipc_gather_put(&job->buf);
		queue_arm();
		return 1;
	}
	if (job->where == SUP_JOB_ANSWERED)
		return unlink_from(&Q.ahead, &Q.atail, job);
	return 0;
}

int sup_queue_replace(struct sup_job *job, struct sup_job *by)
{
	struct sup_job **head = job->where == SUP_JOB_QUEUED ? &Q.qhead : &Q.ahead;
	struct sup_job **tail = job->where == SUP_JOB_QUEUED ? &Q.qtail : &Q.atail;

	if (job->where != SUP_JOB_QUEUED && job->where != SUP_JOB_ANSWERED)
		return 0;
	for (struct sup_job **pp = head, *prev = NULL; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		if (*pp != job)
			continue;
		by->next = job->next;
		by->where = job->where;
		by->turn = job->turn;
		by->verdict = job->verdict;
		by->t_submit = job->t_submit;
		*pp = by;
		if (*tail == job)
			*tail = by;
		(void)prev;
		job->next = NULL;
		job->where = SUP_JOB_OUT;
		return 1;
	}
	return 0;
}

void sup_queue_fail_all(int32_t code, const char *reason)
{
	struct sup_job *job;

	while ((job = sup_queue_pop()) != NULL)
		sup_job_error(job, code, "%s", reason);
}

void sup_queue_close(void)
{
	Q.closing = 1;
	uv_close((uv_handle_t *)&Q.timer, NULL);
	if (Q.ahead == NULL)
		close_handles();  /* else check_cb() does, once they are handed over */
}
