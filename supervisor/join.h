/*
 * supervisor/join.h: identical content in flight. A mail wave sends one
 * attachment to thousands of recipients at once; a job whose bytes (SHA-256)
 * match one already queued or scanning for the same generation waits for
 * that scan instead of starting another, and hears the same verdict.
 *
 * Promises: every joined job is answered exactly once, with its leader's
 * verdict, from the loop; a leader whose owner cancels hands its place (in
 * the queue, a worker or the answer list) to the next job waiting on it, so
 * the others are not left without an answer.
 */
#ifndef AVW_JOIN_H
#define AVW_JOIN_H

#include <stdint.h>

#include "pool.h"

/* 1 when job (hashed) joined a scan of the same bytes for gen; else it may
 * lead one (sup_join_lead after it is queued). */
int sup_join_try(struct sup_job *job, uint32_t gen);
/* Registers a queued, hashed job as the one scan others may join. */
void sup_join_lead(struct sup_job *job, uint32_t gen);
/* The owner cancels: 1 when join.c took care of it (a follower detached, or
 * a leader replaced by its first follower); 0: an ordinary cancel, after
 * the job was taken off the leaders. */
int sup_join_cancel(struct sup_job *job);
/* Jobs answered by joining, since start. */
uint64_t sup_join_count(void);

#endif
