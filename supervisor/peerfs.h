/*
 * supervisor/peerfs.h: opening, listing and reading files as the client
 * that named them (its uid and gid), never as root. Blocking calls: run
 * them on libuv's thread pool (pathscan.c does).
 */
#ifndef AVW_PEERFS_H
#define AVW_PEERFS_H

#include <stddef.h>
#include <sys/types.h>

#include "../ipc/ipc.h"

struct sup_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};
/* gid: the primary group of uid's account, looked up when a file is opened
 * (a loopback TCP client, whose socket tells its uid only); no account
 * opens nothing. */
#define SUP_PEER_GID_OF_UID ((gid_t)-1)

/* Not a regular file or directory: clamd's "Not supported file type". */
#define EFTYPE_AVW 1001

struct sup_pathlist {
	char **files;
	size_t n, cap;
};

/* Opens path as the peer: fd of a regular file or directory, or -errno. */
int sup_path_open(const struct sup_peer *peer, const char *path, int *fd, int *is_dir);
/* Regular files under a directory, as the peer; at most max (then -E2BIG
 * with the list so far). No links followed, clamd's depth limit. */
int sup_path_list(const struct sup_peer *peer, int dirfd, const char *path, size_t max, struct sup_pathlist *pl);
void sup_path_list_free(struct sup_pathlist *pl);
/* Reads fd from offset 0 to EOF into a gather buffer: 0, -EFBIG past max. */
int sup_fd_read_all(int fd, struct ipc_gather *g, size_t max, size_t *len);

#endif
