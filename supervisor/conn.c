/*
 * supervisor/conn.c: a clamd connection's life below its commands: the
 * reply it is owed, its one timer (command, stream, write, linger), what
 * follows a reply, and closing, which cancels whatever is in flight.
 * Reading is session.c's, reached through the hooks it installs.
 */
#define _GNU_SOURCE
#include "sessint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct sup_sessions sup_sessions;
#define S sup_sessions

static void conn_timeout(uv_timer_t *t);

/* ---------------------------------------------------------- lifetime */

static void conn_closed(uv_handle_t *h)
{
	struct sup_conn *c = h->data;

	if (--c->handles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		S.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	S.active--;
	ipc_gather_put(&c->job.buf);
	sup_reply_free(&c->reply);
	free(c->h);
	free(c);
	if (S.active == 0 && S.stopping && S.idle_cb) {
		void (*cb)(void) = S.idle_cb;
		S.idle_cb = NULL;
		cb();
	}
}

/* Whatever is in flight is cancelled: the pool and pathscan.c never call back. */
void sup_conn_close(struct sup_conn *c)
{
	if (c->state == C_CLOSING)
		return;
	c->state = C_CLOSING;
	if (c->job_pending)
		sup_pool_cancel(&c->job);
	c->job_pending = 0;
	if (c->ps != NULL)
		sup_pathscan_cancel(c->ps);
	c->ps = NULL;
	(void)uv_read_stop(&c->h->stream);
	(void)uv_timer_stop(&c->timer);
	sup_cmd_drop_fds(c);
	uv_close(&c->h->handle, conn_closed);
	uv_close((uv_handle_t *)&c->timer, conn_closed);
}

/* ------------------------------------------------------------- reply */

/* Inside a session every reply starts with its request's number. */
void sup_conn_out_tag(struct sup_conn *c)
{
	if (c->session)
		(void)sup_reply_printf(&c->reply, "%u: ", c->req_id);
}

/* One reply line: the session tag, the text, the delimiter. If memory runs
 * out the connection is closed: a reply is never cut short silently. */
void sup_conn_out_line(struct sup_conn *c, const char *fmt, ...)
{
	va_list ap;
	int rc;

	sup_conn_out_tag(c);
	va_start(ap, fmt);
	rc = sup_reply_vprintf(&c->reply, fmt, ap);
	va_end(ap);
	if (rc == 0)
		rc = sup_reply_bytes(&c->reply, &c->delim, 1);
	if (rc < 0) {
		log_errx("reply_memory", "reason=\"out of memory for a reply\" action=\"connection closed\"");
		sup_conn_close(c);
	}
}

void sup_conn_arm_timer(struct sup_conn *c, uint64_t ms)
{
	(void)uv_timer_start(&c->timer, conn_timeout, ms, 0);
}

void sup_conn_start_write_timer(struct sup_conn *c)
{
	(void)uv_timer_start(&c->timer, conn_timeout, (uint64_t)S.cfg->write_timeout * 1000, 0);
}

/* After the reply: close, linger, or (in a session) read the next command. */
static void after_reply(struct sup_conn *c)
{
	(void)uv_timer_stop(&c->timer);
	if (c->after == AFTER_LINGER) {
		c->state = C_LINGER;
		(void)uv_timer_start(&c->timer, conn_timeout, CONN_LINGER_MS, 0);
		if (uv_shutdown(&c->sreq, &c->h->stream, NULL) < 0 || S.read_start(c) < 0)
			sup_conn_close(c);
		return;
	}
	if (c->after == AFTER_CLOSE || !c->session || S.stopping) {
		sup_conn_close(c);
		return;
	}
	c->state = C_CMD;
	(void)uv_timer_start(&c->timer, conn_timeout, (uint64_t)S.cfg->command_read_timeout * 1000, 0);
	if (S.read_start(c) < 0) {
		sup_conn_close(c);
		return;
	}
	S.next_command(c);  /* commands the client already sent */
}

void sup_conn_written(void *ctx, int status)
{
	struct sup_conn *c = ctx;

	if (c->state == C_CLOSING)
		return;
	if (status < 0) {
		sup_conn_close(c);
		return;
	}
	(void)uv_timer_stop(&c->timer);
	if (c->state == C_SCANNING) {
		/* A path scan's lines went out; it may go on. */
		if (c->ps != NULL)
			sup_pathscan_resume(c->ps);
		return;
	}
	if (c->state == C_REPLY)
		after_reply(c);
}

/* The request is answered: everything collected goes out. */
void sup_conn_send(struct sup_conn *c)
{
	int rc;

	if (c->state == C_CLOSING)
		return;
	ipc_gather_put(&c->job.buf);
	c->state = C_REPLY;
	(void)uv_read_stop(&c->h->stream);
	(void)uv_timer_stop(&c->timer);
	rc = sup_reply_flush(&c->reply);
	if (rc == 1 && !sup_reply_busy(&c->reply))
		after_reply(c);
	else if (rc < 0)
		sup_conn_close(c);
	else
		sup_conn_start_write_timer(c);
}

int sup_conn_own_error(struct sup_conn *c, const char *reply)
{
	if (!c->errors_close)
		return 0;
	log_info("error_closed", "listen=\"%s\" error=\"%.300s\" action=\"connection closed without a reply (errors=close)\"",
	    c->listener, reply);
	sup_conn_close(c);
	return 1;
}

void sup_conn_replyf(struct sup_conn *c, const char *fmt, ...)
{
	char buf[4400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sup_conn_out_line(c, "%s", buf);
	sup_conn_send(c);
}

static void conn_timeout(uv_timer_t *t)
{
	struct sup_conn *c = t->data;

	switch (c->state) {
	case C_CMD:
		if (c->session && c->cmdlen == 0) {
			sup_conn_close(c);  /* an idle session just ends, as clamd's does */
			return;
		}
		/* fall through */
	case C_STREAM:
	case C_FILDES:
		/* clamd's words, and always a newline, whatever the command form. */
		log_info("client_timeout", "state=%s", c->state == C_CMD ? "command" : "stream");
		c->after = AFTER_LINGER;
		c->session = 0;
		sup_reply_discard(&c->reply);
		(void)sup_reply_printf(&c->reply, "COMMAND READ TIMED OUT\n");
		sup_conn_send(c);
		return;
	case C_SCANNING:
	case C_REPLY:
		log_info("client_timeout", "state=reply write_timeout=%us "
		    "reason=\"the client does not read its reply\" action=\"connection closed\"", S.cfg->write_timeout);
		sup_conn_close(c);
		return;
	default:
		sup_conn_close(c);  /* linger over */
		return;
	}
}

