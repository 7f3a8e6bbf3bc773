/*
 * scripts/vm-costs.c: what this machine charges for the primitives one
 * message per process is made of, printed by `make bench` beside its
 * ratios: an empty process's fork and exit, a first touch of an anonymous
 * page, a copy-on-write fault after fork, a syscall. A VM that shadows page
 * tables in its hypervisor charges ten times or more what bare metal does.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGES 8192

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)PAGES * (size_t)pg;
	int fds[2];
	double t, fork_us, fault_us, cow_us = 0, sys_us;
	char *p;

	t = now_us();
	for (int i = 0; i < 200; i++) {
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		if (c < 0 || waitpid(c, NULL, 0) != c)
			return 1;
	}
	fork_us = (now_us() - t) / 200;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	(void)madvise(p, len, MADV_NOHUGEPAGE);
	t = now_us();
	for (size_t i = 0; i < len; i += (size_t)pg)
		p[i] = 1;
	fault_us = (now_us() - t) / PAGES;

	if (pipe(fds) < 0)
		return 1;
	pid_t c = fork();
	if (c == 0) {
		double s = now_us();
		for (size_t i = 0; i < len; i += (size_t)pg)
			p[i] = 2;
		s = (now_us() - s) / PAGES;
		_exit(write(fds[1], &s, sizeof(s)) == sizeof(s) ? 0 : 1);
	}
	if (c < 0 || read(fds[0], &cow_us, sizeof(cow_us)) != sizeof(cow_us))
		return 1;
	(void)waitpid(c, NULL, 0);

	t = now_us();
	for (int i = 0; i < 100000; i++)
		(void)syscall(SYS_getppid);
	sys_us = (now_us() - t) / 100000;

	printf("machine: fork+exit of an empty process %.0f us, first touch of a page %.2f us, "
	    "copy-on-write fault %.2f us, syscall %.2f us\n", fork_us, fault_us, cow_us, sys_us);
	return 0;
}
