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
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../platform/plat.h"

enum conn_state { C_CMD, C_STREAM, C_SCANNING, C_REPLY, C_LINGER, C_CLOSING };

/*
 * After an error reply to a client that is still sending (size limit), we
 * half-close and discard its input for a moment instead of closing at once:
 * closing with unread data sends a reset that can destroy the reply.
 */
#define CONN_LINGER_MS 2000

/* A unix or TCP stream, seen as whichever libuv type the call needs. */
union sup_stream {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

struct sup_conn {
	union sup_stream h;
	enum conn_state state;
	struct sup_conn *prev, *next;
	uv_timer_t timer;          /* read timeouts, linger */
	uv_shutdown_t sreq;
	int handles;               /* open uv handles: stream + timer */
	int linger;                /* discard input after the reply is written */
	int job_pending;           /* the pool holds conn->job */
	int gone;                  /* handle closed while the job was pending */
	char delim;
	size_t cmdlen;
	struct sup_instream is;
	struct sup_job job;
	uv_write_t wreq;
	char reply[IPC_NAME_MAX + 192];
	char cmd[SUP_CLAMD_CMD_MAX + 1];
};

struct sup_listener {
	union sup_stream h;
	char *name;
	char *unix_path;
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
static void conn_reply(struct sup_conn *c, const char *text, size_t len);

static void conn_free(struct sup_conn *c)
{
	ipc_gather_put(&c->job.buf);
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
	if (c->job_pending)
		c->gone = 1;  /* freed when the pool answers */
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

static void conn_timeout(uv_timer_t *t)
{
	struct sup_conn *c = t->data;

	switch (c->state) {
	case C_CMD:
	case C_STREAM:
		/* clamd's words, and always a newline, whatever the command form. */
		plat_log(PLAT_LOG_INFO, "client_timeout", "state=%s", c->state == C_CMD ? "command" : "stream");
		c->linger = 1;
		conn_reply(c, "COMMAND READ TIMED OUT\n", 23);
		return;
	default:
		conn_close(c);  /* linger over, or a write that never drains */
		return;
	}
}

static void conn_shutdown_done(uv_shutdown_t *req, int status)
{
	(void)req;
	(void)status;
}

static void reply_written(uv_write_t *req, int status)
{
	struct sup_conn *c = req->data;

	if (status < 0 || !c->linger || c->state == C_CLOSING) {
		conn_close(c);
		return;
	}
	c->state = C_LINGER;
	uv_timer_start(&c->timer, conn_timeout, CONN_LINGER_MS, 0);
	if (uv_shutdown(&c->sreq, &c->h.stream, conn_shutdown_done) < 0 ||
	    uv_read_start(&c->h.stream, conn_alloc, conn_read) < 0)
		conn_close(c);
}

/* One reply, one write, then close. */
static void conn_reply(struct sup_conn *c, const char *text, size_t len)
{
	uv_buf_t b;

	if (c->state == C_CLOSING)
		return;
	if (len > sizeof(c->reply))
		len = sizeof(c->reply);
	memcpy(c->reply, text, len);
	b = uv_buf_init(c->reply, (unsigned)len);
	c->state = C_REPLY;
	uv_read_stop(&c->h.stream);
	uv_timer_stop(&c->timer);
	c->wreq.data = c;
	if (uv_write(&c->wreq, &c->h.stream, &b, 1, reply_written) < 0)
		conn_close(c);
}

static void conn_replyf(struct sup_conn *c, const char *fmt, ...) PLAT_PRINTF(2, 3);

static void conn_replyf(struct sup_conn *c, const char *fmt, ...)
{
	char buf[sizeof(c->reply)];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	conn_reply(c, buf, (size_t)n);  /* may hold a '\0' delimiter: length-based */
}

static void job_done(struct sup_job *job, const struct sup_verdict *v)
{
	struct sup_conn *c = job->ctx;
	char buf[sizeof(c->reply)];
	int n;

	c->job_pending = 0;
	if (c->gone) {
		conn_free(c);
		return;
	}
	n = sup_clamd_format_result(v, c->delim, buf, sizeof(buf));
	if (n < 0)
		n = snprintf(buf, sizeof(buf), "stream: Unspecified error ERROR%c", c->delim);
	conn_reply(c, buf, (size_t)n);
}

static void stream_complete(struct sup_conn *c)
{
	uv_read_stop(&c->h.stream);
	uv_timer_stop(&c->timer);
	c->job.len = c->is.len;
	c->state = C_SCANNING;
	c->job.id = ++L.next_job_id;
	c->job.done = job_done;
	c->job.ctx = c;
	c->job_pending = 1;
	sup_pool_submit(&c->job);
}

static void stream_feed(struct sup_conn *c, const unsigned char *p, size_t n)
{
	switch (sup_instream_feed(&c->is, p, n)) {
	case SUP_INSTREAM_MORE:
		return;
	case SUP_INSTREAM_DONE:
		stream_complete(c);
		return;
	default:
		plat_log(PLAT_LOG_WARN, "size_limit", "max_message_size=%" PRIu64 " received=%zu "
		    "fix=\"raise max_message_size if such mail is legitimate\"",
		    L.cfg->max_message_size, c->is.len);
		c->linger = 1;
		conn_replyf(c, "INSTREAM size limit exceeded. ERROR%c", c->delim);
		ipc_gather_put(&c->job.buf);
		return;
	}
}

static void run_command(struct sup_conn *c, const struct sup_cmd_req *req)
{
	size_t left = c->cmdlen - req->consumed;
	int rc;

	c->delim = req->delim;
	switch (req->cmd) {
	case SUP_CMD_PING:
		conn_replyf(c, "PONG%c", c->delim);
		return;
	case SUP_CMD_VERSION:
		conn_replyf(c, "ClamAV %s%c", sup_pool_engine_version(), c->delim);
		return;
	case SUP_CMD_RELOAD:
		/* clamd answers at once and reloads in the background; so do we,
		 * by generations: scans go on meanwhile. */
		conn_replyf(c, "RELOADING%c", c->delim);
		sup_pool_reload("clamd RELOAD command", NULL, NULL);
		return;
	case SUP_CMD_SHUTDOWN:
		conn_close(c);
		sup_shutdown("SHUTDOWN command from a client");
		return;
	case SUP_CMD_INSTREAM:
		rc = ipc_gather_get(&c->job.buf, L.cfg->max_message_size + SUP_INSTREAM_SLACK);
		if (rc < 0) {
			plat_log(PLAT_LOG_ERROR, "job_buffer", "error=\"%s\"", strerror(-rc));
			conn_replyf(c, "stream: %s ERROR%c", ipc_engine_strerror(20 /* CL_EMEM */), c->delim);
			return;
		}
		sup_instream_init(&c->is, c->job.buf.base, L.cfg->max_message_size);
		c->state = C_STREAM;
		uv_timer_start(&c->timer, conn_timeout, (uint64_t)L.cfg->read_timeout * 1000, 0);
		/* Chunk bytes that came with the command line: copied once. */
		if (left > 0)
			stream_feed(c, (const unsigned char *)c->cmd + req->consumed, left);
		return;
	case SUP_CMD_UNKNOWN:
	default:
		conn_replyf(c, "UNKNOWN COMMAND%c", c->delim);
		return;
	}
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sup_conn *c = h->data;
	static char sink[64];

	(void)suggested;
	if (c->state == C_CMD && c->cmdlen < SUP_CLAMD_CMD_MAX) {
		*buf = uv_buf_init(c->cmd + c->cmdlen, (unsigned)(SUP_CLAMD_CMD_MAX - c->cmdlen));
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
	struct sup_cmd_req req;
	int rc;

	if (nread == 0)
		return;
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
		rc = sup_clamd_parse(c->cmd, c->cmdlen, &req);
		if (rc < 0) {
			/* Like clamd: a command that never ends is dropped unanswered. */
			plat_log(PLAT_LOG_WARN, "bad_command", "reason=\"no terminator within %d bytes\"", SUP_CLAMD_CMD_MAX);
			conn_close(c);
		} else if (rc > 0)
			run_command(c, &req);
		return;
	case C_STREAM:
		stream_feed(c, (const unsigned char *)buf->base, (size_t)nread);
		return;
	default:
		return;  /* bytes after a complete request are ignored */
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct sup_listener *l = server->data;
	struct sup_conn *c;
	int rc;

	if (status < 0) {
		plat_log(PLAT_LOG_WARN, "accept", "listen=%s error=\"%s\"", l->name, uv_strerror(status));
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
	if (l->unix_path)
		rc = uv_pipe_init(L.loop, &c->h.pipe, 0);
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
	if (!l->unix_path)
		uv_tcp_nodelay(&c->h.tcp, 1);
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
	int rc;

	l->name = strdup(spec);
	if (strncmp(spec, "unix:", 5) == 0) {
		l->unix_path = strdup(spec + 5);
		/* clamd's LocalSocketMode default in Debian: MTAs run as other users. */
		rc = sup_unix_listen(L.loop, &l->h.pipe, l->unix_path, 0666, err, errlen);
		if (rc < 0)
			return rc;
	} else {
		char host[128];
		const char *hp = spec + 4, *colon = strrchr(hp, ':');
		struct sockaddr_storage ss;
		size_t hl = (size_t)(colon - hp);
		int port = atoi(colon + 1);

		if (hl >= sizeof(host)) {
			snprintf(err, errlen, "listen %s: address too long", spec);
			return -EINVAL;
		}
		memcpy(host, hp, hl);
		host[hl] = '\0';
		if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
			host[hl - 1] = '\0';
			rc = uv_ip6_addr(host + 1, port, (struct sockaddr_in6 *)&ss);
		} else
			rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
		if (rc < 0) {
			snprintf(err, errlen, "listen %s: not an IP address: %s", spec, host);
			return rc;
		}
		if ((rc = uv_tcp_init(L.loop, &l->h.tcp)) < 0 ||
		    (rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0)) < 0) {
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
	return 0;
}

int sup_listen_start(uv_loop_t *loop, const struct sup_config *cfg, char *err, size_t errlen)
{
	L.loop = loop;
	L.cfg = cfg;
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
