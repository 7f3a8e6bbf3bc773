/*
 * supervisor/verdicts.h: what the supervisor remembers about content, in
 * one place: the verdict cache (cache.c) and the poison table (poison.c).
 * Asked once when a job is submitted, told once when it is answered.
 *
 * Must never remember an ERROR as a verdict, a draining generation's
 * verdict, or a fault the supervisor did not observe itself.
 */
#ifndef AVW_VERDICTS_H
#define AVW_VERDICTS_H

#include <stdint.h>

#include "config.h"
#include "pool.h"

/* Who answered a job: the worker's generation (0: no worker), whether that
 * generation serves, and the worker's id. */
struct sup_answer_by {
	uint32_t gen;
	int serving;
	uint32_t worker;
};

int sup_verdicts_init(const struct sup_config *cfg);
void sup_verdicts_free(void);
/* Is the cache on (so an answered job's hash is worth computing)? */
int sup_verdicts_caching(void);
/* The job's SHA-256 from bytes (job->buf, or the worker's data area). */
void sup_verdicts_hash(struct sup_job *job, const void *bytes);
/*
 * At submit: 1 with v filled when the content is known, for the serving
 * generation gen (0: none serves yet): poison (an ERROR) or a cached verdict.
 */
int sup_verdicts_ask(struct sup_job *job, uint32_t gen, struct sup_verdict *v);
/* At answer: a serving generation's final verdict is cached; an ERROR the
 * content caused (job->blame) counts towards poisoning it. */
void sup_verdicts_tell(struct sup_job *job, const struct sup_verdict *v, const struct sup_answer_by *by);
/* A verdict another node found (the shared cache), kept here too for gen. */
void sup_verdicts_remember(struct sup_job *job, uint32_t gen, const struct sup_verdict *v);
/* A new generation serves: the old signatures' verdicts go. */
void sup_verdicts_forget(void);
size_t sup_verdicts_cached(void);

#endif
