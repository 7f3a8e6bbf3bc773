/*
 * supervisor/pathscan.c: path scans and FILDES (see pathscan.h).
 *
 * A scan is a list of files (one for a file or a descriptor, all regular
 * files under a directory) worked through by up to `nitems` items at once:
 * max_concurrency for MULTISCAN, one for the others, so their lines come in
 * file order. An item reads its file on the thread pool, submits the bytes
 * to the pool and reports the verdict. Lines go to the owner as they come;
 * while its backlog is high no new item starts.
 */
#define _GNU_SOURCE
#include "pathscan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "addr.h"
#include "pool.h"
#include "stats.h"

/* Files one SCAN of a directory may reach (the fuzzer builds with fewer). */
#ifndef PATHSCAN_MAX_FILES
#define PATHSCAN_MAX_FILES 100000
#endif
/* Reply bytes not yet written past which no new file is started. */
#define PATHSCAN_BACKLOG_MAX (256u << 10)

struct ps_item {
	struct sup_pathscan *ps;
	uv_work_t work;
	struct sup_job job;
	size_t index;       /* which file */
	int busy;           /* reading, or scanning */
	int scanning;       /* its job is with the pool */
	int rc;
	int is_dir;
	size_t len;
};

struct sup_pathscan {
	uv_loop_t *loop;
	const struct sup_config *cfg;
	const struct sup_pathscan_ops *ops;
	void *ctx;
	enum sup_cmd cmd;
	struct sup_peer peer;
	char *top;                  /* the path as the client wrote it, or "fd[N]" */
	int fildes_fd;              /* FILDES: the descriptor, until read */
	int top_is_dir;
	int stop;                   /* SCAN: the first virus ends it */
	int unscannable;            /* what the client is told of UNSCANNABLE */
	uint64_t *next_job_id;
	struct sup_pathlist files;
	size_t fnext;
	unsigned reported;
	struct ps_item *items;
	unsigned nitems, busy;
	unsigned works;             /* thread-pool works not yet back */
	unsigned calling;           /* inside a callback to the owner */
	int cancelled;
	uv_work_t list_work;
	int list_rc;
};

static void next(struct sup_pathscan *ps);

static unsigned outstanding;  /* thread-pool works of every scan */

unsigned sup_pathscan_outstanding(void)
{
	return outstanding;
}

static void ps_free(struct sup_pathscan *ps)
{
	for (unsigned i = 0; i < ps->nitems; i++)
		ipc_gather_put(&ps->items[i].job.buf);
	if (ps->fildes_fd >= 0)
		close(ps->fildes_fd);
	sup_path_list_free(&ps->files);
	free(ps->items);
	free(ps->top);
	free(ps);
}

/* A cancelled scan goes once its last thread-pool work is back, and no
 * callback into the owner is under way. */
static void maybe_free(struct sup_pathscan *ps)
{
	if (ps->cancelled && ps->works == 0 && ps->calling == 0)
		ps_free(ps);
}

/*
 * Hands a line to the owner, who may cancel the scan from inside the call
 * (its client went away, its reply ran out of memory). Returns 1 then: the
 * caller stops, and the scan is freed once nothing else holds it.
 */
static int emit(struct sup_pathscan *ps, const char *text, int own_error)
{
	ps->calling++;
	ps->ops->line(ps->ctx, text, own_error);
	ps->calling--;
	ps->reported++;
	if (!ps->cancelled)
		return 0;
	maybe_free(ps);
	return 1;
}

static int PLAT_PRINTF(3, 4) line_as(struct sup_pathscan *ps, int own_error, const char *fmt, ...)
{
	char buf[IPC_NAME_MAX + 4400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return emit(ps, buf, own_error);
}
#define line(ps, ...) line_as(ps, 0, __VA_ARGS__)
/* avwarden's own limits and failures, which clamd never reports */
#define own_line(ps, ...) line_as(ps, 1, __VA_ARGS__)

static int report_error(struct sup_pathscan *ps, const char *name, int err)
{
	if (err == -EFTYPE_AVW && ps->cmd == SUP_CMD_FILDES)
		return line(ps, "%s: Not a regular file ERROR", name);
	if (err == -EFTYPE_AVW)
		return line(ps, "%s: Not supported file type ERROR", name);
	if (err == -ENOBUFS || err == -ENOMEM)
		return own_line(ps, "%s: Can't allocate memory ERROR", name);
	if (err == -EFBIG) {
		sup_counters.rejected_path_size++;
		log_warnx("size_limit", "cmd=%s max_path_scan_size=%" PRIu64 " fix=\"raise max_path_scan_size if such "
		    "files are legitimate\"", ps->cmd == SUP_CMD_FILDES ? "FILDES" : "SCAN", ps->cfg->max_path_scan_size);
		return own_line(ps, "%s: Size limit exceeded (max_path_scan_size %" PRIu64 ") ERROR", name,
		    ps->cfg->max_path_scan_size);
	}
	if (err == -EPERM && geteuid() != 0)
		return line(ps, "%s: Path scans of another user's files need avwarden to run as root ERROR", name);
	return line(ps, "%s: File path check failure: %s. ERROR", name, strerror(-err));
}

/* A file's verdict: reported, or not (clean files inside a directory). */
static int report_verdict(struct sup_pathscan *ps, const struct sup_job *job, const struct sup_verdict *found,
    const char *name)
{
	char buf[IPC_NAME_MAX + 4400];
	struct sup_verdict shown = *found;
	const struct sup_verdict *v = &shown;
	int rc;

	if (sup_unscannable_apply(ps->unscannable, &shown)) {
		log_info("unscannable_action", "id=%" PRIu64 " virus=%s action=%s", job->id, found->name,
		    sup_unscannable_name(ps->unscannable));
		if (ps->unscannable == SUP_UNSCANNABLE_PASS)
			sup_counters.unscannable_passed++;
	}
	if (v->status == IPC_CLEAN && ps->top_is_dir)
		return 0;
	if (v->status != IPC_CLEAN && v->status != IPC_ERROR && ps->stop)
		ps->fnext = ps->files.n;  /* SCAN: the first virus ends it */
	if (sup_clamd_format_path(v, name, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "%.4000s: Unspecified error ERROR", name);
	rc = emit(ps, buf, v->status == IPC_ERROR && v->engine_code >= 100);
	/* ALLMATCHSCAN: one line per signature, as clamd prints them. */
	for (unsigned i = 0; rc == 0 && v->status == IPC_INFECTED && i < job->nmore; i++)
		rc = line(ps, "%.4000s: %s FOUND", name, job->more[i]);
	return rc;
}

/* ------------------------------------------------------- one file */

static void item_job_done(struct sup_job *job, const struct sup_verdict *v)
{
	struct ps_item *it = job->ctx;
	struct sup_pathscan *ps = it->ps;

	it->scanning = 0;
	it->busy = 0;
	ps->busy--;
	if (report_verdict(ps, job, v, ps->files.files[it->index]))
		return;
	next(ps);
}

/* Thread pool: open as the client (or take the descriptor), read it all. */
static void item_read(uv_work_t *w)
{
	struct ps_item *it = w->data;
	struct sup_pathscan *ps = it->ps;
	struct stat st;
	int fd;

	it->is_dir = 0;
	it->len = 0;
	if (ps->cmd == SUP_CMD_FILDES) {
		fd = ps->fildes_fd;
		ps->fildes_fd = -1;
		it->rc = fstat(fd, &st) < 0 ? -errno : !S_ISREG(st.st_mode) ? -EFTYPE_AVW : 0;
	} else {
		it->rc = sup_path_open(&ps->peer, ps->files.files[it->index], &fd, &it->is_dir);
		if (it->rc < 0)
			return;
	}
	if (it->rc == 0 && !it->is_dir)
		it->rc = sup_fd_read_all(fd, &it->job.buf, ps->cfg->max_path_scan_size, &it->len);
	close(fd);
}

static void item_read_done(uv_work_t *w, int status)
{
	struct ps_item *it = w->data;
	struct sup_pathscan *ps = it->ps;

	ps->works--;
	outstanding--;
	if (ps->cancelled) {
		ipc_gather_put(&it->job.buf);
		maybe_free(ps);
		return;
	}
	if (status < 0 || it->rc < 0 || it->is_dir) {
		ipc_gather_put(&it->job.buf);
		it->busy = 0;
		ps->busy--;
		/* A directory: listed as a file, a directory now: skipped. */
		if (!it->is_dir && report_error(ps, ps->files.files[it->index], status < 0 ? status : it->rc))
			return;
		next(ps);
		return;
	}
	it->job.len = it->len;
	it->job.id = ++*ps->next_job_id;
	it->job.done = item_job_done;
	it->job.ctx = it;
	it->job.tag = it->index;
	it->job.allmatch = ps->cmd == SUP_CMD_ALLMATCHSCAN;
	it->scanning = 1;
	sup_pool_submit(&it->job);
}

static int item_start(struct sup_pathscan *ps, struct ps_item *it, size_t index)
{
	int rc;

	memset(&it->job, 0, sizeof(it->job));
	it->ps = ps;
	it->index = index;
	it->busy = 1;
	it->work.data = it;
	ps->busy++;
	if ((rc = uv_queue_work(ps->loop, &it->work, item_read, item_read_done)) < 0) {
		it->busy = 0;
		ps->busy--;
		return rc;
	}
	ps->works++;
	outstanding++;
	return 0;
}

/* ------------------------------------------------------- the list */

static void finish(struct sup_pathscan *ps)
{
	if (ps->top_is_dir && ps->reported == 0 && line(ps, "%s: OK", ps->top))
		return;
	ps->ops->finished(ps->ctx);
	ps_free(ps);
}

static void next(struct sup_pathscan *ps)
{
	for (unsigned i = 0; i < ps->nitems && ps->fnext < ps->files.n; i++) {
		if (ps->items[i].busy)
			continue;
		if (ps->ops->backlog(ps->ctx) >= PATHSCAN_BACKLOG_MAX)
			break;  /* sup_pathscan_resume() brings us back */
		size_t k = ps->fnext++;
		int rc = item_start(ps, &ps->items[i], k);
		if (rc < 0 && report_error(ps, ps->files.files[k], rc))
			return;
	}
	if (ps->busy == 0 && ps->fnext >= ps->files.n)
		finish(ps);
}

/* Thread pool: what the path is, and for a directory its files, as the client. */
static void list_files(uv_work_t *w)
{
	struct sup_pathscan *ps = w->data;
	int fd = -1;

	ps->list_rc = sup_path_open(&ps->peer, ps->top, &fd, &ps->top_is_dir);
	if (ps->list_rc < 0)
		return;
	if (ps->top_is_dir) {
		ps->list_rc = sup_path_list(&ps->peer, fd, ps->top, PATHSCAN_MAX_FILES, &ps->files);
	} else if ((ps->files.files = calloc(1, sizeof(char *))) == NULL ||
	    (ps->files.files[0] = strdup(ps->top)) == NULL) {
		ps->list_rc = -ENOMEM;
	} else {
		ps->files.n = ps->files.cap = 1;
	}
	close(fd);
}

static int start_items(struct sup_pathscan *ps)
{
	ps->nitems = 1;
	if (ps->cmd == SUP_CMD_MULTISCAN && ps->files.n > 1)
		ps->nitems = ps->cfg->max_concurrency < ps->files.n ? ps->cfg->max_concurrency : (unsigned)ps->files.n;
	ps->items = calloc(ps->nitems, sizeof(*ps->items));
	if (ps->items == NULL)
		ps->nitems = 0;
	return ps->items == NULL ? -ENOMEM : 0;
}

static void list_done(uv_work_t *w, int status)
{
	struct sup_pathscan *ps = w->data;
	int rc = status < 0 ? status : ps->list_rc;

	ps->works--;
	outstanding--;
	if (ps->cancelled) {
		maybe_free(ps);
		return;
	}
	if (rc < 0 && rc != -E2BIG) {
		sup_path_list_free(&ps->files);
		ps->top_is_dir = 0;
		if (!report_error(ps, ps->top, rc))
			finish(ps);
		return;
	}
	if (rc == -E2BIG && own_line(ps, "%s: Too many files (more than %u) ERROR", ps->top, PATHSCAN_MAX_FILES))
		return;
	if (ps->top_is_dir)
		log_info("path_scan", "uid=%d path=\"%s\" files=%zu", (int)ps->peer.uid, ps->top, ps->files.n);
	if (start_items(ps) < 0) {
		ps->fnext = ps->files.n;
		if (own_line(ps, "%s: Can't allocate memory ERROR", ps->top))
			return;
	}
	next(ps);
}

/* ------------------------------------------------------------ API */

struct sup_pathscan *sup_pathscan_start(uv_loop_t *loop, const struct sup_config *cfg,
    const struct sup_pathscan_req *req, const struct sup_pathscan_ops *ops, void *ctx)
{
	struct sup_pathscan *ps = calloc(1, sizeof(*ps));
	char name[32];
	int rc;

	if (ps == NULL)
		return NULL;
	ps->loop = loop;
	ps->cfg = cfg;
	ps->ops = ops;
	ps->ctx = ctx;
	ps->cmd = req->cmd;
	ps->peer = req->peer;
	ps->fildes_fd = req->fd;
	ps->next_job_id = req->next_job_id;
	ps->stop = req->cmd == SUP_CMD_SCAN || req->cmd == SUP_CMD_ALLMATCHSCAN;
	ps->unscannable = req->unscannable;
	if (req->cmd == SUP_CMD_FILDES) {
		snprintf(name, sizeof(name), "fd[%d]", req->fd);
		ps->top = strdup(name);
		if (ps->top == NULL || (ps->files.files = calloc(1, sizeof(char *))) == NULL ||
		    (ps->files.files[0] = strdup(name)) == NULL || start_items(ps) < 0)
			goto fail;
		ps->files.n = ps->files.cap = 1;
		if (item_start(ps, &ps->items[0], ps->fnext++) < 0)
			goto fail;
		return ps;
	}
	if ((ps->top = strdup(req->path)) == NULL)
		goto fail;
	ps->list_work.data = ps;
	if ((rc = uv_queue_work(loop, &ps->list_work, list_files, list_done)) < 0)
		goto fail;
	ps->works++;
	outstanding++;
	return ps;
fail:
	ps->fildes_fd = -1;  /* the caller still has it */
	ps_free(ps);
	return NULL;
}

void sup_pathscan_resume(struct sup_pathscan *ps)
{
	if (!ps->cancelled && ps->items != NULL)
		next(ps);
}

void sup_pathscan_cancel(struct sup_pathscan *ps)
{
	ps->cancelled = 1;
	for (unsigned i = 0; i < ps->nitems; i++) {
		struct ps_item *it = &ps->items[i];
		if (it->scanning) {
			sup_pool_cancel(&it->job);  /* never answered now */
			it->scanning = 0;
			it->busy = 0;
		}
	}
	maybe_free(ps);
}
