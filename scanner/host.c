/*
 * scanner/host.c: avwarden-scanner, the scanner host. Exec'd by the
 * supervisor through scanner_path (possibly via a wrapper script that execs
 * it), with its control socket on fd 3.
 *
 * Reads top to bottom: keep only fd 3, die with the supervisor, wait for the
 * supervisor's go (it applies our rlimits first), contain (namespaces,
 * tmpfs, no capabilities, no_new_privs), load the database, Landlock, say
 * READY, then fork workers on request and report how they end.
 *
 * Must never scan anything itself, and never serve half-contained: every
 * failed step exits before READY.
 */
#define _GNU_SOURCE
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "../privileges/priv.h"

#ifdef AVW_FAULT_INJECTION
#include "../tests/fault.h"
#endif

#define HOST_MAX_WORKERS 1024

struct host_worker {
	uint32_t id;
	pid_t pid;
};

static struct host_worker workers[HOST_MAX_WORKERS];
static uint64_t worker_as_limit;  /* 0: none */

static uint64_t vm_size(void)
{
	unsigned long long pages = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu", &pages) != 1)
		pages = 0;
	fclose(f);
	return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}
static int ctl = IPC_HOST_FD;

#ifdef AVW_SANITIZER_BUILD
/*
 * Sanitizer builds only: a worker's fatal signal must reach the supervisor
 * as it does in production; ASan's own handler would first make syscalls
 * the worker's seccomp filter forbids, turning a crash into a "violation".
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0";
}
#endif

static void host_send(uint32_t type, uint32_t worker, pid_t pid, int32_t a, const char *fmt, ...)
    PLAT_PRINTF(5, 6);

static void host_send(uint32_t type, uint32_t worker, pid_t pid, int32_t a, const char *fmt, ...)
{
	struct ipc_msg m;
	va_list ap;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.worker = worker;
	m.pid = pid;
	m.a = a;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(m.text, sizeof(m.text), fmt, ap);
		va_end(ap);
	}
	if (ipc_msg_send(ctl, &m, NULL, 0) < 0)
		_exit(1);  /* supervisor gone */
}

/* Tell the supervisor why, then exit: it logs the cause and backs off. */
static void PLAT_PRINTF(1, 2) PLAT_NORETURN host_fail(const char *fmt, ...)
{
	char buf[IPC_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	plat_log(PLAT_LOG_ERROR, "host_abort", "reason=\"%s\"", buf);
	host_send(IPC_MSG_FATAL, 0, 0, 0, "%s", buf);
	exit(1);
}

/* libclamav's own messages (load errors, warnings) go to the scanner log. */
static void host_clamav_msg(enum cl_msg severity, const char *fullmsg, const char *msg, void *ctx)
{
	(void)fullmsg;
	(void)ctx;
	if (severity < CL_MSG_WARN)
		return;
	host_send(IPC_MSG_LOG, 0, 0, severity >= CL_MSG_ERROR ? IPC_LOG_ERROR : IPC_LOG_WARN, "%s", msg);
}

static void wait_for_start(struct priv_spawn_limits *lim)
{
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };
	struct ipc_msg m;
	int rc;

	for (;;) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			fatal("host_abort", "step=wait_start");
		}
		rc = ipc_msg_recv(ctl, &m, NULL, NULL);
		if (rc == -EAGAIN)
			continue;
		if (rc == 0)
			exit(0);
		if (rc < 0 || m.type != IPC_MSG_START || m.a <= 0)
			fatalx("host_abort", "step=wait_start reason=\"unexpected control message\"");
		lim->nofile = (uint64_t)m.a;
		return;
	}
}

static void spawn_worker(const struct cl_engine *engine, const struct ipc_msg *m, int *fds, size_t nfds, int sigfd)
{
	sigset_t none;
	size_t slot;
	pid_t pid;

	if (nfds != 3) {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		host_fail("spawn request without its three descriptors");
	}
	for (slot = 0; slot < HOST_MAX_WORKERS && workers[slot].pid != 0; slot++)
		;
	if (slot == HOST_MAX_WORKERS)
		host_fail("more than %d workers requested", HOST_MAX_WORKERS);
	pid = fork();
	if (pid < 0) {
		int err = errno;
		for (int i = 0; i < 3; i++)
			close(fds[i]);
		host_send(IPC_MSG_WORKER_EXIT, m->worker, 0, W_EXITCODE(127, 0), "fork: %s", strerror(err));
		return;
	}
	if (pid == 0) {
		plat_exit_fast(1);
		plat_log_init("avwarden-worker", 1);
		close(sigfd);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		scan_worker_main(engine, fds[0], fds[1], fds[2], worker_as_limit);
	}
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	workers[slot].id = m->worker;
	workers[slot].pid = pid;
	host_send(IPC_MSG_WORKER_UP, m->worker, pid, 0, NULL);
}

static void reap_workers(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < HOST_MAX_WORKERS; i++) {
			if (workers[i].pid != pid)
				continue;
			host_send(IPC_MSG_WORKER_EXIT, workers[i].id, pid, status, NULL);
			workers[i].pid = 0;
			break;
		}
	}
}

static void serve(const struct cl_engine *engine)
{
	struct pollfd pfd[2];
	sigset_t mask;
	int sigfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("host_abort", "step=sigprocmask");
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		fatal("host_abort", "step=signalfd");
	pfd[0] = (struct pollfd){ .fd = ctl, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sigfd, .events = POLLIN };

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fatal("host_abort", "step=poll");
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof(si)) == sizeof(si))
				;
			reap_workers();
		}
		if (pfd[0].revents) {
			struct ipc_msg m;
			int fds[3];
			size_t nfds = 3;
#ifdef AVW_FAULT_INJECTION
			static unsigned spawns;
			fault_host_before_spawn(++spawns);
#endif
			int rc = ipc_msg_recv(ctl, &m, fds, &nfds);
			if (rc == -EAGAIN)
				continue;
			if (rc == 0)
				exit(0);  /* supervisor closed us: workers die with us */
			if (rc < 0)
				fatalx("host_abort", "reason=\"bad control message: %s\"", strerror(-rc));
			if (m.type != IPC_MSG_SPAWN) {
				for (size_t i = 0; i < nfds; i++)
					close(fds[i]);
				fatalx("host_abort", "reason=\"unexpected control message %u\"", m.type);
			}
			spawn_worker(engine, &m, fds, nfds, sigfd);
		}
	}
}

static void usage(void)
{
	fprintf(stderr,
	    "usage: avwarden-scanner --database PATH [--tmpdir DIR] [--tmp-size BYTES]\n"
	    "       [--max-scansize B] [--max-filesize B] [--max-recursion N]\n"
	    "       [--max-files N] [--max-scantime MS] [--worker-memory B]\n"
	    "Started by avwarden through scanner_path with its control socket on fd 3;\n"
	    "not meant to be run by hand.\n");
	exit(2);
}

static uint64_t size_arg(const char *opt, const char *v)
{
	uint64_t n;

	if (plat_parse_size(v, &n) < 0)
		fatalx("host_abort", "reason=\"bad value for %s: %s\"", opt, v);
	return n;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "database", required_argument, NULL, 'd' },
		{ "tmpdir", required_argument, NULL, 't' },
		{ "tmp-size", required_argument, NULL, 's' },
		{ "max-scansize", required_argument, NULL, 'S' },
		{ "max-filesize", required_argument, NULL, 'F' },
		{ "max-recursion", required_argument, NULL, 'R' },
		{ "max-files", required_argument, NULL, 'N' },
		{ "max-scantime", required_argument, NULL, 'T' },
		{ "worker-memory", required_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	struct scan_limits lim = { 0 };
	struct priv_spawn_limits spawn_lim = { 0 };
	const char *database = NULL, *step = NULL;
	char tmpdir[256] = "/tmp", err[IPC_TEXT_MAX], dbpath[64], dbinfo[160];
	int dbfd;
	uint64_t tmp_size = 256ull << 20, worker_memory = 0;
	struct cl_engine *engine;
	unsigned missing = 0, sigs = 0;
	int keep[] = { 0, 1, 2, IPC_HOST_FD };
	int c, rc;

	plat_log_init("avwarden-scanner", 1);
	/* Workers need 0, 1 and 2 open (see scanner/worker.c): /dev/null if not. */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			fatal("host_abort", "step=stdio");
	/* Step 1, re-checked from the inside: only stdio and the control fd. */
	if (plat_close_fds_except(0, keep, 4) < 0)
		fatal("host_abort", "step=close_fds");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fatal("host_abort", "step=pdeathsig");
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': database = optarg; break;
		case 't':
			if (strlen(optarg) >= sizeof(tmpdir) - 32)
				fatalx("host_abort", "reason=\"--tmpdir too long\"");
			strcpy(tmpdir, optarg);
			break;
		case 's': tmp_size = size_arg("--tmp-size", optarg); break;
		case 'S': lim.max_scansize = size_arg("--max-scansize", optarg); break;
		case 'F': lim.max_filesize = size_arg("--max-filesize", optarg); break;
		case 'R': lim.max_recursion = size_arg("--max-recursion", optarg); break;
		case 'N': lim.max_files = size_arg("--max-files", optarg); break;
		case 'T': lim.max_scantime_ms = size_arg("--max-scantime", optarg); break;
		case 'W': worker_memory = size_arg("--worker-memory", optarg); break;
		default: usage();
		}
	}
	if (database == NULL || optind != argc)
		usage();
	if (fcntl(IPC_HOST_FD, F_GETFD) < 0)
		fatalx("host_abort", "reason=\"no control socket on fd 3: avwarden-scanner is started by avwarden\"");

	wait_for_start(&spawn_lim);
	/* Step 1's limits, applied to ourselves (see supervisor/pool.c). */
	if ((rc = priv_spawn_limits(0, &spawn_lim)) < 0)
		host_fail("sandbox step 'rlimits' failed: %s", strerror(-rc));

	/*
	 * Hold the database by descriptor: the private tmpfs about to be
	 * mounted may hide its path (a database under /tmp), and the load then
	 * goes through /proc/self/fd, which still reaches it.
	 */
	dbfd = open(database, O_PATH | O_CLOEXEC);
	if (dbfd < 0)
		host_fail("cannot open database %s: %s", database, strerror(errno));

	/* Step 2: contain before touching a signature. */
	rc = priv_host_contain(tmpdir, sizeof(tmpdir), tmp_size, &missing, &step);
	if (rc < 0)
		host_fail("sandbox step '%s' failed: %s", step, strerror(-rc));

	snprintf(dbpath, sizeof(dbpath), "/proc/self/fd/%d", dbfd);
	cl_set_clcb_msg(host_clamav_msg);
	engine = scan_engine_load(dbpath, database, tmpdir, &lim, &sigs, err, sizeof(err));
	if (engine == NULL)
		host_fail("%s", err);
	scan_db_describe(dbpath, dbinfo, sizeof(dbinfo));
	close(dbfd);

	/*
	 * Workers' RLIMIT_AS: what the host maps now (the engine they share)
	 * plus worker_memory. Read before Landlock hides /proc.
	 */
	if (worker_memory > 0) {
		uint64_t vm = vm_size();
		if (vm == 0)
			host_fail("cannot read the host's address-space size from /proc/self/statm");
		worker_as_limit = vm + worker_memory;
	}

	/* Step 3. */
	rc = priv_landlock_restrict(tmpdir);
	if (rc == -EOPNOTSUPP)
		missing |= PRIV_MISSING_LANDLOCK;
	else if (rc < 0)
		host_fail("sandbox step 'landlock' failed: %s", strerror(-rc));

	host_send(IPC_MSG_READY, 0, getpid(), (int32_t)sigs, "engine=%s missing=%s%s%s tmpdir=%s db=%s",
	    cl_retflevel() ? cl_retver() : "?",
	    missing == 0 ? "none" : "",
	    (missing & PRIV_MISSING_NAMESPACES) ? "namespaces," : "",
	    (missing & PRIV_MISSING_LANDLOCK) ? "landlock," : "",
	    tmpdir, dbinfo[0] ? dbinfo : "?");
	serve(engine);
	return 0;
}
