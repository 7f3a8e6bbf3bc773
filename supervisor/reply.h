/*
 * supervisor/reply.h: a reply on its way to a client (clamd sessions and
 * the control socket alike): text collected, then written.
 *
 * Promises: nothing is ever cut short or dropped silently (past memory, the
 * caller hears -ENOMEM and says so); at most one write is in flight, and
 * what is collected meanwhile follows it; `written` is called once all that
 * was flushed has reached the socket (or failed), never from inside a
 * reply call. A short reply goes out in one write.
 */
#ifndef AVW_REPLY_H
#define AVW_REPLY_H

#include <stdarg.h>
#include <stddef.h>
#include <uv.h>

#include "../platform/plat.h"

struct sup_reply {
	uv_stream_t *stream;
	char *buf;                  /* collected, not yet written */
	size_t len, cap;
	char *wbuf;                 /* being written */
	size_t wlen, wcap;
	uv_write_t req;
	int writing;
	int flush_wanted;           /* flush again once the write in flight is done */
	void (*written)(void *ctx, int status);
	void *ctx;
};

void sup_reply_init(struct sup_reply *r, uv_stream_t *stream, void (*written)(void *ctx, int status), void *ctx);
/* Appends text (which may hold NUL delimiters); 0 or -ENOMEM. */
int sup_reply_printf(struct sup_reply *r, const char *fmt, ...) PLAT_PRINTF(2, 3);
int sup_reply_vprintf(struct sup_reply *r, const char *fmt, va_list ap) PLAT_PRINTF(2, 0);
int sup_reply_bytes(struct sup_reply *r, const void *p, size_t n);
/* Drops what was collected and not yet flushed. */
void sup_reply_discard(struct sup_reply *r);
/* Writes everything collected so far: 0 (`written` follows), 1 when there
 * was nothing to write and nothing is in flight (it does not follow), or a
 * libuv error (nothing in flight; it does not follow). */
int sup_reply_flush(struct sup_reply *r);
/* Bytes collected or in flight. */
size_t sup_reply_pending(const struct sup_reply *r);
int sup_reply_busy(const struct sup_reply *r);
/* Frees the buffers; only once no write is in flight (after the stream
 * closed, whose close cancels the write first). */
void sup_reply_free(struct sup_reply *r);

#endif
