/*
 * ipc/chan.c: a worker's channel (result block and violation record in a
 * memfd) and its data area (the current job, read-only to the worker).
 *
 * Must never trust a result before ipc_result_validate() passed on a copy.
 */
#define _GNU_SOURCE
#include "ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
	if (!ipc_printable_name(r->name, nlen)) {
		snprintf(err, errlen, "name has non-printable bytes");
		return -1;
	}
	/* More names: only for a detection, each one as the first. */
	if (r->nmore > IPC_MORE_MAX || (r->nmore > 0 && r->status != IPC_INFECTED)) {
		snprintf(err, errlen, "%u more names for status %s", r->nmore, ipc_status_name(r->status));
		return -1;
	}
	for (uint32_t i = 0; i < r->nmore; i++) {
		const char *m = memchr(r->more[i], '\0', sizeof(r->more[i]));
		if (m == NULL || m == r->more[i] || !ipc_printable_name(r->more[i], (size_t)(m - r->more[i]))) {
			snprintf(err, errlen, "name %u of the matches empty, unterminated or not printable", i + 2);
			return -1;
		}
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
