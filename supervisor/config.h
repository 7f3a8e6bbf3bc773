/*
 * supervisor/config.h: the configuration file (Momentum-style `key = value`
 * lines), read once at start. Every error names the file, the line and the
 * key; a file that loads is consistent (cross-key rules checked).
 */
#ifndef AVW_CONFIG_H
#define AVW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct sup_config {
	char **listen;
	size_t nlisten;
	char *control_socket;
	char *metrics_listen;          /* "" or "tcp:ADDRESS:PORT [allow=...]" (metrics.h) */
	char *shared_cache;            /* "" or "redis://ADDRESS:PORT" (shared.h) */
	char *shared_cache_key_file;   /* the HMAC key every node shares */
	unsigned shared_cache_ttl;     /* seconds an entry lives in Redis */
	unsigned shared_cache_timeout_ms; /* a lookup given up after this */
	char *database;
	char *scanner_path;
	char *scanner_log;
	char *user;
	unsigned max_concurrency;
	unsigned max_queue;
	unsigned timeout;              /* seconds per scan, supervisor's timer */
	unsigned command_read_timeout; /* seconds to wait for a whole command */
	unsigned read_timeout;         /* seconds between reads of a stream */
	unsigned write_timeout;        /* seconds a reply may take to drain to its client */
	uint64_t max_message_size;     /* INSTREAM limit, bytes */
	uint64_t max_path_scan_size;   /* FILDES and path scans: largest file, bytes */
	uint64_t scanner_tmp_size;     /* size of the scanners' private tmpfs */
	uint64_t max_extract_size;     /* libclamav MaxFileSize */
	uint64_t max_cumulative_extract_size; /* MaxScanSize */
	unsigned max_extract_depth;    /* MaxRecursion */
	unsigned max_file_count;       /* MaxFiles */
	unsigned max_extract_time;     /* MaxScanTime, seconds */
	unsigned max_jobs_per_worker;  /* recycle a worker after this many (0: never); 1 by default */
	unsigned spare_workers;        /* forked ahead, idle, beyond max_concurrency */
	uint64_t max_worker_memory;    /* RLIMIT_AS per worker, above the shared engine */
	unsigned poison_threshold;     /* faults before content is answered from memory */
	unsigned poison_ttl;           /* seconds it is remembered */
	unsigned cache_size;           /* verdict cache entries (0: no cache) */
	unsigned max_connections;      /* client connections open at once */
	uint64_t max_message_memory;   /* bytes of messages held at once, all clients */
	unsigned update_interval;      /* seconds between database checks (0: never) */
	unsigned control_socket_mode;  /* permission bits of control_socket */
	int syslog;                    /* copy the scanner log to syslog */
	int ping_health;               /* PING fails while no scanner can serve */
	int canary;                    /* a new generation scans the canary set first */
	int syslog_facility;           /* LOG_MAIL etc. */
	int unscannable_action;        /* enum sup_unscannable, for listeners that set none */
	/* Lines that set these, for errors found after loading (0: the default) */
	int line_user, line_scanner_path, line_database, line_listen, line_control_socket;
};
/* The largest job a worker may get: its data area's size. */
static inline uint64_t sup_config_job_max(const struct sup_config *c)
{
	return c->max_message_size > c->max_path_scan_size ? c->max_message_size : c->max_path_scan_size;
}
/* "FILE:LINE" of a key's line, or "FILE (KEY not set: the default)", into buf. */
const char *sup_config_where(const char *path, int line, const char *key, char *buf, size_t len);

/*
 * Loads path into cfg. On failure returns -1 with "FILE:LINE: message" in
 * err (the key and the value in question named).
 */
int sup_config_load(const char *path, struct sup_config *cfg, char *err, size_t errlen);
void sup_config_free(struct sup_config *cfg);

#endif
