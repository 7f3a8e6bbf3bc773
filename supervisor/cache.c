/*
 * supervisor/cache.c: the verdict cache (see cache.h).
 *
 * All memory is taken at start: `capacity` entries, a bucket array of the
 * next power of two above twice that, and index links (hash chains and an
 * LRU list) instead of pointers. Lookups and inserts are O(1) and never
 * allocate, so a flood of distinct messages costs evictions, not memory.
 */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct centry {
	unsigned char hash[SUP_HASH_LEN];
	uint32_t gen;
	uint32_t chain;        /* next in the bucket */
	uint32_t prev, next;   /* LRU list, most recent at the head */
	struct sup_verdict v;
};

static struct {
	struct centry *e;
	uint32_t *bucket;
	uint32_t cap, nbuckets, count;
	uint32_t alloc;        /* entries allocated: grown as they are used */
	uint32_t head, tail;
	uint32_t free_next;    /* entries never used yet: [free_next, cap) */
} K;

/*
 * Memory follows use, not cache_size: an entry is ~350 bytes, so a cache
 * sized for ten million would be 3.4 GB if allocated (and zeroed) at start.
 * Entries and buckets start small and double as entries are first used.
 */
#define CACHE_FIRST 1024u

int sup_cache_init(size_t capacity)
{
	memset(&K, 0, sizeof(K));
	if (capacity == 0)
		return 0;
	if (capacity > 10000000)
		return -1;
	K.cap = (uint32_t)capacity;
	K.head = K.tail = NIL;
	return 0;
}

void sup_cache_free(void)
{
	free(K.e);
	free(K.bucket);
	memset(&K, 0, sizeof(K));
}

int sup_cache_enabled(void)
{
	return K.cap > 0;
}

void sup_cache_clear(void)
{
	free(K.e);
	free(K.bucket);
	K.e = NULL;
	K.bucket = NULL;
	K.alloc = K.nbuckets = K.count = 0;
	K.head = K.tail = NIL;
	K.free_next = 0;
}

size_t sup_cache_count(void)
{
	return K.count;
}

/* SHA-256 output is uniform: its first bytes are a good bucket index. */
static uint32_t bucket_of(const unsigned char *hash, uint32_t gen)
{
	uint32_t h;

	memcpy(&h, hash, sizeof(h));
	return (h ^ (gen * 0x9e3779b9u)) & (K.nbuckets - 1);
}

static void lru_unlink(uint32_t i)
{
	struct centry *c = &K.e[i];

	if (c->prev != NIL)
		K.e[c->prev].next = c->next;
	else
		K.head = c->next;
	if (c->next != NIL)
		K.e[c->next].prev = c->prev;
	else
		K.tail = c->prev;
}

static void lru_push_front(uint32_t i)
{
	struct centry *c = &K.e[i];

	c->prev = NIL;
	c->next = K.head;
	if (K.head != NIL)
		K.e[K.head].prev = i;
	K.head = i;
	if (K.tail == NIL)
		K.tail = i;
}

static uint32_t find(const unsigned char *hash, uint32_t gen, uint32_t **link)
{
	uint32_t *l;

	if (K.nbuckets == 0)
		return NIL;
	l = &K.bucket[bucket_of(hash, gen)];

	while (*l != NIL) {
		struct centry *c = &K.e[*l];
		if (c->gen == gen && memcmp(c->hash, hash, SUP_HASH_LEN) == 0)
			break;
		l = &c->chain;
	}
	if (link != NULL)
		*link = l;
	return *l;
}

/* Twice the entries (at most cap), and buckets for twice as many again:
 * every live entry is chained anew (by the LRU list). */
static int grow(void)
{
	uint32_t n = K.alloc == 0 ? CACHE_FIRST : K.alloc * 2, nb = 16;
	struct centry *e;
	uint32_t *b;

	if (n > K.cap)
		n = K.cap;
	while (nb < 2 * n)
		nb *= 2;
	if ((e = realloc(K.e, (size_t)n * sizeof(*e))) == NULL)
		return -1;
	K.e = e;
	K.alloc = n;
	if (nb == K.nbuckets)
		return 0;
	if ((b = malloc((size_t)nb * sizeof(*b))) == NULL)
		return -1;
	free(K.bucket);
	K.bucket = b;
	K.nbuckets = nb;
	for (uint32_t i = 0; i < nb; i++)
		b[i] = NIL;
	for (uint32_t i = K.head; i != NIL; i = K.e[i].next) {
		uint32_t k = bucket_of(K.e[i].hash, K.e[i].gen);
		K.e[i].chain = b[k];
		b[k] = i;
	}
	return 0;
}

int sup_cache_lookup(const unsigned char hash[SUP_HASH_LEN], uint32_t gen, struct sup_verdict *v)
{
	uint32_t i;

	if (K.cap == 0 || (i = find(hash, gen, NULL)) == NIL)
		return 0;
	lru_unlink(i);
	lru_push_front(i);
	*v = K.e[i].v;
	return 1;
}

static void evict(uint32_t i)
{
	struct centry *c = &K.e[i];
	uint32_t *l;

	if (find(c->hash, c->gen, &l) == i)
		*l = c->chain;
	lru_unlink(i);
	K.count--;
}

void sup_cache_insert(const unsigned char hash[SUP_HASH_LEN], uint32_t gen, const struct sup_verdict *v)
{
	uint32_t i, b;
	struct centry *c;

	if (K.cap == 0 || v->status == IPC_ERROR || v->status < IPC_STATUS_MIN || v->status > IPC_STATUS_MAX)
		return;
	if ((i = find(hash, gen, NULL)) != NIL) {
		K.e[i].v = *v;
		lru_unlink(i);
		lru_push_front(i);
		return;
	}
	if (K.free_next < K.cap) {
		if (K.free_next == K.alloc && grow() < 0)
			return;  /* no memory: this verdict is not kept */
		i = K.free_next++;
	} else {
		i = K.tail;
		evict(i);
	}
	c = &K.e[i];
	memcpy(c->hash, hash, SUP_HASH_LEN);
	c->gen = gen;
	c->v = *v;
	b = bucket_of(hash, gen);
	c->chain = K.bucket[b];
	K.bucket[b] = i;
	lru_push_front(i);
	K.count++;
}
