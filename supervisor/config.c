/*
 * supervisor/config.c: the configuration file, parsed with libconfuse.
 *
 * Momentum-style `key = value` lines with `#` comments. Every error names
 * the file, the line and the key. Sizes take K/M/G suffixes.
 */
#define _GNU_SOURCE
#include "sup.h"

#include <confuse.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../platform/plat.h"

#ifndef AVW_SCANNER_DEFAULT
#define AVW_SCANNER_DEFAULT "/usr/local/libexec/avwarden/avwarden-scanner"
#endif

static char *cfg_errbuf;
static size_t cfg_errlen;

static void PLAT_PRINTF(2, 0) on_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cfg_errbuf[0] != '\0')
		return;  /* first cause wins */
	if (cfg != NULL && cfg->filename != NULL && cfg->line > 0)
		snprintf(cfg_errbuf, cfg_errlen, "%s:%d: %s", cfg->filename, cfg->line, msg);
	else if (cfg != NULL && cfg->filename != NULL)
		snprintf(cfg_errbuf, cfg_errlen, "%s: %s", cfg->filename, msg);
	else
		snprintf(cfg_errbuf, cfg_errlen, "%s", msg);
}

struct int_range {
	const char *key;
	long min, max;
};

static const struct int_range int_ranges[] = {
	{ "max_concurrency", 1, 256 },
	{ "max_queue", 0, 100000 },
	{ "timeout", 1, 3600 },
	{ "command_read_timeout", 1, 3600 },
	{ "read_timeout", 1, 3600 },
	{ "max_extract_depth", 1, 100 },
	{ "max_file_count", 1, 1000000 },
	{ "max_extract_time", 1, 3600 },
	{ "max_jobs_per_worker", 0, 100000000 },
	{ "poison_threshold", 1, 100 },
	{ "poison_ttl", 1, 604800 },
};

static int validate_int(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	for (size_t i = 0; i < sizeof(int_ranges) / sizeof(int_ranges[0]); i++) {
		if (strcmp(opt->name, int_ranges[i].key) != 0)
			continue;
		if (v < int_ranges[i].min || v > int_ranges[i].max) {
			cfg_error(cfg, "%s = %ld: must be between %ld and %ld",
			    opt->name, v, int_ranges[i].min, int_ranges[i].max);
			return -1;
		}
	}
	return 0;
}

static int validate_size(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	uint64_t v;

	if (s == NULL || plat_parse_size(s, &v) < 0 || v == 0) {
		cfg_error(cfg, "%s = \"%s\": not a size (use a number of bytes, or K, M, G, e.g. \"25M\")",
		    opt->name, s ? s : "");
		return -1;
	}
	return 0;
}

static int valid_listen(const char *s)
{
	if (strncmp(s, "unix:/", 6) == 0)
		return strlen(s + 5) < 100;  /* sun_path */
	if (strncmp(s, "tcp:", 4) == 0) {
		const char *port = strrchr(s + 4, ':');
		char *end;
		long p;
		if (port == NULL || port == s + 4)
			return 0;
		p = strtol(port + 1, &end, 10);
		return *end == '\0' && p > 0 && p < 65536;
	}
	return 0;
}

static int validate_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);

	for (unsigned i = 0; i < n; i++) {
		const char *s = cfg_opt_getnstr(opt, i);
		if (s == NULL || !valid_listen(s)) {
			cfg_error(cfg, "listen = \"%s\": expected \"unix:/absolute/path\", "
			    "\"tcp:ADDRESS:PORT\" or \"tcp:[IPv6]:PORT\"", s ? s : "");
			return -1;
		}
	}
	if (n == 0) {
		cfg_error(cfg, "listen: at least one address is needed");
		return -1;
	}
	return 0;
}

static int validate_abs_path(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (s == NULL || s[0] != '/') {
		cfg_error(cfg, "%s = \"%s\": must be an absolute path", opt->name, s ? s : "");
		return -1;
	}
	return 0;
}

static int validate_nonempty(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (s == NULL || s[0] == '\0') {
		cfg_error(cfg, "%s: must not be empty", opt->name);
		return -1;
	}
	return 0;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (d == NULL)
		fatal("config", "reason=\"out of memory\"");
	return d;
}

int sup_config_load(const char *path, struct sup_config *out, char *err, size_t errlen)
{
	cfg_opt_t opts[] = {
		CFG_STR_LIST("listen", "{\"unix:/run/avwarden/clamd.sock\"}", CFGF_NONE),
		CFG_STR("control_socket", "/run/avwarden/control.sock", CFGF_NONE),
		CFG_STR("database", "/var/lib/clamav", CFGF_NONE),
		CFG_STR("scanner_path", AVW_SCANNER_DEFAULT, CFGF_NONE),
		CFG_STR("scanner_log", "", CFGF_NONE),
		CFG_STR("user", "avwarden", CFGF_NONE),
		CFG_INT("max_concurrency", 4, CFGF_NONE),
		CFG_INT("max_queue", 256, CFGF_NONE),
		CFG_INT("timeout", 60, CFGF_NONE),
		CFG_INT("command_read_timeout", 30, CFGF_NONE),
		CFG_INT("read_timeout", 120, CFGF_NONE),
		CFG_STR("max_message_size", "100M", CFGF_NONE),
		CFG_STR("scanner_tmp_size", "256M", CFGF_NONE),
		CFG_STR("max_extract_size", "100M", CFGF_NONE),
		CFG_STR("max_cumulative_extract_size", "400M", CFGF_NONE),
		CFG_INT("max_extract_depth", 17, CFGF_NONE),
		CFG_INT("max_file_count", 10000, CFGF_NONE),
		CFG_INT("max_extract_time", 50, CFGF_NONE),
		CFG_INT("max_jobs_per_worker", 1000, CFGF_NONE),
		CFG_STR("max_worker_memory", "1G", CFGF_NONE),
		CFG_INT("poison_threshold", 2, CFGF_NONE),
		CFG_INT("poison_ttl", 3600, CFGF_NONE),
		CFG_END(),
	};
	static const char *const int_keys[] = { "max_concurrency", "max_queue", "timeout",
		"command_read_timeout", "read_timeout",
		"max_extract_depth", "max_file_count", "max_extract_time", "max_jobs_per_worker",
		"poison_threshold", "poison_ttl" };
	static const char *const size_keys[] = { "max_message_size", "scanner_tmp_size",
		"max_extract_size", "max_cumulative_extract_size", "max_worker_memory" };
	cfg_t *cfg;
	int rc;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	cfg_errbuf = err;
	cfg_errlen = errlen;
	cfg = cfg_init(opts, CFGF_NONE);
	if (cfg == NULL) {
		snprintf(err, errlen, "%s: cannot initialise the parser", path);
		return -1;
	}
	cfg_set_error_function(cfg, on_error);
	for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++)
		cfg_set_validate_func(cfg, int_keys[i], validate_int);
	for (size_t i = 0; i < sizeof(size_keys) / sizeof(size_keys[0]); i++)
		cfg_set_validate_func(cfg, size_keys[i], validate_size);
	cfg_set_validate_func(cfg, "listen", validate_listen);
	cfg_set_validate_func(cfg, "control_socket", validate_abs_path);
	cfg_set_validate_func(cfg, "database", validate_abs_path);
	cfg_set_validate_func(cfg, "scanner_path", validate_abs_path);
	cfg_set_validate_func(cfg, "user", validate_nonempty);

	rc = cfg_parse(cfg, path);
	if (rc == CFG_FILE_ERROR) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto fail;
	}
	if (rc != CFG_SUCCESS) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: syntax error", path);
		goto fail;
	}

	out->nlisten = cfg_size(cfg, "listen");
	out->listen = calloc(out->nlisten, sizeof(char *));
	if (out->listen == NULL)
		fatal("config", "reason=\"out of memory\"");
	for (size_t i = 0; i < out->nlisten; i++)
		out->listen[i] = xstrdup(cfg_getnstr(cfg, "listen", (unsigned)i));
	out->control_socket = xstrdup(cfg_getstr(cfg, "control_socket"));
	out->database = xstrdup(cfg_getstr(cfg, "database"));
	out->scanner_path = xstrdup(cfg_getstr(cfg, "scanner_path"));
	out->scanner_log = xstrdup(cfg_getstr(cfg, "scanner_log"));
	out->user = xstrdup(cfg_getstr(cfg, "user"));
	out->max_concurrency = (unsigned)cfg_getint(cfg, "max_concurrency");
	out->max_queue = (unsigned)cfg_getint(cfg, "max_queue");
	out->timeout = (unsigned)cfg_getint(cfg, "timeout");
	out->command_read_timeout = (unsigned)cfg_getint(cfg, "command_read_timeout");
	out->read_timeout = (unsigned)cfg_getint(cfg, "read_timeout");
	out->max_extract_depth = (unsigned)cfg_getint(cfg, "max_extract_depth");
	out->max_file_count = (unsigned)cfg_getint(cfg, "max_file_count");
	out->max_extract_time = (unsigned)cfg_getint(cfg, "max_extract_time");
	out->max_jobs_per_worker = (unsigned)cfg_getint(cfg, "max_jobs_per_worker");
	out->poison_threshold = (unsigned)cfg_getint(cfg, "poison_threshold");
	out->poison_ttl = (unsigned)cfg_getint(cfg, "poison_ttl");
	/* Validated above. */
	plat_parse_size(cfg_getstr(cfg, "max_message_size"), &out->max_message_size);
	plat_parse_size(cfg_getstr(cfg, "scanner_tmp_size"), &out->scanner_tmp_size);
	plat_parse_size(cfg_getstr(cfg, "max_extract_size"), &out->max_extract_size);
	plat_parse_size(cfg_getstr(cfg, "max_cumulative_extract_size"), &out->max_cumulative_extract_size);
	plat_parse_size(cfg_getstr(cfg, "max_worker_memory"), &out->max_worker_memory);

	/* Cross-key rules, reported against the file. */
	if (out->max_extract_time >= out->timeout) {
		snprintf(err, errlen, "%s: max_extract_time (%u s) must be below timeout (%u s): "
		    "the engine's own limit has to end a scan before the supervisor kills it",
		    path, out->max_extract_time, out->timeout);
		goto fail_free;
	}
	if (out->max_worker_memory < out->max_message_size + (16ull << 20)) {
		snprintf(err, errlen, "%s: max_worker_memory must exceed max_message_size by at least 16M: "
		    "a worker maps the whole message", path);
		goto fail_free;
	}
	if (out->max_message_size > (4ull << 30)) {
		snprintf(err, errlen, "%s: max_message_size is above 4G, which no mail needs", path);
		goto fail_free;
	}
	cfg_free(cfg);
	return 0;
fail_free:
	sup_config_free(out);
fail:
	cfg_free(cfg);
	return -1;
}

void sup_config_free(struct sup_config *cfg)
{
	for (size_t i = 0; i < cfg->nlisten; i++)
		free(cfg->listen[i]);
	free(cfg->listen);
	free(cfg->control_socket);
	free(cfg->database);
	free(cfg->scanner_path);
	free(cfg->scanner_log);
	free(cfg->user);
	memset(cfg, 0, sizeof(*cfg));
}
