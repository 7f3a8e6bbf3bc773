/*
 * ipc/ipc.h: everything that crosses a process boundary inside avwarden.
 *
 *  - Control messages between the supervisor and a scanner host: fixed-size,
 *    typed records over a SOCK_SEQPACKET pair, descriptors passed with
 *    SCM_RIGHTS. A short, overlong or unknown record is an error.
 *  - A worker channel: a memfd-backed region holding the result block, a
 *    data area holding the current job (read-only to the worker), and a
 *    SOCK_SEQPACKET pair that carries job announcements one way and
 *    wake-ups the other. The supervisor polls its end.
 *  - Gather buffers: where the supervisor collects a message from its
 *    client before a worker is free; copied once into the data area.
 *
 * The supervisor treats every byte a worker writes as hostile: results are
 * copied out once and validated by ipc_result_validate() before use.
 */
#ifndef AVW_IPC_H
#define AVW_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The host finds its control socket here after exec (wrapper scripts keep it). */
#define IPC_HOST_FD 3

#define IPC_NAME_MAX 128  /* virus name, including the NUL */
#define IPC_MORE_MAX 15   /* ALLMATCHSCAN: names after the first, at most */
#define IPC_TEXT_MAX 512  /* log/fatal text in control messages */

enum ipc_status {
	IPC_CLEAN = 1,
	IPC_INFECTED = 2,
	IPC_UNSCANNABLE = 3,
	IPC_ERROR = 4,
};
/*
 * Engine codes for ERRORs the supervisor decides itself; libclamav's own
 * cl_error_t codes stay below 100.
 */
enum ipc_sup_code {
	IPC_CODE_CRASH = 100,       /* worker died by a signal or exited */
	IPC_CODE_TIMEOUT = 101,     /* supervisor's per-scan timer fired */
	IPC_CODE_VIOLATION = 102,   /* seccomp trap */
	IPC_CODE_UNAVAILABLE = 103, /* no scanner host (starting, failing, stopping) */
	IPC_CODE_QUEUE_FULL = 104,
	IPC_CODE_TOO_LARGE = 105,
	IPC_CODE_MALFORMED = 106,   /* worker wrote a result that failed validation */
	IPC_CODE_ENGINE_FAILED = 107, /* the engine reported an error mid-scan: not fully scanned */
};
/*
 * What the worker found the engine could not read, by the names Momentum's
 * documentation gives its decomposer and generic codes. The numbers are
 * avwarden's (Momentum documents none) and never change meaning.
 */
enum ipc_dec_code {
	IPC_DEC_MALFORMED_CONTAINER = 201,       /* DEC_RESULT_MALFORMED_CONTAINER_DETECTED */
	IPC_DEC_ENCRYPTED_CONTAINER = 202,       /* DEC_RESULT_ENCRYPTED_CONTAINER_DETECTED */
	IPC_DEC_FILE_EXTRACT_FAILED = 203,       /* DEC_RESULT_FILE_EXTRACT_FAILED */
	IPC_DEC_MAX_EXTRACT_SIZE = 204,          /* DEC_RESULT_MAXIMUM_EXTRACT_SIZE_EXCEEDED */
	IPC_DEC_MAX_CUMULATIVE_EXTRACT_SIZE = 205, /* DEC_RESULT_MAXIMUM_CUMULATIVE_EXTRACT_SIZE_EXCEEDED */
	IPC_DEC_MAX_FILES = 206,                 /* DEC_RESULT_MAXIMUM_FILES_EXTRACTED */
	IPC_DEC_FILE_SPLIT = 207,                /* DEC_RESULT_FILE_SPLIT_ACROSS_CONTAINERS */
	IPC_GEN_OUT_OF_MEMORY = 208,             /* GEN_RESULT_OUT_OF_MEMORY */
	IPC_DEC_PARTIAL_MESSAGE = 209,           /* DEC_RESULT_PARTIAL_MESSAGE_DETECTED */
	IPC_DEC_UNKNOWN_ALGORITHM = 210,         /* DEC_RESULT_CONTAINER_UNKNOWN_ALGORITHM */
	IPC_DEC_TEMPFILE_ACCESS_FAILED = 211,    /* DEC_RESULT_TEMPFILE_ACCESS_FAILED (temp space ran out) */
	IPC_DEC_FILE_ACCESS_FAILED = 212,        /* DEC_RESULT_FILE_ACCESS_FAILED (descriptors ran out) */
};

#define IPC_STATUS_MIN IPC_CLEAN
#define IPC_STATUS_MAX IPC_ERROR

const char *ipc_status_name(enum ipc_status s);
/* libclamav's text for an engine code (cl_strerror), without linking it. */
const char *ipc_engine_strerror(int32_t code);
/*
 * The name of an engine code (ipc/codes.c): Momentum's decomposer and
 * generic names for what the engine could not read or ran out of
 * ("DEC_RESULT_MALFORMED_CONTAINER_DETECTED", "GEN_RESULT_OUT_OF_MEMORY"),
 * libclamav's limits by the same names, avwarden's own causes as
 * "AVW_..."; "NONE" for 0. Never NULL.
 */
const char *ipc_code_name(int32_t code);

/* ---- control records, supervisor <-> host ---- */

/*
 * One typed record per SOCK_SEQPACKET datagram: a header and exactly the
 * payload its type has, nothing more or less. Each type has its own
 * validator, run by ipc_msg_recv() before the record is handed out, and a
 * direction: a receiver names the types it accepts and anything else is
 * malformed. Descriptors travel with SPAWN only (exactly three).
 */
enum ipc_msg_type {
	IPC_MSG_START = 1,        /* sup -> host: limits to apply, go ahead */
	IPC_MSG_READY,            /* host -> sup: database loaded */
	IPC_MSG_LOG,              /* host -> sup: one of libclamav's messages */
	IPC_MSG_FATAL,            /* host -> sup: why it is about to exit */
	IPC_MSG_SPAWN,            /* sup -> host: fork this worker; fds: job socket, channel, data (read-only) */
	IPC_MSG_WORKER_UP,        /* host -> sup: the worker runs as this pid */
	IPC_MSG_WORKER_EXIT,      /* host -> sup: the worker was reaped (or its fork failed) */
};
#define IPC_MSG_TYPE_MAX IPC_MSG_WORKER_EXIT
#define IPC_MSG_BIT(t) (1u << (t))
#define IPC_MSG_TO_HOST (IPC_MSG_BIT(IPC_MSG_START) | IPC_MSG_BIT(IPC_MSG_SPAWN))
#define IPC_MSG_TO_SUP (IPC_MSG_BIT(IPC_MSG_READY) | IPC_MSG_BIT(IPC_MSG_LOG) | \
	IPC_MSG_BIT(IPC_MSG_FATAL) | IPC_MSG_BIT(IPC_MSG_WORKER_UP) | IPC_MSG_BIT(IPC_MSG_WORKER_EXIT))
#define IPC_SPAWN_FDS 3

struct ipc_start {
	uint64_t nofile;          /* RLIMIT_NOFILE for the host and its workers, > 0 */
};

/* Layers the platform could not give (privileges/priv.h, PRIV_MISSING_*). */
#define IPC_MISSING_KNOWN 0x7u
struct ipc_ready {
	uint32_t signatures;      /* > 0 */
	uint32_t missing;         /* IPC_MISSING_KNOWN bits only */
	uint32_t engine_mb;       /* the engine's memory, shared copy-on-write through memfds */
	uint32_t huge_mb;         /* of it in 2 MB pages */
	char engine[32];          /* libclamav's version */
	char tmpdir[128];         /* the temp dir in use */
	char database[160];       /* versions and dates, as the host read them */
	int64_t database_built;   /* seconds since the epoch: the newest official file's
	                           * build time, else the newest signature file's change; 0: unknown */
	uint32_t have_print;      /* 1: database_print holds the signature set's fingerprint */
	unsigned char database_print[32];  /* scan_db_print, for the shared verdict cache */
};

enum ipc_log_level { IPC_LOG_INFO = 1, IPC_LOG_WARN = 2, IPC_LOG_ERROR = 3 };
struct ipc_log {
	int32_t level;            /* enum ipc_log_level */
	char text[IPC_TEXT_MAX];
};

struct ipc_fatal {
	char reason[IPC_TEXT_MAX];
	uint32_t sysno;           /* > 0: the host broke its seccomp filter with this syscall */
};

struct ipc_spawn {
	uint32_t worker;          /* the supervisor's id for it, > 0 */
	uint32_t slot;            /* which temp dir it gets (the host's --slots bounds it) */
};

struct ipc_worker_up {
	uint32_t worker;
	int32_t pid;              /* > 1 */
};

struct ipc_worker_exit {
	uint32_t worker;
	int32_t pid;              /* 0: the fork failed, reason says why */
	int32_t status;           /* wait status */
	char reason[160];
};

struct ipc_msg {
	uint32_t type;            /* enum ipc_msg_type */
	uint32_t len;             /* payload bytes: exactly the type's size */
	union {
		struct ipc_start start;
		struct ipc_ready ready;
		struct ipc_log log;
		struct ipc_fatal fatal;
		struct ipc_spawn spawn;
		struct ipc_worker_up up;
		struct ipc_worker_exit exit;
	} u;
};

/* The payload size of a type, 0 for an unknown one. */
size_t ipc_msg_payload_size(uint32_t type);
/* Sends a record of `type` whose payload is at `payload` (its type's size),
 * with up to IPC_SPAWN_FDS descriptors. 0 or -errno. */
int ipc_msg_send(int sock, uint32_t type, const void *payload, const int *fds, size_t nfds);
/*
 * Receives one record. `accept` is a mask of IPC_MSG_BIT()s. Returns 1 with
 * a validated record (texts NUL-terminated and cleaned for logs; for SPAWN,
 * exactly IPC_SPAWN_FDS descriptors in fds; for READY and WORKER_UP, a
 * pidfd in fds[0] or -1; unused slots -1), 0 on EOF, -EAGAIN when nothing
 * is pending, -EBADMSG for anything else (wrong size or type, a type not
 * accepted, a field out of range, unexpected descriptors, which are closed),
 * with a reason in err; other -errno on failure.
 */
int ipc_msg_recv(int sock, unsigned accept, struct ipc_msg *m, int fds[IPC_SPAWN_FDS],
    char *err, size_t errlen);

/* ---- worker channel ---- */

struct ipc_result {
	uint64_t seq;
	uint32_t status;       /* enum ipc_status */
	int32_t engine_code;   /* cl_error_t of the scan */
	uint64_t scanned;      /* bytes libclamav reports scanned */
	uint64_t scan_ns;      /* time inside libclamav, for overhead stats only */
	char name[IPC_NAME_MAX];
	/* IPC_JOB_ALLMATCH: the other signatures that matched, in order */
	uint32_t nmore;
	uint32_t pad;
	char more[IPC_MORE_MAX][IPC_NAME_MAX];
};

/* Written by a worker's SIGSYS handler just before it dies. */
struct ipc_violation {
	uint64_t seq;          /* job in progress, 0 if idle */
	uint32_t sysno;
	uint32_t arch;
};

#define IPC_CHAN_MAGIC 0x61767763u  /* "avwc" */
struct ipc_chan {
	uint32_t magic;
	uint32_t pad;
	struct ipc_result result;
	struct ipc_violation violation;
};
#define IPC_CHAN_SIZE 4096
_Static_assert(sizeof(struct ipc_chan) <= IPC_CHAN_SIZE, "the channel fits its memfd");

/* Job announcement: supervisor -> worker, with the job memfd attached. */
struct ipc_job {
	uint64_t seq;
	uint64_t len;
	uint32_t flags;        /* IPC_JOB_* */
	uint32_t pad;
};
/* Every signature that matches, not just the first (clamd's ALLMATCHSCAN). */
#define IPC_JOB_ALLMATCH 1u

/* Creates a channel memfd, sized and initialised; returns fd or -errno. */
int ipc_chan_create(void);
/* Maps a channel fd read/write (both sides); NULL on failure with errno. */
struct ipc_chan *ipc_chan_map(int fd);
void ipc_chan_unmap(struct ipc_chan *chan);

/* Checks a result copied out of a worker's channel. Returns 0, or -1 with a
 * short reason in err ("sequence 7, expected 9", "status 9 out of range"...). */
int ipc_result_validate(const struct ipc_result *r, uint64_t expect_seq, char *err, size_t errlen);

/* ---- job data ---- */

/*
 * A worker's data area: a memfd of max_message_size (sparse), mapped once
 * read/write by the supervisor and once read-only by the worker (through a
 * read-only descriptor, so the worker cannot make its mapping writable).
 * The supervisor copies each job in at dispatch: the one copy between the
 * client's socket and the scan.
 */
struct ipc_data {
	int fd;               /* read/write, supervisor side */
	unsigned char *base;
	size_t cap;
};

int ipc_data_create(struct ipc_data *d, size_t cap);
/* A read-only descriptor for the same memory, for the worker. fd or -errno. */
int ipc_data_ro_fd(const struct ipc_data *d);
/* Gives back the pages above `keep` bytes (after a large message). */
void ipc_data_trim(struct ipc_data *d, size_t keep, size_t used);
void ipc_data_free(struct ipc_data *d);

/*
 * Gather buffers: where a connection collects a message before it has a
 * worker. Anonymous memory from a small free list, so an ordinary mail
 * costs no mmap/munmap (which, with the TLB shootdowns they bring, were a
 * quarter of the supervisor's time per job); grown with mremap as needed
 * and cut back to IPC_GATHER_FIRST when returned.
 */
#define IPC_GATHER_FIRST (256u << 10)

struct ipc_gather {
	unsigned char *base;
	size_t mapped;
	size_t cap;           /* the most it may grow to */
};

int ipc_gather_get(struct ipc_gather *g, size_t cap);
/* Makes sure the first `need` bytes are mapped (base may move). 0 or -errno. */
int ipc_gather_reserve(struct ipc_gather *g, size_t need);
/* Returns it to the free list (or unmaps it); idempotent. */
void ipc_gather_put(struct ipc_gather *g);
/* All gathers handed out together may map at most this much; past it,
 * reserve() fails with -ENOBUFS (unless the buffer is the only one). */
void ipc_gather_set_budget(size_t bytes);
size_t ipc_gather_in_use(void);
/* Unmaps everything on the free list. */
void ipc_gather_drain(void);

int ipc_job_send(int sock, const struct ipc_job *job);
/* Worker side: 1 job, 0 EOF, -errno (-EBADMSG if descriptors came along). */
int ipc_job_recv(int sock, struct ipc_job *job);

/*
 * Worker -> supervisor on the job socket: tagged records, each exactly its
 * tag's size. DONE publishes the result of job `seq` in the channel; LOG
 * carries one of libclamav's messages during a scan, for the scanner log
 * (the supervisor caps how many it takes per job, and cleans the text).
 */
#define IPC_WLOG_TEXT 240
enum ipc_wrec_tag { IPC_W_DONE = 1, IPC_W_LOG = 2 };
struct ipc_wlog {
	int32_t level;   /* enum ipc_log_level */
	uint32_t pad;
	char text[IPC_WLOG_TEXT];
};
struct ipc_wrec {
	uint32_t tag;    /* enum ipc_wrec_tag */
	uint32_t pad;
	union {
		uint64_t done_seq;
		struct ipc_wlog log;
	} u;
};
/* Sends a DONE or LOG record (the size its tag has). 0 or -errno. */
int ipc_wrec_send(int sock, const struct ipc_wrec *r);
/* Supervisor side: 1 with a validated record (LOG text cleaned), 0 on EOF,
 * -EAGAIN, or -EBADMSG with a reason in err. */
int ipc_wrec_recv(int sock, struct ipc_wrec *r, char *err, size_t errlen);

/* 1 when len bytes at s are printable ASCII without spaces (a virus name). */
int ipc_printable_name(const char *s, size_t len);
/*
 * Makes a NUL-terminated string from a scanner safe for a key="value" log
 * field: control bytes, non-ASCII bytes, '"' and '\\' become '?', trailing
 * newlines and spaces are dropped. In place.
 */
void ipc_text_clean(char *s);

#endif
