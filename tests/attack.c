/*
 * tests/attack.c: the attacks tests/attack.h describes, each what an
 * exploit inside libclamav would try next. Test builds only.
 *
 * An attack either reports how the sandbox answered (an errno, or what it
 * found), or is killed by the seccomp filter on the spot; which one is the
 * suite's business (tests/containment.sh), not this file's: nothing here
 * knows the expected outcome.
 */
#define _GNU_SOURCE
#include "attack.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "../privileges/priv.h"

#define MARK "AVWARDEN-ATTACK:"

struct attack {
	const char *name;
	/* The outcome, written into out; arg is what follows "NAME:" ("" if none). */
	void (*run)(const struct attack_ctx *c, const char *arg, char *out, size_t len);
};

/* "EACCES" for a refused call, "SUCCEEDED" when it went through. */
static void said(long rc, char *out, size_t len)
{
	const char *e;

	if (rc >= 0) {
		snprintf(out, len, "SUCCEEDED");
		return;
	}
	e = strerrorname_np(errno);
	snprintf(out, len, "%s", e != NULL ? e : "error");
}

/* The first pid of a comma-separated list that is not this worker's own
 * (the suite passes every worker's pid: one of them is the attacker);
 * pid 1 when none is given. */
static pid_t pid_arg(const char *arg)
{
	pid_t self = (pid_t)syscall(SYS_getpid);
	char *end;

	while (*arg != '\0') {
		long v = strtol(arg, &end, 10);
		if (end == arg)
			break;
		if (v > 0 && (pid_t)v != self)
			return (pid_t)v;
		arg = *end == ',' ? end + 1 : end;
	}
	return 1;
}

/* Never returns: for attacks that must not go on to a verdict. */
static void stall(void)
{
	struct timespec ts = { 1, 0 };

	for (;;)
		nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------- files */

static void open_path(const char *path, int flags, char *out, size_t len)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0600);

	said(fd, out, len);
	if (fd >= 0)
		close(fd);
}

static void a_open_passwd(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	(void)arg;
	open_path("/etc/passwd", O_RDONLY, out, len);
}

static void a_open_proc(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char path[64];

	(void)c;
	snprintf(path, sizeof(path), "/proc/%s/mem", arg[0] ? arg : "self");
	open_path(path, O_RDWR, out, len);
}

static void a_open_proc_fd(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char path[64];

	(void)c;
	snprintf(path, sizeof(path), "/proc/%d/fd/3", (int)pid_arg(arg));
	open_path(path, O_RDWR, out, len);
}

static void a_open_o_path(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	(void)arg;
	open_path("/etc/shadow", O_PATH, out, len);
}

/* A sibling's temp dir: tmpdir is ".../w<k>", the sibling's ".../w<k^1>"
 * (there are always at least two slots: max_concurrency + spares). */
static void sibling_path(const struct attack_ctx *c, const char *arg, const char *leaf, char *path, size_t len)
{
	char dir[256], base[256];
	unsigned k;

	(void)arg;
	snprintf(dir, sizeof(dir), "%s", c->tmpdir);
	snprintf(base, sizeof(base), "%s", c->tmpdir);
	k = (unsigned)strtoul(basename(base) + 1, NULL, 10);
	snprintf(path, len, "%s/w%u%s%s", dirname(dir), k ^ 1u, leaf[0] ? "/" : "", leaf);
}

static void a_sibling_tmp_write(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char path[300];

	sibling_path(c, arg, "planted", path, sizeof(path));
	open_path(path, O_WRONLY | O_CREAT | O_TRUNC, out, len);
}

static void a_sibling_tmp_list(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char path[300];

	sibling_path(c, arg, "", path, sizeof(path));
	open_path(path, O_RDONLY | O_DIRECTORY, out, len);
}

static void a_host_tmp_write(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char dir[256], path[300];

	(void)arg;
	snprintf(dir, sizeof(dir), "%s", c->tmpdir);
	snprintf(path, sizeof(path), "%s/planted", dirname(dir));
	open_path(path, O_WRONLY | O_CREAT | O_TRUNC, out, len);
}

/* Fill its own temp space; the outcome is how that ended (ENOSPC at its
 * own tmpfs's size), and the space is left full on purpose. */
static void a_fill_tmp(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	static char chunk[1 << 20];
	char path[300];
	long rc = 0;
	unsigned mb = 0;
	int fd;

	(void)arg;
	memset(chunk, 'F', sizeof(chunk));
	snprintf(path, sizeof(path), "%s/fill", c->tmpdir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		said(-1, out, len);
		return;
	}
	while ((rc = write(fd, chunk, sizeof(chunk))) == (long)sizeof(chunk) && mb < 65536)
		mb++;
	if (rc >= 0)
		errno = rc == 0 ? ENOSPC : errno;
	said(-1, out, len);
	snprintf(out + strlen(out), len - strlen(out), ".%uMB", mb);
	close(fd);
}

static void a_chmod(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)arg;
	said(syscall(SYS_chmod, c->tmpdir, 04777), out, len);
}

static void a_fchmod(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	int fd = open(c->tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	(void)arg;
	said(syscall(SYS_fchmod, fd, 04777), out, len);
	if (fd >= 0)
		close(fd);
}

static void a_chown(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)arg;
	said(syscall(SYS_chown, c->tmpdir, 0, 0), out, len);
}

/* ---------------------------------------------------------- the network */

static void a_socket_unix(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	(void)arg;
	said(socket(AF_UNIX, SOCK_STREAM, 0), out, len);
}

static void a_socket_inet(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	(void)arg;
	said(socket(AF_INET, SOCK_STREAM, 0), out, len);
}

static void a_socket_netlink(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	(void)arg;
	said(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), out, len);
}

static void a_socketpair(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	int sv[2];

	(void)c;
	(void)arg;
	said(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), out, len);
}

/* Its one socket, pointed at an abstract address of the attacker's. */
static void a_connect_abstract(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	(void)arg;
	memcpy(a.sun_path + 1, "avwarden-attack", 15);
	said(connect(c->job_sock, (struct sockaddr *)&a, sizeof(sa_family_t) + 16), out, len);
}

/* ---------------------------------------------------------- other processes */

static void a_kill(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	said(syscall(SYS_kill, pid_arg(arg), SIGKILL), out, len);
}

static void a_kill_all(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	(void)arg;
	said(syscall(SYS_kill, -1, SIGKILL), out, len);
}

static void a_ptrace(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	said(syscall(SYS_ptrace, PTRACE_ATTACH, pid_arg(arg), 0, 0), out, len);
}

static void a_vm_readv(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char buf[64];
	struct iovec l = { buf, sizeof(buf) }, r = { (void *)0x400000, sizeof(buf) };

	(void)c;
	said(syscall(SYS_process_vm_readv, pid_arg(arg), &l, 1, &r, 1, 0), out, len);
}

static void a_vm_writev(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char buf[64] = { 0 };
	struct iovec l = { buf, sizeof(buf) }, r = { (void *)0x400000, sizeof(buf) };

	(void)c;
	said(syscall(SYS_process_vm_writev, pid_arg(arg), &l, 1, &r, 1, 0), out, len);
}

static void a_prlimit(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	struct rlimit rl = { 3, 3 };

	(void)c;
	said(syscall(SYS_prlimit64, pid_arg(arg), RLIMIT_NOFILE, &rl, NULL), out, len);
}

static void a_pidfd_open(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	said(syscall(SYS_pidfd_open, pid_arg(arg), 0), out, len);
}

/* ---------------------------------------------------------- new code, new processes */

static void a_execve(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char *argv[] = { "/bin/sh", "-c", "id", NULL };

	(void)c;
	(void)arg;
	said(syscall(SYS_execve, "/bin/sh", argv, NULL), out, len);
}

static void a_fork(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	long rc;

	(void)c;
	(void)arg;
	/* A fork bomb's first step; the child, if any, would loop on. */
	rc = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (rc == 0)
		for (;;)
			syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	said(rc, out, len);
}

static void a_vfork(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	(void)arg;
	said(syscall(SYS_vfork), out, len);
}

static void a_clone3(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	uint64_t args[11] = { 0 };

	(void)c;
	(void)arg;
	args[4] = SIGCHLD;  /* exit_signal */
	long rc = syscall(SYS_clone3, args, sizeof(args));
	if (rc == 0)
		_exit(0);
	said(rc, out, len);
}

static void a_thread(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	(void)arg;
	said(syscall(SYS_clone, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, 0, NULL, NULL, 0),
	    out, len);
}

static void a_mprotect_exec(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	static char page[8192] __attribute__((aligned(4096)));

	(void)c;
	(void)arg;
	page[0] = (char)0xc3;  /* ret */
	said(syscall(SYS_mprotect, page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC), out, len);
}

static void a_mmap_exec(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	long p;

	(void)c;
	(void)arg;
	p = syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	said(p == (long)MAP_FAILED ? -1 : 0, out, len);
}

static void a_pkey_mprotect(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	static char page[8192] __attribute__((aligned(4096)));

	(void)c;
	(void)arg;
	said(syscall(SYS_pkey_mprotect, page, 4096, PROT_READ | PROT_EXEC, 0), out, len);
}

static void a_unshare(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	(void)arg;
	said(syscall(SYS_unshare, CLONE_NEWUSER), out, len);
}

static void a_setns(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	(void)arg;
	said(syscall(SYS_setns, 0, 0), out, len);
}

static void a_bpf(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char attr[128] = { 0 };

	(void)c;
	(void)arg;
	said(syscall(SYS_bpf, 0, attr, sizeof(attr)), out, len);
}

static void a_io_uring(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char params[120] = { 0 };

	(void)c;
	(void)arg;
	said(syscall(SYS_io_uring_setup, 4, params), out, len);
}

static void a_userfaultfd(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)c;
	(void)arg;
	said(syscall(SYS_userfaultfd, 0), out, len);
}

static void a_ioctl_tty(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char ch = 'x';

	(void)c;
	(void)arg;
	said(syscall(SYS_ioctl, 0, 0x5412 /* TIOCSTI */, &ch), out, len);
}

/* ---------------------------------------------------------- what it holds */

/* Overwrite the engine it was forked with: only its own copy may change. */
static void a_write_engine(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	(void)arg;
	memset((void *)c->engine, 0xa5, 256);
	snprintf(out, len, "written");
}

/* Look for another sender's message in everything this worker was given:
 * arg is the marker reversed, so this job does not carry it itself. */
static void a_read_previous(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	char marker[64];
	size_t n = strlen(arg);

	if (n == 0 || n >= sizeof(marker)) {
		snprintf(out, len, "badarg");
		return;
	}
	for (size_t i = 0; i < n; i++)
		marker[i] = arg[n - 1 - i];
	marker[n] = '\0';
	snprintf(out, len, "%s", memmem(c->data, c->cap, marker, n) != NULL ? "LEAKED" : "absent");
}

/* A forged log line, written where an unsandboxed process's stderr goes. */
static void a_write_stderr(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	static const char line[] = "avwarden[1]: 2026-01-01T00:00:00.000Z error FORGED-BY-WORKER reason=\"owned\"\n";

	(void)c;
	(void)arg;
	said(write(2, line, sizeof(line) - 1), out, len);
	if (strcmp(out, "SUCCEEDED") == 0)
		snprintf(out, len, "written");  /* where to, is the suite's question */
}

/* Memory until the limit: RLIMIT_AS ends it with ENOMEM, in this job. */
static void a_balloon(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	size_t step = 64u << 20, got = 0;
	void *p;

	(void)c;
	(void)arg;
	while (got < (64ull << 30) &&
	    (p = mmap(NULL, step, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) != MAP_FAILED) {
		memset(p, 1, step);
		got += step;
	}
	said(got >= (64ull << 30) ? 0 : -1, out, len);
}

static void a_raise_limit(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	(void)c;
	(void)arg;
	said(setrlimit(RLIMIT_AS, &rl), out, len);
}

/* ---------------------------------------------------------- lies */

/* Publish a forged result, then stall: the supervisor must refuse it. */
static void forge(const struct attack_ctx *c, struct ipc_result *r, uint64_t done_seq)
{
	struct ipc_wrec done = { .tag = IPC_W_DONE, .u.done_seq = done_seq };

	memcpy(&c->chan->result, r, sizeof(*r));
	__atomic_thread_fence(__ATOMIC_RELEASE);
	(void)ipc_wrec_send(c->job_sock, &done);
	stall();
}

static void forged(const struct attack_ctx *c, struct ipc_result *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = c->seq;
	r->status = IPC_CLEAN;
}

static void a_forge_seq(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	struct ipc_result r;

	(void)arg, (void)out, (void)len;
	forged(c, &r);
	r.seq = c->seq + 1;
	forge(c, &r, c->seq);
}

static void a_forge_other_job(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	struct ipc_result r;

	(void)arg, (void)out, (void)len;
	forged(c, &r);
	r.seq = c->seq + 7;
	forge(c, &r, c->seq + 7);
}

static void a_forge_status(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	struct ipc_result r;

	(void)arg, (void)out, (void)len;
	forged(c, &r);
	r.status = 77;
	forge(c, &r, c->seq);
}

static void a_forge_name_unterminated(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	struct ipc_result r;

	(void)arg, (void)out, (void)len;
	forged(c, &r);
	r.status = IPC_INFECTED;
	memset(r.name, 'A', sizeof(r.name));
	forge(c, &r, c->seq);
}

static void a_forge_name_control(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	struct ipc_result r;

	(void)arg, (void)out, (void)len;
	forged(c, &r);
	r.status = IPC_INFECTED;
	snprintf(r.name, sizeof(r.name), "Evil\r\n250 OK\x1b[31m");
	forge(c, &r, c->seq);
}

/* More names than the one an INSTREAM asked for: a way to pile text into
 * the reply of a job that is not ALLMATCHSCAN. */
static void a_forge_more_names(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	struct ipc_result r;

	(void)arg, (void)out, (void)len;
	forged(c, &r);
	r.status = IPC_INFECTED;
	snprintf(r.name, sizeof(r.name), "Attack.First");
	r.nmore = 2;
	snprintf(r.more[0], sizeof(r.more[0]), "Attack.Second");
	snprintf(r.more[1], sizeof(r.more[1]), "Attack.Third");
	forge(c, &r, c->seq);
}

static void a_forge_twice(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	struct ipc_wrec done = { .tag = IPC_W_DONE, .u.done_seq = c->seq };
	struct ipc_result r;

	(void)arg, (void)out, (void)len;
	forged(c, &r);
	memcpy(&c->chan->result, &r, sizeof(r));
	__atomic_thread_fence(__ATOMIC_RELEASE);
	(void)ipc_wrec_send(c->job_sock, &done);
	(void)ipc_wrec_send(c->job_sock, &done);  /* a second answer for a job it no longer holds */
	stall();
}

/* Answer honestly, then break the filter while holding no job: the log
 * must still name the syscall. */
static void a_late_violation(const struct attack_ctx *c, const char *arg, char *out, size_t len)
{
	struct ipc_wrec done = { .tag = IPC_W_DONE, .u.done_seq = c->seq };
	struct ipc_result r;

	(void)arg, (void)out, (void)len;
	forged(c, &r);
	memcpy(&c->chan->result, &r, sizeof(r));
	__atomic_thread_fence(__ATOMIC_RELEASE);
	(void)ipc_wrec_send(c->job_sock, &done);
	priv_worker_set_job(0);
	(void)socket(AF_INET, SOCK_STREAM, 0);
	stall();
}

static const struct attack attacks[] = {
	{ "open-passwd", a_open_passwd },
	{ "open-proc-mem", a_open_proc },
	{ "open-proc-fd", a_open_proc_fd },
	{ "open-o-path", a_open_o_path },
	{ "sibling-tmp-write", a_sibling_tmp_write },
	{ "sibling-tmp-list", a_sibling_tmp_list },
	{ "host-tmp-write", a_host_tmp_write },
	{ "fill-tmp", a_fill_tmp },
	{ "chmod", a_chmod },
	{ "fchmod", a_fchmod },
	{ "chown", a_chown },
	{ "socket-unix", a_socket_unix },
	{ "socket-inet", a_socket_inet },
	{ "socket-netlink", a_socket_netlink },
	{ "socketpair", a_socketpair },
	{ "connect-abstract", a_connect_abstract },
	{ "kill", a_kill },
	{ "kill-all", a_kill_all },
	{ "ptrace", a_ptrace },
	{ "process-vm-readv", a_vm_readv },
	{ "process-vm-writev", a_vm_writev },
	{ "prlimit", a_prlimit },
	{ "pidfd-open", a_pidfd_open },
	{ "execve", a_execve },
	{ "fork-bomb", a_fork },
	{ "vfork", a_vfork },
	{ "clone3", a_clone3 },
	{ "thread", a_thread },
	{ "mprotect-exec", a_mprotect_exec },
	{ "mmap-exec", a_mmap_exec },
	{ "pkey-mprotect", a_pkey_mprotect },
	{ "unshare-user", a_unshare },
	{ "setns", a_setns },
	{ "bpf", a_bpf },
	{ "io-uring", a_io_uring },
	{ "userfaultfd", a_userfaultfd },
	{ "ioctl-tiocsti", a_ioctl_tty },
	{ "write-engine", a_write_engine },
	{ "read-previous", a_read_previous },
	{ "write-stderr", a_write_stderr },
	{ "balloon", a_balloon },
	{ "raise-limit", a_raise_limit },
	{ "forge-seq", a_forge_seq },
	{ "forge-other-job", a_forge_other_job },
	{ "forge-status", a_forge_status },
	{ "forge-name-unterminated", a_forge_name_unterminated },
	{ "forge-name-control", a_forge_name_control },
	{ "forge-more-names", a_forge_more_names },
	{ "forge-twice", a_forge_twice },
	{ "late-violation", a_late_violation },
};

int attack_job(const struct attack_ctx *ctx, const void *data, size_t len, struct ipc_result *r)
{
	char cmd[64], outcome[48] = "";
	const char *arg;
	size_t n;
	char *colon;

	if (data == NULL || len < sizeof(MARK) - 1 || memcmp(data, MARK, sizeof(MARK) - 1) != 0)
		return 0;
	n = len - (sizeof(MARK) - 1);
	if (n >= sizeof(cmd))
		n = sizeof(cmd) - 1;
	memcpy(cmd, (const char *)data + sizeof(MARK) - 1, n);
	cmd[n] = '\0';
	cmd[strcspn(cmd, "\r\n ")] = '\0';
	arg = "";
	if ((colon = strchr(cmd, ':')) != NULL) {
		*colon = '\0';
		arg = colon + 1;
	}
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		if (strcmp(attacks[i].name, cmd) != 0)
			continue;
		attacks[i].run(ctx, arg, outcome, sizeof(outcome));
		r->status = IPC_INFECTED;
		snprintf(r->name, sizeof(r->name), "Attack.%s.%s", cmd, outcome);
		return 1;
	}
	r->status = IPC_INFECTED;
	snprintf(r->name, sizeof(r->name), "Attack.unknown");
	return 1;
}
