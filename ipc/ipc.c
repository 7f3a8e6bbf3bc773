/*
 * ipc/ipc.c: control records, worker channels and data areas, gather buffers.
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

void ipc_text_clean(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			s[i] = '?';
	}
}

int ipc_wlog_clean(struct ipc_wlog *l, char *err, size_t errlen)
{
	if (l->magic != IPC_WLOG_MAGIC) {
		snprintf(err, errlen, "log record with a bad magic number");
		return -1;
	}
	if (l->level < IPC_LOG_INFO || l->level > IPC_LOG_ERROR) {
		snprintf(err, errlen, "log record with level %d out of range", l->level);
		return -1;
	}
	if (memchr(l->text, '\0', sizeof(l->text)) == NULL) {
		snprintf(err, errlen, "log record not NUL-terminated");
		return -1;
	}
	ipc_text_clean(l->text);
	return 0;
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

int ipc_data_create(struct ipc_data *d, size_t cap)
{
	int fd = memfd_create("avwarden-data", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p;

	d->fd = -1;
	d->base = NULL;
	d->cap = 0;
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)cap) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	d->fd = fd;
	d->base = p;
	d->cap = cap;
	return 0;
fail:;
	int err = errno;
	close(fd);
	return -err;
}

int ipc_data_ro_fd(const struct ipc_data *d)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", d->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void ipc_data_trim(struct ipc_data *d, size_t keep, size_t used)
{
	if (d->fd >= 0 && used > keep)
		(void)fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    (off_t)keep, (off_t)(used - keep));
}

void ipc_data_free(struct ipc_data *d)
{
	if (d->base != NULL)
		munmap(d->base, d->cap);
	if (d->fd >= 0)
		close(d->fd);
	d->base = NULL;
	d->fd = -1;
	d->cap = 0;
}

/* The free list: enough for every connection that usually gathers at once. */
#define GATHER_POOL 64
static unsigned char *gather_pool[GATHER_POOL];
static size_t gather_pooled;

static size_t gather_in_use;           /* bytes mapped by gathers handed out */
static size_t gather_budget = SIZE_MAX;

void ipc_gather_set_budget(size_t bytes)
{
	gather_budget = bytes;
}

size_t ipc_gather_in_use(void)
{
	return gather_in_use;
}

int ipc_gather_get(struct ipc_gather *g, size_t cap)
{
	void *p;

	g->cap = cap;
	if (gather_pooled > 0) {
		g->base = gather_pool[--gather_pooled];
		g->mapped = IPC_GATHER_FIRST;
		gather_in_use += g->mapped;
		return 0;
	}
	p = mmap(NULL, IPC_GATHER_FIRST, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		g->base = NULL;
		g->mapped = 0;
		return -errno;
	}
	g->base = p;
	g->mapped = IPC_GATHER_FIRST;
	gather_in_use += g->mapped;
	return 0;
}

int ipc_gather_reserve(struct ipc_gather *g, size_t need)
{
	size_t want = g->mapped;
	void *p;

	if (need <= g->mapped)
		return 0;
	if (need > g->cap || g->base == NULL)
		return -EINVAL;
	while (want < need)
		want *= 2;  /* doubling: a 100 MB message costs ~9 remaps */
	if (want > g->cap)
		want = (g->cap + 4095) & ~(size_t)4095;
	/* The budget covers all messages at once; one alone may always grow. */
	if (gather_in_use > g->mapped && gather_in_use + (want - g->mapped) > gather_budget)
		return -ENOBUFS;
	p = mremap(g->base, g->mapped, want, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return -errno;
	gather_in_use += want - g->mapped;
	g->base = p;
	g->mapped = want;
	return 0;
}

void ipc_gather_put(struct ipc_gather *g)
{
	if (g->base == NULL)
		return;
	gather_in_use -= g->mapped;
	if (g->mapped > IPC_GATHER_FIRST) {
		/* Give a large message's memory back now. */
		void *p = mremap(g->base, g->mapped, IPC_GATHER_FIRST, 0);
		if (p == MAP_FAILED) {
			munmap(g->base, g->mapped);
			g->base = NULL;
		}
	}
	if (g->base != NULL) {
		if (gather_pooled < GATHER_POOL)
			gather_pool[gather_pooled++] = g->base;
		else
			munmap(g->base, IPC_GATHER_FIRST);
	}
	g->base = NULL;
	g->mapped = 0;
}

void ipc_gather_drain(void)
{
	while (gather_pooled > 0)
		munmap(gather_pool[--gather_pooled], IPC_GATHER_FIRST);
}

int ipc_job_send(int sock, const struct ipc_job *job)
{
	return send_with_fds(sock, job, sizeof(*job), NULL, 0);
}

int ipc_job_recv(int sock, struct ipc_job *job)
{
	int fds[1];
	size_t n = 0;

	/* recv_with_fds closes any descriptor beyond n (zero) and says EBADMSG. */
	return recv_with_fds(sock, job, sizeof(*job), fds, &n, 0);
}
