/*
 * supervisor/genint.h: the generation module's own header: its state,
 * written by gen.c and read by genquery.c. Nothing else includes it.
 */
#ifndef AVW_GENINT_H
#define AVW_GENINT_H

#include <time.h>
#include <uv.h>

#include "../privileges/priv.h"
#include "canary.h"
#include "gen.h"
#include "hostlink.h"
#include "lifecycle.h"
#include "slot.h"

/*
 * Host start-up failures (bad scanner_path, unreadable database) back off:
 * retrying a broken start at full speed only fills the log. 1 s doubling to
 * 60 s, reset by the first successful start. Forks the host cannot make
 * (its process limit) back off the same way. Per-job faults are never
 * throttled: a crafted mail could otherwise deny service to every other.
 */
#define GEN_BACKOFF_MIN_MS 1000
#define GEN_BACKOFF_MAX_MS 60000
/* A serving host that lived this long after READY was a success: its death
 * restarts at once and resets the back-off. */
#define GEN_STABLE_MS 10000
/* reload requests waiting for one answer */
#define GEN_RELOAD_WAITERS 32

struct sup_gen {
	uint32_t id;
	enum sup_gstate state;
	int is_reload;          /* started by a reload, not a (re)start */
	uint64_t db_print;      /* the database's fingerprint when it started */
	time_t loaded_at;
	struct sup_host host;
	unsigned sigs;
	char engine[64];
	char database[160];
	int64_t database_built;   /* as READY said (0: unknown) */
	int have_print;           /* database_print is known (READY) */
	unsigned char database_print[32];
	char failure[IPC_TEXT_MAX];
	struct sup_slot *slots;
	unsigned nslots;
	int settling;           /* forking every slot: no verdict on progress yet */
	struct sup_canary_run canary;
	int retired;            /* replaced by a newer generation */
	struct sup_gen *next;
};

struct reload_waiter {
	sup_reload_cb cb;
	void *ctx;
};

struct sup_gens {
	uv_loop_t *loop;
	const struct sup_config *cfg;
	const struct sup_gen_hooks *hooks;
	struct priv_spawn_plan plan;
	struct sup_gen *gens;       /* every generation still holding resources */
	struct sup_gen *serving;    /* gets new jobs; NULL while none is up */
	struct sup_gen *loading;    /* the next one, while it loads */
	uint32_t next_id;
	uv_timer_t restart_timer;
	unsigned backoff_ms;
	uv_timer_t spawn_timer;     /* forks that failed, retried after spawn_backoff_ms */
	unsigned spawn_backoff_ms;  /* 0: no fork failure pending */
	int start_failed;           /* the last start attempt failed: fail fast */
	char last_failure[IPC_TEXT_MAX];
	uint64_t failed_print;      /* a database that failed to load: not retried by itself */
	char last_reload[IPC_TEXT_MAX];
	struct reload_waiter waiters[GEN_RELOAD_WAITERS];
	unsigned nwaiters;
	int closing;
	char close_reason[128];
};

extern struct sup_gens sup_gens;

#endif
