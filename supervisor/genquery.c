/*
 * supervisor/genquery.c: what the generations look like from outside (see
 * gen.h): the serving one, its workers, the figures `stats`, `version` and
 * `workers` show. Reads only; every change is gen.c's.
 */
#define _GNU_SOURCE
#include "genint.h"

#include <stdio.h>

#include "../platform/plat.h"

#define G sup_gens

uint32_t sup_gens_serving_id(void)
{
	return G.serving ? G.serving->id : 0;
}

const unsigned char *sup_gens_serving_sigset(void)
{
	return G.serving != NULL && G.serving->have_print ? G.serving->database_print : NULL;
}

uint64_t sup_gens_serving_print(void)
{
	return G.serving ? G.serving->db_print : 0;
}

uint64_t sup_gens_failed_print(void)
{
	return G.failed_print;
}

const char *sup_gens_unavailable(void)
{
	return G.serving == NULL && G.start_failed ? G.last_failure : NULL;
}

int sup_gens_loading(void)
{
	return G.loading != NULL;
}

struct sup_slot *sup_gens_idle_slot(void)
{
	if (sup_gens_count(1) >= G.cfg->max_concurrency)
		return NULL;  /* max_concurrency scans at once, spares or not */
	for (unsigned i = 0; G.serving != NULL && i < G.serving->nslots; i++)
		if (G.serving->slots[i].state == W_IDLE)
			return &G.serving->slots[i];
	return NULL;
}

int sup_gens_spawn_failing(void)
{
	return G.spawn_backoff_ms != 0;
}

unsigned sup_gens_count(int busy)
{
	unsigned n = 0;

	for (unsigned i = 0; G.serving != NULL && i < G.serving->nslots; i++)
		n += G.serving->slots[i].state == (busy ? W_BUSY : W_IDLE);
	return n;
}

unsigned sup_gens_in_flight(void)
{
	unsigned n = 0;

	for (struct sup_gen *g = G.gens; g != NULL; g = g->next)
		for (unsigned i = 0; i < g->nslots; i++)
			n += g->slots[i].job != NULL;
	return n;
}

void sup_gens_describe(struct sup_pool_info *info)
{
	const struct sup_gen *g = G.serving;

	info->reloading = G.loading != NULL;
	snprintf(info->last_reload, sizeof(info->last_reload), "%s", G.last_reload[0] ? G.last_reload : "none");
	if (g == NULL) {
		snprintf(info->engine, sizeof(info->engine), "?");
		snprintf(info->database, sizeof(info->database), "%.150s", G.start_failed ? G.last_failure : "loading");
		return;
	}
	info->generation = g->id;
	info->signatures = g->sigs;
	info->loaded_at = g->loaded_at;
	info->database_built = g->database_built;
	snprintf(info->engine, sizeof(info->engine), "%s", g->engine);
	snprintf(info->database, sizeof(info->database), "%s", g->database);
}

size_t sup_gens_workers(struct sup_worker_info *out, size_t n)
{
	uint64_t now = plat_now_ns();
	size_t k = 0;

	for (const struct sup_gen *g = G.gens; g != NULL; g = g->next) {
		for (unsigned i = 0; i < g->nslots && k < n; i++) {
			const struct sup_slot *s = &g->slots[i];
			if (!sup_slot_live(s))
				continue;
			out[k++] = (struct sup_worker_info){
				.generation = g->id,
				.serving = g == G.serving,
				.id = s->id,
				.pid = s->pid,
				.state = sup_wl_state_name(s->state),
				.jobs = s->jobs,
				.rss = s->pid > 0 ? plat_proc_rss(s->pid) : 0,
				.age_s = s->started_ns ? (double)(now - s->started_ns) / 1e9 : 0.0,
			};
		}
	}
	return k;
}
