/*
 * supervisor/shared.c: the shared verdict cache in Redis (see shared.h).
 *
 * hiredis's asynchronous API on the supervisor's libuv loop (hiredis's own
 * libuv adapter). hiredis 0.14 has no command timeout: each lookup has a
 * libuv timer of its own, and a lookup given up keeps its request alive
 * until Redis answers or the connection goes, so a late reply finds
 * nothing to answer. Eight lookups in a row given up mean Redis is too
 * slow to help: the connection is dropped and retried later.
 */
#define _GNU_SOURCE
#include "shared.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../ipc/ipc.h"
#include "../platform/plat.h"
#include "addr.h"
#include "pool.h"
#include "stats.h"

#define SHARED_MAX_PENDING 256     /* lookups in flight */
#define SHARED_MAX_STORES 1024     /* SETs in flight */
#define SHARED_SLOW_AFTER 8        /* lookups given up in a row: Redis is too slow */
#define SHARED_CONNECT_MS 1000
#define SHARED_BACKOFF_MIN_MS 1000
#define SHARED_BACKOFF_MAX_MS 30000
#define SHARED_KEY_MIN 32
#define SHARED_KEY_MAX 4096
#define SHARED_RKEY_LEN (4 + 64 + 1 + 2 * SUP_HASH_LEN + 1)
#define SHARED_LOG_EVERY_NS (60ull * 1000000000ull)
#define SHARED_VALUE_MAX 512        /* bytes of a value read back; ours are under 330 */

enum { S_OFF = 0, S_DOWN, S_CONNECTING, S_UP };

struct lookup {
	struct sup_job *job;        /* NULL once answered, given up or cancelled */
	void (*done)(struct sup_job *job, const struct sup_verdict *v);
	uv_timer_t timer;
	uint64_t t0;                /* ns, when asked */
	int refs;                   /* Redis's callback, the timer's close */
	char rkey[SHARED_RKEY_LEN];
};

static struct {
	uv_loop_t *loop;
	const struct sup_config *cfg;
	int state;
	redisAsyncContext *ac;
	uv_timer_t retry;           /* reconnect, or connect's time limit */
	unsigned backoff_ms;
	int said_down;              /* "down" logged since the last "up" */
	unsigned given_up;          /* in a row */
	size_t pending, stores;
	char host[64];
	int port;
	unsigned char key[SHARED_KEY_MAX];
	size_t keylen;
	uint64_t last_forged_log_ns;
} R;

/* ------------------------------------------------------------ values */

static void hexify(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * What a verdict depends on besides the bytes: the signature set, the
 * engine's version and the limits it scanned under (another node's limits
 * or libclamav may decide otherwise). Two nodes share only when all agree.
 * Kept for the signature set and engine it was made for: asked on every
 * lookup and store, it changes only with a generation.
 */
static void scope_of(const unsigned char print[32], unsigned char out[32])
{
	static unsigned char last_print[32], last_scope[32];
	static char last_engine[64];
	const char *engine = sup_pool_engine_version();
	char limits[256];
	unsigned char msg[32 + sizeof(limits)];
	unsigned int olen = 0;
	int n;

	if (last_engine[0] != '\0' && memcmp(print, last_print, 32) == 0 && strcmp(engine, last_engine) == 0) {
		memcpy(out, last_scope, 32);
		return;
	}
	n = snprintf(limits, sizeof(limits), "|%s|%" PRIu64 "|%" PRIu64 "|%u|%u|%u", engine,
	    R.cfg->max_extract_size, R.cfg->max_cumulative_extract_size, R.cfg->max_extract_depth,
	    R.cfg->max_file_count, R.cfg->max_extract_time);
	if (n < 0 || (size_t)n >= sizeof(limits))
		n = (int)strlen(limits);
	memcpy(msg, print, 32);
	memcpy(msg + 32, limits, (size_t)n);
	if (EVP_Digest(msg, 32 + (size_t)n, out, &olen, EVP_sha256(), NULL) != 1)
		return;  /* not kept: tried again next time */
	memcpy(last_print, print, 32);
	memcpy(last_scope, out, 32);
	snprintf(last_engine, sizeof(last_engine), "%s", engine);
}

static void rkey_of(const unsigned char print[32], const unsigned char hash[SUP_HASH_LEN], char *out)
{
	unsigned char scope[32];

	scope_of(print, scope);
	memcpy(out, "avw:", 4);
	hexify(scope, 32, out + 4);
	out[4 + 64] = ':';
	hexify(hash, SUP_HASH_LEN, out + 4 + 64 + 1);
}

/* HMAC-SHA-256 over the Redis key, a newline and the verdict text: an
 * entry moved to another key fails too. */
static int mac(const unsigned char *key, size_t keylen, const char *rkey, const char *text, size_t tlen,
    char hex[65])
{
	unsigned char msg[SHARED_RKEY_LEN + 1 + 256], out[EVP_MAX_MD_SIZE];
	unsigned int olen = 0;
	size_t klen = strlen(rkey);

	if (klen + 1 + tlen > sizeof(msg))
		return -1;
	memcpy(msg, rkey, klen);
	msg[klen] = '\n';
	memcpy(msg + klen + 1, text, tlen);
	if (HMAC(EVP_sha256(), key, (int)keylen, msg, klen + 1 + tlen, out, &olen) == NULL || olen != 32)
		return -1;
	hexify(out, 32, hex);
	return 0;
}

int sup_shared_encode(const unsigned char *key, size_t keylen, const char *rkey, const struct sup_verdict *v,
    int64_t expires, char *out, size_t outlen)
{
	char text[256], hex[65];
	int n;

	/* An UNSCANNABLE may come of this node's load (its scan ran out of
	 * time) or limits: never handed to others. */
	if (v->status != IPC_CLEAN && v->status != IPC_INFECTED)
		return -1;
	n = snprintf(text, sizeof(text), "2|%" PRId64 "|%u|%" PRId32 "|%s", expires, (unsigned)v->status,
	    v->engine_code, v->status == IPC_CLEAN ? "" : v->name);
	if (n < 0 || (size_t)n >= sizeof(text) || mac(key, keylen, rkey, text, (size_t)n, hex) < 0)
		return -1;
	n = snprintf(out, outlen, "%s|%s", hex, text);
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int sup_shared_decode(const unsigned char *key, size_t keylen, const char *rkey, const char *val, size_t len,
    int64_t now, struct sup_verdict *v)
{
	char hex[65], text[256], *p, *end;
	unsigned long status;
	long long expires;
	long code;
	size_t tlen;

	if (len < 66 || val[64] != '|' || len - 65 >= sizeof(text))
		return -1;
	tlen = len - 65;
	memcpy(text, val + 65, tlen);
	text[tlen] = '\0';
	if (memchr(text, '\0', tlen) != NULL || mac(key, keylen, rkey, text, tlen, hex) < 0 ||
	    CRYPTO_memcmp(hex, val, 64) != 0)
		return -1;
	/* Authentic from here on; still parsed as strictly as a stranger's. */
	if (strncmp(text, "2|", 2) != 0)
		return -1;
	errno = 0;
	/* Signed with the value: an authentic entry re-stored without its TTL
	 * by whoever can write to Redis still ends. */
	expires = strtoll(text + 2, &end, 10);
	if (errno != 0 || *end != '|' || expires <= now)
		return -1;
	status = strtoul(end + 1, &end, 10);
	if (errno != 0 || *end != '|' || (status != IPC_CLEAN && status != IPC_INFECTED))
		return -1;
	code = strtol(end + 1, &p, 10);
	if (errno != 0 || *p != '|' || code < INT32_MIN || code > INT32_MAX)
		return -1;
	p++;
	if (strlen(p) >= IPC_NAME_MAX || (status == IPC_CLEAN) != (*p == '\0'))
		return -1;
	for (const char *c = p; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return -1;
	memset(v, 0, sizeof(*v));
	v->status = (enum ipc_status)status;
	v->engine_code = (int32_t)code;
	snprintf(v->name, sizeof(v->name), "%s", p);
	return 0;
}

/* ------------------------------------------------------------ lookups */

static void lookup_unref(struct lookup *l)
{
	if (--l->refs == 0)
		free(l);
}

static void timer_closed(uv_handle_t *h)
{
	lookup_unref(h->data);
}

/* The lookup's one answer. */
static void finish(struct lookup *l, const struct sup_verdict *v)
{
	struct sup_job *job = l->job;

	l->job = NULL;
	R.pending--;
	sup_stats_shared(plat_now_ns() - l->t0);
	uv_close((uv_handle_t *)&l->timer, timer_closed);
	job->shared = NULL;
	l->done(job, v);
}

static void went_down(const char *why);

static void on_get(redisAsyncContext *ac, void *r, void *priv)
{
	struct lookup *l = priv;
	redisReply *reply = r;
	struct sup_verdict v;
	uint64_t now;

	(void)ac;
	if (l->job != NULL) {
		R.given_up = 0;
		if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
			sup_counters.shared_errors++;
			finish(l, NULL);
		} else if (reply->type != REDIS_REPLY_STRING || reply->len == 0) {
			sup_counters.shared_misses++;
			finish(l, NULL);
		} else if (sup_shared_decode(R.key, R.keylen, l->rkey, reply->str, reply->len, (int64_t)time(NULL), &v) < 0) {
			sup_counters.shared_forged++;
			now = plat_now_ns();
			if (now - R.last_forged_log_ns > SHARED_LOG_EVERY_NS) {
				R.last_forged_log_ns = now;
				log_warnx("shared_cache_forged", "key=%s reason=\"entry fails its HMAC or is malformed; "
				    "ignored, the message is scanned\" fix=\"check who writes to this Redis; every node "
				    "needs the same shared_cache_key_file\"", l->rkey);
			}
			finish(l, NULL);
		} else {
			sup_counters.shared_hits++;
			finish(l, &v);
		}
	}
	lookup_unref(l);
}

static void lookup_expired(uv_timer_t *t)
{
	struct lookup *l = t->data;

	if (l->job == NULL)
		return;
	sup_counters.shared_timeouts++;
	finish(l, NULL);
	if (++R.given_up >= SHARED_SLOW_AFTER && R.state == S_UP)
		went_down("too slow: lookups timed out in a row");
}

int sup_shared_up(void)
{
	return R.state == S_UP;
}

int sup_shared_enabled(void)
{
	return R.state != S_OFF;
}

int sup_shared_ask(struct sup_job *job, const unsigned char print[32],
    void (*done)(struct sup_job *job, const struct sup_verdict *v))
{
	struct lookup *l;

	if (R.state != S_UP || R.pending >= SHARED_MAX_PENDING || !job->have_hash) {
		if (R.state != S_OFF)
			sup_counters.shared_skipped++;
		return 0;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return 0;
	rkey_of(print, job->hash, l->rkey);
	/* GETRANGE, not GET: whoever writes to Redis may store a value of any
	 * size, and hiredis would hold all of it in our memory. A missing key
	 * reads as "". */
	if (redisAsyncCommand(R.ac, on_get, l, "GETRANGE %s 0 %d", l->rkey, SHARED_VALUE_MAX - 1) != REDIS_OK) {
		free(l);
		sup_counters.shared_skipped++;
		return 0;
	}
	l->job = job;
	l->done = done;
	l->t0 = plat_now_ns();
	l->refs = 2;
	(void)uv_timer_init(R.loop, &l->timer);
	l->timer.data = l;
	uv_update_time(R.loop);  /* hashing a big message may have taken this turn's time */
	(void)uv_timer_start(&l->timer, lookup_expired, R.cfg->shared_cache_timeout_ms, 0);
	job->shared = l;
	R.pending++;
	return 1;
}

void sup_shared_cancel(struct sup_job *job)
{
	struct lookup *l = job->shared;

	if (l == NULL || l->job != job)
		return;
	l->job = NULL;
	R.pending--;
	uv_close((uv_handle_t *)&l->timer, timer_closed);
	job->shared = NULL;
}

size_t sup_shared_pending(void)
{
	return R.pending;
}

static void on_set(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *reply = r;

	(void)ac;
	(void)priv;
	R.stores--;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		sup_counters.shared_store_failures++;
}

void sup_shared_tell(const unsigned char hash[SUP_HASH_LEN], const unsigned char print[32],
    const struct sup_verdict *v)
{
	char rkey[SHARED_RKEY_LEN], val[SHARED_VALUE_MAX];
	int n;

	if (R.state != S_UP || R.stores >= SHARED_MAX_STORES)
		return;
	rkey_of(print, hash, rkey);
	if ((n = sup_shared_encode(R.key, R.keylen, rkey, v, (int64_t)time(NULL) + R.cfg->shared_cache_ttl,
	    val, sizeof(val))) < 0)
		return;
	if (redisAsyncCommand(R.ac, on_set, NULL, "SET %s %b EX %u", rkey, val, (size_t)n,
	    R.cfg->shared_cache_ttl) != REDIS_OK) {
		sup_counters.shared_store_failures++;
		return;
	}
	R.stores++;
	sup_counters.shared_stores++;
}

/* ------------------------------------------------------------ the connection */

static void connect_now(uv_timer_t *t);

static void retry_later(void)
{
	if (R.state == S_OFF)
		return;
	R.state = S_DOWN;
	(void)uv_timer_start(&R.retry, connect_now, R.backoff_ms, 0);
	R.backoff_ms = R.backoff_ms * 2 > SHARED_BACKOFF_MAX_MS ? SHARED_BACKOFF_MAX_MS : R.backoff_ms * 2;
}

static void say_down(const char *why)
{
	if (R.said_down)
		return;
	R.said_down = 1;
	log_warnx("shared_cache_down", "address=%s:%d reason=\"%s\" action=\"messages are scanned without it; "
	    "retrying from %u ms on\"", R.host, R.port, why, R.backoff_ms);
}

/* Drops the connection (a slow Redis), answering its lookups as not found. */
static void went_down(const char *why)
{
	redisAsyncContext *ac = R.ac;

	say_down(why);
	R.ac = NULL;
	R.state = S_DOWN;
	if (ac != NULL)
		redisAsyncFree(ac);  /* calls every pending callback with no reply */
	retry_later();
}

/* Connected is not answering (a stopped Redis still completes the TCP
 * handshake): up once a PING has its PONG, within the connect limit. */
static void on_pong(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *reply = r;

	(void)priv;
	if (ac != R.ac || R.state != S_CONNECTING || reply == NULL)
		return;
	if (reply->type != REDIS_REPLY_STATUS || strcmp(reply->str, "PONG") != 0) {
		/* e.g. NOAUTH: retried later, like no answer (never from inside
		 * hiredis's callback: the connect timer drops it) */
		char why[160];
		snprintf(why, sizeof(why), "PING answered: %.100s", reply->str ? reply->str : "?");
		say_down(why);
		return;
	}
	(void)uv_timer_stop(&R.retry);
	R.state = S_UP;
	R.given_up = 0;
	R.backoff_ms = SHARED_BACKOFF_MIN_MS;
	R.said_down = 0;
	log_info("shared_cache_up", "address=%s:%d ttl=%us timeout_ms=%u", R.host, R.port,
	    R.cfg->shared_cache_ttl, R.cfg->shared_cache_timeout_ms);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	if (ac != R.ac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback */
		char why[160];
		snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr[0] ? ac->errstr : "?");
		R.ac = NULL;
		(void)uv_timer_stop(&R.retry);
		say_down(why);
		retry_later();
		return;
	}
	if (redisAsyncCommand(R.ac, on_pong, NULL, "PING") != REDIS_OK)
		say_down("cannot send PING");  /* the connect timer drops it */
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	char why[160];

	(void)status;
	if (ac != R.ac)
		return;  /* one we dropped ourselves */
	snprintf(why, sizeof(why), "connection lost: %s", ac->errstr[0] ? ac->errstr : "closed by the server");
	R.ac = NULL;
	say_down(why);
	retry_later();
}

static void connect_expired(uv_timer_t *t)
{
	(void)t;
	if (R.state == S_CONNECTING)
		went_down("no PONG to a PING within 1 s");
}

static void connect_now(uv_timer_t *t)
{
	redisAsyncContext *ac;

	(void)t;
	if (R.state == S_OFF)
		return;
	ac = redisAsyncConnect(R.host, R.port);
	if (ac == NULL || ac->err) {
		char why[160];
		snprintf(why, sizeof(why), "cannot connect: %s", ac ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		say_down(why);
		retry_later();
		return;
	}
	if (redisLibuvAttach(ac, R.loop) != REDIS_OK) {
		redisAsyncFree(ac);
		say_down("cannot watch the connection");
		retry_later();
		return;
	}
	R.ac = ac;
	R.state = S_CONNECTING;
	(void)redisAsyncSetConnectCallback(ac, on_connect);
	(void)redisAsyncSetDisconnectCallback(ac, on_disconnect);
	(void)uv_timer_start(&R.retry, connect_expired, SHARED_CONNECT_MS, 0);
}

static int read_key(const char *path, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		snprintf(err, errlen, "shared_cache_key_file %s: %s (make one: head -c 32 /dev/urandom > %s; "
		    "chmod 600 %s; the same file on every node)", path, strerror(errno), path, path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "shared_cache_key_file %s: not a regular file", path);
		return -1;
	}
	if (st.st_mode & 077) {
		close(fd);
		snprintf(err, errlen, "shared_cache_key_file %s: readable by others (mode %04o): whoever reads it "
		    "can mark malware clean for every node (chmod 600 %s)", path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	n = read(fd, R.key, sizeof(R.key));
	close(fd);
	if (n < SHARED_KEY_MIN || (size_t)n >= sizeof(R.key)) {
		snprintf(err, errlen, "shared_cache_key_file %s: %zd bytes; between %d and %d are needed "
		    "(head -c 32 /dev/urandom > %s)", path, n, SHARED_KEY_MIN, SHARED_KEY_MAX - 1, path);
		return -1;
	}
	R.keylen = (size_t)n;
	return 0;
}

int sup_shared_start(uv_loop_t *loop, const struct sup_config *cfg, char *err, size_t errlen)
{
	char why[256];

	memset(&R, 0, sizeof(R));
	if (cfg->shared_cache[0] == '\0')
		return 0;
	if (sup_redis_parse(cfg->shared_cache, R.host, sizeof(R.host), &R.port, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "shared_cache %s: %s", cfg->shared_cache, why);
		return -1;
	}
	if (read_key(cfg->shared_cache_key_file, err, errlen) < 0)
		return -1;
	R.loop = loop;
	R.cfg = cfg;
	R.backoff_ms = SHARED_BACKOFF_MIN_MS;
	(void)uv_timer_init(loop, &R.retry);
	R.state = S_DOWN;
	connect_now(NULL);
	return 0;
}

void sup_shared_close(void)
{
	redisAsyncContext *ac = R.ac;

	if (R.state == S_OFF && R.loop == NULL)
		return;
	R.state = S_OFF;
	R.ac = NULL;
	if (ac != NULL)
		redisAsyncFree(ac);  /* lookups in flight: answered as not found */
	if (R.loop != NULL) {
		uv_close((uv_handle_t *)&R.retry, NULL);
		R.loop = NULL;
	}
	OPENSSL_cleanse(R.key, sizeof(R.key));
}
