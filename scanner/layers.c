/*
 * scanner/layers.c: what one scan learns layer by layer (see layers.h):
 * libclamav's per-layer callbacks, set once on the engine before it is
 * laid out for the workers, each handed this scan's context.
 */
#define _GNU_SOURCE
#include "layers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../ipc/ipc.h"

static void set_clean_name(char *dst, size_t len, const char *name)
{
	size_t i = 0;

	/* Only printable, space-free ASCII crosses to the supervisor. */
	for (; name != NULL && name[i] != '\0' && i < len - 1; i++) {
		unsigned char c = (unsigned char)name[i];
		dst[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

/* ALLMATCHSCAN: every match, in the order the engine reports them. */
static void on_virus_found(int fd, const char *virname, void *ctx)
{
	struct scan_layers *s = ctx;
	char name[IPC_NAME_MAX];

	(void)fd;
	if (s == NULL || !s->all || virname == NULL || virname[0] == '\0')
		return;
	set_clean_name(name, sizeof(name), virname);
	for (unsigned i = 0; i < s->nnames; i++)
		if (strcmp(s->names[i], name) == 0)
			return;
	if (s->nnames < sizeof(s->names) / sizeof(s->names[0]))
		memcpy(s->names[s->nnames++], name, sizeof(name));
}

/* Every layer, before it is scanned, with all its bytes: the checks the
 * engine does not make. The first finding is kept. */
static cl_error_t on_inspect(int fd, const char *type, const char **ancestors, size_t parent_size,
    const char *name, size_t size, const char *buf, uint32_t level, uint32_t attrs, void *ctx)
{
	struct scan_layers *s = ctx;
	struct cont_finding f;

	(void)fd, (void)ancestors, (void)parent_size, (void)name, (void)level, (void)attrs;
	if (s == NULL || buf == NULL || type == NULL || s->finding != ZC_OK)
		return CL_CLEAN;
	s->layers++;
	if (cont_check(type, (const unsigned char *)buf, size, &s->lim, &f) != ZC_OK) {
		s->finding = f.code;
		memcpy(s->reason, f.reason, sizeof(s->reason));
	}
	return CL_CLEAN;
}

/* A layer the engine could not finish (a temp file it could not create or
 * write, memory, descriptors) may leave its parent CLEAN: remembered. */
static cl_error_t on_post_scan(int fd, int result, const char *virname, void *ctx)
{
	struct scan_layers *s = ctx;

	(void)fd, (void)virname;
	if (s != NULL && result != CL_CLEAN && result != CL_VIRUS && result != CL_BREAK && s->layer_error == 0)
		s->layer_error = result;
	return CL_CLEAN;
}

void scan_layers_install(struct cl_engine *e)
{
	cl_engine_set_clcb_virus_found(e, on_virus_found);
	cl_engine_set_clcb_file_inspection(e, on_inspect);
	cl_engine_set_clcb_post_scan(e, on_post_scan);
}

void scan_layers_begin(struct scan_layers *s, const struct cl_engine *e, int all)
{
	int err = 0;

	memset(s, 0, sizeof(*s));
	s->all = all;
	s->lim.max_file_size = (uint64_t)cl_engine_get_num(e, CL_ENGINE_MAX_FILESIZE, &err);
	s->lim.max_scan_size = (uint64_t)cl_engine_get_num(e, CL_ENGINE_MAX_SCANSIZE, &err);
	s->lim.max_files = (uint64_t)cl_engine_get_num(e, CL_ENGINE_MAX_FILES, &err);
	tripwire_begin();
}

/* The finding's name in the reply, and its code. */
static void finding_result(enum cont_code c, struct ipc_result *r)
{
	static const struct { enum cont_code c; int32_t code; const char *name; } t[] = {
		{ ZC_MALFORMED, IPC_DEC_MALFORMED_CONTAINER, "Heuristics.Unscannable.MalformedContainer" },
		{ ZC_ENCRYPTED, IPC_DEC_ENCRYPTED_CONTAINER, "Heuristics.Encrypted.Zip" },
		{ ZC_EXTRACT_FAILED, IPC_DEC_FILE_EXTRACT_FAILED, "Heuristics.Unscannable.FileExtractFailed" },
		{ ZC_MAX_EXTRACT_SIZE, IPC_DEC_MAX_EXTRACT_SIZE, "Heuristics.Limits.Exceeded.MaxFileSize" },
		{ ZC_MAX_SCAN_SIZE, IPC_DEC_MAX_CUMULATIVE_EXTRACT_SIZE, "Heuristics.Limits.Exceeded.MaxScanSize" },
		{ ZC_MAX_FILES, IPC_DEC_MAX_FILES, "Heuristics.Limits.Exceeded.MaxFiles" },
		{ ZC_SPLIT, IPC_DEC_FILE_SPLIT, "Heuristics.Unscannable.FileSplitAcrossContainers" },
		{ ZC_PARTIAL_MESSAGE, IPC_DEC_PARTIAL_MESSAGE, "Heuristics.Unscannable.PartialMessage" },
		{ ZC_UNKNOWN_ALGORITHM, IPC_DEC_UNKNOWN_ALGORITHM, "Heuristics.Unscannable.UnknownAlgorithm" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].c == c) {
			r->status = IPC_UNSCANNABLE;
			r->engine_code = t[i].code;
			snprintf(r->name, sizeof(r->name), "%s", t[i].name);
			return;
		}
	r->status = IPC_ERROR;  /* ZC_OUT_OF_MEMORY */
	r->engine_code = IPC_GEN_OUT_OF_MEMORY;
	r->name[0] = '\0';
}

void scan_layers_end(struct scan_layers *s, struct ipc_result *r)
{
	tripwire_end(&s->ran_out);
	if (r->status == IPC_INFECTED && s->all && s->nnames > 0) {
		/* ALLMATCHSCAN: the first as an ordinary scan's, the rest after. */
		set_clean_name(r->name, sizeof(r->name), s->names[0]);
		for (unsigned i = 1; i < s->nnames && r->nmore < IPC_MORE_MAX; i++)
			memcpy(r->more[r->nmore++], s->names[i], IPC_NAME_MAX);
	}
	if (r->status != IPC_CLEAN)
		return;  /* a detection always wins; limits and errors stand */
	if (s->ran_out.count > 0) {
		/* A temp file it could not write, a descriptor it could not open:
		 * whatever it said, it did not read everything. */
		r->status = IPC_ERROR;
		r->engine_code = s->ran_out.first_errno == ENOMEM ? IPC_GEN_OUT_OF_MEMORY :
		    (s->ran_out.first_errno == EMFILE || s->ran_out.first_errno == ENFILE) ? IPC_DEC_FILE_ACCESS_FAILED :
		    IPC_DEC_TEMPFILE_ACCESS_FAILED;
		return;
	}
	if (s->layer_error != 0) {
		/* Not a scan: the engine failed on a layer and went on. */
		r->status = IPC_ERROR;
		r->engine_code = s->layer_error > 0 && s->layer_error < 100 ? s->layer_error : IPC_CODE_ENGINE_FAILED;
		return;
	}
	if (s->finding != ZC_OK)
		finding_result(s->finding, r);
}
