/*
 * supervisor/hostlink.c: the scanner host process (see hostlink.h).
 */
#define _GNU_SOURCE
#include "hostlink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stats.h"
#include "../privileges/priv.h"

/*
 * libclamav's messages from a host: at most this many a second (a hostile
 * or broken host once wrote 157,000 in 4 s); the rest are counted, and one
 * line a second says how many.
 */
#define HOST_LOG_PER_S 50
/* Where the kernel has no pidfds (valgrind), the pid alone. */
#define PIDFD_NONE (-2)

static void host_readable(uv_poll_t *p, int status, int events);
/* Records are read until none is pending; a host that floods is still cut
 * off per turn, so the loop serves clients in between. */
#define HOST_RECORDS_PER_TURN 64
static void err_drain(struct sup_host *h);
static void err_close(struct sup_host *h);
static void err_readable(uv_poll_t *p, int status, int events);

static void handle_closed(uv_handle_t *hd)
{
	struct sup_host *h = hd->data;

	h->handles--;
	h->ops->handle_closed(h);
}

static void exit_reason(struct sup_host *h, int64_t exit_status, int term_signal, char *out, size_t len)
{
	if (h->fatal[0] != '\0')
		snprintf(out, len, "%s", h->fatal);
	else if (term_signal)
		snprintf(out, len, "scanner host killed by %s", plat_signame(term_signal));
	else
		snprintf(out, len, "scanner host exited with status %d", (int)exit_status);
}

static int host_record(struct sup_host *h, struct ipc_msg *m, int passed);

/* The records a host wrote just before it died (a sandbox violation, a
 * fatal error) may still be queued when its exit is seen: read them first,
 * so the reason given is the host's own.  Only its last words count now;
 * anything else it queued is dropped with its descriptors. */
static void ctl_last_words(struct sup_host *h)
{
	char err[160];
	struct ipc_msg m;

	if (h->ctl < 0)
		return;
	for (int i = 0; i < HOST_RECORDS_PER_TURN; i++) {
		int fds[IPC_SPAWN_FDS];
		if (ipc_msg_recv(h->ctl, IPC_MSG_TO_SUP, &m, fds, err, sizeof(err)) <= 0)
			return;
		if (m.type == IPC_MSG_FATAL || m.type == IPC_MSG_LOG)
			(void)host_record(h, &m, -1);
		for (int k = 0; k < IPC_SPAWN_FDS; k++)
			if (fds[k] >= 0)
				close(fds[k]);
	}
}

static void exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct sup_host *h = proc->data;
	char reason[IPC_TEXT_MAX];

	ctl_last_words(h);
	exit_reason(h, exit_status, term_signal, reason, sizeof(reason));
	h->state = H_EXITED;
	err_drain(h);  /* its last words, written before it exited */
	err_close(h);
	if (h->poll_open) {
		(void)uv_poll_stop(&h->poll);
		uv_close((uv_handle_t *)&h->poll, handle_closed);
		h->poll_open = 0;
	}
	if (h->ctl >= 0)
		close(h->ctl);
	h->ctl = -1;
	uv_close((uv_handle_t *)&h->proc, handle_closed);
	h->proc_open = 0;
	h->ops->exited(h, reason);
}

/* The host's command line: every engine limit, as the config sets it. */
static void build_args(const struct sup_config *c, char **args, char bufs[][32])
{
	size_t a = 0;

	snprintf(bufs[0], 32, "%" PRIu64, c->scanner_tmp_size);
	snprintf(bufs[1], 32, "%" PRIu64, c->max_extract_size);
	snprintf(bufs[2], 32, "%" PRIu64, c->max_cumulative_extract_size);
	snprintf(bufs[3], 32, "%u", c->max_extract_depth);
	snprintf(bufs[4], 32, "%u", c->max_file_count);
	snprintf(bufs[5], 32, "%u", c->max_extract_time * 1000);
	snprintf(bufs[6], 32, "%" PRIu64, c->max_worker_memory);
	snprintf(bufs[7], 32, "%u", c->max_concurrency + c->spare_workers);
	args[a++] = c->scanner_path;
	args[a++] = "--database";
	args[a++] = c->database;
	args[a++] = "--tmp-size";
	args[a++] = bufs[0];
	args[a++] = "--max-filesize";
	args[a++] = bufs[1];
	args[a++] = "--max-scansize";
	args[a++] = bufs[2];
	args[a++] = "--max-recursion";
	args[a++] = bufs[3];
	args[a++] = "--max-files";
	args[a++] = bufs[4];
	args[a++] = "--max-scantime";
	args[a++] = bufs[5];
	args[a++] = "--worker-memory";
	args[a++] = bufs[6];
	args[a++] = "--slots";
	args[a++] = bufs[7];
	args[a] = NULL;
}

/* Carries out step 1's plan through uv_spawn: identity, environment, and
 * descriptors 0-2 plus the control socket at IPC_HOST_FD, nothing else. */
static int spawn(struct sup_host *h, uv_loop_t *loop, const struct sup_config *c,
    const struct priv_spawn_plan *plan, int child_ctl, int child_err)
{
	char bufs[8][32], *args[24];
	uv_stdio_container_t stdio[IPC_HOST_FD + 1];
	uv_process_options_t o;

	build_args(c, args, bufs);
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_IGNORE;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = child_err;
	stdio[IPC_HOST_FD].flags = UV_INHERIT_FD;
	stdio[IPC_HOST_FD].data.fd = child_ctl;
	memset(&o, 0, sizeof(o));
	o.file = c->scanner_path;
	o.args = args;
	o.env = (char **)plan->env;
	o.cwd = "/";
	o.stdio = stdio;
	o.stdio_count = plan->nfds;
	o.exit_cb = exit_cb;
	if (plan->setid) {
		o.flags = UV_PROCESS_SETUID | UV_PROCESS_SETGID;
		o.uid = plan->uid;
		o.gid = plan->gid;
	}
	h->proc.data = h;
	return uv_spawn(loop, &h->proc, &o);
}

int sup_host_start(struct sup_host *h, uv_loop_t *loop, const struct sup_config *c,
    const struct priv_spawn_plan *plan, const char *why, char *err, size_t errlen)
{
	struct ipc_start start = { .nofile = plan->limits.nofile };
	int sp[2], ep[2], rc;

	h->ctl = -1;
	h->err_fd = -1;
	h->started_ns = plat_now_ns();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create the scanner's control socket: %s", strerror(errno));
		return rc;
	}
	if (pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create the scanner's stderr pipe: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return rc;
	}
	rc = spawn(h, loop, c, plan, sp[1], ep[1]);
	close(sp[1]);
	close(ep[1]);
	if (rc < 0) {
		close(sp[0]);
		close(ep[0]);
		snprintf(err, errlen, "cannot execute scanner_path %s: %s", c->scanner_path, uv_strerror(rc));
		/* uv_spawn initialised the handle even so: it must be closed. */
		h->handles++;
		uv_close((uv_handle_t *)&h->proc, handle_closed);
		return rc;
	}
	h->proc_open = 1;
	h->handles++;
	h->pid = h->proc.pid;
	h->ctl = sp[0];
	h->state = H_STARTING;
	h->log_tokens = HOST_LOG_PER_S;
	h->log_window_ns = h->started_ns;
	if ((rc = uv_poll_init(loop, &h->poll, h->ctl)) == 0) {
		h->poll.data = h;
		h->poll_open = 1;
		h->handles++;
		rc = uv_poll_start(&h->poll, UV_READABLE | UV_DISCONNECT, host_readable);
	}
	h->err_fd = ep[0];
	h->err_len = 0;
	if (rc == 0 && (rc = uv_poll_init(loop, &h->err_poll, h->err_fd)) == 0) {
		h->err_poll.data = h;
		h->err_poll_open = 1;
		h->handles++;
		rc = uv_poll_start(&h->err_poll, UV_READABLE, err_readable);
	}
	if (rc < 0)
		sup_host_misbehaved(h, "cannot watch its control socket: %s", uv_strerror(rc));
	else if (ipc_msg_send(h->ctl, IPC_MSG_START, &start, NULL, 0) < 0)
		sup_host_kill(h);  /* it is already gone: its exit status says why */
	log_info(strcmp(why, "start") == 0 || strcmp(why, "restart") == 0 ? "host_start" : "reload_start",
	    "gen=%u pid=%d reason=\"%s\" scanner_path=%s database=%s", h->gen_id, (int)h->pid, why,
	    c->scanner_path, c->database);
	return 0;  /* from here on, the exit callback reports */
}

void sup_host_kill(struct sup_host *h)
{
	if (h->proc_open && h->state != H_EXITED)
		(void)uv_process_kill(&h->proc, SIGKILL);
}

void sup_host_misbehaved(struct sup_host *h, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	sup_counters.host_misbehaved++;
	log_warnx("host_malformed", "gen=%u pid=%d reason=\"%s\" action=\"scanner host killed\"",
	    h->gen_id, (int)h->pid, why);
	if (h->fatal[0] == '\0')
		snprintf(h->fatal, sizeof(h->fatal), "scanner host misbehaved: %s", why);
	h->condemned = 1;
	if (h->poll_open)
		(void)uv_poll_stop(&h->poll);
	sup_host_kill(h);
}

/*
 * READY names the host proper by a pidfd of itself: in a pid namespace of
 * its own it is pid 1 there and the child of the process we spawned (the
 * relay, privileges/pidns.c); without one, that process itself. 0, or -1
 * for anyone else.
 */
static int host_identity(struct sup_host *h, int fd)
{
	long pid = h->pid;

	if (fd >= 0) {
		pid = plat_pidfd_pid(fd);
		close(fd);
	}
	if (pid != h->pid && (pid <= 1 || plat_proc_ppid(pid) != (long)h->pid))
		return -1;
	h->inner_pid = (pid_t)pid;
	return 0;
}

/*
 * The host names a worker it forked, by a pidfd (its pid is the host's
 * namespace's, not ours). Trust it only as far as we can check: the
 * process must be the host's child, and from then on it is held by that
 * pidfd, so a later SIGKILL cannot reach anything else. Without a pidfd
 * (a kernel without them) the pid is ours and checked the same way.
 * A worker may be gone before its report is read (killed from outside
 * right after the fork, and reaped by the host): then there is nothing to
 * check and nothing to harm; its WORKER_EXIT follows, and *global is 0.
 * Returns the pidfd, PIDFD_NONE, or -1; *global is our pid for it.
 */
static int worker_pidfd(const struct sup_host *h, pid_t pid, int fd, pid_t *global)
{
	long g = fd >= 0 ? plat_pidfd_pid(fd) : pid;

	if (fd < 0 && (fd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0 && errno != ENOSYS) {
		if (errno == ESRCH) {
			*global = 0;
			return PIDFD_NONE;
		}
		return -1;
	}
	if (g <= 1 || g == h->pid || g == h->inner_pid || g == getpid() || plat_proc_ppid((pid_t)g) != (long)h->inner_pid) {
		if (fd >= 0 && plat_pidfd_exited(fd) == 1) {
			*global = 0;
			return fd;
		}
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*global = (pid_t)g;
	return fd >= 0 ? fd : PIDFD_NONE;
}

static enum plat_log_level log_level(int32_t level)
{
	return level == IPC_LOG_ERROR ? PLAT_LOG_ERROR : level == IPC_LOG_WARN ? PLAT_LOG_WARN : PLAT_LOG_INFO;
}

/* A token bucket: HOST_LOG_PER_S a second, for libclamav's messages and
 * stderr lines together; the rest counted (stats), and said once when a
 * second's allowance runs out. */
static int log_allowed(struct sup_host *h)
{
	uint64_t now = plat_now_ns();

	if (now - h->log_window_ns >= 1000000000ull) {
		h->log_window_ns = now;
		h->log_tokens = HOST_LOG_PER_S;
	}
	if (h->log_tokens == 0) {
		sup_counters.host_logs_dropped++;
		return 0;
	}
	if (--h->log_tokens == 0)
		log_warnx("host_log_capped", "gen=%u pid=%d limit=%u/s "
		    "reason=\"the scanner host logs more than avwarden writes down; the rest of this second is counted "
		    "(stats: host log lines dropped)\"", h->gen_id, (int)h->pid, HOST_LOG_PER_S);
	return 1;
}

static void host_log(struct sup_host *h, const struct ipc_log *l)
{
	if (log_allowed(h))
		plat_log(log_level(l->level), "engine_log", "source=libclamav gen=%u pid=%d text=\"%s\"",
		    h->gen_id, (int)h->pid, l->text);
}

/* ------------------------------------------------------------ stderr */

static void err_line_out(struct sup_host *h)
{
	h->err_line[h->err_len] = '\0';
	h->err_len = 0;
	ipc_text_clean(h->err_line);
	if (h->err_line[0] != '\0' && log_allowed(h))
		log_warnx("scanner_stderr", "gen=%u pid=%d line=\"%s\"", h->gen_id, (int)h->pid, h->err_line);
}

/* Reads what is there, at most 64 KB a turn; lines longer than the
 * buffer are cut into pieces. */
static void err_drain(struct sup_host *h)
{
	char buf[4096];
	ssize_t n;

	for (int turn = 0; h->err_fd >= 0 && turn < 16; turn++) {
		if ((n = read(h->err_fd, buf, sizeof(buf))) <= 0) {
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				err_close(h);
			return;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				err_line_out(h);
				continue;
			}
			h->err_line[h->err_len++] = buf[i];
			if (h->err_len == sizeof(h->err_line) - 1)
				err_line_out(h);
		}
	}
}

static void err_readable(uv_poll_t *p, int status, int events)
{
	(void)events;
	if (status < 0) {
		err_close(p->data);
		return;
	}
	err_drain(p->data);
}

static void err_close(struct sup_host *h)
{
	if (h->err_len > 0)
		err_line_out(h);
	if (h->err_poll_open) {
		(void)uv_poll_stop(&h->err_poll);
		uv_close((uv_handle_t *)&h->err_poll, handle_closed);
		h->err_poll_open = 0;
	}
	if (h->err_fd >= 0)
		close(h->err_fd);
	h->err_fd = -1;
}

/* One validated record; 0 to go on reading, -1 when the host was killed. */
static int host_record(struct sup_host *h, struct ipc_msg *m, int passed)
{
	pid_t global = 0;
	int fd;

	switch (m->type) {
	case IPC_MSG_READY:
		if (h->state != H_STARTING) {
			if (passed >= 0)
				close(passed);
			sup_host_misbehaved(h, "a second READY");
			return -1;
		}
		if (host_identity(h, passed) < 0) {
			sup_host_misbehaved(h, "READY names a process that is not the host");
			return -1;
		}
		h->state = H_READY;
		h->ready_ns = plat_now_ns();
		h->ops->ready(h, &m->u.ready);
		return h->condemned ? -1 : 0;
	case IPC_MSG_FATAL:
		if (m->u.fatal.sysno != 0) {
			char name[64];
			priv_syscall_name(m->u.fatal.sysno, name, sizeof(name));
			sup_counters.violations++;
			log_warnx("sandbox_violation", "gen=%u host_pid=%d syscall=%s while=host", h->gen_id, (int)h->pid, name);
			snprintf(h->fatal, sizeof(h->fatal), "scanner host sandbox violation in syscall %s", name);
			return 0;
		}
		if (h->fatal[0] == '\0')
			snprintf(h->fatal, sizeof(h->fatal), "%s", m->u.fatal.reason);
		return 0;
	case IPC_MSG_LOG:
		host_log(h, &m->u.log);
		return 0;
	case IPC_MSG_WORKER_UP:
		if (h->state != H_READY) {
			if (passed >= 0)
				close(passed);
			sup_host_misbehaved(h, "a worker before READY");
			return -1;
		}
		if ((fd = worker_pidfd(h, m->u.up.pid, passed, &global)) == -1) {
			sup_host_misbehaved(h, "worker %u reported as pid %d, which is not the host's child",
			    m->u.up.worker, (int)m->u.up.pid);
			return -1;
		}
		h->ops->worker_up(h, m->u.up.worker, global, m->u.up.pid, fd >= 0 ? fd : -1);
		return h->condemned ? -1 : 0;
	case IPC_MSG_WORKER_EXIT:
		if (h->state != H_READY) {
			sup_host_misbehaved(h, "a worker exit before READY");
			return -1;
		}
		h->ops->worker_exit(h, &m->u.exit);
		return h->condemned ? -1 : 0;
	}
	return 0;
}


static void host_readable(uv_poll_t *p, int status, int events)
{
	struct sup_host *h = p->data;
	char err[160];
	struct ipc_msg m;

	(void)events;
	if (status < 0)
		return;  /* the exit callback follows */
	for (int i = 0; i < HOST_RECORDS_PER_TURN; i++) {
		int fds[IPC_SPAWN_FDS];
		int rc = ipc_msg_recv(h->ctl, IPC_MSG_TO_SUP, &m, fds, err, sizeof(err));
		if (rc == -EAGAIN)
			return;
		if (rc == 0) {
			/* EOF: the host is finished; exit_cb does the rest. */
			(void)uv_poll_stop(&h->poll);
			sup_host_kill(h);
			return;
		}
		if (rc < 0) {
			sup_host_misbehaved(h, "%s", err);
			return;
		}
		if (host_record(h, &m, fds[0]) < 0)
			return;
	}
}
