/*
 * supervisor/session.c: clamd sessions (see session.h): opening one,
 * reading its bytes, the command loop. What each command does is in
 * commands.c; the reply, the timer and closing are in conn.c.
 *
 * A connection reads one command at a time (C_CMD), then serves it: an
 * INSTREAM is gathered (C_STREAM) straight into a pooled gather buffer and
 * submitted; a path command or FILDES goes to pathscan.c (C_SCANNING); the
 * reply is written (C_REPLY), and then the connection closes, lingers
 * (after an error to a client still sending), or, inside IDSESSION, reads
 * the next command. Closing at any point cancels what is in flight.
 */
#define _GNU_SOURCE
#include "sessint.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S sup_sessions

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Bytes that came with the command line: INSTREAM chunks, or the one byte
 * a FILDES descriptor rides on. */
static void after_command(struct sup_conn *c)
{
	if (c->state == C_STREAM && c->cmdlen > 0) {
		size_t used = sup_cmd_stream_feed(c, (const unsigned char *)c->cmd_buf, c->cmdlen);
		memmove(c->cmd_buf, c->cmd_buf + used, c->cmdlen - used);
		c->cmdlen -= used;
	}
	if (c->state == C_FILDES)
		sup_cmd_fildes_receive(c);
	if (!c->session && c->state != C_CMD)
		c->cmdlen = 0;  /* outside a session nothing follows a request */
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
			log_warnx("bad_command", "reason=\"no terminator within %d bytes\"", SUP_CLAMD_CMD_MAX);
			sup_conn_close(c);
			return;
		}
		sup_cmd_run(c, &req);
		if (c->state == C_CLOSING)
			return;
		/* Arguments were copied out by now: drop the line. */
		memmove(c->cmd_buf, c->cmd_buf + req.consumed, c->cmdlen - req.consumed);
		c->cmdlen -= req.consumed;
		after_command(c);
	}
}

/* --------------------------------------------------------------- reading */

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sup_conn *c = h->data;
	static char sink[64];

	(void)suggested;
	if ((c->state == C_CMD || c->state == C_FILDES) && c->cmdlen < SUP_CLAMD_CMD_MAX) {
		*buf = uv_buf_init(c->cmd_buf + c->cmdlen, (unsigned)(SUP_CLAMD_CMD_MAX - c->cmdlen));
	} else if (c->state == C_SCANNING && c->session && c->cmdlen < SUP_CLAMD_CMD_MAX) {
		/* A session's next commands, kept for after this reply. */
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

/*
 * The client has really gone (not just shut its sending side, as a client
 * that waits for its reply may): only a unix socket tells, with POLLHUP once
 * both directions are shut. Over TCP the two look alike until we write.
 */
static int client_gone(struct sup_conn *c)
{
	struct pollfd p = { .events = POLLIN | POLLRDHUP };

	if (!c->is_unix || uv_fileno(&c->h->handle, &p.fd) < 0)
		return 0;
	return PLAT_RETRY(poll(&p, 1, 0)) == 1 && (p.revents & POLLHUP);
}

/*
 * While a request scans, the connection is still read: to keep a session's
 * next commands, and to notice a client that left, whose scan is then
 * cancelled (its worker killed) instead of running on for nobody.
 */
static void scanning_read(struct sup_conn *c, ssize_t nread)
{
	if (nread >= 0) {
		if (c->session) {
			c->cmdlen += (size_t)nread;
			if (c->cmdlen >= SUP_CLAMD_CMD_MAX)
				(void)uv_read_stop(&c->h->stream);  /* resumed after the reply */
		}
		return;  /* outside a session, bytes after a request are ignored */
	}
	if (nread == UV_EOF && !client_gone(c))
		return;  /* a half-close: it waits for the reply (libuv stops reading) */
	log_info("client_gone", "cmd=%d reason=\"%s\" action=\"its scan is cancelled\"", (int)c->cmd,
	    nread == UV_EOF ? "closed" : uv_strerror((int)nread));
	sup_conn_close(c);
}

static void conn_read_state(struct sup_conn *c, ssize_t nread, const uv_buf_t *buf);

/*
 * Descriptors come with the read that brought them (sup_cmd_collect_fds).
 * One whose byte is already consumed can no longer be claimed and is
 * closed; outside a session all are, once no command can claim one. A
 * session whose next commands hold CONN_SESSION_FDS descriptors is not read
 * further until this request is answered (conn.c reads on after a reply).
 */
static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct sup_conn *c = s->data;
	uint64_t start = c->rx;

	if (!c->is_unix) {
		conn_read_state(c, nread, buf);
		return;
	}
	if (nread > 0)
		c->rx += (uint64_t)nread;
	sup_cmd_collect_fds(c, start);
	conn_read_state(c, nread, buf);
	if (c->state == C_CLOSING)
		return;
	if (!c->session && c->state != C_CMD && c->state != C_FILDES)
		sup_cmd_drop_fds(c);
	else
		sup_cmd_prune_fds(c, c->rx - c->cmdlen);
	if (c->session && c->nfdq == CONN_SESSION_FDS && c->state != C_CMD && c->state != C_FILDES)
		(void)uv_read_stop(&c->h->stream);
}

static void conn_read_state(struct sup_conn *c, ssize_t nread, const uv_buf_t *buf)
{
	if (nread == 0)
		return;
	if (nread == UV_ENOBUFS && c->state == C_STREAM) {
		/* No memory for the message: say so rather than vanish. */
		sup_counters.rejected_memory++;
		log_warnx("message_memory", "received=%zu in_use=%zu max_message_memory=%" PRIu64
		    " fix=\"raise max_message_memory if the machine has the memory\"",
		    c->is.len, ipc_gather_in_use(), S.cfg->max_message_memory);
		c->after = AFTER_LINGER;
		c->session = 0;
		ipc_gather_put(&c->job.buf);
		if (!sup_conn_own_error(c, "max_message_memory reached"))
			sup_conn_replyf(c, "stream: %s ERROR", ipc_engine_strerror(20 /* CL_EMEM */));
		return;
	}
	if (c->state == C_SCANNING) {
		scanning_read(c, nread);
		return;
	}
	if (nread < 0) {
		/* EOF or error before a whole request: nothing to answer. */
		sup_conn_close(c);
		return;
	}
	if (c->state == C_STREAM)
		(void)uv_timer_again(&c->timer);  /* read_timeout runs between reads */
	switch (c->state) {
	case C_CMD:
		c->cmdlen += (size_t)nread;
		conn_commands(c);
		return;
	case C_STREAM:
		sup_cmd_stream_feed(c, (const unsigned char *)buf->base, (size_t)nread);
		return;
	case C_FILDES:
		c->cmdlen += (size_t)nread;
		sup_cmd_fildes_receive(c);
		if (!c->session)
			c->cmdlen = 0;  /* outside a session nothing follows a request */
		return;
	default:
		return;  /* bytes after a complete request are ignored */
	}
}

/* ------------------------------------------------------------------ API */

static int read_start(struct sup_conn *c)
{
	return uv_read_start(&c->h->stream, conn_alloc, conn_read);
}

void sup_sessions_init(uv_loop_t *loop, const struct sup_config *cfg, const struct sup_session_ops *ops)
{
	S.loop = loop;
	S.cfg = cfg;
	S.ops = ops;
	S.read_start = read_start;
	S.next_command = conn_commands;
	S.stopping = 0;
	S.idle_cb = NULL;
}

size_t sup_sessions_count(void)
{
	return S.active;
}

static void stream_free(uv_handle_t *h)
{
	free(h);
}

void sup_session_open(union sup_stream *h, const struct sup_listener_info *l, const struct sup_peer *peer)
{
	struct sup_conn *c;

	if (S.stopping || (c = calloc(1, sizeof(*c))) == NULL) {
		uv_close(&h->handle, stream_free);
		return;
	}
	if (uv_timer_init(S.loop, &c->timer) < 0) {
		free(c);
		uv_close(&h->handle, stream_free);
		return;
	}
	c->h = h;
	c->timer.data = c;
	h->handle.data = c;
	c->handles = 2;
	c->is_unix = l->is_unix;
	c->wire_listener = l->wire;
	c->errors_close = l->errors_close;
	c->unscannable = l->unscannable >= 0 ? l->unscannable : S.cfg->unscannable_action;
	snprintf(c->listener, sizeof(c->listener), "%s", l->name);
	if (peer != NULL) {
		c->peer = *peer;
		c->have_peer = 1;
	}
	sup_reply_init(&c->reply, &h->stream, sup_conn_written, c);
	c->next = S.conns;
	if (S.conns)
		S.conns->prev = c;
	S.conns = c;
	S.active++;
	c->state = C_CMD;
	sup_conn_arm_timer(c, (uint64_t)S.cfg->command_read_timeout * 1000);
	if (uv_read_start(&h->stream, conn_alloc, conn_read) < 0)
		sup_conn_close(c);
}

/* Connections that have not submitted a request are closed. */
void sup_sessions_stop(void (*idle_cb)(void))
{
	S.stopping = 1;
	S.idle_cb = idle_cb;
	for (struct sup_conn *c = S.conns, *n; c != NULL; c = n) {
		n = c->next;
		if (c->state == C_CMD || c->state == C_STREAM || c->state == C_FILDES || c->state == C_LINGER)
			sup_conn_close(c);
	}
	if (S.active == 0 && S.idle_cb) {
		S.idle_cb = NULL;
		idle_cb();
	}
}
