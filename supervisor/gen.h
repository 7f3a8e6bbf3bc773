/*
 * supervisor/gen.h: generations of scanners and the reload that replaces
 * one with the next.
 *
 * Promises: one generation serves at a time; a new one takes jobs only
 * once its workers are up, and one that fails to load never replaces a
 * working one; the old one finishes its jobs before its host is stopped.
 * Host start-up failures back off (1 s doubling to 60 s, reset on success),
 * and so do forks the host cannot make; per-job faults never do. Each
 * generation runs on the table in lifecycle.c.
 */
#ifndef AVW_GEN_H
#define AVW_GEN_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "pool.h"

struct sup_slot;

/* What the pool hears from the generations. */
struct sup_gen_hooks {
	void (*capacity)(void);                 /* a worker is idle: dispatch */
	void (*unavailable)(const char *reason); /* nothing serves and the start failed */
	void (*ready)(void);                    /* the first generation serves */
};

/* -ENOENT: no such user; -EPERM: the user is root. */
int sup_gens_init(uv_loop_t *loop, const struct sup_config *cfg, const struct sup_gen_hooks *hooks);
/* A new generation, unless one is loading; cb (may be NULL) hears the outcome. */
void sup_gens_reload(const char *why, sup_reload_cb cb, void *ctx);
/* The serving generation's id, 0 if none. */
uint32_t sup_gens_serving_id(void);
/* Its database fingerprint, and the last one that failed to load. */
uint64_t sup_gens_serving_print(void);
/* The serving generation's signature set fingerprint (the shared cache's
 * key), or NULL when none serves or its host could not read the files. */
const unsigned char *sup_gens_serving_sigset(void);
uint64_t sup_gens_failed_print(void);
/* No generation serves and the last start failed: fail fast, with why. */
const char *sup_gens_unavailable(void);
int sup_gens_loading(void);
/* An idle worker of the serving generation, or NULL. */
struct sup_slot *sup_gens_idle_slot(void);
unsigned sup_gens_count(int busy);
/* Forks of workers fail and are being retried with back-off. */
int sup_gens_spawn_failing(void);  /* the serving generation's busy (1) or idle (0) workers */
/* Jobs held by workers of any generation. */
unsigned sup_gens_in_flight(void);
void sup_gens_describe(struct sup_pool_info *info);
size_t sup_gens_workers(struct sup_worker_info *out, size_t n);
/* Kills every host; their jobs are answered `reason`. */
void sup_gens_close(const char *reason);
void sup_gens_free(void);

#endif
