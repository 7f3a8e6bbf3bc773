/*
 * client/avwarden.c: libavwarden's handles and scans (API in avwarden.h).
 *
 * One connection per scan: connect, command, INSTREAM chunks, end marker,
 * one reply line, close. Every step runs on a non-blocking socket under one
 * deadline (poll), so a dead, stuck or slow daemon costs the caller at most
 * its timeout. This file must never raise SIGPIPE, touch global state, leave
 * a descriptor open, or call a scan anything but ERROR when it did not get
 * a whole, valid verdict for every byte it was given.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#define AVW_PUBLIC __attribute__((visibility("default")))

/* INSTREAM chunks are at most this long (clamd's StreamMaxLength applies to
 * the sum, not the chunk; 1 MiB keeps each write() large). */
#define CHUNK_MAX (1u << 20)
/* avw_scan_fd reads into a buffer of this size. */
#define FD_BUF (256u << 10)
/* A unix socket whose backlog is full is retried this often until the deadline. */
#define BACKLOG_RETRY_MS 5
/* After its reply line, how long a server that does not close may take to
 * (not) send more. avwarden and clamd close at once. */
#define AFTER_REPLY_MS 200

enum proto { PROTO_UNKNOWN, PROTO_AVW, PROTO_CLAMD };

struct avw_client {
	struct avw__addr addr;
	unsigned timeout_ms;
	int wire;
	enum proto proto;   /* learned from the first VERSIONCOMMANDS answer */
	char address[];     /* as given, for messages */
};

/* One scan's connection. */
struct conn {
	struct avw_client *c;
	int fd;
	uint64_t deadline;  /* CLOCK_MONOTONIC, ms */
	int early;          /* the server answered (or closed) while we were sending */
	int send_errno;     /* why sending stopped, when it did */
};

/* A scan's input: a buffer, or a descriptor to read to its end. */
struct source {
	const unsigned char *buf;
	size_t len;
	int fd;             /* -1 for a buffer */
	const char *name;   /* for messages: the path, or "fd N" */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Milliseconds left, for poll(); 0 once the deadline has passed. */
static int left_ms_until(uint64_t deadline)
{
	uint64_t now = now_ms();

	if (now >= deadline)
		return 0;
	return deadline - now > INT32_MAX ? INT32_MAX : (int)(deadline - now);
}

static int left_ms(const struct conn *k)
{
	return left_ms_until(k->deadline);
}

static const char *errtext(int err, char *buf, size_t len)
{
	return strerror_r(err, buf, len);  /* GNU: thread-safe, returns the text */
}

static void fail_timeout(struct conn *k, struct avw_result *r, const char *while_)
{
	if (while_ != NULL)
		avw__client_error(r, AVW_CODE_TIMEOUT, "timed out %s %s after %u ms", while_, k->c->address,
		    k->c->timeout_ms);
	else
		avw__client_error(r, AVW_CODE_TIMEOUT, "no answer from %s within %u ms", k->c->address,
		    k->c->timeout_ms);
}

/*
 * Waits for events on fd until deadline. Returns the revents, 0 on
 * timeout, -1 on a poll error (r filled).
 */
static int wait_until(int fd, short events, uint64_t deadline, struct avw_result *r)
{
	struct pollfd p = { .fd = fd, .events = events };
	char eb[128];

	for (;;) {
		int ms = left_ms_until(deadline), n;
		if (ms == 0)
			return 0;
		n = poll(&p, 1, ms);
		if (n > 0)
			return p.revents;
		if (n < 0 && errno != EINTR) {
			avw__client_error(r, AVW_CODE_UNAVAILABLE, "poll: %s", errtext(errno, eb, sizeof(eb)));
			return -1;
		}
	}
}

static int wait_fd(struct conn *k, int fd, short events, struct avw_result *r)
{
	return wait_until(fd, events, k->deadline, r);
}

static int dial(struct conn *k, struct avw_result *r)
{
	const struct avw__addr *a = &k->c->addr;
	char eb[128];
	int err = 0;

	k->fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (k->fd < 0) {
		err = errno;
		goto fail;
	}
	if (a->u.sa.sa_family != AF_UNIX) {
		int one = 1;  /* the 4-byte end marker must not wait for an ACK */
		(void)setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	for (;;) {
		if (connect(k->fd, &a->u.sa, a->len) == 0)
			return 0;
		err = errno;
		if (err == EAGAIN && a->u.sa.sa_family == AF_UNIX) {
			/* The listener's backlog is full: it may drain. */
			struct pollfd none = { .fd = -1 };
			int ms = left_ms(k);
			if (ms == 0)
				break;
			(void)poll(&none, 1, ms < BACKLOG_RETRY_MS ? ms : BACKLOG_RETRY_MS);
			continue;
		}
		if (err == EINPROGRESS || err == EINTR) {
			socklen_t sl = sizeof(err);
			int ev = wait_fd(k, k->fd, POLLOUT, r);
			if (ev < 0)
				goto closed;
			if (ev == 0)
				break;
			if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
				err = errno;
			if (err == 0)
				return 0;
		}
		goto fail;
	}
	close(k->fd);
	k->fd = -1;
	fail_timeout(k, r, "connecting to");
	return -1;
fail:
	avw__client_error(r, AVW_CODE_UNAVAILABLE, "cannot connect to %s: %s", k->c->address,
	    errtext(err, eb, sizeof(eb)));
closed:
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	return -1;
}

/*
 * Sends the iovecs whole. 0: sent, or the server answered early (k->early:
 * stop sending and read its answer); -1: timed out or failed (r filled).
 */
static int send_iov(struct conn *k, struct iovec *iov, int n, struct avw_result *r)
{
	while (n > 0 && !k->early) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w;
		/* An answer before the end (size limit, a refused command) stops us. */
		int ev = wait_fd(k, k->fd, POLLOUT | POLLIN, r);
		if (ev < 0)
			return -1;
		if (ev == 0) {
			fail_timeout(k, r, "sending to");
			return -1;
		}
		if (ev & (POLLIN | POLLHUP | POLLERR)) {
			k->early = 1;
			return 0;
		}
		w = sendmsg(k->fd, &m, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			k->send_errno = errno;  /* EPIPE, ECONNRESET: there may be an answer */
			k->early = 1;
			return 0;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int send_bytes(struct conn *k, const void *p, size_t len, struct avw_result *r)
{
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	return send_iov(k, &iov, 1, r);
}

/* One INSTREAM chunk: 4-byte big-endian length, then the bytes. */
static int send_chunk(struct conn *k, const unsigned char *p, size_t len, struct avw_result *r)
{
	uint32_t be = htonl((uint32_t)len);
	struct iovec iov[2] = { { .iov_base = &be, .iov_len = 4 }, { .iov_base = (void *)p, .iov_len = len } };

	if (len == 0)
		return 0;  /* a zero length would end the stream */
	return send_iov(k, iov, 2, r);
}

/*
 * Reads one reply into buf: up to the server's end of file, which avwarden
 * and clamd send right after the line, so that a second line is seen and
 * refused. A server that keeps the connection open gets AFTER_REPLY_MS after
 * its line. Returns the bytes read (the parser judges them), or -1 on
 * timeout or a read error before any line (r filled).
 */
static ssize_t read_reply(struct conn *k, char *buf, size_t cap, char delim, struct avw_result *r)
{
	uint64_t until = k->deadline;
	size_t got = 0;
	int have_line = 0;
	char eb[128];

	while (got < cap) {
		ssize_t n;
		int ev = wait_until(k->fd, POLLIN, until, r);
		if (ev < 0)
			return -1;
		if (ev == 0) {
			if (have_line)
				break;
			fail_timeout(k, r, NULL);
			return -1;
		}
		n = recv(k->fd, buf + got, cap - got, 0);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ECONNRESET)
				break;  /* it hung up; what it said before is still its reply */
			if (got == 0) {
				avw__client_error(r, AVW_CODE_UNAVAILABLE, "connection to %s lost: %s", k->c->address,
				    errtext(errno, eb, sizeof(eb)));
				return -1;
			}
			break;
		}
		if (!have_line && memchr(buf + got, delim, (size_t)n) != NULL) {
			uint64_t grace = now_ms() + AFTER_REPLY_MS;
			have_line = 1;
			if (grace < until)
				until = grace;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* After sending: reads and parses the reply. */
static enum avw_status finish(struct conn *k, struct avw_result *r)
{
	char buf[AVW__REPLY_MAX + 1], eb[128];
	ssize_t n = read_reply(k, buf, sizeof(buf), '\0', r);

	if (n < 0)
		return AVW_ERROR;
	if (n == 0) {
		if (k->send_errno != 0 && k->send_errno != EPIPE && k->send_errno != ECONNRESET)
			avw__client_error(r, AVW_CODE_UNAVAILABLE, "cannot send to %s: %s", k->c->address,
			    errtext(k->send_errno, eb, sizeof(eb)));
		else
			avw__client_error(r, AVW_CODE_UNAVAILABLE, "%s closed the connection without an answer",
			    k->c->address);
		return AVW_ERROR;
	}
	(void)avw__parse_reply(buf, (size_t)n, '\0', r);
	return r->status;
}

/* Asks the server once which commands it knows; remembered in the handle. */
static int probe(struct conn *k, struct avw_result *r)
{
	char buf[AVW__PROBE_MAX + 1];
	ssize_t n;
	int rc;

	if (dial(k, r) < 0)
		return -1;
	if (send_bytes(k, "zVERSIONCOMMANDS", 17, r) < 0)
		goto fail;
	n = read_reply(k, buf, sizeof(buf), '\0', r);
	if (n < 0)
		goto fail;
	rc = avw__probe_speaks_avw(buf, (size_t)n, '\0');
	if (rc < 0) {
		if (n == 0)
			avw__client_error(r, AVW_CODE_UNAVAILABLE, "%s closed the connection without an answer",
			    k->c->address);
		else
			avw__client_error(r, AVW_CODE_MALFORMED, "malformed reply: not an answer to VERSIONCOMMANDS");
		goto fail;
	}
	k->c->proto = rc == 1 ? PROTO_AVW : PROTO_CLAMD;
	close(k->fd);
	k->fd = -1;
	return 0;
fail:
	close(k->fd);
	k->fd = -1;
	return -1;
}

/*
 * Reads up to cap bytes of the source fd. It is polled first, so that a
 * stalled pipe (blocking or not) cannot outlive the deadline.
 */
static ssize_t read_source(struct conn *k, const struct source *s, unsigned char *buf, size_t cap,
    struct avw_result *r)
{
	char eb[128];

	for (;;) {
		ssize_t n;
		int ev = wait_fd(k, s->fd, POLLIN, r);
		if (ev < 0)
			return -1;
		if (ev == 0) {
			avw__client_error(r, AVW_CODE_TIMEOUT, "timed out reading %s after %u ms", s->name,
			    k->c->timeout_ms);
			return -1;
		}
		n = read(s->fd, buf, cap);
		if (n >= 0)
			return n;
		if (errno == EINTR || errno == EAGAIN)
			continue;
		avw__client_error(r, AVW_CODE_READ, "cannot read %s: %s", s->name, errtext(errno, eb, sizeof(eb)));
		return -1;
	}
}

/*
 * The bytes of the stream. With a plain clamd and wire form, they are
 * un-stuffed here (clamd would not), into `out` (CHUNK_MAX + 3 bytes).
 */
static int send_data(struct conn *k, const struct source *s, unsigned char *rbuf, unsigned char *out,
    struct avw_result *r)
{
	struct avw__unstuff u;
	size_t off = 0;

	avw__unstuff_init(&u);
	for (;;) {
		const unsigned char *p;
		ssize_t n;
		if (s->fd < 0) {
			n = (ssize_t)(s->len - off < CHUNK_MAX ? s->len - off : CHUNK_MAX);
			p = s->buf + off;
			off += (size_t)n;
		} else {
			n = read_source(k, s, rbuf, FD_BUF, r);
			if (n < 0)
				return -1;
			p = rbuf;
		}
		if (n == 0)
			break;
		if (out != NULL) {
			size_t w = avw__unstuff_feed(&u, p, (size_t)n, out);
			if (send_chunk(k, out, w, r) < 0)
				return -1;
		} else if (send_chunk(k, p, (size_t)n, r) < 0) {
			return -1;
		}
		if (k->early)
			return 0;
	}
	if (out != NULL && send_chunk(k, out, avw__unstuff_end(&u, out), r) < 0)
		return -1;
	return send_bytes(k, "\0\0\0\0", 4, r);
}

static enum avw_status scan(struct avw_client *c, const struct source *s, struct avw_result *r)
{
	struct conn k = { .c = c, .fd = -1, .deadline = now_ms() + c->timeout_ms };
	unsigned char *rbuf = NULL, *out = NULL;
	const char *cmd;
	size_t cmdlen;
	int rc;

	if (c->proto == PROTO_UNKNOWN && probe(&k, r) < 0)
		return r->status;
	if (c->proto == PROTO_AVW) {
		cmd = c->wire ? "zAVWINSTREAM WIRE" : "zAVWINSTREAM";
	} else {
		cmd = "zINSTREAM";
		if (c->wire && (out = malloc(CHUNK_MAX + 3)) == NULL) {
			avw__client_error(r, AVW_CODE_MEM, "out of memory");
			return AVW_ERROR;
		}
	}
	cmdlen = strlen(cmd) + 1;  /* with its '\0' */
	if (s->fd >= 0 && (rbuf = malloc(FD_BUF)) == NULL) {
		free(out);
		avw__client_error(r, AVW_CODE_MEM, "out of memory");
		return AVW_ERROR;
	}
	if (dial(&k, r) < 0) {
		rc = -1;
		goto done;
	}
	rc = send_bytes(&k, cmd, cmdlen, r);
	if (rc == 0 && !k.early)
		rc = send_data(&k, s, rbuf, out, r);
	if (rc == 0)
		finish(&k, r);
done:
	if (k.fd >= 0)
		close(k.fd);
	free(rbuf);
	free(out);
	return r->status;
}

/* ---- the API ---- */

AVW_PUBLIC struct avw_client *avw_client_new(const char *address, unsigned timeout_ms)
{
	struct avw__addr a;
	struct avw_client *c;
	size_t n;

	if (avw__parse_address(address, &a) < 0) {
		errno = EINVAL;
		return NULL;
	}
	n = strlen(address);
	c = calloc(1, sizeof(*c) + n + 1);
	if (c == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	c->addr = a;
	c->timeout_ms = timeout_ms != 0 ? timeout_ms : AVW_TIMEOUT_DEFAULT_MS;
	c->proto = PROTO_UNKNOWN;
	memcpy(c->address, address, n + 1);
	return c;
}

AVW_PUBLIC void avw_client_free(struct avw_client *c)
{
	free(c);
}

AVW_PUBLIC void avw_client_set_wire(struct avw_client *c, int on)
{
	if (c != NULL)
		c->wire = on != 0;
}

/* Every scan entry point fills a result, even for NULL arguments. */
static struct avw_result *result_or_scratch(struct avw_result *r, struct avw_result *scratch)
{
	r = r != NULL ? r : scratch;
	memset(r, 0, sizeof(*r));
	return r;
}

AVW_PUBLIC enum avw_status avw_scan_buffer(struct avw_client *c, const void *data, size_t len, struct avw_result *r)
{
	struct avw_result scratch;
	struct source s = { .buf = data, .len = len, .fd = -1, .name = "buffer" };

	r = result_or_scratch(r, &scratch);
	if (c == NULL || (data == NULL && len > 0)) {
		avw__client_error(r, AVW_CODE_NULLARG, "NULL %s", c == NULL ? "client" : "buffer");
		return AVW_ERROR;
	}
	return scan(c, &s, r);
}

AVW_PUBLIC enum avw_status avw_scan_fd(struct avw_client *c, int fd, struct avw_result *r)
{
	struct avw_result scratch;
	char name[32];
	struct source s = { .fd = fd, .name = name };

	r = result_or_scratch(r, &scratch);
	if (c == NULL) {
		avw__client_error(r, AVW_CODE_NULLARG, "NULL client");
		return AVW_ERROR;
	}
	if (fd < 0) {
		avw__client_error(r, AVW_CODE_ARG, "bad file descriptor %d", fd);
		return AVW_ERROR;
	}
	snprintf(name, sizeof(name), "fd %d", fd);
	return scan(c, &s, r);
}

static const char *file_type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	default: return "a special file";
	}
}

AVW_PUBLIC enum avw_status avw_scan_path(struct avw_client *c, const char *path, struct avw_result *r)
{
	struct avw_result scratch;
	struct stat st;
	struct source s = { .name = path };
	char eb[128];
	int err;

	r = result_or_scratch(r, &scratch);
	if (c == NULL || path == NULL) {
		avw__client_error(r, AVW_CODE_NULLARG, "NULL %s", c == NULL ? "client" : "path");
		return AVW_ERROR;
	}
	/* Look before opening: opening a device or a FIFO can have effects. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		avw__client_error(r, AVW_CODE_ARG, "cannot scan %s: %s, not a regular file", path,
		    file_type(st.st_mode));
		return AVW_ERROR;
	}
	s.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (s.fd < 0) {
		err = errno;
		avw__client_error(r, err == EACCES || err == EPERM ? AVW_CODE_ACCESS : AVW_CODE_OPEN,
		    "cannot open %s: %s", path, errtext(err, eb, sizeof(eb)));
		return AVW_ERROR;
	}
	/* It may have been replaced between stat and open. */
	if (fstat(s.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		avw__client_error(r, AVW_CODE_ARG, "cannot scan %s: not a regular file", path);
		close(s.fd);
		return AVW_ERROR;
	}
	scan(c, &s, r);
	close(s.fd);
	return r->status;
}

AVW_PUBLIC const char *avw_status_name(enum avw_status s)
{
	switch (s) {
	case AVW_CLEAN: return "CLEAN";
	case AVW_INFECTED: return "INFECTED";
	case AVW_UNSCANNABLE: return "UNSCANNABLE";
	case AVW_ERROR: return "ERROR";
	default: return "UNKNOWN";
	}
}
