/*
 * supervisor/metrics.c: Prometheus metrics on metrics_listen (metrics.h).
 *
 * libmicrohttpd without a thread: MHD_USE_EPOLL gives one epoll descriptor
 * for its listener and connections, libuv polls it, and MHD_run does
 * whatever is ready, never blocking. Its own timeouts (an idle or slow
 * scraper) come from MHD_get_timeout, on a libuv timer. Every answer is
 * built here, on the loop, from what `avwardenctl stats` reads; nothing a
 * request says reaches a scan.
 *
 * Whoever reaches the port can read the counters (never a message, a
 * sender or a path): bind it to loopback, or list the scrapers in allow=.
 * Limits: 32 connections (4 per address), 10 s each, 16 KB of request
 * headers; a longer request is refused by libmicrohttpd.
 */
#define _GNU_SOURCE
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "../ipc/ipc.h"
#include "../platform/plat.h"
#include "addr.h"
#include "pool.h"
#include "shared.h"
#include "stats.h"

#define METRICS_CONNECTIONS 32
#define METRICS_PER_IP 4
#define METRICS_TIMEOUT_S 10
#define METRICS_HEADER_BYTES (16 * 1024)
#define METRICS_LOG_EVERY_NS (60ull * 1000000000ull)
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

static struct {
	uv_loop_t *loop;
	struct MHD_Daemon *d;
	uv_poll_t poll;
	uv_timer_t timer;
	int open;
	struct sup_listen_spec spec;
	time_t started;
	uint64_t scrapes;
	uint64_t last_log_ns;     /* libmicrohttpd's own messages: one a minute */
	uint64_t logs_dropped;
	uint64_t last_refused_ns;
} X;

/* ------------------------------------------------------------ the text */

struct mbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void PLAT_PRINTF(2, 3) mb_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* A label value, escaped as the format wants (\\, \", \n). The host wrote
 * the engine's version: it is not trusted to be plain. */
static void mb_label(struct mbuf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			mb_printf(b, "\\%c", *v);
		else if (*v == '\n')
			mb_printf(b, "\\n");
		else if ((unsigned char)*v >= 0x20 && (unsigned char)*v < 0x7f)
			mb_printf(b, "%c", *v);  /* ASCII only: the format wants UTF-8 */
	}
}

static void head(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct mbuf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	head(b, name, type, help);
	mb_printf(b, "%s %" PRIu64 "\n", name, v);
}

/* A family of one label: its head, then a sample per value. */
struct series {
	const char *value;
	uint64_t n;
};
static void family(struct mbuf *b, const char *name, const char *type, const char *help, const char *label,
    const struct series *v, size_t n)
{
	head(b, name, type, help);
	for (size_t i = 0; i < n; i++)
		mb_printf(b, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, v[i].value, v[i].n);
}
#define FAMILY(b, name, type, help, label, ...) \
	family(b, name, type, help, label, (const struct series[]){ __VA_ARGS__ }, \
	    sizeof((const struct series[]){ __VA_ARGS__ }) / sizeof(struct series))

static void code_series(void *ctx, const char *name, uint64_t n)
{
	mb_printf(ctx, "avwarden_scans_by_code_total{code=\"");
	mb_label(ctx, name);
	mb_printf(ctx, "\"} %" PRIu64 "\n", n);
}

static void duration(struct mbuf *b, const struct sup_stats *s)
{
	uint64_t cum = 0;

	head(b, "avwarden_scan_duration_seconds", "histogram",
	    "Time from a message's arrival to its answer, cache answers included.");
	for (int i = 0; i < SUP_STATS_BUCKETS; i++) {
		cum += s->by_time[i];
		mb_printf(b, "avwarden_scan_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
		    (double)sup_stats_bucket_ms[i] / 1000.0, cum);
	}
	cum += s->by_time[SUP_STATS_BUCKETS];
	mb_printf(b, "avwarden_scan_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	mb_printf(b, "avwarden_scan_duration_seconds_sum %.9f\n", (double)s->scan_ns_total / 1e9);
	mb_printf(b, "avwarden_scan_duration_seconds_count %" PRIu64 "\n", cum);
}

static void scans(struct mbuf *b, const struct sup_stats *s)
{
	FAMILY(b, "avwarden_scans_total", "counter", "Messages and files answered, by verdict.", "verdict",
	    { "clean", s->clean },
	    { "infected", s->infected },
	    { "unscannable", s->unscannable },
	    { "error", s->errors });
	duration(b, s);
	head(b, "avwarden_scans_by_code_total", "counter",
	    "Answers UNSCANNABLE or ERROR, by the engine's or avwarden's code.");
	sup_stats_by_name(s, code_series, b);
	one(b, "avwarden_unscannable_passed_total", "counter",
	    "UNSCANNABLE answers sent as OK because unscannable_action is pass.", s->unscannable_passed);
	one(b, "avwarden_joined_total", "counter",
	    "Messages answered by the scan of identical bytes already in flight.", s->joined);
	one(b, "avwarden_cancelled_total", "counter", "Scans given up because their client left.", s->cancelled);
	one(b, "avwarden_poison_hits_total", "counter",
	    "Messages answered from memory because the same bytes crashed or hung workers before.", s->poison_hits);
	FAMILY(b, "avwarden_rejected_total", "counter", "Messages refused by a limit, by limit.", "reason",
	    { "queue_full", s->rejected_queue_full },
	    { "max_message_size", s->rejected_size },
	    { "max_path_scan_size", s->rejected_path_size },
	    { "max_message_memory", s->rejected_memory });
	FAMILY(b, "avwarden_connections_refused_total", "counter", "Client connections closed unserved, by cause.",
	    "reason",
	    { "max_connections", s->refused_connections },
	    { "not_allowed", s->refused_clients });
}

static void workers(struct mbuf *b, const struct sup_stats *s, const struct sup_pool_info *pi)
{
	one(b, "avwarden_queue_depth", "gauge", "Messages waiting for a worker.", pi->queue_depth);
	FAMILY(b, "avwarden_workers", "gauge", "Sandboxed scanner processes, by state.", "state",
	    { "busy", pi->busy },
	    { "idle", pi->idle });
	FAMILY(b, "avwarden_worker_failures_total", "counter", "Workers lost, by cause.", "cause",
	    { "crash", s->worker_crashes },
	    { "timeout", s->timeouts },
	    { "sandbox_violation", s->violations },
	    { "spawn_failure", s->spawn_failures });
	one(b, "avwarden_workers_retired_total", "counter", "Workers that exited after their jobs, as planned.",
	    s->retired);
	one(b, "avwarden_host_restarts_total", "counter", "Scanner hosts started again after one was lost.",
	    s->host_restarts);
	one(b, "avwarden_hosts_killed_total", "counter", "Scanner hosts killed for a malformed or forged record.",
	    s->host_misbehaved);
	FAMILY(b, "avwarden_log_records_dropped_total", "counter",
	    "Scanner log records over the rate limit, by source.", "source",
	    { "engine", s->engine_logs_dropped },
	    { "host", s->host_logs_dropped });
}

static void cache(struct mbuf *b, const struct sup_stats *s, const struct sup_pool_info *pi)
{
	FAMILY(b, "avwarden_cache_hits_total", "counter", "Verdicts answered from a cache, by cache.", "cache",
	    { "local", s->cache_hits },
	    { "shared", s->shared_hits });
	FAMILY(b, "avwarden_cache_misses_total", "counter", "Cache lookups that found nothing, by cache.", "cache",
	    { "local", s->cache_misses },
	    { "shared", s->shared_misses });
	FAMILY(b, "avwarden_cache_entries", "gauge", "Verdicts held, by cache.", "cache",
	    { "local", pi->cache_entries });
	one(b, "avwarden_shared_cache_up", "gauge", "1 while the shared cache's Redis is connected.",
	    sup_shared_up() ? 1 : 0);
	FAMILY(b, "avwarden_shared_cache_errors_total", "counter",
	    "Shared-cache lookups that gave no verdict for a reason other than a miss, by reason.", "reason",
	    { "timeout", s->shared_timeouts },
	    { "unavailable", s->shared_skipped },
	    { "forged", s->shared_forged },
	    { "redis_error", s->shared_errors });
	one(b, "avwarden_shared_cache_stores_total", "counter", "Verdicts written to the shared cache.", s->shared_stores);
	one(b, "avwarden_shared_cache_store_failures_total", "counter", "Writes to the shared cache that failed.",
	    s->shared_store_failures);
	FAMILY(b, "avwarden_cache_capacity_entries", "gauge", "Verdicts a cache may hold (cache_size).", "cache",
	    { "local", pi->cache_size });
}

static void database(struct mbuf *b, const struct sup_stats *s, const struct sup_pool_info *pi, time_t now)
{
	one(b, "avwarden_reloads_total", "counter", "Signature databases loaded into a new generation.", s->reloads);
	one(b, "avwarden_reload_failures_total", "counter", "Database loads that failed (the old one kept serving).",
	    s->reload_failures);
	one(b, "avwarden_reloading", "gauge", "1 while a new database is loading.", pi->reloading ? 1 : 0);
	one(b, "avwarden_generation", "gauge", "The serving generation (0: none).", pi->generation);
	one(b, "avwarden_signatures", "gauge", "Signatures of the serving database.", pi->signatures);
	if (pi->generation == 0)
		return;
	one(b, "avwarden_database_loaded_timestamp_seconds", "gauge",
	    "When the serving database was loaded, seconds since the epoch.", (uint64_t)pi->loaded_at);
	if (pi->database_built <= 0)
		return;
	one(b, "avwarden_database_build_timestamp_seconds", "gauge",
	    "The serving database's build time (newest official file), or its newest signature file's change.",
	    (uint64_t)pi->database_built);
	one(b, "avwarden_database_age_seconds", "gauge", "Seconds since that build time.",
	    now > pi->database_built ? (uint64_t)(now - pi->database_built) : 0);
}

char *sup_metrics_render(size_t *len)
{
	const struct sup_stats *s = &sup_counters;
	struct sup_pool_info pi;
	struct mbuf b = { .cap = 16384 };
	time_t now = time(NULL);

	if ((b.p = malloc(b.cap)) == NULL)
		return NULL;
	b.p[0] = '\0';
	sup_pool_describe(&pi);
	head(&b, "avwarden_build_info", "gauge", "avwarden's and libclamav's versions.");
	mb_printf(&b, "avwarden_build_info{version=\"%s\",engine=\"", AVW_VERSION);
	mb_label(&b, pi.engine);
	mb_printf(&b, "\"} 1\n");
	one(&b, "avwarden_start_time_seconds", "gauge", "When avwarden started, seconds since the epoch.",
	    (uint64_t)X.started);
	one(&b, "avwarden_serving", "gauge", "1 when a generation serves and can take a message.", pi.healthy ? 1 : 0);
	scans(&b, s);
	workers(&b, s, &pi);
	cache(&b, s, &pi);
	database(&b, s, &pi, now);
	one(&b, "avwarden_metrics_scrapes_total", "counter", "Answers to GET /metrics.", X.scrapes);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* ------------------------------------------------------------ HTTP */

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
    enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result rc;

	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;  /* libmicrohttpd closes the connection */
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_len, void **req_cls)
{
	static const char not_found[] = "Not found: the metrics are at /metrics\n";
	static const char not_allowed[] = "Only GET and HEAD\n";
	static const char no_memory[] = "Out of memory\n";
	char *body;
	size_t len = 0;

	(void)cls;
	(void)version;
	(void)upload;
	(void)req_cls;
	/* Answered on the first call, from the request line and headers alone:
	 * a body is never read (libmicrohttpd closes the connection after). */
	*upload_len = 0;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, (char *)not_allowed, sizeof(not_allowed) - 1,
		    MHD_RESPMEM_PERSISTENT, "text/plain; charset=utf-8");
	if (strcmp(url, "/metrics") != 0)
		return answer(conn, MHD_HTTP_NOT_FOUND, (char *)not_found, sizeof(not_found) - 1,
		    MHD_RESPMEM_PERSISTENT, "text/plain; charset=utf-8");
	X.scrapes++;
	if ((body = sup_metrics_render(&len)) == NULL)
		return answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, (char *)no_memory, sizeof(no_memory) - 1,
		    MHD_RESPMEM_PERSISTENT, "text/plain; charset=utf-8");
	return answer(conn, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE, METRICS_TYPE);
}

/* allow=: the scrapers let in (none listed: any). */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	uint64_t now = plat_now_ns();

	(void)cls;
	(void)len;
	if (X.spec.nallow == 0)
		return MHD_YES;
	for (unsigned i = 0; i < X.spec.nallow; i++)
		if (sup_cidr_match(&X.spec.allow[i], sa))
			return MHD_YES;
	if (now - X.last_refused_ns > METRICS_LOG_EVERY_NS) {
		X.last_refused_ns = now;
		log_warnx("metrics_refused", "reason=\"scraper not in metrics_listen's allow= list\" "
		    "fix=\"add its network to allow=\"");
	}
	return MHD_NO;
}

/* libmicrohttpd's own complaints (a client's broken request, a full
 * connection table): one a minute, the rest counted. */
static void PLAT_PRINTF(2, 0) on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char text[256];
	uint64_t now = plat_now_ns();
	size_t n;

	(void)cls;
	if (X.last_log_ns != 0 && now - X.last_log_ns < METRICS_LOG_EVERY_NS) {
		X.logs_dropped++;
		return;
	}
	X.last_log_ns = now;
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (text[i] == '"' || (unsigned char)text[i] < 0x20)
			text[i] = '\'';
	log_warnx("metrics_http", "reason=\"%s\" suppressed_before=%" PRIu64, text, X.logs_dropped);
	X.logs_dropped = 0;
}

static void run_mhd(void);

static void on_timer(uv_timer_t *t)
{
	(void)t;
	run_mhd();
}

static void on_ready(uv_poll_t *p, int status, int events)
{
	(void)p;
	(void)status;
	(void)events;
	run_mhd();
}

/* Whatever is ready, then the next deadline libmicrohttpd needs. */
static void run_mhd(void)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (!X.open)
		return;
	(void)MHD_run(X.d);
	if (MHD_get_timeout(X.d, &ms) == MHD_YES)
		(void)uv_timer_start(&X.timer, on_timer, ms, 0);
	else
		(void)uv_timer_stop(&X.timer);
}

static int bind_listener(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int v6 = strchr(X.spec.host, ':') != NULL, fd, one = 1, rc;

	memset(&ss, 0, sizeof(ss));
	rc = v6 ? uv_ip6_addr(X.spec.host, X.spec.port, (struct sockaddr_in6 *)&ss) :
	    uv_ip4_addr(X.spec.host, X.spec.port, (struct sockaddr_in *)&ss);
	if (rc < 0) {
		snprintf(err, errlen, "metrics_listen %s: not an IP address: %s", spec, X.spec.host);
		return -1;
	}
	if ((fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "metrics_listen %s: socket: %s", spec, strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0 ||
	    listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "metrics_listen %s: cannot bind: %s%s", spec, strerror(e),
		    e == EADDRINUSE ? " (another program has that port: choose another one in metrics_listen)" :
		    e == EADDRNOTAVAIL ? " (no interface of this machine has that address)" : "");
		return -1;
	}
	return fd;
}

int sup_metrics_start(uv_loop_t *loop, const char *spec, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;
	char why[256];
	int fd, rc;

	if (sup_metrics_listen_parse(spec, &X.spec, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "metrics_listen %s: %s", spec, why);
		return -1;
	}
	if ((fd = bind_listener(spec, err, errlen)) < 0)
		return -1;
	X.loop = loop;
	X.started = time(NULL);
	X.d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, on_accept, NULL, on_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,  /* first, or MHD's own logger is used before it */
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)METRICS_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_HEADER_BYTES,
	    MHD_OPTION_END);
	if (X.d == NULL) {
		close(fd);
		snprintf(err, errlen, "metrics_listen %s: libmicrohttpd would not start on it", spec);
		return -1;
	}
	info = MHD_get_daemon_info(X.d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || (rc = uv_poll_init(loop, &X.poll, info->epoll_fd)) < 0) {
		MHD_stop_daemon(X.d);
		X.d = NULL;
		snprintf(err, errlen, "metrics_listen %s: cannot watch libmicrohttpd's descriptor", spec);
		return -1;
	}
	(void)uv_timer_init(loop, &X.timer);
	(void)uv_poll_start(&X.poll, UV_READABLE, on_ready);
	X.open = 1;
	run_mhd();
	log_info("metrics", "address=%s path=/metrics", spec);
	if (X.spec.nallow == 0 && strcmp(X.spec.host, "127.0.0.1") != 0 && strcmp(X.spec.host, "::1") != 0)
		log_warnx("metrics_open", "address=%s reason=\"any host that reaches it can read the counters\" "
		    "fix=\"add allow=NETWORK/BITS to metrics_listen\"", spec);
	return 0;
}

void sup_metrics_stop(void)
{
	if (!X.open)
		return;
	X.open = 0;
	uv_close((uv_handle_t *)&X.poll, NULL);
	uv_close((uv_handle_t *)&X.timer, NULL);
	/* Closes the listener, every connection and the epoll descriptor. */
	MHD_stop_daemon(X.d);
	X.d = NULL;
}
