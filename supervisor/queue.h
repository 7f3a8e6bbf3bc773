/*
 * supervisor/queue.h: jobs waiting for a worker, and jobs answered but not
 * yet handed to their owners.
 *
 * Promises: every job is answered exactly once (sup_job_answer), it waits
 * in the queue at most `timeout` (then it is answered "no scanner
 * available"), and its owner hears the answer from the loop's check phase,
 * never inside the call that produced it.
 */
#ifndef AVW_QUEUE_H
#define AVW_QUEUE_H

#include <uv.h>

#include "../platform/plat.h"
#include "pool.h"
#include "verdicts.h"

/* answered (may be NULL): called from the loop after answers were handed over. */
int sup_queue_init(uv_loop_t *loop, const struct sup_config *cfg, void (*answered)(void));
void sup_queue_push(struct sup_job *job);
struct sup_job *sup_queue_pop(void);
size_t sup_queue_len(void);
/* Takes a cancelled job out of the queue or the answer list: 1 if it was there. */
int sup_queue_remove(struct sup_job *job);
/* Puts `by` where `job` is, in the queue or the answer list (its answer
 * taken over): 1 if it was there. */
int sup_queue_replace(struct sup_job *job, struct sup_job *by);
/* Answers every queued job with an ERROR (no scanner, shutting down). */
void sup_queue_fail_all(int32_t code, const char *reason);
/*
 * The one way a job is answered: counted, logged, remembered (verdicts.c),
 * its buffer given back, and queued for its owner. by: the worker that
 * scanned it, or NULL.
 */
void sup_job_answer(struct sup_job *job, const struct sup_verdict *v, const struct sup_answer_by *by);
void sup_job_error(struct sup_job *job, int32_t code, const char *fmt, ...) PLAT_PRINTF(3, 4);
/* Fills v as an ERROR with an engine code and a reason. */
void sup_verdict_error(struct sup_verdict *v, int32_t code, const char *fmt, ...) PLAT_PRINTF(3, 4);
/* Stops the timers; answers still waiting are handed over first. */
void sup_queue_close(void);

#endif
