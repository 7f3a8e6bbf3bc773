/*
 * supervisor/sessint.h: the clamd session module's own header, shared by
 * conn.c (a connection's reply, timer and end), commands.c (what each
 * command does) and session.c (reading, the command loop). Nothing else
 * includes it.
 */
#ifndef AVW_SESSINT_H
#define AVW_SESSINT_H

#include <stdint.h>
#include <uv.h>

#include "../platform/plat.h"
#include "addr.h"
#include "clamd.h"
#include "pathscan.h"
#include "pool.h"
#include "reply.h"
#include "session.h"
#include "stats.h"

/*
 * After an error reply to a client that is still sending (size limit), we
 * half-close and discard its input for a moment instead of closing at once:
 * closing with unread data sends a reset that can destroy the reply.
 */
#define CONN_LINGER_MS 2000
/* A path scan's reply is written out whenever this much has collected. */
#define CONN_STREAM_CHUNK (64u << 10)
/* Descriptors a connection holds at most: a session may send its next
 * FILDES commands' descriptors while one scans. */
#define CONN_SESSION_FDS 16

enum conn_state {
	C_CMD,        /* reading a command */
	C_STREAM,     /* reading INSTREAM chunks */
	C_FILDES,     /* waiting for the descriptor */
	C_SCANNING,   /* the pool or pathscan.c has the request */
	C_REPLY,      /* writing the reply */
	C_LINGER,     /* discarding input after an error reply */
	C_CLOSING,
};

/* What follows the reply. */
enum conn_after { AFTER_CLOSE, AFTER_NEXT, AFTER_LINGER };

struct sup_conn {
	union sup_stream *h;
	enum conn_state state;
	enum conn_after after;
	struct sup_conn *prev, *next;
	int is_unix;
	int wire_listener;         /* the listener's `wire` */
	int errors_close;          /* the listener's errors=close */
	int unscannable;           /* its unscannable=, or unscannable_action */
	char listener[128];        /* its `listen` entry, for the log (the
	                            * listener may close before the connection) */
	uv_timer_t timer;          /* read timeouts, write timeout, linger */
	uv_shutdown_t sreq;
	int handles;               /* open uv handles: stream + timer */
	struct sup_reply reply;
	int have_peer;             /* unix socket: the client's credentials */
	struct sup_peer peer;
	/* the request being served */
	enum sup_cmd cmd;
	char delim;
	int wire;                  /* un-stuff SMTP wire form before scanning */
	int session;               /* IDSESSION: replies tagged "N: ", kept open */
	unsigned req_id;           /* this request's number in the session */
	unsigned next_id;
	uint64_t t_cmd;            /* when the command was read */
	size_t cmdlen;
	struct sup_instream is;
	struct sup_job job;
	int job_pending;           /* job is with the pool */
	struct sup_pathscan *ps;   /* a path scan or FILDES under way */
	/*
	 * Descriptors the client passed, taken from libuv as each read brings
	 * them, with the stream offsets [start, end) of that read: a FILDES's
	 * descriptor is the one that came in the read holding the byte after
	 * the command (the kernel ends a read after the first message that
	 * carries descriptors, so a read's descriptors are one sendmsg's).
	 */
	uint64_t rx;               /* bytes read from the client so far */
	struct conn_fd { uint64_t start, end; int fd; } fdq[CONN_SESSION_FDS];
	unsigned nfdq;
	char cmd_buf[SUP_CLAMD_CMD_MAX + 1];
};

struct sup_sessions {
	uv_loop_t *loop;
	const struct sup_config *cfg;
	const struct sup_session_ops *ops;
	struct sup_conn *conns;
	size_t active;
	uint64_t next_job_id;
	int stopping;
	void (*idle_cb)(void);
	/* session.c's, for conn.c: read again, and run commands already read */
	int (*read_start)(struct sup_conn *c);
	void (*next_command)(struct sup_conn *c);
};

extern struct sup_sessions sup_sessions;

/* conn.c */
void sup_conn_close(struct sup_conn *c);
/* The request is answered: everything collected goes out. */
void sup_conn_send(struct sup_conn *c);
void sup_conn_out_tag(struct sup_conn *c);
/* One reply line: the session tag, the text, the delimiter. */
void sup_conn_out_line(struct sup_conn *c, const char *fmt, ...) PLAT_PRINTF(2, 3);
/*
 * An error clamd never sends (avwarden's own: no scanner, a worker's crash
 * or timeout, memory, a size past a limit): on an errors=close listener the
 * connection is closed without a reply, which every client takes for a
 * failure, and 1 is returned; otherwise 0, and the caller replies.
 */
int sup_conn_own_error(struct sup_conn *c, const char *reply);
/* One line, then the reply goes out. */
void sup_conn_replyf(struct sup_conn *c, const char *fmt, ...) PLAT_PRINTF(2, 3);
void sup_conn_start_write_timer(struct sup_conn *c);
/* The reply's `written` callback. */
void sup_conn_written(void *ctx, int status);
/* The connection's one timer: what it means follows from the state. */
void sup_conn_arm_timer(struct sup_conn *c, uint64_t ms);

/* commands.c */
void sup_cmd_run(struct sup_conn *c, const struct sup_cmd_req *req);
/* INSTREAM bytes; returns how many of p it consumed. */
size_t sup_cmd_stream_feed(struct sup_conn *c, const unsigned char *p, size_t n);
/* Takes the descriptors libuv holds into c->fdq, tagged with the read's
 * offsets [start, c->rx). */
void sup_cmd_collect_fds(struct sup_conn *c, uint64_t start);
/* Closes every descriptor the connection holds, or those whose read ended
 * at or before stream offset `upto` (their byte is gone: none can claim them). */
void sup_cmd_drop_fds(struct sup_conn *c);
void sup_cmd_prune_fds(struct sup_conn *c, uint64_t upto);
/* FILDES: the byte after the command has come (cmd_buf[0]): consumes it and
 * scans the one descriptor that came with it, or answers that none did. */
void sup_cmd_fildes_receive(struct sup_conn *c);

#endif
