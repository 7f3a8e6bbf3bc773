/*
 * scanner/host.c: avwarden-scanner, the scanner host. Exec'd by the
 * supervisor through scanner_path (possibly via a wrapper script that execs
 * it), with its control socket on fd 3.
 *
 * Reads top to bottom: wait for the supervisor's go (START, with the limits
 * to apply), hold the database by descriptor, contain (priv_host_contain:
 * descriptors, limits, namespaces, tmpfs, no capabilities, no_new_privs),
 * load the database, lock down (priv_host_lockdown: Landlock), say READY,
 * then fork workers on request and report how they end.
 *
 * Must never scan anything itself, and never serve half-contained: every
 * failed step exits before READY.
 */
#define _GNU_SOURCE
#include "scan.h"
#include "tripwire.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
	uint32_t slot;
	pid_t pid;
};

static struct host_worker workers[HOST_MAX_WORKERS];
static uint64_t worker_as_limit;  /* 0: none */
static unsigned nslots;           /* worker temp dirs made at start (--slots) */
static const char *host_tmpdir;
static int null_fd = -1;          /* /dev/null: workers' 0, 1 and 2 */

static int unlink_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0)
		return 0;  /* the slot's own directory (its tmpfs root) stays */
	(void)remove(path);
	return 0;
}

/* What a worker left in its temp dir (a crash leaves everything) goes
 * before the next worker of the slot starts: nothing of one message is
 * there for the next. */
static void clean_slot(uint32_t slot)
{
	char dir[300];

	if (priv_slot_dir(dir, sizeof(dir), host_tmpdir, slot) == 0)
		(void)nftw(dir, unlink_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

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
 * No leak check at exit either: LeakSanitizer stops the process with
 * ptrace and a CLONE_VM thread, which the host's own filter refuses.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0:detect_leaks=0";
}
#endif

/* Every record to the supervisor; the supervisor gone means we are done. */
static void host_send(uint32_t type, const void *payload)
{
	if (ipc_msg_send(ctl, type, payload, NULL, 0) < 0)
		_exit(1);
}

/* A record with a pidfd attached (none where the kernel has no pidfds:
 * the supervisor then checks the pid alone). */
static void host_send_fd(uint32_t type, const void *payload, int fd)
{
	if (ipc_msg_send(ctl, type, payload, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0) < 0)
		_exit(1);
}

/* Tell the supervisor why, then exit: it logs the cause and backs off. */
static void PLAT_PRINTF(1, 2) PLAT_NORETURN host_fail(const char *fmt, ...)
{
	struct ipc_fatal f;
	va_list ap;

	memset(&f, 0, sizeof(f));
	va_start(ap, fmt);
	vsnprintf(f.reason, sizeof(f.reason), fmt, ap);
	va_end(ap);
	log_errx("host_abort", "reason=\"%s\"", f.reason);
	host_send(IPC_MSG_FATAL, &f);
	exit(1);
}

/* The host broke its own seccomp filter (privileges/seccomp.c calls this
 * from the SIGSYS handler, then exits): one record, built on the stack. */
static void host_violation(uint32_t sysno)
{
	struct ipc_fatal f;

	memset(&f, 0, sizeof(f));
	memcpy(f.reason, "sandbox violation", sizeof("sandbox violation"));
	f.sysno = sysno;
	(void)ipc_msg_send(ctl, IPC_MSG_FATAL, &f, NULL, 0);
}

/* libclamav's own messages (load errors, warnings) go to the scanner log. */
static void host_clamav_msg(enum cl_msg severity, const char *fullmsg, const char *msg, void *ctx)
{
	struct ipc_log l;

	(void)fullmsg;
	(void)ctx;
	if (severity < CL_MSG_WARN)
		return;
	memset(&l, 0, sizeof(l));
	l.level = severity >= CL_MSG_ERROR ? IPC_LOG_ERROR : IPC_LOG_WARN;
	snprintf(l.text, sizeof(l.text), "%s", msg);
	host_send(IPC_MSG_LOG, &l);
}

static void worker_exit_report(uint32_t worker, pid_t pid, int status, const char *reason)
{
	struct ipc_worker_exit e;

	memset(&e, 0, sizeof(e));
	e.worker = worker;
	e.pid = pid;
	e.status = status;
	snprintf(e.reason, sizeof(e.reason), "%s", reason);
	host_send(IPC_MSG_WORKER_EXIT, &e);
}

/* The supervisor's go, with the limits to apply (see privileges/spawn.c). */
static void wait_for_start(struct priv_spawn_limits *lim)
{
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };
	char err[128];
	struct ipc_msg m;
	int rc;

	for (;;) {
		if (PLAT_RETRY(poll(&pfd, 1, -1)) < 0)
			fatal("host_abort", "step=wait_start");
		rc = ipc_msg_recv(ctl, IPC_MSG_BIT(IPC_MSG_START), &m, NULL, err, sizeof(err));
		if (rc == -EAGAIN)
			continue;
		if (rc == 0)
			exit(0);
		if (rc < 0)
			fatalx("host_abort", "step=wait_start reason=\"%s\"", err);
		lim->nofile = m.u.start.nofile;
		return;
	}
}

static void spawn_worker(const struct cl_engine *engine, const struct ipc_spawn *sp, int fds[IPC_SPAWN_FDS], int sigfd)
{
	struct ipc_worker_up up;
	sigset_t none;
	size_t slot;
	pid_t pid, host_self = getpid();
	int pidfd;

	for (slot = 0; slot < HOST_MAX_WORKERS && workers[slot].pid != 0; slot++)
		;
	if (slot == HOST_MAX_WORKERS)
		host_fail("more than %d workers requested", HOST_MAX_WORKERS);
	if (sp->slot >= nslots)
		host_fail("spawn request for temp dir %u of %u", sp->slot, nslots);
	for (size_t i = 0; i < HOST_MAX_WORKERS; i++)
		if (workers[i].pid != 0 && workers[i].slot == sp->slot)
			host_fail("spawn request for temp dir %u, which worker %u still has", sp->slot, workers[i].id);
	clean_slot(sp->slot);
#ifdef AVW_FAULT_INJECTION
	int gone = fault_host_worker_gone(), gone_status = 0;
	pid = fault_host_fail_fork() ? (errno = EAGAIN, -1) : fork();
	if (pid == 0 && gone)
		_exit(0);
#else
	pid = fork();
#endif
	if (pid < 0) {
		char why[128];
		snprintf(why, sizeof(why), "fork: %s", strerror(errno));
		for (int i = 0; i < IPC_SPAWN_FDS; i++)
			close(fds[i]);
		worker_exit_report(sp->worker, 0, W_EXITCODE(127, 0), why);
		return;
	}
	if (pid == 0) {
		plat_exit_fast(1);
		plat_log_init("avwarden-worker", 1);
		close(sigfd);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		char dir[300];
		if (priv_slot_dir(dir, sizeof(dir), host_tmpdir, sp->slot) < 0)
			_exit(1);
		scan_worker_main(engine, dir, host_self, null_fd, fds[0], fds[1], fds[2], worker_as_limit);
	}
	for (int i = 0; i < IPC_SPAWN_FDS; i++)
		close(fds[i]);
	workers[slot].id = sp->worker;
	workers[slot].slot = sp->slot;
	workers[slot].pid = pid;
	memset(&up, 0, sizeof(up));
	up.worker = sp->worker;
	up.pid = pid;
#ifdef AVW_FAULT_INJECTION
	up.pid = fault_host_report_pid(pid);
#endif
	/* The pid is ours (our namespace's); the pidfd tells the supervisor
	 * which process it is in its own. */
	pidfd = (int)syscall(SYS_pidfd_open, up.pid, 0);
#ifdef AVW_FAULT_INJECTION
	pidfd = fault_host_forge_pidfd(pidfd);
	while (gone && waitpid(pid, &gone_status, 0) < 0 && errno == EINTR)
		;
#endif
	host_send_fd(IPC_MSG_WORKER_UP, &up, pidfd);
	if (pidfd >= 0)
		close(pidfd);
#ifdef AVW_FAULT_INJECTION
	fault_host_after_up(ctl, sp->worker, pid);
	if (gone) {
		worker_exit_report(sp->worker, pid, gone_status, "");
		workers[slot].pid = 0;
		clean_slot(sp->slot);
	}
#endif
}

static void reap_workers(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < HOST_MAX_WORKERS; i++) {
			if (workers[i].pid != pid)
				continue;
			worker_exit_report(workers[i].id, pid, status, "");
			workers[i].pid = 0;
			clean_slot(workers[i].slot);
			break;
		}
	}
}

/* SIGCHLD as a descriptor; made before the lock-down, whose filter has no
 * signalfd. */
static int sigchld_fd(void)
{
	sigset_t mask;
	int sigfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("host_abort", "step=sigprocmask");
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		fatal("host_abort", "step=signalfd");
	return sigfd;
}

static void serve(const struct cl_engine *engine, int sigfd)
{
	struct pollfd pfd[2];

	pfd[0] = (struct pollfd){ .fd = ctl, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sigfd, .events = POLLIN };

	for (;;) {
		if (PLAT_RETRY(poll(pfd, 2, -1)) < 0)
			fatal("host_abort", "step=poll");
		if (pfd[1].revents) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof(si)) == sizeof(si))
				;
			reap_workers();
		}
		if (pfd[0].revents) {
			struct ipc_msg m;
			int fds[IPC_SPAWN_FDS];
			char err[128];
#ifdef AVW_FAULT_INJECTION
			static unsigned spawns;
			fault_host_before_spawn(++spawns);
#endif
			int rc = ipc_msg_recv(ctl, IPC_MSG_BIT(IPC_MSG_SPAWN), &m, fds, err, sizeof(err));
			if (rc == -EAGAIN)
				continue;
			if (rc == 0)
				exit(0);  /* supervisor closed us: workers die with us */
			if (rc < 0)
				fatalx("host_abort", "reason=\"bad control record: %s\"", err);
			spawn_worker(engine, &m.u.spawn, fds, sigfd);
		}
	}
}

static void usage(void)
{
	fprintf(stderr,
	    "usage: avwarden-scanner --database PATH [--tmpdir DIR] [--tmp-size BYTES]\n"
	    "       [--max-scansize B] [--max-filesize B] [--max-recursion N]\n"
	    "       [--max-files N] [--max-scantime MS] [--worker-memory B] [--slots N]\n"
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

struct host_args {
	const char *database;
	char tmpdir[256];
	uint64_t tmp_size;
	uint64_t worker_memory;
	unsigned slots;
	struct scan_limits lim;
};

static void parse_args(int argc, char **argv, struct host_args *a)
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
		{ "slots", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	strcpy(a->tmpdir, "/tmp");
	a->tmp_size = 256ull << 20;
	a->slots = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': a->database = optarg; break;
		case 't':
			if (strlen(optarg) >= sizeof(a->tmpdir) - 32)
				fatalx("host_abort", "reason=\"--tmpdir too long\"");
			strcpy(a->tmpdir, optarg);
			break;
		case 's': a->tmp_size = size_arg("--tmp-size", optarg); break;
		case 'S': a->lim.max_scansize = size_arg("--max-scansize", optarg); break;
		case 'F': a->lim.max_filesize = size_arg("--max-filesize", optarg); break;
		case 'R': a->lim.max_recursion = size_arg("--max-recursion", optarg); break;
		case 'N': a->lim.max_files = size_arg("--max-files", optarg); break;
		case 'T': a->lim.max_scantime_ms = size_arg("--max-scantime", optarg); break;
		case 'W': a->worker_memory = size_arg("--worker-memory", optarg); break;
		case 'L': a->slots = (unsigned)size_arg("--slots", optarg); break;
		default: usage();
		}
	}
	if (a->database == NULL || optind != argc)
		usage();
}

/* Loads and compiles the signatures through dbfd; fills the READY record. */
static struct cl_engine *load(struct host_args *a, int dbfd, struct ipc_ready *ready)
{
	char err[IPC_TEXT_MAX], dbpath[64], dbinfo[160];
	struct cl_engine *engine;
	unsigned sigs = 0;
	time_t built = 0;

	snprintf(dbpath, sizeof(dbpath), "/proc/self/fd/%d", dbfd);
	cl_set_clcb_msg(host_clamav_msg);
	engine = scan_engine_load(dbpath, a->database, a->tmpdir, &a->lim, &sigs, err, sizeof(err));
	if (engine == NULL)
		host_fail("%s", err);
	scan_db_describe(dbpath, dbinfo, sizeof(dbinfo), &built);
	memset(ready, 0, sizeof(*ready));
	ready->database_built = (int64_t)built;
	ready->have_print = scan_db_print(dbpath, ready->database_print) == 0;
	ready->signatures = sigs;
	snprintf(ready->engine, sizeof(ready->engine), "%s", cl_retflevel() ? cl_retver() : "?");
	snprintf(ready->database, sizeof(ready->database), "%s", dbinfo[0] ? dbinfo : "?");
	/*
	 * Workers' RLIMIT_AS: what the host maps now (the engine they share)
	 * plus worker_memory. Read before Landlock hides /proc.
	 */
	if (a->worker_memory > 0) {
		uint64_t vm = vm_size();
		if (vm == 0)
			host_fail("cannot read the host's address-space size from /proc/self/statm");
		worker_as_limit = vm + a->worker_memory;
	}
	return engine;
}

/* The database loaded, then laid out so that forks are cheap and first
 * scans warm: once here, not in every worker. */
static struct cl_engine *load_for_forks(struct host_args *a, int dbfd, struct ipc_ready *ready)
{
	struct cl_engine *engine;
	uint64_t moved, huge;
	int rc;

	if ((rc = scan_engmap_before()) < 0)
		host_fail("cannot read the host's memory map: %s", strerror(-rc));
	engine = load(a, dbfd, ready);
	if ((rc = scan_engmap_apply(&moved, &huge)) < 0)
		host_fail("cannot lay the engine out for forks: %s", strerror(-rc));
	scan_engine_warm_up(engine);
	/* malloc's free lists consolidated once here: else the first large
	 * allocation in every worker walks them, and its writes copy-on-write
	 * page after page of the host's heap. */
	(void)malloc_trim(0);
	if ((rc = priv_worker_seccomp_prepare(PRIV_WORKER_JOB_FD)) < 0)
		plat_log(PLAT_LOG_WARN, "seccomp_prepare", "error=\"%s\" action=\"each worker compiles its filter\"",
		    strerror(-rc));
	ready->engine_mb = (uint32_t)(moved >> 20);
	ready->huge_mb = (uint32_t)(huge >> 20);
	return engine;
}

int main(int argc, char **argv)
{
	struct priv_host_params hp = { 0 };
	struct host_args a;
	struct ipc_ready ready;
	struct cl_engine *engine;
	const char *step = NULL;
	unsigned missing = 0;
	int dbfd, rc;

	plat_log_init("avwarden-scanner", 1);
	tripwire_init();  /* libc's functions found before any sandbox */
	/* Workers need 0, 1 and 2 open (privileges/worker.c): /dev/null if not. */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			fatal("host_abort", "step=stdio");
	parse_args(argc, argv, &a);
	a.lim.no_cache = 1;  /* a worker scans one job: its cache would only cost */
	if (fcntl(IPC_HOST_FD, F_GETFD) < 0)
		fatalx("host_abort", "reason=\"no control socket on fd 3: avwarden-scanner is started by avwarden\"");

	wait_for_start(&hp.limits);
	/*
	 * Hold the database by descriptor: the private tmpfs about to be
	 * mounted may hide its path (a database under /tmp), and the load then
	 * goes through /proc/self/fd, which still reaches it.
	 */
	dbfd = open(a.database, O_PATH | O_CLOEXEC);
	if (dbfd < 0)
		host_fail("cannot open database %s: %s", a.database, strerror(errno));

	if ((null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		host_fail("cannot open /dev/null: %s", strerror(errno));

	/* Steps 1 and 2: contain before touching a signature. */
	int keep[] = { 0, 1, 2, IPC_HOST_FD, dbfd, null_fd };
	hp.keep = keep;
	hp.nkeep = sizeof(keep) / sizeof(keep[0]);
	hp.tmpdir = a.tmpdir;
	hp.tmpdir_len = sizeof(a.tmpdir);
	hp.tmp_size = a.tmp_size;
	hp.slots = a.slots;
	if (a.slots == 0 || a.slots > HOST_MAX_WORKERS)
		host_fail("--slots %u: between 1 and %d", a.slots, HOST_MAX_WORKERS);
	if ((rc = priv_host_contain(&hp, &missing, &step)) < 0)
		host_fail("sandbox step '%s' failed: %s", step, strerror(-rc));

	engine = load_for_forks(&a, dbfd, &ready);
	close(dbfd);

	int sigfd = sigchld_fd();
	/* Step 3. */
	if ((rc = priv_host_lockdown(a.tmpdir, host_violation, &missing, &step)) < 0)
		host_fail("sandbox step '%s' failed: %s", step, strerror(-rc));

	nslots = a.slots;
	host_tmpdir = a.tmpdir;
	ready.missing = missing;
	snprintf(ready.tmpdir, sizeof(ready.tmpdir), "%s", a.tmpdir);
	/* Our own pidfd: in our pid namespace we are pid 1, and the supervisor
	 * learns who that is in its own. */
	int self_fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	host_send_fd(IPC_MSG_READY, &ready, self_fd);
	if (self_fd >= 0)
		close(self_fd);
#ifdef AVW_FAULT_INJECTION
	fault_host_after_ready(ctl);
#endif
	serve(engine, sigfd);
	return 0;
}
