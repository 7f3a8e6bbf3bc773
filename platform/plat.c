/*
 * platform/plat.c: logging, EINTR-safe I/O and fd hygiene.
 *
 * Must never allocate on the logging path (it runs after fork in workers)
 * and never lose errno for the caller's "%m"-style reporting.
 */
#define _GNU_SOURCE
#include "plat.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_tag = "avwarden";
static int log_stderr = 1;
static int log_fd = -1;
static enum plat_log_level log_min = PLAT_LOG_INFO;
static int exit_fast;  /* forked children: no atexit handlers, no stdio flush */
static int log_syslog; /* also to syslog(3) */

void plat_exit_fast(int on)
{
	exit_fast = on;
}

static void PLAT_NORETURN die(void)
{
	if (exit_fast)
		_exit(1);
	exit(1);
}

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void plat_log_init(const char *tag, int to_stderr)
{
	log_tag = tag;
	log_stderr = to_stderr;
}

void plat_log_syslog(const char *ident, int facility)
{
	openlog(ident, LOG_PID | LOG_NDELAY, facility);
	log_syslog = 1;
}

int plat_log_open(const char *path)
{
	int fd = -1;

	if (path != NULL && path[0] != '\0') {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
		if (fd < 0)
			return -errno;
	}
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void plat_vlog(enum plat_log_level lvl, const char *event, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int saved = errno;
	int n, m, ts_len;

	if (lvl < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl], event);
	if (n < 0)
		n = 0;
	ts_len = (int)strcspn(line, " ") + 1;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* One event per line: fold any newline a field smuggled in. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	if (log_syslog) {
		/* syslog stamps the time itself; the level maps to a priority. */
		static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
		syslog(prio[lvl], "%.*s", n - ts_len, line + ts_len);
	}
	line[n++] = '\n';
	if (log_fd >= 0)
		(void)plat_write_all(log_fd, line, (size_t)n);
	/* With a log file, standard error (a journal, the MTA's log) gets only
	 * what needs attention, not one line per scan. */
	if (log_stderr && (log_fd < 0 || lvl >= PLAT_LOG_WARN)) {
		char pre[64];
		int p = snprintf(pre, sizeof(pre), "%s[%d]: ", log_tag, (int)getpid());
		if (p > 0)
			(void)plat_write_all(STDERR_FILENO, pre, (size_t)p);
		(void)plat_write_all(STDERR_FILENO, line, (size_t)n);
	}
	errno = saved;
}

void plat_log(enum plat_log_level lvl, const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	plat_vlog(lvl, event, fmt, ap);
	va_end(ap);
}

static void PLAT_PRINTF(4, 0) vlog_errno(enum plat_log_level lvl, const char *event, int err, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	plat_log(lvl, event, "%s error=\"%s\"", buf, strerror(err));
}

void log_warn(const char *event, const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	va_start(ap, fmt);
	vlog_errno(PLAT_LOG_WARN, event, err, fmt, ap);
	va_end(ap);
	errno = err;
}

void fatal(const char *event, const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	va_start(ap, fmt);
	vlog_errno(PLAT_LOG_ERROR, event, err, fmt, ap);
	va_end(ap);
	die();
}

void fatalx(const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	plat_vlog(PLAT_LOG_ERROR, event, fmt, ap);
	va_end(ap);
	die();
}

int plat_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = PLAT_RETRY(write(fd, p, len));
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t plat_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = PLAT_RETRY(read(fd, p + got, len - got));
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int plat_close_fds_except(int lowfd, const int *keep, size_t nkeep)
{
	/* close_range() between the kept fds: no allocation, no /proc needed. */
	unsigned int next = (unsigned int)lowfd;
	int sorted[16];
	size_t n = 0;

	if (nkeep > 16)
		return -EINVAL;
	for (size_t i = 0; i < nkeep; i++)
		if (keep[i] >= lowfd)
			sorted[n++] = keep[i];
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			int t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (size_t i = 0; i <= n; i++) {
		unsigned int end = i < n ? (unsigned int)sorted[i] : ~0U;
		if (end > next && syscall(SYS_close_range, next, end - 1, 0) < 0)
			return -errno;
		if (i < n)
			next = (unsigned int)sorted[i] + 1;
	}
	return 0;
}

long plat_proc_ppid(pid_t pid)
{
	char path[64], line[128];
	long ppid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "PPid: %ld", &ppid) == 1)
			break;
	fclose(f);
	return ppid;
}

long plat_pidfd_pid(int pidfd)
{
	char path[64], line[128];
	long pid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Pid: %ld", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

int plat_pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return PLAT_RETRY(poll(&p, 1, 0)) == 1 && (p.revents & POLLIN) ? 1 : 0;
}

uint64_t plat_proc_rss(pid_t pid)
{
	char path[64];
	unsigned long long size = 0, resident = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

uint64_t plat_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int plat_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	default: return -1;
	}
	if (*end != '\0' || (v != 0 && mul > UINT64_MAX / v))
		return -1;
	*out = (uint64_t)v * mul;
	return 0;
}

const char *plat_signame(int sig)
{
	static const struct { int n; const char *s; } t[] = {
		{ SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" },
		{ SIGILL, "SIGILL" }, { SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" },
		{ SIGBUS, "SIGBUS" }, { SIGFPE, "SIGFPE" }, { SIGKILL, "SIGKILL" },
		{ SIGUSR1, "SIGUSR1" }, { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
		{ SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" },
		{ SIGXCPU, "SIGXCPU" }, { SIGXFSZ, "SIGXFSZ" }, { SIGSYS, "SIGSYS" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].n == sig)
			return t[i].s;
	return "SIG?";
}

int plat_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t plen;
	socklen_t salen;
	int fd, rc = 0;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;
	plen = strlen(path);
	if (plen >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, plen);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';  /* abstract namespace */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
