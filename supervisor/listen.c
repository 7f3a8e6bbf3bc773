/*
 * supervisor/listen.c: client listeners (unix and TCP) and the clamd
 * protocol on each connection.
 *
 * A connection gathers all of a message's bytes before it asks for a
 * worker, so a slow client holds only its own connection. INSTREAM data is
 * read straight into a pooled gather buffer (no user-space copy) and handed
 * to the pool, which copies it once into a worker's data area; the one
 * reply goes out in a single write, then the connection closes, as clamd
 * does outside sessions.
 */
#define _GNU_SOURCE
#include "sup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../platform/plat.h"

enum conn_state { C_CMD, C_STREAM, C_FILDES, C_SCANNING, C_REPLY, C_LINGER, C_CLOSING };

/*
 * After an error reply to a client that is still sending (size limit), we
 * half-close and discard its input for a moment instead of closing at once:
 * closing with unread data sends a reset that can destroy the reply.
 */
#define CONN_LINGER_MS 2000
/* A reply (a directory's worth of lines) is capped; past it, one ERROR line. */
#define CONN_OUT_MAX (1u << 20)
/* Files one SCAN of a directory may reach. */
#define CONN_MAX_FILES 100000

/* A unix or TCP stream, seen as whichever libuv type the call needs. */
union sup_stream {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

struct sup_listener {
	union sup_stream h;
	struct sup_listen_spec spec;
	char *name;
	char *unix_path;
};

struct sup_conn {
	union sup_stream h;
	enum conn_state state;
	struct sup_conn *prev, *next;
	struct sup_listener *l;
	uv_timer_t timer;          /* read timeouts, linger */
	uv_shutdown_t sreq;
	int handles;               /* open uv handles: stream + timer */
	int linger;                /* discard input after the reply is written */
	unsigned pending;          /* jobs of ours the pool holds */
	int gone;                  /* handle closed while the job was pending */
	int have_peer;             /* unix socket: the client's credentials */
	struct sup_peer peer;
	/* the request being served */
	enum sup_cmd cmd;
	char delim;
	int wire;                  /* un-stuff SMTP wire form before scanning */
	int session;               /* IDSESSION: replies tagged "N: ", kept open */
	unsigned req_id;           /* this request's number in the session */
	unsigned next_id;
	uint64_t t_cmd;            /* when the command was read */
	size_t cmdlen;
	struct sup_instream is;
	struct sup_job job;
	/* path scans: the files, the next one, what was reported */
	struct sup_pathlist files;
	size_t fnext;
	struct sup_job *mjobs;     /* MULTISCAN: up to max_concurrency files at once */
	unsigned nmjobs;
	char *top;                 /* the path as the client wrote it */
	int top_is_dir;
	unsigned reported;
	int stop;                  /* SCAN of a directory: the first virus ends it */
	/* the reply, written in one go */
	char *out;
	size_t outlen, outcap;
	uv_write_t wreq;
	char cmd_buf[SUP_CLAMD_CMD_MAX + 1];
};

static struct {
	uv_loop_t *loop;
	const struct sup_config *cfg;
	struct sup_listener *ls;
	size_t nls;
	struct sup_conn *conns;
	size_t active;
	uint64_t next_job_id;
	int stopping;
	void (*idle_cb)(void);
} L;

/* ------------------------------------------------------------ connections */

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_commands(struct sup_conn *c);
static void path_next(struct sup_conn *c);
static void multi_next(struct sup_conn *c);

static void conn_request_reset(struct sup_conn *c)
{
	ipc_gather_put(&c->job.buf);
	for (unsigned i = 0; i < c->nmjobs; i++)
		ipc_gather_put(&c->mjobs[i].buf);
	free(c->mjobs);
	c->mjobs = NULL;
	c->nmjobs = 0;
	sup_path_list_free(&c->files);
	free(c->top);
	c->top = NULL;
	c->fnext = 0;
	c->reported = 0;
	c->stop = 0;
	c->wire = 0;
}

static void conn_free(struct sup_conn *c)
{
	conn_request_reset(c);
	free(c->out);
	free(c);
}

static void conn_closed(uv_handle_t *h)
{
	struct sup_conn *c = h->data;

	if (--c->handles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		L.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	L.active--;
	if (c->pending > 0)
		c->gone = 1;  /* freed when the pool has answered them all */
	else
		conn_free(c);
	if (L.active == 0 && L.stopping && L.idle_cb) {
		void (*cb)(void) = L.idle_cb;
		L.idle_cb = NULL;
		cb();
	}
}

/* For a connection that failed before it was listed or had a stream. */
static void conn_free_unlisted(uv_handle_t *h)
{
	free(h->data);
}

static void conn_close(struct sup_conn *c)
{
	if (c->state == C_CLOSING)
		return;
	c->state = C_CLOSING;
	uv_read_stop(&c->h.stream);
	uv_timer_stop(&c->timer);
	uv_close(&c->h.handle, conn_closed);
	uv_close((uv_handle_t *)&c->timer, conn_closed);
}

/* ---- the reply: lines collected, then written in one go ---- */

/* Room for n more bytes; 0, or -1 past CONN_OUT_MAX or out of memory
 * (the reply is then cut short, never overrun). */
static int out_room(struct sup_conn *c, size_t n)
{
	size_t cap;
	char *p;

	if (c->outlen + n + 1 > CONN_OUT_MAX)
		return -1;
	if (c->outlen + n + 1 <= c->outcap)
		return 0;
	for (cap = c->outcap ? c->outcap : 256; cap < c->outlen + n + 1; cap *= 2)
		;
	if ((p = realloc(c->out, cap)) == NULL)
		return -1;
	c->out = p;
	c->outcap = cap;
	return 0;
}

static void out_vadd(struct sup_conn *c, const char *fmt, va_list ap) PLAT_PRINTF(2, 0);

static void out_vadd(struct sup_conn *c, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || out_room(c, (size_t)n) < 0)
		return;
	vsnprintf(c->out + c->outlen, c->outcap - c->outlen, fmt, ap);
	c->outlen += (size_t)n;  /* the text may hold '\0' delimiters: length-based */
}

static void PLAT_PRINTF(2, 3) out_add(struct sup_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	out_vadd(c, fmt, ap);
	va_end(ap);
}

/* Inside a session every reply starts with its request's number. */
static void out_tag(struct sup_conn *c)
{
	if (c->session)
		out_add(c, "%u: ", c->req_id);
}

/* Bytes already formatted, delimiter included (they may hold a '\0'). */
static void out_bytes(struct sup_conn *c, const char *p, size_t n)
{
	out_tag(c);
	if (out_room(c, n) < 0)
		return;
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

/* One reply line: the session tag, the text, the delimiter. */
static void out_vline(struct sup_conn *c, const char *fmt, va_list ap) PLAT_PRINTF(2, 0);

static void out_vline(struct sup_conn *c, const char *fmt, va_list ap)
{
	out_tag(c);
	out_vadd(c, fmt, ap);
	out_add(c, "%c", c->delim);
}

static void PLAT_PRINTF(2, 3) out_line(struct sup_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	out_vline(c, fmt, ap);
	va_end(ap);
}

static void conn_shutdown_done(uv_shutdown_t *req, int status)
{
	(void)req;
	(void)status;
}

static void conn_timeout(uv_timer_t *t);

/* After a reply: close, linger, or (in a session) read the next command. */
static void reply_written(uv_write_t *req, int status)
{
	struct sup_conn *c = req->data;

	c->outlen = 0;
	if (status < 0 || c->state == C_CLOSING) {
		conn_close(c);
		return;
	}
	if (c->linger) {
		c->state = C_LINGER;
		uv_timer_start(&c->timer, conn_timeout, CONN_LINGER_MS, 0);
		if (uv_shutdown(&c->sreq, &c->h.stream, conn_shutdown_done) < 0 ||
		    uv_read_start(&c->h.stream, conn_alloc, conn_read) < 0)
			conn_close(c);
		return;
	}
	if (!c->session || L.stopping) {
		conn_close(c);
		return;
	}
	c->state = C_CMD;
	uv_timer_start(&c->timer, conn_timeout, (uint64_t)L.cfg->command_read_timeout * 1000, 0);
	if (uv_read_start(&c->h.stream, conn_alloc, conn_read) < 0) {
		conn_close(c);
		return;
	}
	conn_commands(c);  /* commands the client already sent */
}

/* The request is answered: everything collected goes out in one write. */
static void conn_send(struct sup_conn *c)
{
	uv_buf_t b;

	if (c->state == C_CLOSING)
		return;
	conn_request_reset(c);
	c->state = C_REPLY;
	uv_read_stop(&c->h.stream);
	uv_timer_stop(&c->timer);
	if (c->outlen == 0) {
		reply_written(&c->wreq, 0);
		return;
	}
	b = uv_buf_init(c->out, (unsigned)c->outlen);
	c->wreq.data = c;
	if (uv_write(&c->wreq, &c->h.stream, &b, 1, reply_written) < 0)
		conn_close(c);
}

static void PLAT_PRINTF(2, 3) conn_replyf(struct sup_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	out_vline(c, fmt, ap);
	va_end(ap);
	conn_send(c);
}

static void conn_timeout(uv_timer_t *t)
{
	struct sup_conn *c = t->data;

	switch (c->state) {
	case C_CMD:
		if (c->session && c->cmdlen == 0) {
			conn_close(c);  /* an idle session just ends, as clamd's does */
			return;
		}
		/* fall through */
	case C_STREAM:
	case C_FILDES:
		/* clamd's words, and always a newline, whatever the command form. */
		plat_log(PLAT_LOG_INFO, "client_timeout", "state=%s", c->state == C_CMD ? "command" : "stream");
		c->linger = 1;
		c->session = 0;
		c->outlen = 0;
		out_add(c, "COMMAND READ TIMED OUT\n");
		conn_send(c);
		return;
	default:
		conn_close(c);  /* linger over, or a write that never drains */
		return;
	}
}

static const char *engine_of(const struct sup_verdict *v, char *buf, size_t len)
{
	if (v->status == IPC_ERROR && v->engine_code >= 100)
		return "avwarden";
	snprintf(buf, len, "ClamAV/%s", sup_pool_engine_version());
	return buf;
}

/* A path scan's file is answered: report it (or not). */
static void path_done(struct sup_conn *c, const struct sup_verdict *v, const char *name)
{
	char line[IPC_NAME_MAX + 4400];

	/* Inside a directory clean files are not listed; the directory is, once. */
	if (v->status == IPC_CLEAN && c->top_is_dir)
		return;
	if (sup_clamd_format_path(v, name, line, sizeof(line)) < 0)
		return;
	out_line(c, "%s", line);
	c->reported++;
	if (v->status != IPC_CLEAN && v->status != IPC_ERROR && c->stop)
		c->fnext = c->files.n;  /* SCAN: the first virus ends it */
}

static void job_done(struct sup_job *job, const struct sup_verdict *v)
{
	struct sup_conn *c = job->ctx;
	char line[IPC_NAME_MAX + 4400], eng[80];
	int n;

	c->pending--;
	if (c->gone) {
		if (c->pending == 0)
			conn_free(c);
		return;
	}
	ipc_gather_put(&job->buf);
	switch (c->cmd) {
	case SUP_CMD_MULTISCAN:
		path_done(c, v, c->files.files[job->tag]);
		job->ctx = NULL;  /* the slot is free */
		multi_next(c);
		return;
	case SUP_CMD_AVWINSTREAM:
		n = sup_avw_format_result(v, engine_of(v, eng, sizeof(eng)), c->delim, line, sizeof(line));
		break;
	case SUP_CMD_INSTREAM:
		n = sup_clamd_format_result(v, c->delim, line, sizeof(line));
		break;
	case SUP_CMD_FILDES:
		n = sup_clamd_format_path(v, c->top != NULL ? c->top : "fd[?]", line, sizeof(line));
		if (n >= 0 && (size_t)n + 1 < sizeof(line))
			line[n++] = c->delim;
		break;
	default:
		path_done(c, v, c->files.files[c->fnext - 1]);
		path_next(c);
		return;
	}
	if (n < 0)
		n = snprintf(line, sizeof(line), "stream: Unspecified error ERROR%c", c->delim);
	out_bytes(c, line, (size_t)n);
	conn_send(c);
}

static void job_submit_one(struct sup_conn *c, struct sup_job *job, size_t len)
{
	job->len = len;
	job->id = ++L.next_job_id;
	job->done = job_done;
	job->ctx = c;
	job->have_hash = 0;
	job->blame = 0;
	c->pending++;
	c->state = C_SCANNING;
	sup_pool_submit(job);
}

static void job_submit(struct sup_conn *c, size_t len)
{
	job_submit_one(c, &c->job, len);
}

static void stream_complete(struct sup_conn *c)
{
	uv_read_stop(&c->h.stream);
	uv_timer_stop(&c->timer);
	if (c->wire)
		c->is.len = sup_unstuff(c->is.base, c->is.len);
	job_submit(c, c->is.len);
}

/* Returns how many bytes of p it consumed. */
static size_t stream_feed(struct sup_conn *c, const unsigned char *p, size_t n)
{
	size_t before = c->is.fed;

	switch (sup_instream_feed(&c->is, p, n)) {
	case SUP_INSTREAM_MORE:
		return n;
	case SUP_INSTREAM_DONE:
		stream_complete(c);
		return c->is.fed - before;
	default:
		plat_log(PLAT_LOG_WARN, "size_limit", "max_message_size=%" PRIu64 " received=%zu "
		    "fix=\"raise max_message_size if such mail is legitimate\"",
		    L.cfg->max_message_size, c->is.len);
		c->linger = 1;
		c->session = 0;
		ipc_gather_put(&c->job.buf);
		if (c->cmd == SUP_CMD_AVWINSTREAM)
			conn_replyf(c, "avw: ERROR %d avwarden INSTREAM size limit exceeded", IPC_CODE_TOO_LARGE);
		else
			conn_replyf(c, "INSTREAM size limit exceeded. ERROR");
		return n;
	}
}

/* A file's bytes (FILDES, or one file of a path scan) become a job. */
static int file_job_into(struct sup_conn *c, struct sup_job *job, int fd)
{
	size_t len = 0;
	int rc = sup_fd_read_all(fd, &job->buf, L.cfg->max_message_size, &len);

	if (rc < 0) {
		ipc_gather_put(&job->buf);
		return rc;
	}
	job_submit_one(c, job, len);
	return 0;
}

static int file_job(struct sup_conn *c, int fd)
{
	return file_job_into(c, &c->job, fd);
}

static void path_error(struct sup_conn *c, const char *name, int err)
{
	if (err == -EFTYPE_AVW)
		out_line(c, "%s: Not supported file type ERROR", name);
	else if (err == -ENOBUFS || err == -ENOMEM)
		out_line(c, "%s: Can't allocate memory ERROR", name);
	else if (err == -EFBIG)
		out_line(c, "%s: Size limit exceeded (max_message_size %" PRIu64 ") ERROR", name, L.cfg->max_message_size);
	else if (err == -EPERM && geteuid() != 0)
		out_line(c, "%s: Path scans of another user's files need avwarden to run as root ERROR", name);
	else
		out_line(c, "%s: File path check failure: %s. ERROR", name, strerror(-err));
	c->reported++;
}

/* Scans the next file of a path request, or finishes the reply. */
static void path_next(struct sup_conn *c)
{
	while (c->fnext < c->files.n && c->state != C_CLOSING) {
		const char *name = c->files.files[c->fnext++];
		int fd, is_dir, rc;
		rc = sup_path_open(&c->peer, name, &fd, &is_dir);
		if (rc == 0 && is_dir) {
			close(fd);
			continue;  /* listed as a file, a directory now: skipped */
		}
		if (rc == 0) {
			rc = file_job(c, fd);
			close(fd);
			if (rc == 0)
				return;  /* job_done comes back here */
		}
		path_error(c, name, rc);
	}
	if (c->top_is_dir && c->reported == 0)
		out_line(c, "%s: OK", c->top);
	conn_send(c);
}

/*
 * MULTISCAN: files go to the pool up to max_concurrency at a time, so a
 * directory is scanned in parallel, as clamd's MULTISCAN does. Lines come
 * in the order scans finish; the reply is still written once, at the end.
 */
static void multi_next(struct sup_conn *c)
{
	for (unsigned i = 0; i < c->nmjobs && c->fnext < c->files.n && c->state != C_CLOSING; i++) {
		struct sup_job *job = &c->mjobs[i];
		if (job->ctx != NULL)
			continue;  /* busy */
		while (c->fnext < c->files.n) {
			size_t k = c->fnext++;
			int fd, is_dir, rc = sup_path_open(&c->peer, c->files.files[k], &fd, &is_dir);
			if (rc == 0 && is_dir) {
				close(fd);
				continue;
			}
			if (rc == 0) {
				job->tag = k;
				rc = file_job_into(c, job, fd);
				close(fd);
				if (rc == 0)
					break;
			}
			path_error(c, c->files.files[k], rc);
		}
	}
	if (c->pending > 0 || c->state == C_CLOSING)
		return;
	if (c->reported == 0)
		out_line(c, "%s: OK", c->top);
	conn_send(c);
}

static void path_request(struct sup_conn *c, const struct sup_cmd_req *req)
{
	int fd = -1, rc;

	c->top = strndup(c->cmd_buf + req->arg_off, req->arg_len);
	if (c->top == NULL) {
		conn_replyf(c, "Out of memory ERROR");
		return;
	}
	if (!c->have_peer) {
		/* TCP carries no credentials: nothing says what the client may read. */
		conn_replyf(c, "%s: Path scans need a unix socket (no client credentials over TCP); use INSTREAM ERROR",
		    c->top);
		return;
	}
	c->stop = c->cmd == SUP_CMD_SCAN || c->cmd == SUP_CMD_ALLMATCHSCAN;
	rc = sup_path_open(&c->peer, c->top, &fd, &c->top_is_dir);
	if (rc < 0) {
		path_error(c, c->top, rc);
		conn_send(c);
		return;
	}
	if (c->top_is_dir) {
		rc = sup_path_list(&c->peer, fd, c->top, CONN_MAX_FILES, &c->files);
		close(fd);
		if (rc < 0 && rc != -E2BIG) {
			path_error(c, c->top, rc);
			conn_send(c);
			return;
		}
		if (rc == -E2BIG)
			out_line(c, "%s: Too many files (more than %u) ERROR", c->top, CONN_MAX_FILES);
		plat_log(PLAT_LOG_INFO, "path_scan", "uid=%d path=\"%s\" files=%zu", (int)c->peer.uid, c->top, c->files.n);
		if (c->cmd == SUP_CMD_MULTISCAN && c->files.n > 1) {
			c->nmjobs = L.cfg->max_concurrency < c->files.n ? L.cfg->max_concurrency : (unsigned)c->files.n;
			if ((c->mjobs = calloc(c->nmjobs, sizeof(*c->mjobs))) != NULL) {
				multi_next(c);
				return;
			}
			c->nmjobs = 0;  /* no memory for that: one at a time */
		}
		path_next(c);
		return;
	}
	/* One file: its own list of one, already open. */
	c->files.files = calloc(1, sizeof(char *));
	if (c->files.files == NULL || (c->files.files[0] = strdup(c->top)) == NULL) {
		close(fd);
		conn_replyf(c, "Out of memory ERROR");
		return;
	}
	c->files.n = c->files.cap = 1;
	c->fnext = 1;
	rc = file_job(c, fd);
	close(fd);
	if (rc < 0) {
		path_error(c, c->top, rc);
		conn_send(c);
	}
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

/* Takes the next passed descriptor out of libuv (which hands them out only
 * as handles) and keeps a copy; -1 if none. */
static int take_passed_fd(struct sup_conn *c)
{
	uv_pipe_t *tmp = malloc(sizeof(*tmp));
	int fd, own = -1;

	if (tmp == NULL)
		return -1;
	if (uv_pipe_init(L.loop, tmp, 0) < 0) {
		free(tmp);
		return -1;
	}
	if (uv_accept(&c->h.stream, (uv_stream_t *)tmp) == 0 && uv_fileno((uv_handle_t *)tmp, &fd) == 0)
		own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	uv_close((uv_handle_t *)tmp, free_handle);  /* closes libuv's copy */
	return own;
}

/* FILDES: the descriptor rides with the byte after the command. */
static void fildes_receive(struct sup_conn *c)
{
	char name[32];
	struct stat st;
	int fd, rc;

	if (uv_pipe_pending_count(&c->h.pipe) == 0)
		return;  /* not yet */
	fd = take_passed_fd(c);
	while (uv_pipe_pending_count(&c->h.pipe) > 0) {
		int extra = take_passed_fd(c);  /* more than one: closed, unread */
		if (extra < 0)
			break;
		close(extra);
	}
	snprintf(name, sizeof(name), "fd[%d]", fd);
	free(c->top);
	c->top = strdup(name);
	uv_read_stop(&c->h.stream);
	uv_timer_stop(&c->timer);
	if (fd < 0) {
		conn_replyf(c, "%s: Cannot receive the descriptor ERROR", name);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		conn_replyf(c, "%s: Not a regular file ERROR", name);
		return;
	}
	rc = file_job(c, fd);
	close(fd);
	if (rc < 0) {
		path_error(c, name, rc);
		conn_send(c);
	}
}

static void stats_reply(struct sup_conn *c)
{
	struct sup_pool_info pi;
	sup_pool_describe(&pi);
	/* clamd's layout; the figures are avwarden's own (the STATS line: how
	 * long this command took, as clamd's per-thread line does). */
	out_tag(c);
	out_add(c, "POOLS: 1\n\nSTATE: VALID PRIMARY\n"
	    "THREADS: live %u  idle %u max %u idle-timeout %u\n"
	    "QUEUE: %zu items\n\tSTATS %.6f \n\n"
	    "MEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used N/A pools_total N/A\n"
	    "END%c", pi.busy + pi.idle, pi.idle, L.cfg->max_concurrency, L.cfg->command_read_timeout,
	    pi.queue_depth, (double)(plat_now_ns() - c->t_cmd) / 1e9, c->delim);
	conn_send(c);
}

static void run_command(struct sup_conn *c, const struct sup_cmd_req *req)
{
	int rc;

	c->delim = req->delim;
	c->cmd = req->cmd;
	c->t_cmd = plat_now_ns();
	if (c->session) {
		c->req_id = ++c->next_id;
		/* clamd: inside a session only z/n commands, and not these. */
		if (req->legacy || req->cmd == SUP_CMD_IDSESSION || req->cmd == SUP_CMD_SHUTDOWN ||
		    req->cmd == SUP_CMD_RELOAD || req->cmd == SUP_CMD_UNKNOWN) {
			out_add(c, "%u: Command invalid inside IDSESSION. ERROR%c", c->req_id, c->delim);
			c->session = 0;
			conn_send(c);
			return;
		}
	}
	switch (req->cmd) {
	case SUP_CMD_PING:
		conn_replyf(c, "PONG");
		return;
	case SUP_CMD_VERSION:
		conn_replyf(c, "ClamAV %s", sup_pool_engine_version());
		return;
	case SUP_CMD_VERSIONCOMMANDS:
		conn_replyf(c, "ClamAV %s| COMMANDS: %s", sup_pool_engine_version(), sup_clamd_command_list());
		return;
	case SUP_CMD_STATS:
		stats_reply(c);
		return;
	case SUP_CMD_IDSESSION:
		c->session = 1;
		c->next_id = 0;
		return;  /* no reply; commands follow */
	case SUP_CMD_END:
		c->session = 0;
		conn_send(c);  /* nothing to say: the connection closes */
		return;
	case SUP_CMD_RELOAD:
		/* clamd answers at once and reloads in the background; so do we,
		 * by generations: scans go on meanwhile. */
		sup_pool_reload("clamd RELOAD command", NULL, NULL);
		conn_replyf(c, "RELOADING");
		return;
	case SUP_CMD_SHUTDOWN:
		conn_close(c);
		sup_shutdown("SHUTDOWN command from a client");
		return;
	case SUP_CMD_SCAN:
	case SUP_CMD_CONTSCAN:
	case SUP_CMD_MULTISCAN:
	case SUP_CMD_ALLMATCHSCAN:
		uv_read_stop(&c->h.stream);
		uv_timer_stop(&c->timer);
		c->state = C_SCANNING;
		path_request(c, req);
		return;
	case SUP_CMD_FILDES:
		if (c->l->unix_path == NULL) {
			conn_replyf(c, "FILDES needs a unix socket ERROR");
			return;
		}
		c->state = C_FILDES;
		fildes_receive(c);
		return;
	case SUP_CMD_AVWINSTREAM:
	case SUP_CMD_INSTREAM:
		c->wire = c->l->spec.wire;
		if (req->cmd == SUP_CMD_AVWINSTREAM && req->arg_len > 0) {
			if (req->arg_len != 4 || memcmp(c->cmd_buf + req->arg_off, "WIRE", 4) != 0) {
				c->session = 0;
				conn_replyf(c, "UNKNOWN COMMAND");
				return;
			}
			c->wire = 1;
		}
		rc = ipc_gather_get(&c->job.buf, L.cfg->max_message_size + SUP_INSTREAM_SLACK);
		if (rc < 0) {
			plat_log(PLAT_LOG_ERROR, "job_buffer", "error=\"%s\"", strerror(-rc));
			conn_replyf(c, "stream: %s ERROR", ipc_engine_strerror(20 /* CL_EMEM */));
			return;
		}
		sup_instream_init(&c->is, c->job.buf.base, L.cfg->max_message_size);
		c->state = C_STREAM;
		uv_timer_start(&c->timer, conn_timeout, (uint64_t)L.cfg->read_timeout * 1000, 0);
		return;
	case SUP_CMD_UNKNOWN:
	default:
		c->session = 0;
		conn_replyf(c, "UNKNOWN COMMAND");
		return;
	}
}

/*
 * Runs whole commands in the buffer, one request at a time: a session may
 * send several at once, and an INSTREAM's chunks may follow its command in
 * the same read. Stops when a request is under way or more input is needed.
 */
static void conn_commands(struct sup_conn *c)
{
	struct sup_cmd_req req;
	int rc;

	while (c->state == C_CMD && c->cmdlen > 0) {
		rc = sup_clamd_parse(c->cmd_buf, c->cmdlen, &req);
		if (rc == 0)
			return;
		if (rc < 0) {
			/* Like clamd: a command that never ends is dropped unanswered. */
			plat_log(PLAT_LOG_WARN, "bad_command", "reason=\"no terminator within %d bytes\"", SUP_CLAMD_CMD_MAX);
			conn_close(c);
			return;
		}
		run_command(c, &req);
		if (c->state == C_CLOSING)
			return;
		/* Arguments were copied out by now: drop the line. */
		memmove(c->cmd_buf, c->cmd_buf + req.consumed, c->cmdlen - req.consumed);
		c->cmdlen -= req.consumed;
		if (c->state == C_STREAM && c->cmdlen > 0) {
			/* Chunk bytes that came with the command line: copied once. */
			size_t used = stream_feed(c, (const unsigned char *)c->cmd_buf, c->cmdlen);
			memmove(c->cmd_buf, c->cmd_buf + used, c->cmdlen - used);
			c->cmdlen -= used;
		}
		if (c->state == C_FILDES && c->cmdlen > 0) {
			/* The byte the descriptor came with. */
			memmove(c->cmd_buf, c->cmd_buf + 1, c->cmdlen - 1);
			c->cmdlen--;
		}
		if (!c->session && c->state != C_CMD)
			c->cmdlen = 0;  /* outside a session nothing follows a request */
	}
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sup_conn *c = h->data;
	static char sink[64];

	(void)suggested;
	if (c->state == C_CMD && c->cmdlen < SUP_CLAMD_CMD_MAX) {
		*buf = uv_buf_init(c->cmd_buf + c->cmdlen, (unsigned)(SUP_CLAMD_CMD_MAX - c->cmdlen));
	} else if (c->state == C_STREAM) {
		unsigned char *p;
		size_t n, off;
		sup_instream_next(&c->is, &p, &n);
		off = (size_t)(p - c->is.base);
		/* Grow the mapping ahead of the read, at most 1 MB at a time. */
		if (n > (1u << 20))
			n = 1u << 20;
		if (off + n > c->job.buf.mapped) {
			size_t need = off + n < c->job.buf.cap ? off + n : c->job.buf.cap;
			if (ipc_gather_reserve(&c->job.buf, need) < 0) {
				*buf = uv_buf_init(NULL, 0);  /* libuv reports UV_ENOBUFS */
				return;
			}
			c->is.base = c->job.buf.base;
			p = c->is.base + off;
		}
		if (off + n > c->job.buf.mapped)
			n = c->job.buf.mapped - off;
		*buf = uv_buf_init((char *)p, (unsigned)n);
	} else {
		*buf = uv_buf_init(sink, sizeof(sink));
	}
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct sup_conn *c = s->data;

	if (nread == 0)
		return;
	if (nread == UV_ENOBUFS && c->state == C_STREAM) {
		/* No memory for the message: say so rather than vanish. */
		plat_log(PLAT_LOG_WARN, "message_memory", "received=%zu in_use=%zu max_message_memory=%" PRIu64
		    " fix=\"raise max_message_memory if the machine has the memory\"",
		    c->is.len, ipc_gather_in_use(), L.cfg->max_message_memory);
		c->linger = 1;
		c->session = 0;
		ipc_gather_put(&c->job.buf);
		conn_replyf(c, "stream: %s ERROR", ipc_engine_strerror(20 /* CL_EMEM */));
		return;
	}
	if (nread < 0) {
		/* EOF or error before a whole request: nothing to answer. */
		conn_close(c);
		return;
	}
	if (c->state == C_STREAM)
		uv_timer_again(&c->timer);  /* read_timeout runs between reads */
	switch (c->state) {
	case C_CMD:
		c->cmdlen += (size_t)nread;
		conn_commands(c);
		return;
	case C_STREAM:
		stream_feed(c, (const unsigned char *)buf->base, (size_t)nread);
		return;
	case C_FILDES:
		fildes_receive(c);
		return;
	default:
		return;  /* bytes after a complete request are ignored */
	}
}

static int peer_allowed(const struct sup_listener *l, const struct sockaddr_storage *ss)
{
	if (l->spec.nallow == 0)
		return 1;
	for (unsigned i = 0; i < l->spec.nallow; i++)
		if (sup_cidr_match(&l->spec.allow[i], (const struct sockaddr *)ss))
			return 1;
	return 0;
}

/* Over max_connections: take the connection off the queue and close it. */
static void refuse_connection(struct sup_listener *l, uv_stream_t *server)
{
	static uint64_t last_ns;
	union sup_stream *h = malloc(sizeof(*h));
	uint64_t now = plat_now_ns();

	if (now - last_ns > 10000000000ull) {
		last_ns = now;
		plat_log(PLAT_LOG_WARN, "connection_limit", "listen=%s max_connections=%u "
		    "action=\"new connections closed\" fix=\"raise max_connections, or look for a client that "
		    "opens connections without finishing them\"", l->name, L.cfg->max_connections);
	}
	if (h == NULL)
		return;
	if ((l->unix_path ? uv_pipe_init(L.loop, &h->pipe, 0) : uv_tcp_init(L.loop, &h->tcp)) < 0) {
		free(h);
		return;
	}
	(void)uv_accept(server, &h->stream);
	uv_close(&h->handle, free_handle);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct sup_listener *l = server->data;
	struct sup_conn *c;
	int rc, fd;

	if (status < 0) {
		plat_log(PLAT_LOG_WARN, "accept", "listen=%s error=\"%s\"", l->name, uv_strerror(status));
		return;
	}
	if (L.active >= L.cfg->max_connections) {
		refuse_connection(l, server);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		plat_log(PLAT_LOG_ERROR, "accept", "error=\"out of memory\"");
		return;
	}
	if (uv_timer_init(L.loop, &c->timer) < 0) {
		free(c);
		return;
	}
	c->timer.data = c;
	c->l = l;
	/* Unix connections can carry descriptors (FILDES): an IPC pipe. */
	if (l->unix_path)
		rc = uv_pipe_init(L.loop, &c->h.pipe, 1);
	else
		rc = uv_tcp_init(L.loop, &c->h.tcp);
	if (rc < 0) {
		uv_close((uv_handle_t *)&c->timer, conn_free_unlisted);
		return;
	}
	c->handles = 2;
	c->h.handle.data = c;
	c->next = L.conns;
	if (L.conns)
		L.conns->prev = c;
	L.conns = c;
	L.active++;
	if (uv_accept(server, &c->h.stream) < 0) {
		conn_close(c);
		return;
	}
	if (l->unix_path) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (uv_fileno(&c->h.handle, &fd) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof(cred)) {
			c->peer = (struct sup_peer){ cred.uid, cred.gid, cred.pid };
			c->have_peer = 1;
		}
	} else {
		struct sockaddr_storage ss;
		int sl = sizeof(ss);
		char ip[64] = "?";
		memset(&ss, 0, sizeof(ss));
		uv_tcp_nodelay(&c->h.tcp, 1);
		if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &sl) < 0 || !peer_allowed(l, &ss)) {
			if (ss.ss_family == AF_INET)
				uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
			else if (ss.ss_family == AF_INET6)
				uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
			plat_log(PLAT_LOG_WARN, "client_refused", "listen=%s client=%s reason=\"not in the listener's allow= list\"",
			    l->name, ip);
			conn_close(c);
			return;
		}
	}
	c->state = C_CMD;
	uv_timer_start(&c->timer, conn_timeout, (uint64_t)L.cfg->command_read_timeout * 1000, 0);
	if (uv_read_start(&c->h.stream, conn_alloc, conn_read) < 0)
		conn_close(c);
}

/* -------------------------------------------------------------- listeners */

int sup_unix_listen(uv_loop_t *loop, uv_pipe_t *pipe, const char *path, int mode, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int rc, fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; remove it or choose another path", path);
			return -EEXIST;
		}
		/* A live socket belongs to a running daemon: never steal it. */
		strcpy(sa.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			snprintf(err, errlen, "%s is in use by a running process (another avwarden or clamd?)", path);
			return -EADDRINUSE;
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
	}
	if ((rc = uv_pipe_init(loop, pipe, 0)) < 0 ||
	    (rc = uv_pipe_bind(pipe, path)) < 0) {
		snprintf(err, errlen, "cannot bind %s: %s (does its directory exist and is it writable?)",
		    path, uv_strerror(rc));
		return rc;
	}
	if (chmod(path, (mode_t)mode) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot chmod %s: %s", path, strerror(errno));
		return rc;
	}
	return 0;
}

static int listen_one(struct sup_listener *l, const char *spec, char *err, size_t errlen)
{
	struct sup_listen_spec *sp = &l->spec;
	char why[256];
	int rc;

	l->name = strdup(spec);
	if (sup_listen_parse(spec, sp, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "listen %s: %s", spec, why);
		return -EINVAL;
	}
	if (sp->is_unix) {
		uid_t uid = (uid_t)-1;
		gid_t gid = (gid_t)-1;
		if (sp->owner[0] != '\0') {
			struct passwd *pw = getpwnam(sp->owner);
			if (pw == NULL) {
				snprintf(err, errlen, "listen %s: no user %s", spec, sp->owner);
				return -ENOENT;
			}
			uid = pw->pw_uid;
			gid = pw->pw_gid;
		}
		if (sp->group[0] != '\0') {
			struct group *gr = getgrnam(sp->group);
			if (gr == NULL) {
				snprintf(err, errlen, "listen %s: no group %s", spec, sp->group);
				return -ENOENT;
			}
			gid = gr->gr_gid;
		}
		l->unix_path = strdup(sp->path);
		rc = sup_unix_listen(L.loop, &l->h.pipe, l->unix_path, (int)sp->mode, err, errlen);
		if (rc < 0)
			return rc;
		if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(l->unix_path, uid, gid) < 0) {
			rc = -errno;
			snprintf(err, errlen, "listen %s: cannot chown: %s", spec, strerror(errno));
			return rc;
		}
	} else {
		struct sockaddr_storage ss;
		if (strchr(sp->host, ':') != NULL)
			rc = uv_ip6_addr(sp->host, sp->port, (struct sockaddr_in6 *)&ss);
		else
			rc = uv_ip4_addr(sp->host, sp->port, (struct sockaddr_in *)&ss);
		if (rc < 0) {
			snprintf(err, errlen, "listen %s: not an IP address: %s", spec, sp->host);
			return rc;
		}
		if ((rc = uv_tcp_init(L.loop, &l->h.tcp)) < 0 ||
		    (rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, strchr(sp->host, ':') ? UV_TCP_IPV6ONLY : 0)) < 0) {
			snprintf(err, errlen, "cannot bind %s: %s", spec, uv_strerror(rc));
			return rc;
		}
	}
	l->h.handle.data = l;
	rc = uv_listen(&l->h.stream, 128, on_connection);
	if (rc < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s (port or path already in use?)", spec, uv_strerror(rc));
		return rc;
	}
	plat_log(PLAT_LOG_INFO, "listen", "address=%s", spec);
	if (!sp->is_unix && sp->nallow == 0 && strcmp(sp->host, "127.0.0.1") != 0 && strcmp(sp->host, "::1") != 0)
		plat_log(PLAT_LOG_WARN, "listen_open", "address=%s reason=\"any host that reaches it can scan, "
		    "RELOAD and SHUTDOWN\" fix=\"add allow=NETWORK/BITS to the listen entry\"", spec);
	return 0;
}

int sup_listen_start(uv_loop_t *loop, const struct sup_config *cfg, char *err, size_t errlen)
{
	L.loop = loop;
	L.cfg = cfg;
	ipc_gather_set_budget(cfg->max_message_memory);
	L.nls = cfg->nlisten;
	L.ls = calloc(L.nls, sizeof(*L.ls));
	if (L.ls == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < L.nls; i++) {
		int rc = listen_one(&L.ls[i], cfg->listen[i], err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void listener_closed(uv_handle_t *h)
{
	struct sup_listener *l = h->data;

	if (l->unix_path)
		unlink(l->unix_path);
	free(l->unix_path);
	free(l->name);
	l->unix_path = NULL;
	l->name = NULL;
}

/* Stops accepting; connections that have not submitted a job are closed. */
void sup_listen_stop(void (*idle_cb)(void))
{
	L.stopping = 1;
	L.idle_cb = idle_cb;
	for (size_t i = 0; i < L.nls; i++)
		if (L.ls[i].name != NULL && !uv_is_closing(&L.ls[i].h.handle))
			uv_close(&L.ls[i].h.handle, listener_closed);
	for (struct sup_conn *c = L.conns, *n; c != NULL; c = n) {
		n = c->next;
		if (c->state == C_CMD || c->state == C_STREAM)
			conn_close(c);
	}
	if (L.active == 0 && L.idle_cb) {
		L.idle_cb = NULL;
		idle_cb();
	}
}

void sup_listen_free(void)
{
	free(L.ls);
	L.ls = NULL;
}

size_t sup_listen_active(void)
{
	return L.active;
}
