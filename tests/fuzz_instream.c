/*
 * tests/fuzz_instream.c: libFuzzer target for the INSTREAM framer,
 * sup_instream_init/next/feed() in supervisor/clamd.c.
 *
 * Input layout:
 *   bytes 0-1  cap, little-endian (max_message_size: 0 .. 65535)
 *   bytes 2-5  seed of the split pattern (the low 3 bits pick its kind)
 *   the rest   what the client sends after "zINSTREAM\0"
 *
 * The stream is decoded three ways, which must agree on the result, the
 * data, `len`, `fed` and the framer's position in the stream:
 *   ref   a plain decoder written here from clamd.h's description
 *         (4-byte big-endian lengths, a zero length ends the stream);
 *   copy  feed() from separate buffers, in pieces the seed decides; each
 *         piece ends exactly at the end of an allocation, so ASan reports a
 *         read past it;
 *   zero  listen.c's path: optionally some bytes fed from a separate buffer
 *         first (chunk bytes that came with the command line), then reads
 *         where next() points, at most as many bytes as it allows (and as
 *         the seed's "socket" delivers), fed in place. The job buffer is
 *         moved now and then, as mremap() may do when it grows.
 * Job buffers are exactly cap + SUP_INSTREAM_SLACK bytes: a write outside
 * is a heap overflow.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../supervisor/clamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_instream: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

#define HDR 6
/* Bytes after the command line that listen.c feeds from its command buffer. */
#define PREFIX_MAX SUP_CLAMD_CMD_MAX

/* ---- split patterns ---- */

struct split {
	uint32_t x;
	unsigned kind;
};

static uint32_t rnd(struct split *sp)
{
	/* xorshift32: any nonzero state. */
	sp->x ^= sp->x << 13;
	sp->x ^= sp->x >> 17;
	sp->x ^= sp->x << 5;
	return sp->x;
}

static void split_init(struct split *sp, uint32_t seed)
{
	sp->kind = seed & 7;
	sp->x = seed ? seed : 0x9e3779b9u;
}

/* The size of the next piece (>= 1). */
static size_t piece(struct split *sp)
{
	switch (sp->kind) {
	case 0:
		return SIZE_MAX;                     /* everything at once */
	case 1:
		return 1;                            /* byte by byte */
	case 2:
		return 1 + rnd(sp) % 4;              /* headers split every way */
	case 3:
		return 1 + rnd(sp) % 17;
	case 4:
		return 1 + rnd(sp) % 512;
	case 5:
		return 1 + rnd(sp) % 65536;
	default: {
		uint32_t r = rnd(sp);
		return r & 1 ? 1 + (r >> 1) % 5 : 1 + (r >> 1) % 4096;
	}
	}
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- the reference decoder ---- */

struct outcome {
	int rc;
	size_t len;           /* data bytes */
	size_t fed;           /* stream bytes consumed */
	uint32_t chunk_left;  /* (MORE) data bytes of the current chunk still to come */
	unsigned hdr_have;    /* (MORE) bytes of a length header seen */
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* out has room for cap bytes. */
static struct outcome reference(const uint8_t *f, size_t flen, size_t cap, uint8_t *out)
{
	struct outcome o = { SUP_INSTREAM_MORE, 0, 0, 0, 0 };
	size_t pos = 0;

	for (;;) {
		if (flen - pos < 4) {
			o.hdr_have = (unsigned)(flen - pos);
			o.fed = flen;
			return o;
		}
		uint32_t size = be32(f + pos);
		pos += 4;
		if (size == 0) {
			o.rc = SUP_INSTREAM_DONE;
			o.fed = pos;
			return o;
		}
		if ((uint64_t)o.len + size > cap) {
			o.rc = SUP_INSTREAM_TOO_LARGE;
			o.fed = pos;
			return o;
		}
		size_t take = min_sz(size, flen - pos);
		memcpy(out + o.len, f + pos, take);
		o.len += take;
		pos += take;
		if (take < size) {
			o.chunk_left = (uint32_t)(size - take);
			o.fed = flen;
			return o;
		}
	}
}

/* ---- checks common to both feeding strategies ---- */

static void check_state(const struct sup_instream *s, size_t cap, const char *how)
{
	CHECK(s->cap == cap, "%s: cap changed to %zu", how, s->cap);
	CHECK(s->len <= cap, "%s: len %zu > cap %zu", how, s->len, cap);
	CHECK(s->hdr_have < 4, "%s: hdr_have %u", how, s->hdr_have);
	CHECK((uint64_t)s->len + s->chunk_left <= cap, "%s: len %zu + chunk_left %u > cap %zu", how, s->len,
	    (unsigned)s->chunk_left, cap);
	CHECK(s->chunk_left == 0 || s->hdr_have == 0, "%s: inside a chunk and a header at once", how);
}

/* After one feed() of n bytes that had `before` bytes fed until then. */
static void check_feed(const struct sup_instream *s, int rc, size_t before, size_t n, const uint8_t *f,
    size_t cap, const char *how)
{
	check_state(s, cap, how);
	CHECK(rc == SUP_INSTREAM_MORE || rc == SUP_INSTREAM_DONE || rc == SUP_INSTREAM_TOO_LARGE,
	    "%s: feed() returned %d", how, rc);
	CHECK(s->fed >= before && s->fed - before <= n, "%s: fed went from %zu to %zu on %zu bytes", how,
	    before, s->fed, n);
	if (rc == SUP_INSTREAM_MORE)
		CHECK(s->fed == before + n, "%s: MORE but only %zu of %zu bytes consumed", how, s->fed - before, n);
	if (rc == SUP_INSTREAM_DONE) {
		/* Only a zero length ends a stream: the last 4 bytes consumed. */
		CHECK(s->fed >= 4 && be32(f + s->fed - 4) == 0, "%s: DONE without a zero-length chunk", how);
	}
	/* TOO_LARGE only when the total would pass cap: compared with the
	 * reference, which knows where the stream is. */
}

/* Once DONE, nothing more is taken. */
static void check_after_done(struct sup_instream *s, const uint8_t *f, size_t flen, const char *how)
{
	size_t len = s->len, fed = s->fed, rest = flen - fed;
	uint8_t more[8];
	int rc;

	if (rest > 0) {
		uint8_t *p = malloc(rest);
		CHECK(p != NULL, "out of memory");
		memcpy(p, f + fed, rest);
		rc = sup_instream_feed(s, p, rest);
		free(p);
		CHECK(rc == SUP_INSTREAM_DONE, "%s: %d after DONE", how, rc);
	}
	memset(more, 0x41, sizeof(more));
	rc = sup_instream_feed(s, more, sizeof(more));
	CHECK(rc == SUP_INSTREAM_DONE, "%s: %d after DONE", how, rc);
	CHECK(s->len == len && s->fed == fed, "%s: bytes taken after DONE: len %zu -> %zu, fed %zu -> %zu", how,
	    len, s->len, fed, s->fed);
}

static uint8_t *job_buffer(size_t cap)
{
	uint8_t *b = malloc(cap + SUP_INSTREAM_SLACK);

	CHECK(b != NULL, "out of memory");
	/* Not zeros: a framer that relied on them would be caught. */
	memset(b, 0xdb, cap + SUP_INSTREAM_SLACK);
	return b;
}

/* ---- strategy "copy": feed() from separate buffers ---- */

static struct outcome run_copy(const uint8_t *f, size_t flen, size_t cap, uint32_t seed, uint8_t **data)
{
	struct sup_instream s;
	struct split sp;
	uint8_t *buf = job_buffer(cap);
	/* Each piece is copied to the end of this: nothing readable after it. */
	uint8_t *scratch = malloc(flen);
	size_t pos = 0;
	int rc = SUP_INSTREAM_MORE;
	struct outcome o;

	CHECK(scratch != NULL || flen == 0, "out of memory");
	split_init(&sp, seed);
	sup_instream_init(&s, buf, cap);
	check_state(&s, cap, "copy");
	while (pos < flen && rc == SUP_INSTREAM_MORE) {
		size_t n = min_sz(piece(&sp), flen - pos), before = s.fed;
		uint8_t *src = scratch + flen - n;
		memcpy(src, f + pos, n);
		rc = sup_instream_feed(&s, src, n);
		check_feed(&s, rc, before, n, f, cap, "copy");
		pos += n;
	}
	o.rc = rc;
	o.len = s.len;
	o.fed = s.fed;
	o.chunk_left = s.chunk_left;
	o.hdr_have = s.hdr_have;
	if (rc == SUP_INSTREAM_DONE)
		check_after_done(&s, f, flen, "copy");
	free(scratch);
	*data = buf;
	return o;
}

/* ---- strategy "zero": listen.c's reads into the job buffer ---- */

static struct outcome run_zero(const uint8_t *f, size_t flen, size_t cap, uint32_t seed, uint8_t **data)
{
	struct sup_instream s;
	struct split sp;
	uint8_t *buf = job_buffer(cap);
	size_t pos = 0, prefix;
	int rc = SUP_INSTREAM_MORE;
	struct outcome o;

	/* The "socket" splits differently from the copying run. */
	split_init(&sp, seed * 2654435761u + 1);
	sup_instream_init(&s, buf, cap);
	/* Chunk bytes that arrived in the same read as the command line. */
	prefix = seed & 8 ? min_sz(rnd(&sp) % (PREFIX_MAX + 1), flen) : 0;
	if (prefix > 0) {
		uint8_t *cmdbuf = malloc(prefix);
		CHECK(cmdbuf != NULL, "out of memory");
		memcpy(cmdbuf, f, prefix);
		rc = sup_instream_feed(&s, cmdbuf, prefix);
		free(cmdbuf);
		check_feed(&s, rc, 0, prefix, f, cap, "zero (prefix)");
		pos = prefix;
	}
	while (pos < flen && rc == SUP_INSTREAM_MORE) {
		unsigned char *p;
		size_t n, before = s.fed;

		sup_instream_next(&s, &p, &n);
		CHECK(p == s.base + s.len, "next() points at offset %td, len is %zu", p - s.base, s.len);
		CHECK(n >= 1, "next() allows no bytes while more are expected");
		CHECK(n <= cap + SUP_INSTREAM_SLACK - s.len, "next() allows %zu bytes at %zu, past cap %zu + slack", n,
		    s.len, cap);
		n = min_sz(min_sz(n, piece(&sp)), flen - pos);
		memcpy(p, f + pos, n);
		rc = sup_instream_feed(&s, p, n);
		check_feed(&s, rc, before, n, f, cap, "zero");
		/* Reads never bring bytes from beyond the next header: all consumed
		 * (how much TOO_LARGE counts as consumed is not specified). */
		if (rc != SUP_INSTREAM_TOO_LARGE)
			CHECK(s.fed == before + n, "zero: a read where next() pointed left %zu bytes unconsumed (rc %d)",
			    before + n - s.fed, rc);
		pos += n;
		if (rc == SUP_INSTREAM_MORE && (rnd(&sp) & 15) == 0) {
			/* The mapping grows and moves: only base[0, len) travels. */
			uint8_t *nb = job_buffer(cap);
			memcpy(nb, buf, s.len);
			free(buf);
			buf = nb;
			s.base = nb;
		}
	}
	o.rc = rc;
	o.len = s.len;
	o.fed = s.fed;
	o.chunk_left = s.chunk_left;
	o.hdr_have = s.hdr_have;
	if (rc == SUP_INSTREAM_DONE)
		check_after_done(&s, f, flen, "zero");
	*data = buf;
	return o;
}

static void compare(const struct outcome *a, const uint8_t *da, const struct outcome *b, const uint8_t *db,
    const char *what)
{
	CHECK(a->rc == b->rc, "%s: result %d vs %d", what, a->rc, b->rc);
	CHECK(a->len == b->len, "%s: len %zu vs %zu", what, a->len, b->len);
	CHECK(a->len == 0 || memcmp(da, db, a->len) == 0, "%s: the data differ", what);
	if (a->rc == SUP_INSTREAM_TOO_LARGE)
		return;  /* where the stream was left after TOO_LARGE is not specified */
	CHECK(a->fed == b->fed, "%s: fed %zu vs %zu", what, a->fed, b->fed);
	if (a->rc == SUP_INSTREAM_MORE)
		CHECK(a->chunk_left == b->chunk_left && a->hdr_have == b->hdr_have,
		    "%s: stopped at chunk_left %u hdr_have %u vs %u %u", what, (unsigned)a->chunk_left, a->hdr_have,
		    (unsigned)b->chunk_left, b->hdr_have);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome ref, cp, zc;
	uint8_t *ref_data, *cp_data, *zc_data;
	const uint8_t *f;
	size_t cap, flen;
	uint32_t seed;

	if (size < HDR)
		return 0;
	cap = (size_t)data[0] | (size_t)data[1] << 8;
	seed = (uint32_t)data[2] | (uint32_t)data[3] << 8 | (uint32_t)data[4] << 16 | (uint32_t)data[5] << 24;
	f = data + HDR;
	flen = size - HDR;

	ref_data = malloc(cap + 1);
	CHECK(ref_data != NULL, "out of memory");
	ref = reference(f, flen, cap, ref_data);
	cp = run_copy(f, flen, cap, seed, &cp_data);
	zc = run_zero(f, flen, cap, seed, &zc_data);

	compare(&ref, ref_data, &cp, cp_data, "reference vs copy");
	compare(&ref, ref_data, &zc, zc_data, "reference vs zero-copy");
	if (ref.rc == SUP_INSTREAM_TOO_LARGE)
		CHECK(cp.fed == zc.fed, "TOO_LARGE: copy stopped at %zu, zero-copy at %zu", cp.fed, zc.fed);

	free(ref_data);
	free(cp_data);
	free(zc_data);
	return 0;
}
