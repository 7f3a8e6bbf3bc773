/*
 * supervisor/config.c: the configuration file, parsed with libconfuse.
 *
 * Momentum-style `key = value` lines with `#` comments. Every error names
 * the file, the line and the key. Sizes take K/M/G suffixes.
 * The text comes from conftext.c (comments blanked, lines kept).
 */
#define _GNU_SOURCE
#include "config.h"

#include <confuse.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "addr.h"
#include "conftext.h"

#ifndef AVW_SCANNER_DEFAULT
#define AVW_SCANNER_DEFAULT "/usr/local/libexec/avwarden/avwarden-scanner"
#endif

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
	{ "write_timeout", 1, 3600 },
	{ "max_extract_depth", 1, 100 },
	{ "max_file_count", 1, 1000000 },
	{ "max_extract_time", 1, 3600 },
	{ "max_jobs_per_worker", 0, 100000000 },
	{ "spare_workers", -1, 256 },
	{ "poison_threshold", 1, 100 },
	{ "poison_ttl", 1, 604800 },
	{ "cache_size", 0, 10000000 },
	{ "shared_cache_ttl", 1, 31536000 },
	{ "shared_cache_timeout_ms", 1, 10000 },
	{ "max_connections", 1, 1000000 },
	{ "update_interval", 0, 86400 },
};

static const struct int_range *range_of(const char *key)
{
	for (size_t i = 0; i < sizeof(int_ranges) / sizeof(int_ranges[0]); i++)
		if (strcmp(key, int_ranges[i].key) == 0)
			return &int_ranges[i];
	return NULL;
}

/*
 * Whole numbers in decimal only: libconfuse's own parser would take "010"
 * as 8 and "0x10" as 16, and its errors name neither the value nor the range.
 */
static int parse_int(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	const struct int_range *r = range_of(opt->name);
	const char *p = value != NULL ? value : "";
	char *end;
	long v;

	if (r == NULL) {
		cfg_error(cfg, "%s: no range defined (a bug)", opt->name);
		return -1;
	}
	if (*p == '-')
		p++;
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
		cfg_error(cfg, "%s = %s: not a whole number (expected %ld to %ld)",
		    opt->name, value != NULL ? value : "", r->min, r->max);
		return -1;
	}
	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || v < r->min || v > r->max) {
		cfg_error(cfg, "%s = %s: must be between %ld and %ld", opt->name, value, r->min, r->max);
		return -1;
	}
	*(long *)result = v;
	return 0;
}

static int parse_bool(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	int b = cfg_parse_boolean(value);

	if (b < 0) {
		cfg_error(cfg, "%s = %s: expected true or false (yes/no and on/off work too)",
		    opt->name, value != NULL ? value : "");
		return -1;
	}
	*(int *)result = b;
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
	if ((strcmp(opt->name, "max_message_size") == 0 || strcmp(opt->name, "max_path_scan_size") == 0) &&
	    v > (4ull << 30)) {
		cfg_error(cfg, "%s = \"%s\": above 4G, which no mail needs", opt->name, s);
		return -1;
	}
	return 0;
}

static int validate_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);

	for (unsigned i = 0; i < n; i++) {
		const char *s = cfg_opt_getnstr(opt, i);
		struct sup_listen_spec spec;
		char why[256];
		if (s == NULL || sup_listen_parse(s, &spec, why, sizeof(why)) < 0) {
			cfg_error(cfg, "listen = \"%s\": %s", s ? s : "", s ? why : "empty");
			return -1;
		}
	}
	if (n == 0) {
		cfg_error(cfg, "listen: at least one address is needed");
		return -1;
	}
	return 0;
}

static int validate_metrics_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	struct sup_listen_spec spec;
	char why[256];

	if (s == NULL || s[0] == '\0')
		return 0;  /* no metrics listener */
	if (sup_metrics_listen_parse(s, &spec, why, sizeof(why)) < 0) {
		cfg_error(cfg, "metrics_listen = \"%s\": %s", s, why);
		return -1;
	}
	return 0;
}

static int validate_shared_cache(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	char host[64], why[256];
	int port;

	if (s == NULL || s[0] == '\0')
		return 0;  /* no shared cache */
	if (sup_redis_parse(s, host, sizeof(host), &port, why, sizeof(why)) < 0) {
		cfg_error(cfg, "shared_cache = \"%s\": %s", s, why);
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

static int validate_log_path(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (s != NULL && s[0] != '\0' && s[0] != '/') {
		cfg_error(cfg, "%s = \"%s\": must be an absolute path (or \"\" for standard error)",
		    opt->name, s);
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

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

static int facility_of(const char *s)
{
	for (size_t i = 0; s != NULL && i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(s, facilities[i].name) == 0)
			return facilities[i].facility;
	return -1;
}

static int validate_facility(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (facility_of(s) < 0) {
		cfg_error(cfg, "%s = \"%s\": expected mail, daemon, user or local0 to local7",
		    opt->name, s ? s : "");
		return -1;
	}
	return 0;
}

static int validate_unscannable(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (sup_unscannable_parse(s) < 0) {
		cfg_error(cfg, "%s = \"%s\": expected reject, tempfail or pass", opt->name, s ? s : "");
		return -1;
	}
	return 0;
}

/* An octal mode the owner can use and the world cannot: the socket stops the daemon. */
static int parse_mode(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || s[0] != '0' || strlen(s) > 4)
		return -1;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno != 0 || *end != '\0' || (v & 0600) != 0600 || (v & 0007) != 0 || v > 0777)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int validate_mode(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	unsigned m;

	if (parse_mode(s, &m) < 0) {
		cfg_error(cfg, "%s = \"%s\": expected an octal mode with owner read/write and no "
		    "access for others, e.g. \"0600\" or \"0660\"", opt->name, s ? s : "");
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

/* libconfuse's errors. Its idea of the file name is "[buf]": use ours. */
static void PLAT_PRINTF(2, 0) on_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	sup_conftext_verror(cfg != NULL ? cfg->line : 0, fmt, ap);
}

/* Every key with its default; what the example config documents. */
static cfg_t *parser_new(void)
{
	cfg_opt_t opts[] = {
		CFG_STR_LIST("listen", "{\"unix:/run/avwarden/clamd.sock\"}", CFGF_NONE),
		CFG_STR("control_socket", "/run/avwarden/control.sock", CFGF_NONE),
		CFG_STR("metrics_listen", "", CFGF_NONE),
		CFG_STR("shared_cache", "", CFGF_NONE),
		CFG_STR("shared_cache_key_file", "/etc/avwarden/shared_cache.key", CFGF_NONE),
		CFG_INT_CB("shared_cache_ttl", 86400, CFGF_NONE, parse_int),
		CFG_INT_CB("shared_cache_timeout_ms", 50, CFGF_NONE, parse_int),
		CFG_STR("database", "/var/lib/clamav", CFGF_NONE),
		CFG_STR("scanner_path", AVW_SCANNER_DEFAULT, CFGF_NONE),
		CFG_STR("scanner_log", "", CFGF_NONE),
		CFG_STR("user", "avwarden", CFGF_NONE),
		CFG_INT_CB("max_concurrency", 4, CFGF_NONE, parse_int),
		CFG_INT_CB("max_queue", 256, CFGF_NONE, parse_int),
		CFG_INT_CB("timeout", 60, CFGF_NONE, parse_int),
		CFG_INT_CB("command_read_timeout", 30, CFGF_NONE, parse_int),
		CFG_INT_CB("read_timeout", 120, CFGF_NONE, parse_int),
		CFG_INT_CB("write_timeout", 30, CFGF_NONE, parse_int),
		CFG_STR("max_message_size", "100M", CFGF_NONE),
		CFG_STR("max_path_scan_size", "100M", CFGF_NONE),
		CFG_STR("scanner_tmp_size", "256M", CFGF_NONE),
		CFG_STR("max_extract_size", "100M", CFGF_NONE),
		CFG_STR("max_cumulative_extract_size", "400M", CFGF_NONE),
		CFG_INT_CB("max_extract_depth", 17, CFGF_NONE, parse_int),
		CFG_INT_CB("max_file_count", 10000, CFGF_NONE, parse_int),
		CFG_INT_CB("max_extract_time", 50, CFGF_NONE, parse_int),
		CFG_INT_CB("max_jobs_per_worker", 1, CFGF_NONE, parse_int),
		CFG_INT_CB("spare_workers", -1, CFGF_NONE, parse_int),
		CFG_STR("max_worker_memory", "1G", CFGF_NONE),
		CFG_INT_CB("poison_threshold", 2, CFGF_NONE, parse_int),
		CFG_INT_CB("poison_ttl", 3600, CFGF_NONE, parse_int),
		CFG_INT_CB("cache_size", 4096, CFGF_NONE, parse_int),
		CFG_INT_CB("max_connections", 1024, CFGF_NONE, parse_int),
		CFG_STR("max_message_memory", "2G", CFGF_NONE),
		CFG_INT_CB("update_interval", 600, CFGF_NONE, parse_int),
		CFG_STR("control_socket_mode", "0600", CFGF_NONE),
		CFG_BOOL_CB("syslog", cfg_false, CFGF_NONE, parse_bool),
		CFG_BOOL_CB("ping_health", cfg_true, CFGF_NONE, parse_bool),
		CFG_BOOL_CB("canary", cfg_true, CFGF_NONE, parse_bool),
		CFG_STR("syslog_facility", "mail", CFGF_NONE),
		CFG_STR("unscannable_action", "reject", CFGF_NONE),
		CFG_END(),
	};
	static const char *const size_keys[] = { "max_message_size", "max_path_scan_size", "scanner_tmp_size",
		"max_extract_size", "max_cumulative_extract_size", "max_worker_memory", "max_message_memory" };
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);  /* copies opts */

	if (cfg == NULL)
		return NULL;
	cfg_set_error_function(cfg, on_error);
	for (size_t i = 0; i < sizeof(size_keys) / sizeof(size_keys[0]); i++)
		cfg_set_validate_func(cfg, size_keys[i], validate_size);
	cfg_set_validate_func(cfg, "listen", validate_listen);
	cfg_set_validate_func(cfg, "control_socket", validate_abs_path);
	cfg_set_validate_func(cfg, "metrics_listen", validate_metrics_listen);
	cfg_set_validate_func(cfg, "shared_cache", validate_shared_cache);
	cfg_set_validate_func(cfg, "shared_cache_key_file", validate_abs_path);
	cfg_set_validate_func(cfg, "database", validate_abs_path);
	cfg_set_validate_func(cfg, "scanner_path", validate_abs_path);
	cfg_set_validate_func(cfg, "scanner_log", validate_log_path);
	cfg_set_validate_func(cfg, "user", validate_nonempty);
	cfg_set_validate_func(cfg, "syslog_facility", validate_facility);
	cfg_set_validate_func(cfg, "unscannable_action", validate_unscannable);
	cfg_set_validate_func(cfg, "control_socket_mode", validate_mode);
	return cfg;
}

/* Parsed and validated values into out. 0, or -1 with the error set. */
static int copy_values(cfg_t *cfg, const char *text, struct sup_config *out)
{
	/* An empty list never reaches the validator: `listen = {}` is accepted. */
	out->nlisten = cfg_size(cfg, "listen");
	if (out->nlisten == 0) {
		sup_conftext_error(sup_conftext_key_line(text, "listen"), "listen: at least one address is needed");
		return -1;
	}
	out->listen = calloc(out->nlisten, sizeof(char *));
	if (out->listen == NULL)
		fatal("config", "reason=\"out of memory\"");
	for (size_t i = 0; i < out->nlisten; i++)
		out->listen[i] = xstrdup(cfg_getnstr(cfg, "listen", (unsigned)i));
	out->control_socket = xstrdup(cfg_getstr(cfg, "control_socket"));
	out->metrics_listen = xstrdup(cfg_getstr(cfg, "metrics_listen"));
	out->shared_cache = xstrdup(cfg_getstr(cfg, "shared_cache"));
	out->shared_cache_key_file = xstrdup(cfg_getstr(cfg, "shared_cache_key_file"));
	out->database = xstrdup(cfg_getstr(cfg, "database"));
	out->scanner_path = xstrdup(cfg_getstr(cfg, "scanner_path"));
	out->scanner_log = xstrdup(cfg_getstr(cfg, "scanner_log"));
	out->user = xstrdup(cfg_getstr(cfg, "user"));
	out->line_user = sup_conftext_key_line(text, "user");
	out->line_scanner_path = sup_conftext_key_line(text, "scanner_path");
	out->line_database = sup_conftext_key_line(text, "database");
	out->line_listen = sup_conftext_key_line(text, "listen");
	out->line_control_socket = sup_conftext_key_line(text, "control_socket");
	out->max_concurrency = (unsigned)cfg_getint(cfg, "max_concurrency");
	out->max_queue = (unsigned)cfg_getint(cfg, "max_queue");
	out->timeout = (unsigned)cfg_getint(cfg, "timeout");
	out->command_read_timeout = (unsigned)cfg_getint(cfg, "command_read_timeout");
	out->read_timeout = (unsigned)cfg_getint(cfg, "read_timeout");
	out->write_timeout = (unsigned)cfg_getint(cfg, "write_timeout");
	out->max_extract_depth = (unsigned)cfg_getint(cfg, "max_extract_depth");
	out->max_file_count = (unsigned)cfg_getint(cfg, "max_file_count");
	out->max_extract_time = (unsigned)cfg_getint(cfg, "max_extract_time");
	/* A limit the operator did not set follows the one they did: with only
	 * `timeout` given, the engine's own limit ends a second before it
	 * (Momentum's timeout = 10 must not need a second key); with only
	 * max_extract_time, the supervisor waits 10 s longer. Two explicit,
	 * contradictory values are still refused (check_consistent). */
	int set_met = (cfg_getopt(cfg, "max_extract_time")->flags & CFGF_MODIFIED) != 0;
	int set_timeout = (cfg_getopt(cfg, "timeout")->flags & CFGF_MODIFIED) != 0;
	if (out->max_extract_time >= out->timeout) {
		if (!set_met && out->timeout > 1)
			out->max_extract_time = out->timeout - 1;
		else if (!set_timeout && out->max_extract_time + 10 <= 3600)
			out->timeout = out->max_extract_time + 10;
	}
	out->max_jobs_per_worker = (unsigned)cfg_getint(cfg, "max_jobs_per_worker");
	/* -1 (unset): one spare per scan that may run, so a finished worker's
	 * replacement is never waited for. */
	long spares = cfg_getint(cfg, "spare_workers");
	out->spare_workers = spares < 0 ? out->max_concurrency : (unsigned)spares;
	out->poison_threshold = (unsigned)cfg_getint(cfg, "poison_threshold");
	out->poison_ttl = (unsigned)cfg_getint(cfg, "poison_ttl");
	out->cache_size = (unsigned)cfg_getint(cfg, "cache_size");
	out->shared_cache_ttl = (unsigned)cfg_getint(cfg, "shared_cache_ttl");
	out->shared_cache_timeout_ms = (unsigned)cfg_getint(cfg, "shared_cache_timeout_ms");
	out->max_connections = (unsigned)cfg_getint(cfg, "max_connections");
	out->update_interval = (unsigned)cfg_getint(cfg, "update_interval");
	out->syslog = cfg_getbool(cfg, "syslog") ? 1 : 0;
	out->ping_health = cfg_getbool(cfg, "ping_health") ? 1 : 0;
	out->canary = cfg_getbool(cfg, "canary") ? 1 : 0;
	out->syslog_facility = facility_of(cfg_getstr(cfg, "syslog_facility"));
	out->unscannable_action = sup_unscannable_parse(cfg_getstr(cfg, "unscannable_action"));
	/* Validated above. */
	(void)parse_mode(cfg_getstr(cfg, "control_socket_mode"), &out->control_socket_mode);
	(void)plat_parse_size(cfg_getstr(cfg, "max_message_size"), &out->max_message_size);
	(void)plat_parse_size(cfg_getstr(cfg, "max_path_scan_size"), &out->max_path_scan_size);
	(void)plat_parse_size(cfg_getstr(cfg, "scanner_tmp_size"), &out->scanner_tmp_size);
	(void)plat_parse_size(cfg_getstr(cfg, "max_extract_size"), &out->max_extract_size);
	(void)plat_parse_size(cfg_getstr(cfg, "max_cumulative_extract_size"), &out->max_cumulative_extract_size);
	(void)plat_parse_size(cfg_getstr(cfg, "max_worker_memory"), &out->max_worker_memory);
	(void)plat_parse_size(cfg_getstr(cfg, "max_message_memory"), &out->max_message_memory);
	/* Unset, max_path_scan_size follows the memory limits the user set
	 * rather than refusing them (a descriptor or file must fit both). */
	if (!(cfg_getopt(cfg, "max_path_scan_size")->flags & CFGF_MODIFIED)) {
		if (out->max_path_scan_size > out->max_message_memory)
			out->max_path_scan_size = out->max_message_memory;
		if (out->max_worker_memory > (16ull << 20) && out->max_path_scan_size > out->max_worker_memory - (16ull << 20))
			out->max_path_scan_size = out->max_worker_memory - (16ull << 20);
		if (out->max_path_scan_size < out->max_message_size)
			out->max_path_scan_size = out->max_message_size;
	}
	return 0;
}

/* Cross-key rules, reported at the line of the key that broke them. */
static int check_consistent(cfg_t *cfg, const char *text, const struct sup_config *c)
{
	if (c->max_extract_time >= c->timeout) {
		sup_conftext_error(sup_conftext_either_line(text, "max_extract_time", "timeout"),
		    "max_extract_time (%u s) must be below timeout (%u s): "
		    "the engine's own limit has to end a scan before the supervisor kills it",
		    c->max_extract_time, c->timeout);
		return -1;
	}
	/* The larger of the two job limits is what a worker maps. */
	const char *big = c->max_path_scan_size > c->max_message_size ? "max_path_scan_size" : "max_message_size";
	if (c->max_worker_memory < sup_config_job_max(c) + (16ull << 20)) {
		sup_conftext_error(sup_conftext_either_line(text, "max_worker_memory", big),
		    "max_worker_memory must exceed %s by at least 16M "
		    "(max_worker_memory = \"%s\", %s = \"%s\"): a worker maps the whole message",
		    big, cfg_getstr(cfg, "max_worker_memory"), big, cfg_getstr(cfg, big));
		return -1;
	}
	if (c->max_message_memory < sup_config_job_max(c)) {
		sup_conftext_error(sup_conftext_either_line(text, "max_message_memory", big),
		    "max_message_memory must be at least %s "
		    "(max_message_memory = \"%s\", %s = \"%s\"): one message must fit",
		    big, cfg_getstr(cfg, "max_message_memory"), big, cfg_getstr(cfg, big));
		return -1;
	}
	return 0;
}

int sup_config_load(const char *path, struct sup_config *out, char *err, size_t errlen)
{
	cfg_t *cfg = NULL;
	char *text;
	size_t len = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	sup_conftext_begin(path, err, errlen);
	if ((text = sup_conftext_read(&len)) == NULL)
		return -1;
	if ((cfg = parser_new()) == NULL) {
		sup_conftext_error(0, "cannot initialise the parser");
		goto out;
	}
	switch (cfg_parse_buf(cfg, text)) {
	case CFG_SUCCESS:
		break;
	case CFG_FILE_ERROR:
		sup_conftext_error(0, "cannot parse: %s", strerror(errno));
		goto out;
	default:
		sup_conftext_error(0, "syntax error");  /* only if libconfuse said nothing */
		goto out;
	}
	if (sup_conftext_check_duplicates(text) == 0 && copy_values(cfg, text, out) == 0 &&
	    check_consistent(cfg, text, out) == 0)
		rc = 0;
	else
		sup_config_free(out);
out:
	if (cfg != NULL)
		cfg_free(cfg);
	free(text);
	return rc;
}

const char *sup_config_where(const char *path, int line, const char *key, char *buf, size_t len)
{
	if (line > 0)
		snprintf(buf, len, "%s:%d", path, line);
	else
		snprintf(buf, len, "%s (%s not set: the default)", path, key);
	return buf;
}

void sup_config_free(struct sup_config *cfg)
{
	for (size_t i = 0; i < cfg->nlisten; i++)
		free(cfg->listen[i]);
	free(cfg->listen);
	free(cfg->control_socket);
	free(cfg->metrics_listen);
	free(cfg->shared_cache);
	free(cfg->shared_cache_key_file);
	free(cfg->database);
	free(cfg->scanner_path);
	free(cfg->scanner_log);
	free(cfg->user);
	memset(cfg, 0, sizeof(*cfg));
}
