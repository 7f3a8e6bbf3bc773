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
};

#define IPC_STATUS_MIN IPC_CLEAN
#define IPC_STATUS_MAX IPC_ERROR

const char *ipc_status_name(enum ipc_status s);
/* libclamav's text for an engine code (cl_strerror), without linking it. */
const char *ipc_engine_strerror(int32_t code);

/* ---- control messages, supervisor <-> host ---- */

enum ipc_msg_type {
	IPC_MSG_START = 1,        /* sup -> host: limits applied, go ahead */
	IPC_MSG_READY,            /* host -> sup: database loaded; a = signatures */
	IPC_MSG_LOG,              /* host -> sup: a = level, text */
	IPC_MSG_FATAL,            /* host -> sup: text says why it is exiting */
	IPC_MSG_SPAWN,            /* sup -> host: fork worker id; fds: job socket, channel, data (read-only) */
	IPC_MSG_WORKER_UP,        /* host -> sup: worker id has pid */
	IPC_MSG_WORKER_EXIT,      /* host -> sup: worker id, pid, a = wait status */
};
#define IPC_MSG_TYPE_MAX IPC_MSG_WORKER_EXIT

struct ipc_msg {
	uint32_t type;
	uint32_t worker;
	int32_t pid;
	int32_t a;
	char text[IPC_TEXT_MAX];  /* NUL-terminated when used */
};

/* Sends msg with up to 3 fds. 0 or -errno. */
int ipc_msg_send(int sock, const struct ipc_msg *msg, const int *fds, size_t nfds);
/*
 * Receives one message and up to *nfds descriptors (set to how many came).
 * Returns 1 on a message, 0 on EOF, -EAGAIN when nothing is pending, -EBADMSG
 * for a malformed record (wrong size, unknown type, unterminated text, too
 * many fds: extra fds are closed), other -errno on failure.
 */
int ipc_msg_recv(int sock, struct ipc_msg *msg, int *fds, size_t *nfds);

/* ---- worker channel ---- */

struct ipc_result {
	uint64_t seq;
	uint32_t status;       /* enum ipc_status */
	int32_t engine_code;   /* cl_error_t of the scan */
	uint64_t scanned;      /* bytes libclamav reports scanned */
	uint64_t scan_ns;      /* time inside libclamav, for overhead stats only */
	char name[IPC_NAME_MAX];
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

/* Job announcement: supervisor -> worker, with the job memfd attached. */
struct ipc_job {
	uint64_t seq;
	uint64_t len;
};

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
 * Worker -> supervisor on the job socket, besides the 8-byte wake-up: one
 * of libclamav's own messages (warnings, errors) during a scan, for the
 * scanner log. The supervisor tells the two apart by size, caps how many it
 * takes per job, and cleans the text before logging it.
 */
#define IPC_WLOG_MAGIC 0x676f6c2d77766100ull  /* "\0avw-log" */
#define IPC_WLOG_TEXT 240
struct ipc_wlog {
	uint64_t magic;
	int32_t level;   /* enum ipc_log_level */
	uint32_t pad;
	char text[IPC_WLOG_TEXT];
};
enum ipc_log_level { IPC_LOG_INFO = 1, IPC_LOG_WARN = 2, IPC_LOG_ERROR = 3 };

/*
 * Checks magic, level and NUL termination, then makes the text safe for a
 * key="value" log field: control bytes, non-ASCII bytes, '"' and '\\'
 * become '?', a trailing newline is dropped. 0, or -1 with err set.
 */
int ipc_wlog_clean(struct ipc_wlog *l, char *err, size_t errlen);
/* The same cleaning for a NUL-terminated string of the host's. */
void ipc_text_clean(char *s);

#endif
