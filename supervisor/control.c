/*
 * supervisor/control.c: the control socket avwardenctl talks to.
 *
 * Mode 0600, owned by the user running avwarden: whoever can connect can
 * stop the daemon. One request line ("stats\n"), one reply, then close.
 */
#define _GNU_SOURCE
#include "sup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../platform/plat.h"

#define CTL_REQ_MAX 128
#define CTL_REPLY_MAX 65536

struct ctl_conn {
	uv_pipe_t pipe;
	uv_write_t wreq;
	size_t len;
	char req[CTL_REQ_MAX];
	char *reply;
};

static struct {
	uv_loop_t *loop;
	uv_pipe_t pipe;
	char *path;
	int open;
	uint64_t started_ns;
} C;

static void ctl_closed(uv_handle_t *h)
{
	struct ctl_conn *c = h->data;

	free(c->reply);
	free(c);
}

static void ctl_written(uv_write_t *req, int status)
{
	struct ctl_conn *c = req->data;

	(void)status;
	uv_close((uv_handle_t *)&c->pipe, ctl_closed);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static size_t fmt_stats(char *b, size_t n)
{
	const struct sup_stats *s = sup_pool_stats();
	double avg = s->scanned ? (double)s->scan_ns_total / (double)s->scanned / 1e6 : 0.0;
	static uint64_t rs[4096];
	unsigned nrs = sup_pool_respawn_samples(rs, 256);
	double p50 = 0, p99 = 0, o50 = 0, o99 = 0;
	unsigned nov;

	if (nrs > 0) {
		qsort(rs, nrs, sizeof(rs[0]), cmp_u64);
		p50 = (double)rs[nrs / 2] / 1e6;
		p99 = (double)rs[(nrs * 99) / 100] / 1e6;
	}
	nov = sup_pool_overhead_samples(rs, 4096);
	if (nov > 0) {
		qsort(rs, nov, sizeof(rs[0]), cmp_u64);
		o50 = (double)rs[nov / 2] / 1e3;
		o99 = (double)rs[(nov * 99) / 100] / 1e3;
	}

	return (size_t)snprintf(b, n,
	    "avwarden:scanner stats\n"
	    "  uptime seconds:        %.0f\n"
	    "  messages checked:      %" PRIu64 "\n"
	    "  clean:                 %" PRIu64 "\n"
	    "  viruses detected:      %" PRIu64 "\n"
	    "  unscannable:           %" PRIu64 "\n"
	    "  errors:                %" PRIu64 "\n"
	    "  average ms/message:    %.3f\n"
	    "  queue depth:           %zu\n"
	    "  workers busy/idle:     %u/%u\n"
	    "  worker crashes:        %" PRIu64 "\n"
	    "  timeouts:              %" PRIu64 "\n"
	    "  sandbox violations:    %" PRIu64 "\n"
	    "  host restarts:         %" PRIu64 "\n"
	    "  rejected (queue full): %" PRIu64 "\n"
	    "  poison message hits:   %" PRIu64 "\n"
	    "  workers retired:       %" PRIu64 "\n"
	    "  worker replacement ms: p50 %.2f p99 %.2f (%u samples)\n"
	    "  overhead us/message:   p50 %.1f p99 %.1f (dispatch to answer outside libclamav, last %u)\n",
	    (double)(plat_now_ns() - C.started_ns) / 1e9,
	    s->scanned, s->clean, s->infected, s->unscannable, s->errors, avg,
	    sup_pool_queue_depth(), sup_pool_busy(), sup_pool_idle(),
	    s->worker_crashes, s->timeouts, s->violations, s->host_restarts,
	    s->rejected_queue_full, s->poison_hits, s->retired, p50, p99, nrs, o50, o99, nov);
}

static void ctl_handle(struct ctl_conn *c)
{
	char *cmd = c->req;
	size_t n = 0;
	int shutdown = 0;
	uv_buf_t b;

	cmd[strcspn(cmd, "\r\n")] = '\0';
	c->reply = malloc(CTL_REPLY_MAX);
	if (c->reply == NULL) {
		uv_close((uv_handle_t *)&c->pipe, ctl_closed);
		return;
	}
	if (strcmp(cmd, "ping") == 0)
		n = (size_t)snprintf(c->reply, CTL_REPLY_MAX, "pong\n");
	else if (strcmp(cmd, "version") == 0)
		n = (size_t)snprintf(c->reply, CTL_REPLY_MAX,
		    "avwarden %s\nengine: ClamAV %s\nsignatures: %u\n",
		    AVW_VERSION, sup_pool_engine_version(), sup_pool_signatures());
	else if (strcmp(cmd, "stats") == 0)
		n = fmt_stats(c->reply, CTL_REPLY_MAX);
	else if (strcmp(cmd, "workers") == 0)
		n = sup_pool_describe_workers(c->reply, CTL_REPLY_MAX);
	else if (strcmp(cmd, "shutdown") == 0) {
		n = (size_t)snprintf(c->reply, CTL_REPLY_MAX, "shutting down\n");
		shutdown = 1;
	} else
		n = (size_t)snprintf(c->reply, CTL_REPLY_MAX,
		    "error: unknown command '%.40s' (try: ping, version, stats, workers, shutdown)\n", cmd);
	if (n >= CTL_REPLY_MAX)
		n = CTL_REPLY_MAX - 1;
	b = uv_buf_init(c->reply, (unsigned)n);
	c->wreq.data = c;
	uv_read_stop((uv_stream_t *)&c->pipe);
	if (uv_write(&c->wreq, (uv_stream_t *)&c->pipe, &b, 1, ctl_written) < 0)
		uv_close((uv_handle_t *)&c->pipe, ctl_closed);
	if (shutdown)
		sup_shutdown("avwardenctl shutdown");
}

static void ctl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ctl_conn *c = h->data;

	(void)suggested;
	*buf = uv_buf_init(c->req + c->len, (unsigned)(CTL_REQ_MAX - 1 - c->len));
}

static void ctl_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ctl_conn *c = s->data;

	(void)buf;
	if (nread < 0) {
		uv_read_stop(s);
		uv_close((uv_handle_t *)&c->pipe, ctl_closed);
		return;
	}
	c->len += (size_t)nread;
	c->req[c->len] = '\0';
	if (memchr(c->req, '\n', c->len) != NULL || c->len >= CTL_REQ_MAX - 1)
		ctl_handle(c);
}

static void ctl_connection(uv_stream_t *server, int status)
{
	struct ctl_conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	uv_pipe_init(C.loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 ||
	    uv_read_start((uv_stream_t *)&c->pipe, ctl_alloc, ctl_read) < 0)
		uv_close((uv_handle_t *)&c->pipe, ctl_closed);
}

int sup_control_start(uv_loop_t *loop, const char *path, char *err, size_t errlen)
{
	int rc;

	C.loop = loop;
	C.started_ns = plat_now_ns();
	rc = sup_unix_listen(loop, &C.pipe, path, 0600, err, errlen);
	if (rc < 0)
		return rc;
	C.open = 1;
	C.path = strdup(path);
	rc = uv_listen((uv_stream_t *)&C.pipe, 16, ctl_connection);
	if (rc < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, uv_strerror(rc));
		return rc;
	}
	return 0;
}

static void control_closed(uv_handle_t *h)
{
	(void)h;
	if (C.path)
		unlink(C.path);
	free(C.path);
	C.path = NULL;
}

void sup_control_stop(void)
{
	if (C.open && !uv_is_closing((uv_handle_t *)&C.pipe))
		uv_close((uv_handle_t *)&C.pipe, control_closed);
	C.open = 0;
}
