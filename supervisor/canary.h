/*
 * supervisor/canary.h: the canary set a new generation scans before it
 * takes any traffic. ClamAV has shipped signature updates that loaded fine
 * and then crashed every scanner; a database whose workers crash, hang or
 * answer wrongly on these few messages is refused like one that failed to
 * load.
 *
 * The set is built in memory (never read from disk, never downloaded): the
 * EICAR test file, a clean mail, EICAR in a zip, EICAR as a base64 mail
 * attachment, and a clean mail with a zip attachment. Each has the verdict
 * it must get: INFECTED (any name) or CLEAN; UNSCANNABLE (the configured
 * limits) passes either way.
 */
#ifndef AVW_CANARY_H
#define AVW_CANARY_H

#include <stddef.h>

#include "pool.h"

#define SUP_CANARY_MAX 8

/* One generation's run through the set. */
struct sup_canary_run {
	struct sup_job jobs[SUP_CANARY_MAX];
	unsigned next;            /* the next one to hand out */
	unsigned answered;
	unsigned char seen[SUP_CANARY_MAX];  /* answered, by set index */
	unsigned failed_k;        /* the lowest failed index so far, or SUP_CANARY_MAX */
	char failed_why[320];
	int over;                 /* passed or failed: the rest is ignored */
	void *owner;
	/* Once: ok, or why not ("eicar.zip: answered CLEAN, expected INFECTED").
	 * The verdict is the set's order, not the workers' race: the failure
	 * named is the first canary in the set that failed. */
	void (*finished)(void *owner, int ok, const char *why);
};

void sup_canary_start(struct sup_canary_run *run, void *owner, void (*finished)(void *, int, const char *));
/* The next canary job to give a worker, or NULL when all are out. */
struct sup_job *sup_canary_next(struct sup_canary_run *run);
/* Before the run's memory goes: answers not yet handed over are dropped. */
void sup_canary_forget(struct sup_canary_run *run);

/* How many canaries there are. */
unsigned sup_canary_count(void);
const char *sup_canary_name(unsigned k);
/* Puts canary k's bytes into job (a gather buffer of its own). 0 or -errno. */
int sup_canary_fill(unsigned k, struct sup_job *job);
/* 0 when v is what canary k must get; else -1 with why ("answered CLEAN,
 * expected INFECTED", "scanner crashed: SIGSEGV"). */
int sup_canary_check(unsigned k, const struct sup_verdict *v, char *why, size_t len);

#endif
