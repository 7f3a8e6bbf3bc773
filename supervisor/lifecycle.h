/*
 * supervisor/lifecycle.h: a worker's life, and a generation's, as state x
 * event tables.
 *
 * slot.c raises events; the table says which state follows and which
 * actions run, in a fixed order. Pairs the table does not list are invalid
 * and change nothing (slot.c logs them): a late message from a worker that
 * is already dying cannot resurrect it or answer a job twice.
 */
#ifndef AVW_LIFECYCLE_H
#define AVW_LIFECYCLE_H

enum sup_wstate {
	W_FREE = 0,   /* slot unused */
	W_SPAWNING,   /* asked the host to fork it */
	W_IDLE,
	W_BUSY,
	W_DYING,      /* killed, retired or gone: waiting for the host's exit report */
	W_CLOSING,    /* handles closing; the slot is free in the close callback */
	W_NSTATES
};

enum sup_wevent {
	EV_SPAWN = 0,   /* a slot is free and the host is ready */
	EV_UP,          /* host: forked, here is the pid */
	EV_FORK_FAILED, /* host: could not fork */
	EV_JOB,         /* dispatch gave it a job */
	EV_RESULT,      /* valid result for the current job */
	EV_RESULT_LAST, /* valid result, and max_jobs_per_worker reached */
	EV_MALFORMED,   /* bad wake-up or result */
	EV_TIMEOUT,     /* the per-scan timer fired */
	EV_HANGUP,      /* its socket closed: it died on its own */
	EV_EXIT,        /* host: it was reaped, with a wait status */
	EV_HOST_LOST,   /* the host (and so every worker) is gone */
	EV_CLOSED,      /* its handles are closed */
	EV_RETIRE,      /* its generation was replaced: go once idle */
	EV_CANCEL,      /* the job's owner gave up on it */
	W_NEVENTS
};

/* Actions, run in this bit order. */
enum sup_waction {
	A_STOP_TIMER = 1 << 0,
	A_STOP_WATCH = 1 << 1,
	A_KILL = 1 << 2,           /* SIGKILL through its pidfd */
	A_CLOSE_CHANNEL = 1 << 3,  /* close our end: it exits on EOF (retirement);
	                              arms a grace timer that kills it if it does not */
	A_ANSWER_RESULT = 1 << 4,  /* answer the job with the worker's result */
	A_ANSWER_FAULT = 1 << 5,   /* answer the job (if any) with the fault */
	A_DROP_JOB = 1 << 6,       /* forget the job unanswered (its owner left) */
	A_RELEASE = 1 << 7,        /* close handles; EV_CLOSED follows */
	A_REQUEST_FORK = 1 << 8,   /* channel, data area, SPAWN to the host */
	A_WATCH = 1 << 9,          /* poll its socket */
	A_SEND_JOB = 1 << 10,      /* and arm the timer */
	A_IDLE = 1 << 11,          /* tell the generation: it can take a job */
	A_FREED = 1 << 12,         /* tell the generation: the slot is empty */
};

struct sup_wtransition {
	unsigned char valid;
	unsigned char next;     /* enum sup_wstate */
	unsigned short actions; /* enum sup_waction bits */
};

struct sup_wtransition sup_wl_next(enum sup_wstate s, enum sup_wevent e);
const char *sup_wl_state_name(enum sup_wstate s);
const char *sup_wl_event_name(enum sup_wevent e);

/*
 * A generation: one scanner host and its worker slots, from one load of the
 * database (gen.c raises the events). A generation that never served ends
 * in LOAD_FAILED, which never touches the serving one.
 */
enum sup_gstate {
	G_LOADING = 0,  /* host started, loading the database; no jobs */
	G_STARTING,     /* host ready, its workers being forked */
	G_CANARY,       /* workers up, scanning the canary set; no jobs yet */
	G_SERVING,      /* takes every new job */
	G_DRAINING,     /* replaced: finishing its jobs */
	G_STOPPING,     /* host killed, waiting for its exit */
	G_CLOSING,      /* host gone, handles closing */
	G_FREE,         /* freed */
	G_NSTATES
};

enum sup_gevent {
	GE_HOST_READY = 0,  /* the database is loaded */
	GE_WORKERS_UP,      /* no slot still forking, at least one worker up */
	GE_NO_WORKERS,      /* no slot still forking, and none came up */
	GE_REPLACED,        /* a newer generation serves */
	GE_EMPTY,           /* draining, and no worker is left */
	GE_HOST_EXIT,       /* the host process is gone (or never started) */
	GE_CLOSED,          /* every handle is closed */
	GE_CANARY_PASSED,   /* every canary got its verdict */
	GE_CANARY_FAILED,   /* a canary crashed, hung or was answered wrongly */
	GE_SHUTDOWN,        /* avwarden stops */
	G_NEVENTS
};

enum sup_gaction {
	GA_SPAWN_WORKERS = 1 << 0,  /* fork every slot */
	GA_RUN_CANARY = 1 << 1,     /* hand the canary set to its workers */
	GA_PROMOTE = 1 << 2,        /* serve from now on; the old one is replaced */
	GA_LOAD_FAILED = 1 << 3,    /* it never served: say why (reload answer, back-off) */
	GA_RETIRE = 1 << 4,         /* idle workers go now, busy ones after their job */
	GA_KILL_HOST = 1 << 5,
	GA_RESET_WORKERS = 1 << 6,  /* every slot: the host is lost */
	GA_LOST_SERVING = 1 << 7,   /* it was serving: start a new one */
	GA_CLOSE = 1 << 8,          /* close the slots' handles */
	GA_FREE = 1 << 9,
};

struct sup_gtransition {
	unsigned char valid;
	unsigned char next;     /* enum sup_gstate */
	unsigned short actions; /* enum sup_gaction bits, run in bit order */
};

struct sup_gtransition sup_gl_next(enum sup_gstate s, enum sup_gevent e);
const char *sup_gl_state_name(enum sup_gstate s);
const char *sup_gl_event_name(enum sup_gevent e);

#endif
