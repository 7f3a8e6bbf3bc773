/*
 * platform/plat.h: the thin layer between avwarden and the kernel.
 *
 * Logging ladder (fatal/fatalx, log_warn/log_warnx, log_info, log_debug),
 * EINTR-safe I/O, fd hygiene and the few Linux calls glibc does not wrap.
 * Nothing here knows about mail, ClamAV or the supervisor's state.
 */
#ifndef AVW_PLAT_H
#define AVW_PLAT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AVW_VERSION "0.1.0"

#define PLAT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PLAT_NORETURN __attribute__((noreturn))

enum plat_log_level { PLAT_LOG_DEBUG, PLAT_LOG_INFO, PLAT_LOG_WARN, PLAT_LOG_ERROR };

/*
 * Log lines look like
 *   2026-11-22T10:00:00.123Z warn worker_crash worker=3 pid=812 signal=SIGSEGV
 * "tag" is the process role (supervisor, host, worker) used on stderr only.
 */
void plat_log_init(const char *tag, int to_stderr);
/* Opens (or reopens, for logrotate) the scanner log; NULL closes it. 0 or -errno. */
int plat_log_open(const char *path);
/* Also sends every event to syslog(3), without the timestamp. */
void plat_log_syslog(const char *ident, int facility);
void plat_log(enum plat_log_level lvl, const char *event, const char *fmt, ...) PLAT_PRINTF(3, 4);
void plat_vlog(enum plat_log_level lvl, const char *event, const char *fmt, va_list ap) PLAT_PRINTF(3, 0);

/* "event" is a single word; the format gives the key=value fields. */
#define log_info(ev, ...) plat_log(PLAT_LOG_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) plat_log(PLAT_LOG_DEBUG, ev, __VA_ARGS__)
#define log_warnx(ev, ...) plat_log(PLAT_LOG_WARN, ev, __VA_ARGS__)
/* An error the process survives (a reload refused, a reply out of memory). */
#define log_errx(ev, ...) plat_log(PLAT_LOG_ERROR, ev, __VA_ARGS__)
void log_warn(const char *event, const char *fmt, ...) PLAT_PRINTF(2, 3); /* appends errno */
void fatal(const char *event, const char *fmt, ...) PLAT_PRINTF(2, 3) PLAT_NORETURN;  /* errno */
/* In a forked child: make fatal()/fatalx() use _exit(). */
void plat_exit_fast(int on);
void fatalx(const char *event, const char *fmt, ...) PLAT_PRINTF(2, 3) PLAT_NORETURN;

/*
 * The one EINTR loop: evaluates a syscall expression until it is not
 * interrupted; the value is the call's (errno set as it left it).
 */
#define PLAT_RETRY(expr) ({ __typeof__(expr) r_; do r_ = (expr); while (r_ == -1 && errno == EINTR); r_; })

/* I/O that retries EINTR and short transfers. Return 0 / -errno (write_all),
 * bytes read or -errno (read_full stops at EOF). */
int plat_write_all(int fd, const void *buf, size_t len);
ssize_t plat_read_full(int fd, void *buf, size_t len);

/* Close every descriptor >= lowfd except those listed in keep[]. */
int plat_close_fds_except(int lowfd, const int *keep, size_t nkeep);

/* From /proc: a process's parent pid (-1 if gone), its resident bytes (0). */
long plat_proc_ppid(pid_t pid);
/* The pid a pidfd refers to, in our pid namespace (its fdinfo's Pid:);
 * -1 when it is not a pidfd, its process is gone, or it lives in a pid
 * namespace we cannot see. */
long plat_pidfd_pid(int pidfd);
/* 1 once the pidfd's process has exited (reaped or not), 0 while it runs. */
int plat_pidfd_exited(int pidfd);
uint64_t plat_proc_rss(pid_t pid);

/* Monotonic clock in nanoseconds. */
uint64_t plat_now_ns(void);

/* Parses "25M", "512K", "1G", "1048576" into bytes; -1 on error or overflow. */
int plat_parse_size(const char *s, uint64_t *out);

/* Signal number to "SIGSEGV"; unknown numbers give "SIG?". */
const char *plat_signame(int sig);

/* systemd notify: sends "READY=1" etc. when NOTIFY_SOCKET is set; 0 if unset. */
int plat_sd_notify(const char *state);

#endif
