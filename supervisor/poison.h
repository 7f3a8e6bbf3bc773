/*
 * supervisor/poison.h: poison messages. Content (keyed by its SHA-256) that
 * has crashed or timed out workers `threshold` times is answered from memory
 * for `ttl` seconds instead of being handed to another worker: one crafted
 * mail retried by its MTA must not kill a worker per delivery attempt.
 */
#ifndef AVW_POISON_H
#define AVW_POISON_H

#include <stddef.h>
#include <stdint.h>

#define SUP_HASH_LEN 32

struct sup_poison_entry {
	unsigned char hash[SUP_HASH_LEN];
	unsigned faults;
	int32_t code;        /* engine code of the first fault */
	uint64_t expires_ns; /* 0: slot empty */
	char reason[128];    /* the first fault, e.g. "scanner crashed: SIGSEGV" */
};

/* capacity entries; when full, the entry closest to expiry is replaced. */
int sup_poison_init(size_t capacity, unsigned threshold, unsigned ttl_s);
void sup_poison_free(void);
/* Any entry at all? If not, callers need not hash content up front. */
int sup_poison_active(void);
/* The entry if this content is poisoned now (faults >= threshold), else NULL. */
const struct sup_poison_entry *sup_poison_lookup(const unsigned char *hash, uint64_t now_ns);
/* Counts a fault; returns 1 when this fault made the content poisoned. */
int sup_poison_record(const unsigned char *hash, const char *reason, int32_t code, uint64_t now_ns);

/* SHA-256 of len bytes. */
void sup_hash(const void *data, size_t len, unsigned char out[SUP_HASH_LEN]);

#endif
