/*
 * privileges/priv.h: the sandbox, one named step per function, in the order
 * ../shared/DESIGN.md fixes. Each step returns 0 or -errno; the callers
 * (priv_host_contain, priv_worker_contain) abort the process on the first
 * failure, so a half-sandboxed scanner never serves.
 *
 * A layer the platform lacks (unprivileged user namespaces disabled, no
 * Landlock) is reported through the `missing` out-parameters, logged once by
 * the host, and never silently treated as present.
 */
#ifndef AVW_PRIV_H
#define AVW_PRIV_H

#include <stdint.h>
#include <sys/types.h>

struct ipc_violation;

/* ---- step 1: supervisor side, at spawn ---- */

struct priv_spawn_limits {
	uint64_t nofile;      /* RLIMIT_NOFILE for the host and its workers */
};

/* Resolves the configured account; -ENOENT when it does not exist. */
int priv_lookup_user(const char *name, uid_t *uid, gid_t *gid);
/*
 * Applies RLIMIT_CORE=0 and RLIMIT_NOFILE to pid (0: the caller). The host
 * calls it on itself with the values the supervisor sends in START, first
 * thing after exec.
 */
int priv_spawn_limits(pid_t pid, const struct priv_spawn_limits *lim);

/* ---- step 2: host, after exec, before loading ---- */

enum priv_missing {
	PRIV_MISSING_NAMESPACES = 1 << 0,  /* no user/mount/net/ipc/uts namespaces */
	PRIV_MISSING_LANDLOCK = 1 << 1,    /* kernel without Landlock */
};

/*
 * Runs step 2 in order: namespaces (user, mount, net, ipc, uts), the private
 * size-limited tmpfs (mounted on tmpdir, or a fresh directory under it when
 * namespaces are missing; the path in use is written back), dropping every
 * capability, no_new_privs, not dumpable. Returns 0 or -errno naming the
 * failed step in *step.
 */
int priv_host_contain(char *tmpdir, size_t tmpdir_len, uint64_t tmp_size,
    unsigned *missing, const char **step);

int priv_enter_namespaces(void);
/* Maps uid/gid to themselves in the new user namespace; private mounts. */
int priv_map_ids(uid_t uid, gid_t gid);
int priv_mount_tmpfs(const char *dir, uint64_t size);
int priv_drop_capabilities(void);
int priv_set_no_new_privs(void);
int priv_set_not_dumpable(void);

/* ---- step 3: host, after loading the database ---- */

/* Landlock: read/write only under tmpdir; nothing else, no TCP. -EOPNOTSUPP
 * when the kernel lacks Landlock. */
int priv_landlock_restrict(const char *tmpdir);

/* ---- step 4: worker, after fork ---- */

/*
 * Loads the worker's seccomp allowlist. A syscall outside it traps into a
 * handler that records the syscall number in `violation` (the worker's
 * shared channel) and then kills the process with SIGSYS through a
 * kill-process rule; a worker cannot install its own SIGSYS handler.
 * job_sock is the only socket the worker may sendmsg/recvmsg on.
 */
int priv_worker_seccomp(struct ipc_violation *violation, int job_sock);
/* Sequence number recorded with a violation: the job being scanned. */
void priv_worker_set_job(uint64_t seq);

/* The syscall name for a number on this architecture, for log lines. */
const char *priv_syscall_name(uint32_t sysno, char *buf, size_t len);

#endif
