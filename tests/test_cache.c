/*
 * tests/test_cache.c: the verdict cache (supervisor/cache.c): hits by
 * content and generation only, ERRORs never kept, least recently used
 * evicted at capacity, clear() forgets everything, capacity 0 is off;
 * memory follows use: the largest cache_size costs nothing until used, and
 * entries stay found while the table grows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../supervisor/cache.h"

static void key(unsigned n, unsigned char h[SUP_HASH_LEN])
{
	char s[32];

	snprintf(s, sizeof(s), "message %u", n);
	sup_hash(s, strlen(s), h);
}

static struct sup_verdict verdict(enum ipc_status st, const char *name)
{
	struct sup_verdict v;

	memset(&v, 0, sizeof(v));
	v.status = st;
	snprintf(v.name, sizeof(v.name), "%s", name);
	return v;
}

static void test_hit_by_content_and_generation(void **state)
{
	unsigned char a[SUP_HASH_LEN], b[SUP_HASH_LEN];
	struct sup_verdict in = verdict(IPC_INFECTED, "Eicar-Test-Signature"), out;

	(void)state;
	assert_int_equal(sup_cache_init(8), 0);
	key(1, a);
	key(2, b);
	sup_cache_insert(a, 1, &in);
	assert_int_equal(sup_cache_lookup(a, 1, &out), 1);
	assert_int_equal(out.status, IPC_INFECTED);
	assert_string_equal(out.name, "Eicar-Test-Signature");
	assert_int_equal(sup_cache_lookup(b, 1, &out), 0);  /* other content */
	assert_int_equal(sup_cache_lookup(a, 2, &out), 0);  /* other generation */
	assert_int_equal(sup_cache_count(), 1);
	sup_cache_free();
}

static void test_errors_not_kept(void **state)
{
	unsigned char a[SUP_HASH_LEN];
	struct sup_verdict e = verdict(IPC_ERROR, ""), out;

	(void)state;
	assert_int_equal(sup_cache_init(8), 0);
	key(1, a);
	sup_cache_insert(a, 1, &e);
	assert_int_equal(sup_cache_lookup(a, 1, &out), 0);
	e.status = (enum ipc_status)77;
	sup_cache_insert(a, 1, &e);
	assert_int_equal(sup_cache_count(), 0);
	sup_cache_free();
}

static void test_lru_eviction(void **state)
{
	unsigned char h[SUP_HASH_LEN];
	struct sup_verdict c = verdict(IPC_CLEAN, ""), out;

	(void)state;
	assert_int_equal(sup_cache_init(3), 0);
	for (unsigned i = 0; i < 3; i++) {
		key(i, h);
		sup_cache_insert(h, 1, &c);
	}
	key(0, h);
	assert_int_equal(sup_cache_lookup(h, 1, &out), 1);  /* 0 is now the most recent */
	key(3, h);
	sup_cache_insert(h, 1, &c);                         /* evicts 1, the oldest */
	assert_int_equal(sup_cache_count(), 3);
	key(1, h);
	assert_int_equal(sup_cache_lookup(h, 1, &out), 0);
	for (unsigned i = 0; i < 4; i++) {
		if (i == 1)
			continue;
		key(i, h);
		assert_int_equal(sup_cache_lookup(h, 1, &out), 1);
	}
	/* Churn far past capacity: never more than 3, the newest always there. */
	for (unsigned i = 10; i < 10000; i++) {
		key(i, h);
		sup_cache_insert(h, 1 + i % 2, &c);
		assert_int_equal(sup_cache_lookup(h, 1 + i % 2, &out), 1);
		assert_true(sup_cache_count() <= 3);
	}
	sup_cache_free();
}

static void test_clear_and_update(void **state)
{
	unsigned char a[SUP_HASH_LEN];
	struct sup_verdict c = verdict(IPC_CLEAN, ""), u = verdict(IPC_UNSCANNABLE, "Heuristics.Limits.Exceeded"), out;

	(void)state;
	assert_int_equal(sup_cache_init(4), 0);
	key(1, a);
	sup_cache_insert(a, 1, &c);
	sup_cache_insert(a, 1, &u);  /* same key: replaced, not duplicated */
	assert_int_equal(sup_cache_count(), 1);
	assert_int_equal(sup_cache_lookup(a, 1, &out), 1);
	assert_int_equal(out.status, IPC_UNSCANNABLE);
	sup_cache_clear();
	assert_int_equal(sup_cache_count(), 0);
	assert_int_equal(sup_cache_lookup(a, 1, &out), 0);
	sup_cache_free();
}

static void test_off(void **state)
{
	unsigned char a[SUP_HASH_LEN];
	struct sup_verdict c = verdict(IPC_CLEAN, ""), out;

	(void)state;
	assert_int_equal(sup_cache_init(0), 0);
	assert_false(sup_cache_enabled());
	key(1, a);
	sup_cache_insert(a, 1, &c);
	assert_int_equal(sup_cache_lookup(a, 1, &out), 0);
	sup_cache_clear();
	sup_cache_free();
}

/* Resident memory of this process, bytes. */
static long rss(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &pages, &res), 2);
	fclose(f);
	return res * sysconf(_SC_PAGESIZE);
}

static void test_memory_follows_use(void **state)
{
	unsigned char a[SUP_HASH_LEN];
	struct sup_verdict v = verdict(IPC_INFECTED, "Eicar"), out;
	long before = rss();

	(void)state;
	/* The documented maximum: once 3.4 GB allocated and zeroed at start. */
	assert_int_equal(sup_cache_init(10000000), 0);
	key(1, a);
	sup_cache_insert(a, 1, &v);
	assert_true(rss() - before < (8L << 20));
	/* Across several doublings, every entry is still found. */
	for (unsigned i = 2; i <= 20000; i++) {
		key(i, a);
		sup_cache_insert(a, 1, &v);
	}
	assert_int_equal(sup_cache_count(), 20000);
	for (unsigned i = 1; i <= 20000; i++) {
		key(i, a);
		assert_int_equal(sup_cache_lookup(a, 1, &out), 1);
	}
	sup_cache_free();
	/* A capacity between two doublings: full, then least recently used out. */
	assert_int_equal(sup_cache_init(3000), 0);
	for (unsigned i = 1; i <= 3001; i++) {
		key(i, a);
		sup_cache_insert(a, 1, &v);
	}
	assert_int_equal(sup_cache_count(), 3000);
	key(1, a);
	assert_int_equal(sup_cache_lookup(a, 1, &out), 0);
	key(3001, a);
	assert_int_equal(sup_cache_lookup(a, 1, &out), 1);
	key(2, a);
	assert_int_equal(sup_cache_lookup(a, 1, &out), 1);
	sup_cache_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_by_content_and_generation),
		cmocka_unit_test(test_errors_not_kept),
		cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_clear_and_update),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_memory_follows_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
