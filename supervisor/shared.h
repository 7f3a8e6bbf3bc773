/*
 * supervisor/shared.h: the verdict cache every node shares, in Redis
 * (shared_cache = "redis://ADDRESS:PORT").
 *
 * Key: a digest of the signature set's fingerprint (the same database on two
 * nodes gives the same one, whatever its file times), the engine's version
 * and the scan limits, and the content's SHA-256. Value: a CLEAN or
 * INFECTED verdict (an UNSCANNABLE may be this node's load) and its
 * expiry, authenticated with HMAC-SHA-256 under the key in
 * shared_cache_key_file, so whoever can write to Redis without that key
 * cannot mark malware clean: an entry that fails the check is ignored,
 * counted and logged (once a minute).
 *
 * Redis slow or down never fails a scan and never delays one by more than
 * shared_cache_timeout_ms: a lookup that takes longer is given up (the
 * message is scanned), lookups are not even tried while Redis is down, and
 * the connection is retried with back-off (1 s doubling to 30 s). Each
 * change of state is logged once.
 */
#ifndef AVW_SHARED_H
#define AVW_SHARED_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "poison.h"  /* SUP_HASH_LEN */

struct sup_job;
struct sup_verdict;

/* Reads the key and starts connecting (no-op when shared_cache is empty).
 * 0, or -1 with err naming the cause and the fix. */
int sup_shared_start(uv_loop_t *loop, const struct sup_config *cfg, char *err, size_t errlen);
/* Configured (connected or not)? Connected and answering? */
int sup_shared_enabled(void);
int sup_shared_up(void);
/*
 * Looks up job->hash for the signature set print. 1: started, and done is
 * called exactly once later from the loop (v NULL: not found, not valid,
 * given up or Redis gone), unless sup_shared_cancel comes first. 0: not
 * started (not connected, too many in flight): go on without.
 */
int sup_shared_ask(struct sup_job *job, const unsigned char print[32],
    void (*done)(struct sup_job *job, const struct sup_verdict *v));
void sup_shared_cancel(struct sup_job *job);
/* Stores a CLEAN or INFECTED verdict for others; fire and forget. The Redis
 * link is trusted not to be hostile (hiredis aborts on a reply nobody asked
 * for): loopback, a private network, or a TLS tunnel. */
void sup_shared_tell(const unsigned char hash[SUP_HASH_LEN], const unsigned char print[32],
    const struct sup_verdict *v);
/* Lookups in flight. */
size_t sup_shared_pending(void);
/* Answers every lookup in flight as not found, closes the connection. */
void sup_shared_close(void);

/* The value stored for a CLEAN or INFECTED verdict under a Redis key:
 * "HMAC|2|EXPIRES|STATUS|CODE|NAME", NUL-terminated (EXPIRES: seconds since
 * the epoch). Returns its length, or -1 (another status, or too long). */
int sup_shared_encode(const unsigned char *key, size_t keylen, const char *rkey, const struct sup_verdict *v,
    int64_t expires, char *out, size_t outlen);
/* Checks and parses such a value at time now: 0 with v filled, -1 forged,
 * expired or malformed. */
int sup_shared_decode(const unsigned char *key, size_t keylen, const char *rkey, const char *val, size_t len,
    int64_t now, struct sup_verdict *v);

#endif
