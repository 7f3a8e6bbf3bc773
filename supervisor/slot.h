/*
 * supervisor/slot.h: one worker slot of a generation, and the only reader
 * of that worker's channel.
 *
 * A slot runs the worker lifecycle table (lifecycle.c): it asks the host to
 * fork a worker, hands it one job at a time, times the scan, and copies the
 * result out once and validates it before anything else sees it. A
 * malformed record, a hang, a socket that closes: the worker dies (SIGKILL
 * through its pidfd) and its job is answered ERROR, once. A slot reports
 * upward only through the callbacks its generation installs.
 */
#ifndef AVW_SLOT_H
#define AVW_SLOT_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "config.h"
#include "lifecycle.h"
#include "pool.h"

struct sup_slot;

struct sup_slot_ops {
	/* A worker is up and idle: it can take a job. */
	void (*idle)(struct sup_slot *s);
	/* The slot is empty again; fork_failed when the host could not fork. */
	void (*freed)(struct sup_slot *s, int fork_failed);
	/* One of the slot's libuv handles finished closing. */
	void (*handle_closed)(struct sup_slot *s);
	/* Does the slot's generation serve (its verdicts are cached)? */
	int (*serving)(const struct sup_slot *s);
};

struct sup_slot {
	void *owner;                    /* the generation */
	const struct sup_slot_ops *ops;
	uint32_t gen_id;
	unsigned index;
	unsigned handles;               /* open (or closing) libuv handles */
	int host_ctl;                   /* where SPAWN goes */
	pid_t host_pid;
	uint64_t answered;              /* jobs its workers ended, by a result or their own fault */
	/* Everything from `id` to `timer` is reset for each new worker. */
	uint32_t id;
	enum sup_wstate state;
	pid_t pid;                      /* ours for it */
	pid_t ns_pid;                   /* the host's (its pid namespace's) */
	int pidfd;
	int sock;
	struct ipc_chan *chan;
	struct ipc_data data;           /* the job being scanned, copied in at dispatch */
	size_t dirty;                   /* bytes of the data area a previous job wrote */
	uv_poll_t poll;
	int poll_open;
	struct sup_job *job;
	uint64_t seq;
	uint64_t jobs;
	uint64_t started_ns;
	uint64_t died_ns;               /* found dead, for the replacement delay */
	int retiring;                   /* max_jobs_per_worker reached, or its generation drains */
	int fork_failed;
	int host_lost;                  /* its job ends because the host died */
	unsigned job_logs;              /* engine messages logged for the current job */
	struct ipc_result result;       /* validated copy of the last result */
	char fault[160];                /* first cause of death, if known */
	int32_t fault_code;
	uv_timer_t timer;               /* scan deadline, retirement grace; lives as long as the slot */
};

/* Settings every slot uses (timeouts, limits). */
void sup_slots_configure(uv_loop_t *loop, const struct sup_config *cfg);

int sup_slot_init(struct sup_slot *s, void *owner, const struct sup_slot_ops *ops,
    uint32_t gen_id, unsigned index);
/* Asks the host (control socket host_ctl, process host_pid) to fork a worker. */
void sup_slot_spawn(struct sup_slot *s, int host_ctl, pid_t host_pid);
/* The host's reports, already checked by the generation. */
void sup_slot_up(struct sup_slot *s, pid_t pid, pid_t ns_pid, int pidfd);
void sup_slot_fork_failed(struct sup_slot *s, const char *reason);
/* The worker was reaped; observed: the supervisor saw it die (its pidfd). */
void sup_slot_exited(struct sup_slot *s, int status, int observed);
/* 1: the worker is gone (pidfd readable); 0: it still runs; -1: cannot tell. */
int sup_slot_gone(const struct sup_slot *s);
void sup_slot_give(struct sup_slot *s, struct sup_job *job);
void sup_slot_retire(struct sup_slot *s);
void sup_slot_host_lost(struct sup_slot *s, const char *reason);
/* Another job takes over the one the worker scans (identical content). */
void sup_slot_swap_job(struct sup_slot *s, struct sup_job *by);
/* The job's owner gave up: the worker is killed, the job never answered. */
void sup_slot_cancel(struct sup_slot *s);
/* At the generation's end: closes the slot's timer (handle_closed follows). */
void sup_slot_close(struct sup_slot *s);
int sup_slot_live(const struct sup_slot *s);

#endif
