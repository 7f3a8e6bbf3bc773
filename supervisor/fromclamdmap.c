/*
 * supervisor/fromclamdmap.c: the clamd options avwarden has keys for, and
 * the keys they become (see fromclamdint.h). Units are converted here
 * (clamd's MaxScanTime and SendBufTimeout are milliseconds, avwarden counts
 * seconds; clamd's MaxQueue counts the scans running, avwarden's does not).
 * Where the clamd.conf leaves an option unset, clamd's default is carried
 * over, not avwarden's: the MTA should see the clamd it saw.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fromclamdint.h"

#ifndef AVW_SCANNER_DEFAULT
#define AVW_SCANNER_DEFAULT "/usr/local/libexec/avwarden/avwarden-scanner"
#endif

#define MAX_LISTEN 32
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

struct listen_list {
	char e[MAX_LISTEN][160];
	size_t n;
};

static void add_entry(struct listen_list *l, const char *entry)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->e[i], entry) == 0)
			return;
	if (l->n < MAX_LISTEN)
		snprintf(l->e[l->n++], sizeof(l->e[0]), "%s", entry);
}

/* A name owner= and group= take. */
static int plain_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 64 && strspn(s, NAME_CHARS) == n;
}

static void socket_extras_unused(struct sup_fc *f, const char *why)
{
	struct sup_cc_setting *s;

	if ((s = sup_fc_get(f, "LocalSocketMode")) != NULL)
		sup_fc_noeffect(s, "%s", why);
	if ((s = sup_fc_get(f, "LocalSocketGroup")) != NULL)
		sup_fc_noeffect(s, "%s", why);
}

/* LocalSocketMode as clamd applies it: octal, read and write bits only. -1: clamd refuses it. */
static int socket_mode(struct sup_fc *f, unsigned *mode)
{
	struct sup_cc_setting *s = sup_fc_get(f, "LocalSocketMode");
	char *end;
	long v;

	*mode = 0666;  /* clamd's: every local user may connect */
	if (s == NULL)
		return 0;
	errno = 0;
	v = strtol(s->value, &end, 8);
	if (*end != '\0' || errno != 0)
		return sup_fc_fail(f, s->line, "LocalSocketMode %s: not an octal mode; clamd refuses it too", s->value);
	*mode = (unsigned)v & 0666;
	if ((*mode & 0600) != 0600) {
		sup_fc_note(f, "%s:%d: LocalSocketMode %s: avwarden also gives the socket's owner read and write: 0%03o",
		    f->c->path, s->line, s->value, *mode | 0600);
		*mode |= 0600;
	}
	return 0;
}

/* LocalSocket, its mode and group, and User, who owned it: one unix entry. */
static int unix_entry(struct sup_fc *f, struct listen_list *l)
{
	struct sup_cc_setting *ls = sup_fc_get(f, "LocalSocket"), *grp = sup_fc_get(f, "LocalSocketGroup");
	struct sup_cc_setting *user = sup_fc_get(f, "User");
	char entry[160], src[200], src2[200];
	unsigned mode;
	int n;

	if (ls == NULL) {
		socket_extras_unused(f, "LocalSocket is not set");
		return 0;
	}
	if (ls->value[0] != '/' || strpbrk(ls->value, " \t\"'\\") != NULL || strlen(ls->value) > 99) {
		sup_fc_left(ls, "avwarden's listen entries take an absolute path of at most 99 bytes, "
		    "without blanks, quotes or backslashes");
		socket_extras_unused(f, "LocalSocket is not carried over");
		return 0;
	}
	if (socket_mode(f, &mode) < 0)
		return -1;
	n = snprintf(entry, sizeof(entry), "unix:%s mode=0%03o", ls->value, mode);
	sup_fc_comment(f, "%s, %s.", sup_fc_src(f, "LocalSocket", src, sizeof(src)),
	    sup_fc_src(f, "LocalSocketMode", src2, sizeof(src2)));
	if (user != NULL && strcmp(user->value, "root") != 0 && plain_name(user->value)) {
		n += snprintf(entry + n, sizeof(entry) - (size_t)n, " owner=%s", user->value);
		user->status = CC_TO_KEY;
		user->key = "listen (owner=)";
		sup_fc_comment(f, "clamd made the socket as its User, %s, so it owns it here too (and its group, "
		    "unless LocalSocketGroup says otherwise).", user->value);
	} else {
		sup_fc_comment(f, "clamd ran as root (User %s), so the socket stays root's.",
		    user != NULL ? user->value : "not set");
	}
	if (grp != NULL && plain_name(grp->value)) {
		snprintf(entry + n, sizeof(entry) - (size_t)n, " group=%s", grp->value);
		sup_fc_comment(f, "LocalSocketGroup %s: the socket's group.", grp->value);
		sup_fc_took(f, "LocalSocketGroup", "listen");
	} else if (grp != NULL) {
		sup_fc_left(grp, "not a group name avwarden's listen entries take");
	}
	sup_fc_comment(f, "Its directory must exist when avwarden starts (clamd's package or systemd's socket "
	    "unit made it before; see the README, \"Switching from clamd\").");
	add_entry(l, entry);
	sup_fc_took(f, "LocalSocket", "listen");
	sup_fc_took(f, "LocalSocketMode", "listen");
	return 0;
}

static int loopback(const char *a)
{
	return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0;
}

/* One TCPAddr, resolved now as clamd resolved it at start: an entry per address. */
static void tcp_addr(struct sup_fc *f, struct listen_list *l, struct sup_cc_setting *s, unsigned port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	char host[NI_MAXHOST], entry[160], got[400] = "";
	int rc = getaddrinfo(s->value, NULL, &hints, &res), open = 0;

	if (rc != 0) {
		sup_fc_left(s, "cannot resolve it now (%s); avwarden's listen entries take addresses only",
		    gai_strerror(rc));
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0 ||
		    strchr(host, '%') != NULL)
			continue;  /* a scoped IPv6 address: listen entries cannot say it */
		snprintf(entry, sizeof(entry), ai->ai_family == AF_INET6 ? "tcp:[%s]:%u" : "tcp:%s:%u", host, port);
		add_entry(l, entry);
		open |= !loopback(host);
		if (strstr(got, host) == NULL && strlen(got) + strlen(host) + 3 < sizeof(got))
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", got[0] ? ", " : "", host);
	}
	freeaddrinfo(res);
	if (got[0] == '\0') {
		sup_fc_left(s, "resolves to no address avwarden's listen entries can take");
		return;
	}
	sup_fc_comment(f, "TCPAddr %s%s%s%s", s->value, strcmp(got, s->value) ? " (resolved now: " : "",
	    strcmp(got, s->value) ? got : "", strcmp(got, s->value) ? ")" : "");
	if (open)
		sup_fc_comment(f, "Any host that reaches this address can scan, RELOAD and SHUTDOWN, as with clamd: "
		    "add allow=NETWORK/BITS to the entry to limit it.");
	s->status = CC_TO_KEY;
	s->key = "listen";
}

/* TCPSocket on each TCPAddr, or on every address as clamd does without one. */
static void tcp_entries(struct sup_fc *f, struct listen_list *l)
{
	struct sup_cc_setting *tcp = sup_fc_get(f, "TCPSocket");
	char entry[160];
	int addrs = 0;

	for (size_t i = 0; i < f->c->n; i++) {
		struct sup_cc_setting *s = &f->c->s[i];
		if (s->opt == NULL || strcmp(s->opt->name, "TCPAddr") != 0)
			continue;
		addrs++;
		if (tcp == NULL)
			sup_fc_noeffect(s, "TCPSocket is not set");
		else if (tcp->num < 1 || tcp->num > 65535)
			sup_fc_noeffect(s, "TCPSocket is not carried over");
		else
			tcp_addr(f, l, s, (unsigned)tcp->num);
	}
	if (tcp == NULL)
		return;
	if (tcp->num < 1 || tcp->num > 65535) {
		sup_fc_left(tcp, "not a TCP port (1 to 65535)");
		return;
	}
	sup_fc_comment(f, "TCPSocket %s.", tcp->value);
	if (addrs == 0) {
		sup_fc_comment(f, "TCPAddr not set: clamd listens on every address, IPv4 and IPv6, and so does this. "
		    "Any host that reaches it can scan, RELOAD and SHUTDOWN: add allow=NETWORK/BITS to the "
		    "entries, or listen on 127.0.0.1 only.");
		snprintf(entry, sizeof(entry), "tcp:0.0.0.0:%u", (unsigned)tcp->num);
		add_entry(l, entry);
		snprintf(entry, sizeof(entry), "tcp:[::]:%u", (unsigned)tcp->num);
		add_entry(l, entry);
	}
	sup_fc_took(f, "TCPSocket", "listen");
}

int sup_fc_map_sockets(struct sup_fc *f)
{
	struct listen_list l = { .n = 0 };

	sup_fc_section(f, "Sockets: where the MTA connects");
	if (unix_entry(f, &l) < 0)
		return -1;
	tcp_entries(f, &l);
	if (l.n == 0) {
		sup_fc_note(f, "%s: no LocalSocket or TCPSocket carried over (clamd then serves only a socket systemd "
		    "hands it, as Debian's clamav-daemon.socket: /run/clamav/clamd.ctl); listen is avwarden's "
		    "default: set it to the socket your MTA uses", f->c->path);
		sup_fc_comment(f, "No socket carried over: avwarden's default. Set it to what your MTA uses.");
		add_entry(&l, "unix:/run/avwarden/clamd.sock");
	}
	fprintf(f->body, "listen = {");
	for (size_t i = 0; i < l.n; i++)
		fprintf(f->body, "%s \"%s\"", i == 0 ? "" : ",\n          ", l.e[i]);
	fprintf(f->body, " }\n");
	return 0;
}

/* Seconds avwarden can take (1 to 3600) for a clamd value; 0 is "no limit" in clamd. */
static unsigned seconds(struct sup_fc *f, const char *name, const char *key, uint64_t v)
{
	const struct sup_cc_setting *s = sup_fc_get(f, name);
	char at[300];

	if (v == 0 || v > 3600) {
		sup_fc_note(f, "%s: %s %s: avwarden needs 1 to 3600 seconds; %s = 3600",
		    sup_fc_at(f, name, at, sizeof(at)), name, s != NULL ? s->value : "", key);
		return 3600;
	}
	return (unsigned)v;
}

static void map_timeouts(struct sup_fc *f)
{
	char src[200];
	int nl;
	uint64_t rt = sup_fc_num(f, "ReadTimeout", &nl), crt = sup_fc_num(f, "CommandReadTimeout", &nl);
	uint64_t sbt = sup_fc_num(f, "SendBufTimeout", &nl);

	sup_fc_comment(f, "%s: seconds between reads of a stream.", sup_fc_src(f, "ReadTimeout", src, sizeof(src)));
	sup_fc_key(f, "read_timeout", "%u", seconds(f, "ReadTimeout", "read_timeout", rt));
	sup_fc_comment(f, "%s: seconds to wait for a whole command.",
	    sup_fc_src(f, "CommandReadTimeout", src, sizeof(src)));
	sup_fc_key(f, "command_read_timeout", "%u", seconds(f, "CommandReadTimeout", "command_read_timeout", crt));
	sup_fc_comment(f, "%s: milliseconds clamd waited on a full send buffer; avwarden counts whole seconds "
	    "for a reply to reach a client that does not read it.", sup_fc_src(f, "SendBufTimeout", src, sizeof(src)));
	sup_fc_key(f, "write_timeout", "%u",
	    sbt == 0 ? 1 : seconds(f, "SendBufTimeout", "write_timeout", (sbt + 999) / 1000));
	sup_fc_took(f, "ReadTimeout", "read_timeout");
	sup_fc_took(f, "CommandReadTimeout", "command_read_timeout");
	sup_fc_took(f, "SendBufTimeout", "write_timeout");
}

/* MaxScanTime (milliseconds; 0: no limit) as max_extract_time's seconds, below timeout. */
static unsigned scan_seconds(const struct sup_fc *f)
{
	int nl;
	uint64_t ms = sup_fc_num(f, "MaxScanTime", &nl);

	if (ms == 0 || ms > 3590000)
		return 3590;
	return (unsigned)((ms + 999) / 1000);
}

void sup_fc_map_load(struct sup_fc *f)
{
	char src[200];
	int nl;
	uint64_t th = sup_fc_num(f, "MaxThreads", &nl), q = sup_fc_num(f, "MaxQueue", &nl);
	unsigned mc = th < 1 ? 1 : th > 256 ? 256 : (unsigned)th, t = scan_seconds(f) + 10;
	uint64_t mq = q > mc ? q - mc : 0;

	sup_fc_section(f, "Load and time");
	sup_fc_comment(f, "%s: scans at once, a sandboxed worker each (and as many spares, forked ahead).",
	    sup_fc_src(f, "MaxThreads", src, sizeof(src)));
	if (th != mc)
		sup_fc_note(f, "%s: MaxThreads %llu: avwarden runs 1 to 256 scans at once; max_concurrency = %u",
		    sup_fc_at(f, "MaxThreads", src, sizeof(src)), (unsigned long long)th, mc);
	sup_fc_key(f, "max_concurrency", "%u", mc);
	sup_fc_comment(f, "%s counts the scans running too; avwarden's max_queue counts only those waiting "
	    "(past it a request is answered at once, \"queue full\" ERROR, a tempfail).",
	    sup_fc_src(f, "MaxQueue", src, sizeof(src)));
	sup_fc_key(f, "max_queue", "%llu", (unsigned long long)(mq > 100000 ? 100000 : mq));
	sup_fc_comment(f, "No clamd option: avwarden itself stops a scan after timeout seconds (\"scan timed out\" "
	    "ERROR), and a queued request waits at most that long; it must be above max_extract_time "
	    "(MaxScanTime), so it is MaxScanTime + 10 s.%s", t + 5 > 90 ? " Under systemd, raise the unit's "
	    "TimeoutStopSec (90 s) above timeout + 5 s, so a stop lets the last scans finish." : "");
	sup_fc_key(f, "timeout", "%u", t);
	map_timeouts(f);
	sup_fc_took(f, "MaxThreads", "max_concurrency");
	sup_fc_took(f, "MaxQueue", "max_queue");
}

/* A size key: clamd's 0 ("no limit") becomes big, anything past cap (0: none) becomes cap. */
static uint64_t size_key(struct sup_fc *f, const char *name, const char *key, uint64_t cap, uint64_t big,
    const char *what)
{
	char src[200], sz[32];
	int nolimit;
	uint64_t v = sup_fc_num(f, name, &nolimit);

	sup_fc_comment(f, "%s: %s.", sup_fc_src(f, name, src, sizeof(src)), what);
	if (nolimit || (cap != 0 && v > cap)) {
		v = nolimit ? big : cap;
		sup_fc_size(v, sz, sizeof(sz));
		sup_fc_comment(f, "%s; avwarden's %s goes to %s.",
		    nolimit ? "No limit in clamd" : "Past what avwarden takes", key, sz);
		sup_fc_note(f, "%s: %s %s: %s; %s = \"%s\"", sup_fc_at(f, name, src, sizeof(src)), name,
		    sup_fc_get(f, name)->value, nolimit ? "no limit in clamd" : "more than avwarden takes", key, sz);
	}
	sup_fc_size(v, sz, sizeof(sz));
	sup_fc_key(f, key, "\"%s\"", sz);
	sup_fc_took(f, name, key);
	return v;
}

static unsigned count_key(struct sup_fc *f, const char *name, const char *key, unsigned cap, const char *what)
{
	char src[200];
	int nl;
	uint64_t v = sup_fc_num(f, name, &nl);

	sup_fc_comment(f, "%s: %s.", sup_fc_src(f, name, src, sizeof(src)), what);
	if (v == 0 || v > cap) {
		sup_fc_comment(f, "%s; avwarden's %s goes to %u, its largest.",
		    v == 0 ? "No limit in clamd" : "More than avwarden takes", key, cap);
		sup_fc_note(f, "%s: %s %s: %s; %s = %u", sup_fc_at(f, name, src, sizeof(src)), name,
		    sup_fc_get(f, name)->value, v == 0 ? "no limit in clamd" : "more than avwarden takes", key, cap);
		v = cap;
	}
	sup_fc_key(f, key, "%u", (unsigned)v);
	sup_fc_took(f, name, key);
	return (unsigned)v;
}

void sup_fc_map_limits(struct sup_fc *f)
{
	char src[200], sz[32];
	uint64_t msg;

	sup_fc_section(f, "Limits: content past them is never answered OK");
	msg = size_key(f, "StreamMaxLength", "max_message_size", 4ull << 30, 4ull << 30,
	    "the largest stream (INSTREAM) accepted");
	size_key(f, "MaxFileSize", "max_extract_size", 0, 4ull << 30,
	    "the largest file scanned, inside an archive or not");
	size_key(f, "MaxScanSize", "max_cumulative_extract_size", 0, 4ull << 30,
	    "bytes scanned per message, unpacked ones counted");
	count_key(f, "MaxRecursion", "max_extract_depth", 100, "archives within archives");
	count_key(f, "MaxFiles", "max_file_count", 1000000, "files per message");
	sup_fc_comment(f, "%s: milliseconds in clamd, seconds in avwarden (rounded up).",
	    sup_fc_src(f, "MaxScanTime", src, sizeof(src)));
	sup_fc_key(f, "max_extract_time", "%u", scan_seconds(f));
	sup_fc_took(f, "MaxScanTime", "max_extract_time (and timeout)");
	if (msg + (16ull << 20) > (1ull << 30)) {
		sup_fc_size(msg + (1ull << 30), sz, sizeof(sz));
		sup_fc_comment(f, "A worker maps the whole message: its memory limit must exceed max_message_size.");
		sup_fc_key(f, "max_worker_memory", "\"%s\"", sz);
	}
	if (msg > (2ull << 30)) {
		sup_fc_size(msg, sz, sizeof(sz));
		sup_fc_comment(f, "Memory for messages held at once, all clients: at least one message.");
		sup_fc_key(f, "max_message_memory", "\"%s\"", sz);
	}
}

void sup_fc_map_database(struct sup_fc *f)
{
	struct sup_cc_setting *dd = sup_fc_get(f, "DatabaseDirectory"), *dc = sup_fc_get(f, "DisableCache");
	char src[200], q[300];
	int nl;
	uint64_t sc = sup_fc_num(f, "SelfCheck", &nl);

	sup_fc_section(f, "Signatures");
	sup_fc_comment(f, "%s.", sup_fc_src(f, "DatabaseDirectory", src, sizeof(src)));
	if (dd != NULL && dd->value[0] != '/') {
		sup_fc_left(dd, "avwarden needs an absolute path; database stays /var/lib/clamav");
		sup_fc_quote("/var/lib/clamav", q, sizeof(q));
	} else {
		sup_fc_quote(dd != NULL ? dd->value : "/var/lib/clamav", q, sizeof(q));
		sup_fc_took(f, "DatabaseDirectory", "database");
	}
	sup_fc_key(f, "database", "%s", q);
	sup_fc_comment(f, "%s: seconds between checks for a changed database (freshclam's updates), "
	    "which then loads beside the serving one; 0: never.", sup_fc_src(f, "SelfCheck", src, sizeof(src)));
	if (sc > 86400)
		sup_fc_note(f, "%s: SelfCheck %llu: avwarden checks at least once a day; update_interval = 86400",
		    sup_fc_at(f, "SelfCheck", src, sizeof(src)), (unsigned long long)sc);
	sup_fc_key(f, "update_interval", "%llu", (unsigned long long)(sc > 86400 ? 86400 : sc));
	sup_fc_took(f, "SelfCheck", "update_interval");
	if (dc != NULL && dc->num) {
		sup_fc_comment(f, "DisableCache %s: no verdict is answered from memory.", dc->value);
		sup_fc_key(f, "cache_size", "0");
		sup_fc_took(f, "DisableCache", "cache_size");
	} else if (dc != NULL) {
		sup_fc_comment(f, "DisableCache %s: avwarden's verdict cache is on (cache_size, its default).",
		    dc->value);
		sup_fc_took(f, "DisableCache", "cache_size");
	}
}

static const char *facility(const char *clamd)
{
	static const char *const t[][2] = {
		{ "LOG_MAIL", "mail" }, { "LOG_DAEMON", "daemon" }, { "LOG_USER", "user" },
		{ "LOG_LOCAL0", "local0" }, { "LOG_LOCAL1", "local1" }, { "LOG_LOCAL2", "local2" },
		{ "LOG_LOCAL3", "local3" }, { "LOG_LOCAL4", "local4" }, { "LOG_LOCAL5", "local5" },
		{ "LOG_LOCAL6", "local6" }, { "LOG_LOCAL7", "local7" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(clamd, t[i][0]) == 0)
			return t[i][1];
	return NULL;
}

void sup_fc_map_logging(struct sup_fc *f)
{
	struct sup_cc_setting *lf = sup_fc_get(f, "LogFile"), *fac = sup_fc_get(f, "LogFacility");
	const char *avwfac = facility(fac != NULL ? fac->value : "LOG_LOCAL6");
	char src[200], q[300];

	sup_fc_section(f, "Logging");
	sup_fc_comment(f, "%s.", sup_fc_src(f, "LogFile", src, sizeof(src)));
	if (lf == NULL) {
		sup_fc_comment(f, "Events go to standard error (the journal, under systemd).");
		sup_fc_key(f, "scanner_log", "\"\"");
	} else if (lf->value[0] != '/') {
		sup_fc_left(lf, "avwarden needs an absolute path; its events go to standard error");
		sup_fc_key(f, "scanner_log", "\"\"");
	} else {
		sup_fc_comment(f, "avwarden writes its own event lines there, not clamd's. A logrotate entry for "
		    "this file from clamd's package signals clamd after rotating it: make its postrotate "
		    "run avwardenctl reopen-logs, or log to /var/log/avwarden/scanner.log, which avwarden's "
		    "own logrotate file rotates.");
		sup_fc_quote(lf->value, q, sizeof(q));
		sup_fc_key(f, "scanner_log", "%s", q);
		sup_fc_took(f, "LogFile", "scanner_log");
	}
	sup_fc_comment(f, "%s.", sup_fc_src(f, "LogSyslog", src, sizeof(src)));
	sup_fc_key(f, "syslog", "%s", sup_cc_bool(f->c, "LogSyslog") ? "true" : "false");
	sup_fc_took(f, "LogSyslog", "syslog");
	sup_fc_comment(f, "%s.", sup_fc_src(f, "LogFacility", src, sizeof(src)));
	if (avwfac == NULL) {
		sup_fc_left(fac, "avwarden logs to mail, daemon, user or local0 to local7; syslog_facility stays mail");
		avwfac = "mail";
	} else {
		sup_fc_took(f, "LogFacility", "syslog_facility");
	}
	sup_fc_key(f, "syslog_facility", "\"%s\"", avwfac);
}

/* The scanner beside this very avwarden (a build tree: 1), else the installed one (0). */
static int scanner_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			snprintf(buf, len, "%.*s/avwarden-scanner", (int)(slash - self), self);
			if (access(buf, X_OK) == 0)
				return 1;
		}
	}
	snprintf(buf, len, "%s", AVW_SCANNER_DEFAULT);
	return 0;
}

void sup_fc_map_scanners(struct sup_fc *f)
{
	struct sup_cc_setting *user = sup_fc_get(f, "User");
	char path[PATH_MAX], q[PATH_MAX + 8];

	sup_fc_section(f, "The scanners");
	if (user == NULL || strcmp(user->value, "root") == 0) {
		sup_fc_comment(f, "User %s: clamd ran as root; avwarden never runs its scanners as root.",
		    user != NULL ? user->value : "not set");
		if (user != NULL)
			sup_fc_left(user, "avwarden's scanners never run as root: user = \"avwarden\"");
	} else {
		sup_fc_comment(f, "User %s: clamd ran as it. avwarden's scanners run as an account of their own, "
		    "which owns nothing (make install creates it): %s may own the database freshclam writes.",
		    user->value, user->value);
		if (user->status == CC_TO_KEY)
			sup_fc_note(f, "%s:%d: User %s: the socket keeps %s as its owner; the scanners run as "
			    "user = \"avwarden\", an account of their own", f->c->path, user->line, user->value,
			    user->value);
		else
			sup_fc_left(user, "avwarden's scanners run as user = \"avwarden\", an account of their own");
	}
	sup_fc_key(f, "user", "\"avwarden\"");
	if (scanner_path(path, sizeof(path)))
		sup_fc_comment(f, "No clamd option: the scanner program, the one beside the avwarden that wrote "
		    "this file (make install puts it in %s).", AVW_SCANNER_DEFAULT);
	else
		sup_fc_comment(f, "No clamd option: the scanner program%s.",
		    access(path, X_OK) == 0 ? "" : " (not installed yet: make install puts it there)");
	sup_fc_quote(path, q, sizeof(q));
	sup_fc_key(f, "scanner_path", "%s", q);
	sup_fc_comment(f, "No clamd option: avwardenctl's socket (mode 0600).");
	sup_fc_key(f, "control_socket", "\"/run/avwarden/control.sock\"");
}
