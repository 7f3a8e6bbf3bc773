/*
 * privileges/priv.h: the sandbox, as one list of named steps per process,
 * in the order ../shared/DESIGN.md fixes:
 *
 *   priv_spawn_plan       step 1, supervisor side: who the host runs as,
 *                         with which environment, descriptors and limits
 *   priv_host_contain     steps 1 (from the inside) and 2: the host, after
 *                         exec and before it reads a signature
 *   priv_host_lockdown    step 3: the host, after loading the database
 *   priv_worker_contain   step 4: a worker, after fork
 *
 * Each list stops at the first failing step, names it in *step and returns
 * -errno; the caller aborts the process, so a half-sandboxed scanner never
 * serves. A layer the platform lacks (unprivileged user namespaces off, no
 * Landlock) is reported in `missing`, logged once by the host, and never
 * silently treated as present. The single steps are exported for the tests.
 */
#ifndef AVW_PRIV_H
#define AVW_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ipc_violation;

/* ---- step 1: supervisor side, at spawn ---- */

struct priv_spawn_limits {
	uint64_t nofile;      /* RLIMIT_NOFILE for the host and its workers */
};

struct priv_spawn_plan {
	int setid;            /* switch to uid/gid (the supervisor runs as root) */
	uid_t uid;
	gid_t gid;
	char *const *env;     /* the whole environment the host gets */
	int nfds;             /* descriptors it keeps: stdin, stdout, stderr, control */
	struct priv_spawn_limits limits;  /* sent in START; the host applies them first */
};

/*
 * Step 1 as a list: the account exists, is not root (when we are), the
 * environment is PATH and LC_ALL only, only stdio and the control socket
 * (IPC_HOST_FD) are kept, RLIMIT_CORE 0 and RLIMIT_NOFILE for the limits.
 * When not started as root, setid is 0 and *unprivileged is set.
 */
int priv_spawn_plan(const char *user, struct priv_spawn_plan *plan, int *unprivileged, const char **step);

/* Resolves the configured account; -ENOENT when it does not exist. */
int priv_lookup_user(const char *name, uid_t *uid, gid_t *gid);
/* RLIMIT_CORE=0 and RLIMIT_NOFILE on the caller. */
int priv_apply_limits(const struct priv_spawn_limits *lim);

/* ---- steps 1 and 2: host, after exec, before loading ---- */

enum priv_missing {
	PRIV_MISSING_NAMESPACES = 1 << 0,  /* no user/mount/net/ipc/uts namespaces */
	PRIV_MISSING_LANDLOCK = 1 << 1,    /* kernel without Landlock */
	PRIV_MISSING_PIDNS = 1 << 2,       /* no pid namespace (the others are there) */
};

struct priv_host_params {
	const int *keep;          /* descriptors kept open (stdio, control, the database) */
	size_t nkeep;
	struct priv_spawn_limits limits;
	char *tmpdir;             /* where the private tmpfs goes; the path in use comes back */
	size_t tmpdir_len;
	uint64_t tmp_size;        /* of the host's tmpfs, and of each worker's */
	unsigned slots;           /* worker temp dirs to make: tmpdir/w0 .. w<slots-1> */
};

/*
 * In order: close every other descriptor, die with the supervisor, the
 * limits, namespaces (user, mount, net, ipc, uts), the uid/gid map, the
 * private size-limited tmpfs (or a fresh 0700 directory when namespaces are
 * missing), one tmpfs of its own per worker slot under it (PRIV_SLOT_DIR:
 * a worker that fills its temp space, or writes there, touches no other
 * worker's), drop every capability, no_new_privs, not dumpable.
 */
int priv_host_contain(struct priv_host_params *p, unsigned *missing, const char **step);

/* User, mount, net, ipc, uts and, where allowed, pid (*pidns set). */
int priv_enter_namespaces(int *pidns);
/*
 * After priv_enter_namespaces with a pid namespace and the id maps: forks;
 * the caller returns 0 in the child, pid 1 of the new namespace, which
 * goes on as the host; the parent stays behind as a relay that only waits
 * for it and exits as it did (privileges/pidns.c).
 */
int priv_pid_namespace_init(void);
/* Maps uid/gid to themselves in the new user namespace; private mounts. */
int priv_map_ids(uid_t uid, gid_t gid);
int priv_mount_tmpfs(const char *dir, uint64_t size);
/* A worker slot's temp dir, under the host's. */
#define PRIV_SLOT_DIR "%s/w%u"
int priv_slot_dir(char *out, size_t len, const char *tmpdir, unsigned slot);
int priv_drop_capabilities(void);
int priv_set_no_new_privs(void);
int priv_set_not_dumpable(void);

/* ---- step 3: host, after loading the database ---- */

/*
 * Landlock (read/write only under tmpdir), then the host's seccomp
 * allowlist: what forking workers and IPC need, plus everything a worker's
 * list allows (a worker's filter stacks on it). No new sockets, namespaces,
 * threads, executable memory, execve or ptrace. A syscall outside it calls
 * on_violation(sysno) from the SIGSYS handler (async-signal-safe code
 * only), and the host exits with status 159.
 */
int priv_host_lockdown(const char *tmpdir, void (*on_violation)(uint32_t sysno), unsigned *missing, const char **step);
int priv_host_seccomp(void (*on_violation)(uint32_t sysno));
/* Landlock alone: nothing outside tmpdir, no TCP, no signals or abstract
 * sockets outside the sandbox. -EOPNOTSUPP when the kernel lacks Landlock. */
int priv_landlock_restrict(const char *tmpdir);

/* ---- step 4: worker, after fork ---- */

struct priv_worker_params {
	pid_t host_pid;                 /* its parent, as getppid() names it */
	const char *tmpdir;             /* its own temp dir: the only path it may touch */
	int job_sock;                   /* the one descriptor kept besides stdio */
	int null_fd;                    /* /dev/null, opened by the host: becomes 0, 1 and 2 */
	struct ipc_violation *violation;  /* where the SIGSYS handler writes */
	uint64_t as_limit;              /* RLIMIT_AS, 0: none */
};

/*
 * In order: die with the host (and refuse to start if it is gone), stdio
 * to /dev/null (the host's stderr is the supervisor's log: a worker must
 * not write there), close every descriptor but those and the job socket,
 * RLIMIT_AS, a Landlock
 * layer of its own (only its temp dir, not its siblings'), the seccomp
 * allowlist.
 */
int priv_worker_contain(const struct priv_worker_params *p, const char **step);

/*
 * The worker's seccomp allowlist. A syscall outside it traps into a handler
 * that records the syscall number in `violation` (the worker's shared
 * channel) and then kills the process with SIGSYS through a kill-process
 * rule; a worker cannot install its own SIGSYS handler. job_sock is the
 * only socket the worker may sendmsg/recvmsg on.
 */
int priv_worker_seccomp(struct ipc_violation *violation, int job_sock);
/* The descriptor a worker's job socket is moved to, so the filter can be
 * compiled once for every worker. */
#define PRIV_WORKER_JOB_FD 3
/* In the host, once: compiles the worker filter for PRIV_WORKER_JOB_FD, so
 * priv_worker_seccomp() only loads it. 0, or -errno (then each worker
 * builds its own). */
int priv_worker_seccomp_prepare(int job_sock);
/* Sequence number recorded with a violation: the job being scanned. */
void priv_worker_set_job(uint64_t seq);

/* The syscall name for a number on this architecture, for log lines. */
const char *priv_syscall_name(uint32_t sysno, char *buf, size_t len);

/* Stops a list at the first failing step: sets *step and returns. */
#define PRIV_STEP(name, call) do {        \
		int rc_ = (call);         \
		if (rc_ < 0) {            \
			*step = (name);   \
			return rc_;       \
		}                         \
	} while (0)

#endif
