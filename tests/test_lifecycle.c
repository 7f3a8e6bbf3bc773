/*
 * tests/test_lifecycle.c: the worker and generation lifecycle tables
 * (supervisor/lifecycle.c); the worker table
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

/* ---- the generation table ---- */

static void test_gen_rows(void **state)
{
	struct sup_gtransition t;

	(void)state;
	t = sup_gl_next(G_LOADING, GE_HOST_READY);
	assert_true(t.valid && t.next == G_STARTING && t.actions == GA_SPAWN_WORKERS);
	t = sup_gl_next(G_STARTING, GE_WORKERS_UP);
	assert_true(t.valid && t.next == G_CANARY && t.actions == GA_RUN_CANARY);
	t = sup_gl_next(G_CANARY, GE_CANARY_PASSED);
	assert_true(t.valid && t.next == G_SERVING && t.actions == GA_PROMOTE);
	t = sup_gl_next(G_CANARY, GE_CANARY_FAILED);
	assert_true(t.valid && t.next == G_STOPPING && t.actions == (GA_LOAD_FAILED | GA_KILL_HOST));
	t = sup_gl_next(G_SERVING, GE_REPLACED);
	assert_true(t.valid && t.next == G_DRAINING && t.actions == GA_RETIRE);
	/* Nothing but the last handle's close leaves CLOSING. */
	for (int e = 0; e < G_NEVENTS; e++)
		assert_true(!sup_gl_next(G_CLOSING, (enum sup_gevent)e).valid || e == GE_CLOSED);
	assert_false(sup_gl_next(G_FREE, GE_HOST_EXIT).valid);
	assert_string_equal(sup_gl_state_name(G_CANARY), "canary");
	assert_string_equal(sup_gl_event_name(GE_CANARY_FAILED), "canary_failed");
}

/*
 * Every event sequence from LOADING: a generation serves only after its
 * canary passed; one that served never says LOAD_FAILED and one that never
 * served never says LOST_SERVING; the host's exit and the handles' close
 * always end it (FREE), and nothing happens after FREE.
 */
#define GDEPTH 9
static unsigned long gexplored;

static void gexplore(enum sup_gstate s, int canary_passed, int promoted, int depth)
{
	gexplored++;
	if (s == G_FREE)
		return;
	/* From here, host exit then close must free it. */
	{
		enum sup_gstate x = s;
		struct sup_gtransition t = sup_gl_next(x, GE_HOST_EXIT);
		if (t.valid)
			x = (enum sup_gstate)t.next;
		assert_int_equal(x, G_CLOSING);
		assert_int_equal(sup_gl_next(x, GE_CLOSED).next, G_FREE);
	}
	if (depth == 0)
		return;
	for (int e = 0; e < G_NEVENTS; e++) {
		struct sup_gtransition t = sup_gl_next(s, (enum sup_gevent)e);
		int cp = canary_passed || e == GE_CANARY_PASSED, pr = promoted;
		if (!t.valid)
			continue;
		assert_true(t.next < G_NSTATES);
		if (t.actions & GA_PROMOTE) {
			assert_true(cp);
			assert_false(promoted);
			pr = 1;
		}
		if (t.actions & GA_LOAD_FAILED)
			assert_false(promoted);
		if (t.actions & GA_LOST_SERVING)
			assert_true(promoted);
		gexplore((enum sup_gstate)t.next, cp, pr, depth - 1);
	}
}

static void test_gen_explored(void **state)
{
	(void)state;
	gexplored = 0;
	gexplore(G_LOADING, 0, 0, GDEPTH);
	assert_true(gexplored > 30);  /* every reachable path, not a sample */
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
		cmocka_unit_test(test_gen_rows),
		cmocka_unit_test(test_gen_explored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
