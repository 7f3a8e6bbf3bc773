/*
 * supervisor/conftext.c: the configuration file as text, before libconfuse
 * parses it (see conftext.h).
 *
 * The file is read here, not by libconfuse: its scanner counts every comment
 * line several times (so errors pointed at the wrong line), treats a comment
 * inside a list as a value, and exit()s when handed a directory. We open the
 * file once, check that it is a regular file of sane size on that fd, blank
 * out the comments (keeping every newline, and any '#' inside quotes), and
 * hand libconfuse a buffer without comments, whose line numbers it gets right.
 */
#define _GNU_SOURCE
#include "conftext.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../platform/plat.h"

/* No configuration file is this large; anything bigger is a mistake. */
#define CONFIG_MAX_BYTES (1u << 20)

/* One load at a time (startup, --check-config): the error's home. */
static const char *cfg_path;
static char *cfg_errbuf;
static size_t cfg_errlen;

void sup_conftext_begin(const char *path, char *err, size_t errlen)
{
	cfg_path = path;
	cfg_errbuf = err;
	cfg_errlen = errlen;
	err[0] = '\0';
}

/* "PATH:LINE: message" (or "PATH: message" for line 0); the first error wins. */
void sup_conftext_verror(int line, const char *fmt, va_list ap)
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

void sup_conftext_error(int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sup_conftext_verror(line, fmt, ap);
	va_end(ap);
}

/*
 * Reads the whole file into a NUL-terminated malloc'd buffer. The checks are
 * made on the open fd (no window between checking and reading); O_NONBLOCK
 * keeps a FIFO without a writer from hanging us before fstat() says no.
 */
static char *read_file(const char *path, size_t *lenp)
{
	struct stat st;
	size_t len = 0;
	char *buf;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		sup_conftext_error(0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		sup_conftext_error(0, "cannot read: %s", strerror(e));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		sup_conftext_error(0, "not a regular file");
		return NULL;
	}
	if (st.st_size > (off_t)CONFIG_MAX_BYTES) {
		close(fd);
		sup_conftext_error(0, "too large: %lld bytes, the limit is %u", (long long)st.st_size,
		    CONFIG_MAX_BYTES);
		return NULL;
	}
	/* Room for one byte past the limit, to notice a file that grew. */
	buf = malloc(CONFIG_MAX_BYTES + 2);
	if (buf == NULL)
		fatal("config", "reason=\"out of memory\"");
	for (;;) {
		ssize_t n = PLAT_RETRY(read(fd, buf + len, CONFIG_MAX_BYTES + 1 - len));
		if (n < 0) {
			e = errno;
			close(fd);
			free(buf);
			sup_conftext_error(0, "cannot read: %s", strerror(e));
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_MAX_BYTES) {
			close(fd);
			free(buf);
			sup_conftext_error(0, "too large: over %u bytes", CONFIG_MAX_BYTES);
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
			sup_conftext_error(line, "NUL byte: not a text file");
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
		sup_conftext_error(opened, "unterminated string: the quote opened on this line is never closed");
		return -1;
	}
	if (st == BLOCK_COMMENT) {
		sup_conftext_error(opened, "unterminated comment: the /* on this line is never closed");
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
int sup_conftext_key_line(const char *buf, const char *key)
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

/*
 * A key set twice with `=` (libconfuse keeps the last silently): refused,
 * naming both lines. `+=` appends to a list and may repeat. 0, or -1 with
 * the error set.
 */
int sup_conftext_check_duplicates(const char *buf)
{
	struct { const char *name; size_t len; int line; } seen[128];
	size_t nseen = 0;
	int line = 1;
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
		const char *w = p, *q;
		while (is_word_char(p[1]))
			p++;
		for (q = p + 1; *q == ' ' || *q == '\t' || *q == '\r'; q++)
			;
		if (*q != '=')
			continue;
		size_t len = (size_t)(p - w) + 1;
		for (size_t i = 0; i < nseen; i++) {
			if (seen[i].len == len && memcmp(seen[i].name, w, len) == 0) {
				sup_conftext_error(line, "%.*s is set twice (first on line %d): only one value can count; "
				    "remove one of them", (int)len, w, seen[i].line);
				return -1;
			}
		}
		if (nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen++] = (typeof(seen[0])){ w, len, line };
	}
	return 0;
}

/* The line of the first of two keys set in the file (0 if neither is). */
int sup_conftext_either_line(const char *buf, const char *key1, const char *key2)
{
	int line = sup_conftext_key_line(buf, key1);

	return line > 0 ? line : sup_conftext_key_line(buf, key2);
}


char *sup_conftext_read(size_t *len)
{
	char *text = read_file(cfg_path, len);

	if (text != NULL && strip_comments(text, *len) < 0) {
		free(text);
		return NULL;
	}
	return text;
}
