/*
 * supervisor/sockets.h: the listening sockets. Binds them (as root, before
 * anything else runs), accepts, enforces allow= lists and max_connections,
 * and hands each accepted stream to a clamd session with what is known of
 * its peer. Never reads a byte.
 */
#ifndef AVW_SOCKETS_H
#define AVW_SOCKETS_H

#include <stddef.h>
#include <uv.h>

#include "addr.h"
#include "config.h"

/* A unix or TCP stream, seen as whichever libuv type the call needs. */
union sup_stream {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

/* What a session needs to know of the listener it came from. */
struct sup_listener_info {
	const char *name;          /* the listen entry */
	int is_unix;               /* can carry descriptors (FILDES) and credentials */
	int wire;                  /* streams arrive in SMTP wire form */
	int errors_close;          /* errors=close */
	int unscannable;           /* unscannable=, or -1 */
};

int sup_sockets_start(uv_loop_t *loop, const struct sup_config *cfg, char *err, size_t errlen);
/* Stops accepting (the sockets are closed and unix paths removed). */
void sup_sockets_stop(void);
void sup_sockets_free(void);

/* The directory a unix socket goes in exists (libuv says EACCES for a
 * missing one): 0, or -errno with err naming the directory and the fix. */
int sup_socket_dir_check(const char *path, char *err, size_t errlen);
/* A unix socket, bound and chmod'ed, refusing to steal a live one (also
 * for the control socket). 0 or -errno with err set. */
int sup_unix_listen(uv_loop_t *loop, uv_pipe_t *pipe, const char *path, int mode, char *err, size_t errlen);

#endif
