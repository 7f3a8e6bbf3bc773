/*
 * supervisor/hostlink.h: one scanner host process, seen from the
 * supervisor: spawned as step 1 of the sandbox plans it, its control socket
 * read record by record, its exit observed.
 *
 * Promises: every record is validated (ipc_msg_recv) before a callback
 * sees it; a malformed or forged record, or a flood past the limits, kills
 * the host and names why; what it writes to stderr reaches the log as
 * scanner_stderr lines, rate-limited, never the supervisor's own stderr; a
 * worker pid it reports is believed only if that
 * process is the host's child, and is then held by a pidfd. Reports go up
 * only through the callbacks the generation installs.
 */
#ifndef AVW_HOSTLINK_H
#define AVW_HOSTLINK_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "../ipc/ipc.h"
#include "../platform/plat.h"
#include "../privileges/priv.h"
#include "config.h"

struct sup_host;

struct sup_host_ops {
	void (*ready)(struct sup_host *h, const struct ipc_ready *r);
	/* pid: ours for it; ns_pid: the host's (its reports use that);
	 * pidfd: held for the worker (or -1 where the kernel has none). */
	void (*worker_up)(struct sup_host *h, uint32_t worker, pid_t pid, pid_t ns_pid, int pidfd);
	void (*worker_exit)(struct sup_host *h, const struct ipc_worker_exit *e);
	/* The process is gone; reason names why (its FATAL record, a signal, ...). */
	void (*exited)(struct sup_host *h, const char *reason);
	void (*handle_closed)(struct sup_host *h);
};

enum sup_hstate { H_NONE, H_STARTING, H_READY, H_EXITED };

struct sup_host {
	void *owner;
	const struct sup_host_ops *ops;
	uint32_t gen_id;
	enum sup_hstate state;
	uv_process_t proc;
	int proc_open;
	int ctl;
	uv_poll_t poll;
	int poll_open;
	unsigned handles;          /* open (or closing) libuv handles */
	int condemned;             /* killed for misbehaving: read nothing more */
	pid_t pid;                 /* the process we spawned */
	pid_t inner_pid;           /* the host proper, our pid for its pid 1 (== pid without a pid namespace) */
	char fatal[IPC_TEXT_MAX];  /* first reason it gave, or we found */
	uint64_t started_ns;
	uint64_t ready_ns;
	unsigned log_tokens;       /* LOG records it may still send this second */
	uint64_t log_window_ns;
	/* Its stderr (and its workers' until they lock down): a pipe we read,
	 * never our own stderr; lines to the log under the same limit. */
	int err_fd;
	uv_poll_t err_poll;
	int err_poll_open;
	size_t err_len;
	char err_line[256];
};

/* Spawns scanner_path with the plan's identity, environment and descriptors,
 * and sends START. 0, or -errno with err set (the handle is then closing:
 * handle_closed follows). */
int sup_host_start(struct sup_host *h, uv_loop_t *loop, const struct sup_config *cfg,
    const struct priv_spawn_plan *plan, const char *why, char *err, size_t errlen);
void sup_host_kill(struct sup_host *h);
/* Logs it, keeps the first reason for the exit report, kills the host. */
void sup_host_misbehaved(struct sup_host *h, const char *fmt, ...) PLAT_PRINTF(2, 3);

#endif
