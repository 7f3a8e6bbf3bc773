/*
 * scanner/zipcheck.c: the zip archives libclamav gives up on without a word
 * (see zipcheck.h). libclamav 1.4 reads a zip through its central
 * directory: a zip cut short (no end record), a damaged directory, a local
 * header that disagrees with it, a member in a method it cannot decompress
 * (LZMA, PPMd, ...), zip64 sizes in a local header, or a member larger
 * than its extract limit (silently cut) all come back CLEAN, though the
 * client that opens the mail (7-Zip, Outlook, unzip with recovery) may
 * still extract the member. Every rule here is a fact of the zip format
 * (APPNOTE) checked on the bytes libclamav is about to read.
 */
#define _GNU_SOURCE
#include "zipcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIG_LFH 0x04034b50u
#define SIG_CEN 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define SIG_DD 0x08074b50u
/* libclamav scans layers of more than 5 bytes only. */
#define ZC_MIN_LAYER 5

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

#define FOUND(f, c, ...) (snprintf((f)->reason, sizeof((f)->reason), __VA_ARGS__), (f)->code = (c))

/* The methods libclamav 1.4 decompresses: stored, implode, deflate,
 * deflate64, bzip2. */
static int method_supported(uint16_t m)
{
	return m == 0 || m == 6 || m == 8 || m == 9 || m == 12;
}

struct zdir {
	uint64_t n, size, off;     /* entries; directory size and offset as recorded */
	uint64_t start, end;       /* where it really is */
	uint64_t delta;            /* bytes before the archive (an SFX stub) */
};

/* The end record (and its zip64 form): where the directory is. */
static int find_dir(const unsigned char *b, size_t len, struct zdir *d, struct cont_finding *f)
{
	size_t end = (size_t)-1, lo = len > 22 + 65535 ? len - 22 - 65535 : 0;

	for (size_t p = len - 22 + 1; p-- > lo;)
		if (le32(b + p) == SIG_END && p + 22 + le16(b + p + 20) <= len) {
			end = p;
			break;
		}
	if (end == (size_t)-1)
		return FOUND(f, ZC_MALFORMED, "zip: no end of central directory (cut short?)"), -1;
	if (le16(b + end + 4) != 0 || le16(b + end + 6) != 0)
		return FOUND(f, ZC_SPLIT, "zip: a multi-disk archive"), -1;
	d->n = le16(b + end + 10);
	d->size = le32(b + end + 12);
	d->off = le32(b + end + 16);
	d->end = end;
	if (d->n == 0xffff || d->size == 0xffffffffu || d->off == 0xffffffffu ||
	    (end >= 20 && le32(b + end - 20) == SIG_LOC64)) {
		uint64_t z;
		if (end < 20 || le32(b + end - 20) != SIG_LOC64)
			return FOUND(f, ZC_MALFORMED, "zip: zip64 end locator missing"), -1;
		z = le64(b + end - 12);  /* any value: compared before use */
		if ((z >= len || len - z < 56 || le32(b + z) != SIG_END64) && end >= 76)
			z = end - 20 - 56;  /* an offset relative to a prefixed archive */
		if (z >= len || len - z < 56 || le32(b + z) != SIG_END64)
			return FOUND(f, ZC_MALFORMED, "zip: zip64 end record damaged"), -1;
		d->n = le64(b + z + 32);
		d->size = le64(b + z + 40);
		d->off = le64(b + z + 48);
		d->end = z;
	}
	if (d->size > d->end)
		return FOUND(f, ZC_MALFORMED, "zip: central directory larger than the file"), -1;
	d->start = d->end - d->size;
	if (d->start < d->off)
		return FOUND(f, ZC_MALFORMED, "zip: central directory recorded past where it is"), -1;
	d->delta = d->start - d->off;
	if (d->n > len / 46 + 1)
		return FOUND(f, ZC_MALFORMED, "zip: %llu entries cannot fit", (unsigned long long)d->n), -1;
	return 0;
}

/* A stored or deflated member: its data decode to the sizes and CRC the
 * directory records (up to the extract limit: past it is a limit case). */
static const char *verify_data(const unsigned char *d, uint64_t csize, uint64_t usize, uint32_t crc,
    uint16_t method, uint64_t max)
{
	static unsigned char out[1 << 16];
	uLong c = crc32(0, NULL, 0);
	uint64_t got = 0;
	z_stream z;
	int r;

	if (method == 0) {
		if (csize != usize)
			return "stored member whose sizes differ";
		if (max != 0 && usize > max)
			return NULL;
		return crc32(0, d, (uInt)csize) == crc ? NULL : "CRC mismatch";
	}
	if (method != 8 || csize > UINT32_MAX)
		return NULL;  /* the other methods are libclamav's to decode */
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
		return NULL;
	z.next_in = (unsigned char *)d;
	z.avail_in = (uInt)csize;
	do {
		z.next_out = out;
		z.avail_out = sizeof(out);
		r = inflate(&z, Z_NO_FLUSH);
		c = crc32(c, out, (uInt)(sizeof(out) - z.avail_out));
		got += sizeof(out) - z.avail_out;
		if (got > usize) {
			/* The engine trusts the recorded size and cuts there. */
			inflateEnd(&z);
			return "inflates past its recorded size";
		}
		if (max != 0 && got > max) {
			inflateEnd(&z);
			return NULL;  /* past the limit: member_findings() says so */
		}
	} while (r == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
	inflateEnd(&z);
	if (r != Z_STREAM_END)
		return r == Z_OK || r == Z_BUF_ERROR ? "deflate data cut short" : "deflate data corrupt";
	if (got != usize)
		return "inflated size differs from the directory's";
	return (uint32_t)c == crc ? NULL : "CRC mismatch";
}

struct zentry {
	uint16_t flags, method, nlen;
	uint32_t crc;
	uint64_t csize, usize, lho;
	const unsigned char *name;
	uint64_t next;             /* the next directory entry */
};

static int read_entry(const unsigned char *b, uint64_t p, uint64_t dir_end, struct zentry *e)
{
	const unsigned char *c = b + p, *x, *xe;
	uint16_t elen, clen;

	if (p + 46 > dir_end || le32(c) != SIG_CEN)
		return -1;
	e->flags = le16(c + 8);
	e->method = le16(c + 10);
	e->crc = le32(c + 16);
	e->csize = le32(c + 20);
	e->usize = le32(c + 24);
	e->nlen = le16(c + 28);
	elen = le16(c + 30);
	clen = le16(c + 32);
	e->lho = le32(c + 42);
	e->name = c + 46;
	e->next = p + 46 + e->nlen + elen + clen;
	if (e->next > dir_end)
		return -1;
	/* zip64 extra field: the 64-bit values of those that are all ones */
	for (x = c + 46 + e->nlen, xe = x + elen; x + 4 <= xe && x + 4 + le16(x + 2) <= xe; x += 4 + le16(x + 2)) {
		const unsigned char *q = x + 4, *qe = q + le16(x + 2);
		if (le16(x) != 1)
			continue;
		if (e->usize == 0xffffffffu && q + 8 <= qe)
			e->usize = le64(q), q += 8;
		if (e->csize == 0xffffffffu && q + 8 <= qe)
			e->csize = le64(q), q += 8;
		if (e->lho == 0xffffffffu && q + 8 <= qe)
			e->lho = le64(q);
	}
	return 0;
}

/* What libclamav skips or cuts in this member; the first finding only. */
static void member_findings(const struct zentry *e, const struct cont_limits *lim, struct cont_finding *f)
{
	if (f->code != ZC_OK)
		return;
	if (e->flags & 0x41)
		FOUND(f, ZC_ENCRYPTED, "zip: member %.*s is encrypted", (int)e->nlen, e->name);
	else if (e->flags & 0x2020)
		FOUND(f, ZC_EXTRACT_FAILED, "zip: member %.*s has masked headers", (int)e->nlen, e->name);
	else if (!method_supported(e->method) && (e->usize != 0 || e->csize != 0))
		FOUND(f, ZC_EXTRACT_FAILED, "zip: member %.*s in method %u, which the engine cannot decompress",
		    (int)e->nlen, e->name, e->method);
	else if (lim->max_file_size != 0 && e->usize > lim->max_file_size)
		FOUND(f, ZC_MAX_EXTRACT_SIZE, "zip: member %.*s of %llu bytes is past max_extract_size",
		    (int)e->nlen, e->name, (unsigned long long)e->usize);
}

/* The member's local header agrees with its directory entry, and its data
 * end before the directory. Returns where the data end, or 0. */
static uint64_t check_local(const unsigned char *b, const struct zdir *d, const struct zentry *e,
    const struct cont_limits *lim, struct cont_finding *f, struct cont_finding *soft)
{
	uint64_t l = e->lho + d->delta, ds, de;
	const unsigned char *h;
	const char *why;

	/* lho is the archive's word (64 bits with zip64): bounded first */
	if (e->lho >= d->start || l >= d->start || d->start - l < 30 || le32(b + l) != SIG_LFH)
		return FOUND(f, ZC_MALFORMED, "zip: member %.*s has no local header", (int)e->nlen, e->name), 0;
	h = b + l;
	if (le16(h + 8) != e->method || le16(h + 26) != e->nlen || l + 30 + e->nlen > d->start ||
	    memcmp(h + 30, e->name, e->nlen) != 0)
		return FOUND(f, ZC_MALFORMED, "zip: member %.*s: local header disagrees with the directory",
		    (int)e->nlen, e->name), 0;
	if (le32(h + 18) == 0xffffffffu || le32(h + 22) == 0xffffffffu) {
		if (soft->code == ZC_OK)  /* libclamav 1.4 reads these sizes as they are */
			FOUND(soft, ZC_EXTRACT_FAILED, "zip: member %.*s has zip64 sizes in its local header",
			    (int)e->nlen, e->name);
		return d->start;
	}
	if (!(le16(h + 6) & 8) && (le32(h + 18) != e->csize || le32(h + 22) != e->usize || le32(h + 14) != e->crc))
		return FOUND(f, ZC_MALFORMED, "zip: member %.*s: local sizes or CRC differ from the directory's",
		    (int)e->nlen, e->name), 0;
	ds = l + 30 + e->nlen + le16(h + 28);
	de = ds + e->csize;
	if (de > d->start || de < ds)
		return FOUND(f, ZC_MALFORMED, "zip: member %.*s runs into the directory", (int)e->nlen, e->name), 0;
	if (!(e->flags & 0x41) && (why = verify_data(b + ds, e->csize, e->usize, e->crc, e->method,
	    lim->max_file_size)) != NULL)
		return FOUND(f, ZC_MALFORMED, "zip: member %.*s: %s", (int)e->nlen, e->name, why), 0;
	if (le16(h + 6) & 8) {  /* a data descriptor follows */
		uint64_t q = de + (de + 4 <= d->start && le32(b + de) == SIG_DD ? 4 : 0) + 12;
		if (q <= d->start)
			de = q;
	}
	return de;
}

struct span { uint64_t start, end; };

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* A local header the directory does not list, between a and b. */
static int hidden_member(const unsigned char *b, uint64_t a, uint64_t z)
{
	for (uint64_t p = a; p + 30 <= z; p++) {
		if (b[p] != 'P' || le32(b + p) != SIG_LFH)
			continue;
		uint16_t nlen = le16(b + p + 26);
		if (le16(b + p + 4) < 100 && nlen > 0 && nlen < 1024 && p + 30 + nlen + le16(b + p + 28) <= z)
			return 1;
	}
	return 0;
}

/* No two members share bytes, and no member hides between them. */
static void check_spans(const unsigned char *b, const struct zdir *d, struct span *sp, uint64_t n,
    struct cont_finding *f)
{
	uint64_t prev = d->delta;

	qsort(sp, n, sizeof(*sp), span_cmp);
	for (uint64_t i = 0; i < n; i++) {
		if (sp[i].start < prev) {
			FOUND(f, ZC_MALFORMED, "zip: members overlap");
			return;
		}
		if (hidden_member(b, prev, sp[i].start)) {
			FOUND(f, ZC_MALFORMED, "zip: a member the central directory does not list");
			return;
		}
		prev = sp[i].end;
	}
	if (hidden_member(b, prev, d->start))
		FOUND(f, ZC_MALFORMED, "zip: a member the central directory does not list");
}

int zip_check(const unsigned char *b, size_t len, const struct cont_limits *lim, struct cont_finding *f)
{
	struct zdir d;
	struct zentry e;
	struct span *sp;
	struct cont_finding first = { .code = ZC_OK };
	uint64_t p, total = 0;

	memset(f, 0, sizeof(*f));
	if (len < 22)
		return FOUND(f, ZC_MALFORMED, "zip: too short to be one");
	if (find_dir(b, len, &d, f) < 0)
		return f->code;
	if (lim->max_files != 0 && d.n > lim->max_files)
		return FOUND(f, ZC_MAX_FILES, "zip: %llu members, past max_file_count", (unsigned long long)d.n);
	if ((sp = calloc(d.n + 1, sizeof(*sp))) == NULL)
		return FOUND(f, ZC_OUT_OF_MEMORY, "zip: no memory to check it");
	for (p = d.start, f->members = 0; f->members < d.n; f->members++, p = e.next) {
		if (read_entry(b, p, d.end, &e) < 0) {
			free(sp);
			return FOUND(f, ZC_MALFORMED, "zip: central directory entry %llu damaged",
			    (unsigned long long)f->members);
		}
		member_findings(&e, lim, &first);
		total += e.usize;
		sp[f->members].start = e.lho + d.delta;
		if ((sp[f->members].end = check_local(b, &d, &e, lim, f, &first)) == 0) {
			free(sp);
			return f->code;
		}
	}
	check_spans(b, &d, sp, d.n, f);
	free(sp);
	if (f->code != ZC_OK)
		return f->code;
	if (first.code == ZC_OK && lim->max_scan_size != 0 && total > lim->max_scan_size)
		FOUND(&first, ZC_MAX_SCAN_SIZE, "zip: %llu bytes in all, past max_cumulative_extract_size",
		    (unsigned long long)total);
	first.members = f->members;
	*f = first;
	return f->code;
}
