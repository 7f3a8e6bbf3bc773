/*
 * privileges/landlock.c: step 3. After the database is compiled the host
 * needs no file outside its temp dir ever again; Landlock makes that so for
 * the host and, by inheritance, every worker it forks.
 *
 * The ruleset handles every access right the running kernel knows, so a
 * right this code does not grant is denied rather than left unhandled.
 */
#define _GNU_SOURCE
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The ruleset attribute as of ABI 6; older kernels take a prefix of it. */
struct priv_ll_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* Access rights by the ABI that introduced them (kernel UAPI values). */
#define LL_FS_V1 ((1ULL << 13) - 1)      /* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER (1ULL << 13)         /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)      /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)     /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)      /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

#ifndef LANDLOCK_RULE_PATH_BENEATH
#define LANDLOCK_RULE_PATH_BENEATH 1
#endif

int priv_landlock_restrict(const char *tmpdir)
{
	struct priv_ll_attr attr;
	struct landlock_path_beneath_attr pb;
	size_t attr_size;
	long abi;
	int rs, dirfd, rc = 0;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return (errno == ENOSYS || errno == EOPNOTSUPP) ? -EOPNOTSUPP : -errno;

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LL_FS_V1;
	attr_size = sizeof(uint64_t);
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		attr_size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}

	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rs < 0)
		return -errno;
	/* Not O_PATH: the seccomp filters refuse O_PATH opens (Landlock does
	 * not check them), and a worker adds its own layer under them. */
	dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		goto out;
	}
	/* Everything under the temp dir except executing and device nodes. */
	pb.allowed_access = attr.handled_access_fs &
	    ~(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	      LANDLOCK_ACCESS_FS_MAKE_BLOCK | LL_FS_IOCTL_DEV);
	pb.parent_fd = dirfd;
	if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
		rc = -errno;
		goto out;
	}
	/* Landlock requires no_new_privs (set in step 2); set again, harmless. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		rc = -errno;
out:
	if (dirfd >= 0)
		close(dirfd);
	close(rs);
	return rc;
}
