/*
 * scanner/engine.c: libclamav set-up and the mapping of its answers onto
 * CLEAN / INFECTED / UNSCANNABLE / ERROR. Shared by the scanner and by the
 * test tool that scans in-process, so both judge bytes the same way.
 *
 * Must never call something CLEAN that libclamav did not fully scan.
 */
#define _GNU_SOURCE
#include "scan.h"

#include <stdio.h>
#include <string.h>

struct cl_engine *scan_engine_load(const char *path, const char *display, const char *tmpdir,
    const struct scan_limits *lim, unsigned *sigs, char *err, size_t errlen)
{
	struct cl_engine *e;
	cl_error_t rc;
	unsigned n = 0;

	if ((rc = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS) {
		snprintf(err, errlen, "cl_init: %s", cl_strerror(rc));
		return NULL;
	}
	e = cl_engine_new();
	if (e == NULL) {
		snprintf(err, errlen, "cl_engine_new: out of memory");
		return NULL;
	}
	if (tmpdir != NULL && (rc = cl_engine_set_str(e, CL_ENGINE_TMPDIR, tmpdir)) != CL_SUCCESS) {
		snprintf(err, errlen, "temp dir %s: %s", tmpdir, cl_strerror(rc));
		goto fail;
	}
	if (lim != NULL) {
		const struct { enum cl_engine_field f; uint64_t v; } set[] = {
			{ CL_ENGINE_MAX_SCANSIZE, lim->max_scansize },
			{ CL_ENGINE_MAX_FILESIZE, lim->max_filesize },
			{ CL_ENGINE_MAX_RECURSION, lim->max_recursion },
			{ CL_ENGINE_MAX_FILES, lim->max_files },
			{ CL_ENGINE_MAX_SCANTIME, lim->max_scantime_ms },
		};
		for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
			if (set[i].v != 0 && (rc = cl_engine_set_num(e, set[i].f, (long long)set[i].v)) != CL_SUCCESS) {
				snprintf(err, errlen, "engine limit %d: %s", (int)set[i].f, cl_strerror(rc));
				goto fail;
			}
	}
	rc = cl_load(path, e, &n, CL_DB_STDOPT);
	if (rc != CL_SUCCESS) {
		snprintf(err, errlen, "cannot load database %s: %s", display, cl_strerror(rc));
		goto fail;
	}
	if (n == 0) {
		snprintf(err, errlen, "database %s holds no signatures", display);
		goto fail;
	}
	if ((rc = cl_engine_compile(e)) != CL_SUCCESS) {
		snprintf(err, errlen, "cannot compile database %s: %s", display, cl_strerror(rc));
		goto fail;
	}
	*sigs = n;
	return e;
fail:
	cl_engine_free(e);
	return NULL;
}

void scan_options_default(struct cl_scan_options *o)
{
	memset(o, 0, sizeof(*o));
	/* clamd.conf defaults: every parser on, HeuristicAlerts yes. */
	o->general = CL_SCAN_GENERAL_HEURISTICS;
	o->parse = ~0u;
	/* Fail closed: report what was not scanned instead of calling it clean. */
	o->heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX |
	    CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE | CL_SCAN_HEURISTIC_ENCRYPTED_DOC;
}

/*
 * Heuristic names libclamav uses when it could not look inside something,
 * with the engine code that best says why. 0: not an unscannable name.
 */
static int32_t unscannable_code(const char *name)
{
	static const struct { const char *prefix; cl_error_t code; } t[] = {
		{ "Heuristics.Limits.Exceeded.MaxRecursion", CL_EMAXREC },
		{ "Heuristics.Limits.Exceeded.MaxFiles", CL_EMAXFILES },
		{ "Heuristics.Limits.Exceeded.MaxScanTime", CL_ETIMEOUT },
		{ "Heuristics.Limits.Exceeded", CL_EMAXSIZE },
		{ "Heuristics.Encrypted", CL_EFORMAT },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strncmp(name, t[i].prefix, strlen(t[i].prefix)) == 0)
			return (int32_t)t[i].code;
	return 0;
}

static void set_name(struct ipc_result *r, const char *name)
{
	size_t i = 0;

	/* Only printable, space-free ASCII crosses to the supervisor. */
	for (; name != NULL && name[i] != '\0' && i < sizeof(r->name) - 1; i++) {
		unsigned char c = (unsigned char)name[i];
		r->name[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	r->name[i] = '\0';
}

void scan_classify(cl_error_t rc, const char *virname, unsigned long scanned, struct ipc_result *r)
{
	r->scanned = scanned;
	r->name[0] = '\0';
	r->engine_code = 0;
	switch (rc) {
	case CL_CLEAN:
		r->status = IPC_CLEAN;
		return;
	case CL_VIRUS:
		if (virname == NULL || virname[0] == '\0') {
			/* A detection without a name is still a detection. */
			r->status = IPC_INFECTED;
			set_name(r, "Unnamed.Detection");
			return;
		}
		set_name(r, virname);
		r->engine_code = unscannable_code(virname);
		r->status = r->engine_code != 0 ? IPC_UNSCANNABLE : IPC_INFECTED;
		return;
	case CL_EMAXREC:
	case CL_EMAXSIZE:
	case CL_EMAXFILES:
	case CL_ETIMEOUT:
		r->status = IPC_UNSCANNABLE;
		r->engine_code = (int32_t)rc;
		set_name(r, rc == CL_ETIMEOUT ? "Heuristics.Limits.Exceeded.MaxScanTime" :
		    "Heuristics.Limits.Exceeded");
		return;
	default:
		r->status = IPC_ERROR;
		r->engine_code = (int32_t)rc;
		return;
	}
}

void scan_buffer(const struct cl_engine *engine, const void *data, size_t len, struct ipc_result *r)
{
	struct cl_scan_options opts;
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_fmap_t *map;
	cl_error_t rc;

	if (len == 0) {
		/* Nothing to scan; clamd answers OK for an empty stream too. */
		scan_classify(CL_CLEAN, NULL, 0, r);
		return;
	}
	map = cl_fmap_open_memory(data, len);
	if (map == NULL) {
		scan_classify(CL_EMEM, NULL, 0, r);
		return;
	}
	scan_options_default(&opts);
	rc = cl_scanmap_callback(map, "stream", &virname, &scanned, engine, &opts, NULL);
	cl_fmap_close(map);
	scan_classify(rc, virname, scanned, r);
}
