/*
 * scanner/scan.h: the scanner host and its workers (avwarden-scanner).
 *
 * The host loads and compiles the database once, locks itself down, and
 * forks workers on the supervisor's request; workers scan jobs from shared
 * memory. Nothing in this process is trusted by the supervisor.
 */
#ifndef AVW_SCAN_H
#define AVW_SCAN_H

#include <clamav.h>
#include <stdint.h>

#include "../ipc/ipc.h"

/* Engine limits, as the supervisor's config sets them (0 = libclamav default). */
struct scan_limits {
	uint64_t max_scansize;
	uint64_t max_filesize;
	uint64_t max_recursion;
	uint64_t max_files;
	uint64_t max_scantime_ms;
	int no_cache;            /* libclamav's own clean-file cache off (workers: one job each) */
};

/* Loads and compiles the signatures at path (file or directory). NULL on
 * failure with a reason in err, which names the database as `display`. */
struct cl_engine *scan_engine_load(const char *path, const char *display, const char *tmpdir,
    const struct scan_limits *lim, unsigned *sigs, char *err, size_t errlen);

/*
 * clamd's default scan options (every parser, general heuristics), plus
 * the alerts that make the engine say when it could not scan everything
 * (limits exceeded, encrypted containers): avwarden fails closed.
 */
void scan_options_default(struct cl_scan_options *o);

/*
 * scanner/engmap.c: the engine laid out for cheap forks. _before() just
 * before the load, _apply() once it is compiled: the memory the load
 * created goes into sealed memfds mapped back MAP_PRIVATE, in 2 MB pages
 * where the kernel gives them. Both read /proc/self/maps: before Landlock.
 * 0 or -errno (then the host must not go on: a range may be half moved).
 */
int scan_engmap_before(void);
int scan_engmap_apply(uint64_t *bytes, uint64_t *huge);
/* One scan of a small clean mail, so the lazy start-up libclamav does on a
 * first scan is done once in the host, not in every fresh worker. */
void scan_engine_warm_up(const struct cl_engine *engine);

/* What a database is, for `avwardenctl version`: the official files'
 * versions and build dates ("main 62 (2021-09-16), daily 27500 (...)"), or
 * for local signatures their count and newest change. *built: the newest
 * of those times (0 if none is known). */
void scan_db_describe(const char *path, char *out, size_t len, time_t *built);
/* The signature set's fingerprint: SHA-256 over every signature file, in
 * name order (name, bytes, size), so nodes on the same database agree
 * whatever their file times. 0, or -1 if a file could not be read. */
int scan_db_print(const char *path, unsigned char out[32]);

/* Scans len bytes at data. Fills everything in r but seq. */
void scan_buffer(const struct cl_engine *engine, const void *data, size_t len, struct ipc_result *r);
/* The same with IPC_JOB_* flags (IPC_JOB_ALLMATCH: every signature that
 * matches, r->more after r->name). */
void scan_buffer_flags(const struct cl_engine *engine, const void *data, size_t len, uint32_t flags,
    struct ipc_result *r);

/* Maps a libclamav outcome onto avwarden's four results. */
void scan_classify(cl_error_t rc, const char *virname, unsigned long scanned, struct ipc_result *r);

/* The worker: runs after fork, never returns. tmpdir: its own temp dir.
 * data_fd: its data area, read-only. as_limit: RLIMIT_AS (0: none). */
void scan_worker_main(const struct cl_engine *engine, const char *tmpdir, pid_t host_pid, int null_fd, int job_sock, int chan_fd, int data_fd,
    uint64_t as_limit)
    __attribute__((noreturn));

#endif
