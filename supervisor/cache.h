/*
 * supervisor/cache.h: the verdict cache. A message whose bytes were already
 * scanned by the serving database generation is answered without a scan.
 *
 * Keyed by the SHA-256 of the content and the generation id, so a verdict
 * never outlives the signatures that produced it; the pool also empties it
 * when a new generation starts serving. Only final verdicts are kept
 * (CLEAN, INFECTED, UNSCANNABLE), never an ERROR: an error says nothing
 * about the content. Fixed capacity, least recently used entry evicted.
 */
#ifndef AVW_CACHE_H
#define AVW_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "clamd.h"
#include "poison.h"

/* capacity 0: the cache is off and every call is a no-op. */
int sup_cache_init(size_t capacity);
void sup_cache_free(void);
int sup_cache_enabled(void);
/* Fills v and returns 1 on a hit (the entry becomes the most recent). */
int sup_cache_lookup(const unsigned char hash[SUP_HASH_LEN], uint32_t gen, struct sup_verdict *v);
/* Stores a final verdict; ERRORs are refused. */
void sup_cache_insert(const unsigned char hash[SUP_HASH_LEN], uint32_t gen, const struct sup_verdict *v);
void sup_cache_clear(void);
size_t sup_cache_count(void);

#endif
