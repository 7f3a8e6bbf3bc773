/*
 * privileges/worker.c: step 4, a worker's containment right after the host
 * forked it. The worker inherits the host's namespaces, Landlock domain and
 * dropped capabilities; it adds a descriptor cut-off, its own memory limit
 * and the seccomp allowlist (privileges/seccomp.c), last, because nothing
 * after it may need a syscall outside the list.
 */
#define _GNU_SOURCE
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../platform/plat.h"

/* A worker never outlives its host (and so its generation). */
static int die_with_host(pid_t host)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -errno;
	return getppid() != host ? -ESRCH : 0;  /* the host is already gone */
}

/* 0, 1 and 2 become /dev/null: nothing a worker writes reaches a log. */
static int stdio_to_null(int null_fd)
{
	for (int fd = 0; fd <= 2; fd++)
		if (null_fd != fd && dup2(null_fd, fd) < 0)
			return -errno;
	if (null_fd > 2)
		close(null_fd);
	return 0;
}

/*
 * Descriptors 0, 1 and 2 stay occupied (/dev/null): some
 * libclamav parsers treat descriptor 0 as "no file", so a temp file that
 * landed on fd 0 was silently skipped (clam.exe.rtf came back clean).
 */
static int close_all_but_job(int job_sock)
{
	int keep[] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, job_sock };

	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			return -EBADF;
	return plat_close_fds_except(0, keep, sizeof(keep) / sizeof(keep[0]));
}

/* Running out is a per-job fault (an allocation failure or a crash). */
static int limit_memory(uint64_t as_limit)
{
	struct rlimit rl = { as_limit, as_limit };

	if (as_limit == 0)
		return 0;
	return setrlimit(RLIMIT_AS, &rl) < 0 ? -errno : 0;
}

/* A layer on the host's Landlock domain: from here only its own temp dir. */
static int own_temp_dir(const char *tmpdir)
{
	int rc;

	if (tmpdir == NULL)
		return 0;
	rc = priv_landlock_restrict(tmpdir);
	return rc == -EOPNOTSUPP ? 0 : rc;  /* no Landlock: the host said so at start */
}

int priv_worker_contain(const struct priv_worker_params *p, const char **step)
{
	PRIV_STEP("parent death signal", die_with_host(p->host_pid));
	PRIV_STEP("stdio to /dev/null", stdio_to_null(p->null_fd));
	PRIV_STEP("close descriptors", close_all_but_job(p->job_sock));
	PRIV_STEP("rlimit_as", limit_memory(p->as_limit));
	PRIV_STEP("landlock own temp dir", own_temp_dir(p->tmpdir));
	PRIV_STEP("seccomp", priv_worker_seccomp(p->violation, p->job_sock));
	return 0;
}
