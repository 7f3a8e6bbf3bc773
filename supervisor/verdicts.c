/*
 * supervisor/verdicts.c: the verdict cache and the poison table behind one
 * pair of calls (see verdicts.h).
 */
#include "verdicts.h"

#include <stdio.h>
#include <string.h>

#include "../platform/plat.h"
#include "cache.h"
#include "gen.h"
#include "shared.h"
#include "poison.h"
#include "stats.h"

/* Poison entries kept: content that crashed workers, which on a healthy
 * system is nothing at all. */
#define VERDICTS_POISON_ENTRIES 1024

static const struct sup_config *C;

int sup_verdicts_init(const struct sup_config *cfg)
{
	C = cfg;
	if (sup_poison_init(VERDICTS_POISON_ENTRIES, cfg->poison_threshold, cfg->poison_ttl) < 0 ||
	    sup_cache_init(cfg->cache_size) < 0)
		return -1;
	return 0;
}

void sup_verdicts_free(void)
{
	sup_cache_free();
	sup_poison_free();
}

int sup_verdicts_caching(void)
{
	return sup_cache_enabled();
}

void sup_verdicts_hash(struct sup_job *job, const void *bytes)
{
	if (job->have_hash || (bytes == NULL && job->len > 0))
		return;
	sup_hash(job->len ? bytes : "", job->len, job->hash);
	job->have_hash = 1;
}

int sup_verdicts_ask(struct sup_job *job, uint32_t gen, struct sup_verdict *v)
{
	const struct sup_poison_entry *pe;

	if (sup_poison_active()) {
		sup_verdicts_hash(job, job->buf.base);
		if (job->have_hash && (pe = sup_poison_lookup(job->hash, job->t_submit)) != NULL) {
			sup_counters.poison_hits++;
			memset(v, 0, sizeof(*v));
			v->status = IPC_ERROR;
			v->engine_code = pe->code;
			snprintf(v->reason, sizeof(v->reason), "poison message: %.100s, %u times; not scanned again for now",
			    pe->reason, pe->faults);
			return 1;
		}
	}
	if (gen != 0 && sup_cache_enabled() && !job->allmatch) {
		sup_verdicts_hash(job, job->buf.base);
		if (job->have_hash && sup_cache_lookup(job->hash, gen, v)) {
			sup_counters.cache_hits++;
			job->cached = gen;
			return 1;
		}
		if (job->have_hash)
			sup_counters.cache_misses++;
	}
	return 0;
}

static void log_poisoned(const struct sup_job *job, const struct sup_verdict *v)
{
	char hex[2 * SUP_HASH_LEN + 1];

	for (int i = 0; i < SUP_HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", job->hash[i]);
	log_warnx("poison_message", "sha256=%s faults=%u reason=\"%s\" ttl=%us "
	    "action=\"answered from memory, not scanned again, until the ttl passes\"",
	    hex, C->poison_threshold, v->reason, C->poison_ttl);
}

void sup_verdicts_tell(struct sup_job *job, const struct sup_verdict *v, const struct sup_answer_by *by)
{
	/* A crash the content caused, or a timeout, counts against it. */
	if (v->status == IPC_ERROR && job->blame && job->have_hash &&
	    sup_poison_record(job->hash, v->reason, v->engine_code, plat_now_ns()))
		log_poisoned(job, v);
	/* Only the serving generation's verdicts are kept: a draining one's
	 * signatures are already replaced. */
	if (by != NULL && by->gen != 0 && by->serving && v->status != IPC_ERROR && job->have_hash && !job->allmatch) {
		const unsigned char *sigset = sup_gens_serving_sigset();
		sup_cache_insert(job->hash, by->gen, v);
		if (sigset != NULL)
			sup_shared_tell(job->hash, sigset, v);  /* for the other nodes */
	}
}

void sup_verdicts_remember(struct sup_job *job, uint32_t gen, const struct sup_verdict *v)
{
	if (job->have_hash && v->status != IPC_ERROR)
		sup_cache_insert(job->hash, gen, v);
	job->cached = gen;
}

void sup_verdicts_forget(void)
{
	sup_cache_clear();
}

size_t sup_verdicts_cached(void)
{
	return sup_cache_count();
}
