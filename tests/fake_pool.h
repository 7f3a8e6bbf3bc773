/*
 * tests/fake_pool.h: pool.h's API without scanners, for fuzz_session.c.
 * Jobs wait until the harness answers them; every rule of pool.h is
 * asserted (a job submitted twice, cancelled when not held, answered after
 * it was cancelled: abort()).
 */
#ifndef AVW_FAKE_POOL_H
#define AVW_FAKE_POOL_H

#include "../supervisor/pool.h"

size_t fake_pool_pending(void);
/* The oldest job, with a verdict chosen by v (clean, infected, unscannable, error). */
void fake_pool_answer_one(unsigned v);
void fake_pool_answer_all(unsigned v);
void fake_pool_set_health(int ok);
/* Nothing is left: every job was answered or cancelled. */
void fake_pool_check_empty(void);

#endif
