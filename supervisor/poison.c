/*
 * supervisor/poison.c: the poison-message table (see poison.h). Small and
 * linear on purpose: it holds only content that crashed scanners, which on a
 * healthy system is nothing at all.
 */
#include "poison.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../platform/plat.h"

static struct {
	struct sup_poison_entry *e;
	size_t cap;
	unsigned threshold;
	uint64_t ttl_ns;
	size_t used;
} T;

int sup_poison_init(size_t capacity, unsigned threshold, unsigned ttl_s)
{
	T.e = calloc(capacity, sizeof(*T.e));
	if (T.e == NULL)
		return -1;
	T.cap = capacity;
	T.threshold = threshold;
	T.ttl_ns = (uint64_t)ttl_s * 1000000000ull;
	T.used = 0;
	/* Load libcrypto's digest now, not on the first crash mid-incident. */
	unsigned char warm[SUP_HASH_LEN];
	sup_hash("", 0, warm);
	return 0;
}

void sup_poison_free(void)
{
	free(T.e);
	memset(&T, 0, sizeof(T));
}

int sup_poison_active(void)
{
	return T.used > 0;
}

static struct sup_poison_entry *find(const unsigned char *hash, uint64_t now)
{
	for (size_t i = 0; i < T.cap; i++) {
		struct sup_poison_entry *p = &T.e[i];
		if (p->expires_ns == 0)
			continue;
		if (p->expires_ns <= now) {
			p->expires_ns = 0;  /* expired: forget it */
			T.used--;
			continue;
		}
		if (memcmp(p->hash, hash, SUP_HASH_LEN) == 0)
			return p;
	}
	return NULL;
}

const struct sup_poison_entry *sup_poison_lookup(const unsigned char *hash, uint64_t now_ns)
{
	struct sup_poison_entry *p;

	if (T.used == 0)
		return NULL;
	p = find(hash, now_ns);
	return p != NULL && p->faults >= T.threshold ? p : NULL;
}

int sup_poison_record(const unsigned char *hash, const char *reason, int32_t code, uint64_t now_ns)
{
	struct sup_poison_entry *p = T.cap ? find(hash, now_ns) : NULL;

	if (T.cap == 0)
		return 0;
	if (p == NULL) {
		struct sup_poison_entry *victim = &T.e[0];
		for (size_t i = 0; i < T.cap; i++) {
			if (T.e[i].expires_ns == 0) {
				victim = &T.e[i];
				break;
			}
			if (T.e[i].expires_ns < victim->expires_ns)
				victim = &T.e[i];
		}
		if (victim->expires_ns == 0)
			T.used++;
		p = victim;
		memset(p, 0, sizeof(*p));
		memcpy(p->hash, hash, SUP_HASH_LEN);
		p->code = code;
		snprintf(p->reason, sizeof(p->reason), "%s", reason);
	}
	p->faults++;
	p->expires_ns = now_ns + T.ttl_ns;
	return p->faults == T.threshold;
}

void sup_hash(const void *data, size_t len, unsigned char out[SUP_HASH_LEN])
{
	unsigned int n = SUP_HASH_LEN;

	/* A failed hash would make all content look alike: never go on. */
	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != SUP_HASH_LEN)
		fatalx("hash", "reason=\"SHA-256 unavailable in libcrypto\"");
}
