/*
 * supervisor/gen.c: generations and reloads (see gen.h). The table in
 * lifecycle.c decides a generation's next state; this file carries out the
 * actions, turns what hosts and slots report into the table's events,
 * starts generations and answers reloads.
 *
 * Must never let a generation that failed replace a serving one, nor
 * believe a worker's birth (not the host's child, or no slot spawning it)
 * or death (its pidfd says it runs) on the host's word alone: a forged
 * record kills the host.
 */
#define _GNU_SOURCE
#include "gen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "../privileges/priv.h"
#include "dbwatch.h"
#include "hostlink.h"
#include "genint.h"
#include "lifecycle.h"
#include "queue.h"
#include "slot.h"
#include "stats.h"
#include "verdicts.h"

struct sup_gens sup_gens;
#define G sup_gens

static void gen_start(int is_reload, const char *why);
static void gen_event(struct sup_gen *g, enum sup_gevent ev);

/* --------------------------------------------------------------- slots */

static void slot_idle(struct sup_slot *s);
static void slot_freed(struct sup_slot *s, int fork_failed);
static void slot_handle_closed(struct sup_slot *s);
static int slot_serving(const struct sup_slot *s);

static const struct sup_slot_ops slot_ops = {
	.idle = slot_idle,
	.freed = slot_freed,
	.handle_closed = slot_handle_closed,
	.serving = slot_serving,
};

static int wants_workers(const struct sup_gen *g)
{
	return !G.closing && (g->state == G_STARTING || g->state == G_CANARY || g->state == G_SERVING);
}

static void spawn_slot(struct sup_gen *g, struct sup_slot *s)
{
	if (wants_workers(g))
		sup_slot_spawn(s, g->host.ctl, g->host.inner_pid);
}

static unsigned live_slots(const struct sup_gen *g, unsigned *spawning, unsigned *up)
{
	unsigned live = 0;

	*spawning = *up = 0;
	for (unsigned i = 0; i < g->nslots; i++) {
		const struct sup_slot *s = &g->slots[i];
		live += sup_slot_live(s);
		*spawning += s->state == W_SPAWNING;
		*up += s->state == W_IDLE || s->state == W_BUSY;
	}
	return live;
}

/* After any slot change: a starting generation may be complete, a draining
 * one empty. */
static void gen_progress(struct sup_gen *g)
{
	unsigned spawning, up, live;

	if (g->settling)
		return;  /* gen_event() looks once every slot was asked */
	live = live_slots(g, &spawning, &up);
	if (g->state == G_STARTING && spawning == 0)
		gen_event(g, up > 0 ? GE_WORKERS_UP : GE_NO_WORKERS);
	else if (g->state == G_DRAINING && live == 0)
		gen_event(g, GE_EMPTY);
}

static void slot_idle(struct sup_slot *s)
{
	struct sup_gen *g = s->owner;

	struct sup_job *job;

	if (g->state == G_STARTING)
		gen_progress(g);
	else if (g->state == G_CANARY && (job = sup_canary_next(&g->canary)) != NULL)
		sup_slot_give(s, job);
	else if (g == G.serving)
		G.hooks->capacity();
}

static void spawn_retry(uv_timer_t *t)
{
	(void)t;
	for (struct sup_gen *g = G.gens; g != NULL; g = g->next)
		for (unsigned i = 0; wants_workers(g) && i < g->nslots; i++)
			if (!sup_slot_live(&g->slots[i]))
				spawn_slot(g, &g->slots[i]);
}

static void slot_freed(struct sup_slot *s, int fork_failed)
{
	struct sup_gen *g = s->owner;

	if (fork_failed) {
		G.spawn_backoff_ms = G.spawn_backoff_ms == 0 ? GEN_BACKOFF_MIN_MS :
		    G.spawn_backoff_ms * 2 > GEN_BACKOFF_MAX_MS ? GEN_BACKOFF_MAX_MS : G.spawn_backoff_ms * 2;
		if (!uv_is_active((uv_handle_t *)&G.spawn_timer)) {
			log_warnx("worker_spawn_backoff", "gen=%u retry_in=%ums "
			    "fix=\"check the scanner user's process and memory limits\"", g->id, G.spawn_backoff_ms);
			(void)uv_timer_start(&G.spawn_timer, spawn_retry, G.spawn_backoff_ms, 0);
		}
	} else if (wants_workers(g) && !uv_is_active((uv_handle_t *)&G.spawn_timer)) {
		spawn_slot(g, s);  /* a per-job fault: replaced at once */
	}
	gen_progress(g);
}

static int all_closed(const struct sup_gen *g)
{
	if (g->host.handles > 0)
		return 0;
	for (unsigned i = 0; i < g->nslots; i++)
		if (g->slots[i].handles > 0)
			return 0;
	return 1;
}

static void handles_changed(struct sup_gen *g)
{
	if (g->state == G_CLOSING && all_closed(g))
		gen_event(g, GE_CLOSED);
}

static void slot_handle_closed(struct sup_slot *s)
{
	handles_changed(s->owner);
}

static int slot_serving(const struct sup_slot *s)
{
	const struct sup_gen *g = s->owner;

	return g == G.serving || g->state == G_CANARY;  /* workers stay on for the next canary */
}

static struct sup_slot *slot_by_id(struct sup_gen *g, uint32_t id)
{
	for (unsigned i = 0; i < g->nslots; i++)
		if (sup_slot_live(&g->slots[i]) && g->slots[i].id == id)
			return &g->slots[i];
	return NULL;
}

/* ---------------------------------------------------------------- host */

static void host_ready(struct sup_host *h, const struct ipc_ready *r);
static void host_worker_up(struct sup_host *h, uint32_t worker, pid_t pid, pid_t ns_pid, int pidfd);
static void host_worker_exit(struct sup_host *h, const struct ipc_worker_exit *e);
static void host_exited(struct sup_host *h, const char *reason);
static void host_handle_closed(struct sup_host *h);

static const struct sup_host_ops host_ops = {
	.ready = host_ready,
	.worker_up = host_worker_up,
	.worker_exit = host_worker_exit,
	.exited = host_exited,
	.handle_closed = host_handle_closed,
};

static void host_ready(struct sup_host *h, const struct ipc_ready *r)
{
	struct sup_gen *g = h->owner;

	snprintf(g->engine, sizeof(g->engine), "%s", r->engine);
	snprintf(g->database, sizeof(g->database), "%s", r->database);
	g->database_built = r->database_built;
	g->have_print = r->have_print == 1;
	memcpy(g->database_print, r->database_print, sizeof(g->database_print));
	g->sigs = r->signatures;
	/* The back-off is not reset here: a host that dies right after READY
	 * is a start-up failure too (act_lost_serving decides). */
	if (!g->is_reload || G.serving == NULL)
		G.start_failed = 0;
	log_info("host_ready", "gen=%u pid=%d signatures=%u engine=%s database=\"%s\" load_ms=%.0f "
	    "engine_mb=%u huge_mb=%u", g->id, (int)h->pid, g->sigs, g->engine, g->database,
	    (double)(h->ready_ns - h->started_ns) / 1e6, r->engine_mb, r->huge_mb);
	if (r->missing != 0)
		log_warnx("sandbox_layer_missing", "layers=%s%s%s "
		    "fix=\"enable unprivileged user namespaces (and user.max_pid_namespaces) / Landlock in the kernel "
		    "for full containment\"",
		    (r->missing & PRIV_MISSING_NAMESPACES) ? "namespaces," : "",
		    (r->missing & PRIV_MISSING_PIDNS) ? "pid-namespace," : "",
		    (r->missing & PRIV_MISSING_LANDLOCK) ? "landlock," : "");
	gen_event(g, GE_HOST_READY);
}

static void host_worker_up(struct sup_host *h, uint32_t worker, pid_t pid, pid_t ns_pid, int pidfd)
{
	struct sup_gen *g = h->owner;
	struct sup_slot *s = slot_by_id(g, worker);

	if (s == NULL || s->state != W_SPAWNING) {
		if (pidfd >= 0)
			close(pidfd);
		sup_host_misbehaved(h, "WORKER_UP for worker %u, which is not being spawned", worker);
		return;
	}
	G.spawn_backoff_ms = 0;  /* forks work again */
	sup_slot_up(s, pid, ns_pid, pidfd);
}

/*
 * A worker's death is believed when the supervisor can see it: its pidfd
 * says the process is gone. A report for a worker that still runs is a
 * forgery (its job would be failed, its content poisoned): the host dies.
 */
static void host_worker_exit(struct sup_host *h, const struct ipc_worker_exit *e)
{
	struct sup_gen *g = h->owner;
	struct sup_slot *s = slot_by_id(g, e->worker);
	int gone;

	if (s == NULL) {
		sup_host_misbehaved(h, "WORKER_EXIT for worker %u, which it does not have", e->worker);
		return;
	}
	if (s->state == W_SPAWNING && e->pid == 0) {
		sup_slot_fork_failed(s, e->reason[0] ? e->reason : "fork failed");
		return;
	}
	if (e->pid != s->ns_pid) {
		sup_host_misbehaved(h, "WORKER_EXIT for worker %u as pid %d; it is pid %d", e->worker,
		    (int)e->pid, (int)s->ns_pid);
		return;
	}
	if ((gone = sup_slot_gone(s)) == 0) {
		sup_host_misbehaved(h, "worker %u (pid %d) reported dead while it runs", e->worker, (int)e->pid);
		return;
	}
	sup_slot_exited(s, e->status, gone == 1);
}

static void host_exited(struct sup_host *h, const char *reason)
{
	struct sup_gen *g = h->owner;

	snprintf(g->failure, sizeof(g->failure), "%s", reason);
	gen_event(g, GE_HOST_EXIT);
}

static void host_handle_closed(struct sup_host *h)
{
	handles_changed(h->owner);
}

/* ------------------------------------------------------------- reloads */

static void reload_answer(int ok, const char *fmt, ...) PLAT_PRINTF(2, 3);

/* Every waiting reload request gets the same answer. */
static void reload_answer(int ok, const char *fmt, ...)
{
	struct reload_waiter w[GEN_RELOAD_WAITERS];
	unsigned n = G.nwaiters;
	char msg[IPC_TEXT_MAX];
	va_list ap;

	if (n == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A callback may ask for another reload: answer from a copy. */
	memcpy(w, G.waiters, n * sizeof(w[0]));
	G.nwaiters = 0;
	for (unsigned i = 0; i < n; i++)
		w[i].cb(w[i].ctx, ok, msg);
}

void sup_gens_reload(const char *why, sup_reload_cb cb, void *ctx)
{
	if (G.closing) {
		if (cb != NULL)
			cb(ctx, 0, "avwarden is shutting down");
		return;
	}
	if (cb != NULL) {
		if (G.nwaiters == GEN_RELOAD_WAITERS) {
			cb(ctx, 0, "too many reload requests waiting; one is already in progress");
			return;
		}
		G.waiters[G.nwaiters++] = (struct reload_waiter){ cb, ctx };
	}
	if (G.loading != NULL) {
		/* Overlapping reloads: one load, and every requester hears how it went. */
		log_info("reload_coalesced", "reason=\"%s\" gen=%u", why, G.loading->id);
		return;
	}
	gen_start(1, why);
}

/* ------------------------------------------------------------- actions */

static void restart_timer_cb(uv_timer_t *t)
{
	(void)t;
	gen_start(0, "restart");
}

static void schedule_restart(int failed)
{
	unsigned delay = 0;

	if (G.closing)
		return;
	if (failed) {
		delay = G.backoff_ms;
		G.backoff_ms = G.backoff_ms * 2 > GEN_BACKOFF_MAX_MS ? GEN_BACKOFF_MAX_MS : G.backoff_ms * 2;
	}
	(void)uv_timer_start(&G.restart_timer, restart_timer_cb, delay, 0);
}

static void act_promote(struct sup_gen *g)
{
	struct sup_gen *old = G.serving;
	double ms = (double)(plat_now_ns() - g->host.started_ns) / 1e6;

	G.loading = NULL;
	G.serving = g;
	g->loaded_at = time(NULL);
	/* Verdicts of the old signatures must not answer for the new ones. */
	sup_verdicts_forget();
	if (old != NULL) {
		sup_counters.reloads++;
		snprintf(G.last_reload, sizeof(G.last_reload), "generation %u serving since %ld, %u signatures",
		    g->id, (long)g->loaded_at, g->sigs);
		log_info("reload_done", "gen=%u signatures=%u database=\"%s\" ms=%.0f replaces=%u",
		    g->id, g->sigs, g->database, ms, old->id);
		gen_event(old, GE_REPLACED);
	} else {
		log_info("generation_serving", "gen=%u signatures=%u database=\"%s\" ms=%.0f",
		    g->id, g->sigs, g->database, ms);
	}
	reload_answer(1, "generation %u serving: %u signatures, database %s, loaded in %.0f ms",
	    g->id, g->sigs, g->database, ms);
	G.hooks->ready();
	G.hooks->capacity();
}

/* A generation that never served: a failed reload, or no scanner at all. */
static void act_load_failed(struct sup_gen *g)
{
	const char *reason = g->failure[0] ? g->failure : "no worker could be started";

	if (G.loading == g)
		G.loading = NULL;
	if (G.serving != NULL) {
		sup_counters.reload_failures++;
		G.failed_print = g->db_print;
		snprintf(G.last_reload, sizeof(G.last_reload), "generation %u failed: %.400s", g->id, reason);
		log_errx("reload_failed", "gen=%u reason=\"%s\" action=\"generation %u keeps serving\" "
		    "fix=\"check the database (clamscan -d DIR), then avwardenctl reload\"",
		    g->id, reason, G.serving->id);
		reload_answer(0, "reload failed: %s; generation %u keeps serving", reason, G.serving->id);
		return;
	}
	G.start_failed = 1;
	snprintf(G.last_failure, sizeof(G.last_failure), "%s", reason);
	log_errx("host_failed", "reason=\"%s\" retry_in=%ums "
	    "fix=\"check scanner_path, database and user in the config; run avwarden --check-config\"",
	    reason, G.backoff_ms);
	reload_answer(0, "reload failed: %s; no scanner is serving, retrying in %u ms", reason, G.backoff_ms);
	G.hooks->unavailable("no scanner available: scanner host failed to start");
	schedule_restart(1);
}

static void act_lost_serving(struct sup_gen *g)
{
	uint64_t lived_ms = (plat_now_ns() - g->host.ready_ns) / 1000000u;
	uint64_t answered = 0;
	int stable;

	for (unsigned i = 0; i < g->nslots; i++)
		answered += g->slots[i].answered;
	stable = lived_ms >= GEN_STABLE_MS || answered > 0;

	G.serving = NULL;
	sup_counters.host_restarts++;
	/* A host that served a job (a worker's crash on its job counts), or
	 * served for a while, is replaced at once and the back-off starts over;
	 * one that dies soon after READY without a job, again and again, backs
	 * off like one that cannot start. */
	if (stable)
		G.backoff_ms = GEN_BACKOFF_MIN_MS;
	log_warnx("host_exit", "gen=%u pid=%d reason=\"%s\" served_ms=%llu jobs=%llu action=restart "
	    "retry_in=%ums", g->id, (int)g->host.pid, g->failure, (unsigned long long)lived_ms,
	    (unsigned long long)answered, stable ? 0 : G.backoff_ms);
	G.start_failed = 0;
	/* A reload already loading takes over; else a new generation. */
	if (G.loading == NULL)
		schedule_restart(!stable);
}

static void act_reset_workers(struct sup_gen *g)
{
	const char *why = G.closing ? G.close_reason : "scanner host exited during the scan";

	for (unsigned i = 0; i < g->nslots; i++)
		sup_slot_host_lost(&g->slots[i], why);
	if (g->state == G_CLOSING && G.loading == g)
		G.loading = NULL;
}

static void act_free(struct sup_gen *g)
{
	for (struct sup_gen **pp = &G.gens; *pp != NULL; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	sup_canary_forget(&g->canary);
	free(g->slots);
	free(g);
}

static void canary_finished(void *owner, int ok, const char *why)
{
	struct sup_gen *g = owner;

	if (ok) {
		log_info("canary_passed", "gen=%u canaries=%u", g->id, sup_canary_count());
		gen_event(g, GE_CANARY_PASSED);
		return;
	}
	snprintf(g->failure, sizeof(g->failure), "%s", why);
	log_errx("canary_failed", "gen=%u reason=\"%s\" fix=\"the new database breaks the scanner on a known "
	    "message: keep the old one (freshclam's previous files), or set canary = false to load it anyway\"",
	    g->id, why);
	gen_event(g, GE_CANARY_FAILED);
}

/* The canary set goes to the generation's idle workers, one each; the rest
 * as they come free (slot_idle). */
static void act_run_canary(struct sup_gen *g)
{
	struct sup_job *job;

	sup_canary_start(&g->canary, g, canary_finished);
	if (!G.cfg->canary) {
		gen_event(g, GE_CANARY_PASSED);
		return;
	}
	for (unsigned i = 0; i < g->nslots; i++)
		if (g->slots[i].state == W_IDLE && (job = sup_canary_next(&g->canary)) != NULL)
			sup_slot_give(&g->slots[i], job);
}

/* Runs the table's actions for one event, in bit order. */
static void gen_event(struct sup_gen *g, enum sup_gevent ev)
{
	struct sup_gtransition t = sup_gl_next(g->state, ev);
	unsigned a = t.actions;

	if (!t.valid) {
		log_debug("generation_event_ignored", "gen=%u state=%s event=%s",
		    g->id, sup_gl_state_name(g->state), sup_gl_event_name(ev));
		return;
	}
	if (g->retired && ev == GE_HOST_EXIT)
		log_info("generation_retired", "gen=%u pid=%d", g->id, (int)g->host.pid);
	g->state = t.next;
	if (a & GA_SPAWN_WORKERS) {
		g->settling = 1;
		for (unsigned i = 0; i < g->nslots; i++)
			spawn_slot(g, &g->slots[i]);
		g->settling = 0;
	}
	if (a & GA_RUN_CANARY)
		act_run_canary(g);
	if (a & GA_PROMOTE)
		act_promote(g);
	if (a & GA_LOAD_FAILED)
		act_load_failed(g);
	if (a & GA_RETIRE) {
		g->retired = 1;
		log_info("generation_drain", "gen=%u", g->id);
		for (unsigned i = 0; i < g->nslots; i++)
			sup_slot_retire(&g->slots[i]);
	}
	if (a & GA_KILL_HOST)
		sup_host_kill(&g->host);
	if (a & GA_RESET_WORKERS)
		act_reset_workers(g);
	if (a & GA_LOST_SERVING)
		act_lost_serving(g);
	if (a & GA_CLOSE)
		for (unsigned i = 0; i < g->nslots; i++)
			sup_slot_close(&g->slots[i]);
	if (a & GA_FREE) {
		act_free(g);
		return;
	}
	/* Events that follow from the new state. */
	if (g->state == G_STARTING || g->state == G_DRAINING)
		gen_progress(g);
	handles_changed(g);
}

/* --------------------------------------------------------------- start */

static struct sup_gen *gen_new(int is_reload)
{
	struct sup_gen *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	/* max_concurrency scan at most; the spares wait, forked and contained. */
	g->nslots = G.cfg->max_concurrency + G.cfg->spare_workers;
	g->slots = calloc(g->nslots, sizeof(*g->slots));
	if (g->slots == NULL) {
		free(g);
		return NULL;
	}
	g->id = ++G.next_id;
	g->state = G_LOADING;
	g->is_reload = is_reload;
	g->host.owner = g;
	g->host.ops = &host_ops;
	g->host.gen_id = g->id;
	g->host.ctl = -1;
	for (unsigned i = 0; i < g->nslots; i++)
		if (sup_slot_init(&g->slots[i], g, &slot_ops, g->id, i) < 0)
			fatalx("generation", "reason=\"cannot initialise a slot timer\"");
	g->next = G.gens;
	G.gens = g;
	return g;
}

static void gen_start(int is_reload, const char *why)
{
	char err[IPC_TEXT_MAX];
	struct sup_gen *g;

	if (G.closing || G.loading != NULL)
		return;
	(void)uv_timer_stop(&G.restart_timer);
	if ((g = gen_new(is_reload)) == NULL) {
		log_warn("host_failed", "step=alloc");
		schedule_restart(1);
		return;
	}
	G.loading = g;
	g->db_print = sup_db_fingerprint(G.cfg->database);
	if (sup_host_start(&g->host, G.loop, G.cfg, &G.plan, why, err, sizeof(err)) < 0) {
		log_errx("host_spawn", "reason=\"%s\" "
		    "fix=\"point scanner_path at avwarden-scanner (or a wrapper that execs it), executable by user %s\"",
		    err, G.cfg->user);
		snprintf(g->failure, sizeof(g->failure), "%s", err);
		gen_event(g, GE_HOST_EXIT);  /* it never ran */
	}
}

/* ----------------------------------------------------------------- API */

int sup_gens_init(uv_loop_t *loop, const struct sup_config *cfg, const struct sup_gen_hooks *hooks)
{
	const char *step = NULL;
	int unprivileged = 0, rc;

	memset(&G, 0, sizeof(G));
	G.loop = loop;
	G.cfg = cfg;
	G.hooks = hooks;
	G.backoff_ms = GEN_BACKOFF_MIN_MS;
	if ((rc = uv_timer_init(loop, &G.restart_timer)) < 0 || (rc = uv_timer_init(loop, &G.spawn_timer)) < 0)
		return rc;
	if ((rc = priv_spawn_plan(cfg->user, &G.plan, &unprivileged, &step)) < 0)
		return rc;
	if (unprivileged)
		log_warnx("unprivileged", "uid=%d reason=\"not started as root: scanners run as "
		    "this uid, not as user %s\"", (int)geteuid(), cfg->user);
	sup_slots_configure(loop, cfg);
	gen_start(0, "start");
	return 0;
}

void sup_gens_close(const char *reason)
{
	G.closing = 1;
	snprintf(G.close_reason, sizeof(G.close_reason), "%s", reason);
	uv_close((uv_handle_t *)&G.restart_timer, NULL);
	uv_close((uv_handle_t *)&G.spawn_timer, NULL);
	reload_answer(0, "avwarden is shutting down");
	/* Each host's exit resets its slots and closes the rest. */
	for (struct sup_gen *g = G.gens, *next; g != NULL; g = next) {
		next = g->next;
		gen_event(g, GE_SHUTDOWN);
	}
	G.serving = G.loading = NULL;
}

void sup_gens_free(void)
{
	struct sup_gen *g;

	/* Normally none is left: the loop ran until every handle closed. */
	while ((g = G.gens) != NULL) {
		G.gens = g->next;
		free(g->slots);
		free(g);
	}
}
