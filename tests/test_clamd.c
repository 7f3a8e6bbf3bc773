/*
 * tests/test_clamd.c: the clamd wire protocol as pure functions
 * (supervisor/clamd.c): command parsing in z/n/legacy form, truncated and
 * oversized input, INSTREAM framing through both the copying and the
 * zero-copy paths, the size limit, and the reply formats.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../supervisor/clamd.h"

static int parse(const char *buf, size_t len, struct sup_cmd_req *r)
{
	return sup_clamd_parse(buf, len, r);
}

static void test_forms(void **state)
{
	struct sup_cmd_req r;

	(void)state;
	assert_int_equal(parse("zPING", 6, &r), 1);  /* includes the NUL */
	assert_int_equal(r.cmd, SUP_CMD_PING);
	assert_int_equal(r.delim, '\0');
	assert_int_equal(r.consumed, 6);

	assert_int_equal(parse("nVERSION\n", 9, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_VERSION);
	assert_int_equal(r.delim, '\n');
	assert_int_equal(r.consumed, 9);

	assert_int_equal(parse("PING\n", 5, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_PING);
	assert_int_equal(r.delim, '\n');
	assert_int_equal(parse("PING\r\n", 6, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_PING);

	assert_int_equal(parse("zINSTREAM", 10, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_INSTREAM);
	assert_int_equal(parse("zSHUTDOWN", 10, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_SHUTDOWN);
	assert_int_equal(parse("nRELOAD\n", 8, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_RELOAD);
	assert_int_equal(r.delim, '\n');
}

static void test_unknown_and_malformed(void **state)
{
	struct sup_cmd_req r;

	(void)state;
	/* clamd refuses INSTREAM without a z/n prefix. */
	assert_int_equal(parse("INSTREAM\n", 9, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_UNKNOWN);
	assert_int_equal(parse("zFROB", 6, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_UNKNOWN);
	assert_int_equal(parse("zPINGX", 7, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_UNKNOWN);
	assert_int_equal(parse("zping", 6, &r), 1);  /* case matters */
	assert_int_equal(r.cmd, SUP_CMD_UNKNOWN);
	assert_int_equal(parse("z", 2, &r), 1);      /* empty command */
	assert_int_equal(r.cmd, SUP_CMD_UNKNOWN);
}

static void test_truncated(void **state)
{
	struct sup_cmd_req r;

	(void)state;
	assert_int_equal(parse("", 0, &r), 0);
	assert_int_equal(parse("zPIN", 4, &r), 0);
	assert_int_equal(parse("nPING", 5, &r), 0);
	/* A z command is not ended by a newline, an n command not by a NUL. */
	assert_int_equal(parse("zPING\n", 6, &r), 0);
	assert_int_equal(parse("nPING\0", 6, &r), 0);
}

/* clamd's legacy framing: no prefix, and what has arrived is the command
 * at once, up to the first '\n' or '\0' (python-clamd and other client
 * libraries send "PING" and wait). */
static void test_legacy_unterminated(void **state)
{
	struct sup_cmd_req r;

	(void)state;
	assert_int_equal(parse("PING", 4, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_PING);
	assert_true(r.legacy);
	assert_int_equal(r.delim, '\n');
	assert_int_equal(r.consumed, 4);
	assert_int_equal(parse("VERSION", 7, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_VERSION);
	assert_int_equal(parse("PIN", 3, &r), 1);  /* a prefix is not waited for */
	assert_int_equal(r.cmd, SUP_CMD_UNKNOWN);
	assert_int_equal(parse("SCAN /tmp/x", 11, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_SCAN);
	assert_int_equal(r.arg_len, 6);
	assert_int_equal(parse("PING\r", 5, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_PING);
	/* A NUL ends a legacy command too; what follows is not part of it. */
	assert_int_equal(parse("PING\0VERSION", 12, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_PING);
	assert_int_equal(r.consumed, 5);
	assert_int_equal(parse("SCAN /a\0b\n", 10, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_SCAN);
	assert_int_equal(r.arg_len, 2);
	/* Legacy IDSESSION and INSTREAM are unknown to clamd, unterminated too.
	 * Legacy FILDES needs its newline: a bare one waits for more, which
	 * makes it another word; QUIT is SHUTDOWN's old name. */
	assert_int_equal(parse("FILDES", 6, &r), 0);
	assert_int_equal(parse("FILDESx", 7, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_UNKNOWN);
	assert_int_equal(parse("FILDES\n", 7, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_FILDES);
	assert_int_equal(parse("QUIT", 4, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_SHUTDOWN);
	assert_int_equal(parse("zQUIT\0", 6, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_SHUTDOWN);
	assert_int_equal(parse("zQUITX\0", 7, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_UNKNOWN);
	assert_int_equal(parse("IDSESSION", 9, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_UNKNOWN);
	assert_int_equal(parse("INSTREAM", 8, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_UNKNOWN);
}

static void test_oversized(void **state)
{
	char *buf = malloc(SUP_CLAMD_CMD_MAX + 10);
	struct sup_cmd_req r;

	(void)state;
	memset(buf, 'A', SUP_CLAMD_CMD_MAX + 10);
	buf[0] = 'n';
	assert_int_equal(parse(buf, SUP_CLAMD_CMD_MAX - 1, &r), 0);  /* might still end */
	assert_int_equal(parse(buf, SUP_CLAMD_CMD_MAX, &r), -1);     /* never will */
	assert_int_equal(parse(buf, SUP_CLAMD_CMD_MAX + 10, &r), -1);
	/* The terminator as the last byte the buffer may hold: still a command. */
	buf[SUP_CLAMD_CMD_MAX - 1] = '\n';
	assert_int_equal(parse(buf, SUP_CLAMD_CMD_MAX, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_UNKNOWN);
	assert_int_equal(r.consumed, SUP_CLAMD_CMD_MAX);
	free(buf);
}

static void test_back_to_back(void **state)
{
	struct sup_cmd_req r;
	const char two[] = "zPING\0zVERSION";

	(void)state;
	assert_int_equal(parse(two, sizeof(two), &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_PING);
	assert_int_equal(r.consumed, 6);
	assert_int_equal(parse(two + r.consumed, sizeof(two) - r.consumed, &r), 1);
	assert_int_equal(r.cmd, SUP_CMD_VERSION);
}

/* ---- INSTREAM ---- */

/* Frames data into chunks of `chunk` bytes plus the terminator. */
static unsigned char *frame(const unsigned char *data, size_t len, size_t chunk, size_t *out_len)
{
	unsigned char *f = malloc(len + 4 * (len / chunk + 2));
	size_t o = 0;

	for (size_t off = 0; off < len; off += chunk) {
		size_t k = len - off < chunk ? len - off : chunk;
		f[o++] = (unsigned char)(k >> 24);
		f[o++] = (unsigned char)(k >> 16);
		f[o++] = (unsigned char)(k >> 8);
		f[o++] = (unsigned char)k;
		memcpy(f + o, data + off, k);
		o += k;
	}
	memset(f + o, 0, 4);
	*out_len = o + 4;
	return f;
}

static unsigned char *pattern(size_t len)
{
	unsigned char *p = malloc(len ? len : 1);

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 31 + 7);
	return p;
}

static void test_stream_all_at_once(void **state)
{
	size_t flen, cap = 10000;
	unsigned char *data = pattern(5000), *f = frame(data, 5000, 1000, &flen);
	unsigned char *buf = malloc(cap + SUP_INSTREAM_SLACK);
	struct sup_instream s;

	(void)state;
	sup_instream_init(&s, buf, cap);
	assert_int_equal(sup_instream_feed(&s, f, flen), SUP_INSTREAM_DONE);
	assert_int_equal(s.len, 5000);
	assert_memory_equal(buf, data, 5000);
	free(data);
	free(f);
	free(buf);
}

static void test_stream_byte_by_byte(void **state)
{
	size_t flen, cap = 4096;
	unsigned char *data = pattern(3000), *f = frame(data, 3000, 7, &flen);
	unsigned char *buf = malloc(cap + SUP_INSTREAM_SLACK);
	struct sup_instream s;
	int rc = SUP_INSTREAM_MORE;

	(void)state;
	sup_instream_init(&s, buf, cap);
	for (size_t i = 0; i < flen; i++) {
		assert_int_equal(rc, SUP_INSTREAM_MORE);
		rc = sup_instream_feed(&s, f + i, 1);
	}
	assert_int_equal(rc, SUP_INSTREAM_DONE);
	assert_int_equal(s.len, 3000);
	assert_memory_equal(buf, data, 3000);
	free(data);
	free(f);
	free(buf);
}

/* The path listen.c takes: read where next() points, no more than it allows. */
static void test_stream_zero_copy(void **state)
{
	size_t flen, cap = 1 << 16, pos = 0;
	unsigned char *data = pattern(50000), *f = frame(data, 50000, 4093, &flen);
	unsigned char *buf = malloc(cap + SUP_INSTREAM_SLACK);
	struct sup_instream s;
	int rc = SUP_INSTREAM_MORE, reads = 0;

	(void)state;
	sup_instream_init(&s, buf, cap);
	while (rc == SUP_INSTREAM_MORE) {
		unsigned char *p;
		size_t n;
		sup_instream_next(&s, &p, &n);
		assert_true(p >= buf && p + n <= buf + cap + SUP_INSTREAM_SLACK);
		if (n > 1500)
			n = 1500;  /* a "socket" that delivers at most 1500 bytes */
		if (n > flen - pos)
			n = flen - pos;
		memcpy(p, f + pos, n);
		pos += n;
		rc = sup_instream_feed(&s, p, n);
		reads++;
	}
	assert_int_equal(rc, SUP_INSTREAM_DONE);
	assert_int_equal(pos, flen);
	assert_int_equal(s.len, 50000);
	assert_memory_equal(buf, data, 50000);
	assert_true(reads > 30);
	free(data);
	free(f);
	free(buf);
}

static void test_stream_limits(void **state)
{
	unsigned char buf[100 + SUP_INSTREAM_SLACK];
	unsigned char hdr_exact[] = { 0, 0, 0, 100 };
	unsigned char hdr_over[] = { 0, 0, 0, 101 };
	unsigned char hdr_huge[] = { 0xff, 0xff, 0xff, 0xff };
	unsigned char data[100] = { 0 }, end[4] = { 0 };
	struct sup_instream s;

	(void)state;
	sup_instream_init(&s, buf, 100);
	assert_int_equal(sup_instream_feed(&s, hdr_exact, 4), SUP_INSTREAM_MORE);
	assert_int_equal(sup_instream_feed(&s, data, 100), SUP_INSTREAM_MORE);
	assert_int_equal(sup_instream_feed(&s, end, 4), SUP_INSTREAM_DONE);

	sup_instream_init(&s, buf, 100);
	assert_int_equal(sup_instream_feed(&s, hdr_over, 4), SUP_INSTREAM_TOO_LARGE);

	sup_instream_init(&s, buf, 100);
	assert_int_equal(sup_instream_feed(&s, hdr_huge, 4), SUP_INSTREAM_TOO_LARGE);

	/* The limit is on the running total, not per chunk. */
	unsigned char h60[] = { 0, 0, 0, 60 };
	sup_instream_init(&s, buf, 100);
	assert_int_equal(sup_instream_feed(&s, h60, 4), SUP_INSTREAM_MORE);
	assert_int_equal(sup_instream_feed(&s, data, 60), SUP_INSTREAM_MORE);
	assert_int_equal(sup_instream_feed(&s, h60, 4), SUP_INSTREAM_TOO_LARGE);
}

static void test_stream_split_header_and_trailer(void **state)
{
	unsigned char buf[64 + SUP_INSTREAM_SLACK];
	const unsigned char in[] = { 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 'j', 'u', 'n', 'k' };
	struct sup_instream s;

	(void)state;
	sup_instream_init(&s, buf, 64);
	assert_int_equal(sup_instream_feed(&s, in, 2), SUP_INSTREAM_MORE);
	assert_int_equal(sup_instream_feed(&s, in + 2, 3), SUP_INSTREAM_MORE);
	assert_int_equal(sup_instream_feed(&s, in + 5, 4), SUP_INSTREAM_MORE);
	/* Bytes after the terminator are ignored, not appended. */
	assert_int_equal(sup_instream_feed(&s, in + 9, sizeof(in) - 9), SUP_INSTREAM_DONE);
	assert_int_equal(s.len, 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(sup_instream_feed(&s, in, 4), SUP_INSTREAM_DONE);
	assert_int_equal(s.len, 3);
}

static void test_empty_stream(void **state)
{
	unsigned char buf[8 + SUP_INSTREAM_SLACK], end[4] = { 0 };
	struct sup_instream s;

	(void)state;
	sup_instream_init(&s, buf, 8);
	assert_int_equal(sup_instream_feed(&s, end, 4), SUP_INSTREAM_DONE);
	assert_int_equal(s.len, 0);
}

/* ---- replies ---- */

static void test_replies(void **state)
{
	struct sup_verdict v;
	char buf[256];

	(void)state;
	memset(&v, 0, sizeof(v));
	v.status = IPC_CLEAN;
	assert_int_equal(sup_clamd_format_result(&v, '\0', buf, sizeof(buf)), 11);
	assert_memory_equal(buf, "stream: OK\0", 11);

	v.status = IPC_INFECTED;
	strcpy(v.name, "Eicar-Test-Signature");
	assert_int_equal(sup_clamd_format_result(&v, '\n', buf, sizeof(buf)), 35);
	assert_memory_equal(buf, "stream: Eicar-Test-Signature FOUND\n", 35);

	v.status = IPC_UNSCANNABLE;
	strcpy(v.name, "Heuristics.Limits.Exceeded.MaxFileSize");
	assert_true(sup_clamd_format_result(&v, '\n', buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND\n");

	v.status = IPC_ERROR;
	strcpy(v.reason, "scanner crashed: SIGSEGV");
	assert_true(sup_clamd_format_result(&v, '\n', buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "stream: scanner crashed: SIGSEGV ERROR\n");

	assert_int_equal(sup_clamd_format_result(&v, '\n', buf, 10), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_unknown_and_malformed),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_legacy_unterminated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_stream_all_at_once),
		cmocka_unit_test(test_stream_byte_by_byte),
		cmocka_unit_test(test_stream_zero_copy),
		cmocka_unit_test(test_stream_limits),
		cmocka_unit_test(test_stream_split_header_and_trailer),
		cmocka_unit_test(test_empty_stream),
		cmocka_unit_test(test_replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
