/*
 * supervisor/sup.h: the privileged supervisor (avwarden).
 *
 * It owns the sockets, config, queue, timers, logs and every decision; it
 * never parses message content with libclamav. Module split:
 *   config.c   the configuration file
 *   clamd.c    clamd wire protocol (pure)
 *   listen.c   client listeners and connections
 *   pool.c     scanner host generation, workers, job queue, dispatch
 *   control.c  avwardenctl's control socket
 *   main.c     entry point, signals, readiness, shutdown
 */
#ifndef AVW_SUP_H
#define AVW_SUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "clamd.h"

/* ---- config.c ---- */

struct sup_config {
	char **listen;
	size_t nlisten;
	char *control_socket;
	char *database;
	char *scanner_path;
	char *scanner_log;
	char *user;
	unsigned max_concurrency;
	unsigned max_queue;
	unsigned timeout;              /* seconds per scan, supervisor's timer */
	unsigned command_read_timeout; /* seconds to wait for a whole command */
	unsigned read_timeout;         /* seconds between reads of a stream */
	uint64_t max_message_size;     /* INSTREAM limit, bytes */
	uint64_t scanner_tmp_size;     /* size of the scanners' private tmpfs */
	uint64_t max_extract_size;     /* libclamav MaxFileSize */
	uint64_t max_cumulative_extract_size; /* MaxScanSize */
	unsigned max_extract_depth;    /* MaxRecursion */
	unsigned max_file_count;       /* MaxFiles */
	unsigned max_extract_time;     /* MaxScanTime, seconds */
	unsigned max_jobs_per_worker;  /* recycle a worker after this many (0: never) */
	uint64_t max_worker_memory;    /* RLIMIT_AS per worker, above the shared engine */
	unsigned poison_threshold;     /* faults before content is answered from memory */
	unsigned poison_ttl;           /* seconds it is remembered */
	unsigned cache_size;           /* verdict cache entries (0: no cache) */
	unsigned max_connections;      /* client connections open at once */
	uint64_t max_message_memory;   /* bytes of messages held at once, all clients */
	unsigned update_interval;      /* seconds between database checks (0: never) */
	unsigned control_socket_mode;  /* permission bits of control_socket */
	int syslog;                    /* copy the scanner log to syslog */
	int syslog_facility;           /* LOG_MAIL etc. */
};

/* One `listen` entry, with its options (see sup_listen_parse). */
struct sup_cidr {
	int family;               /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};
#define SUP_LISTEN_ALLOW_MAX 16
struct sup_listen_spec {
	int is_unix;
	char path[108];           /* unix */
	unsigned mode;            /* unix: socket permissions (0666) */
	char owner[64], group[64];
	char host[64];            /* tcp: IPv4, or IPv6 without brackets */
	int port;
	struct sup_cidr allow[SUP_LISTEN_ALLOW_MAX];  /* tcp: clients allowed (none: all) */
	unsigned nallow;
	int wire;                 /* streams arrive in SMTP wire form (use_wire_rep) */
};
/*
 * "unix:/path [mode=0660] [owner=USER] [group=GROUP] [wire]" or
 * "tcp:ADDRESS:PORT [allow=CIDR,CIDR...] [wire]". 0, or -1 with err.
 */
int sup_listen_parse(const char *s, struct sup_listen_spec *out, char *err, size_t errlen);
struct sockaddr;
int sup_cidr_match(const struct sup_cidr *c, const struct sockaddr *sa);

/*
 * Loads path into cfg. On failure returns -1 with "FILE:LINE: message" in
 * err (the key and the value in question named).
 */
int sup_config_load(const char *path, struct sup_config *cfg, char *err, size_t errlen);
void sup_config_free(struct sup_config *cfg);

/* ---- pool.c ---- */

struct sup_job;
typedef void (*sup_job_done_cb)(struct sup_job *job, const struct sup_verdict *v);

struct sup_job {
	struct ipc_gather buf;     /* the bytes, until a worker has them */
	size_t len;
	uint64_t id;               /* for logs */
	uint64_t t_submit;         /* ns */
	uint64_t t_dispatch;       /* ns, when a worker got it */
	sup_job_done_cb done;
	void *ctx;
	struct sup_job *next;      /* queue link */
	struct sup_worker *worker; /* while scanning */
	int have_hash;
	int blame;                 /* its content crashed or hung a worker */
	uint32_t cached;           /* answered from the cache of this generation */
	size_t tag;                /* the submitter's, e.g. which file of a MULTISCAN */
	unsigned char hash[32];    /* SHA-256 of the bytes, when needed */
	struct sup_verdict verdict; /* the answer, until it is handed over */
};

struct sup_stats {
	uint64_t scanned, clean, infected, unscannable, errors;
	uint64_t worker_crashes, timeouts, violations, host_restarts;
	uint64_t scan_ns_total;
	uint64_t rejected_queue_full;
	uint64_t poison_hits, retired;
	uint64_t cache_hits, reloads, reload_failures, engine_logs_dropped;
};

/* The serving generation and the pool, for stats and version. */
struct sup_pool_info {
	uint32_t generation;       /* 0: none serving */
	unsigned signatures;
	long loaded_at;            /* time_t */
	char engine[64];
	char database[160];        /* versions and dates, as the host read them */
	char last_reload[512];
	size_t queue_depth;
	unsigned busy, idle;
	size_t cache_entries;
	unsigned cache_size;
	int reloading;
};

struct sup_worker_info {
	uint32_t generation;
	int serving;
	uint32_t id;
	int pid;
	const char *state;
	uint64_t jobs;
	uint64_t rss;              /* bytes resident */
	double age_s;
};

/* ok: 1 when the new generation serves; msg says which, or why not. */
typedef void (*sup_reload_cb)(void *ctx, int ok, const char *msg);

int sup_pool_init(uv_loop_t *loop, const struct sup_config *cfg, void (*ready_cb)(void));
/* Takes the job; its done callback is called exactly once, always from the
 * loop (its check phase), never from inside this or any other pool call. */
void sup_pool_submit(struct sup_job *job);
/* Accepts no new jobs; lets queued and in-flight ones finish, then calls cb. */
void sup_pool_drain(void (*cb)(void));
/* Kills the host and workers, answers anything left, closes handles. */
void sup_pool_close(void);
void sup_pool_free(void);
/*
 * Loads the database into a new generation; it takes new jobs once its
 * workers are up, and the old one drains. While one loads, further requests
 * join it. cb (may be NULL) is called once, with the outcome.
 */
void sup_pool_reload(const char *why, sup_reload_cb cb, void *ctx);
const char *sup_pool_engine_version(void);
const struct sup_stats *sup_pool_stats(void);
void sup_pool_describe(struct sup_pool_info *info);
/* Every live worker of every generation; returns how many were written. */
size_t sup_pool_workers(struct sup_worker_info *out, size_t n);
/* Worker death to replacement serving, in ns: up to n samples, returns count. */
unsigned sup_pool_respawn_samples(uint64_t *out, unsigned n);
/* Per job, dispatch to answer minus the worker's time in libclamav, in ns
 * (the last 4096): what the sandboxing and IPC cost. */
unsigned sup_pool_overhead_samples(uint64_t *out, unsigned n);
unsigned sup_pool_busy(void);
unsigned sup_pool_idle(void);

/* ---- scanpath.c ---- */

struct sup_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};
/* Not a regular file or directory: clamd's "Not supported file type". */
#define EFTYPE_AVW 1001
struct sup_pathlist {
	char **files;
	size_t n, cap;
};
/* Opens path as the peer: fd of a regular file or directory, or -errno. */
int sup_path_open(const struct sup_peer *peer, const char *path, int *fd, int *is_dir);
/* Regular files under a directory, as the peer; at most max (then -E2BIG
 * with the list so far). No links followed, clamd's depth limit. */
int sup_path_list(const struct sup_peer *peer, int dirfd, const char *path, size_t max, struct sup_pathlist *pl);
void sup_path_list_free(struct sup_pathlist *pl);
/* Reads fd from offset 0 to EOF into a gather buffer: 0, -EFBIG past max. */
int sup_fd_read_all(int fd, struct ipc_gather *g, size_t max, size_t *len);

/* ---- listen.c ---- */

int sup_listen_start(uv_loop_t *loop, const struct sup_config *cfg, char *err, size_t errlen);
/* Stops accepting, closes connections without a job; idle_cb once none is left. */
void sup_listen_stop(void (*idle_cb)(void));
void sup_listen_free(void);
/* Connections still open (replies not yet written). */
size_t sup_listen_active(void);

/* ---- control.c ---- */

int sup_control_start(uv_loop_t *loop, const char *path, unsigned mode, char *err, size_t errlen);
void sup_control_stop(void);

/* ---- main.c ---- */

/* Begins a graceful shutdown (SIGTERM, SHUTDOWN, avwardenctl shutdown). */
void sup_shutdown(const char *why);
/* Reopens scanner_log (SIGHUP, avwardenctl reopen-logs). 0, or -1 with err. */
int sup_reopen_logs(char *err, size_t errlen);

/* Helpers shared by listen.c and control.c. */
int sup_unix_listen(uv_loop_t *loop, uv_pipe_t *pipe, const char *path, int mode, char *err, size_t errlen);

#endif
