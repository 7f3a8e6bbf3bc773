/*
 * tests/test_lifecycle.c: the worker lifecycle table (supervisor/lifecycle.c),
 * row by row where it matters, and as a whole by exhaustive exploration:
 * from a busy worker, every sequence of events answers its job at most once,
 * exactly once when the worker ends, and never leaves a slot stuck.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../supervisor/lifecycle.h"

static void expect_row(enum sup_wstate s, enum sup_wevent e, enum sup_wstate next, unsigned actions)
{
	struct sup_wtransition t = sup_wl_next(s, e);

	assert_true(t.valid);
	assert_int_equal(t.next, next);
	assert_int_equal(t.actions, actions);
}

static void expect_invalid(enum sup_wstate s, enum sup_wevent e)
{
	assert_false(sup_wl_next(s, e).valid);
}

static void test_happy_path(void **state)
{
	(void)state;
	expect_row(W_FREE, EV_SPAWN, W_SPAWNING, A_REQUEST_FORK);
	expect_row(W_SPAWNING, EV_UP, W_IDLE, A_WATCH | A_IDLE);
	expect_row(W_IDLE, EV_JOB, W_BUSY, A_SEND_JOB);
	expect_row(W_BUSY, EV_RESULT, W_IDLE, A_STOP_TIMER | A_ANSWER_RESULT | A_IDLE);
	expect_row(W_CLOSING, EV_CLOSED, W_FREE, A_FREED);
}

static void test_faults_kill_and_answer(void **state)
{
	(void)state;
	expect_row(W_BUSY, EV_TIMEOUT, W_DYING, A_STOP_TIMER | A_STOP_WATCH | A_KILL | A_ANSWER_FAULT);
	expect_row(W_BUSY, EV_MALFORMED, W_DYING, A_STOP_TIMER | A_STOP_WATCH | A_KILL | A_ANSWER_FAULT);
	/* A hang-up waits for the exit report, which names the signal. */
	expect_row(W_BUSY, EV_HANGUP, W_DYING, A_STOP_WATCH | A_KILL);
	expect_row(W_DYING, EV_EXIT, W_CLOSING, A_STOP_TIMER | A_ANSWER_FAULT | A_RELEASE);
	/* Retirement never fails a job: the result is answered, then EOF. */
	expect_row(W_BUSY, EV_RESULT_LAST, W_DYING,
	    A_STOP_TIMER | A_STOP_WATCH | A_CLOSE_CHANNEL | A_ANSWER_RESULT);
}

/* A replaced generation's workers go when idle, and never hang about. */
static void test_retirement(void **state)
{
	(void)state;
	expect_row(W_IDLE, EV_RETIRE, W_DYING, A_STOP_WATCH | A_CLOSE_CHANNEL);
	/* Closing the channel arms the grace timer; its expiry kills. */
	expect_row(W_DYING, EV_TIMEOUT, W_DYING, A_STOP_TIMER | A_KILL | A_ANSWER_FAULT);
	expect_row(W_DYING, EV_EXIT, W_CLOSING, A_STOP_TIMER | A_ANSWER_FAULT | A_RELEASE);
	/* A busy worker finishes its job first (EV_RESULT_LAST), never retires mid-scan. */
	expect_invalid(W_BUSY, EV_RETIRE);
	expect_invalid(W_SPAWNING, EV_RETIRE);
	expect_invalid(W_DYING, EV_RETIRE);
	assert_string_equal(sup_wl_event_name(EV_RETIRE), "retire");
}

static void test_late_events_ignored(void **state)
{
	(void)state;
	expect_invalid(W_IDLE, EV_RESULT);     /* a result nobody asked for */
	expect_invalid(W_DYING, EV_RESULT);    /* too late: already answered */
	expect_invalid(W_DYING, EV_MALFORMED);
	expect_invalid(W_CLOSING, EV_EXIT);
	expect_invalid(W_FREE, EV_EXIT);
	expect_invalid(W_FREE, EV_UP);
	expect_invalid(W_SPAWNING, EV_JOB);
	expect_invalid(W_BUSY, EV_JOB);        /* one job at a time */
	expect_invalid(W_IDLE, EV_TIMEOUT);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(sup_wl_state_name(W_BUSY), "busy");
	assert_string_equal(sup_wl_event_name(EV_HOST_LOST), "host_lost");
	assert_string_equal(sup_wl_state_name((enum sup_wstate)99), "?");
	assert_false(sup_wl_next((enum sup_wstate)99, EV_UP).valid);
	assert_false(sup_wl_next(W_BUSY, (enum sup_wevent)99).valid);
}

/* Every valid row leads to a real state. */
static void test_table_closed(void **state)
{
	(void)state;
	for (int s = 0; s < W_NSTATES; s++)
		for (int e = 0; e < W_NEVENTS; e++) {
			struct sup_wtransition t = sup_wl_next((enum sup_wstate)s, (enum sup_wevent)e);
			if (t.valid)
				assert_true(t.next < W_NSTATES);
		}
}

/*
 * Model: a worker in state s holding `job` (0/1) and having answered it
 * `answers` times (a job its owner cancelled counts as answered: it is
 * dropped, never answered after). Explore every event sequence up to DEPTH
 * from BUSY.
 */
#define DEPTH 7

static unsigned long explored;

static void explore(enum sup_wstate s, int job, int answers, int depth)
{
	explored++;
	assert_true(answers <= 1);
	if (s == W_FREE || s == W_CLOSING || (s == W_IDLE && answers == 1)) {
		/* The job's story is over: it must have been answered once. */
		assert_int_equal(answers, 1);
		assert_int_equal(job, 0);
		return;
	}
	if (depth == 0)
		return;
	for (int e = 0; e < W_NEVENTS; e++) {
		struct sup_wtransition t = sup_wl_next(s, (enum sup_wevent)e);
		int j = job, a = answers;
		if (!t.valid || e == EV_JOB)
			continue;  /* a second job is another story */
		if (e == EV_CANCEL && !j)
			continue;  /* slot.c raises it only for the job it holds */
		if ((t.actions & A_ANSWER_RESULT) != 0) {
			assert_int_equal(j, 1);  /* never answer a job it does not hold */
			j = 0;
			a++;
		}
		if ((t.actions & A_ANSWER_FAULT) != 0 && j) {
			j = 0;
			a++;
		}
		if ((t.actions & A_DROP_JOB) != 0) {
			assert_int_equal(j, 1);  /* only a job it holds can be dropped */
			assert_int_equal(t.actions & (A_ANSWER_RESULT | A_ANSWER_FAULT), 0);
			j = 0;
			a++;
		}
		explore((enum sup_wstate)t.next, j, a, depth - 1);
	}
}

static void test_job_answered_exactly_once(void **state)
{
	(void)state;
	explored = 0;
	explore(W_BUSY, 1, 0, DEPTH);
	assert_true(explored > 50);
}

/* From any state, the host's loss (or the exit report) ends in a free slot. */
static void test_no_stuck_slot(void **state)
{
	(void)state;
	for (int s = W_SPAWNING; s < W_CLOSING; s++) {
		struct sup_wtransition t = sup_wl_next((enum sup_wstate)s, EV_HOST_LOST);
		assert_true(t.valid);
		assert_int_equal(t.next, W_CLOSING);
		assert_true(t.actions & A_RELEASE);
		t = sup_wl_next(W_CLOSING, EV_CLOSED);
		assert_int_equal(t.next, W_FREE);
	}
	/* A dying worker never gets new work and is only ended by its exit. */
	assert_false(sup_wl_next(W_DYING, EV_JOB).valid);
	assert_true(sup_wl_next(W_DYING, EV_EXIT).valid);
}

/* A cancelled scan kills its worker and is never answered. */
static void test_cancel(void **state)
{
	(void)state;
	expect_row(W_BUSY, EV_CANCEL, W_DYING, A_STOP_TIMER | A_STOP_WATCH | A_KILL | A_DROP_JOB);
	expect_row(W_DYING, EV_CANCEL, W_DYING, A_DROP_JOB);
	expect_invalid(W_IDLE, EV_CANCEL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_happy_path),
		cmocka_unit_test(test_faults_kill_and_answer),
		cmocka_unit_test(test_retirement),
		cmocka_unit_test(test_late_events_ignored),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_table_closed),
		cmocka_unit_test(test_job_answered_exactly_once),
		cmocka_unit_test(test_no_stuck_slot),
		cmocka_unit_test(test_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
