/*
 * tests/fault.c: the misbehaviours tests/fault.h lists. Test builds only.
 */
#define _GNU_SOURCE
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
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
	errno = EINVAL;
	return -1;
}

int fault_maybe_inject(const void *data, size_t len)
{
	char cmd[64];
	size_t n;

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

void fault_host_before_spawn(unsigned n)
{
	const char *f = getenv("AVW_FAULT_HOST");
	unsigned at;

	if (f == NULL || sscanf(f, "spawn-nofile:%u", &at) != 1 || n != at)
		return;
	/* Descriptors 0-3 are open: no room for the three the request carries. */
	struct rlimit rl = { 4, 4 };
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}
