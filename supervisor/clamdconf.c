/*
 * supervisor/clamdconf.c: a clamd.conf read the way clamd 1.4 reads it (see
 * clamdconf.h), so the conversion sees what clamd saw:
 *
 * - a line is `Option value`; leading blanks are skipped, a line starting
 *   with `#` is a comment, a `#` later on is part of the value;
 * - a line of one character (with its newline, two) is skipped;
 * - a line starting with "Example" makes clamd refuse the file;
 * - a value in double quotes runs to the last quote on the line;
 * - names are case sensitive; booleans are yes/no, true/false, 1/0 in any
 *   case; numbers are decimal digits; sizes are digits with an optional
 *   K, M or G, read as C reads them (a leading 0 means octal), and 0 means
 *   no limit;
 * - an option given twice counts the first time, unless it may repeat.
 *
 * Where clamd would refuse the file, so do we, naming the line. Where clamd
 * would read a line differently than it looks, we read it as clamd does
 * and leave a note. Never writes anything but err and the notes.
 */
#define _GNU_SOURCE
#include "clamdconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../platform/plat.h"

/* No clamd.conf is this large; clamd's own reader takes 511 bytes a line. */
#define CC_MAX_BYTES (1u << 20)
#define CC_MAX_LINE 511

struct reader {
	struct sup_cc_conf *c;
	char *err;
	size_t errlen;
	int line;
};

static int PLAT_PRINTF(2, 3) fail(struct reader *r, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->line > 0)
		snprintf(r->err, r->errlen, "%s:%d: %s", r->c->path, r->line, msg);
	else
		snprintf(r->err, r->errlen, "%s: %s", r->c->path, msg);
	return -1;
}

static void PLAT_PRINTF(2, 3) note(struct reader *r, const char *fmt, ...)
{
	struct sup_cc_conf *c = r->c;
	va_list ap;
	int n;

	if (c->nnotes == (int)(sizeof(c->notes) / sizeof(c->notes[0])))
		return;
	n = snprintf(c->notes[c->nnotes], sizeof(c->notes[0]), "%s:%d: ", c->path, r->line);
	va_start(ap, fmt);
	vsnprintf(c->notes[c->nnotes] + n, sizeof(c->notes[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	c->nnotes++;
}

/* The whole file, NUL-terminated; checks made on the open descriptor. */
static char *slurp(struct reader *r)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	int fd = open(r->c->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		fail(r, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		fail(r, "cannot read: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CC_MAX_BYTES) {
		fail(r, "%s", !S_ISREG(st.st_mode) ? "not a regular file" : "too large for a clamd.conf");
		close(fd);
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 2)) == NULL)
		fatal("fromclamd", "reason=\"out of memory\"");
	for (;;) {
		ssize_t n = PLAT_RETRY(read(fd, buf + len, (size_t)st.st_size + 1 - len));
		if (n < 0) {
			fail(r, "cannot read: %s", strerror(errno));
			break;
		}
		len += (size_t)n;
		if (n == 0 || len > (size_t)st.st_size)
			break;
	}
	close(fd);
	if (r->err[0] != '\0' || len > (size_t)st.st_size) {
		if (r->err[0] == '\0')
			fail(r, "changed while being read");
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		fail(r, "NUL byte: not a text file");
		free(buf);
		return NULL;
	}
	return buf;
}

static int check_bool(const char *v, uint64_t *num)
{
	static const char *const t[] = { "yes", "true", "1" }, *const f[] = { "no", "false", "0" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(v, t[i]) == 0)
			return (int)(*num = 1);
		if (strcasecmp(v, f[i]) == 0)
			return (int)(*num = 0);
	}
	return -1;
}

/* SIZE: digits, then K, M or G; strtoull(base 0) as clamd does. */
static int check_size(struct reader *r, struct sup_cc_setting *s)
{
	const char *v = s->value;
	size_t digits = strspn(v, "0123456789");
	const char *suffix = v + digits;
	unsigned shift = 0;
	char *end;
	unsigned long long n;

	if (digits == 0 || (suffix[0] != '\0' && (suffix[1] != '\0' || strchr("kKmMgG", suffix[0]) == NULL)))
		return fail(r, "%s %s: expected a size (digits, then K, M or G)", s->name, v);
	shift = suffix[0] == '\0' ? 0 : strchr("kK", suffix[0]) ? 10 : strchr("mM", suffix[0]) ? 20 : 30;
	errno = 0;
	n = strtoull(v, &end, 0);
	if (end != suffix)
		return fail(r, "%s %s: a leading 0 makes clamd read it as octal, where 8 and 9 are not digits",
		    s->name, v);
	if (v[0] == '0' && digits > 1)
		note(r, "%s %s: clamd reads a leading 0 as octal, so this is %llu%s", s->name, v, n, suffix);
	if (errno == ERANGE || n > (UINT64_MAX >> 1) >> shift || n == 0) {
		s->nolimit = 1;
		s->num = UINT64_MAX;
	} else {
		s->num = (uint64_t)n << shift;
	}
	return 0;
}

/* The value against the option's type; clamd's error when it does not fit. */
static int check_typed(struct reader *r, struct sup_cc_setting *s)
{
	const struct sup_cc_opt *o = s->opt;
	char *end;

	switch (o->type) {
	case CC_BOOL:
		if (check_bool(s->value, &s->num) < 0)
			return fail(r, "%s %s: expected yes or no (true/false, 1/0)", s->name, s->value);
		return 0;
	case CC_NUMBER:
		if (strspn(s->value, "0123456789") != strlen(s->value))
			return fail(r, "%s %s: expected a whole number (digits only)", s->name, s->value);
		errno = 0;
		s->num = strtoull(s->value, &end, 10);
		if (errno == ERANGE || s->num > INT_MAX)
			return fail(r, "%s %s: too large (clamd reads at most %d)", s->name, s->value, INT_MAX);
		return 0;
	case CC_SIZE:
		return check_size(r, s);
	case CC_STRING:
		break;
	}
	if (o->choices != NULL) {
		const char *p = o->choices;
		size_t n = strlen(s->value);
		for (; p != NULL; p = strchr(p, '|') != NULL ? strchr(p, '|') + 1 : NULL)
			if (strncasecmp(p, s->value, n) == 0 && (p[n] == '|' || p[n] == '\0'))
				return 0;
		return fail(r, "%s %s: expected one of %s", s->name, s->value, o->choices);
	}
	return 0;
}

/* The value checked against the option's type, as clamd checks it. */
static int check_value(struct reader *r, struct sup_cc_setting *s)
{
	const struct sup_cc_opt *o = s->opt;

	if (o == NULL || o->fate == CC_IGNORED)
		return 0;  /* clamd checks neither */
	if (check_typed(r, s) == 0)
		return 0;
	if (strchr(s->value, '#') != NULL) {
		size_t n = strlen(r->err);
		snprintf(r->err + n, r->errlen - n,
		    " (in clamd.conf a comment is a whole line: this # is part of the value)");
	}
	return -1;
}

/* The argument of a line, trimmed and unquoted, in place; NULL: an error was set. */
static char *argument(struct reader *r, const char *name, char *p)
{
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		p[--n] = '\0';
	if (n == 0) {
		fail(r, "%s: missing argument", name);
		return NULL;
	}
	if (p[0] == '"') {
		char *q = strrchr(p + 1, '"');
		if (q == NULL) {
			fail(r, "%s %s: the quote is never closed", name, p);
			return NULL;
		}
		if (q[1] != '\0')
			note(r, "%s: clamd ignores \"%s\" after the closing quote", name, q + 1);
		*q = '\0';
		if (*++p == '\0') {
			fail(r, "%s: empty argument", name);
			return NULL;
		}
	}
	return p;
}

/* c->s has room for a setting per line (sup_cc_read). */
static struct sup_cc_setting *add(struct sup_cc_conf *c)
{
	struct sup_cc_setting *s = &c->s[c->n++];

	memset(s, 0, sizeof(*s));
	return s;
}

/* One line (no newline; `nl` says whether it had one). 0, or -1 with err. */
static int one_line(struct reader *r, char *p, int nl)
{
	struct sup_cc_setting *s, *first;
	char *sp, *arg;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strlen(p) + (size_t)nl <= 2 || p[0] == '#') {
		if (p[0] != '#' && p[0] != '\0')
			note(r, "\"%s\": clamd skips a line this short", p);
		return 0;
	}
	if (strncmp(p, "Example", 7) == 0)
		return fail(r, "\"Example\": this is clamd's unedited example file; clamd refuses it too");
	if (strchr(p, '\r') != NULL)
		return fail(r, "carriage return (DOS line end): clamd takes it as part of the value "
		    "(convert the file with dos2unix)");
	if ((sp = strpbrk(p, " \t")) == NULL)
		return fail(r, "%s: missing argument", p);
	*sp = '\0';
	if ((arg = argument(r, p, sp + 1)) == NULL)
		return -1;
	s = add(r->c);
	s->name = p;
	s->value = arg;
	s->line = r->line;
	s->opt = sup_cc_find(p, 0);
	if (check_value(r, s) < 0)
		return -1;
	first = s->opt != NULL ? sup_cc_get(r->c, p) : NULL;
	if (first != s && first != NULL && !(s->opt->flags & CC_MULTI))
		s->first = first->line;
	return 0;
}

int sup_cc_read(const char *path, struct sup_cc_conf *c, char *err, size_t errlen)
{
	struct reader r = { .c = c, .err = err, .errlen = errlen };
	char *text, *p, *nl;
	size_t lines = 1, known = 0;

	memset(c, 0, sizeof(*c));
	c->path = path;
	err[0] = '\0';
	if ((text = slurp(&r)) == NULL)
		return -1;
	for (p = text; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	if ((c->s = calloc(lines, sizeof(*c->s))) == NULL)
		fatal("fromclamd", "reason=\"out of memory\"");
	for (p = text; *p != '\0'; p = nl != NULL ? nl + 1 : p + strlen(p)) {
		r.line++;
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (strlen(p) > CC_MAX_LINE) {
			fail(&r, "line too long: clamd reads at most %d bytes a line and would split it", CC_MAX_LINE);
			break;
		}
		if (one_line(&r, p, nl != NULL) < 0)
			break;
	}
	for (size_t i = 0; i < c->n; i++)
		known += c->s[i].opt != NULL;
	if (err[0] != '\0' || known == 0) {
		free(c->s);
		free(text);
		memset(c, 0, sizeof(*c));
		c->path = path;
		if (err[0] == '\0') {
			r.line = 0;
			return fail(&r, "not one clamd option in it: not a clamd.conf");
		}
		return -1;
	}
	c->text = text;
	return 0;
}

void sup_cc_free(struct sup_cc_conf *c)
{
	free(c->s);
	free(c->text);
	memset(c, 0, sizeof(*c));
}

struct sup_cc_setting *sup_cc_get(const struct sup_cc_conf *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->s[i].opt != NULL && strcmp(c->s[i].opt->name, name) == 0)
			return &c->s[i];
	return NULL;
}

int sup_cc_bool(const struct sup_cc_conf *c, const char *name)
{
	const struct sup_cc_setting *s = sup_cc_get(c, name);
	const struct sup_cc_opt *o = sup_cc_find(name, 0);
	uint64_t v = 0;

	if (s != NULL)
		return s->num != 0;
	return o != NULL && o->dflt != NULL && check_bool(o->dflt, &v) == 0 && v != 0;
}
