/*
 * supervisor/lifecycle.c: the worker and generation lifecycle tables (see
 * lifecycle.h).
 *
 * Reading guide: every fault path goes through W_DYING (the process may
 * still run until SIGKILL lands) and then W_CLOSING (handles closing) before
 * the slot is free and a replacement is forked. A job is answered exactly
 * once: by A_ANSWER_RESULT on a good result, or by A_ANSWER_FAULT at the
 * first event that knows the cause (timeout, malformed result, exit status).
 */
#include "lifecycle.h"

#define T(next, actions) { 1, (next), (actions) }

static const struct sup_wtransition table[W_NSTATES][W_NEVENTS] = {
	[W_FREE] = {
		[EV_SPAWN] = T(W_SPAWNING, A_REQUEST_FORK),
	},
	[W_SPAWNING] = {
		[EV_UP] = T(W_IDLE, A_WATCH | A_IDLE),
		[EV_FORK_FAILED] = T(W_CLOSING, A_RELEASE),
		[EV_HOST_LOST] = T(W_CLOSING, A_RELEASE),
	},
	[W_IDLE] = {
		[EV_JOB] = T(W_BUSY, A_SEND_JOB),
		[EV_MALFORMED] = T(W_DYING, A_STOP_WATCH | A_KILL),
		[EV_HANGUP] = T(W_DYING, A_STOP_WATCH | A_KILL),
		[EV_EXIT] = T(W_CLOSING, A_STOP_WATCH | A_RELEASE),
		[EV_HOST_LOST] = T(W_CLOSING, A_STOP_WATCH | A_KILL | A_RELEASE),
		[EV_RETIRE] = T(W_DYING, A_STOP_WATCH | A_CLOSE_CHANNEL),
	},
	[W_BUSY] = {
		[EV_RESULT] = T(W_IDLE, A_STOP_TIMER | A_ANSWER_RESULT | A_IDLE),
		[EV_RESULT_LAST] = T(W_DYING, A_STOP_TIMER | A_STOP_WATCH | A_CLOSE_CHANNEL | A_ANSWER_RESULT),
		[EV_MALFORMED] = T(W_DYING, A_STOP_TIMER | A_STOP_WATCH | A_KILL | A_ANSWER_FAULT),
		[EV_TIMEOUT] = T(W_DYING, A_STOP_TIMER | A_STOP_WATCH | A_KILL | A_ANSWER_FAULT),
		/* Died on its own: the exit report will name the signal. */
		[EV_HANGUP] = T(W_DYING, A_STOP_WATCH | A_KILL),
		[EV_EXIT] = T(W_CLOSING, A_STOP_TIMER | A_STOP_WATCH | A_ANSWER_FAULT | A_RELEASE),
		[EV_HOST_LOST] = T(W_CLOSING, A_STOP_TIMER | A_STOP_WATCH | A_KILL | A_ANSWER_FAULT | A_RELEASE),
		[EV_CANCEL] = T(W_DYING, A_STOP_TIMER | A_STOP_WATCH | A_KILL | A_DROP_JOB),
	},
	[W_DYING] = {
		/* Still holding a job only if it hung up mid-scan. */
		[EV_TIMEOUT] = T(W_DYING, A_STOP_TIMER | A_KILL | A_ANSWER_FAULT),
		[EV_EXIT] = T(W_CLOSING, A_STOP_TIMER | A_ANSWER_FAULT | A_RELEASE),
		[EV_HOST_LOST] = T(W_CLOSING, A_STOP_TIMER | A_ANSWER_FAULT | A_RELEASE),
		[EV_CANCEL] = T(W_DYING, A_DROP_JOB),
	},
	[W_CLOSING] = {
		[EV_CLOSED] = T(W_FREE, A_FREED),
	},
};

struct sup_wtransition sup_wl_next(enum sup_wstate s, enum sup_wevent e)
{
	struct sup_wtransition none = { 0, 0, 0 };

	if ((unsigned)s >= W_NSTATES || (unsigned)e >= W_NEVENTS)
		return none;
	return table[s][e];
}

const char *sup_wl_state_name(enum sup_wstate s)
{
	static const char *const n[W_NSTATES] = {
		"free", "spawning", "idle", "busy", "dying", "closing",
	};

	return (unsigned)s < W_NSTATES ? n[s] : "?";
}

const char *sup_wl_event_name(enum sup_wevent e)
{
	static const char *const n[W_NEVENTS] = {
		"spawn", "up", "fork_failed", "job", "result", "result_last", "malformed",
		"timeout", "hangup", "exit", "host_lost", "closed", "retire", "cancel",
	};

	return (unsigned)e < W_NEVENTS ? n[e] : "?";
}

#define G(next, actions) { 1, (next), (actions) }
/* The host is gone: every worker with it, then the handles. */
#define GONE (GA_RESET_WORKERS | GA_CLOSE)

/*
 * Reading guide: no generation serves before its canary passed; it ends
 * through STOPPING (host killed) or
 * straight to CLOSING when its host dies; only one that never served says
 * LOAD_FAILED, only a serving one LOST_SERVING, and nothing leaves CLOSING
 * but the last handle's close.
 */
static const struct sup_gtransition gtable[G_NSTATES][G_NEVENTS] = {
	[G_LOADING] = {
		[GE_HOST_READY] = G(G_STARTING, GA_SPAWN_WORKERS),
		[GE_HOST_EXIT] = G(G_CLOSING, GA_LOAD_FAILED | GONE),
		[GE_SHUTDOWN] = G(G_STOPPING, GA_KILL_HOST),
	},
	[G_STARTING] = {
		[GE_WORKERS_UP] = G(G_CANARY, GA_RUN_CANARY),
		[GE_NO_WORKERS] = G(G_STOPPING, GA_LOAD_FAILED | GA_KILL_HOST),
		[GE_HOST_EXIT] = G(G_CLOSING, GA_LOAD_FAILED | GONE),
		[GE_SHUTDOWN] = G(G_STOPPING, GA_KILL_HOST),
	},
	[G_CANARY] = {
		[GE_CANARY_PASSED] = G(G_SERVING, GA_PROMOTE),
		[GE_CANARY_FAILED] = G(G_STOPPING, GA_LOAD_FAILED | GA_KILL_HOST),
		[GE_HOST_EXIT] = G(G_CLOSING, GA_LOAD_FAILED | GONE),
		[GE_SHUTDOWN] = G(G_STOPPING, GA_KILL_HOST),
	},
	[G_SERVING] = {
		[GE_REPLACED] = G(G_DRAINING, GA_RETIRE),
		[GE_HOST_EXIT] = G(G_CLOSING, GONE | GA_LOST_SERVING),
		[GE_SHUTDOWN] = G(G_STOPPING, GA_KILL_HOST),
	},
	[G_DRAINING] = {
		[GE_EMPTY] = G(G_STOPPING, GA_KILL_HOST),
		[GE_HOST_EXIT] = G(G_CLOSING, GONE),
		[GE_SHUTDOWN] = G(G_STOPPING, GA_KILL_HOST),
	},
	[G_STOPPING] = {
		[GE_HOST_EXIT] = G(G_CLOSING, GONE),
	},
	[G_CLOSING] = {
		[GE_CLOSED] = G(G_FREE, GA_FREE),
	},
};

struct sup_gtransition sup_gl_next(enum sup_gstate s, enum sup_gevent e)
{
	struct sup_gtransition none = { 0, 0, 0 };

	if ((unsigned)s >= G_NSTATES || (unsigned)e >= G_NEVENTS)
		return none;
	return gtable[s][e];
}

const char *sup_gl_state_name(enum sup_gstate s)
{
	static const char *const n[G_NSTATES] = {
		"loading", "starting", "canary", "serving", "draining", "stopping", "closing", "free",
	};

	return (unsigned)s < G_NSTATES ? n[s] : "?";
}

const char *sup_gl_event_name(enum sup_gevent e)
{
	static const char *const n[G_NEVENTS] = {
		"host_ready", "workers_up", "no_workers", "replaced", "empty", "host_exit", "closed",
		"canary_passed", "canary_failed", "shutdown",
	};

	return (unsigned)e < G_NEVENTS ? n[e] : "?";
}
