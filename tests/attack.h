/*
 * tests/attack.h: what a compromised worker tries, for the containment
 * suite (tests/containment.sh). Test builds only (avwarden-scanner-faulty),
 * never in avwarden-scanner.
 *
 * A job whose bytes start with "AVWARDEN-ATTACK:NAME[:ARG]" makes the
 * worker, after its real lock-down by the real host under the real
 * supervisor, run attack NAME instead of scanning. An attack the sandbox
 * answers with an error reports it as the verdict, so the suite reads the
 * outcome on the clamd protocol:
 *
 *   stream: Attack.NAME.OUTCOME FOUND    OUTCOME = the errno (EACCES,
 *                                        EPERM, ENOSPC, ...), or what it
 *                                        found ("absent", "written", ...),
 *                                        or SUCCEEDED when a wall is missing
 *
 * An attack the sandbox kills (seccomp) never reports: its job is answered
 * ERROR and the log names the syscall. The list is in tests/attack.c.
 */
#ifndef AVW_ATTACK_H
#define AVW_ATTACK_H

#include <stddef.h>
#include <stdint.h>

#include "../ipc/ipc.h"

struct attack_ctx {
	const void *engine;          /* the compiled engine this worker got */
	const char *tmpdir;          /* its own temp dir */
	const unsigned char *data;   /* its data area (read-only) and its size */
	size_t cap;
	struct ipc_chan *chan;       /* its shared channel, for forged results */
	int job_sock;
	uint64_t seq;                /* the job in hand */
};

/* 0: not an attack, scan it. 1: done, the outcome is in *r. Some attacks
 * do not return. */
int attack_job(const struct attack_ctx *ctx, const void *data, size_t len, struct ipc_result *r);

#endif
