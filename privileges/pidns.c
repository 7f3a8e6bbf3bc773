/*
 * privileges/pidns.c: the scanner host in a pid namespace of its own, as
 * its init.
 *
 * unshare(CLONE_NEWPID) leaves the caller where it is and puts its next
 * child first in the new namespace. So the process the supervisor spawned
 * forks once more: the child, pid 1 inside, goes on as the host (and, as
 * init, reaps whatever is orphaned there; it already reaps its workers);
 * the parent becomes a relay that holds nothing (no descriptor but one pipe
 * end, no capability, a seccomp filter that lets it wait, end and re-raise
 * a signal on itself, nothing else), waits for it and
 * ends the way it ended, so the supervisor sees the host's own exit status
 * or signal. Killing the relay kills the host (its parent-death signal),
 * and the host's workers with it (theirs).
 *
 * Inside, a worker can name no process outside the namespace, and the host
 * as init cannot be signalled from inside at all (the kernel drops a
 * signal to init that it has no handler for).
 */
#define _GNU_SOURCE
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../platform/plat.h"

/* The relay may wait, end, and re-raise the host's signal on itself. */
static void relay_lockdown(void)
{
	static const int calls[] = {
		SCMP_SYS(wait4), SCMP_SYS(exit_group), SCMP_SYS(exit), SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigreturn), SCMP_SYS(getpid), SCMP_SYS(gettid),
		SCMP_SYS(kill), SCMP_SYS(tgkill), SCMP_SYS(restart_syscall),
		/* the sanitizers' signal handling sets an alternate stack */
		SCMP_SYS(sigaltstack),
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int ok = ctx != NULL;

	for (size_t i = 0; ok && i < sizeof(calls) / sizeof(calls[0]); i++)
		ok = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) == 0;
	if (!ok || priv_drop_capabilities() < 0 || seccomp_load(ctx) < 0)
		_exit(1);
	seccomp_release(ctx);
}

static void PLAT_NORETURN relay(pid_t host, int keep)
{
	sigset_t all;
	int status, sig;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);  /* only SIGKILL ends it early */
	if (plat_close_fds_except(0, &keep, 1) < 0)
		_exit(1);
	relay_lockdown();
	while (waitpid(host, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	sig = WTERMSIG(status);
	signal(sig, SIG_DFL);
	sigdelset(&all, sig);
	sigprocmask(SIG_SETMASK, &all, NULL);
	kill(getpid(), sig);
	_exit(128 + sig);
}

int priv_pid_namespace_init(void)
{
	struct pollfd p;
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	if ((pid = fork()) < 0) {
		int rc = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return rc;
	}
	if (pid > 0) {
		close(pfd[0]);
		relay(pid, pfd[1]);
	}
	close(pfd[1]);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -errno;
	/* The relay gone before the death signal was armed: its end closed. */
	p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	if (poll(&p, 1, 0) != 0) {
		close(pfd[0]);
		return -ESRCH;
	}
	close(pfd[0]);
	return getpid() == 1 ? 0 : -EPROTO;
}
