/*
 * tests/fault.c: the misbehaviours tests/fault.h lists. Test builds only.
 */
#define _GNU_SOURCE
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MARK "AVWARDEN-FAULT:"

/* Forbidden calls; the outcome (EACCES, SIGSYS) is what the tests assert. */
int fault_syscall(const char *name)
{
	if (strcmp(name, "open") == 0)
		return open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	if (strcmp(name, "socket") == 0)
		return socket(AF_INET, SOCK_STREAM, 0);
	if (strcmp(name, "execve") == 0) {
		char *argv[] = { "/bin/true", NULL };
		return execve("/bin/true", argv, NULL);
	}
	if (strcmp(name, "ptrace") == 0)
		return (int)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	if (strcmp(name, "kill1") == 0)
		return kill(1, SIGTERM);
	if (strcmp(name, "unshare") == 0)
		return (int)syscall(SYS_unshare, CLONE_NEWUSER);
	if (strcmp(name, "netlink") == 0)
		return socket(AF_NETLINK, SOCK_RAW, 0);
	errno = EINVAL;
	return -1;
}

static char fill_path[4096];

/* The worker's own tmpfs, full: what one large archive extracting there
 * does to the scans after it (if temp space were shared). */
static void fill_tmpdir(const char *tmpdir)
{
	static char block[1 << 16];
	int fd;

	snprintf(fill_path, sizeof(fill_path), "%s/avwarden-fault-fill", tmpdir);
	if ((fd = open(fill_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		fill_path[0] = '\0';
		return;
	}
	while (write(fd, block, sizeof(block)) > 0)
		;
	/* the last bytes of the last page too */
	while (write(fd, block, 1) > 0)
		;
	close(fd);
}

void fault_resources_begin(const char *tmpdir)
{
	const char *env = getenv("AVW_FAULT_SCAN");

	if (env == NULL)
		return;
	if (strcmp(env, "tmpfull") == 0 && tmpdir != NULL)
		fill_tmpdir(tmpdir);
	if (strncmp(env, "nofile:", 7) == 0) {
		/* N descriptors past the highest one open now */
		int top = 0;
		for (int fd = 0; fd < 1024; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				top = fd;
		struct rlimit rl = { (rlim_t)(top + 1 + atoi(env + 7)), (rlim_t)(top + 1 + atoi(env + 7)) };
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

void fault_resources_end(void)
{
	if (fill_path[0] != '\0')
		(void)unlink(fill_path);
	fill_path[0] = '\0';
}

int fault_maybe_inject(const void *data, size_t len)
{
	const char *env = getenv("AVW_FAULT_SCAN");
	char cmd[64];
	size_t n;

	/* A database that crashes the engine on EICAR: any job that holds it. */
	if (env != NULL && strcmp(env, "crash-eicar") == 0 && data != NULL && memmem(data, len, "EICAR", 5) != NULL)
		*(volatile int *)0 = 1;

	if (data == NULL || len < sizeof(MARK) - 1 || memcmp(data, MARK, sizeof(MARK) - 1) != 0)
		return 0;
	n = len - (sizeof(MARK) - 1);
	if (n >= sizeof(cmd))
		n = sizeof(cmd) - 1;
	memcpy(cmd, (const char *)data + sizeof(MARK) - 1, n);
	cmd[n] = '\0';
	cmd[strcspn(cmd, "\r\n ")] = '\0';
	if (strcmp(cmd, "crash") == 0)
		*(volatile int *)0 = 1;
	if (strcmp(cmd, "hang") == 0)
		for (;;)
			;
	if (strcmp(cmd, "exit") == 0)
		_exit(3);
	if (strcmp(cmd, "slow") == 0) {
		struct timespec ts = { 1, 0 };  /* then scan normally */
		nanosleep(&ts, NULL);
	}
	if (strncmp(cmd, "syscall=", 8) == 0) {
		/* If the call is merely denied (Landlock: EACCES), report it as a
		 * scan error so the test sees the denial, not a verdict. */
		int rc = fault_syscall(cmd + 8);
		if (rc >= 0)
			close(rc);
	}
	return strcmp(cmd, "garbage") == 0;
}

void fault_corrupt(struct ipc_result *r)
{
	r->status = 77;  /* out of range */
	memset(r->name, 'A', sizeof(r->name));  /* and unterminated */
}

/* The AVW_FAULT_HOST mode, and its number if it takes one. */
static int host_mode(const char *name, unsigned *arg)
{
	const char *f = getenv("AVW_FAULT_HOST");
	size_t n = strlen(name);

	if (f == NULL || strncmp(f, name, n) != 0 || (f[n] != '\0' && f[n] != ':'))
		return 0;
	if (arg != NULL)
		*arg = f[n] == ':' ? (unsigned)strtoul(f + n + 1, NULL, 10) : 0;
	return 1;
}

int fault_host_fail_fork(void)
{
	static unsigned forks;
	unsigned after;

	return host_mode("fork-fail", &after) && ++forks > after;
}

int fault_host_worker_gone(void)
{
	static unsigned forks;
	unsigned at;

	return host_mode("worker-gone", &at) && ++forks == at;
}

pid_t fault_host_report_pid(pid_t pid)
{
	/* In a pid namespace of its own the host sees no foreign process:
	 * there the forgery is the pidfd (fault_host_forge_pidfd). */
	return host_mode("foreign-pid", NULL) && getppid() > 1 ? getppid() : pid;
}

int fault_host_forge_pidfd(int pidfd)
{
	if (!host_mode("foreign-pid", NULL) || pidfd < 0)
		return pidfd;
	close(pidfd);
	return (int)syscall(SYS_pidfd_open, getpid(), 0);  /* its own: not its child */
}

void fault_host_after_up(int ctl, uint32_t worker, pid_t pid)
{
	struct ipc_worker_exit e;

	if (!host_mode("forge-exit", NULL))
		return;
	memset(&e, 0, sizeof(e));
	e.worker = worker;
	e.pid = pid;
	e.status = SIGSEGV;  /* a wait status: killed by SIGSEGV */
	(void)ipc_msg_send(ctl, IPC_MSG_WORKER_EXIT, &e, NULL, 0);
}

void fault_host_after_ready(int ctl)
{
	struct ipc_ready r;
	struct ipc_log l;
	char big[sizeof(struct ipc_msg) + 64];
	unsigned n;

	memset(&r, 0, sizeof(r));
	r.signatures = 1;
	if (getenv("AVW_FAULT_HOST") != NULL && strncmp(getenv("AVW_FAULT_HOST"), "syscall=", 8) == 0)
		(void)fault_syscall(getenv("AVW_FAULT_HOST") + 8);
	if (host_mode("log-flood", &n)) {
		memset(&l, 0, sizeof(l));
		l.level = IPC_LOG_WARN;
		for (unsigned i = 0; i < n; i++) {
			snprintf(l.text, sizeof(l.text), "flood %u", i);
			if (ipc_msg_send(ctl, IPC_MSG_LOG, &l, NULL, 0) < 0)
				break;
		}
	}
	if (host_mode("second-ready", NULL))
		(void)ipc_msg_send(ctl, IPC_MSG_READY, &r, NULL, 0);
	if (host_mode("oversized", NULL)) {
		memset(big, 0, sizeof(big));
		(void)send(ctl, big, sizeof(big), MSG_NOSIGNAL);
	}
	if (host_mode("truncated", NULL)) {
		struct ipc_msg m;
		memset(&m, 0, sizeof(m));
		m.type = IPC_MSG_READY;
		m.len = sizeof(m.u.ready);
		(void)send(ctl, &m, offsetof(struct ipc_msg, u) + 10, MSG_NOSIGNAL);
	}
}

void fault_host_before_spawn(unsigned n)
{
	unsigned at;

	if (!host_mode("spawn-nofile", &at) || n != at)
		return;
	/* Descriptors 0-3 are open: no room for the three the request carries. */
	struct rlimit rl = { 4, 4 };
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}
