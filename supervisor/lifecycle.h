/*
 * supervisor/lifecycle.h: a worker's life as a state x event table.
 *
 * pool.c raises events; the table says which state follows and which
 * actions run, in a fixed order. Pairs the table does not list are invalid
 * and change nothing (pool.c logs them): a late message from a worker that
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
	A_RELEASE = 1 << 6,        /* close handles; EV_CLOSED follows */
	A_REQUEST_FORK = 1 << 7,
	A_WATCH = 1 << 8,          /* poll its socket */
	A_SEND_JOB = 1 << 9,       /* and arm the timer */
	A_DISPATCH = 1 << 10,      /* give queued work to idle workers */
	A_RESPAWN = 1 << 11,       /* fork a replacement if the host is ready */
};

struct sup_wtransition {
	unsigned char valid;
	unsigned char next;     /* enum sup_wstate */
	unsigned short actions; /* enum sup_waction bits */
};

struct sup_wtransition sup_wl_next(enum sup_wstate s, enum sup_wevent e);
const char *sup_wl_state_name(enum sup_wstate s);
const char *sup_wl_event_name(enum sup_wevent e);

#endif
