/*
 * supervisor/config.c: the configuration file, parsed with libconfuse.
 *
 * Momentum-style `key = value` lines with `#` comments. Every error names
 * the file, the line and the key. Sizes take K/M/G suffixes.
 *
 * The file is read here, not by libconfuse: its scanner counts every comment
 * line several times (so errors pointed at the wrong line), treats a comment
 * inside a list as a value, and exit()s when handed a directory. We open the
 * file once, check that it is a regular file of sane size on that fd, blank
 * out the comments (keeping every newline, and any '#' inside quotes), and
 * hand libconfuse a buffer without comments, whose line numbers it gets right.
 */
#define _GNU_SOURCE
#include "sup.h"

#include <arpa/inet.h>
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

#ifndef AVW_SCANNER_DEFAULT
#define AVW_SCANNER_DEFAULT "/usr/local/libexec/avwarden/avwarden-scanner"
#endif

/* No configuration file is this large; anything bigger is a mistake. */
#define CONFIG_MAX_BYTES (1u << 20)

/* One load at a time (startup, --check-config, reload): the error's home. */
static const char *cfg_path;
static char *cfg_errbuf;
static size_t cfg_errlen;

/* "PATH:LINE: message" (or "PATH: message" for line 0); the first error wins. */
static void PLAT_PRINTF(2, 0) verror_at(int line, const char *fmt, va_list ap)
{
	char msg[512];

	if (cfg_errbuf[0] != '\0')
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(cfg_errbuf, cfg_errlen, "%s:%d: %s", cfg_path, line, msg);
	else
		snprintf(cfg_errbuf, cfg_errlen, "%s: %s", cfg_path, msg);
}

static void PLAT_PRINTF(2, 3) error_at(int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror_at(line, fmt, ap);
	va_end(ap);
}

/* libconfuse's errors. Its idea of the file name is "[buf]": use ours. */
static void PLAT_PRINTF(2, 0) on_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	verror_at(cfg != NULL ? cfg->line : 0, fmt, ap);
}

/*
 * Reads the whole file into a NUL-terminated malloc'd buffer. The checks are
 * made on the open fd (no window between checking and reading); O_NONBLOCK
 * keeps a FIFO without a writer from hanging us before fstat() says no.
 */
static char *read_config(const char *path, size_t *lenp)
{
	struct stat st;
	size_t len = 0;
	char *buf;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		error_at(0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		error_at(0, "cannot read: %s", strerror(e));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		error_at(0, "not a regular file");
		return NULL;
	}
	if (st.st_size > (off_t)CONFIG_MAX_BYTES) {
		close(fd);
		error_at(0, "too large: %lld bytes, the limit is %u", (long long)st.st_size,
		    CONFIG_MAX_BYTES);
		return NULL;
	}
	/* Room for one byte past the limit, to notice a file that grew. */
	buf = malloc(CONFIG_MAX_BYTES + 2);
	if (buf == NULL)
		fatal("config", "reason=\"out of memory\"");
	for (;;) {
		ssize_t n = read(fd, buf + len, CONFIG_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(fd);
			free(buf);
			error_at(0, "cannot read: %s", strerror(e));
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_MAX_BYTES) {
			close(fd);
			free(buf);
			error_at(0, "too large: over %u bytes", CONFIG_MAX_BYTES);
			return NULL;
		}
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * Blanks out comments in place, the way libconfuse's scanner finds them:
 * outside a quoted string, `#` and `//` run to the end of the line and
 * `/ *`...`* /` to its close. Strings are "..." or '...' with backslash
 * escapes and may span lines. Newlines are kept, so line numbers hold.
 * Refuses NUL bytes (libconfuse would stop reading there), an unclosed
 * string and an unclosed comment, naming the line where each begins.
 */
static int strip_comments(char *buf, size_t len)
{
	enum { CODE, DQUOTE, SQUOTE, LINE_COMMENT, BLOCK_COMMENT } st = CODE;
	int line = 1, opened = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];

		if (ch == '\0') {
			error_at(line, "NUL byte: not a text file");
			return -1;
		}
		switch (st) {
		case CODE:
			if (ch == '"' || ch == '\'') {
				st = ch == '"' ? DQUOTE : SQUOTE;
				opened = line;
			} else if (ch == '#') {
				st = LINE_COMMENT;
				buf[i] = ' ';
			} else if (ch == '/' && i + 1 < len && (buf[i + 1] == '/' || buf[i + 1] == '*')) {
				st = buf[i + 1] == '/' ? LINE_COMMENT : BLOCK_COMMENT;
				opened = line;
				buf[i] = buf[i + 1] = ' ';
				i++;
			}
			break;
		case DQUOTE:
		case SQUOTE:
			if (ch == '\\' && i + 1 < len) {
				i++;  /* the escaped character, whatever it is */
				if (buf[i] == '\n')
					line++;
				else if (buf[i] == '\0')
					i--;  /* reported on the next turn */
			} else if (ch == (st == DQUOTE ? '"' : '\'')) {
				st = CODE;
			}
			break;
		case LINE_COMMENT:
			if (ch == '\n')
				st = CODE;
			else
				buf[i] = ' ';
			break;
		case BLOCK_COMMENT:
			if (ch == '*' && i + 1 < len && buf[i + 1] == '/') {
				buf[i] = buf[i + 1] = ' ';
				i++;
				st = CODE;
			} else if (ch != '\n') {
				buf[i] = ' ';
			}
			break;
		}
		if (ch == '\n')
			line++;
	}
	if (st == DQUOTE || st == SQUOTE) {
		error_at(opened, "unterminated string: the quote opened on this line is never closed");
		return -1;
	}
	if (st == BLOCK_COMMENT) {
		error_at(opened, "unterminated comment: the /* on this line is never closed");
		return -1;
	}
	return 0;
}

/* Characters of a bare word, as libconfuse's scanner has them. */
static int is_word_char(char c)
{
	return c != '\0' && strchr(" \t\r\n#\"'={}()+,", c) == NULL;
}

/*
 * The line of the last `key =` or `key +=` in a comment-free buffer, or 0:
 * for the errors found after parsing, when libconfuse's line is gone.
 */
static int key_line(const char *buf, const char *key)
{
	size_t klen = strlen(key);
	int line = 1, found = 0;
	char quote = 0;

	for (const char *p = buf; *p != '\0'; p++) {
		if (*p == '\n')
			line++;
		if (quote != 0) {
			if (*p == '\\' && p[1] != '\0') {
				p++;
				if (*p == '\n')
					line++;
			} else if (*p == quote) {
				quote = 0;
			}
			continue;
		}
		if (*p == '"' || *p == '\'') {
			quote = *p;
			continue;
		}
		if (!is_word_char(*p) || (p > buf && is_word_char(p[-1])))
			continue;
		if (strncmp(p, key, klen) == 0 && !is_word_char(p[klen])) {
			const char *q = p + klen;
			while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
				q++;
			if (*q == '=' || (q[0] == '+' && q[1] == '='))
				found = line;
		}
	}
	return found;
}

/* The line of the first of two keys set in the file (0 if neither is). */
static int either_key_line(const char *buf, const char *key1, const char *key2)
{
	int line = key_line(buf, key1);

	return line > 0 ? line : key_line(buf, key2);
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
	{ "cache_size", 0, 10000000 },
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
	if (strcmp(opt->name, "max_message_size") == 0 && v > (4ull << 30)) {
		cfg_error(cfg, "%s = \"%s\": above 4G, which no mail needs", opt->name, s);
		return -1;
	}
	return 0;
}

static int parse_cidr(const char *s, struct sup_cidr *c)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	long bits;
	char *end;

	if (n == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, addr, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, c->addr) == 1)
		c->family = AF_INET6;
	else
		return -1;
	bits = c->family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		long b = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || b < 0 || b > bits)
			return -1;
		bits = b;
	}
	c->bits = (unsigned)bits;
	return 0;
}

int sup_cidr_match(const struct sup_cidr *c, const struct sockaddr *sa)
{
	const unsigned char *a;
	unsigned char mapped[16];
	unsigned full, rest;

	if (sa->sa_family == AF_INET && c->family == AF_INET) {
		a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (c->family == AF_INET) {
			/* An IPv4 client on a dual-stack socket: ::ffff:a.b.c.d. */
			static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
			if (memcmp(a, v4mapped, 12) != 0)
				return 0;
			memcpy(mapped, a + 12, 4);
			a = mapped;
		}
	} else {
		return 0;
	}
	full = c->bits / 8;
	rest = c->bits % 8;
	if (memcmp(a, c->addr, full) != 0)
		return 0;
	return rest == 0 || ((a[full] ^ c->addr[full]) & (0xffu << (8 - rest)) & 0xff) == 0;
}

static int parse_name(const char *v, char *out, size_t len)
{
	size_t n = strlen(v);

	if (n == 0 || n >= len || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return -1;
	memcpy(out, v, n + 1);
	return 0;
}

/*
 * "unix:/path [mode=0660] [owner=USER] [group=GROUP] [wire]" or
 * "tcp:ADDRESS:PORT [allow=CIDR,CIDR...] [wire]", ADDRESS IPv4 or [IPv6].
 */
int sup_listen_parse(const char *s, struct sup_listen_spec *o, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, *tok;

	memset(o, 0, sizeof(*o));
	o->mode = 0666;  /* clamd's LocalSocketMode in Debian: MTAs run as other users */
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "too long");
		return -1;
	}
	strcpy(buf, s);
	tok = strtok_r(buf, " \t", &save);
	if (tok == NULL) {
		snprintf(err, errlen, "empty");
		return -1;
	}
	if (strncmp(tok, "unix:/", 6) == 0) {
		o->is_unix = 1;
		if (strlen(tok + 5) >= sizeof(o->path) - 8) {
			snprintf(err, errlen, "socket path too long (at most %zu bytes)", sizeof(o->path) - 9);
			return -1;
		}
		strcpy(o->path, tok + 5);
	} else if (strncmp(tok, "tcp:", 4) == 0) {
		char *host = tok + 4, *port = strrchr(host, ':'), *end;
		unsigned char tmp[16];
		long p;
		if (port == NULL || port == host) {
			snprintf(err, errlen, "expected tcp:ADDRESS:PORT");
			return -1;
		}
		*port++ = '\0';
		p = strtol(port, &end, 10);
		if (*end != '\0' || p <= 0 || p >= 65536) {
			snprintf(err, errlen, "port %s: expected 1 to 65535", port);
			return -1;
		}
		if (host[0] == '[' && host[strlen(host) - 1] == ']') {
			host[strlen(host) - 1] = '\0';
			host++;
			if (inet_pton(AF_INET6, host, tmp) != 1) {
				snprintf(err, errlen, "%s: not an IPv6 address", host);
				return -1;
			}
		} else if (inet_pton(AF_INET, host, tmp) != 1) {
			snprintf(err, errlen, "%s: not an IPv4 address (IPv6 goes in brackets: tcp:[::1]:3310)", host);
			return -1;
		}
		snprintf(o->host, sizeof(o->host), "%s", host);
		o->port = (int)p;
	} else {
		snprintf(err, errlen, "expected \"unix:/absolute/path\", \"tcp:ADDRESS:PORT\" or \"tcp:[IPv6]:PORT\"");
		return -1;
	}
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		if (strcmp(tok, "wire") == 0) {
			o->wire = 1;
		} else if (o->is_unix && strncmp(tok, "mode=", 5) == 0) {
			char *end;
			unsigned long m = strtoul(tok + 5, &end, 8);
			if (tok[5] != '0' || *end != '\0' || m > 0777 || (m & 0600) != 0600) {
				snprintf(err, errlen, "%s: expected an octal mode with owner read/write, e.g. mode=0660", tok);
				return -1;
			}
			o->mode = (unsigned)m;
		} else if (o->is_unix && strncmp(tok, "owner=", 6) == 0) {
			if (parse_name(tok + 6, o->owner, sizeof(o->owner)) < 0) {
				snprintf(err, errlen, "%s: not a user name", tok);
				return -1;
			}
		} else if (o->is_unix && strncmp(tok, "group=", 6) == 0) {
			if (parse_name(tok + 6, o->group, sizeof(o->group)) < 0) {
				snprintf(err, errlen, "%s: not a group name", tok);
				return -1;
			}
		} else if (!o->is_unix && strncmp(tok, "allow=", 6) == 0) {
			char *save2 = NULL, *net;
			for (net = strtok_r(tok + 6, ",", &save2); net != NULL; net = strtok_r(NULL, ",", &save2)) {
				if (o->nallow == SUP_LISTEN_ALLOW_MAX) {
					snprintf(err, errlen, "allow=: at most %d networks", SUP_LISTEN_ALLOW_MAX);
					return -1;
				}
				if (parse_cidr(net, &o->allow[o->nallow]) < 0) {
					snprintf(err, errlen, "allow=%s: not an address or ADDRESS/BITS network", net);
					return -1;
				}
				o->nallow++;
			}
			if (o->nallow == 0) {
				snprintf(err, errlen, "allow=: no network given");
				return -1;
			}
		} else {
			snprintf(err, errlen, "%s: unknown option (unix: mode=, owner=, group=, wire; tcp: allow=, wire)", tok);
			return -1;
		}
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

int sup_config_load(const char *path, struct sup_config *out, char *err, size_t errlen)
{
	cfg_opt_t opts[] = {
		CFG_STR_LIST("listen", "{\"unix:/run/avwarden/clamd.sock\"}", CFGF_NONE),
		CFG_STR("control_socket", "/run/avwarden/control.sock", CFGF_NONE),
		CFG_STR("database", "/var/lib/clamav", CFGF_NONE),
		CFG_STR("scanner_path", AVW_SCANNER_DEFAULT, CFGF_NONE),
		CFG_STR("scanner_log", "", CFGF_NONE),
		CFG_STR("user", "avwarden", CFGF_NONE),
		CFG_INT_CB("max_concurrency", 4, CFGF_NONE, parse_int),
		CFG_INT_CB("max_queue", 256, CFGF_NONE, parse_int),
		CFG_INT_CB("timeout", 60, CFGF_NONE, parse_int),
		CFG_INT_CB("command_read_timeout", 30, CFGF_NONE, parse_int),
		CFG_INT_CB("read_timeout", 120, CFGF_NONE, parse_int),
		CFG_STR("max_message_size", "100M", CFGF_NONE),
		CFG_STR("scanner_tmp_size", "256M", CFGF_NONE),
		CFG_STR("max_extract_size", "100M", CFGF_NONE),
		CFG_STR("max_cumulative_extract_size", "400M", CFGF_NONE),
		CFG_INT_CB("max_extract_depth", 17, CFGF_NONE, parse_int),
		CFG_INT_CB("max_file_count", 10000, CFGF_NONE, parse_int),
		CFG_INT_CB("max_extract_time", 50, CFGF_NONE, parse_int),
		CFG_INT_CB("max_jobs_per_worker", 1000, CFGF_NONE, parse_int),
		CFG_STR("max_worker_memory", "1G", CFGF_NONE),
		CFG_INT_CB("poison_threshold", 2, CFGF_NONE, parse_int),
		CFG_INT_CB("poison_ttl", 3600, CFGF_NONE, parse_int),
		CFG_INT_CB("cache_size", 4096, CFGF_NONE, parse_int),
		CFG_INT_CB("max_connections", 1024, CFGF_NONE, parse_int),
		CFG_STR("max_message_memory", "2G", CFGF_NONE),
		CFG_INT_CB("update_interval", 600, CFGF_NONE, parse_int),
		CFG_STR("control_socket_mode", "0600", CFGF_NONE),
		CFG_BOOL_CB("syslog", cfg_false, CFGF_NONE, parse_bool),
		CFG_STR("syslog_facility", "mail", CFGF_NONE),
		CFG_END(),
	};
	static const char *const size_keys[] = { "max_message_size", "scanner_tmp_size",
		"max_extract_size", "max_cumulative_extract_size", "max_worker_memory", "max_message_memory" };
	cfg_t *cfg = NULL;
	char *text;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	cfg_path = path;
	cfg_errbuf = err;
	cfg_errlen = errlen;

	text = read_config(path, &len);
	if (text == NULL)
		return -1;
	if (strip_comments(text, len) < 0)
		goto fail;

	cfg = cfg_init(opts, CFGF_NONE);
	if (cfg == NULL) {
		error_at(0, "cannot initialise the parser");
		goto fail;
	}
	cfg_set_error_function(cfg, on_error);
	for (size_t i = 0; i < sizeof(size_keys) / sizeof(size_keys[0]); i++)
		cfg_set_validate_func(cfg, size_keys[i], validate_size);
	cfg_set_validate_func(cfg, "listen", validate_listen);
	cfg_set_validate_func(cfg, "control_socket", validate_abs_path);
	cfg_set_validate_func(cfg, "database", validate_abs_path);
	cfg_set_validate_func(cfg, "scanner_path", validate_abs_path);
	cfg_set_validate_func(cfg, "scanner_log", validate_log_path);
	cfg_set_validate_func(cfg, "user", validate_nonempty);
	cfg_set_validate_func(cfg, "syslog_facility", validate_facility);
	cfg_set_validate_func(cfg, "control_socket_mode", validate_mode);

	rc = cfg_parse_buf(cfg, text);
	if (rc == CFG_FILE_ERROR) {
		error_at(0, "cannot parse: %s", strerror(errno));
		goto fail;
	}
	if (rc != CFG_SUCCESS) {
		error_at(0, "syntax error");  /* only if libconfuse said nothing */
		goto fail;
	}

	/* An empty list never reaches the validator: `listen = {}` is accepted. */
	out->nlisten = cfg_size(cfg, "listen");
	if (out->nlisten == 0) {
		error_at(key_line(text, "listen"), "listen: at least one address is needed");
		goto fail;
	}
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
	out->cache_size = (unsigned)cfg_getint(cfg, "cache_size");
	out->max_connections = (unsigned)cfg_getint(cfg, "max_connections");
	out->update_interval = (unsigned)cfg_getint(cfg, "update_interval");
	out->syslog = cfg_getbool(cfg, "syslog") ? 1 : 0;
	out->syslog_facility = facility_of(cfg_getstr(cfg, "syslog_facility"));
	parse_mode(cfg_getstr(cfg, "control_socket_mode"), &out->control_socket_mode);
	/* Validated above. */
	plat_parse_size(cfg_getstr(cfg, "max_message_size"), &out->max_message_size);
	plat_parse_size(cfg_getstr(cfg, "scanner_tmp_size"), &out->scanner_tmp_size);
	plat_parse_size(cfg_getstr(cfg, "max_extract_size"), &out->max_extract_size);
	plat_parse_size(cfg_getstr(cfg, "max_cumulative_extract_size"), &out->max_cumulative_extract_size);
	plat_parse_size(cfg_getstr(cfg, "max_worker_memory"), &out->max_worker_memory);
	plat_parse_size(cfg_getstr(cfg, "max_message_memory"), &out->max_message_memory);

	/* Cross-key rules, reported at the line of the key that broke them. */
	if (out->max_extract_time >= out->timeout) {
		error_at(either_key_line(text, "max_extract_time", "timeout"),
		    "max_extract_time (%u s) must be below timeout (%u s): "
		    "the engine's own limit has to end a scan before the supervisor kills it",
		    out->max_extract_time, out->timeout);
		goto fail_free;
	}
	if (out->max_worker_memory < out->max_message_size + (16ull << 20)) {
		error_at(either_key_line(text, "max_worker_memory", "max_message_size"),
		    "max_worker_memory must exceed max_message_size by at least 16M "
		    "(max_worker_memory = \"%s\", max_message_size = \"%s\"): a worker maps the whole message",
		    cfg_getstr(cfg, "max_worker_memory"), cfg_getstr(cfg, "max_message_size"));
		goto fail_free;
	}
	if (out->max_message_memory < out->max_message_size) {
		error_at(either_key_line(text, "max_message_memory", "max_message_size"),
		    "max_message_memory must be at least max_message_size "
		    "(max_message_memory = \"%s\", max_message_size = \"%s\"): one message must fit",
		    cfg_getstr(cfg, "max_message_memory"), cfg_getstr(cfg, "max_message_size"));
		goto fail_free;
	}
	cfg_free(cfg);
	free(text);
	return 0;
fail_free:
	sup_config_free(out);
fail:
	if (cfg != NULL)
		cfg_free(cfg);
	free(text);
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
