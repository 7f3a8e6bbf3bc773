/*
 * supervisor/control.c: the control socket avwardenctl talks to.
 *
 * Mode control_socket_mode (0600), owned by the user running avwarden:
 * whoever can connect can reload or stop the daemon. One request line
 * ("stats\n", or "stats json\n" for JSON), one reply, then close. A
 * reload's reply waits until the new generation serves or has failed.
 */
#define _GNU_SOURCE
#include "control.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "pool.h"
#include "reply.h"
#include "sockets.h"
#include "stats.h"

#define CTL_REQ_MAX 128

struct ctl_conn {
	uv_pipe_t pipe;
	struct sup_reply reply;
	size_t len;
	int json;
	int waiting;          /* a reload it asked for has not answered yet */
	int closed;
	char req[CTL_REQ_MAX];
};

static struct {
	uv_loop_t *loop;
	const struct sup_control_ops *ops;
	uv_pipe_t pipe;
	char *path;
	int open;
	uint64_t started_ns;
} C;

static void ctl_freed(uv_handle_t *h)
{
	struct ctl_conn *c = h->data;

	sup_reply_free(&c->reply);
	/* A reload still to answer holds it; reload_done frees it. */
	if (!c->waiting)
		free(c);
}

static void ctl_close(struct ctl_conn *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	uv_close((uv_handle_t *)&c->pipe, ctl_freed);
}

static void ctl_written(void *ctx, int status)
{
	(void)status;
	ctl_close(ctx);
}

/*
 * One reply, written either for people ("  label:   value" lines) or as
 * one JSON object, from the same calls, so the two cannot drift apart.
 */
struct out {
	struct sup_reply *r;
	int json;
	unsigned fields;  /* in the current JSON object */
};

static void PLAT_PRINTF(2, 3) o_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)sup_reply_vprintf(o->r, fmt, ap);  /* out of memory: ends short, the client sees it */
	va_end(ap);
}

static void o_jstr(struct out *o, const char *s)
{
	o_printf(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			o_printf(o, "\\%c", c);
		else if (c < 0x20)
			o_printf(o, "\\u%04x", c);
		else
			o_printf(o, "%c", c);
	}
	o_printf(o, "\"");
}

static void o_key(struct out *o, const char *label, const char *key)
{
	if (o->json) {
		o_printf(o, "%s\"%s\": ", o->fields++ ? ", " : "", key);
		return;
	}
	char l[64];
	snprintf(l, sizeof(l), "%s:", label);
	o_printf(o, "  %-24s ", l);
}

static void o_u64(struct out *o, const char *label, const char *key, uint64_t v)
{
	o_key(o, label, key);
	o_printf(o, o->json ? "%" PRIu64 : "%" PRIu64 "\n", v);
}

static void o_dbl(struct out *o, const char *label, const char *key, double v)
{
	o_key(o, label, key);
	o_printf(o, o->json ? "%.3f" : "%.3f\n", v);
}

static void o_str(struct out *o, const char *label, const char *key, const char *v)
{
	o_key(o, label, key);
	if (o->json)
		o_jstr(o, v);
	else
		o_printf(o, "%s\n", v);
}

static void o_begin(struct out *o, const char *title)
{
	o->fields = 0;
	if (o->json)
		o_printf(o, "{");
	else if (title != NULL)
		o_printf(o, "%s\n", title);
}

static void o_end(struct out *o)
{
	if (o->json)
		o_printf(o, "}\n");
}

static void PLAT_PRINTF(2, 3) o_error(struct out *o, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sup_reply_discard(o->r);
	if (o->json) {
		o_printf(o, "{\"error\": ");
		o_jstr(o, msg);
		o_printf(o, "}\n");
	} else {
		o_printf(o, "error: %s\n", msg);
	}
}

static void fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "never");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Not fully scanned (UNSCANNABLE, ERROR), by cause: Momentum's names
 * (ipc/codes.c); codes that share a name are counted together. */
static void code_line(void *ctx, const char *name, uint64_t n)
{
	char key[96];

	snprintf(key, sizeof(key), "code_%s", name);
	o_u64(ctx, name, key, n);
}

static void fmt_stats(struct out *o)
{
	const struct sup_stats *s = &sup_counters;
	struct sup_pool_info pi;
	static uint64_t samples[4096];
	double avg = s->scanned ? (double)s->scan_ns_total / (double)s->scanned / 1e6 : 0.0;
	double r50, r99, o50, o99, s50, s99;
	unsigned nrs, nov, nsh;

	sup_pool_describe(&pi);
	nrs = sup_stats_respawn_samples(samples, 256);
	sup_stats_percentiles(samples, nrs, 1e6, &r50, &r99);
	nov = sup_stats_overhead_samples(samples, 4096);
	sup_stats_percentiles(samples, nov, 1e3, &o50, &o99);
	nsh = sup_stats_shared_samples(samples, 1024);
	sup_stats_percentiles(samples, nsh, 1e6, &s50, &s99);

	o_begin(o, "avwarden:scanner stats");
	o_u64(o, "uptime seconds", "uptime_s", (plat_now_ns() - C.started_ns) / 1000000000ull);
	o_str(o, "engine", "engine", pi.engine);
	o_u64(o, "generation", "generation", pi.generation);
	o_u64(o, "signatures", "signatures", pi.signatures);
	o_u64(o, "messages checked", "messages_checked", s->scanned);
	o_u64(o, "clean", "clean", s->clean);
	o_u64(o, "viruses detected", "viruses_detected", s->infected);
	o_u64(o, "unscannable", "unscannable", s->unscannable);
	o_u64(o, "errors", "errors", s->errors);
	o_dbl(o, "average ms/message", "average_ms", avg);
	o_u64(o, "queue depth", "queue_depth", pi.queue_depth);
	if (o->json) {
		o_u64(o, "", "workers_busy", pi.busy);
		o_u64(o, "", "workers_idle", pi.idle);
	} else {
		o_printf(o, "  %-24s %u/%u\n", "workers busy/idle:", pi.busy, pi.idle);
	}
	o_u64(o, "worker crashes", "worker_crashes", s->worker_crashes);
	o_u64(o, "timeouts", "timeouts", s->timeouts);
	o_u64(o, "sandbox violations", "sandbox_violations", s->violations);
	o_u64(o, "host restarts", "host_restarts", s->host_restarts);
	o_u64(o, "workers retired", "workers_retired", s->retired);
	o_u64(o, "rejected (queue full)", "rejected_queue_full", s->rejected_queue_full);
	o_u64(o, "poison message hits", "poison_hits", s->poison_hits);
	o_u64(o, "cache hits", "cache_hits", s->cache_hits);
	o_u64(o, "cache entries", "cache_entries", pi.cache_entries);
	o_u64(o, "shared cache hits", "shared_cache_hits", s->shared_hits);
	o_u64(o, "shared cache misses", "shared_cache_misses", s->shared_misses);
	o_u64(o, "shared cache timeouts", "shared_cache_timeouts", s->shared_timeouts);
	o_u64(o, "shared cache skipped", "shared_cache_skipped", s->shared_skipped);
	o_u64(o, "shared cache forged", "shared_cache_forged", s->shared_forged);
	o_u64(o, "shared cache errors", "shared_cache_errors", s->shared_errors);
	o_u64(o, "shared cache stores", "shared_cache_stores", s->shared_stores);
	o_u64(o, "reloads", "reloads", s->reloads);
	o_u64(o, "reload failures", "reload_failures", s->reload_failures);
	o_str(o, "last reload", "last_reload", pi.last_reload);
	o_u64(o, "engine messages dropped", "engine_logs_dropped", s->engine_logs_dropped);
	o_u64(o, "host log lines dropped", "host_logs_dropped", s->host_logs_dropped);
	o_u64(o, "worker spawn failures", "spawn_failures", s->spawn_failures);
	o_u64(o, "hosts killed (misbehaved)", "host_misbehaved", s->host_misbehaved);
	o_u64(o, "joined (same bytes in flight)", "joined", s->joined);
	o_u64(o, "cancelled (client gone)", "cancelled", s->cancelled);
	o_u64(o, "unscannable passed", "unscannable_passed", s->unscannable_passed);
	sup_stats_by_name(s, code_line, o);
	if (o->json) {
		o_dbl(o, "", "replacement_ms_p50", r50);
		o_dbl(o, "", "replacement_ms_p99", r99);
		o_dbl(o, "", "overhead_us_p50", o50);
		o_dbl(o, "", "overhead_us_p99", o99);
		o_dbl(o, "", "shared_cache_lookup_ms_p50", s50);
		o_dbl(o, "", "shared_cache_lookup_ms_p99", s99);
	} else {
		o_printf(o, "  %-24s p50 %.2f p99 %.2f (%u samples)\n", "worker replacement ms:", r50, r99, nrs);
		o_printf(o, "  %-24s p50 %.1f p99 %.1f (dispatch to answer outside libclamav, last %u)\n",
		    "overhead us/message:", o50, o99, nov);
		if (nsh > 0)
			o_printf(o, "  %-24s p50 %.3f p99 %.3f (last %u)\n", "shared cache lookup ms:", s50, s99, nsh);
	}
	o_end(o);
}

static void fmt_version(struct out *o)
{
	struct sup_pool_info pi;
	char since[32];

	sup_pool_describe(&pi);
	fmt_time((time_t)pi.loaded_at, since, sizeof(since));
	if (o->json) {
		o_begin(o, NULL);
		o_str(o, "", "avwarden", AVW_VERSION);
		o_str(o, "", "engine", pi.engine);
		o_u64(o, "", "signatures", pi.signatures);
		o_str(o, "", "database", pi.database);
		o_u64(o, "", "generation", pi.generation);
		o_str(o, "", "loaded_at", since);
		o_end(o);
		return;
	}
	o_printf(o, "avwarden %s\nengine: ClamAV %s\nsignatures: %u\ndatabase: %s\ngeneration: %u (serving since %s)\n",
	    AVW_VERSION, pi.engine, pi.signatures, pi.database, pi.generation, since);
}

/* Can it scan now? For monitoring: exit status 1 when it cannot. */
static void fmt_health(struct out *o)
{
	struct sup_pool_info pi;

	sup_pool_describe(&pi);
	if (!pi.healthy) {
		o_error(o, "not serving: %s", pi.unhealthy);
		return;
	}
	if (o->json) {
		o_begin(o, NULL);
		o_printf(o, "\"healthy\": true");
		o->fields = 1;
		o_u64(o, "", "generation", pi.generation);
		o_u64(o, "", "workers_busy", pi.busy);
		o_u64(o, "", "workers_idle", pi.idle);
		o_end(o);
		return;
	}
	o_printf(o, "serving: generation %u, %u workers busy, %u idle\n", pi.generation, pi.busy, pi.idle);
}

static void fmt_workers(struct out *o)
{
	static struct sup_worker_info wi[1024];
	size_t n = sup_pool_workers(wi, sizeof(wi) / sizeof(wi[0]));

	if (o->json)
		o_printf(o, "{\"workers\": [");
	else
		o_printf(o, "%-5s %-8s %-8s %-9s %-8s %-9s %s\n", "GEN", "WORKER", "PID", "STATE", "JOBS", "RSS_KB", "AGE_S");
	for (size_t i = 0; i < n; i++) {
		if (o->json) {
			o_printf(o, "%s", i ? ", " : "");
			o_begin(o, NULL);
			o_u64(o, "", "generation", wi[i].generation);
			o_printf(o, ", \"serving\": %s", wi[i].serving ? "true" : "false");
			o_u64(o, "", "worker", wi[i].id);
			o_u64(o, "", "pid", (uint64_t)wi[i].pid);
			o_str(o, "", "state", wi[i].state);
			o_u64(o, "", "jobs", wi[i].jobs);
			o_u64(o, "", "rss_bytes", wi[i].rss);
			o_dbl(o, "", "age_s", wi[i].age_s);
			o_printf(o, "}");
		} else {
			o_printf(o, "%-5u %-8u %-8d %-9s %-8" PRIu64 " %-9" PRIu64 " %.1f\n", wi[i].generation,
			    wi[i].id, wi[i].pid, wi[i].state, wi[i].jobs, wi[i].rss / 1024, wi[i].age_s);
		}
	}
	if (o->json)
		o_printf(o, "]}\n");
}

static void ctl_send(struct ctl_conn *c)
{
	int rc = sup_reply_flush(&c->reply);

	if (rc != 0)
		ctl_close(c);  /* nothing to write, or the write failed */
}

static void reload_done(void *ctx, int ok, const char *msg)
{
	struct ctl_conn *c = ctx;
	struct out o = { .r = &c->reply, .json = c->json };

	c->waiting = 0;
	if (c->closed) {
		free(c);  /* the client left before the answer */
		return;
	}
	if (ok) {
		o_begin(&o, NULL);
		if (o.json) {
			o_printf(&o, "\"ok\": true");
			o.fields = 1;
			o_str(&o, "", "message", msg);
			o_end(&o);
		} else {
			o_printf(&o, "reloaded: %s\n", msg);
		}
	} else {
		o_error(&o, "%s", msg);
	}
	ctl_send(c);
}

static void fmt_reopen(struct out *o)
{
	char err[256];

	if (C.ops->reopen_logs(err, sizeof(err)) < 0)
		o_error(o, "%s", err);
	else if (o->json)
		o_printf(o, "{\"ok\": true}\n");
	else
		o_printf(o, "logs reopened\n");
}

static void ctl_handle(struct ctl_conn *c)
{
	char *cmd = c->req, *opt;
	struct out o;

	cmd[strcspn(cmd, "\r\n")] = '\0';
	if ((opt = strchr(cmd, ' ')) != NULL) {
		*opt++ = '\0';
		if (strcmp(opt, "json") != 0) {
			ctl_close(c);
			return;
		}
		c->json = 1;
	}
	o = (struct out){ .r = &c->reply, .json = c->json };
	(void)uv_read_stop((uv_stream_t *)&c->pipe);
	if (strcmp(cmd, "ping") == 0) {
		o_printf(&o, o.json ? "{\"pong\": true}\n" : "pong\n");
	} else if (strcmp(cmd, "health") == 0) {
		fmt_health(&o);
	} else if (strcmp(cmd, "version") == 0) {
		fmt_version(&o);
	} else if (strcmp(cmd, "stats") == 0) {
		fmt_stats(&o);
	} else if (strcmp(cmd, "workers") == 0) {
		fmt_workers(&o);
	} else if (strcmp(cmd, "reload") == 0) {
		/* Answered when the new generation serves, or failed to load. */
		c->waiting = 1;
		sup_pool_reload("avwardenctl reload", reload_done, c);
		return;
	} else if (strcmp(cmd, "reopen-logs") == 0) {
		fmt_reopen(&o);
	} else if (strcmp(cmd, "shutdown") == 0) {
		o_printf(&o, o.json ? "{\"ok\": true}\n" : "shutting down\n");
		ctl_send(c);
		C.ops->shutdown("avwardenctl shutdown");
		return;
	} else {
		o_error(&o, "unknown command '%.40s' (try: ping, health, version, stats, workers, reload, reopen-logs, shutdown)",
		    cmd);
	}
	ctl_send(c);
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
		(void)uv_read_stop(s);
		ctl_close(c);
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
	if (uv_pipe_init(C.loop, &c->pipe, 0) < 0) {
		free(c);
		return;
	}
	c->pipe.data = c;
	sup_reply_init(&c->reply, (uv_stream_t *)&c->pipe, ctl_written, c);
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 ||
	    uv_read_start((uv_stream_t *)&c->pipe, ctl_alloc, ctl_read) < 0)
		ctl_close(c);
}

int sup_control_start(uv_loop_t *loop, const char *path, unsigned mode, const struct sup_control_ops *ops,
    char *err, size_t errlen)
{
	int rc;

	C.loop = loop;
	C.ops = ops;
	C.started_ns = plat_now_ns();
	rc = sup_unix_listen(loop, &C.pipe, path, (int)mode, err, errlen);
	if (rc < 0)
		return rc;
	C.open = 1;
	if ((C.path = strdup(path)) == NULL)
		return -ENOMEM;
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
