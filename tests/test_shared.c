/*
 * tests/test_shared.c: the shared cache's values (supervisor/shared.c): a
 * verdict survives its round trip; any byte changed, another key, another
 * Redis key (a genuine entry moved to another message) or a malformed text
 * is refused, and so is an entry past its signed expiry; only CLEAN and
 * INFECTED are encoded; the Redis address is parsed as an address, never a
 * name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../ipc/ipc.h"
#include "../supervisor/addr.h"
#include "../supervisor/clamd.h"
#include "../supervisor/shared.h"

static const unsigned char K[32] = "0123456789abcdef0123456789abcdef";
static const char RK[] = "avw:aa:bb";
#define NOW 1800000000

/* shared.c's one call into the pool (the engine's version, part of a key's
 * scope); the pool itself is not linked here. */
const char *sup_pool_engine_version(void);
const char *sup_pool_engine_version(void)
{
	return "1.4.6";
}
#define LATER (NOW + 3600)

static struct sup_verdict verdict(enum ipc_status st, int32_t code, const char *name)
{
	struct sup_verdict v;

	memset(&v, 0, sizeof(v));
	v.status = st;
	v.engine_code = code;
	snprintf(v.name, sizeof(v.name), "%s", name);
	return v;
}

static void test_round_trip(void **state)
{
	const struct sup_verdict in[] = { verdict(IPC_CLEAN, 0, ""), verdict(IPC_INFECTED, 1, "Eicar-Test-Signature") };
	char val[512];
	struct sup_verdict out;

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		int n = sup_shared_encode(K, sizeof(K), RK, &in[i], LATER, val, sizeof(val));
		assert_true(n > 65);
		assert_int_equal(sup_shared_decode(K, sizeof(K), RK, val, (size_t)n, NOW, &out), 0);
		assert_int_equal(out.status, in[i].status);
		assert_int_equal(out.engine_code, in[i].engine_code);
		assert_string_equal(out.name, in[i].name);
	}
}

static void test_any_change_refused(void **state)
{
	struct sup_verdict v = verdict(IPC_INFECTED, 1, "Eicar-Test-Signature"), out;
	char val[512], bad[512];
	int n = sup_shared_encode(K, sizeof(K), RK, &v, LATER, val, sizeof(val));
	unsigned char other[32];

	(void)state;
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		memcpy(bad, val, (size_t)n);
		bad[i] ^= 0x01;
		assert_int_equal(sup_shared_decode(K, sizeof(K), RK, bad, (size_t)n, NOW, &out), -1);
	}
	/* cut short, or longer */
	assert_int_equal(sup_shared_decode(K, sizeof(K), RK, val, (size_t)n - 1, NOW, &out), -1);
	memcpy(bad, val, (size_t)n);
	bad[n] = 'x';
	assert_int_equal(sup_shared_decode(K, sizeof(K), RK, bad, (size_t)n + 1, NOW, &out), -1);
	/* another node's key; a genuine value under another Redis key */
	memcpy(other, K, sizeof(other));
	other[31] ^= 1;
	assert_int_equal(sup_shared_decode(other, sizeof(other), RK, val, (size_t)n, NOW, &out), -1);
	assert_int_equal(sup_shared_decode(K, sizeof(K), "avw:aa:bc", val, (size_t)n, NOW, &out), -1);
}

static void test_malformed_refused(void **state)
{
	static const char *const texts[] = { "", "|", "garbage", "2|", "1|1|0|", "2|1900000000|4|0|",
		"2|1900000000|2|0|", "2|1900000000|3|207|Heuristics", "2|1900000000|1|0|Name", "2|x|2|0|Name",
		"2|1900000000|2|x|Name", "2|1900000000|2|0|Two words", "2|1900000000|2|0|Name\n", "3|1900000000|1|0|" };
	struct sup_verdict out;
	char val[600];

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		/* a correct HMAC over a wrong text: still refused */
		struct sup_verdict v = verdict(IPC_INFECTED, 0, "X");
		char good[512];
		int n = sup_shared_encode(K, sizeof(K), RK, &v, LATER, good, sizeof(good));
		assert_true(n > 0);
		snprintf(val, sizeof(val), "%.64s|%s", good, texts[i]);
		assert_int_equal(sup_shared_decode(K, sizeof(K), RK, val, strlen(val), NOW, &out), -1);
	}
}

static void test_only_clean_and_infected_encoded(void **state)
{
	struct sup_verdict e = verdict(IPC_ERROR, 20, ""), u = verdict(IPC_UNSCANNABLE, 11, "Heuristics.Limits");
	char val[512];

	(void)state;
	assert_int_equal(sup_shared_encode(K, sizeof(K), RK, &e, LATER, val, sizeof(val)), -1);
	/* an UNSCANNABLE may be this node's load (a scan out of time): not shared */
	assert_int_equal(sup_shared_encode(K, sizeof(K), RK, &u, LATER, val, sizeof(val)), -1);
}

/* The expiry is signed: an entry kept past it by whoever writes to Redis ends. */
static void test_expiry(void **state)
{
	struct sup_verdict v = verdict(IPC_CLEAN, 0, ""), out;
	char val[512];
	int n = sup_shared_encode(K, sizeof(K), RK, &v, NOW + 10, val, sizeof(val));

	(void)state;
	assert_true(n > 0);
	assert_int_equal(sup_shared_decode(K, sizeof(K), RK, val, (size_t)n, NOW + 9, &out), 0);
	assert_int_equal(sup_shared_decode(K, sizeof(K), RK, val, (size_t)n, NOW + 10, &out), -1);
	assert_int_equal(sup_shared_decode(K, sizeof(K), RK, val, (size_t)n, NOW + 100000, &out), -1);
}

static void test_redis_address(void **state)
{
	char host[64], err[256];
	int port = 0;

	(void)state;
	assert_int_equal(sup_redis_parse("redis://127.0.0.1:6380", host, sizeof(host), &port, err, sizeof(err)), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 6380);
	assert_int_equal(sup_redis_parse("redis://10.0.0.1", host, sizeof(host), &port, err, sizeof(err)), 0);
	assert_int_equal(port, 6379);
	assert_int_equal(sup_redis_parse("redis://[::1]:7000", host, sizeof(host), &port, err, sizeof(err)), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 7000);
	assert_int_equal(sup_redis_parse("redis://localhost:6379", host, sizeof(host), &port, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an IP address"));
	assert_int_equal(sup_redis_parse("tcp:127.0.0.1:6379", host, sizeof(host), &port, err, sizeof(err)), -1);
	assert_int_equal(sup_redis_parse("redis://127.0.0.1:0", host, sizeof(host), &port, err, sizeof(err)), -1);
	assert_int_equal(sup_redis_parse("redis://127.0.0.1:99999", host, sizeof(host), &port, err, sizeof(err)), -1);
	assert_int_equal(sup_redis_parse("redis://[::1", host, sizeof(host), &port, err, sizeof(err)), -1);
	assert_int_equal(sup_redis_parse("redis://", host, sizeof(host), &port, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_any_change_refused),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_only_clean_and_infected_encoded),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_redis_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
