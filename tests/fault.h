/*
 * tests/fault.h: fault injection for the test-only scanner build
 * (build/tests/avwarden-scanner-faulty). Never compiled into avwarden-scanner.
 *
 * A job whose bytes start with "AVWARDEN-FAULT:" makes the worker misbehave
 * after its lock-down, the way a compromised or broken libclamav would:
 *   crash        SIGSEGV          hang        spin forever
 *   exit         _exit(3)         garbage     write an invalid result
 *   slow         take 1 s, then scan normally
 * and, whatever the bytes, with AVW_FAULT_SCAN=crash-eicar in the scanner's
 * environment (a wrapper sets it): crash on any job holding "EICAR", as
 * an engine would on a database that breaks it
 *   syscall=NAME call a forbidden syscall (open, socket, execve, ptrace, kill1)
 * and resources the engine runs out of during a scan (AVW_FAULT_SCAN):
 *   tmpfull      the worker's temp dir filled before the scan (emptied after)
 *   nofile:N     RLIMIT_NOFILE lowered to N descriptors above those open
 */
#ifndef AVW_FAULT_H
#define AVW_FAULT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../ipc/ipc.h"

/* Before the scan; returns 1 when the result must be corrupted after it. */
int fault_maybe_inject(const void *data, size_t len);
/* Corrupts a result the way a compromised worker could. */
void fault_corrupt(struct ipc_result *r);
/* Around the scan: AVW_FAULT_SCAN=tmpfull or nofile:N takes the resource. */
void fault_resources_begin(const char *tmpdir);
void fault_resources_end(void);
/*
 * The host misbehaving, chosen by the AVW_FAULT_HOST environment variable
 * (set by a wrapper script on scanner_path; the supervisor passes no
 * environment of its own):
 *   spawn-nofile:N  at the Nth spawn request, lower our RLIMIT_NOFILE so the
 *                   request's descriptors cannot be received (what a worker
 *                   that may prlimit() its host can do), and so exit
 *   forge-exit      report every worker dead (SIGSEGV) right after its birth,
 *                   while it runs
 *   foreign-pid     report another process as a worker: the supervisor's pid
 *                   (no pid namespace), or its own pidfd (in one)
 *   log-flood:N     send N LOG records right after READY
 *   fork-fail:N     every fork after the first N fails (EAGAIN)
 *   worker-gone:N   the Nth worker exits at birth and is reaped before its
 *                   WORKER_UP is sent: what a SIGKILL from outside right
 *                   after the fork looks like to a supervisor that reads
 *                   the report late (its pidfd names a process gone)
 *   second-ready    send READY twice
 *   oversized       send a record longer than any type right after READY
 *   truncated       send a READY cut short right after READY
 *   syscall=NAME    right after READY, call a syscall its filter refuses
 *                   (fault_syscall's names, plus unshare and netlink)
 */
/* Before each spawn request is received (its number, from 1). */
void fault_host_before_spawn(unsigned n);
/* 1: make this fork fail. */
int fault_host_fail_fork(void);
/* 1: the worker about to be forked exits at once (worker-gone). */
int fault_host_worker_gone(void);
/* The pid to report for a worker that really is `pid`. */
pid_t fault_host_report_pid(pid_t pid);
/* The pidfd to send with it. */
int fault_host_forge_pidfd(int pidfd);
void fault_host_after_up(int ctl, uint32_t worker, pid_t pid);
void fault_host_after_ready(int ctl);
/* Calls a forbidden syscall by name; exposed for the sandbox tests. */
int fault_syscall(const char *name);

#endif
