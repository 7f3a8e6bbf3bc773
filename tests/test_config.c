/*
 * tests/test_config.c: the configuration file (supervisor/config.c). Every
 * option with a good value, the defaults, and bad files whose error must name
 * the file, the line and the key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../supervisor/sup.h"

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

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_every_option(void **state)
{
	struct sup_config c;
	char err[512];

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
	    "poison_ttl = 60\n");
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
	sup_config_free(&c);
}

static void test_defaults(void **state)
{
	struct sup_config c;
	char err[512];

	(void)state;
	write_file("# nothing set\n");
	assert_int_equal(sup_config_load(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nlisten, 1);
	assert_string_equal(c.listen[0], "unix:/run/avwarden/clamd.sock");
	assert_string_equal(c.user, "avwarden");
	assert_int_equal(c.max_concurrency, 4);
	assert_int_equal(c.timeout, 60);
	assert_int_equal(c.max_message_size, 100ull << 20);
	assert_int_equal(c.command_read_timeout, 30);
	assert_int_equal(c.read_timeout, 120);
	assert_int_equal(c.poison_threshold, 2);
	assert_string_equal(c.scanner_log, "");
	sup_config_free(&c);
}

/* The file is rejected; the message starts with FILE:LINE: and names the key. */
static void expect_error(const char *text, int line, const char *needle)
{
	struct sup_config c;
	char err[512], want[192];

	write_file(text);
	assert_int_equal(sup_config_load(path, &c, err, sizeof(err)), -1);
	if (line > 0) {
		snprintf(want, sizeof(want), "%s:%d: ", path, line);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("error '%s' does not start with '%s'", err, want);
	}
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, needle);
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
	expect_error("user = \"unterminated\n", 2, "premature end of file");
}

static void test_cross_key_rules(void **state)
{
	(void)state;
	expect_error("timeout = 10\nmax_extract_time = 10\n", 0, "max_extract_time (10 s) must be below timeout (10 s)");
	expect_error("max_message_size = \"1G\"\nmax_worker_memory = \"1G\"\n", 0,
	    "max_worker_memory must exceed max_message_size");
}

static void test_missing_file(void **state)
{
	struct sup_config c;
	char err[512];

	(void)state;
	assert_int_equal(sup_config_load("/nonexistent/avwarden.conf", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/avwarden.conf"));
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_cross_key_rules),
		cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
