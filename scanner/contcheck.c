/*
 * scanner/contcheck.c: the containers other than zip that libclamav 1.4
 * answers CLEAN for without having read them whole (see contcheck.h):
 *   tar   a header whose checksum fails ends its walk (the members after it
 *         are never scanned); a member cut short
 *   gz, bz2, xz   a stream cut short or corrupt (bzip2 throws its whole
 *         output away then; gzip and xz scan what came out before)
 *   TNEF  an attribute chain cut short (the attachment is lost)
 *   7z    a header cut short or failing its CRC (nothing can be listed)
 *   mail  a message/partial fragment; a yEnc part, which it does not decode
 *   any other layer: a zip inside it (an SFX stub, an appended archive),
 *         which the engine scans without inspecting it as a zip
 * Each rule is a fact of the format, checked on the layer's bytes.
 */
#define _GNU_SOURCE
#include "contcheck.h"

#include <bzlib.h>
#include <lzma.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "zipcheck.h"

#define FOUND(f, c, ...) (snprintf((f)->reason, sizeof((f)->reason), __VA_ARGS__), (f)->code = (c))

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Decoded output goes nowhere: only whether the stream ends well counts. */
static unsigned char sink[1 << 16];

/* ------------------------------------------------------------------ tar */

/* An octal (or base-256) number field; *ok 0 if it is not one. */
static uint64_t tar_num(const unsigned char *p, int n, int *ok)
{
	uint64_t v = 0;
	int i = 0, digits = 0;

	*ok = 1;
	if (p[0] & 0x80) {
		for (i = 1; i < n; i++)
			v = v << 8 | p[i];
		return v;
	}
	while (i < n && (p[i] == ' ' || p[i] == '\0'))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++, digits++)
		v = v * 8 + (uint64_t)(p[i] - '0');
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\0')
			*ok = 0;
	if (digits == 0)
		*ok = 0;
	return v;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* A header's checksum holds, as the unsigned or the old signed sum. */
static int tar_sum_ok(const unsigned char *h)
{
	unsigned long u = 0;
	long s = 0;
	int ok;
	uint64_t want = tar_num(h + 148, 8, &ok);

	for (int i = 0; i < 512; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
		u += c;
		s += (signed char)c;
	}
	return ok && (want == u || (long)want == s);
}

/* pax extended header: its size= record, or -1. */
static int64_t pax_size(const unsigned char *q, const unsigned char *qe)
{
	int64_t size = -1;

	while (q < qe) {
		const unsigned char *r = q;
		unsigned long len = 0;
		while (r < qe && *r >= '0' && *r <= '9' && len < (1ul << 30))
			len = len * 10 + (unsigned long)(*r++ - '0');
		if (len == 0 || len > (size_t)(qe - q) || r >= qe || *r != ' ')
			break;
		if (len > 6 && (size_t)(r - q) + 6 <= len && memcmp(r + 1, "size=", 5) == 0) {
			size = 0;
			for (const unsigned char *v = r + 6; v < q + len - 1 && *v >= '0' && *v <= '9'; v++)
				size = size * 10 + (*v - '0');
		}
		q += len;
	}
	return size;
}

static int tar_check(const unsigned char *b, size_t len, struct cont_finding *f)
{
	size_t off = 0;
	int64_t next_size = -1;  /* from a pax header, for the member after it */
	int ok;

	while (off + 512 <= len) {
		const unsigned char *h = b + off;
		uint64_t size;
		char t;
		if (all_zero(h, 512))
			return all_zero(h, len - off) ? ZC_OK :
			    FOUND(f, ZC_MALFORMED, "tar: data after the end of the archive at %zu", off);
		if (!tar_sum_ok(h))
			return FOUND(f, ZC_MALFORMED, "tar: header at %zu fails its checksum", off);
		size = tar_num(h + 124, 12, &ok);
		if (!ok)
			return FOUND(f, ZC_MALFORMED, "tar: header at %zu has no size", off);
		t = (char)h[156];
		if (t == '1' || t == '2')
			size = 0;  /* links carry no data */
		if (t == 'x' && size <= len - off - 512)
			next_size = pax_size(h + 512, h + 512 + size);
		else if (t != 'g' && t != 'L' && t != 'K' && next_size >= 0)
			size = (uint64_t)next_size, next_size = -1;
		if (t == 'S')  /* old GNU sparse: extension headers follow */
			for (int ext = h[482]; ext; ext = b[off + 504])
				if ((off += 512) + 512 > len)
					return FOUND(f, ZC_MALFORMED, "tar: sparse map cut short");
		if (size > len - off - 512)
			return FOUND(f, ZC_MALFORMED, "tar: member at %zu cut short", off);
		off += 512 + (size + 511) / 512 * 512;
	}
	if (off < len && !all_zero(b + off, len - off))
		return FOUND(f, ZC_MALFORMED, "tar: a partial header at the end");
	return ZC_OK;
}

/* -------------------------------------------------------------- streams */

/* Each decoder runs to its end marker, member after member, or to the
 * extract limit (past it is the engine's own limit alert). */
static int gz_check(const unsigned char *b, size_t len, uint64_t max, struct cont_finding *f)
{
	z_stream z;
	uint64_t out = 0;
	int r;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return FOUND(f, ZC_OUT_OF_MEMORY, "gz: no memory to check it");
	z.next_in = (unsigned char *)b;
	z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
	for (;;) {
		z.next_out = sink;
		z.avail_out = sizeof(sink);
		r = inflate(&z, Z_NO_FLUSH);
		out += sizeof(sink) - z.avail_out;
		if (max != 0 && out > max)
			break;
		if (r == Z_STREAM_END && z.avail_in >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b) {
			inflateReset(&z);  /* the next member */
			continue;
		}
		if (r != Z_OK || (z.avail_in == 0 && z.avail_out != 0))
			break;
	}
	inflateEnd(&z);
	if ((max == 0 || out <= max) && r != Z_STREAM_END)
		return FOUND(f, ZC_MALFORMED, "gz: stream %s after %llu bytes", r == Z_OK || r == Z_BUF_ERROR ?
		    "cut short" : "corrupt", (unsigned long long)out);
	return ZC_OK;
}

static int bz2_check(const unsigned char *b, size_t len, uint64_t max, struct cont_finding *f)
{
	bz_stream s;
	uint64_t out = 0;
	int r;

	memset(&s, 0, sizeof(s));
	if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK)
		return FOUND(f, ZC_OUT_OF_MEMORY, "bz2: no memory to check it");
	s.next_in = (char *)b;
	s.avail_in = len > UINT32_MAX ? UINT32_MAX : (unsigned)len;
	for (;;) {
		s.next_out = (char *)sink;
		s.avail_out = sizeof(sink);
		r = BZ2_bzDecompress(&s);
		out += sizeof(sink) - s.avail_out;
		if (max != 0 && out > max)
			break;
		if (r == BZ_STREAM_END && s.avail_in >= 3 && memcmp(s.next_in, "BZh", 3) == 0) {
			char *in = s.next_in;
			unsigned avail = s.avail_in;
			BZ2_bzDecompressEnd(&s);  /* the next stream */
			memset(&s, 0, sizeof(s));
			if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK)
				return FOUND(f, ZC_OUT_OF_MEMORY, "bz2: no memory to check it");
			s.next_in = in;
			s.avail_in = avail;
			continue;
		}
		if (r != BZ_OK || (s.avail_in == 0 && s.avail_out != 0))
			break;
	}
	BZ2_bzDecompressEnd(&s);
	if ((max == 0 || out <= max) && r != BZ_STREAM_END)
		return FOUND(f, ZC_MALFORMED, "bz2: stream %s after %llu bytes", r == BZ_OK ? "cut short" : "corrupt",
		    (unsigned long long)out);
	return ZC_OK;
}

static int xz_check(const unsigned char *b, size_t len, uint64_t max, struct cont_finding *f)
{
	lzma_stream x = LZMA_STREAM_INIT;
	uint64_t out = 0;
	lzma_ret r;

	if (lzma_stream_decoder(&x, 256u << 20, LZMA_CONCATENATED) != LZMA_OK)
		return FOUND(f, ZC_OUT_OF_MEMORY, "xz: no memory to check it");
	x.next_in = b;
	x.avail_in = len;
	do {
		x.next_out = sink;
		x.avail_out = sizeof(sink);
		r = lzma_code(&x, LZMA_FINISH);
		out += sizeof(sink) - x.avail_out;
	} while (r == LZMA_OK && (max == 0 || out <= max));
	lzma_end(&x);
	if ((max == 0 || out <= max) && r != LZMA_STREAM_END)
		return FOUND(f, r == LZMA_MEMLIMIT_ERROR ? ZC_MAX_EXTRACT_SIZE : ZC_MALFORMED, "xz: stream %s after %llu bytes",
		    r == LZMA_BUF_ERROR ? "cut short" : "corrupt", (unsigned long long)out);
	return ZC_OK;
}

/* ------------------------------------------------------------------- 7z */

/* The signature header says where the archive's header is, and the CRCs of
 * both: a 7z cut short or damaged there cannot be listed. */
static int sevenz_check(const unsigned char *b, size_t len, struct cont_finding *f)
{
	uint64_t off, size;

	if (len < 32)
		return FOUND(f, ZC_MALFORMED, "7z: cut short in its signature header");
	if (crc32(0, b + 12, 20) != le32(b + 8))
		return FOUND(f, ZC_MALFORMED, "7z: signature header fails its CRC");
	off = le32(b + 12) | (uint64_t)le32(b + 16) << 32;
	size = le32(b + 20) | (uint64_t)le32(b + 24) << 32;
	if (off > len - 32 || size > len - 32 - off)
		return FOUND(f, ZC_MALFORMED, "7z: archive header past the end (cut short?)");
	if (size > UINT32_MAX || crc32(0, b + 32 + off, (uInt)size) != le32(b + 28))
		return FOUND(f, ZC_MALFORMED, "7z: archive header fails its CRC");
	return ZC_OK;
}

/* ----------------------------------------------------------------- TNEF */

static int tnef_check(const unsigned char *b, size_t len, struct cont_finding *f)
{
	size_t off = 6;

	if (len < 6 || le32(b) != 0x223e9f78u)
		return FOUND(f, ZC_MALFORMED, "tnef: no signature");
	while (off < len) {
		uint32_t alen;
		if (len - off < 9) {
			/* a short tail of NULs or white space, as real senders leave */
			for (size_t k = off; k < len; k++)
				if (b[k] != 0 && b[k] != '\n' && b[k] != '\r' && b[k] != ' ')
					return FOUND(f, ZC_MALFORMED, "tnef: attribute header at %zu cut short", off);
			break;
		}
		if (b[off] != 1 && b[off] != 2)
			return FOUND(f, ZC_MALFORMED, "tnef: attribute level %u at %zu", b[off], off);
		alen = le32(b + off + 5);
		if ((uint64_t)alen + 11 > len - off)
			return FOUND(f, ZC_MALFORMED, "tnef: attribute 0x%08x cut short", le32(b + off + 1));
		off += 9 + (size_t)alen + 2;
	}
	return ZC_OK;
}

/* ----------------------------------------------------------------- mail */

static const unsigned char *find_nocase(const unsigned char *h, size_t hl, const char *n)
{
	size_t nl = strlen(n);

	for (size_t i = 0; i + nl <= hl; i++)
		if (strncasecmp((const char *)h + i, n, nl) == 0)
			return h + i;
	return NULL;
}

/* Only in header lines (a line starting "Content-Type:") and at the start
 * of a line for yEnc, so quoted text does not count. */
static int mail_check(const unsigned char *b, size_t len, struct cont_finding *f)
{
	const unsigned char *p = b, *e = b + len;

	for (p = b; p < e;) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t ll = nl != NULL ? (size_t)(nl - p) : (size_t)(e - p);
		if (ll >= 13 && strncasecmp((const char *)p, "content-type:", 13) == 0) {
			const unsigned char *v = p + 13;
			while (v < p + ll && (*v == ' ' || *v == '\t'))
				v++;
			if (find_nocase(v, (size_t)(p + ll - v), "message/partial") == v)
				return FOUND(f, ZC_PARTIAL_MESSAGE, "mail: a message/partial fragment");
		}
		if (ll >= 8 && memcmp(p, "=ybegin ", 8) == 0)
			return FOUND(f, ZC_UNKNOWN_ALGORITHM, "mail: a yEnc part, which the engine does not decode");
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return ZC_OK;
}

/* A zip inside another layer (an SFX stub, bytes before an archive): the
 * engine scans it without a zip inspection of its own. Only findings that
 * need a directory that parses are taken (random bytes that look like a
 * signature never are): a member it cannot decompress or would cut. */
static int embedded_zip_check(const unsigned char *b, size_t len, const struct cont_limits *lim,
    struct cont_finding *f)
{
	static const unsigned char end_sig[4] = { 'P', 'K', 5, 6 }, cen_sig[4] = { 'P', 'K', 1, 2 };
	int tries = 0;

	if (len < 22 + 46 || memmem(b, len, cen_sig, 4) == NULL)
		return ZC_OK;
	/* A few candidates: a layer full of end records costs no more. */
	for (const unsigned char *e = b; tries < 16 && (e = memmem(e, (size_t)(b + len - e), end_sig, 4)) != NULL;
	    e++, tries++) {
		size_t off = (size_t)(e - b), end;
		struct cont_finding z;
		if (len - off < 22)
			break;
		end = off + 22 + le16(e + 20);
		if (end > len)
			continue;
		if (zip_check(b, end, lim, &z) == ZC_EXTRACT_FAILED || z.code == ZC_MAX_EXTRACT_SIZE) {
			f->code = z.code;
			snprintf(f->reason, sizeof(f->reason), "embedded %.140s", z.reason);
			return f->code;
		}
	}
	return ZC_OK;
}

int cont_check(const char *type, const unsigned char *b, size_t len, const struct cont_limits *lim,
    struct cont_finding *f)
{
	memset(f, 0, sizeof(*f));
	if (strcmp(type, "CL_TYPE_ZIP") == 0)
		return zip_check(b, len, lim, f);
	if (strcmp(type, "CL_TYPE_POSIX_TAR") == 0 || strcmp(type, "CL_TYPE_OLD_TAR") == 0)
		return tar_check(b, len, f);
	if (strcmp(type, "CL_TYPE_GZ") == 0)
		return gz_check(b, len, lim->max_file_size, f);
	if (strcmp(type, "CL_TYPE_BZ") == 0)
		return bz2_check(b, len, lim->max_file_size, f);
	if (strcmp(type, "CL_TYPE_XZ") == 0)
		return xz_check(b, len, lim->max_file_size, f);
	if (strcmp(type, "CL_TYPE_TNEF") == 0)
		return tnef_check(b, len, f);
	if (strcmp(type, "CL_TYPE_7Z") == 0)
		return sevenz_check(b, len, f);
	if (strcmp(type, "CL_TYPE_MAIL") == 0)
		return mail_check(b, len, f);
	return embedded_zip_check(b, len, lim, f);
}
