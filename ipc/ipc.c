/*
 * ipc/ipc.c: control records, worker channels, sealed job buffers.
 *
 * Must never trust a length, enum or string that came from the other side.
 */
#define _GNU_SOURCE
#include "ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ipc_status_name(enum ipc_status s)
{
	switch (s) {
	case IPC_CLEAN: return "CLEAN";
	case IPC_INFECTED: return "INFECTED";
	case IPC_UNSCANNABLE: return "UNSCANNABLE";
	case IPC_ERROR: return "ERROR";
	}
	return "INVALID";
}

const char *ipc_engine_strerror(int32_t code)
{
	/* cl_error_t values and texts as libclamav 1.x defines them. */
	static const char *const text[] = {
		[0] = "No viruses detected",
		[1] = "Virus(es) detected",
		[2] = "Null argument passed to function",
		[3] = "Invalid argument passed to function",
		[4] = "Malformed database",
		[5] = "Broken or not a CVD file",
		[6] = "Can't verify database integrity",
		[7] = "Can't unpack some data",
		[8] = "Can't open file or directory",
		[9] = "Can't create new file",
		[10] = "Can't unlink file",
		[11] = "Can't get file status",
		[12] = "Can't read file",
		[13] = "Can't set file offset",
		[14] = "Can't write to file",
		[15] = "Can't duplicate file descriptor",
		[16] = "Can't access file",
		[17] = "Can't create temporary file",
		[18] = "Can't create temporary directory",
		[19] = "Can't map file into memory",
		[20] = "Can't allocate memory",
		[21] = "Exceeded time limit",
		[22] = "Unknown error code",
		[23] = "Exceeded max recursion depth",
		[24] = "Exceeded max scan size",
		[25] = "Exceeded max scan files",
		[26] = "Bad format or broken data",
		[27] = "Can't parse data",
		[28] = "Error during bytecode execution",
		[29] = "Failure in bytecode testmode",
		[30] = "Mutex lock failed",
		[31] = "Scanner still active",
		[32] = "Bad state (engine not initialized, or already initialized)",
		[33] = "The scanned object was verified and deemed trusted",
		[34] = "Unspecified error",
	};

	if (code >= 0 && (size_t)code < sizeof(text) / sizeof(text[0]) && text[code] != NULL)
		return text[code];
	return "Unknown error code";
}

static int send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > 2)
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
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* Receives one record; exactly `len` bytes or -EBADMSG. Closes surplus fds. */
static int recv_with_fds(int sock, void *buf, size_t len, int *fds, size_t *nfds, int flags)
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

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_TRUNC | flags);
	while (n < 0 && errno == EINTR);
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
	if (bad || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n != len) {
		for (size_t i = 0; i < got; i++)
			close(fds[i]);
		if (nfds)
			*nfds = 0;
		return -EBADMSG;
	}
	return 1;
}

int ipc_msg_send(int sock, const struct ipc_msg *msg, const int *fds, size_t nfds)
{
	return send_with_fds(sock, msg, sizeof(*msg), fds, nfds);
}

int ipc_msg_recv(int sock, struct ipc_msg *msg, int *fds, size_t *nfds)
{
	size_t zero = 0;
	int rc = recv_with_fds(sock, msg, sizeof(*msg), fds, nfds ? nfds : &zero, MSG_DONTWAIT);

	if (rc != 1)
		return rc;
	if (msg->type < 1 || msg->type > IPC_MSG_TYPE_MAX ||
	    memchr(msg->text, '\0', sizeof(msg->text)) == NULL) {
		for (size_t i = 0; nfds && i < *nfds; i++)
			close(fds[i]);
		if (nfds)
			*nfds = 0;
		return -EBADMSG;
	}
	return 1;
}

int ipc_chan_create(void)
{
	struct ipc_chan *c;
	int fd = memfd_create("avwarden-chan", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, IPC_CHAN_SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	c = ipc_chan_map(fd);
	if (c == NULL)
		goto fail;
	c->magic = IPC_CHAN_MAGIC;
	ipc_chan_unmap(c);
	return fd;
fail:;
	int err = errno;
	close(fd);
	return -err;
}

struct ipc_chan *ipc_chan_map(int fd)
{
	void *p = mmap(NULL, IPC_CHAN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

void ipc_chan_unmap(struct ipc_chan *chan)
{
	if (chan != NULL)
		munmap(chan, IPC_CHAN_SIZE);
}

static int printable_name(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

int ipc_result_validate(const struct ipc_result *r, uint64_t expect_seq, char *err, size_t errlen)
{
	const char *nul = memchr(r->name, '\0', sizeof(r->name));
	size_t nlen;

	if (r->seq != expect_seq) {
		snprintf(err, errlen, "sequence %llu, expected %llu",
		    (unsigned long long)r->seq, (unsigned long long)expect_seq);
		return -1;
	}
	if (r->status < IPC_STATUS_MIN || r->status > IPC_STATUS_MAX) {
		snprintf(err, errlen, "status %u out of range", r->status);
		return -1;
	}
	if (nul == NULL) {
		snprintf(err, errlen, "name not NUL-terminated");
		return -1;
	}
	nlen = (size_t)(nul - r->name);
	if (!printable_name(r->name, nlen)) {
		snprintf(err, errlen, "name has non-printable bytes");
		return -1;
	}
	/* Engine codes are small non-negative cl_error_t values. */
	if (r->engine_code < 0 || r->engine_code > 1000) {
		snprintf(err, errlen, "engine code %d out of range", r->engine_code);
		return -1;
	}
	switch (r->status) {
	case IPC_CLEAN:
		if (nlen != 0 || r->engine_code != 0) {
			snprintf(err, errlen, "CLEAN with a name or engine code");
			return -1;
		}
		break;
	case IPC_INFECTED:
	case IPC_UNSCANNABLE:
		if (nlen == 0) {
			snprintf(err, errlen, "%s without a name", ipc_status_name(r->status));
			return -1;
		}
		break;
	case IPC_ERROR:
		if (r->engine_code == 0) {
			snprintf(err, errlen, "ERROR without an engine code");
			return -1;
		}
		break;
	}
	return 0;
}

int ipc_jobbuf_create(struct ipc_jobbuf *jb, size_t cap)
{
	int fd = memfd_create("avwarden-job", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p;

	size_t first = cap < IPC_JOBBUF_FIRST_MAP ? cap : IPC_JOBBUF_FIRST_MAP;

	jb->fd = -1;
	jb->base = NULL;
	jb->mapped = 0;
	jb->cap = 0;
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)cap) < 0)
		goto fail;
	p = mmap(NULL, first, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	jb->fd = fd;
	jb->base = p;
	jb->mapped = first;
	jb->cap = cap;
	return 0;
fail:;
	int err = errno;
	close(fd);
	return -err;
}

int ipc_jobbuf_reserve(struct ipc_jobbuf *jb, size_t need)
{
	size_t want = jb->mapped;
	void *p;

	if (need <= jb->mapped)
		return 0;
	if (need > jb->cap || jb->base == NULL)
		return -EINVAL;
	while (want < need)
		want *= 2;  /* doubling: a 100 MB message costs ~9 remaps */
	if (want > jb->cap)
		want = jb->cap;
	p = mremap(jb->base, jb->mapped, want, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return -errno;
	jb->base = p;
	jb->mapped = want;
	return 0;
}

int ipc_jobbuf_seal(struct ipc_jobbuf *jb, size_t len)
{
	if (len > jb->cap)
		return -EINVAL;
	if (jb->base != NULL) {
		munmap(jb->base, jb->mapped);
		jb->base = NULL;
		jb->mapped = 0;
	}
	if (ftruncate(jb->fd, (off_t)len) < 0)
		return -errno;
	if (fcntl(jb->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return -errno;
	jb->cap = len;
	return 0;
}

void ipc_jobbuf_free(struct ipc_jobbuf *jb)
{
	if (jb->base != NULL)
		munmap(jb->base, jb->mapped);
	if (jb->fd >= 0)
		close(jb->fd);
	jb->base = NULL;
	jb->fd = -1;
	jb->mapped = 0;
	jb->cap = 0;
}

int ipc_job_send(int sock, const struct ipc_job *job, int memfd)
{
	return send_with_fds(sock, job, sizeof(*job), &memfd, 1);
}

int ipc_job_recv(int sock, struct ipc_job *job, int *memfd)
{
	size_t n = 1;
	int rc;

	rc = recv_with_fds(sock, job, sizeof(*job), memfd, &n, 0);
	if (rc == 1 && n != 1)
		return -EBADMSG;
	return rc;
}
