/*
 * tests/test_sandbox.c: the sandbox steps, each exercised in a forked child
 * (restrictions are irreversible) that the parent reaps with a timeout.
 *
 * Asserts exact outcomes: a forbidden syscall kills the worker with SIGSYS
 * and its number is recorded in the shared violation block; a path outside
 * the temp dir is refused by Landlock with EACCES; the host's containment
 * leaves no capabilities, no_new_privs set and a network namespace of its
 * own. Needs a kernel with seccomp, Landlock and user namespaces: a missing
 * feature fails the test with its name, it is never skipped.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "../ipc/ipc.h"
#include "../platform/plat.h"
#include "../privileges/priv.h"
#include "fault.h"

#define CHILD_TIMEOUT_S 10

enum { CHILD_OK = 0, CHILD_EACCES = 42, CHILD_STEP_FAILED = 43, CHILD_UNEXPECTED = 44 };

static struct ipc_violation *shared_violation;
static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	shared_violation = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(shared_violation != MAP_FAILED);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/avw-sandbox-test.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	/* The filter precompiled as the host does; children use it unless a
	 * test asks for the slow path (use_precompiled = 0). */
	assert_int_equal(priv_worker_seccomp_prepare(PRIV_WORKER_JOB_FD), 0);
	return 0;
}

static int use_precompiled = 1;

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	munmap(shared_violation, 4096);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Runs fn in a child; returns its wait status. The parent enforces the timeout. */
static int in_child(void (*fn)(void *), void *arg)
{
	int status = 0;
	pid_t pid;

	memset(shared_violation, 0, sizeof(*shared_violation));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(CHILD_TIMEOUT_S);
		plat_exit_fast(1);
		fn(arg);
		_exit(CHILD_OK);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/*
 * The real lock-down, the functions the scanner calls: the host's step 3
 * (priv_host_lockdown), then a worker's step 4 (priv_worker_contain).
 */
static void worker_lockdown(void)
{
	struct priv_worker_params wp = { .host_pid = getppid(), .violation = shared_violation, .tmpdir = tmpdir };
	const char *step = NULL;
	unsigned missing = 0;
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) < 0)
		_exit(CHILD_STEP_FAILED);
	/* Where scanner/worker.c puts it; elsewhere the filter is built anew. */
	if (use_precompiled && (dup2(sp[1], PRIV_WORKER_JOB_FD) < 0 || close(sp[1]) < 0))
		_exit(CHILD_STEP_FAILED);
	if (use_precompiled)
		sp[1] = PRIV_WORKER_JOB_FD;
	if (priv_set_no_new_privs() < 0)
		_exit(CHILD_STEP_FAILED);
	/* Opened before Landlock, as the host does. */
	if ((wp.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		_exit(CHILD_STEP_FAILED);
	if (priv_host_lockdown(tmpdir, NULL, &missing, &step) < 0 || (missing & PRIV_MISSING_LANDLOCK)) {
		fprintf(stderr, "test_sandbox: Landlock unavailable: this test needs a kernel with Landlock\n");
		_exit(CHILD_STEP_FAILED);
	}
	wp.job_sock = sp[1];
	if (priv_worker_contain(&wp, &step) < 0) {
		fprintf(stderr, "test_sandbox: worker containment failed at %s\n", step);
		_exit(CHILD_STEP_FAILED);
	}
	priv_worker_set_job(7);
}

static void try_syscall(void *arg)
{
	const char *name = arg;
	int rc;

	worker_lockdown();
	rc = fault_syscall(name);
	if (rc < 0 && errno == EACCES)
		_exit(CHILD_EACCES);
	_exit(CHILD_UNEXPECTED);  /* the call went through: the sandbox failed */
}

static void assert_killed_in(const char *name, const char *syscall_name)
{
	int status = in_child(try_syscall, (void *)name);
	int nr = seccomp_syscall_resolve_name(syscall_name);
	char buf[64];

	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
	assert_int_equal(shared_violation->seq, 7);
	assert_int_equal(shared_violation->sysno, (uint32_t)nr);
	/* The supervisor's log line uses this name. */
	assert_string_equal(priv_syscall_name(shared_violation->sysno, buf, sizeof(buf)), syscall_name);
}

static void test_socket_kills(void **state)
{
	(void)state;
	assert_killed_in("socket", "socket");
}

static void use_tmpdir(void *arg);

/* The same walls when the filter is built in the worker (the fallback). */
static void test_fallback_filter(void **state)
{
	int status;

	(void)state;
	use_precompiled = 0;
	assert_killed_in("socket", "socket");
	assert_killed_in("kill1", "kill");
	status = in_child(use_tmpdir, NULL);
	use_precompiled = 1;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

static void test_execve_kills(void **state)
{
	(void)state;
	assert_killed_in("execve", "execve");
}

static void test_ptrace_kills(void **state)
{
	(void)state;
	assert_killed_in("ptrace", "ptrace");
}

static void test_kill_pid1_kills(void **state)
{
	(void)state;
	assert_killed_in("kill1", "kill");
}

static void test_open_outside_tmpdir_denied(void **state)
{
	int status;

	(void)state;
	status = in_child(try_syscall, "open");
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_EACCES);
}

/* What libclamav needs must keep working: files under the temp dir. */
static void abort_to_ok(int sig)
{
	(void)sig;
	_exit(CHILD_OK);
}

static void use_tmpdir(void *arg)
{
	char path[300], back[6] = { 0 };
	int fd;

	(void)arg;
	worker_lockdown();
	snprintf(path, sizeof(path), "%s/scratch", tmpdir);
	if (mkdir(path, 0700) < 0)
		_exit(CHILD_UNEXPECTED);
	/* Modes and owners never change, not even in the temp dir: EPERM
	 * (libclamav's chmod of its own dirs before removal goes on). */
	if (chmod(path, 04777) == 0 || errno != EPERM)
		_exit(CHILD_UNEXPECTED);
	snprintf(path, sizeof(path), "%s/scratch/f", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "hello", 5) != 5 || pread(fd, back, 5, 0) != 5 ||
	    strcmp(back, "hello") != 0 || close(fd) < 0 || unlink(path) < 0)
		_exit(CHILD_UNEXPECTED);
	snprintf(path, sizeof(path), "%s/scratch", tmpdir);
	if (rmdir(path) < 0)
		_exit(CHILD_UNEXPECTED);
	/* abort() to itself stays allowed: it ends in the handler. */
	signal(SIGABRT, abort_to_ok);
	kill(getpid(), SIGABRT);
	_exit(CHILD_UNEXPECTED);
}

static void test_tmpdir_usable(void **state)
{
	int status;

	(void)state;
	status = in_child(use_tmpdir, NULL);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

static void touch_sigsys(void *arg)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };

	(void)arg;
	worker_lockdown();
	sigaction(SIGSYS, &sa, NULL);  /* a worker may not replace the trap handler */
	_exit(CHILD_UNEXPECTED);
}

static void test_sigsys_handler_is_fixed(void **state)
{
	int status;

	(void)state;
	status = in_child(touch_sigsys, NULL);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static int status_field(const char *key, char *out, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int found = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)) == 0) {
			const char *v = line + strlen(key);
			v += strspn(v, " \t");
			snprintf(out, len, "%s", v);
			out[strcspn(out, " \t\n")] = '\0';
			found = 1;
		}
	}
	fclose(f);
	return found;
}

static void host_contain(void *arg)
{
	const char *parent_net = arg;
	char tmp[256], val[64], net[64];
	unsigned missing = 0;
	const char *step = NULL;
	ssize_t n;

	/* As avwarden runs it: an unprivileged uid first (needs root here). */
	if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0))
		_exit(CHILD_STEP_FAILED);
	/* exec would make us dumpable again after the uid change; so must we,
	 * or /proc/self/uid_map stays root's. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		_exit(CHILD_STEP_FAILED);
	snprintf(tmp, sizeof(tmp), "/tmp");
	int keep[] = { 0, 1, 2 };
	struct priv_host_params hp = {
		.keep = keep, .nkeep = 3, .limits = { .nofile = 64 },
		.tmpdir = tmp, .tmpdir_len = sizeof(tmp), .tmp_size = 1 << 20,
	};
	if (priv_host_contain(&hp, &missing, &step) < 0) {
		fprintf(stderr, "test_sandbox: host containment failed at %s\n", step);
		_exit(CHILD_STEP_FAILED);
	}
	if (missing & PRIV_MISSING_NAMESPACES) {
		fprintf(stderr, "test_sandbox: user namespaces unavailable: this test needs them\n");
		_exit(CHILD_STEP_FAILED);
	}
	static const struct { const char *key, *want; } fields[] = {
		{ "CapEff:", "0000000000000000" }, { "CapPrm:", "0000000000000000" },
		{ "CapBnd:", "0000000000000000" }, { "NoNewPrivs:", "1" },
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!status_field(fields[i].key, val, sizeof(val)) || strcmp(val, fields[i].want) != 0) {
			fprintf(stderr, "test_sandbox: %s is %s, want %s\n", fields[i].key, val, fields[i].want);
			_exit(CHILD_UNEXPECTED);
		}
	n = readlink("/proc/self/ns/net", net, sizeof(net) - 1);
	if (n < 0)
		_exit(CHILD_UNEXPECTED);
	net[n] = '\0';
	if (strcmp(net, parent_net) == 0) {
		fprintf(stderr, "test_sandbox: network namespace unchanged (%s)\n", net);
		_exit(CHILD_UNEXPECTED);
	}
	/* The private tmpfs is ours and writable. */
	if (access("/tmp", W_OK) < 0) {
		fprintf(stderr, "test_sandbox: private /tmp not writable: %s\n", strerror(errno));
		_exit(CHILD_UNEXPECTED);
	}
	_exit(CHILD_OK);
}

static void test_host_containment(void **state)
{
	char net[64];
	ssize_t n;
	int status;

	(void)state;
	n = readlink("/proc/self/ns/net", net, sizeof(net) - 1);
	assert_true(n > 0);
	net[n] = '\0';
	status = in_child(host_contain, net);
	if (WIFSIGNALED(status))
		fprintf(stderr, "test_sandbox: host containment child killed by signal %d\n", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_kills),
		cmocka_unit_test(test_execve_kills),
		cmocka_unit_test(test_ptrace_kills),
		cmocka_unit_test(test_kill_pid1_kills),
		cmocka_unit_test(test_open_outside_tmpdir_denied),
		cmocka_unit_test(test_tmpdir_usable),
		cmocka_unit_test(test_sigsys_handler_is_fixed),
		cmocka_unit_test(test_host_containment),
		cmocka_unit_test(test_fallback_filter),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
