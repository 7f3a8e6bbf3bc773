/*
 * tests/test_client.c: libavwarden's protocol pieces (client/proto.c):
 * the address syntax, the strict reply parser (avwarden's "avw:" replies and
 * clamd's plain ones, every malformed shape refused as ERROR 106), replies
 * formatted by the daemon's own code parsed back, the VERSIONCOMMANDS probe,
 * and the streaming un-stuffer against the daemon's sup_unstuff() on random
 * inputs cut at random places.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../client/proto.h"
#include "../supervisor/clamd.h"

static int parse_z(const char *s, struct avw_result *r)
{
	return avw__parse_reply(s, strlen(s) + 1, '\0', r);  /* with its NUL */
}

static void assert_result(const struct avw_result *r, enum avw_status st, int code, const char *engine,
    const char *info)
{
	assert_int_equal(r->status, st);
	assert_int_equal(r->code, code);
	assert_string_equal(r->engine, engine);
	assert_string_equal(r->info, info);
}

static void assert_malformed(const char *buf, size_t len, char delim)
{
	struct avw_result r;

	memset(&r, 0x55, sizeof(r));
	assert_int_equal(avw__parse_reply(buf, len, delim, &r), -1);
	assert_int_equal(r.status, AVW_ERROR);
	assert_int_equal(r.code, AVW_CODE_MALFORMED);
	assert_string_equal(r.engine, "avwarden-client");
	assert_memory_equal(r.info, "malformed reply: ", 17);
	assert_non_null(memchr(r.info, '\0', sizeof(r.info)));
}

static void test_address(void **state)
{
	struct avw__addr a;
	char longpath[200];

	(void)state;
	assert_int_equal(avw__parse_address("unix:/run/avwarden/clamd.sock", &a), 0);
	assert_int_equal(a.u.sa.sa_family, AF_UNIX);
	assert_string_equal(a.u.un.sun_path, "/run/avwarden/clamd.sock");
	assert_int_equal(avw__parse_address("tcp:127.0.0.1:3310", &a), 0);
	assert_int_equal(a.u.sa.sa_family, AF_INET);
	assert_int_equal(ntohs(a.u.in.sin_port), 3310);
	assert_int_equal(avw__parse_address("tcp:[::1]:65535", &a), 0);
	assert_int_equal(a.u.sa.sa_family, AF_INET6);
	assert_int_equal(ntohs(a.u.in6.sin6_port), 65535);

	static const char *const bad[] = {
		"", "unix:", "unix:relative/path", "unix:/x mode=0660", "tcp:", "tcp:127.0.0.1",
		"tcp:127.0.0.1:", "tcp:127.0.0.1:0", "tcp:127.0.0.1:65536", "tcp:127.0.0.1:+25",
		"tcp:127.0.0.1:25x", "tcp:localhost:3310", "tcp::3310", "tcp:::1:3310", "tcp:[::1]",
		"tcp:[::1:3310", "tcp:[]:3310", "tcp:[127.0.0.1]:3310", "tcp:1.2.3.4:3310 allow=1.2.3.4",
		"/run/avwarden/clamd.sock", "udp:127.0.0.1:3310", "tcp:127.0.0.1:123456",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (avw__parse_address(bad[i], &a) != -1)
			fail_msg("address accepted: \"%s\"", bad[i]);
	}
	assert_int_equal(avw__parse_address(NULL, &a), -1);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	memcpy(longpath, "unix:/", 6);
	assert_int_equal(avw__parse_address(longpath, &a), -1);
}

static void test_avw_replies(void **state)
{
	struct avw_result r;

	(void)state;
	assert_int_equal(parse_z("avw: CLEAN 0 ClamAV/1.4.6 -", &r), 0);
	assert_result(&r, AVW_CLEAN, 0, "ClamAV/1.4.6", "");
	assert_int_equal(parse_z("avw: INFECTED 0 ClamAV/1.4.6 Eicar-Test-Signature.UNOFFICIAL", &r), 0);
	assert_result(&r, AVW_INFECTED, 0, "ClamAV/1.4.6", "Eicar-Test-Signature.UNOFFICIAL");
	assert_int_equal(parse_z("avw: UNSCANNABLE 25 ClamAV/1.4.6 Heuristics.Limits.Exceeded.MaxFiles", &r), 0);
	assert_result(&r, AVW_UNSCANNABLE, 25, "ClamAV/1.4.6", "Heuristics.Limits.Exceeded.MaxFiles");
	assert_int_equal(parse_z("avw: ERROR 105 avwarden INSTREAM size limit exceeded", &r), 0);
	assert_result(&r, AVW_ERROR, 105, "avwarden", "INSTREAM size limit exceeded");
	assert_int_equal(parse_z("avw: ERROR 101 avwarden scan timed out after 60 s", &r), 0);
	assert_result(&r, AVW_ERROR, 101, "avwarden", "scan timed out after 60 s");
	assert_int_equal(parse_z("avw: ERROR -1 x -", &r), 0);
	assert_result(&r, AVW_ERROR, -1, "x", "");
	assert_int_equal(parse_z("avw: ERROR 2147483647 avwarden  two  spaces ", &r), 0);
	assert_result(&r, AVW_ERROR, 2147483647, "avwarden", " two  spaces ");
	/* '\n' replies for n-commands */
	assert_int_equal(avw__parse_reply("avw: CLEAN 0 ClamAV/1.0 -\n", 26, '\n', &r), 0);
	assert_result(&r, AVW_CLEAN, 0, "ClamAV/1.0", "");

	/* Overlong text is cut to fit, always terminated. */
	{
		char line[AVW__REPLY_MAX];
		int n = snprintf(line, sizeof(line), "avw: ERROR 103 avwarden ");
		memset(line + n, 'r', 600);
		line[n + 600] = '\0';
		assert_int_equal(parse_z(line, &r), 0);
		assert_int_equal(strlen(r.info), sizeof(r.info) - 1);
		assert_int_equal(r.status, AVW_ERROR);
	}
}

static void test_malformed(void **state)
{
	char big[AVW__REPLY_MAX + 2];

	(void)state;
	assert_malformed("", 0, '\0');
	assert_malformed("avw: CLEAN 0 ClamAV/1 -", 23, '\0');                /* no terminator */
	assert_malformed("avw: CLEAN 0 ClamAV/1 -\0avw: INFECTED 0 ClamAV/1 X", 50, '\0');
	assert_malformed("avw: CLEAN 0 ClamAV/1 -\0\0", 25, '\0');             /* bytes after it */
	assert_malformed("avw: CLEAN 0 ClamAV/1 -\n", 24, '\0');               /* wrong terminator */
	assert_malformed("avw: CLEAN 0 ClamAV/1 -\r\n", 25, '\n');
	assert_malformed("avw: CLEAN 0 ClamAV/1 -\0", 24, '\n');               /* NUL inside */
	assert_malformed("avw: CLEAN 0 ClamAV/\0011 -", 25, '\0');             /* control char */
	assert_malformed("avw: OK 0 ClamAV/1 -", 21, '\0');
	assert_malformed("avw: clean 0 ClamAV/1 -", 24, '\0');
	assert_malformed("avw: CLEANX 0 ClamAV/1 -", 25, '\0');
	assert_malformed("avw: CLEAN", 11, '\0');
	assert_malformed("avw: CLEAN 0", 13, '\0');
	assert_malformed("avw: CLEAN 0 ClamAV/1", 22, '\0');
	assert_malformed("avw: CLEAN 0 ClamAV/1 ", 23, '\0');                  /* empty info */
	assert_malformed("avw: CLEAN x ClamAV/1 -", 24, '\0');
	assert_malformed("avw: CLEAN - ClamAV/1 -", 24, '\0');
	assert_malformed("avw: CLEAN 0x0 ClamAV/1 -", 26, '\0');
	assert_malformed("avw: ERROR 2147483648 a b", 26, '\0');                /* int overflow */
	assert_malformed("avw: ERROR 99999999999 a b", 27, '\0');
	assert_malformed("avw: ERROR  101 a b", 20, '\0');                      /* empty code */
	assert_malformed("avw: ERROR 101  b", 18, '\0');                        /* empty engine */
	assert_malformed("avw: CLEAN 5 ClamAV/1 -", 24, '\0');                  /* CLEAN, code 5 */
	assert_malformed("avw:CLEAN 0 ClamAV/1 -", 23, '\0');
	assert_malformed(" avw: CLEAN 0 ClamAV/1 -", 25, '\0');
	{
		char eng[128];
		int n = snprintf(eng, sizeof(eng), "avw: CLEAN 0 %064d -", 7);  /* 64-byte engine */
		assert_malformed(eng, (size_t)n + 1, '\0');
	}
	memset(big, 'x', sizeof(big));
	memcpy(big, "avw: ERROR 1 a ", 15);
	big[AVW__REPLY_MAX] = '\0';  /* 1025 bytes with the NUL */
	assert_malformed(big, AVW__REPLY_MAX + 1, '\0');
	big[AVW__REPLY_MAX - 1] = '\0';  /* 1024: accepted */
	{
		struct avw_result r;
		assert_int_equal(avw__parse_reply(big, AVW__REPLY_MAX, '\0', &r), 0);
	}

	/* clamd-form replies that are not clamd's */
	assert_malformed("stream: \0", 9, '\0');
	assert_malformed("stream: ok\0", 11, '\0');
	assert_malformed("stream: FOUND\0", 14, '\0');
	assert_malformed("stream:  FOUND\0", 15, '\0');
	assert_malformed("stream: ERROR\0", 14, '\0');
	assert_malformed("stream: Eicar FOUND \0", 21, '\0');
	assert_malformed("stream: OK \0", 12, '\0');
	assert_malformed("PONG\0", 5, '\0');
	assert_malformed("INSTREAM size limit exceeded.\0", 30, '\0');
	assert_malformed("1: stream: OK\0", 14, '\0');
}

static void test_clamd_replies(void **state)
{
	struct avw_result r;

	(void)state;
	assert_int_equal(parse_z("stream: OK", &r), 0);
	assert_result(&r, AVW_CLEAN, 0, "ClamAV", "");
	assert_int_equal(parse_z("stream: Eicar-Test-Signature FOUND", &r), 0);
	assert_result(&r, AVW_INFECTED, 0, "ClamAV", "Eicar-Test-Signature");
	assert_int_equal(parse_z("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND", &r), 0);
	assert_result(&r, AVW_UNSCANNABLE, 0, "ClamAV", "Heuristics.Limits.Exceeded.MaxFileSize");
	assert_int_equal(parse_z("stream: Heuristics.Encrypted.Zip FOUND", &r), 0);
	assert_result(&r, AVW_UNSCANNABLE, 0, "ClamAV", "Heuristics.Encrypted.Zip");
	assert_int_equal(parse_z("stream: Heuristics.Phishing.Email.SpoofedDomain FOUND", &r), 0);
	assert_result(&r, AVW_INFECTED, 0, "ClamAV", "Heuristics.Phishing.Email.SpoofedDomain");
	assert_int_equal(parse_z("stream: scanner crashed: SIGSEGV ERROR", &r), 0);
	assert_result(&r, AVW_ERROR, -1, "ClamAV", "scanner crashed: SIGSEGV");
	assert_int_equal(parse_z("INSTREAM size limit exceeded. ERROR", &r), 0);
	assert_result(&r, AVW_ERROR, 105, "ClamAV", "INSTREAM size limit exceeded");
	assert_int_equal(parse_z("UNKNOWN COMMAND", &r), 0);
	assert_result(&r, AVW_ERROR, -1, "ClamAV", "UNKNOWN COMMAND");
	assert_int_equal(avw__parse_reply("stream: OK\n", 11, '\n', &r), 0);
	assert_result(&r, AVW_CLEAN, 0, "ClamAV", "");
}

/* What the daemon formats, the library reads back unchanged. */
static void test_daemon_formats_round_trip(void **state)
{
	static const struct {
		enum ipc_status st;
		int32_t code;
		const char *name, *reason;
	} t[] = {
		{ IPC_CLEAN, 0, "", "" },
		{ IPC_INFECTED, 0, "Eicar-Test-Signature.UNOFFICIAL", "" },
		{ IPC_UNSCANNABLE, 25, "Heuristics.Limits.Exceeded.MaxFiles", "" },
		{ IPC_ERROR, 100, "", "scanner crashed: SIGSEGV" },
		{ IPC_ERROR, 104, "", "queue full (max_queue 256)" },
		{ IPC_ERROR, 20, "", "" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sup_verdict v = { .status = t[i].st, .engine_code = t[i].code };
		struct avw_result r;
		char line[1200];
		int n;
		snprintf(v.name, sizeof(v.name), "%s", t[i].name);
		snprintf(v.reason, sizeof(v.reason), "%s", t[i].reason);

		n = sup_avw_format_result(&v, "ClamAV/1.4.6", '\0', line, sizeof(line));
		assert_true(n > 0);
		assert_int_equal(avw__parse_reply(line, (size_t)n, '\0', &r), 0);
		assert_int_equal(r.status, (int)t[i].st);
		assert_int_equal(r.code, t[i].code);
		assert_string_equal(r.engine, "ClamAV/1.4.6");
		assert_string_equal(r.info, t[i].st == IPC_ERROR ? t[i].reason : t[i].name);

		n = sup_clamd_format_result(&v, '\n', line, sizeof(line));
		assert_true(n > 0);
		assert_int_equal(avw__parse_reply(line, (size_t)n, '\n', &r), 0);
		assert_int_equal(r.status, (int)t[i].st);
		assert_string_equal(r.engine, "ClamAV");
	}
}

/* Codes by name: Momentum's decomposer and generic names, stable numbers. */
static void test_code_names(void **state)
{
	(void)state;
	assert_string_equal(avw_code_name(AVW_CODE_NONE), "NONE");
	assert_string_equal(avw_code_name(AVW_CODE_MALFORMED_CONTAINER), "DEC_RESULT_MALFORMED_CONTAINER_DETECTED");
	assert_string_equal(avw_code_name(201), "DEC_RESULT_MALFORMED_CONTAINER_DETECTED");
	assert_string_equal(avw_code_name(AVW_CODE_ENCRYPTED_CONTAINER), "DEC_RESULT_ENCRYPTED_CONTAINER_DETECTED");
	assert_string_equal(avw_code_name(AVW_CODE_FILE_EXTRACT_FAILED), "DEC_RESULT_FILE_EXTRACT_FAILED");
	assert_string_equal(avw_code_name(AVW_CODE_PARTIAL_MESSAGE), "DEC_RESULT_PARTIAL_MESSAGE_DETECTED");
	assert_string_equal(avw_code_name(AVW_CODE_TEMPFILE_ACCESS_FAILED), "DEC_RESULT_TEMPFILE_ACCESS_FAILED");
	assert_string_equal(avw_code_name(212), "DEC_RESULT_FILE_ACCESS_FAILED");
	/* libclamav's limits and failures, by the same names */
	assert_string_equal(avw_code_name(23), "DEC_RESULT_MAXIMUM_DEPTH_REACHED");   /* CL_EMAXREC */
	assert_string_equal(avw_code_name(25), "DEC_RESULT_MAXIMUM_FILES_EXTRACTED"); /* CL_EMAXFILES */
	assert_string_equal(avw_code_name(21), "DEC_RESULT_MAXIMUM_EXTRACT_TIME_EXCEEDED");
	assert_string_equal(avw_code_name(AVW_CODE_MEM), "GEN_RESULT_OUT_OF_MEMORY");
	assert_string_equal(avw_code_name(17), "DEC_RESULT_TEMPFILE_ACCESS_FAILED");  /* CL_ETMPFILE */
	/* avwarden's own */
	assert_string_equal(avw_code_name(AVW_CODE_CRASH), "AVW_WORKER_CRASHED");
	assert_string_equal(avw_code_name(AVW_CODE_TIMEOUT), "AVW_SCAN_TIMEOUT");
	assert_string_equal(avw_code_name(AVW_CODE_UNAVAILABLE), "AVW_NO_SCANNER");
	assert_string_equal(avw_code_name(AVW_CODE_UNKNOWN), "UNKNOWN");
	assert_string_equal(avw_code_name(199), "UNKNOWN");
	assert_string_equal(avw_code_name(1000), "UNKNOWN");
	assert_string_equal(avw_code_name(-5), "UNKNOWN");
}

static void test_probe(void **state)
{
	char line[512];
	int n;

	(void)state;
	n = snprintf(line, sizeof(line), "ClamAV 1.4.6| COMMANDS: %s", sup_clamd_command_list());
	assert_int_equal(avw__probe_speaks_avw(line, (size_t)n + 1, '\0'), 1);
	/* Debian's clamd */
	n = snprintf(line, sizeof(line), "ClamAV 1.0.7/27000/Mon Jan  1 00:00:00 2024| COMMANDS: SCAN QUIT RELOAD "
	    "PING CONTSCAN VERSIONCOMMANDS VERSION END SHUTDOWN MULTISCAN FILDES STATS IDSESSION INSTREAM "
	    "DETSTATSCLEAR DETSTATS ALLMATCHSCAN");
	assert_int_equal(avw__probe_speaks_avw(line, (size_t)n + 1, '\0'), 0);
	assert_int_equal(avw__probe_speaks_avw("UNKNOWN COMMAND", 16, '\0'), 0);
	assert_int_equal(avw__probe_speaks_avw("ClamAV 1| COMMANDS: AVWINSTREAMX", 33, '\0'), 0);
	assert_int_equal(avw__probe_speaks_avw("ClamAV 1| COMMANDS: AVWINSTREAM", 32, '\0'), 1);
	assert_int_equal(avw__probe_speaks_avw("ClamAV 1| COMMANDS: AVWINSTREAM", 31, '\0'), -1);
	assert_int_equal(avw__probe_speaks_avw("ClamAV 1.4.6", 13, '\0'), -1);
	assert_int_equal(avw__probe_speaks_avw("", 0, '\0'), -1);
}

/* Un-stuffs in pieces of random sizes; compares with the daemon's function. */
static size_t unstuff_pieces(const unsigned char *in, size_t n, unsigned char *out)
{
	struct avw__unstuff u;
	size_t off = 0, w = 0;

	avw__unstuff_init(&u);
	while (off < n) {
		size_t k = 1 + (size_t)rand() % 7;
		if (k > n - off)
			k = n - off;
		w += avw__unstuff_feed(&u, in + off, k, out + w);
		off += k;
	}
	return w + avw__unstuff_end(&u, out + w);
}

static void check_unstuff(const char *s, size_t n, const char *expect, size_t elen)
{
	unsigned char out[64];
	size_t w = unstuff_pieces((const unsigned char *)s, n, out);

	assert_int_equal(w, elen);
	assert_memory_equal(out, expect, elen);
}

static void test_unstuff(void **state)
{
	(void)state;
	check_unstuff("..x\r\n", 5, ".x\r\n", 4);
	check_unstuff("a\r\n..b\r\n.\r\n", 11, "a\r\n.b\r\n", 7);
	check_unstuff(".\r\n", 3, "", 0);
	check_unstuff("\r\n.\r\n", 5, "\r\n", 2);
	check_unstuff("a\n.\r\n", 5, "a\n\r\n", 4);        /* LF only: not the end line */
	check_unstuff("a\r\n.\r\nb", 7, "a\r\n\r\nb", 6);  /* not at the end */
	check_unstuff("a\r\n.", 4, "a\r\n.", 4);           /* a last lone dot stays */
	check_unstuff("a\r\n.\r", 5, "a\r\n\r", 4);
	check_unstuff("", 0, "", 0);

	srand(12345);
	for (int iter = 0; iter < 20000; iter++) {
		static const char alphabet[] = ".\r\nx";
		unsigned char in[48], ref[48], out[48 + 3];
		size_t n = (size_t)rand() % sizeof(in), m, w;
		for (size_t i = 0; i < n; i++)
			in[i] = (unsigned char)alphabet[rand() % 4];
		memcpy(ref, in, n);
		m = sup_unstuff(ref, n);
		w = unstuff_pieces(in, n, out);
		if (w != m || memcmp(out, ref, m) != 0)
			fail_msg("un-stuffing differs from the daemon's on a %zu-byte input (iteration %d)", n, iter);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_avw_replies),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_clamd_replies),
		cmocka_unit_test(test_daemon_formats_round_trip),
		cmocka_unit_test(test_code_names),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_unstuff),
	};
	return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
