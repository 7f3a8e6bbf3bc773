/*
 * supervisor/metrics.h: Prometheus metrics over HTTP, on the optional
 * metrics_listen address ("tcp:127.0.0.1:9310 [allow=CIDR,...]").
 *
 * GET or HEAD /metrics answers the text exposition format (version 0.0.4)
 * from the supervisor's counters and the pool's description; anything
 * else is 404 or 405. libmicrohttpd does the HTTP, on the supervisor's own
 * loop (its epoll descriptor polled by libuv), never on a thread of its own.
 */
#ifndef AVW_METRICS_H
#define AVW_METRICS_H

#include <stddef.h>
#include <uv.h>

/* Binds and serves spec. 0, or -1 with err naming the cause and the fix. */
int sup_metrics_start(uv_loop_t *loop, const char *spec, char *err, size_t errlen);
/* Closes the listener and every scrape in progress (no-op if not started). */
void sup_metrics_stop(void);

/* The exposition text, malloc'd, NUL-terminated; NULL without memory. */
char *sup_metrics_render(size_t *len);

#endif
