/*
 * supervisor/sockets.c: listeners, accept, allow lists and the connection
 * limit (see sockets.h).
 */
#define _GNU_SOURCE
#include "sockets.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "peertcp.h"
#include "session.h"
#include "stats.h"

/* Connections the kernel queues for us before accept(). */
#define SOCKETS_BACKLOG 128
/* A refused-connection warning at most this often. */
#define SOCKETS_REFUSE_LOG_NS 10000000000ull

struct sup_listener {
	union sup_stream h;
	struct sup_listen_spec spec;
	struct sup_listener_info info;
	char *name;
	char *unix_path;
};

static struct {
	uv_loop_t *loop;
	const struct sup_config *cfg;
	struct sup_listener *ls;
	size_t nls;
	int stopped;
} L;

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static union sup_stream *stream_new(const struct sup_listener *l)
{
	union sup_stream *h = calloc(1, sizeof(*h));
	int rc;

	if (h == NULL)
		return NULL;
	/* Unix connections can carry descriptors (FILDES): an IPC pipe. */
	rc = l->unix_path ? uv_pipe_init(L.loop, &h->pipe, 1) : uv_tcp_init(L.loop, &h->tcp);
	if (rc < 0) {
		free(h);
		return NULL;
	}
	return h;
}

static int peer_allowed(const struct sup_listener *l, const struct sockaddr_storage *ss)
{
	if (l->spec.nallow == 0)
		return 1;
	for (unsigned i = 0; i < l->spec.nallow; i++)
		if (sup_cidr_match(&l->spec.allow[i], (const struct sockaddr *)ss))
			return 1;
	return 0;
}

/* Over max_connections: take the connection off the queue and close it. */
static void refuse_connection(struct sup_listener *l, uv_stream_t *server)
{
	static uint64_t last_ns;
	union sup_stream *h;
	uint64_t now = plat_now_ns();

	sup_counters.refused_connections++;
	if (now - last_ns > SOCKETS_REFUSE_LOG_NS) {
		last_ns = now;
		log_warnx("connection_limit", "listen=%s max_connections=%u "
		    "action=\"new connections closed\" fix=\"raise max_connections, or look for a client that "
		    "opens connections without finishing them\"", l->name, L.cfg->max_connections);
	}
	if ((h = stream_new(l)) == NULL)
		return;
	(void)uv_accept(server, &h->stream);
	uv_close(&h->handle, free_handle);
}

/* A TCP client outside the allow= list: logged and closed. */
static int tcp_checked(struct sup_listener *l, union sup_stream *h)
{
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	char ip[64] = "?";

	memset(&ss, 0, sizeof(ss));
	(void)uv_tcp_nodelay(&h->tcp, 1);
	if (uv_tcp_getpeername(&h->tcp, (struct sockaddr *)&ss, &sl) == 0 && peer_allowed(l, &ss))
		return 0;
	if (ss.ss_family == AF_INET)
		(void)uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
	else if (ss.ss_family == AF_INET6)
		(void)uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
	sup_counters.refused_clients++;
	log_warnx("client_refused", "listen=%s client=%s reason=\"not in the listener's allow= list\"", l->name, ip);
	return -1;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct sup_listener *l = server->data;
	union sup_stream *h;
	struct sup_peer peer;
	int have_peer = 0, fd;

	if (status < 0) {
		log_warnx("accept", "listen=%s error=\"%s\"", l->name, uv_strerror(status));
		return;
	}
	if (sup_sessions_count() >= L.cfg->max_connections) {
		refuse_connection(l, server);
		return;
	}
	if ((h = stream_new(l)) == NULL) {
		log_errx("accept", "error=\"out of memory\"");
		return;
	}
	if (uv_accept(server, &h->stream) < 0) {
		uv_close(&h->handle, free_handle);
		return;
	}
	if (l->unix_path) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (uv_fileno(&h->handle, &fd) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof(cred)) {
			peer = (struct sup_peer){ cred.uid, cred.gid, cred.pid };
			have_peer = 1;
		}
	} else if (tcp_checked(l, h) < 0) {
		uv_close(&h->handle, free_handle);
		return;
	} else if (uv_fileno(&h->handle, &fd) == 0 && sup_tcp_peer_owner(fd, &peer) == 0) {
		have_peer = 1;  /* a loopback client: its socket's owner, for path scans */
	}
	sup_session_open(h, &l->info, have_peer ? &peer : NULL);
}

int sup_socket_dir_check(const char *path, char *err, size_t errlen)
{
	char dir[108];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (stat(dir, &st) < 0) {
		int e = errno;
		if (e == ENOENT)
			snprintf(err, errlen, "cannot create socket %s: its directory %s does not exist "
			    "(create it: install -d -m 0755 %s; under systemd, RuntimeDirectory= does)", path, dir, dir);
		else
			snprintf(err, errlen, "cannot create socket %s: directory %s: %s", path, dir, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot create socket %s: %s is not a directory", path, dir);
		return -ENOTDIR;
	}
	return 0;
}

int sup_unix_listen(uv_loop_t *loop, uv_pipe_t *pipe, const char *path, int mode, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int rc, fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; remove it or choose another path", path);
			return -EEXIST;
		}
		/* A live socket belongs to a running daemon: never steal it. */
		strcpy(sa.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			snprintf(err, errlen, "%s is in use by a running process (another avwarden or clamd?)", path);
			return -EADDRINUSE;
		}
		if (fd >= 0)
			close(fd);
		(void)unlink(path);
	}
	/* libuv reports a missing directory as EACCES: look for ourselves. */
	if ((rc = sup_socket_dir_check(path, err, errlen)) < 0)
		return rc;
	if ((rc = uv_pipe_init(loop, pipe, 0)) < 0 || (rc = uv_pipe_bind(pipe, path)) < 0) {
		snprintf(err, errlen, "cannot bind %s: %s (does its directory exist and is it writable?)",
		    path, uv_strerror(rc));
		return rc;
	}
	if (chmod(path, (mode_t)mode) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot chmod %s: %s", path, strerror(errno));
		return rc;
	}
	return 0;
}

/* owner= and group= of a unix listener, as ids (-1: unchanged). */
static int owner_ids(const struct sup_listen_spec *sp, const char *spec, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (sp->owner[0] != '\0') {
		struct passwd *pw = getpwnam(sp->owner);
		if (pw == NULL) {
			snprintf(err, errlen, "listen %s: no user %s", spec, sp->owner);
			return -ENOENT;
		}
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
	if (sp->group[0] != '\0') {
		struct group *gr = getgrnam(sp->group);
		if (gr == NULL) {
			snprintf(err, errlen, "listen %s: no group %s", spec, sp->group);
			return -ENOENT;
		}
		*gid = gr->gr_gid;
	}
	return 0;
}

static int bind_unix(struct sup_listener *l, const char *spec, char *err, size_t errlen)
{
	uid_t uid;
	gid_t gid;
	int rc;

	if ((rc = owner_ids(&l->spec, spec, &uid, &gid, err, errlen)) < 0)
		return rc;
	if ((l->unix_path = strdup(l->spec.path)) == NULL)
		return -ENOMEM;
	if ((rc = sup_unix_listen(L.loop, &l->h.pipe, l->unix_path, (int)l->spec.mode, err, errlen)) < 0)
		return rc;
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(l->unix_path, uid, gid) < 0) {
		rc = -errno;
		snprintf(err, errlen, "listen %s: cannot chown: %s", spec, strerror(errno));
		return rc;
	}
	return 0;
}

static int bind_tcp(struct sup_listener *l, const char *spec, char *err, size_t errlen)
{
	const struct sup_listen_spec *sp = &l->spec;
	struct sockaddr_storage ss;
	int v6 = strchr(sp->host, ':') != NULL, rc;

	rc = v6 ? uv_ip6_addr(sp->host, sp->port, (struct sockaddr_in6 *)&ss) :
	    uv_ip4_addr(sp->host, sp->port, (struct sockaddr_in *)&ss);
	if (rc < 0) {
		snprintf(err, errlen, "listen %s: not an IP address: %s", spec, sp->host);
		return rc;
	}
	if ((rc = uv_tcp_init(L.loop, &l->h.tcp)) < 0 ||
	    (rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, v6 ? UV_TCP_IPV6ONLY : 0)) < 0) {
		snprintf(err, errlen, "cannot bind %s: %s", spec, uv_strerror(rc));
		return rc;
	}
	return 0;
}

static int listen_one(struct sup_listener *l, const char *spec, char *err, size_t errlen)
{
	struct sup_listen_spec *sp = &l->spec;
	char why[256];
	int rc;

	if ((l->name = strdup(spec)) == NULL)
		return -ENOMEM;
	if (sup_listen_parse(spec, sp, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "listen %s: %s", spec, why);
		return -EINVAL;
	}
	rc = sp->is_unix ? bind_unix(l, spec, err, errlen) : bind_tcp(l, spec, err, errlen);
	if (rc < 0)
		return rc;
	l->info = (struct sup_listener_info){ .name = l->name, .is_unix = sp->is_unix, .wire = sp->wire,
		.errors_close = sp->errors_close, .unscannable = sp->unscannable };
	l->h.handle.data = l;
	if ((rc = uv_listen(&l->h.stream, SOCKETS_BACKLOG, on_connection)) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s (port or path already in use?)", spec, uv_strerror(rc));
		return rc;
	}
	log_info("listen", "address=%s", spec);
	if (!sp->is_unix && sp->nallow == 0 && strcmp(sp->host, "127.0.0.1") != 0 && strcmp(sp->host, "::1") != 0)
		log_warnx("listen_open", "address=%s reason=\"any host that reaches it can scan, "
		    "RELOAD and SHUTDOWN\" fix=\"add allow=NETWORK/BITS to the listen entry\"", spec);
	return 0;
}

int sup_sockets_start(uv_loop_t *loop, const struct sup_config *cfg, char *err, size_t errlen)
{
	L.loop = loop;
	L.cfg = cfg;
	ipc_gather_set_budget(cfg->max_message_memory);
	L.nls = cfg->nlisten;
	if ((L.ls = calloc(L.nls, sizeof(*L.ls))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < L.nls; i++) {
		int rc = listen_one(&L.ls[i], cfg->listen[i], err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void listener_closed(uv_handle_t *h)
{
	struct sup_listener *l = h->data;

	if (l->unix_path)
		(void)unlink(l->unix_path);
	free(l->unix_path);
	free(l->name);
	l->unix_path = NULL;
	l->name = NULL;
}

void sup_sockets_stop(void)
{
	L.stopped = 1;
	for (size_t i = 0; i < L.nls; i++)
		if (L.ls[i].name != NULL && !uv_is_closing(&L.ls[i].h.handle))
			uv_close(&L.ls[i].h.handle, listener_closed);
}

void sup_sockets_free(void)
{
	free(L.ls);
	L.ls = NULL;
}
