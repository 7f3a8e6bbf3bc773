/*
 * tests/test_config.c: the configuration file (supervisor/config.c).
 *
 * One table lists every option: the field it fills, its default, values the
 * parser must accept (and what they become) and values it must refuse. Each
 * refusal must read "FILE:LINE: ..." with the line of the offending key
 * (after comment lines, which libconfuse used to count wrongly) and name the
 * key and the value. Two further checks keep the table, supervisor/config.c
 * and etc/avwarden.conf.example from drifting apart.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/wait.h>
#include <grp.h>

#include "../supervisor/addr.h"
#include "../supervisor/config.h"

#define EXAMPLE_SCANNER_PATH "/usr/local/libexec/avwarden/avwarden-scanner"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/avw-config-test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/avwarden.conf", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void write_bytes(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_file(const char *text)
{
	write_bytes(text, strlen(text));
}

/* Number of the line that follows text (1 + its newlines). */
static int line_after(const char *text)
{
	int n = 1;

	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

/* ---- the table ---- */

enum field_type { F_STR, F_LIST, F_UINT, F_U64, F_INT };

struct good {
	const char *text;    /* as written after "key = " */
	const char *want_s;  /* F_STR, F_LIST (entries joined with ',') */
	uint64_t want_n;     /* the numeric types */
};

struct bad {
	const char *text;    /* as written after "key = " */
	const char *needle;  /* must be in the error; NULL: the value itself */
};

struct opt_case {
	const char *key;
	enum field_type type;
	size_t off;
	struct good def;     /* the default (text unused) */
	struct good good[8];  /* up to the first NULL text */
	struct bad bad[16];   /* up to the first NULL text */
};

#define FIELD(f) offsetof(struct sup_config, f)
#define MiB(n) ((uint64_t)(n) << 20)
#define GiB(n) ((uint64_t)(n) << 30)

/*
 * Good values must pass the cross-key rules against the defaults
 * (timeout 60, max_extract_time 50, max_message_size 100M,
 * max_worker_memory 1G).
 */
static const struct opt_case cases[] = {
	{ "listen", F_LIST, FIELD(listen), { NULL, "unix:/run/avwarden/clamd.sock", 0 },
	  { { "{ \"unix:/run/a.sock\", \"tcp:127.0.0.1:3310\", \"tcp:[::1]:3311\" }",
	      "unix:/run/a.sock,tcp:127.0.0.1:3310,tcp:[::1]:3311", 0 },
	    { "\"tcp:10.0.0.1:3310 allow=10.0.0.0/8,::1 wire\"", "tcp:10.0.0.1:3310 allow=10.0.0.0/8,::1 wire", 0 },
	    { "\"unix:/run/c.sock mode=0660 owner=root group=root\"", "unix:/run/c.sock mode=0660 owner=root group=root", 0 },
	    { "\"unix:/run/d.sock errors=close\"", "unix:/run/d.sock errors=close", 0 },
	    { "\"unix:/run/e.sock unscannable=pass\"", "unix:/run/e.sock unscannable=pass", 0 },
	    { "\"tcp:127.0.0.1:3310 errors=reply\"", "tcp:127.0.0.1:3310 errors=reply", 0 },
	    { "{\n  \"unix:/run/b.sock\",  # the MTA's socket\n  \"tcp:0.0.0.0:3310\"\n}",
	      "unix:/run/b.sock,tcp:0.0.0.0:3310", 0 } },
	  { { "{}", "listen: at least one address is needed" },
	    { "{ }", "listen: at least one address is needed" },
	    { "\"tcp:127.0.0.1\"", NULL }, { "\"udp:1.2.3.4:53\"", NULL },
	    { "\"unix:relative.sock\"", NULL }, { "\"tcp:127.0.0.1:70000\"", NULL },
	    { "{ \"unix:/run/ok.sock\", \"nonsense\" }", "nonsense" }, { "\"\"", NULL },
	    { "\"tcp:localhost:3310\"", "not an IPv4 address" },
	    { "\"tcp:127.0.0.1:3310 allow=10.0.0.0/33\"", "allow=10.0.0.0/33" },
	    { "\"tcp:127.0.0.1:3310 mode=0660\"", "unknown option" },
	    { "\"unix:/run/a.sock mode=0066\"", "owner read/write" },
	    { "\"unix:/run/a.sock owner=ro;ot\"", "not a user name" },
	    { "\"unix:/run/a.sock errors=drop\"", "errors=reply (the default) or errors=close" },
	    { "\"tcp:127.0.0.1:3310 unscannable=maybe\"", "expected unscannable=reject, tempfail or pass" } } },
	{ "control_socket", F_STR, FIELD(control_socket), { NULL, "/run/avwarden/control.sock", 0 },
	  { { "\"/run/ctl.sock\"", "/run/ctl.sock", 0 } },
	  { { "\"ctl.sock\"", NULL }, { "\"./run/ctl.sock\"", NULL }, { "\"\"", "must be an absolute path" } } },
	{ "metrics_listen", F_STR, FIELD(metrics_listen), { NULL, "", 0 },
	  { { "\"tcp:127.0.0.1:9310\"", "tcp:127.0.0.1:9310", 0 },
	    { "\"tcp:[::1]:9310 allow=::1/128\"", "tcp:[::1]:9310 allow=::1/128", 0 },
	    { "\"tcp:0.0.0.0:9310 allow=10.0.0.0/8,192.0.2.0/24\"", "tcp:0.0.0.0:9310 allow=10.0.0.0/8,192.0.2.0/24", 0 },
	    { "\"\"", "", 0 } },
	  { { "\"unix:/run/m.sock\"", "metrics are served over TCP only" },
	    { "\"tcp:127.0.0.1:9310 wire\"", "allow= is the only option of metrics_listen" },
	    { "\"tcp:127.0.0.1:9310 errors=close\"", "allow= is the only option" },
	    { "\"tcp:127.0.0.1\"", NULL }, { "\"tcp:127.0.0.1:9310 allow=1.2.3.4/40\"", "allow=1.2.3.4/40" },
	    { "\"9310\"", "TCP only" } } },
	{ "control_socket_mode", F_UINT, FIELD(control_socket_mode), { NULL, NULL, 0600 },
	  { { "\"0600\"", NULL, 0600 }, { "\"0660\"", NULL, 0660 }, { "\"0640\"", NULL, 0640 },
	    { "0660", NULL, 0660 } },
	  { { "\"0666\"", NULL }, { "\"0400\"", NULL }, { "\"0606\"", NULL }, { "\"600\"", NULL },
	    { "\"0680\"", NULL }, { "\"rw\"", NULL }, { "\"\"", "octal mode" } } },
	{ "database", F_STR, FIELD(database), { NULL, "/var/lib/clamav", 0 },
	  { { "\"/srv/clamav/main.cvd\"", "/srv/clamav/main.cvd", 0 } },
	  { { "\"var/lib/clamav\"", NULL }, { "\"\"", "must be an absolute path" } } },
	{ "scanner_path", F_STR, FIELD(scanner_path), { NULL, AVW_SCANNER_DEFAULT, 0 },
	  { { "\"/usr/libexec/avwarden/avwarden-scanner\"", "/usr/libexec/avwarden/avwarden-scanner", 0 } },
	  { { "\"avwarden-scanner\"", NULL }, { "\"../bin/scanner\"", NULL } } },
	{ "scanner_log", F_STR, FIELD(scanner_log), { NULL, "", 0 },
	  { { "\"/var/log/avwarden/scan.log\"", "/var/log/avwarden/scan.log", 0 },
	    { "\"/var/log/scan#1.log\"", "/var/log/scan#1.log", 0 },
	    { "\"\"", "", 0 } },
	  { { "\"scan.log\"", NULL }, { "\"log/scan.log\"", NULL } } },
	{ "user", F_STR, FIELD(user), { NULL, "avwarden", 0 },
	  { { "\"clamav\"", "clamav", 0 }, { "_avw", "_avw", 0 } },
	  { { "\"\"", "user: must not be empty" } } },
	{ "canary", F_INT, FIELD(canary), { NULL, NULL, 1 },
	  { { "true", NULL, 1 }, { "false", NULL, 0 } },
	  { { "2", NULL } } },
	{ "ping_health", F_INT, FIELD(ping_health), { NULL, NULL, 1 },
	  { { "true", NULL, 1 }, { "false", NULL, 0 }, { "no", NULL, 0 } },
	  { { "sometimes", NULL }, { "\"\"", "expected true or false" } } },
	{ "syslog", F_INT, FIELD(syslog), { NULL, NULL, 0 },
	  { { "true", NULL, 1 }, { "false", NULL, 0 }, { "yes", NULL, 1 }, { "off", NULL, 0 } },
	  { { "maybe", NULL }, { "2", NULL }, { "\"\"", "expected true or false" } } },
	{ "unscannable_action", F_INT, FIELD(unscannable_action), { NULL, NULL, 0 },
	  { { "\"reject\"", NULL, 0 }, { "\"tempfail\"", NULL, 1 }, { "pass", NULL, 2 } },
	  { { "\"drop\"", "expected reject, tempfail or pass" }, { "\"\"", NULL } } },
	{ "syslog_facility", F_INT, FIELD(syslog_facility), { NULL, NULL, LOG_MAIL },
	  { { "\"mail\"", NULL, LOG_MAIL }, { "\"daemon\"", NULL, LOG_DAEMON },
	    { "\"user\"", NULL, LOG_USER }, { "\"local0\"", NULL, LOG_LOCAL0 },
	    { "local7", NULL, LOG_LOCAL7 } },
	  { { "\"kern\"", NULL }, { "\"local8\"", NULL }, { "\"auth\"", NULL },
	    { "\"\"", "expected mail, daemon, user or local0 to local7" } } },
	{ "max_concurrency", F_UINT, FIELD(max_concurrency), { NULL, NULL, 4 },
	  { { "1", NULL, 1 }, { "256", NULL, 256 }, { "\"8\"", NULL, 8 }, { "010", NULL, 10 } },
	  { { "0", "max_concurrency = 0: must be between 1 and 256" }, { "257", NULL },
	    { "-1", NULL }, { "many", NULL }, { "1.5", NULL }, { "0x10", NULL },
	    { "99999999999999999999999", NULL }, { "\"\"", "not a whole number" } } },
	{ "max_queue", F_UINT, FIELD(max_queue), { NULL, NULL, 256 },
	  { { "0", NULL, 0 }, { "100000", NULL, 100000 } },
	  { { "-1", NULL }, { "100001", NULL }, { "ten", NULL } } },
	{ "timeout", F_UINT, FIELD(timeout), { NULL, NULL, 60 },
	  { { "51", NULL, 51 }, { "3600", NULL, 3600 }, { "50", NULL, 50 }, { "10", NULL, 10 } },
	  { { "0", NULL }, { "3601", NULL }, { "1m", NULL } } },
	{ "command_read_timeout", F_UINT, FIELD(command_read_timeout), { NULL, NULL, 30 },
	  { { "1", NULL, 1 }, { "3600", NULL, 3600 } },
	  { { "0", NULL }, { "3601", NULL }, { "soon", NULL } } },
	{ "read_timeout", F_UINT, FIELD(read_timeout), { NULL, NULL, 120 },
	  { { "1", NULL, 1 }, { "3600", NULL, 3600 } },
	  { { "0", NULL }, { "3601", NULL }, { "-5", NULL } } },
	{ "write_timeout", F_UINT, FIELD(write_timeout), { NULL, NULL, 30 },
	  { { "1", NULL, 1 }, { "3600", NULL, 3600 } },
	  { { "0", NULL }, { "3601", NULL }, { "x", NULL } } },
	{ "max_path_scan_size", F_U64, FIELD(max_path_scan_size), { NULL, NULL, MiB(100) },
	  { { "\"25M\"", NULL, MiB(25) }, { "\"1008M\"", NULL, MiB(1008) } },
	  { { "\"12Q\"", "not a size" }, { "\"5G\"", "above 4G" },
	    { "\"1009M\"", "max_worker_memory must exceed max_path_scan_size by at least 16M" } } },
	{ "max_message_size", F_U64, FIELD(max_message_size), { NULL, NULL, MiB(100) },
	  { { "\"25M\"", NULL, MiB(25) }, { "\"512k\"", NULL, 512 << 10 }, { "65536", NULL, 65536 },
	    { "\"1008M\"", NULL, MiB(1008) } },
	  { { "\"12Q\"", "max_message_size = \"12Q\": not a size" }, { "\"0\"", NULL },
	    { "\"-1\"", NULL }, { "\"\"", "not a size" }, { "\"5G\"", "above 4G" },
	    { "\"1.5G\"", NULL }, { "\"18446744073709551616\"", NULL },
	    { "\"1009M\"", "max_worker_memory must exceed max_message_size by at least 16M" } } },
	{ "scanner_tmp_size", F_U64, FIELD(scanner_tmp_size), { NULL, NULL, MiB(256) },
	  { { "\"512K\"", NULL, 512 << 10 }, { "\"2G\"", NULL, GiB(2) } },
	  { { "\"0\"", NULL }, { "\"12Q\"", NULL }, { "\"M\"", NULL }, { "\"20 M\"", NULL } } },
	{ "max_extract_size", F_U64, FIELD(max_extract_size), { NULL, NULL, MiB(100) },
	  { { "\"1G\"", NULL, GiB(1) }, { "\"1\"", NULL, 1 } },
	  { { "\"0\"", NULL }, { "\"12Q\"", NULL }, { "\"-5M\"", NULL } } },
	{ "max_cumulative_extract_size", F_U64, FIELD(max_cumulative_extract_size), { NULL, NULL, MiB(400) },
	  { { "\"2G\"", NULL, GiB(2) }, { "\"400m\"", NULL, MiB(400) } },
	  { { "\"0\"", NULL }, { "\"12Q\"", NULL }, { "\"4GB\"", NULL } } },
	{ "max_extract_depth", F_UINT, FIELD(max_extract_depth), { NULL, NULL, 17 },
	  { { "1", NULL, 1 }, { "100", NULL, 100 } },
	  { { "0", NULL }, { "101", NULL }, { "deep", NULL } } },
	{ "max_file_count", F_UINT, FIELD(max_file_count), { NULL, NULL, 10000 },
	  { { "1", NULL, 1 }, { "1000000", NULL, 1000000 } },
	  { { "0", NULL }, { "1000001", NULL }, { "1e6", NULL } } },
	{ "max_extract_time", F_UINT, FIELD(max_extract_time), { NULL, NULL, 50 },
	  { { "1", NULL, 1 }, { "59", NULL, 59 }, { "60", NULL, 60 } },
	  { { "0", NULL }, { "3601", NULL }, { "fast", NULL },
	    { "3600", "max_extract_time (3600 s) must be below timeout (60 s)" } } },
	{ "spare_workers", F_UINT, FIELD(spare_workers), { NULL, NULL, 4 },
	  { { "0", NULL, 0 }, { "256", NULL, 256 }, { "-1", NULL, 4 } },
	  { { "257", NULL }, { "-2", NULL }, { "many", NULL } } },
	{ "max_jobs_per_worker", F_UINT, FIELD(max_jobs_per_worker), { NULL, NULL, 1 },
	  { { "0", NULL, 0 }, { "100000000", NULL, 100000000 } },
	  { { "-1", NULL }, { "100000001", NULL }, { "all", NULL } } },
	{ "max_worker_memory", F_U64, FIELD(max_worker_memory), { NULL, NULL, GiB(1) },
	  { { "\"2G\"", NULL, GiB(2) }, { "\"116M\"", NULL, MiB(116) } },
	  { { "\"0\"", NULL }, { "\"12Q\"", NULL },
	    { "\"115M\"", "max_worker_memory must exceed max_message_size by at least 16M" } } },
	{ "poison_threshold", F_UINT, FIELD(poison_threshold), { NULL, NULL, 2 },
	  { { "1", NULL, 1 }, { "100", NULL, 100 } },
	  { { "0", NULL }, { "101", NULL }, { "twice", NULL } } },
	{ "poison_ttl", F_UINT, FIELD(poison_ttl), { NULL, NULL, 3600 },
	  { { "1", NULL, 1 }, { "604800", NULL, 604800 } },
	  { { "0", NULL }, { "604801", NULL }, { "1h", NULL } } },
	{ "max_connections", F_UINT, FIELD(max_connections), { NULL, NULL, 1024 },
	  { { "1", NULL, 1 }, { "1000000", NULL, 1000000 } },
	  { { "0", NULL }, { "1000001", NULL }, { "many", NULL } } },
	{ "max_message_memory", F_U64, FIELD(max_message_memory), { NULL, NULL, GiB(2) },
	  { { "\"8G\"", NULL, GiB(8) }, { "\"100M\"", NULL, MiB(100) } },
	  { { "\"0\"", NULL }, { "\"12Q\"", NULL },
	    { "\"99M\"", "max_message_memory must be at least max_message_size" } } },
	{ "cache_size", F_UINT, FIELD(cache_size), { NULL, NULL, 4096 },
	  { { "0", NULL, 0 }, { "10000000", NULL, 10000000 } },
	  { { "-1", NULL }, { "10000001", NULL }, { "big", NULL } } },
	{ "shared_cache", F_STR, FIELD(shared_cache), { NULL, "", 0 },
	  { { "\"redis://127.0.0.1:6379\"", "redis://127.0.0.1:6379", 0 }, { "\"redis://[::1]\"", "redis://[::1]", 0 },
	    { "\"\"", "", 0 } },
	  { { "\"redis://redis.example:6379\"", "not an IP address" }, { "\"127.0.0.1:6379\"", "redis://" },
	    { "\"redis://127.0.0.1:0\"", "bad port" } } },
	{ "shared_cache_key_file", F_STR, FIELD(shared_cache_key_file), { NULL, "/etc/avwarden/shared_cache.key", 0 },
	  { { "\"/etc/k\"", "/etc/k", 0 } },
	  { { "\"k\"", "must be an absolute path" } } },
	{ "shared_cache_ttl", F_UINT, FIELD(shared_cache_ttl), { NULL, NULL, 86400 },
	  { { "1", NULL, 1 }, { "31536000", NULL, 31536000 } },
	  { { "0", NULL }, { "31536001", NULL }, { "1d", NULL } } },
	{ "shared_cache_timeout_ms", F_UINT, FIELD(shared_cache_timeout_ms), { NULL, NULL, 50 },
	  { { "1", NULL, 1 }, { "10000", NULL, 10000 } },
	  { { "0", NULL }, { "10001", NULL } } },
	{ "update_interval", F_UINT, FIELD(update_interval), { NULL, NULL, 600 },
	  { { "0", NULL, 0 }, { "86400", NULL, 86400 } },
	  { { "-1", NULL }, { "86401", NULL }, { "10m", NULL } } },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Comment lines that used to shift libconfuse's line count, quotes included. */
static const char comment_prefix[] =
    "# avwarden test configuration\n"
    "# A comment with \"double quotes\", 'single quotes' and an odd \" quote\n"
    "#    listen = \"unix:/commented/out.sock\"   # a comment in a comment\n"
    "\n"
    "// a C++-style comment\n"
    "/* a C-style comment\n"
    "   over two lines with a \" quote */\n"
    "user = \"avwarden\"   # a trailing comment with a \"quote\n"
    "scanner_log = \"/var/log/avw#1.log\"  # '#' inside quotes is not a comment\n"
    "####\n";

static const char comment_suffix[] =
    "   # a trailing comment on the line in question\n"
    "# and more after it\n";

/* A good line after the one in question, setting another key. */
static const char *line_after_for(const char *key)
{
	return strcmp(key, "max_queue") == 0 ? "poison_ttl = 3600\n" : "max_queue = 256\n";
}

static void join_list(const struct sup_config *c, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < c->nlisten; i++)
		used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s",
		    i ? "," : "", c->listen[i]);
}

/* Fails the test unless the field of oc in c holds want. */
static void check_field(const struct sup_config *c, const struct opt_case *oc,
    const struct good *want, const char *ctx)
{
	const char *base = (const char *)c;
	char joined[512];
	uint64_t n = 0;

	switch (oc->type) {
	case F_STR: {
		const char *s = *(char *const *)(const void *)(base + oc->off);
		if (s == NULL || strcmp(s, want->want_s) != 0)
			fail_msg("%s: %s is \"%s\", want \"%s\"", ctx, oc->key, s ? s : "(null)", want->want_s);
		return;
	}
	case F_LIST:
		join_list(c, joined, sizeof(joined));
		if (strcmp(joined, want->want_s) != 0)
			fail_msg("%s: %s is \"%s\", want \"%s\"", ctx, oc->key, joined, want->want_s);
		return;
	case F_UINT: n = *(const unsigned *)(const void *)(base + oc->off); break;
	case F_U64: n = *(const uint64_t *)(const void *)(base + oc->off); break;
	case F_INT: n = (uint64_t)(int64_t)*(const int *)(const void *)(base + oc->off); break;
	}
	if (n != want->want_n)
		fail_msg("%s: %s is %llu, want %llu", ctx, oc->key, (unsigned long long)n,
		    (unsigned long long)want->want_n);
}

static const struct opt_case *find_case(const char *key)
{
	for (size_t i = 0; i < NCASES; i++)
		if (strcmp(cases[i].key, key) == 0)
			return &cases[i];
	return NULL;
}

/* The file is rejected; the message starts with FILE:LINE: and contains needle. */
static void expect_error(const char *text, int line, const char *needle)
{
	struct sup_config c;
	char err[1024], want[192];

	write_file(text);
	if (sup_config_load(path, &c, err, sizeof(err)) != -1) {
		sup_config_free(&c);
		fail_msg("accepted: %s", text);
	}
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: ", path, line);
	else
		snprintf(want, sizeof(want), "%s: ", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error '%s' does not start with '%s' (file: %s)", err, want, text);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not mention '%s' (file: %s)", err, needle, text);
}

/* ---- the line-number bug ---- */

static void test_line_numbers_after_comments(void **state)
{
	(void)state;
	/* '#' comment lines before the bad value. */
	expect_error("# one\n# two\n# three\nmax_concurrency = 0\n", 4, "max_concurrency");
	/* Comments holding quotes, including unbalanced ones. */
	expect_error("# \"quoted\" comment\n# it's\n# \"\n\nmax_queue = -1\n", 5, "max_queue = -1");
	/* A trailing comment after a value on an earlier line and on the bad line. */
	expect_error("user = \"x\" # trailing \"comment\"\ntimeout = 0 # zero\n", 2, "timeout = 0");
	/* Many comment lines (each used to count as three). */
	expect_error("#\n#\n#\n#\n#\n#\n#\n#\n#\n#\nmax_file_count = 0\n", 11, "max_file_count");
	/* C and C++ comments, which the library also miscounted. */
	expect_error("/* a\n b */\n// c\ncache_size = -1\n", 4, "cache_size");
	/* '#' and '//' inside quoted strings are kept, so the count is right after them. */
	expect_error("scanner_log = \"/var/log/a#b//c.log\"\n# x\npoison_ttl = 0\n", 3, "poison_ttl");
	expect_error("user = 'it\\'s'\n# x\npoison_ttl = 0\n", 3, "poison_ttl");
	/* A string over several lines. */
	expect_error("user = \"a\\\nb\"\n# x\nread_timeout = 0\n", 4, "read_timeout");
	/* Unknown keys, with the line. */
	expect_error("# a\n# b\nmax_concurency = 4\n", 3, "max_concurency");
	/* A comment on the last line without a newline. */
	expect_error("# a\nmax_queue = x # b", 2, "max_queue = x");
	/* Windows line ends. */
	expect_error("# a\r\n# b\r\nmax_queue = x\r\n", 3, "max_queue = x");
}

static void test_quoted_hash_is_kept(void **state)
{
	struct sup_config c;
	char err[1024];

	(void)state;
	write_file("# comment\n"
	    "scanner_log = \"/var/log/av#1//x/*y*/.log\"   # comment \"\n"
	    "user = 'svc#2'  // comment\n"
	    "database = \"/srv/\\\"db\\\"#\"\n");
	if (sup_config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.scanner_log, "/var/log/av#1//x/*y*/.log");
	assert_string_equal(c.user, "svc#2");
	assert_string_equal(c.database, "/srv/\"db\"#");
	sup_config_free(&c);
}

/* ---- the table, option by option ---- */

static void test_table_good_values(void **state)
{
	struct sup_config c;
	char err[1024], text[2048], ctx[256];

	(void)state;
	for (size_t i = 0; i < NCASES; i++) {
		for (const struct good *g = cases[i].good; g->text != NULL; g++) {
			/* user and scanner_log are set by the prefix: the key under
			 * test is commented out there (a key may be set once). */
			char prefix[sizeof(comment_prefix) + 8], *hit;
			size_t klen = strlen(cases[i].key);
			snprintf(prefix, sizeof(prefix), "%s", comment_prefix);
			for (hit = strstr(prefix, cases[i].key); hit != NULL; hit = strstr(hit + 1, cases[i].key))
				if ((hit == prefix || hit[-1] == '\n') && hit[klen] == ' ') {
					hit[0] = '#';
					break;
				}
			snprintf(text, sizeof(text), "%s%s = %s%s%s", prefix, cases[i].key,
			    g->text, comment_suffix, line_after_for(cases[i].key));
			write_file(text);
			snprintf(ctx, sizeof(ctx), "%s = %s", cases[i].key, g->text);
			if (sup_config_load(path, &c, err, sizeof(err)) != 0)
				fail_msg("%s: rejected: %s", ctx, err);
			check_field(&c, &cases[i], g, ctx);
			sup_config_free(&c);
		}
	}
}

static void test_table_bad_values(void **state)
{
	char text[2048], inner[256];
	const char *needle;
	int line = line_after(comment_prefix);

	(void)state;
	for (size_t i = 0; i < NCASES; i++) {
		assert_non_null(cases[i].bad[0].text);  /* every option has a bad value */
		for (const struct bad *b = cases[i].bad; b->text != NULL; b++) {
			needle = b->needle;
			if (needle == NULL) {
				size_t n = strlen(b->text);
				if (n >= 2 && b->text[0] == '"' && b->text[n - 1] == '"')
					snprintf(inner, sizeof(inner), "%.*s", (int)n - 2, b->text + 1);
				else
					snprintf(inner, sizeof(inner), "%s", b->text);
				needle = inner;
			}
			/* After the comment lines, the value named. */
			snprintf(text, sizeof(text), "%s%s = %s%s%s", comment_prefix, cases[i].key,
			    b->text, comment_suffix, line_after_for(cases[i].key));
			expect_error(text, line, needle);
			expect_error(text, line, cases[i].key);
			/* On line 1 of a file without comments. */
			snprintf(text, sizeof(text), "%s = %s\n", cases[i].key, b->text);
			expect_error(text, 1, cases[i].key);
		}
	}
}

static void test_defaults(void **state)
{
	struct sup_config c;
	char err[1024];

	(void)state;
	write_file("# nothing set\n");
	assert_int_equal(sup_config_load(path, &c, err, sizeof(err)), 0);
	for (size_t i = 0; i < NCASES; i++)
		check_field(&c, &cases[i], &cases[i].def, "default");
	sup_config_free(&c);

	write_file("");  /* an empty file is all defaults too */
	assert_int_equal(sup_config_load(path, &c, err, sizeof(err)), 0);
	for (size_t i = 0; i < NCASES; i++)
		check_field(&c, &cases[i], &cases[i].def, "empty file");
	sup_config_free(&c);
}

/* Every key at once, each with its first good value. */
static void test_all_keys_together(void **state)
{
	struct sup_config c;
	char err[1024];
	static char text[8192];
	size_t used = 0;

	(void)state;
	for (size_t i = 0; i < NCASES; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "# %s\n%s = %s  # set\n",
		    cases[i].key, cases[i].key, cases[i].good[0].text);
	assert_true(used < sizeof(text));
	write_file(text);
	if (sup_config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	for (size_t i = 0; i < NCASES; i++)
		check_field(&c, &cases[i], &cases[i].good[0], "all keys");
	sup_config_free(&c);
}

/* ---- the table, the code and the example agree ---- */

/* Reads a file of the source tree: from the repository root, or found from
 * the test binary (BUILD/tests/test_config). Returns a malloc'd string. */
static char *read_source(const char *rel)
{
	char exe[PATH_MAX], alt[PATH_MAX + 64];
	const char *p = rel;
	FILE *f;
	char *buf;
	long n;

	f = fopen(p, "r");
	if (f == NULL) {
		ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (len > 0) {
			exe[len] = '\0';
			for (int up = 0; up < 3; up++) {
				char *slash = strrchr(exe, '/');
				if (slash != NULL)
					*slash = '\0';
			}
			snprintf(alt, sizeof(alt), "%s/%s", exe, rel);
			p = alt;
			f = fopen(p, "r");
		}
	}
	if (f == NULL)
		fail_msg("cannot open %s (run from the repository root): %s", rel, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The option names declared in supervisor/config.c: CFG_xxx("name", ...). */
static size_t code_keys(char names[][64], size_t max)
{
	char *src = read_source("supervisor/config.c");
	size_t n = 0;

	for (const char *p = strstr(src, "CFG_"); p != NULL; p = strstr(p + 4, "CFG_")) {
		const char *q = p + 4, *end;
		while ((*q >= 'A' && *q <= 'Z') || *q == '_')
			q++;
		if (*q != '(')
			continue;
		q++;
		while (*q == ' ')
			q++;
		if (*q != '"')
			continue;
		end = strchr(q + 1, '"');
		assert_non_null(end);
		assert_true(n < max && (size_t)(end - q - 1) < 64);
		snprintf(names[n++], 64, "%.*s", (int)(end - q - 1), q + 1);
	}
	free(src);
	return n;
}

static void test_table_covers_every_code_key(void **state)
{
	char names[64][64];
	size_t n = code_keys(names, 64);

	(void)state;
	if (n != NCASES)
		print_message("config.c declares %zu options, the table has %zu\n", n, NCASES);
	for (size_t i = 0; i < n; i++)
		if (find_case(names[i]) == NULL)
			fail_msg("option %s of supervisor/config.c is missing from this test's table", names[i]);
	for (size_t i = 0; i < NCASES; i++) {
		size_t j;
		for (j = 0; j < n && strcmp(names[j], cases[i].key) != 0; j++)
			;
		if (j == n)
			fail_msg("the table has %s, which supervisor/config.c does not declare", cases[i].key);
	}
	assert_int_equal(n, NCASES);
}

/* Is there a comment line between line and the blank line above it? */
static int has_comment_above(const char *text, const char *line)
{
	const char *p = line;

	while (p > text) {
		const char *start = p - 1;  /* the '\n' ending the previous line */
		while (start > text && start[-1] != '\n')
			start--;
		while (*start == ' ' || *start == '\t')
			start++;
		if (*start == '\n')
			return 0;  /* blank line: the paragraph starts below it */
		if (*start == '#')
			return 1;
		p = start;
		while (p > text && p[-1] != '\n')
			p--;
	}
	return 0;
}

/*
 * Keys assigned in the example: lines that start with "name =". Each must be
 * documented: a comment in its paragraph above it, or at the end of the line.
 */
static void example_keys(const char *text, int *seen)
{
	for (const char *line = text; *line != '\0';) {
		const char *nl = strchr(line, '\n');
		const char *p = line, *k;
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		k = p;
		while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
			p++;
		len = (size_t)(p - k);
		while (*p == ' ' || *p == '\t')
			p++;
		if (len > 0 && (*p == '=' || (p[0] == '+' && p[1] == '='))) {
			size_t i;
			for (i = 0; i < NCASES; i++)
				if (strlen(cases[i].key) == len && strncmp(cases[i].key, k, len) == 0)
					break;
			if (i == NCASES)
				fail_msg("the example sets %.*s, which is not an option", (int)len, k);
			seen[i]++;
			if (!has_comment_above(text, line) &&
			    (nl == NULL ? strchr(p, '#') : memchr(p, '#', (size_t)(nl - p))) == NULL)
				fail_msg("the example does not document %s", cases[i].key);
		}
		if (nl == NULL)
			break;
		line = nl + 1;
	}
}

static void test_example_file(void **state)
{
	char *text = read_source("etc/avwarden.conf.example");
	struct sup_config c;
	char err[1024];
	int seen[NCASES] = { 0 };

	(void)state;
	example_keys(text, seen);
	for (size_t i = 0; i < NCASES; i++) {
		if (seen[i] == 0)
			fail_msg("etc/avwarden.conf.example does not set %s", cases[i].key);
		if (seen[i] > 1)
			fail_msg("etc/avwarden.conf.example sets %s %d times", cases[i].key, seen[i]);
	}
	/* It parses, and every value in it is the default. */
	write_file(text);
	free(text);
	if (sup_config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("etc/avwarden.conf.example: %s", err);
	for (size_t i = 0; i < NCASES; i++) {
		/* The example shows the default of a default build (PREFIX=/usr/local). */
		if (strcmp(cases[i].key, "scanner_path") == 0 &&
		    strcmp(c.scanner_path, EXAMPLE_SCANNER_PATH) == 0)
			continue;
		check_field(&c, &cases[i], &cases[i].def, "etc/avwarden.conf.example");
	}
	sup_config_free(&c);
}

/* ---- earlier tests, kept ---- */

static void test_every_option(void **state)
{
	struct sup_config c;
	char err[1024];

	(void)state;
	write_file(
	    "# comment\n"
	    "listen = { \"unix:/run/a.sock\", \"tcp:127.0.0.1:3310\", \"tcp:[::1]:3311\" }\n"
	    "control_socket = \"/run/ctl.sock\"\n"
	    "database = \"/var/lib/clamav\"\n"
	    "scanner_path = \"/usr/libexec/avwarden/avwarden-scanner\"\n"
	    "scanner_log = \"/var/log/avwarden.log\"\n"
	    "user = \"clamav\"\n"
	    "max_concurrency = 8\n"
	    "max_queue = 10\n"
	    "timeout = 30\n"
	    "command_read_timeout = 5\n"
	    "read_timeout = 6\n"
	    "max_message_size = \"25M\"\n"
	    "scanner_tmp_size = \"512K\"\n"
	    "max_extract_size = \"1G\"\n"
	    "max_cumulative_extract_size = \"2G\"\n"
	    "max_extract_depth = 5\n"
	    "max_file_count = 100\n"
	    "max_extract_time = 20\n"
	    "max_jobs_per_worker = 50\n"
	    "max_worker_memory = \"2G\"\n"
	    "poison_threshold = 3\n"
	    "poison_ttl = 60\n"
	    "cache_size = 100\n"
	    "update_interval = 0\n"
	    "control_socket_mode = \"0660\"\n"
	    "syslog = true\n"
	    "syslog_facility = \"local3\"\n");
	assert_int_equal(sup_config_load(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nlisten, 3);
	assert_string_equal(c.listen[0], "unix:/run/a.sock");
	assert_string_equal(c.listen[1], "tcp:127.0.0.1:3310");
	assert_string_equal(c.listen[2], "tcp:[::1]:3311");
	assert_string_equal(c.control_socket, "/run/ctl.sock");
	assert_string_equal(c.database, "/var/lib/clamav");
	assert_string_equal(c.scanner_path, "/usr/libexec/avwarden/avwarden-scanner");
	assert_string_equal(c.scanner_log, "/var/log/avwarden.log");
	assert_string_equal(c.user, "clamav");
	assert_int_equal(c.max_concurrency, 8);
	assert_int_equal(c.max_queue, 10);
	assert_int_equal(c.timeout, 30);
	assert_int_equal(c.command_read_timeout, 5);
	assert_int_equal(c.read_timeout, 6);
	assert_int_equal(c.max_message_size, 25ull << 20);
	assert_int_equal(c.scanner_tmp_size, 512ull << 10);
	assert_int_equal(c.max_extract_size, 1ull << 30);
	assert_int_equal(c.max_cumulative_extract_size, 2ull << 30);
	assert_int_equal(c.max_extract_depth, 5);
	assert_int_equal(c.max_file_count, 100);
	assert_int_equal(c.max_extract_time, 20);
	assert_int_equal(c.max_jobs_per_worker, 50);
	assert_int_equal(c.max_worker_memory, 2ull << 30);
	assert_int_equal(c.poison_threshold, 3);
	assert_int_equal(c.poison_ttl, 60);
	assert_int_equal(c.cache_size, 100);
	assert_int_equal(c.update_interval, 0);
	assert_int_equal(c.control_socket_mode, 0660);
	assert_int_equal(c.syslog, 1);
	assert_int_equal(c.syslog_facility, LOG_LOCAL3);
	sup_config_free(&c);
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_error("user = \"x\"\nlisen = \"unix:/a\"\n", 2, "lisen");
	expect_error("\n\nmax_concurrency = many\n", 3, "max_concurrency");
	expect_error("max_concurrency = 0\n", 1, "max_concurrency = 0: must be between 1 and 256");
	expect_error("max_concurrency = 1000\n", 1, "max_concurrency = 1000");
	expect_error("timeout = 0\n", 1, "timeout");
	expect_error("max_message_size = \"12X\"\n", 1, "max_message_size = \"12X\": not a size");
	expect_error("max_message_size = \"-1\"\n", 1, "max_message_size");
	expect_error("scanner_tmp_size = \"0\"\n", 1, "scanner_tmp_size");
	expect_error("database = \"var/lib/clamav\"\n", 1, "database = \"var/lib/clamav\": must be an absolute path");
	expect_error("scanner_path = \"scanner\"\n", 1, "scanner_path");
	expect_error("control_socket = \"ctl.sock\"\n", 1, "control_socket");
	expect_error("listen = \"tcp:127.0.0.1\"\n", 1, "listen = \"tcp:127.0.0.1\"");
	expect_error("listen = \"udp:1.2.3.4:53\"\n", 1, "listen = \"udp:1.2.3.4:53\"");
	expect_error("listen = \"unix:relative.sock\"\n", 1, "listen = \"unix:relative.sock\"");
	expect_error("listen = \"tcp:127.0.0.1:70000\"\n", 1, "listen");
	expect_error("user = \"\"\n", 1, "user: must not be empty");
	/* An unterminated string is reported where its quote opens. */
	expect_error("user = \"unterminated\n", 1, "unterminated string");
	expect_error("# x\nuser = \"a\"\nscanner_log = \"/x\n# y\nmax_queue = 1\n", 3, "unterminated string");
	expect_error("user = 'a\n", 1, "unterminated string");
	expect_error("# x\n/* open\n\nmax_queue = 1\n", 2, "unterminated comment");
	expect_error("max_queue = 1\n# x\n\"\n", 3, "unterminated string");
}

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_error("user = \"x\"\nlisen = \"unix:/a\"\n", 2, "lisen");
	expect_error("# a\n# \"b\"\n\nMax_Queue = 1\n", 4, "Max_Queue");
	expect_error("max_queue = 1 # ok\n# c\nclamd_socket = \"/x\"  # unknown\n", 3, "clamd_socket");
	expect_error("# x\nbogus += { \"a\" }\n", 2, "bogus");
	expect_error("# x\nsection { timeout = 5 }\n", 2, "section");
}

static void test_empty_listen(void **state)
{
	(void)state;
	expect_error("listen = {}\n", 1, "listen: at least one address is needed");
	expect_error("# a \"quoted\" comment\n# b\n\nlisten = {}   # none\nmax_queue = 1\n", 4,
	    "listen: at least one address is needed");
	expect_error("# a\nlisten = {\n  # nothing here\n}\n", 2, "listen: at least one address is needed");
	/* Set twice: refused as such, whatever the values. */
	expect_error("listen = \"unix:/a\"\n# b\nlisten = { }\n", 3, "listen is set twice (first on line 1)");
	expect_error("user = \"x\" listen = {}\n", 1, "listen: at least one address is needed");
}

static void test_cross_key_rules(void **state)
{
	(void)state;
	expect_error("timeout = 10\nmax_extract_time = 10\n", 2, "max_extract_time (10 s) must be below timeout (10 s)");
	expect_error("max_extract_time = 30\ntimeout = 30\n", 1, "max_extract_time (30 s) must be below timeout (30 s)");
	/* timeout = 1 leaves no room for the engine's own limit. */
	expect_error("# a\ntimeout = 1\n", 2, "max_extract_time (50 s) must be below timeout (1 s)");
	/* max_extract_time at its maximum: no timeout above it. */
	expect_error("# a\nmax_extract_time = 3600\n", 2, "max_extract_time (3600 s) must be below timeout (60 s)");
	expect_error("max_message_size = \"1G\"\nmax_worker_memory = \"1G\"\n", 2,
	    "max_worker_memory must exceed max_message_size");
	expect_error("# a\nmax_message_size = \"1009M\"\n", 2, "max_worker_memory must exceed max_message_size");
	expect_error("# a\nmax_worker_memory = \"100M\"\n", 2, "max_worker_memory must exceed max_message_size");
	/* max_message_size is capped at 4G, even with the memory for it. */
	expect_error("# a\nmax_worker_memory = \"8G\"\nmax_message_size = \"5G\"\n", 3,
	    "max_message_size = \"5G\": above 4G");
	expect_error("max_message_size = \"4097M\"\nmax_worker_memory = \"8G\"\n", 1, "max_message_size");
}

/* A limit the operator did not set follows the one they did. */
static void test_unset_limit_follows(void **state)
{
	struct sup_config c;
	char err[1024];

	(void)state;
	write_file("timeout = 10\n");  /* Momentum's own default, alone */
	if (sup_config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.timeout, 10);
	assert_int_equal(c.max_extract_time, 9);
	sup_config_free(&c);
	write_file("max_extract_time = 70\n");
	if (sup_config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.timeout, 80);
	assert_int_equal(c.max_extract_time, 70);
	sup_config_free(&c);
	/* Unset, max_path_scan_size follows the memory limits. */
	write_file("max_message_size = \"1M\"\nmax_message_memory = \"1M\"\n");
	if (sup_config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.max_path_scan_size, 1 << 20);
	sup_config_free(&c);
	write_file("max_worker_memory = \"64M\"\nmax_message_size = \"10M\"\n");
	if (sup_config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.max_path_scan_size, 48 << 20);
	sup_config_free(&c);
	/* Defaults stay what they are when nothing contradicts them. */
	write_file("timeout = 120\n");
	if (sup_config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.max_extract_time, 50);
	sup_config_free(&c);
}

/* A key set twice: refused, naming both lines; `+=` may repeat; the lines
 * of keys checked after loading are kept for their errors. */
static void test_duplicate_keys(void **state)
{
	struct sup_config c;
	char err[1024];

	(void)state;
	expect_error("timeout = 10\n# timeout = 5\nmax_extract_time = 5\ntimeout =\n  20\n", 4,
	    "timeout is set twice (first on line 1)");
	expect_error("user = \"a\"\nuser=\"b\"\n", 2, "user is set twice (first on line 1)");
	write_file("listen = \"unix:/run/a.sock errors=close\"\nlisten += \"unix:/run/b.sock\"\n"
	    "scanner_log = \"/var/log/timeout = 3\"\n\n\nuser = \"x\"\n");
	if (sup_config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.nlisten, 2);
	assert_int_equal(c.line_user, 6);
	assert_int_equal(c.line_listen, 2);
	assert_int_equal(c.line_database, 0);
	sup_config_free(&c);
}

static void test_cross_key_limits_accepted(void **state)
{
	struct sup_config c;
	char err[1024];

	(void)state;
	write_file("max_message_size = \"4G\"\nmax_worker_memory = \"4112M\"\ntimeout = 51\nmax_message_memory = \"4G\"\n");
	if (sup_config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.max_message_size, 4ull << 30);
	assert_int_equal(c.max_worker_memory, (4ull << 30) + (16ull << 20));
	assert_int_equal(c.max_message_memory, 4ull << 30);
	sup_config_free(&c);
}

/* ---- files that are not configuration files ---- */

static void test_missing_file(void **state)
{
	struct sup_config c;
	char err[1024];

	(void)state;
	assert_int_equal(sup_config_load("/nonexistent/avwarden.conf", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/avwarden.conf: cannot read: No such file or directory");
}

/*
 * Root reads any file, so as root the load runs in a child that has become
 * nobody (no capabilities left); the file is mode 0 either way.
 */
static void test_unreadable_file(void **state)
{
	struct sup_config c;
	char err[1024];
	int status;
	pid_t pid;

	(void)state;
	write_file("max_queue = 1\n");
	assert_int_equal(chmod(path, 0), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0))
			_exit(3);
		if (sup_config_load(path, &c, err, sizeof(err)) != -1)
			_exit(4);
		if (strncmp(err, path, strlen(path)) != 0 || strstr(err, ": cannot read: Permission denied") == NULL) {
			fprintf(stderr, "unexpected error: %s\n", err);
			_exit(5);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	chmod(path, 0600);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_not_regular_file(void **state)
{
	struct sup_config c;
	char err[1024], want[256], sub[160];

	(void)state;
	/* A directory: libconfuse's scanner used to exit(2) on it. */
	assert_int_equal(sup_config_load(dir, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	assert_string_equal(err, want);

	assert_int_equal(sup_config_load("/dev/null", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "/dev/null: not a regular file");

	/* A FIFO without a writer must not block. */
	snprintf(sub, sizeof(sub), "%s/fifo", dir);
	assert_int_equal(mkfifo(sub, 0600), 0);
	assert_int_equal(sup_config_load(sub, &c, err, sizeof(err)), -1);
	unlink(sub);
	snprintf(want, sizeof(want), "%s: not a regular file", sub);
	assert_string_equal(err, want);

	/* A symlink to a regular file is fine. */
	write_file("max_queue = 7\n");
	snprintf(sub, sizeof(sub), "%s/link", dir);
	assert_int_equal(symlink(path, sub), 0);
	assert_int_equal(sup_config_load(sub, &c, err, sizeof(err)), 0);
	unlink(sub);
	assert_int_equal(c.max_queue, 7);
	sup_config_free(&c);
}

static void test_too_large(void **state)
{
	struct sup_config c;
	char err[1024], want[256];
	size_t n = (1u << 20) + 1;
	char *big = malloc(n);

	(void)state;
	assert_non_null(big);
	/* 1 MiB of comments is accepted ... */
	memset(big, '#', n);
	for (size_t i = 99; i < n; i += 100)
		big[i] = '\n';
	write_bytes(big, n - 1);
	if (sup_config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	sup_config_free(&c);
	/* ... one byte more is not. */
	write_bytes(big, n);
	free(big);
	assert_int_equal(sup_config_load(path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: too large", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error '%s' does not start with '%s'", err, want);
}

static void test_nul_byte(void **state)
{
	(void)state;
	static const char text[] = "# a\nmax_queue = 1\nuser = \"a\0b\"\n";
	struct sup_config c;
	char err[1024], want[256];

	write_bytes(text, sizeof(text) - 1);
	assert_int_equal(sup_config_load(path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: ", path);
	if (strncmp(err, want, strlen(want)) != 0 || strstr(err, "NUL") == NULL)
		fail_msg("error '%s'", err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_numbers_after_comments),
		cmocka_unit_test(test_quoted_hash_is_kept),
		cmocka_unit_test(test_table_good_values),
		cmocka_unit_test(test_table_bad_values),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_keys_together),
		cmocka_unit_test(test_table_covers_every_code_key),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_empty_listen),
		cmocka_unit_test(test_cross_key_rules),
		cmocka_unit_test(test_unset_limit_follows),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_cross_key_limits_accepted),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_not_regular_file),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_nul_byte),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
