/*
 * ipc/msg.c: the typed control records between the supervisor and a host,
 * and the tagged records a worker sends on its job socket.
 *
 * Must never hand out a record it has not checked against its type: size,
 * direction, every field's range, NUL-terminated texts.
 */
#define _GNU_SOURCE
#include "ipc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../platform/plat.h"

static int ipc_send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > 3)
		return -EINVAL;
	if (nfds > 0) {
		struct cmsghdr *c;
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	n = PLAT_RETRY(sendmsg(sock, &mh, MSG_NOSIGNAL));
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/*
 * Receives one datagram of at most `len` bytes into buf and up to *nfds
 * descriptors. Returns its size (> 0), 0 on EOF, -EAGAIN, -EMSGSIZE when it
 * was longer than len, -EBADMSG when it brought more descriptors than asked
 * (all closed either way), or -errno.
 */
static int ipc_recv_with_fds(int sock, void *buf, size_t len, int *fds, size_t *nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	size_t want = nfds ? *nfds : 0, got = 0;
	int bad = 0;
	ssize_t n;

	n = PLAT_RETRY(recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_TRUNC | flags));
	if (n < 0 && errno == ECONNRESET) {
		/* A peer that exits with our requests unread resets the socket:
		 * the error is reported once, before what it sent last (a fatal
		 * record, say), which is still queued and read now.  Nothing
		 * queued: the peer is gone, the end of the stream. */
		n = PLAT_RETRY(recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_TRUNC | flags | MSG_DONTWAIT));
		if (n < 0 && (errno == EWOULDBLOCK || errno == ECONNRESET))
			return 0;
	}
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < want)
				fds[got++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (nfds)
		*nfds = got;
	if (n == 0 && got == 0)
		return 0;
	if (bad || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n > len) {
		int e = (mh.msg_flags & MSG_TRUNC) || (size_t)n > len ? -EMSGSIZE : -EBADMSG;
		for (size_t i = 0; i < got; i++)
			close(fds[i]);
		if (nfds)
			*nfds = 0;
		return e;
	}
	return n > 0 ? (int)n : 1;
}

/* ---- control records ---- */

#define HDR_SIZE offsetof(struct ipc_msg, u)

size_t ipc_msg_payload_size(uint32_t type)
{
	switch (type) {
	case IPC_MSG_START: return sizeof(struct ipc_start);
	case IPC_MSG_READY: return sizeof(struct ipc_ready);
	case IPC_MSG_LOG: return sizeof(struct ipc_log);
	case IPC_MSG_FATAL: return sizeof(struct ipc_fatal);
	case IPC_MSG_SPAWN: return sizeof(struct ipc_spawn);
	case IPC_MSG_WORKER_UP: return sizeof(struct ipc_worker_up);
	case IPC_MSG_WORKER_EXIT: return sizeof(struct ipc_worker_exit);
	}
	return 0;
}

int ipc_msg_send(int sock, uint32_t type, const void *payload, const int *fds, size_t nfds)
{
	struct ipc_msg m;
	size_t n = ipc_msg_payload_size(type);

	if (n == 0 || nfds > IPC_SPAWN_FDS)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.len = (uint32_t)n;
	memcpy(&m.u, payload, n);
	return ipc_send_with_fds(sock, &m, HDR_SIZE + n, fds, nfds);
}

/* A text field: NUL-terminated within its array, then made log-safe. */
static int text_ok(char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		return 0;
	ipc_text_clean(s);
	return 1;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static int validate(struct ipc_msg *m, char *err, size_t errlen)
{
	switch (m->type) {
	case IPC_MSG_START:
		if (m->u.start.nofile == 0 || m->u.start.nofile > (1u << 20))
			BAD("START with nofile %llu", (unsigned long long)m->u.start.nofile);
		return 0;
	case IPC_MSG_READY: {
		struct ipc_ready *r = &m->u.ready;
		if (r->signatures == 0)
			BAD("READY without signatures");
		if (r->missing & ~IPC_MISSING_KNOWN)
			BAD("READY with unknown missing layers 0x%x", r->missing);
		if (!text_ok(r->engine, sizeof(r->engine)) || !text_ok(r->tmpdir, sizeof(r->tmpdir)) ||
		    !text_ok(r->database, sizeof(r->database)))
			BAD("READY with an unterminated text");
		if (r->have_print > 1)
			BAD("READY with have_print %u", r->have_print);
		if (r->database_built < 0)
			BAD("READY with a database built before 1970");
		return 0;
	}
	case IPC_MSG_LOG:
		if (m->u.log.level < IPC_LOG_INFO || m->u.log.level > IPC_LOG_ERROR)
			BAD("LOG with level %d", m->u.log.level);
		if (!text_ok(m->u.log.text, sizeof(m->u.log.text)))
			BAD("LOG with an unterminated text");
		return 0;
	case IPC_MSG_FATAL:
		if (!text_ok(m->u.fatal.reason, sizeof(m->u.fatal.reason)))
			BAD("FATAL with an unterminated reason");
		return 0;
	case IPC_MSG_SPAWN:
		if (m->u.spawn.worker == 0)
			BAD("SPAWN for worker 0");
		return 0;
	case IPC_MSG_WORKER_UP:
		if (m->u.up.worker == 0 || m->u.up.pid <= 1)
			BAD("WORKER_UP for worker %u, pid %d", m->u.up.worker, (int)m->u.up.pid);
		return 0;
	case IPC_MSG_WORKER_EXIT:
		if (m->u.exit.worker == 0 || m->u.exit.pid < 0 || m->u.exit.pid == 1)
			BAD("WORKER_EXIT for worker %u, pid %d", m->u.exit.worker, (int)m->u.exit.pid);
		if (!text_ok(m->u.exit.reason, sizeof(m->u.exit.reason)))
			BAD("WORKER_EXIT with an unterminated reason");
		return 0;
	}
	BAD("unknown type %u", m->type);
}

int ipc_msg_recv(int sock, unsigned accept, struct ipc_msg *m, int fds[IPC_SPAWN_FDS],
    char *err, size_t errlen)
{
	int got[IPC_SPAWN_FDS];
	size_t nfds = IPC_SPAWN_FDS, want;
	int n = ipc_recv_with_fds(sock, m, sizeof(*m), got, &nfds, MSG_DONTWAIT);

	if (n == 0 || n == -EAGAIN)
		return n;
	if (n == -EMSGSIZE || n == -EBADMSG) {
		snprintf(err, errlen, "%s", n == -EMSGSIZE ? "a record longer than any type" : "surplus descriptors");
		return -EBADMSG;
	}
	if (n < 0) {
		snprintf(err, errlen, "%s", strerror(-n));
		return n;
	}
	if ((size_t)n < HDR_SIZE) {
		snprintf(err, errlen, "%d-byte record, shorter than a header", n);
		goto bad;
	}
	if (m->type < 1 || m->type > IPC_MSG_TYPE_MAX || !(accept & IPC_MSG_BIT(m->type))) {
		snprintf(err, errlen, "record of type %u not expected here", m->type);
		goto bad;
	}
	want = ipc_msg_payload_size(m->type);
	if (m->len != want || (size_t)n != HDR_SIZE + want) {
		snprintf(err, errlen, "type %u record of %d bytes (length field %u), expected %zu",
		    m->type, n, m->len, HDR_SIZE + want);
		goto bad;
	}
	/* SPAWN carries the worker's three; READY and WORKER_UP may carry a
	 * pidfd (the host's, the worker's); nothing else carries any. */
	size_t lo = m->type == IPC_MSG_SPAWN ? IPC_SPAWN_FDS : 0;
	size_t hi = m->type == IPC_MSG_SPAWN ? IPC_SPAWN_FDS :
	    m->type == IPC_MSG_READY || m->type == IPC_MSG_WORKER_UP ? 1 : 0;
	if (nfds < lo || nfds > hi || (nfds > 0 && fds == NULL)) {
		snprintf(err, errlen, "type %u record with %zu descriptors", m->type, nfds);
		goto bad;
	}
	if (validate(m, err, errlen) < 0)
		goto bad;
	for (size_t i = 0; fds != NULL && i < IPC_SPAWN_FDS; i++)
		fds[i] = i < nfds ? got[i] : -1;
	return 1;
bad:
	for (size_t i = 0; i < nfds; i++)
		close(got[i]);
	return -EBADMSG;
}

/* ---- worker records ---- */

#define WREC_HDR offsetof(struct ipc_wrec, u)

static size_t wrec_size(uint32_t tag)
{
	return tag == IPC_W_DONE ? WREC_HDR + sizeof(uint64_t) :
	    tag == IPC_W_LOG ? WREC_HDR + sizeof(struct ipc_wlog) : 0;
}

int ipc_wrec_send(int sock, const struct ipc_wrec *r)
{
	size_t n = wrec_size(r->tag);
	ssize_t k;

	if (n == 0)
		return -EINVAL;
	k = PLAT_RETRY(send(sock, r, n, MSG_NOSIGNAL));
	if (k < 0)
		return -errno;
	return (size_t)k == n ? 0 : -EMSGSIZE;
}

int ipc_wrec_recv(int sock, struct ipc_wrec *r, char *err, size_t errlen)
{
	size_t nfds = 0;
	int n = ipc_recv_with_fds(sock, r, sizeof(*r), NULL, &nfds, MSG_DONTWAIT);

	if (n == 0 || n == -EAGAIN)
		return n;
	if (n < 0) {
		snprintf(err, errlen, "%s", n == -EMSGSIZE ? "a record longer than any tag" :
		    n == -EBADMSG ? "descriptors on the job socket" : strerror(-n));
		return -EBADMSG;
	}
	if ((size_t)n < WREC_HDR || wrec_size(r->tag) != (size_t)n) {
		snprintf(err, errlen, "%d-byte record with tag %u", n, (size_t)n >= WREC_HDR ? r->tag : 0);
		return -EBADMSG;
	}
	if (r->tag == IPC_W_LOG) {
		if (r->u.log.level < IPC_LOG_INFO || r->u.log.level > IPC_LOG_ERROR) {
			snprintf(err, errlen, "log record with level %d out of range", r->u.log.level);
			return -EBADMSG;
		}
		if (!text_ok(r->u.log.text, sizeof(r->u.log.text))) {
			snprintf(err, errlen, "log record not NUL-terminated");
			return -EBADMSG;
		}
	}
	return 1;
}

/* ---- jobs, supervisor -> worker ---- */

int ipc_job_send(int sock, const struct ipc_job *job)
{
	return ipc_send_with_fds(sock, job, sizeof(*job), NULL, 0);
}

int ipc_job_recv(int sock, struct ipc_job *job)
{
	size_t n = 0;
	/* Blocking: the worker has nothing else to do. Descriptors: -EBADMSG. */
	int rc = ipc_recv_with_fds(sock, job, sizeof(*job), NULL, &n, 0);

	if (rc == -EMSGSIZE || (rc > 0 && (size_t)rc != sizeof(*job)))
		return -EBADMSG;
	return rc > 0 ? 1 : rc;
}
