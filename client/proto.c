/*
 * client/proto.c: the protocol pieces of libavwarden (see proto.h): address
 * syntax, strict reply parsing, the VERSIONCOMMANDS probe, wire-form
 * un-stuffing. Pure functions; they must never read beyond the lengths they
 * are given, nor trust a reply to be printable, short or terminated.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define CLIENT_ENGINE "avwarden-client"
#define CLAMD_ENGINE "ClamAV"

int avw__parse_address(const char *s, struct avw__addr *a)
{
	memset(a, 0, sizeof(*a));
	if (s == NULL || s[strcspn(s, " \t\r\n")] != '\0')
		return -1;
	if (strncmp(s, "unix:/", 6) == 0) {
		size_t n = strlen(s + 5);
		if (n >= sizeof(a->u.un.sun_path))
			return -1;
		a->u.un.sun_family = AF_UNIX;
		memcpy(a->u.un.sun_path, s + 5, n + 1);
		a->len = (socklen_t)sizeof(a->u.un);
		return 0;
	}
	if (strncmp(s, "tcp:", 4) == 0) {
		const char *host = s + 4, *colon = strrchr(host, ':');
		char h[INET6_ADDRSTRLEN + 2];
		size_t hl;
		long port = 0;

		if (colon == NULL || colon == host || colon[1] == '\0' || strlen(colon + 1) > 5)
			return -1;
		for (const char *p = colon + 1; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			port = port * 10 + (*p - '0');
		}
		if (port < 1 || port > 65535)
			return -1;
		hl = (size_t)(colon - host);
		if (host[0] == '[') {
			if (hl < 3 || host[hl - 1] != ']' || hl - 2 >= sizeof(h))
				return -1;
			memcpy(h, host + 1, hl - 2);
			h[hl - 2] = '\0';
			a->u.in6.sin6_family = AF_INET6;
			a->u.in6.sin6_port = htons((uint16_t)port);
			if (inet_pton(AF_INET6, h, &a->u.in6.sin6_addr) != 1)
				return -1;
			a->len = (socklen_t)sizeof(a->u.in6);
			return 0;
		}
		if (hl >= sizeof(h))
			return -1;
		memcpy(h, host, hl);
		h[hl] = '\0';
		a->u.in.sin_family = AF_INET;
		a->u.in.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, h, &a->u.in.sin_addr) != 1)
			return -1;
		a->len = (socklen_t)sizeof(a->u.in);
		return 0;
	}
	return -1;
}

static void set_text(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;  /* truncated, as documented */
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void avw__client_error(struct avw_result *r, int code, const char *fmt, ...)
{
	va_list ap;

	r->status = AVW_ERROR;
	r->code = code;
	snprintf(r->engine, sizeof(r->engine), "%s", CLIENT_ENGINE);
	va_start(ap, fmt);
	vsnprintf(r->info, sizeof(r->info), fmt, ap);
	va_end(ap);
}

/* The reply made printable and short, for the error text. */
static void excerpt(const char *buf, size_t len, char *out, size_t cap)
{
	size_t w = 0;

	for (size_t i = 0; i < len && w + 4 < cap; i++) {
		unsigned char ch = (unsigned char)buf[i];
		out[w++] = ch >= 0x20 && ch < 0x7f && ch != '"' ? (char)ch : '?';
	}
	if (w + 4 >= cap && len > w) {
		memcpy(out + w, "...", 3);
		w += 3;
	}
	out[w] = '\0';
}

static int malformed(struct avw_result *r, const char *why, const char *buf, size_t len)
{
	char ex[64];

	excerpt(buf, len, ex, sizeof(ex));
	avw__client_error(r, AVW_CODE_MALFORMED, "malformed reply: %s: \"%s\"", why, ex);
	return -1;
}

static void set_result(struct avw_result *r, enum avw_status st, int code, const char *engine,
    const char *info, size_t info_len)
{
	r->status = st;
	r->code = code;
	snprintf(r->engine, sizeof(r->engine), "%s", engine);
	set_text(r->info, sizeof(r->info), info, info_len);
}

static int starts_with(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* What libclamav reports when it could not look inside something. */
static int unscannable_name(const char *name, size_t n)
{
	return starts_with(name, n, "Heuristics.Limits.Exceeded") || starts_with(name, n, "Heuristics.Encrypted");
}

/* "STATUS CODE ENGINE INFO", after "avw: ". */
static int parse_avw(const char *p, size_t n, struct avw_result *r, const char *line, size_t linelen)
{
	static const char *const names[] = { "CLEAN", "INFECTED", "UNSCANNABLE", "ERROR" };
	const char *sp, *code_s, *eng, *info;
	size_t tl, code_len, eng_len, info_len;
	enum avw_status st = 0;
	long long code = 0;

	sp = memchr(p, ' ', n);
	if (sp == NULL)
		return malformed(r, "no engine code", line, linelen);
	tl = (size_t)(sp - p);
	for (size_t i = 0; i < 4; i++)
		if (tl == strlen(names[i]) && memcmp(p, names[i], tl) == 0)
			st = (enum avw_status)(i + 1);
	if (st == 0)
		return malformed(r, "unknown status", line, linelen);

	code_s = sp + 1;
	sp = memchr(code_s, ' ', n - (size_t)(code_s - p));
	if (sp == NULL)
		return malformed(r, "no engine name", line, linelen);
	code_len = (size_t)(sp - code_s);
	{
		size_t i = code_s[0] == '-' ? 1 : 0;
		if (code_len == i || code_len - i > 10)
			return malformed(r, "engine code is not a number", line, linelen);
		for (; i < code_len; i++) {
			if (code_s[i] < '0' || code_s[i] > '9')
				return malformed(r, "engine code is not a number", line, linelen);
			code = code * 10 + (code_s[i] - '0');
		}
		if (code_s[0] == '-')
			code = -code;
		if (code < INT_MIN || code > INT_MAX)
			return malformed(r, "engine code out of range", line, linelen);
	}

	eng = sp + 1;
	sp = memchr(eng, ' ', n - (size_t)(eng - p));
	if (sp == NULL)
		return malformed(r, "no info", line, linelen);
	eng_len = (size_t)(sp - eng);
	if (eng_len == 0 || eng_len >= sizeof(r->engine))
		return malformed(r, "bad engine name", line, linelen);

	info = sp + 1;
	info_len = n - (size_t)(info - p);
	if (info_len == 0)
		return malformed(r, "empty info", line, linelen);
	if (st == AVW_CLEAN && code != 0)
		return malformed(r, "CLEAN with a non-zero engine code", line, linelen);
	if (info_len == 1 && info[0] == '-')
		info_len = 0;
	r->status = st;
	r->code = (int)code;
	set_text(r->engine, sizeof(r->engine), eng, eng_len);
	set_text(r->info, sizeof(r->info), info, info_len);
	return 0;
}

/* clamd's "OK", "NAME FOUND", "REASON ERROR", after "stream: ". */
static int parse_clamd(const char *p, size_t n, struct avw_result *r, const char *line, size_t linelen)
{
	if (n == 2 && memcmp(p, "OK", 2) == 0) {
		set_result(r, AVW_CLEAN, AVW_CODE_NONE, CLAMD_ENGINE, "", 0);
		return 0;
	}
	if (n > 6 && ends_with(p, n, " FOUND") && p[0] != ' ') {
		size_t k = n - 6;
		set_result(r, unscannable_name(p, k) ? AVW_UNSCANNABLE : AVW_INFECTED, AVW_CODE_NONE,
		    CLAMD_ENGINE, p, k);
		return 0;
	}
	if (n > 6 && ends_with(p, n, " ERROR") && p[0] != ' ') {
		set_result(r, AVW_ERROR, AVW_CODE_UNKNOWN, CLAMD_ENGINE, p, n - 6);
		return 0;
	}
	return malformed(r, "not a clamd result", line, linelen);
}

/* A line of len bytes ending in delim, no other delimiter, printable. */
static int check_line(const char *buf, size_t len, char delim, size_t cap, struct avw_result *r)
{
	size_t shown = len > 0 && buf[len - 1] == delim ? len - 1 : len;  /* the text, without its end */

	if (len == 0)
		return malformed(r, "empty", buf, len);
	if (len > cap)
		return malformed(r, "too long", buf, shown);
	if (buf[len - 1] != delim)
		return malformed(r, "no line terminator", buf, shown);
	for (size_t i = 0; i + 1 < len; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if (ch == (unsigned char)delim)
			return malformed(r, "more than one line", buf, shown);
		if (ch < 0x20 || ch == 0x7f)
			return malformed(r, "control character", buf, shown);
	}
	return 0;
}

int avw__parse_reply(const char *buf, size_t len, char delim, struct avw_result *r)
{
	size_t n;

	if (check_line(buf, len, delim, AVW__REPLY_MAX, r) < 0)
		return -1;
	n = len - 1;
	if (starts_with(buf, n, "avw: "))
		return parse_avw(buf + 5, n - 5, r, buf, n);
	if (starts_with(buf, n, "stream: "))
		return parse_clamd(buf + 8, n - 8, r, buf, n);
	if (n == 35 && memcmp(buf, "INSTREAM size limit exceeded. ERROR", 35) == 0) {
		set_result(r, AVW_ERROR, AVW_CODE_TOO_LARGE, CLAMD_ENGINE, buf, 28);
		return 0;
	}
	if (n == 15 && memcmp(buf, "UNKNOWN COMMAND", 15) == 0) {
		set_result(r, AVW_ERROR, AVW_CODE_UNKNOWN, CLAMD_ENGINE, "UNKNOWN COMMAND", 15);
		return 0;
	}
	return malformed(r, "unexpected answer", buf, n);
}

int avw__probe_speaks_avw(const char *buf, size_t len, char delim)
{
	struct avw_result scratch;
	const char *list, *end;

	if (check_line(buf, len, delim, AVW__PROBE_MAX, &scratch) < 0)
		return -1;
	end = buf + len - 1;
	if (len - 1 == 15 && memcmp(buf, "UNKNOWN COMMAND", 15) == 0)
		return 0;
	list = memmem(buf, len - 1, "| COMMANDS:", 11);
	if (list == NULL)
		return -1;
	list += 11;
	while (list < end) {
		const char *sp;
		while (list < end && *list == ' ')
			list++;
		sp = memchr(list, ' ', (size_t)(end - list));
		if (sp == NULL)
			sp = end;
		if (sp - list == 11 && memcmp(list, "AVWINSTREAM", 11) == 0)
			return 1;
		list = sp;
	}
	return 0;
}

void avw__unstuff_init(struct avw__unstuff *u)
{
	memset(u, 0, sizeof(*u));
	u->bol = 1;
}

/* One input byte; returns the bytes written (at most 3). */
static size_t unstuff_byte(struct avw__unstuff *u, unsigned char ch, unsigned char *out)
{
	size_t w = 0;

	switch (u->held) {
	case 1:  /* a line-start dot: it goes, the byte after it is taken as is */
		if (ch == '\r' && u->may_end) {
			u->held = 2;
			return 0;
		}
		u->held = 0;
		out[w++] = ch;
		u->bol = ch == '\n';
		return w;
	case 2:  /* ".\r", not followed by '\n': the dot goes */
		if (ch == '\n') {
			u->held = 3;
			return 0;
		}
		u->held = 0;
		out[w++] = '\r';
		u->bol = 0;
		break;
	case 3:  /* ".\r\n" with more after it: not the end, the dot goes */
		u->held = 0;
		out[w++] = '\r';
		out[w++] = '\n';
		u->bol = 1;
		break;
	default:
		break;
	}
	if (u->bol && ch == '.') {
		u->held = 1;
		/* The end-of-data line follows a CRLF, or is the whole input. */
		u->may_end = u->seen == 0 || (u->seen >= 2 && u->last[0] == '\r' && u->last[1] == '\n');
		return w;
	}
	out[w++] = ch;
	u->bol = ch == '\n';
	return w;
}

size_t avw__unstuff_feed(struct avw__unstuff *u, const unsigned char *in, size_t n, unsigned char *out)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		w += unstuff_byte(u, in[i], out + w);
		u->last[0] = u->last[1];
		u->last[1] = in[i];
		u->seen++;
	}
	return w;
}

size_t avw__unstuff_end(struct avw__unstuff *u, unsigned char *out)
{
	size_t w = 0;

	switch (u->held) {
	case 1:  /* a dot as the very last byte stays */
		out[w++] = '.';
		break;
	case 2:
		out[w++] = '\r';
		break;
	default:  /* 3: ".\r\n" at the end after a CRLF: the end-of-data line */
		break;
	}
	u->held = 0;
	return w;
}

/* The names are avwarden's own table (ipc/codes.c), compiled into the
 * library with it. */
const char *ipc_code_name(int32_t code);

__attribute__((visibility("default"))) const char *avw_code_name(int code)
{
	return ipc_code_name((int32_t)code);
}
