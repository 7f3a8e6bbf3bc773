/*
 * privileges/seccomp.c: the syscall allowlists (libseccomp): the worker's
 * (step 4), and the host's (the end of step 3), on which every worker's
 * stacks.
 *
 * What a worker may do: scan memory it was handed, use its private temp dir
 * (Landlock already confines paths), talk on its one job socket, allocate,
 * and exit. No execve, no new sockets, no ptrace, no signals to anyone but
 * itself. Anything else traps; the trap handler records which syscall in the
 * worker's shared channel, then dies by SIGSYS through a kill-process rule
 * (rt_sigaction on SIGSYS), so the supervisor can name the syscall in its log.
 */
#define _GNU_SOURCE
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "../ipc/ipc.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1  /* si_code of a seccomp trap (asm-generic/siginfo.h) */
#endif

static struct ipc_violation *volatile trap_record;
static volatile uint64_t trap_seq;

void priv_worker_set_job(uint64_t seq)
{
	trap_seq = seq;
}

static void sigsys_handler(int sig, siginfo_t *info, void *uctx)
{
	struct ipc_violation *v = trap_record;

	(void)sig;
	(void)uctx;
	if (v != NULL && info->si_code == SYS_SECCOMP) {
		v->sysno = (uint32_t)info->si_syscall;
		v->arch = info->si_arch;
		__atomic_store_n(&v->seq, trap_seq, __ATOMIC_RELEASE);
	}
	/* rt_sigaction(SIGSYS) is a kill-process rule: this call ends us. */
	syscall(SYS_rt_sigaction, SIGSYS, NULL, NULL, 8);
	syscall(SYS_exit_group, 159);
}

/*
 * Syscalls a scan needs, found by tracing libclamav over the test corpus.
 * The host's list (below) is this one plus what forking and IPC need: a
 * worker's filter stacks on the host's, so both must allow a call.
 */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
	SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(lseek), SCMP_SYS(close),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(stat),
	SCMP_SYS(lstat), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rmdir),
	SCMP_SYS(getdents64), SCMP_SYS(ftruncate), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(access), SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2), SCMP_SYS(rename), SCMP_SYS(renameat),
	SCMP_SYS(readlink), SCMP_SYS(getcwd), SCMP_SYS(dup), SCMP_SYS(umask),
	SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn),
	/* what the kernel runs to resume a wait that a stop (SIGSTOP and
	 * SIGCONT, a debugger or strace attaching) interrupted */
	SCMP_SYS(restart_syscall),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(getrandom), SCMP_SYS(futex), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday),
	SCMP_SYS(time), SCMP_SYS(sched_yield), SCMP_SYS(uname),
	SCMP_SYS(getrusage), SCMP_SYS(sysinfo),
	SCMP_SYS(getrlimit), SCMP_SYS(times), SCMP_SYS(sigaltstack),
};

/*
 * Answered EPERM instead of trapping: libclamav chmods its own temp dirs
 * to 0700 before removing them and goes on when that fails; nothing here
 * may change a file's mode or owner (a setuid bit on a file outside
 * Landlock's reach, which does not cover metadata).
 */
static const int refused[] = {
	SCMP_SYS(chmod), SCMP_SYS(fchmod), SCMP_SYS(fchmodat),
	SCMP_SYS(chown), SCMP_SYS(fchown), SCMP_SYS(lchown), SCMP_SYS(fchownat),
};

/* SCMP_A0() and friends leave datum_b to the compiler's zeroing; be explicit. */
static struct scmp_arg_cmp arg_cmp(unsigned int arg, enum scmp_compare op, scmp_datum_t value)
{
	struct scmp_arg_cmp c = { .arg = arg, .op = op, .datum_a = value, .datum_b = 0 };

	return c;
}

/* Allowed when (argument & mask) == 0. */
static struct scmp_arg_cmp arg_clear(unsigned int arg, scmp_datum_t mask)
{
	struct scmp_arg_cmp c = { .arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = 0 };

	return c;
}

#define TRY(call) do { if ((rc = (call)) < 0) return rc; } while (0)

/* What host and worker share: the list, and the calls allowed only with
 * some arguments. */
static int add_common(scmp_filter_ctx ctx)
{
	static const int fcntl_cmds[] = { F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC, F_GETLK, F_SETLK, F_SETLKW };
	int rc;

	/* A syscall from a foreign ABI (x32, i386 int 0x80) kills outright. */
	TRY(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS));
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0));
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		TRY(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), refused[i], 0));
	/* W^X: no new executable memory, whatever else it is. libclamav's
	 * bytecode runs in its interpreter here (Debian builds it without the
	 * LLVM JIT), which needs none; pkey_mprotect is not allowed at all. */
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, arg_clear(2, PROT_EXEC)));
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, arg_clear(2, PROT_EXEC)));
	/* Opens, but not O_PATH ones: Landlock does not check those. */
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1, arg_clear(2, O_PATH)));
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1, arg_clear(1, O_PATH)));
	/* Limits: its own only (pid 0); never a sibling's, the host's, or
	 * another process's of the same account. */
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, arg_cmp(0, SCMP_CMP_EQ, 0)));
	/* fcntl: descriptor flags and locks only; F_SETOWN & co. are not needed. */
	for (size_t i = 0; i < sizeof(fcntl_cmds) / sizeof(fcntl_cmds[0]); i++)
		TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
		    arg_cmp(1, SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i])));
	return 0;
}

/* The worker's allowlist, for job_sock and the process `self`. */
static int add_worker(scmp_filter_ctx ctx, int job_sock, uint32_t self)
{
	int rc;

	TRY(add_common(ctx));
	/* The job socket, and only it, carries jobs and wake-ups. */
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvmsg), 1, arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)job_sock)));
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1, arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)job_sock)));
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1, arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)job_sock)));
	/* Signals: to itself only. */
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)self)));
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)self)));
	/* Handlers for anything but SIGSYS; touching SIGSYS kills the process. */
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 1, arg_cmp(0, SCMP_CMP_NE, (scmp_datum_t)SIGSYS)));
	TRY(seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(rt_sigaction), 1, arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)SIGSYS)));
	return 0;
}

static scmp_filter_ctx build_filter(int job_sock, uint32_t self)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);

	if (ctx != NULL && add_worker(ctx, job_sock, self) < 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * The filter compiled once, in the host, as BPF: libseccomp's build and its
 * probing syscalls cost every fresh worker ~0.3 ms otherwise. The worker's
 * pid is not known before the fork: the program holds PID_MARK where it
 * goes, patched in the child (the number of marks is checked here).
 */
#define PID_MARK 0x5eccf1d5u
#define PROG_MAX 512
static struct sock_filter prog[PROG_MAX];
static unsigned short prog_len;
static unsigned prog_marks[4], prog_nmarks;

int priv_worker_seccomp_prepare(int job_sock)
{
	scmp_filter_ctx ctx = build_filter(job_sock, PID_MARK);
	char buf[PROG_MAX * sizeof(struct sock_filter)];
	ssize_t n = 0;
	int fd, rc = 0;

	if (ctx == NULL)
		return -ENOMEM;
	if ((fd = memfd_create("avwarden-bpf", MFD_CLOEXEC)) < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = seccomp_export_bpf(ctx, fd)) == 0 &&
	    (n = pread(fd, buf, sizeof(buf), 0)) <= 0)
		rc = -EIO;
	close(fd);
	if (rc < 0 || n % (ssize_t)sizeof(struct sock_filter) != 0 || (size_t)n == sizeof(buf)) {
		rc = rc < 0 ? rc : -E2BIG;
		goto out;
	}
	memcpy(prog, buf, (size_t)n);
	prog_len = (unsigned short)((size_t)n / sizeof(struct sock_filter));
	prog_nmarks = 0;
	/* Every mark must be what kill's and tgkill's argument is compared
	 * with (jeq #K), at least one; anything else is a layout not understood. */
	for (unsigned i = 0; i < prog_len; i++) {
		if (prog[i].k != PID_MARK)
			continue;
		if (prog_nmarks == 4 || prog[i].code != (BPF_JMP | BPF_JEQ | BPF_K)) {
			rc = -EPROTO;
			break;
		}
		prog_marks[prog_nmarks++] = i;
	}
	if (prog_nmarks == 0)
		rc = -EPROTO;
out:
	if (rc < 0)
		prog_len = 0;  /* each worker builds its own, slowly but right */
	seccomp_release(ctx);
	return rc;
}

static int install_trap(struct ipc_violation *violation)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	trap_record = violation;
	return 0;
}

int priv_worker_seccomp(struct ipc_violation *violation, int job_sock)
{
	scmp_filter_ctx ctx;
	int rc;

	if ((rc = install_trap(violation)) < 0)
		return rc;
	if (prog_len > 0 && job_sock == PRIV_WORKER_JOB_FD) {
		struct sock_fprog fp = { .len = prog_len, .filter = prog };
		for (unsigned i = 0; i < prog_nmarks; i++)
			prog[prog_marks[i]].k = (uint32_t)getpid();  /* our copy of the host's */
		return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0 ? -errno : 0;
	}
	if ((ctx = build_filter(job_sock, (uint32_t)getpid())) == NULL)
		return -ENOMEM;
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------ the host */

static void (*host_violation)(uint32_t sysno);
static pid_t host_pid;

static void host_sigsys(int sig, siginfo_t *info, void *uctx)
{
	(void)sig;
	(void)uctx;
	/* Only the host itself reports; a worker between fork and its own
	 * handler just dies. */
	if (info->si_code == SYS_SECCOMP && host_violation != NULL && syscall(SYS_getpid) == host_pid)
		host_violation((uint32_t)info->si_syscall);
	syscall(SYS_exit_group, 159);
}

/*
 * Flags a fork may use (glibc's fork: the tid words and the exit signal).
 * Anything else, CLONE_NEW* above all, is refused: a host cannot make a
 * user namespace (and with it a full capability set) or a thread.
 */
#define FORK_FLAGS ((scmp_datum_t)(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CSIGNAL))

static int add_host(scmp_filter_ctx ctx)
{
	/* Waiting, forking what it serves, and what a fresh worker does
	 * before its own filter is in (descriptors, limits, Landlock, seccomp). */
	static const int host_only[] = {
		SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(wait4), SCMP_SYS(waitid),
		SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(dup2), SCMP_SYS(dup3),
		SCMP_SYS(close_range), SCMP_SYS(getppid), SCMP_SYS(rt_sigaction),
		SCMP_SYS(seccomp), SCMP_SYS(landlock_create_ruleset), SCMP_SYS(landlock_add_rule),
		SCMP_SYS(landlock_restrict_self), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
		SCMP_SYS(sendto), SCMP_SYS(pidfd_open),
	};
	static const int prctl_ops[] = { PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS };
	int rc;

	TRY(add_common(ctx));
	for (size_t i = 0; i < sizeof(host_only) / sizeof(host_only[0]); i++)
		TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, host_only[i], 0));
	for (size_t i = 0; i < sizeof(prctl_ops) / sizeof(prctl_ops[0]); i++)
		TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		    arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)prctl_ops[i])));
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, arg_clear(0, ~FORK_FLAGS)));
	/* clone3's flags sit in memory a filter cannot read: "not here", and
	 * glibc falls back to clone. */
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0));
	/* abort() in host or worker; the worker's own filter narrows it to itself. */
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, arg_cmp(2, SCMP_CMP_EQ, SIGABRT)));
	TRY(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, arg_cmp(1, SCMP_CMP_EQ, SIGABRT)));
	return 0;
}

int priv_host_seccomp(void (*on_violation)(uint32_t sysno))
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int rc;

	host_violation = on_violation;
	host_pid = getpid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = host_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		return -ENOMEM;
	if ((rc = add_host(ctx)) == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc < 0 ? rc : 0;
}

const char *priv_syscall_name(uint32_t sysno, char *buf, size_t len)
{
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)sysno);

	if (name != NULL) {
		snprintf(buf, len, "%s", name);
		free(name);
	} else
		snprintf(buf, len, "syscall#%u", sysno);
	return buf;
}
