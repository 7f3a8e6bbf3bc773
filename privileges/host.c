/*
 * privileges/host.c: the scanner host's containment. Steps 1 (from the
 * inside) and 2 right after exec, before it reads a single signature; step
 * 3 once the database is compiled.
 *
 * Order matters: descriptors and limits first, then namespaces (they grant
 * the capabilities inside the new user namespace that mounting the tmpfs
 * needs), then the tmpfs, then every capability is dropped, then
 * no_new_privs and non-dumpable. Landlock comes last, when no file outside
 * the temp dir will ever be needed again.
 */
#define _GNU_SOURCE
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../platform/plat.h"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = plat_write_all(fd, text, strlen(text));
	close(fd);
	return rc;
}

int priv_enter_namespaces(int *pidns)
{
	/*
	 * A user namespace lets an unprivileged host create the others; inside
	 * it the host keeps its own uid (mapped to itself), so files it creates
	 * on the tmpfs are still owned by the configured user outside.
	 */
	const int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;

	*pidns = 1;
	if (unshare(flags | CLONE_NEWPID) == 0)
		return 0;
	/* Pid namespaces can be capped (user.max_pid_namespaces) apart from
	 * the rest: without one, the others still count. */
	*pidns = 0;
	if (unshare(flags) < 0)
		return -errno;
	return 0;
}

int priv_map_ids(uid_t uid, gid_t gid)
{
	char map[64];
	int rc;

	if ((rc = write_file("/proc/self/setgroups", "deny")) < 0)
		return rc;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if ((rc = write_file("/proc/self/uid_map", map)) < 0)
		return rc;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	if ((rc = write_file("/proc/self/gid_map", map)) < 0)
		return rc;
	/* Nothing we mount may propagate back to the host system. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	return 0;
}

int priv_mount_tmpfs(const char *dir, uint64_t size)
{
	char opts[64];

	snprintf(opts, sizeof(opts), "size=%" PRIu64 ",mode=0700", size);
	if (mount("avwarden-tmp", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return -errno;
	return 0;
}

int priv_drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	/* Bounding set first (needs CAP_SETPCAP, which we are about to lose). */
	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) <= 0)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EPERM)
			return -errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	/* Verify rather than assume. */
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	for (int i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return -EPERM;
	return 0;
}

int priv_set_no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int priv_set_not_dumpable(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int priv_slot_dir(char *out, size_t len, const char *tmpdir, unsigned slot)
{
	int n = snprintf(out, len, PRIV_SLOT_DIR, tmpdir, slot);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* One temp dir per worker slot: its own tmpfs where the mount namespace
 * allows (size-limited, so one worker filling it starves no other), else
 * a 0700 directory. */
static int slot_dirs(const char *tmpdir, unsigned slots, uint64_t size, int mounts)
{
	char dir[300];
	int rc;

	for (unsigned k = 0; k < slots; k++) {
		if ((rc = priv_slot_dir(dir, sizeof(dir), tmpdir, k)) < 0)
			return rc;
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		if (mounts && (rc = priv_mount_tmpfs(dir, size)) < 0)
			return rc;
	}
	return 0;
}

/* Without namespaces the tmpfs cannot be private: fall back to a 0700 dir. */
static int private_dir_fallback(char *tmpdir, size_t len)
{
	char tmpl[256];

	if (snprintf(tmpl, sizeof(tmpl), "%s/avwarden-scan.XXXXXX", tmpdir) >= (int)sizeof(tmpl))
		return -ENAMETOOLONG;
	if (mkdtemp(tmpl) == NULL)
		return -errno;
	if (strlen(tmpl) >= len)
		return -ENAMETOOLONG;
	strcpy(tmpdir, tmpl);
	return 0;
}

static int close_other_fds(const int *keep, size_t nkeep)
{
	return plat_close_fds_except(0, keep, nkeep);
}

static int die_with_parent(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -errno;
	return getppid() == 1 ? -ESRCH : 0;  /* the supervisor is already gone */
}

int priv_host_contain(struct priv_host_params *p, unsigned *missing, const char **step)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	int rc, pidns = 0;

	*missing = 0;
	PRIV_STEP("close descriptors", close_other_fds(p->keep, p->nkeep));
	PRIV_STEP("parent death signal", die_with_parent());
	PRIV_STEP("rlimits", priv_apply_limits(&p->limits));
	rc = priv_enter_namespaces(&pidns);
	if (rc == -EPERM || rc == -ENOSPC || rc == -EINVAL || rc == -EACCES) {
		/* The platform forbids unprivileged namespaces: say so, go on. */
		*missing |= PRIV_MISSING_NAMESPACES;
		PRIV_STEP("private temp dir", private_dir_fallback(p->tmpdir, p->tmpdir_len));
		PRIV_STEP("worker temp dirs", slot_dirs(p->tmpdir, p->slots, p->tmp_size, 0));
	} else {
		PRIV_STEP("namespaces", rc);
		PRIV_STEP("uid/gid map", priv_map_ids(uid, gid));
		if (pidns)
			PRIV_STEP("pid namespace", priv_pid_namespace_init());
		else
			*missing |= PRIV_MISSING_PIDNS;
		PRIV_STEP("tmpfs", priv_mount_tmpfs(p->tmpdir, p->tmp_size));
		PRIV_STEP("worker temp dirs", slot_dirs(p->tmpdir, p->slots, p->tmp_size, 1));
	}
	PRIV_STEP("drop capabilities", priv_drop_capabilities());
	PRIV_STEP("no_new_privs", priv_set_no_new_privs());
	PRIV_STEP("not dumpable", priv_set_not_dumpable());
	return 0;
}

static int landlock_or_missing(const char *tmpdir, unsigned *missing)
{
	int rc = priv_landlock_restrict(tmpdir);

	if (rc == -EOPNOTSUPP) {
		*missing |= PRIV_MISSING_LANDLOCK;
		return 0;
	}
	return rc;
}

int priv_host_lockdown(const char *tmpdir, void (*on_violation)(uint32_t sysno), unsigned *missing, const char **step)
{
	PRIV_STEP("landlock", landlock_or_missing(tmpdir, missing));
	PRIV_STEP("host seccomp", priv_host_seccomp(on_violation));
	return 0;
}
