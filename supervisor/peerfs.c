/*
 * supervisor/peerfs.c: files named by clients (SCAN, CONTSCAN,
 * MULTISCAN, ALLMATCHSCAN), opened, listed and read with the client's
 * identity. Runs on libuv's thread pool (pathscan.c), never on the loop:
 * a file on a hung NFS or FUSE mount blocks one pool thread, not the
 * daemon. The filesystem uid is a per-thread attribute, so threads serving
 * different clients do not lend each other access.
 *
 * The supervisor runs as root; a client must not get a file scanned that it
 * could not read itself. So every open, stat and directory read here runs
 * with the filesystem uid and gid of the peer (SO_PEERCRED), which also
 * drops root's file capabilities for the duration, and the supervisor has
 * no supplementary groups (main.c) that could lend access. Supplementary
 * groups of the client are not used: access they alone would give is
 * refused (fail closed).
 */
#define _GNU_SOURCE
#include "peerfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "clamd.h"  /* SUP_INSTREAM_SLACK */

/* clamd's MaxDirectoryRecursion default. */
#define SCANPATH_MAX_DEPTH 15

/* setfsuid()/setfsgid() as raw syscalls: per thread, whatever libc does.
 * They return the previous id and report no error. */
static uid_t fsuid(uid_t uid)
{
	return (uid_t)syscall(SYS_setfsuid, uid);
}

static gid_t fsgid(gid_t gid)
{
	return (gid_t)syscall(SYS_setfsgid, gid);
}

static int become(uid_t uid, gid_t gid)
{
	if (gid == SUP_PEER_GID_OF_UID) {
		struct passwd pw, *pwp = NULL;
		char buf[4096];
		if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL)
			return -EACCES;  /* no account: nothing to open with */
		gid = pw.pw_gid;
	}
	if (geteuid() != 0)
		return uid == geteuid() ? 0 : -EPERM;
	fsgid(gid);
	fsuid(uid);
	/* Read both back. */
	if (fsuid((uid_t)-1) != uid || fsgid((gid_t)-1) != gid) {
		fsuid(0);
		fsgid(0);
		return -EPERM;
	}
	return 0;
}

static void unbecome(void)
{
	if (geteuid() == 0) {
		fsuid(0);
		fsgid(getegid());
	}
}

int sup_path_open(const struct sup_peer *peer, const char *path, int *fd, int *is_dir)
{
	struct stat st;
	int rc;

	if (path[0] != '/')
		return -ENOENT;  /* no working directory to be relative to */
	if ((rc = become(peer->uid, peer->gid)) < 0)
		return rc;
	/* O_NONBLOCK: a FIFO must not hang the loop; it is refused below. */
	*fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	rc = *fd < 0 ? -errno : 0;
	unbecome();
	if (rc < 0)
		return rc;
	if (fstat(*fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
		close(*fd);
		*fd = -1;
		return -EFTYPE_AVW;
	}
	*is_dir = S_ISDIR(st.st_mode);
	return 0;
}

static int add_file(struct sup_pathlist *pl, const char *path)
{
	char **n;

	if (pl->n == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 16;
		if ((n = realloc(pl->files, cap * sizeof(*n))) == NULL)
			return -ENOMEM;
		pl->files = n;
		pl->cap = cap;
	}
	if ((pl->files[pl->n] = strdup(path)) == NULL)
		return -ENOMEM;
	pl->n++;
	return 0;
}

/* Runs with the client's identity (the caller's become()). */
static int walk(struct sup_pathlist *pl, int dfd, const char *dpath, unsigned depth, size_t max)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		close(dfd);
		return -errno;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		int n;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n = snprintf(path, sizeof(path), "%s%s%s", dpath,
		    dpath[strlen(dpath) - 1] == '/' ? "" : "/", de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		/* Links inside a tree are not followed (clamd's default). */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			if (pl->n >= max) {
				rc = -E2BIG;
				break;
			}
			rc = add_file(pl, path);
		} else if (S_ISDIR(st.st_mode) && depth < SCANPATH_MAX_DEPTH) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				rc = walk(pl, sub, path, depth + 1, max);
			else
				/* Listed anyway: opening it again reports the error, so
				 * what could not be read is never silently left out. */
				rc = pl->n >= max ? -E2BIG : add_file(pl, path);
		}
	}
	closedir(d);
	return rc;
}

int sup_path_list(const struct sup_peer *peer, int dirfd_, const char *path, size_t max, struct sup_pathlist *pl)
{
	int rc, fd;

	memset(pl, 0, sizeof(*pl));
	if ((rc = become(peer->uid, peer->gid)) < 0)
		return rc;
	fd = dup(dirfd_);
	rc = fd < 0 ? -errno : walk(pl, fd, path, 1, max);
	unbecome();
	if (rc < 0 && rc != -E2BIG)
		sup_path_list_free(pl);
	return rc;
}

void sup_path_list_free(struct sup_pathlist *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->files[i]);
	free(pl->files);
	memset(pl, 0, sizeof(*pl));
}

int sup_fd_read_all(int fd, struct ipc_gather *g, size_t max, size_t *len)
{
	size_t off = 0;
	int rc;

	if ((rc = ipc_gather_get(g, max + SUP_INSTREAM_SLACK)) < 0)
		return rc;
	for (;;) {
		ssize_t n;
		size_t room;
		if (off == g->mapped && (rc = ipc_gather_reserve(g, off + (1u << 20) < g->cap ? off + (1u << 20) : g->cap)) < 0)
			return rc;
		room = g->mapped - off;
		if (room == 0)
			return -EFBIG;
		n = PLAT_RETRY(pread(fd, g->base + off, room, (off_t)off));
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		off += (size_t)n;
		if (off > max)
			return -EFBIG;
	}
	*len = off;
	return 0;
}
