/*
 * supervisor/reply.c: collected text and one write at a time (see reply.h).
 */
#include "reply.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sup_reply_init(struct sup_reply *r, uv_stream_t *stream, void (*written)(void *ctx, int status), void *ctx)
{
	memset(r, 0, sizeof(*r));
	r->stream = stream;
	r->written = written;
	r->ctx = ctx;
	r->req.data = r;
}

static int grow(char **buf, size_t *cap, size_t need)
{
	size_t c;
	char *p;

	if (need <= *cap)
		return 0;
	for (c = *cap ? *cap : 256; c < need; c *= 2)
		;
	if ((p = realloc(*buf, c)) == NULL)
		return -ENOMEM;
	*buf = p;
	*cap = c;
	return 0;
}

int sup_reply_bytes(struct sup_reply *r, const void *p, size_t n)
{
	if (grow(&r->buf, &r->cap, r->len + n + 1) < 0)
		return -ENOMEM;
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

int sup_reply_vprintf(struct sup_reply *r, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || grow(&r->buf, &r->cap, r->len + (size_t)n + 1) < 0)
		return -ENOMEM;
	vsnprintf(r->buf + r->len, r->cap - r->len, fmt, ap);
	r->len += (size_t)n;  /* the text may hold '\0' delimiters: length-based */
	return 0;
}

int sup_reply_printf(struct sup_reply *r, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = sup_reply_vprintf(r, fmt, ap);
	va_end(ap);
	return rc;
}

void sup_reply_discard(struct sup_reply *r)
{
	r->len = 0;
}

static void write_done(uv_write_t *req, int status)
{
	struct sup_reply *r = req->data;

	r->writing = 0;
	r->wlen = 0;
	if (status == 0 && r->flush_wanted && r->len > 0 && (status = sup_reply_flush(r)) == 0)
		return;  /* the rest is on its way; written comes after it */
	if (status == 1)
		status = 0;
	r->flush_wanted = 0;
	r->written(r->ctx, status);
}

int sup_reply_flush(struct sup_reply *r)
{
	uv_buf_t b;
	char *t;
	size_t tc;
	int rc;

	if (r->writing) {
		r->flush_wanted = 1;
		return 0;
	}
	if (r->len == 0)
		return 1;
	/* The collected text becomes the write buffer; collecting goes on in the other. */
	t = r->wbuf, tc = r->wcap;
	r->wbuf = r->buf, r->wcap = r->cap, r->wlen = r->len;
	r->buf = t, r->cap = tc, r->len = 0;
	b = uv_buf_init(r->wbuf, (unsigned)r->wlen);
	if ((rc = uv_write(&r->req, r->stream, &b, 1, write_done)) < 0) {
		r->wlen = 0;
		return rc;
	}
	r->writing = 1;
	r->flush_wanted = 0;
	return 0;
}

size_t sup_reply_pending(const struct sup_reply *r)
{
	return r->len + r->wlen;
}

int sup_reply_busy(const struct sup_reply *r)
{
	return r->writing;
}

void sup_reply_free(struct sup_reply *r)
{
	free(r->buf);
	free(r->wbuf);
	r->buf = r->wbuf = NULL;
	r->len = r->cap = r->wlen = r->wcap = 0;
}
