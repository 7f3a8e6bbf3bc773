/*
 * scanner/engine.c: libclamav set-up and the mapping of its answers onto
 * CLEAN / INFECTED / UNSCANNABLE / ERROR. Shared by the scanner and by the
 * test tool that scans in-process, so both judge bytes the same way.
 *
 * Must never call something CLEAN that libclamav did not fully scan.
 */
#define _GNU_SOURCE
#include "scan.h"
#include "layers.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

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
			{ CL_ENGINE_DISABLE_CACHE, (uint64_t)(lim->no_cache != 0) },
		};
		for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
			if (set[i].v != 0 && (rc = cl_engine_set_num(e, set[i].f, (long long)set[i].v)) != CL_SUCCESS) {
				snprintf(err, errlen, "engine limit %d: %s", (int)set[i].f, cl_strerror(rc));
				goto fail;
			}
	}
	/* Set before the engine is laid out for the workers, who only read it:
	 * the per-scan context says where what they learn goes. */
	scan_layers_install(e);
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

void scan_engine_warm_up(const struct cl_engine *engine)
{
	static const char mail[] = "From: a@example.org\r\nTo: b@example.org\r\nSubject: warm-up\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nwarming up\r\n";
	struct ipc_result r;

	scan_buffer(engine, mail, sizeof(mail) - 1, &r);
}

static const char *db_ext(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot != NULL && name[0] != '.' ? dot + 1 : "";
}

void scan_db_describe(const char *path, char *out, size_t len, time_t *built_out)
{
	char file[4096];
	struct dirent *de;
	struct stat st;
	size_t off = 0;
	unsigned files = 0;
	time_t newest = 0;
	struct tm tm;
	DIR *d;

	out[0] = '\0';
	*built_out = 0;
	if ((d = opendir(path)) == NULL) {
		if (stat(path, &st) == 0 && gmtime_r(&st.st_mtime, &tm) != NULL) {
			strftime(out, len, "1 file, modified %Y-%m-%dT%H:%M:%SZ", &tm);
			*built_out = st.st_mtime > 0 ? st.st_mtime : 0;
		}
		return;
	}
	/* Official databases carry a version and a build time in their header. */
	while ((de = readdir(d)) != NULL) {
		const char *ext = db_ext(de->d_name);
		struct cl_cvd *cvd;
		int n;
		if (strcmp(ext, "cvd") != 0 && strcmp(ext, "cld") != 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if ((cvd = cl_cvdhead(file)) == NULL)
			continue;
		time_t built = (time_t)cvd->stime;
		char when[32] = "?";
		if (built > *built_out)
			*built_out = built;
		if (gmtime_r(&built, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d", &tm);
		n = snprintf(out + off, len - off, "%s%.*s %u (%s)", off ? ", " : "",
		    (int)(ext - 1 - de->d_name), de->d_name, cvd->version, when);
		if (n > 0)
			off = off + (size_t)n < len ? off + (size_t)n : len - 1;
		cl_cvdfree(cvd);
	}
	if (off > 0) {
		closedir(d);
		return;
	}
	/* Local signature files: how many, and the newest change. */
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (db_ext(de->d_name)[0] == '\0' || fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		files++;
		if (st.st_mtime > newest)
			newest = st.st_mtime;
	}
	closedir(d);
	if (gmtime_r(&newest, &tm) != NULL) {
		char when[32];
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(out, len, "%u local files, newest %s", files, when);
		*built_out = newest > 0 ? newest : 0;
	}
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One file into the print: its name, its size, its bytes. */
static int print_file(void *h, int dfd, const char *name)
{
	static unsigned char buf[1 << 16];
	uint64_t size = 0;
	ssize_t n;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	cl_update_hash(h, name, strlen(name) + 1);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		cl_update_hash(h, buf, (size_t)n);
		size += (uint64_t)n;
	}
	close(fd);
	cl_update_hash(h, &size, sizeof(size));
	return n < 0 ? -1 : 0;
}

int scan_db_print(const char *path, unsigned char out[32])
{
	char *names[4096];
	size_t n = 0;
	struct dirent *de;
	struct stat st;
	void *h;
	int rc = 0;
	DIR *d;

	if ((h = cl_hash_init("sha256")) == NULL)
		return -1;
	if ((d = opendir(path)) == NULL) {
		rc = print_file(h, AT_FDCWD, path);  /* one file */
	} else {
		while ((de = readdir(d)) != NULL && n < sizeof(names) / sizeof(names[0])) {
			if (db_ext(de->d_name)[0] == '\0' || fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			if ((names[n] = strdup(de->d_name)) == NULL) {
				rc = -1;
				break;
			}
			n++;
		}
		if (de != NULL && rc == 0)
			rc = -1;  /* more files than we sort: no print rather than a partial one */
		qsort(names, n, sizeof(names[0]), cmp_names);
		for (size_t i = 0; i < n; i++) {
			if (rc == 0 && print_file(h, dirfd(d), names[i]) < 0)
				rc = -1;
			free(names[i]);
		}
		closedir(d);
	}
	cl_finish_hash(h, out);  /* frees h */
	return rc;
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
	static const struct { const char *prefix; int32_t code; } t[] = {
		{ "Heuristics.Limits.Exceeded.MaxRecursion", CL_EMAXREC },
		{ "Heuristics.Limits.Exceeded.MaxFiles", CL_EMAXFILES },
		{ "Heuristics.Limits.Exceeded.MaxScanTime", CL_ETIMEOUT },
		{ "Heuristics.Limits.Exceeded", CL_EMAXSIZE },
		{ "Heuristics.Encrypted", IPC_DEC_ENCRYPTED_CONTAINER },
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
	scan_buffer_flags(engine, data, len, 0, r);
}

void scan_buffer_flags(const struct cl_engine *engine, const void *data, size_t len, uint32_t flags,
    struct ipc_result *r)
{
	struct cl_scan_options opts;
	const char *virname = NULL;
	unsigned long scanned = 0;
	struct scan_layers layers;
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
	if (flags & IPC_JOB_ALLMATCH)
		opts.general |= CL_SCAN_GENERAL_ALLMATCHES;
	scan_layers_begin(&layers, engine, (flags & IPC_JOB_ALLMATCH) != 0);
	rc = cl_scanmap_callback(map, "stream", &virname, &scanned, engine, &opts, &layers);
	cl_fmap_close(map);
	scan_classify(rc, virname, scanned, r);
	scan_layers_end(&layers, r);
}
