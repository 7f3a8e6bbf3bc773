/*
 * tests/fuzz_session.c: libFuzzer over whole clamd sessions. The real
 * session code (session.c, conn.c, commands.c, pathscan.c, reply.c,
 * clamd.c) on a real libuv loop, its clients at the other end of unix
 * socketpairs, and a fake pool (tests/fake_pool.c) the input drives too.
 *
 * An input is a program of one-byte operations with their arguments:
 *   open a client (unix or "tcp"), send bytes, send a descriptor with a
 *   byte, half-close, close, read what came back, run the loop a few turns,
 *   answer the oldest (or every) job with a chosen verdict, cancel nothing
 *   (the sessions do), stop the sessions (a shutdown).
 * After it, every client goes away and the loop runs until every session
 * and every thread-pool read is gone. Checked on every input: no crash or
 * undefined behaviour (ASan, UBSan), no leak (LSan), every job the sessions
 * submitted was answered or cancelled by them exactly once (fake_pool.c
 * asserts), and no descriptor is left open.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../supervisor/pathscan.h"
#include "../supervisor/session.h"
#include "../platform/plat.h"
#include "fake_pool.h"

#define CLIENTS 4

static uv_loop_t *loop;
static struct sup_config cfg;
static int shutdown_asked;
static int clients[CLIENTS];
static int base_fds;

static void on_shutdown(const char *why)
{
	(void)why;
	shutdown_asked = 1;
}

static const struct sup_session_ops ops = { .shutdown = on_shutdown };
static const struct sup_listener_info unix_info = { .name = "fuzz-unix", .is_unix = 1 };
static const struct sup_listener_info tcp_info = { .name = "fuzz-tcp", .is_unix = 0 };
static const struct sup_listener_info wire_info = { .name = "fuzz-wire", .is_unix = 1, .wire = 1 };

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		abort();
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void nothing(uv_work_t *w)
{
	(void)w;
}

static void setup(void)
{
	static uv_work_t w;

	signal(SIGPIPE, SIG_IGN);  /* as main.c: a client gone is an error, not a death */
	/* The scanner log's lines are not what is tested: quiet. */
	plat_log_init("fuzz_session", 0);
	loop = uv_default_loop();
	/* libuv opens its own descriptors lazily (epoll, the thread pool's
	 * wake-up): once, before the count every input is held to. */
	if (uv_queue_work(loop, &w, nothing, NULL) < 0)
		abort();
	(void)uv_run(loop, UV_RUN_DEFAULT);
	cfg.max_concurrency = 2;
	cfg.max_queue = 8;
	cfg.timeout = 60;
	cfg.command_read_timeout = 30;
	cfg.read_timeout = 30;
	cfg.write_timeout = 30;
	cfg.max_message_size = 1u << 16;
	cfg.max_message_memory = 1u << 20;
	cfg.ping_health = 1;
	ipc_gather_set_budget(cfg.max_message_memory);
	for (int i = 0; i < CLIENTS; i++)
		clients[i] = -1;
}



/* The input, read as a program: every read past the end gives 0. */
struct prog {
	const uint8_t *p;
	size_t n, at;
};

static unsigned next(struct prog *g)
{
	return g->at < g->n ? g->p[g->at++] : 0;
}

static void open_client(unsigned how)
{
	int sp[2], k;
	union sup_stream *h;
	struct sup_peer peer = { 65534, 65534, 1 };

	for (k = 0; k < CLIENTS && clients[k] >= 0; k++)
		;
	if (k == CLIENTS || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) < 0)
		return;
	if ((h = calloc(1, sizeof(*h))) == NULL || uv_pipe_init(loop, &h->pipe, 1) < 0 ||
	    uv_pipe_open(&h->pipe, sp[1]) < 0)
		abort();
	clients[k] = sp[0];
	switch (how % 3) {
	case 0: sup_session_open(h, &unix_info, &peer); break;
	case 1: sup_session_open(h, &tcp_info, NULL); break;
	default: sup_session_open(h, &wire_info, &peer); break;
	}
}

static void send_bytes(struct prog *g, int fd)
{
	size_t len = next(g) | (next(g) & 0x0f) << 8, avail = g->n - g->at;

	if (len > avail)
		len = avail;
	if (fd >= 0 && len > 0)
		(void)send(fd, g->p + g->at, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	g->at += len;
}

/* One byte with descriptors: a memfd holding input bytes, or two at once. */
static void send_fd(struct prog *g, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} u;
	unsigned what = next(g);
	int fds[2] = { memfd_create("fuzz", MFD_CLOEXEC), -1 };
	char byte = (char)next(g);
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf };
	size_t nfds = (what & 1) ? 2 : 1;

	if (fds[0] < 0)
		return;
	(void)write(fds[0], g->p + g->at, g->n - g->at < 64 ? g->n - g->at : 64);
	if (nfds == 2)
		fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	memset(&u, 0, sizeof(u));
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	if (fd >= 0)
		(void)sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

static void drain(int fd)
{
	char buf[4096];

	while (fd >= 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void close_client(int k)
{
	if (clients[k] >= 0)
		close(clients[k]);
	clients[k] = -1;
}

static void run_turns(unsigned n)
{
	for (unsigned i = 0; i <= n % 8; i++)
		(void)uv_run(loop, UV_RUN_NOWAIT);
}

/* Everyone leaves; the loop runs until nothing of theirs is left. */
static void finish(void)
{
	for (int k = 0; k < CLIENTS; k++)
		close_client(k);
	for (int i = 0; sup_sessions_count() > 0 || sup_pathscan_outstanding() > 0 || fake_pool_pending() > 0; i++) {
		fake_pool_answer_all(IPC_CLEAN);
		(void)uv_run(loop, sup_pathscan_outstanding() > 0 ? UV_RUN_ONCE : UV_RUN_NOWAIT);
		if (i > 100000)
			abort();  /* a session that never ends is a bug */
	}
	fake_pool_check_empty();
	/* Closing handles of this input run their callbacks. */
	(void)uv_run(loop, UV_RUN_NOWAIT);
	if (base_fds >= 0 && count_fds() != base_fds) {
		fprintf(stderr, "fuzz_session: %d descriptors open, %d at start\n", count_fds(), base_fds);
		if (getenv("FUZZ_SESSION_FDS") != NULL)
			(void)system("ls -l /proc/$PPID/fd >&2; true");
		abort();
	}
}

/* One ordinary session first, so what libuv opens once and for good
 * (its spare descriptor for EMFILE, ...) is counted in the baseline. */
static void warm_up(void)
{
	static const char ping[] = "zPING\0";

	sup_sessions_init(loop, &cfg, &ops);
	open_client(0);
	(void)send(clients[0], ping, sizeof(ping) - 1, MSG_NOSIGNAL);
	run_turns(7);
	base_fds = -1;
	finish();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prog g = { data, size, 0 };
	static int ready;

	if (!ready) {
		setup();
		warm_up();
		ready = 1;
	}
	/* Held to the count at its start: what the sanitizers open between
	 * inputs (LeakSanitizer's tracer) is not ours. */
	base_fds = count_fds();
	shutdown_asked = 0;
	sup_sessions_init(loop, &cfg, &ops);
	while (g.at < g.n && !shutdown_asked) {
		unsigned op = next(&g), arg = next(&g);
		int k = (int)(arg % CLIENTS);
		switch (op % 11) {
		case 0: open_client(arg); break;
		case 1: send_bytes(&g, clients[k]); break;
		case 2: send_fd(&g, clients[k]); break;
		case 3: if (clients[k] >= 0) (void)shutdown(clients[k], SHUT_WR); break;
		case 4: close_client(k); break;
		case 5: drain(clients[k]); break;
		case 6: run_turns(arg); break;
		case 7: fake_pool_answer_one(next(&g)); break;
		case 8: fake_pool_answer_all(next(&g)); break;
		case 9: fake_pool_set_health(arg & 1); break;
		default: sup_sessions_stop(NULL); shutdown_asked = 1; break;
		}
	}
	finish();
	return 0;
}
