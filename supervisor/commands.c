/*
 * supervisor/commands.c: what each clamd command does once session.c has
 * read it: answers from the supervisor itself (PING, VERSION, STATS, ...),
 * INSTREAM gathered and submitted, path scans and FILDES handed to
 * pathscan.c, RELOAD and SHUTDOWN passed on.
 */
#define _GNU_SOURCE
#include "sessint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S sup_sessions

/* ------------------------------------------------------------ INSTREAM */

static const char *engine_of(const struct sup_verdict *v, char *buf, size_t len)
{
	if (v->status == IPC_ERROR && v->engine_code >= 100)
		return "avwarden";
	snprintf(buf, len, "ClamAV/%s", sup_pool_engine_version());
	return buf;
}

static void job_done(struct sup_job *job, const struct sup_verdict *found)
{
	struct sup_conn *c = job->ctx;
	char line[IPC_NAME_MAX + 4400], eng[80];
	struct sup_verdict shown = *found;
	const struct sup_verdict *v = &shown;
	int n;

	c->job_pending = 0;
	/* On the clamd protocol the listener's unscannable action applies;
	 * AVWINSTREAM always tells the truth (the client library decides). */
	if (c->cmd != SUP_CMD_AVWINSTREAM && sup_unscannable_apply(c->unscannable, &shown)) {
		log_info("unscannable_action", "id=%" PRIu64 " virus=%s action=%s listen=\"%s\"", job->id, found->name,
		    sup_unscannable_name(c->unscannable), c->listener);
		if (c->unscannable == SUP_UNSCANNABLE_PASS)
			sup_counters.unscannable_passed++;
	}
	if (c->cmd == SUP_CMD_AVWINSTREAM)
		n = sup_avw_format_result(v, engine_of(v, eng, sizeof(eng)), c->delim, line, sizeof(line));
	else
		n = sup_clamd_format_result(v, c->delim, line, sizeof(line));
	if (n < 0)
		n = snprintf(line, sizeof(line), "stream: Unspecified error ERROR%c", c->delim);
	if (v->status == IPC_ERROR && v->engine_code >= 100 && sup_conn_own_error(c, line))
		return;
	sup_conn_out_tag(c);
	if (sup_reply_bytes(&c->reply, line, (size_t)n) < 0) {
		sup_conn_close(c);
		return;
	}
	sup_conn_send(c);
}

/* The stream is read whole: reading goes on (session.c) only to notice the
 * client leaving, or the next commands of a session. */
static void stream_complete(struct sup_conn *c)
{
	(void)uv_timer_stop(&c->timer);
	if (c->wire)
		c->is.len = sup_unstuff(c->is.base, c->is.len);
	c->job.len = c->is.len;
	c->job.id = ++S.next_job_id;
	c->job.done = job_done;
	c->job.ctx = c;
	c->job_pending = 1;
	c->state = C_SCANNING;
	sup_pool_submit(&c->job);
}

/*
 * Past the size limit, at the chunk header that passes it. The clamd reply
 * is clamd's, and so is what follows: the connection (a session too) closes
 * at once, unread, so a client still sending sees it broken; some take an
 * ERROR they cannot parse for clean, none a broken connection. avwarden's
 * own client reads the reply after sending: there we read on a moment.
 */
static void stream_error(struct sup_conn *c, const char *avw, const char *clamd)
{
	ipc_gather_put(&c->job.buf);
	if (c->cmd == SUP_CMD_AVWINSTREAM) {
		c->after = AFTER_LINGER;
		c->session = 0;
		sup_conn_replyf(c, "avw: ERROR %d avwarden %s", IPC_CODE_TOO_LARGE, avw);
	} else {
		c->after = AFTER_CLOSE;
		sup_conn_replyf(c, "%s", clamd);
	}
}

/* Returns how many bytes of p it consumed. */
size_t sup_cmd_stream_feed(struct sup_conn *c, const unsigned char *p, size_t n)
{
	size_t before = c->is.fed;

	switch (sup_instream_feed(&c->is, p, n)) {
	case SUP_INSTREAM_MORE:
		return n;
	case SUP_INSTREAM_DONE:
		stream_complete(c);
		return c->is.fed - before;
	default:
		sup_counters.rejected_size++;
		log_warnx("size_limit", "cmd=INSTREAM max_message_size=%" PRIu64 " received=%zu next_chunk=%" PRIu32
		    " fix=\"raise max_message_size if such mail is legitimate\"", S.cfg->max_message_size, c->is.len,
		    c->is.refused);
		stream_error(c, "INSTREAM size limit exceeded", "INSTREAM size limit exceeded. ERROR");
		return n;
	}
}

/* ---------------------------------------------------- path scans, FILDES */

static void ps_line(void *ctx, const char *text, int own_error)
{
	struct sup_conn *c = ctx;

	if (own_error && sup_conn_own_error(c, text))
		return;  /* the scan is cancelled with the connection */
	sup_conn_out_line(c, "%s", text);
	if (c->state == C_SCANNING && sup_reply_pending(&c->reply) >= CONN_STREAM_CHUNK && !sup_reply_busy(&c->reply)) {
		if (sup_reply_flush(&c->reply) < 0)
			sup_conn_close(c);
		else
			sup_conn_start_write_timer(c);
	}
}

static size_t ps_backlog(void *ctx)
{
	struct sup_conn *c = ctx;

	return c->state == C_CLOSING ? (size_t)-1 : sup_reply_pending(&c->reply);
}

static void ps_finished(void *ctx)
{
	struct sup_conn *c = ctx;

	c->ps = NULL;
	sup_conn_send(c);
}

static const struct sup_pathscan_ops ps_ops = { ps_line, ps_backlog, ps_finished };

static void start_pathscan(struct sup_conn *c, const char *path, int fd)
{
	struct sup_pathscan_req r = {
		.cmd = c->cmd, .path = path, .fd = fd, .peer = c->peer, .next_job_id = &S.next_job_id,
		.unscannable = c->unscannable,
	};

	c->state = C_SCANNING;
	if ((c->ps = sup_pathscan_start(S.loop, S.cfg, &r, &ps_ops, c)) == NULL) {
		if (fd >= 0)
			close(fd);
		sup_conn_replyf(c, "Out of memory ERROR");
	}
}

static void cmd_path(struct sup_conn *c, const struct sup_cmd_req *req)
{
	char *path = strndup(c->cmd_buf + req->arg_off, req->arg_len);

	(void)uv_timer_stop(&c->timer);
	if (path == NULL) {
		sup_conn_replyf(c, "Out of memory ERROR");
		return;
	}
	if (!c->have_peer)
		/* Nothing says what the client may read: only a unix socket's
		 * credentials or a loopback client's socket owner do. */
		sup_conn_replyf(c, "%s: Path scans over TCP are for clients on this host's loopback whose socket owner "
		    "the kernel reports; use INSTREAM ERROR", path);
	else
		start_pathscan(c, path, -1);
	free(path);
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
	if (uv_pipe_init(S.loop, tmp, 0) < 0) {
		free(tmp);
		return -1;
	}
	if (uv_accept(&c->h->stream, (uv_stream_t *)tmp) == 0 && uv_fileno((uv_handle_t *)tmp, &fd) == 0)
		own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	uv_close((uv_handle_t *)tmp, free_handle);  /* closes libuv's copy */
	return own;
}

void sup_cmd_collect_fds(struct sup_conn *c, uint64_t start)
{
	while (uv_pipe_pending_count(&c->h->pipe) > 0) {
		int fd = take_passed_fd(c);
		if (fd < 0)
			break;
		if (c->nfdq == CONN_SESSION_FDS) {
			close(fd);  /* a client cannot pile them up in the supervisor */
			continue;
		}
		c->fdq[c->nfdq++] = (struct conn_fd){ .start = start, .end = c->rx, .fd = fd };
	}
}

void sup_cmd_drop_fds(struct sup_conn *c)
{
	while (c->nfdq > 0)
		close(c->fdq[--c->nfdq].fd);
}

void sup_cmd_prune_fds(struct sup_conn *c, uint64_t upto)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < c->nfdq; i++) {
		if (c->fdq[i].end <= upto)
			close(c->fdq[i].fd);
		else
			c->fdq[kept++] = c->fdq[i];
	}
	c->nfdq = kept;
}

/*
 * Like clamd: the descriptor rides on the one byte that follows FILDES, and
 * exactly one must come with it: none, or two or more in that message (all
 * closed unread), is "No file descriptor received". Descriptors of earlier
 * reads that no FILDES claimed are closed; later ones are kept for the
 * session's next commands.
 */
void sup_cmd_fildes_receive(struct sup_conn *c)
{
	uint64_t at;
	unsigned i, kept = 0, mine = 0;
	int fd = -1;

	if (c->cmdlen == 0)
		return;  /* not yet */
	at = c->rx - c->cmdlen;  /* the stream offset of that byte */
	memmove(c->cmd_buf, c->cmd_buf + 1, c->cmdlen - 1);
	c->cmdlen--;
	for (i = 0; i < c->nfdq; i++) {
		struct conn_fd *q = &c->fdq[i];
		if (q->start <= at && at < q->end && mine++ == 0)
			fd = q->fd;
		else if (q->start > at)
			c->fdq[kept++] = *q;
		else
			close(q->fd);
	}
	c->nfdq = kept;
	if (mine > 1) {
		close(fd);
		fd = -1;
	}
	(void)uv_timer_stop(&c->timer);
	if (fd < 0) {
		c->after = AFTER_CLOSE;  /* a session ends there too, as clamd's does */
		sup_conn_replyf(c, "No file descriptor received. ERROR");
		return;
	}
	start_pathscan(c, NULL, fd);
}

/* ------------------------------------------------------------ commands */

static void stats_reply(struct sup_conn *c)
{
	struct sup_pool_info pi;

	sup_pool_describe(&pi);
	/* clamd's layout; the figures are avwarden's own (the STATS line: how
	 * long this command took, as clamd's per-thread line does). */
	sup_conn_out_tag(c);
	(void)sup_reply_printf(&c->reply, "POOLS: 1\n\nSTATE: VALID PRIMARY\n"
	    "THREADS: live %u  idle %u max %u idle-timeout %u\n"
	    "QUEUE: %zu items\n\tSTATS %.6f \n\n"
	    "MEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used N/A pools_total N/A\n"
	    "END%c", pi.busy + pi.idle, pi.idle, S.cfg->max_concurrency, S.cfg->command_read_timeout,
	    pi.queue_depth, (double)(plat_now_ns() - c->t_cmd) / 1e9, c->delim);
	sup_conn_send(c);
}

static void cmd_instream(struct sup_conn *c, const struct sup_cmd_req *req)
{
	int rc;

	c->wire = c->wire_listener;
	if (req->cmd == SUP_CMD_AVWINSTREAM && req->arg_len > 0) {
		if (req->arg_len != 4 || memcmp(c->cmd_buf + req->arg_off, "WIRE", 4) != 0) {
			c->session = 0;
			sup_conn_replyf(c, "UNKNOWN COMMAND");
			return;
		}
		c->wire = 1;
	}
	if ((rc = ipc_gather_get(&c->job.buf, S.cfg->max_message_size + SUP_INSTREAM_SLACK)) < 0) {
		log_errx("job_buffer", "error=\"%s\"", strerror(-rc));
		if (!sup_conn_own_error(c, "no memory for the message"))
			sup_conn_replyf(c, "stream: %s ERROR", ipc_engine_strerror(20 /* CL_EMEM */));
		return;
	}
	sup_instream_init(&c->is, c->job.buf.base, S.cfg->max_message_size);
	c->state = C_STREAM;
	sup_conn_arm_timer(c, (uint64_t)S.cfg->read_timeout * 1000);
}

/*
 * PING tells the truth (ping_health): a load balancer's check or an MTA's
 * server list stops sending mail to a node that cannot scan it.
 */
static void cmd_ping(struct sup_conn *c)
{
	char why[160];

	if (S.cfg->ping_health && !sup_pool_healthy(why, sizeof(why))) {
		if (!sup_conn_own_error(c, why))
			sup_conn_replyf(c, "no scanner available: %s ERROR", why);
	} else
		sup_conn_replyf(c, "PONG");
}

/* clamd: inside a session only z/n commands, and not these. */
static int refused_in_session(const struct sup_cmd_req *req)
{
	return req->legacy || req->cmd == SUP_CMD_IDSESSION || req->cmd == SUP_CMD_SHUTDOWN ||
	    req->cmd == SUP_CMD_RELOAD || req->cmd == SUP_CMD_UNKNOWN;
}

void sup_cmd_run(struct sup_conn *c, const struct sup_cmd_req *req)
{
	c->delim = req->delim;
	c->cmd = req->cmd;
	c->t_cmd = plat_now_ns();
	c->after = AFTER_NEXT;
	if (c->session) {
		c->req_id = ++c->next_id;
		if (refused_in_session(req)) {
			sup_conn_out_line(c, "Command invalid inside IDSESSION. ERROR");
			c->session = 0;
			sup_conn_send(c);
			return;
		}
	}
	switch (req->cmd) {
	case SUP_CMD_PING:
		cmd_ping(c);
		return;
	case SUP_CMD_VERSION:
		sup_conn_replyf(c, "ClamAV %s", sup_pool_engine_version());
		return;
	case SUP_CMD_VERSIONCOMMANDS:
		sup_conn_replyf(c, "ClamAV %s| COMMANDS: %s", sup_pool_engine_version(), sup_clamd_command_list());
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
		sup_conn_send(c);  /* nothing to say: the connection closes */
		return;
	case SUP_CMD_RELOAD:
		/* clamd answers at once and reloads in the background; so do we,
		 * by generations: scans go on meanwhile. */
		sup_pool_reload("clamd RELOAD command", NULL, NULL);
		sup_conn_replyf(c, "RELOADING");
		return;
	case SUP_CMD_SHUTDOWN:
		sup_conn_close(c);
		S.ops->shutdown("SHUTDOWN command from a client");
		return;
	case SUP_CMD_SCAN:
	case SUP_CMD_CONTSCAN:
	case SUP_CMD_MULTISCAN:
	case SUP_CMD_ALLMATCHSCAN:
		cmd_path(c, req);
		return;
	case SUP_CMD_FILDES:
		if (!c->is_unix) {
			sup_conn_replyf(c, "FILDES needs a unix socket ERROR");
			return;
		}
		c->state = C_FILDES;  /* session.c hands over the next byte */
		return;
	case SUP_CMD_AVWINSTREAM:
	case SUP_CMD_INSTREAM:
		cmd_instream(c, req);
		return;
	case SUP_CMD_UNKNOWN:
	default:
		c->session = 0;
		sup_conn_replyf(c, "UNKNOWN COMMAND");
		return;
	}
}

