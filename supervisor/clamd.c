/*
 * supervisor/clamd.c: clamd command parsing, INSTREAM framing and replies.
 *
 * Pure functions: every input is treated as hostile, every length checked.
 */
#include "clamd.h"

#include "addr.h"

#include <stdio.h>
#include <string.h>

enum { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };

static const struct {
	const char *name;
	enum sup_cmd cmd;
	int legacy_ok;  /* accepted without a z/n prefix (clamd refuses some) */
	int arg;        /* "NAME ARG": the argument is the rest of the line */
} commands[] = {
	{ "PING", SUP_CMD_PING, 1, ARG_NONE },
	{ "VERSION", SUP_CMD_VERSION, 1, ARG_NONE },
	{ "INSTREAM", SUP_CMD_INSTREAM, 0, ARG_NONE },
	{ "SHUTDOWN", SUP_CMD_SHUTDOWN, 1, ARG_NONE },
	{ "QUIT", SUP_CMD_SHUTDOWN, 1, ARG_NONE },  /* clamd's old name for it */
	{ "RELOAD", SUP_CMD_RELOAD, 1, ARG_NONE },
	{ "VERSIONCOMMANDS", SUP_CMD_VERSIONCOMMANDS, 0, ARG_NONE },
	{ "STATS", SUP_CMD_STATS, 0, ARG_NONE },
	{ "IDSESSION", SUP_CMD_IDSESSION, 0, ARG_NONE },
	{ "END", SUP_CMD_END, 0, ARG_NONE },
	{ "FILDES", SUP_CMD_FILDES, 1, ARG_NONE },
	{ "SCAN", SUP_CMD_SCAN, 1, ARG_REQUIRED },
	{ "CONTSCAN", SUP_CMD_CONTSCAN, 1, ARG_REQUIRED },
	{ "MULTISCAN", SUP_CMD_MULTISCAN, 1, ARG_REQUIRED },
	{ "ALLMATCHSCAN", SUP_CMD_ALLMATCHSCAN, 0, ARG_REQUIRED },
	{ "AVWINSTREAM", SUP_CMD_AVWINSTREAM, 0, ARG_OPTIONAL },
};

const char *sup_clamd_command_list(void)
{
	return "SCAN RELOAD PING CONTSCAN VERSIONCOMMANDS VERSION END SHUTDOWN MULTISCAN FILDES STATS "
	    "IDSESSION INSTREAM ALLMATCHSCAN AVWINSTREAM";
}

int sup_clamd_parse(const char *buf, size_t len, struct sup_cmd_req *req)
{
	size_t start = 0, end;
	char term = '\n';
	int legacy = 1;
	const char *t;

	memset(req, 0, sizeof(*req));
	if (len == 0)
		return 0;
	if (buf[0] == 'z' || buf[0] == 'n') {
		term = buf[0] == 'z' ? '\0' : '\n';
		start = 1;
		legacy = 0;
	}
	t = memchr(buf + start, term, len - start);
	if (legacy) {
		/* clamd's legacy framing: the first '\n' or '\0' ends it... */
		const char *nul = memchr(buf, '\0', t != NULL ? (size_t)(t - buf) : len);
		if (nul != NULL)
			t = nul;
		/* past the limit it is cut there, as clamd does */
		if (t != NULL && (size_t)(t - buf) + 1 > SUP_CLAMD_CMD_MAX)
			t = NULL;
	}
	if (t == NULL && legacy) {
		/* ...and without either, what has arrived is the command, at
		 * once: clients that send "PING" and wait are answered. Only a
		 * bare "FILDES" waits, as clamd's does: what comes next (its
		 * descriptor's byte) is part of it, so it is never FILDES. */
		if (len == 6 && memcmp(buf, "FILDES", 6) == 0)
			return 0;
		end = len < SUP_CLAMD_CMD_MAX ? len : SUP_CLAMD_CMD_MAX;
		req->consumed = end;
	} else if (t == NULL) {
		return len >= SUP_CLAMD_CMD_MAX ? -1 : 0;
	} else {
		end = (size_t)(t - buf);
		if (end + 1 > SUP_CLAMD_CMD_MAX)
			return -1;
		req->consumed = end + 1;
	}
	req->delim = legacy ? '\n' : term;
	req->legacy = legacy;
	/* Like clamd's chomp: a trailing CR (and newlines) are not part of it. */
	while (end > start && (buf[end - 1] == '\r' || buf[end - 1] == '\n'))
		end--;
	req->cmd = SUP_CMD_UNKNOWN;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		size_t n = strlen(commands[i].name);
		if (end - start < n || memcmp(buf + start, commands[i].name, n) != 0 ||
		    (legacy && !commands[i].legacy_ok))
			continue;
		if (end - start == n) {
			if (commands[i].arg == ARG_REQUIRED)
				continue;   /* "SCAN" alone: unknown, as clamd says */
		} else if (commands[i].arg == ARG_NONE || buf[start + n] != ' ' || end - start == n + 1) {
			continue;
		} else {
			/* Everything after the one space, spaces included, as clamd. */
			req->arg_off = start + n + 1;
			req->arg_len = end - req->arg_off;
			if (memchr(buf + req->arg_off, '\0', req->arg_len) != NULL)
				continue;   /* a NUL inside a newline-ended path */
		}
		req->cmd = commands[i].cmd;
		break;
	}
	return 1;
}

void sup_instream_init(struct sup_instream *s, unsigned char *base, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
	s->cap = cap;
}

void sup_instream_next(const struct sup_instream *s, unsigned char **p, size_t *n)
{
	*p = s->base + s->len;
	if (s->chunk_left > 0)
		*n = (size_t)s->chunk_left + 4;  /* this chunk and the next header */
	else
		*n = 4 - s->hdr_have;
}

int sup_instream_feed(struct sup_instream *s, const unsigned char *src, size_t n)
{
	if (s->done)
		return SUP_INSTREAM_DONE;
	while (n > 0) {
		if (s->chunk_left > 0) {
			size_t take = n < s->chunk_left ? n : s->chunk_left;
			unsigned char *dst = s->base + s->len;
			if (dst != src)
				memmove(dst, src, take);
			s->len += take;
			s->chunk_left -= (uint32_t)take;
			s->fed += take;
			src += take;
			n -= take;
			continue;
		}
		size_t take = 4 - s->hdr_have;
		if (take > n)
			take = n;
		memcpy(s->hdr + s->hdr_have, src, take);
		s->hdr_have += (unsigned)take;
		src += take;
		n -= take;
		if (s->hdr_have < 4) {
			s->fed += take;
			break;
		}
		s->hdr_have = 0;
		uint32_t size = (uint32_t)s->hdr[0] << 24 | (uint32_t)s->hdr[1] << 16 |
		    (uint32_t)s->hdr[2] << 8 | (uint32_t)s->hdr[3];
		if (size == 0) {
			s->done = 1;
			s->fed += take;
			return SUP_INSTREAM_DONE;  /* bytes after the end are not consumed */
		}
		s->fed += take;
		if (size > s->cap - s->len) {
			s->refused = size;
			return SUP_INSTREAM_TOO_LARGE;
		}
		s->chunk_left = size;
	}
	return SUP_INSTREAM_MORE;
}

const char *sup_unscannable_name(int action)
{
	return action == SUP_UNSCANNABLE_TEMPFAIL ? "tempfail" : action == SUP_UNSCANNABLE_PASS ? "pass" : "reject";
}

int sup_unscannable_apply(int action, struct sup_verdict *v)
{
	if (v->status != IPC_UNSCANNABLE || action == SUP_UNSCANNABLE_REJECT)
		return 0;
	if (action == SUP_UNSCANNABLE_TEMPFAIL) {
		/* The reply names what was not scanned: "NAME ERROR". */
		v->status = IPC_ERROR;
		snprintf(v->reason, sizeof(v->reason), "%s", v->name);
	} else {
		v->status = IPC_CLEAN;
	}
	v->name[0] = '\0';
	return 1;
}

int sup_clamd_format_result(const struct sup_verdict *v, char delim, char *buf, size_t buflen)
{
	int n;

	switch (v->status) {
	case IPC_CLEAN:
		n = snprintf(buf, buflen, "stream: OK%c", delim);
		break;
	case IPC_INFECTED:
	case IPC_UNSCANNABLE:
		/* Unscannable is reported the way clamd's AlertExceedsMax does:
		 * as a heuristic FOUND, so the MTA refuses rather than accepts. */
		n = snprintf(buf, buflen, "stream: %s FOUND%c", v->name, delim);
		break;
	default:
		n = snprintf(buf, buflen, "stream: %s ERROR%c", v->reason[0] ? v->reason : "Unspecified error", delim);
		break;
	}
	if (n < 0 || (size_t)n >= buflen)
		return -1;
	return n;
}

size_t sup_unstuff(unsigned char *buf, size_t len)
{
	size_t r = 0, w = 0;
	int bol = 1;  /* at the beginning of a line */

	if (len >= 5 && memcmp(buf + len - 5, "\r\n.\r\n", 5) == 0)
		len -= 3;      /* keep the last line's CRLF, drop ".\r\n" */
	else if (len == 3 && memcmp(buf, ".\r\n", 3) == 0)
		return 0;      /* an empty message */
	while (r < len) {
		unsigned char ch = buf[r++];
		if (bol && ch == '.')
			ch = r < len ? buf[r++] : ch;   /* the stuffed dot goes */
		bol = ch == '\n';
		buf[w++] = ch;
	}
	return w;
}

int sup_clamd_format_path(const struct sup_verdict *v, const char *path, char *buf, size_t buflen)
{
	int n;

	switch (v->status) {
	case IPC_CLEAN:
		n = snprintf(buf, buflen, "%s: OK", path);
		break;
	case IPC_INFECTED:
	case IPC_UNSCANNABLE:
		n = snprintf(buf, buflen, "%s: %s FOUND", path, v->name);
		break;
	default:
		n = snprintf(buf, buflen, "%s: %s ERROR", path, v->reason[0] ? v->reason : "Unspecified error");
		break;
	}
	return n < 0 || (size_t)n >= buflen ? -1 : n;
}

int sup_avw_format_result(const struct sup_verdict *v, const char *engine, char delim, char *buf, size_t buflen)
{
	const char *info = v->status == IPC_ERROR ? v->reason : v->name;
	int n;

	n = snprintf(buf, buflen, "avw: %s %d %s %s%c", ipc_status_name(v->status), (int)v->engine_code,
	    engine, info[0] ? info : "-", delim);
	return n < 0 || (size_t)n >= buflen ? -1 : n;
}
