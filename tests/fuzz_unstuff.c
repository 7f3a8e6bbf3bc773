/*
 * tests/fuzz_unstuff.c: libFuzzer target for the SMTP wire-form decoder,
 * sup_unstuff() in supervisor/clamd.c (AVWINSTREAM WIRE, listeners with
 * wire = yes).
 *
 * Two checks on every input:
 *  1. The input as wire data: sup_unstuff() on an exactly-sized heap copy
 *     (ASan reports any access outside it) must give what a line-by-line
 *     reference decoder written here gives.
 *  2. The input as a message: dot-stuffed the way an SMTP client sends it
 *     (RFC 5321 4.5.2: a line that starts with "." gets another one; the
 *     data ends with CRLF "." CRLF, a CRLF added first if the message does
 *     not end with one), then decoded: the message must come back, plus the
 *     CRLF the client added, if it added one.
 *
 * Lines end at LF (a CRLF ends in LF too), as clamd.c's decoder and
 * Postfix's smtpd count them; "line ends are left as they are" (clamd.h).
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
		fprintf(stderr, "fuzz_unstuff: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static uint8_t *xmalloc(size_t n)
{
	uint8_t *p = malloc(n);

	CHECK(p != NULL || n == 0, "out of memory");
	return p;
}

/*
 * The reference: wire data to message, written from clamd.h's description.
 * out has room for len bytes.
 */
static size_t ref_unstuff(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t o = 0, i = 0;

	/* The end-of-data line: the whole data for an empty message ... */
	if (len == 3 && memcmp(in, ".\r\n", 3) == 0)
		return 0;
	/* ... else CRLF "." CRLF, whose first CRLF ends the last line. */
	if (len >= 5 && memcmp(in + len - 5, "\r\n.\r\n", 5) == 0)
		len -= 3;
	while (i < len) {
		size_t j = i, k = i;
		/* One line: [i, j), its LF included when there is one. */
		while (j < len && in[j] != '\n')
			j++;
		if (j < len)
			j++;
		/* A leading dot goes if anything follows it on the line (a lone "."
		 * without a line end is left: it is not a stuffed dot). */
		if (in[i] == '.' && j - i > 1)
			k++;
		memcpy(out + o, in + k, j - k);
		o += j - k;
		i = j;
	}
	return o;
}

/* Message to wire data, as an SMTP client sends it. out: 2 * len + 5 bytes. */
static size_t stuff(const uint8_t *in, size_t len, uint8_t *out, int *added_crlf)
{
	size_t o = 0;
	int bol = 1;

	for (size_t i = 0; i < len; i++) {
		if (bol && in[i] == '.')
			out[o++] = '.';
		out[o++] = in[i];
		bol = in[i] == '\n';
	}
	*added_crlf = len > 0 && !(len >= 2 && in[len - 2] == '\r' && in[len - 1] == '\n');
	if (*added_crlf) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

static size_t unstuff_exact(const uint8_t *in, size_t len, uint8_t **res)
{
	uint8_t *buf = xmalloc(len);
	size_t n;

	if (len > 0)
		memcpy(buf, in, len);
	n = sup_unstuff(buf, len);
	CHECK(n <= len, "returned %zu for %zu bytes", n, len);
	*res = buf;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *got, *want, *wire;
	size_t ngot, nwant, nwire;
	int added;

	/* 1: the input is wire data. */
	want = xmalloc(size);
	nwant = ref_unstuff(data, size, want);
	ngot = unstuff_exact(data, size, &got);
	CHECK(ngot == nwant, "wire: %zu bytes decoded, the reference has %zu", ngot, nwant);
	CHECK(ngot == 0 || memcmp(got, want, ngot) == 0, "wire: decoded bytes differ from the reference");
	free(got);
	free(want);

	/* 2: the input is a message; it must survive the trip. */
	wire = xmalloc(2 * size + 5);
	nwire = stuff(data, size, wire, &added);
	ngot = unstuff_exact(wire, nwire, &got);
	CHECK(ngot == size + (added ? 2 : 0), "round trip: %zu bytes in, %zu out (CRLF added: %d)", size, ngot,
	    added);
	CHECK(size == 0 || memcmp(got, data, size) == 0, "round trip: the message changed");
	CHECK(!added || memcmp(got + size, "\r\n", 2) == 0, "round trip: the added CRLF is missing");
	free(got);
	free(wire);
	return 0;
}
