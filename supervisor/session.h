/*
 * supervisor/session.h: one client connection speaking the clamd protocol:
 * commands read and parsed (clamd.c), INSTREAM gathered, path commands and
 * FILDES handed to pathscan.c, replies through reply.c.
 *
 * Promises: a slow client holds only its own connection (bytes are
 * gathered before a worker is asked); every request gets one reply,
 * streamed and never cut short, or the connection is closed (clamd's own
 * rules); a client that goes away takes its scans with it (cancelled); a
 * session never calls back into main: shutdown goes through the ops it was
 * given.
 */
#ifndef AVW_SESSION_H
#define AVW_SESSION_H

#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "peerfs.h"
#include "sockets.h"

struct sup_session_ops {
	void (*shutdown)(const char *why);   /* the SHUTDOWN command */
};

void sup_sessions_init(uv_loop_t *loop, const struct sup_config *cfg, const struct sup_session_ops *ops);
/* Connections open now. */
size_t sup_sessions_count(void);
/*
 * Takes over an accepted stream (malloc'd; freed when the session ends).
 * peer: the client's credentials (unix sockets), or NULL.
 */
void sup_session_open(union sup_stream *h, const struct sup_listener_info *l, const struct sup_peer *peer);
/* Closes sessions without a request in progress; idle_cb (from the loop)
 * once none is left. New sessions are refused from now on. */
void sup_sessions_stop(void (*idle_cb)(void));

#endif
