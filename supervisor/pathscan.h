/*
 * supervisor/pathscan.h: the path commands (SCAN, CONTSCAN, MULTISCAN,
 * ALLMATCHSCAN) and FILDES: files opened, listed and read as the client, on
 * libuv's thread pool, then scanned through the pool.
 *
 * Promises: the loop thread never waits on a file (a hung mount blocks a
 * pool thread, not the daemon); every file named is reported (a verdict or
 * an error line), none silently left out; a line is handed to the owner as
 * soon as it is known, and no new file is started while the owner's reply
 * backlog is high, so a directory of any size costs bounded memory; after
 * sup_pathscan_cancel() the owner hears nothing more.
 */
#ifndef AVW_PATHSCAN_H
#define AVW_PATHSCAN_H

#include <stddef.h>
#include <uv.h>

#include "clamd.h"
#include "config.h"
#include "peerfs.h"

struct sup_pathscan;

struct sup_pathscan_ops {
	/* One reply line, without session tag or delimiter; own_error: an
	 * error clamd never sends (sup_conn_own_error). */
	void (*line)(void *ctx, const char *text, int own_error);
	/* Bytes the owner has not yet written to its client. */
	size_t (*backlog)(void *ctx);
	/* Every file is reported. */
	void (*finished)(void *ctx);
};

struct sup_pathscan_req {
	enum sup_cmd cmd;            /* a path command, or SUP_CMD_FILDES */
	const char *path;            /* the path as the client wrote it; NULL for FILDES */
	int fd;                      /* FILDES: the descriptor (taken over), else -1 */
	struct sup_peer peer;
	uint64_t *next_job_id;       /* job ids for the log */
	int unscannable;             /* the listener's unscannable action (addr.h) */
};

/* Starts; the ops are called from the loop, the first time after this
 * returns. NULL (out of memory): nothing started, the caller keeps req->fd. */
struct sup_pathscan *sup_pathscan_start(uv_loop_t *loop, const struct sup_config *cfg,
    const struct sup_pathscan_req *req, const struct sup_pathscan_ops *ops, void *ctx);
/* The backlog went down: start more files. */
void sup_pathscan_resume(struct sup_pathscan *ps);
/* Thread-pool reads and listings under way, of every scan (cancelled ones too). */
unsigned sup_pathscan_outstanding(void);
/* The owner goes away: its jobs are cancelled, its thread-pool work is
 * left to finish, and the scan frees itself. */
void sup_pathscan_cancel(struct sup_pathscan *ps);

#endif
