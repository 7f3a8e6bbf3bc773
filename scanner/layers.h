/*
 * scanner/layers.h: one scan's view of the layers libclamav unpacks, for
 * what its result alone does not say: every signature that matched
 * (ALLMATCHSCAN), a layer the engine failed on and went past (ERROR, never
 * CLEAN), and a container it could not fully read although it answers
 * CLEAN (zipcheck.c: UNSCANNABLE, with a Momentum decomposer code).
 */
#ifndef AVW_LAYERS_H
#define AVW_LAYERS_H

#include <clamav.h>

#include "../ipc/ipc.h"
#include "contcheck.h"
#include "tripwire.h"

struct scan_layers {
	int all;                               /* collect every match */
	char names[IPC_MORE_MAX + 1][IPC_NAME_MAX];
	unsigned nnames;
	struct cont_limits lim;                 /* the engine's, for the checks */
	enum cont_code finding;                 /* the first container finding */
	char reason[160];
	int layer_error;                       /* the first layer's cl_error_t, if any failed */
	unsigned layers;
	struct tripwire_hits ran_out;          /* resources libc saw run out (tripwire.c) */
};

/* On the engine, before it is compiled and shared. */
void scan_layers_install(struct cl_engine *e);
/* Before a scan: s is the context handed to libclamav. */
void scan_layers_begin(struct scan_layers *s, const struct cl_engine *e, int all);
/* After it: r amended (more names; ERROR for a failed layer or a resource
 * that ran out; UNSCANNABLE for a finding, unless something was found). */
void scan_layers_end(struct scan_layers *s, struct ipc_result *r);

#endif
