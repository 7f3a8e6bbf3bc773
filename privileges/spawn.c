/*
 * privileges/spawn.c: step 1, decided by the supervisor for the host it
 * spawns. uv_spawn (supervisor/hostlink.c) carries out the plan: uid and
 * gid, the environment, descriptors 0-2 and IPC_HOST_FD only. The limits
 * travel in the START record and the host applies them to itself first
 * thing (libuv has no pre-exec hook, and prlimit() on a process of another
 * uid needs CAP_SYS_RESOURCE, which a container's root may not have).
 */
#define _GNU_SOURCE
#include "priv.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../ipc/ipc.h"

/* Descriptors a scanner may hold at once: its control socket, three per
 * worker being spawned, the database, libclamav's temp files. */
#define PRIV_HOST_NOFILE 1024

static char *const host_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", NULL };

int priv_lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);

	if (rc != 0)
		return -rc;
	if (res == NULL)
		return -ENOENT;
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

static int plan_user(const char *user, struct priv_spawn_plan *p, int *unprivileged)
{
	*unprivileged = geteuid() != 0;
	if (*unprivileged)
		return 0;  /* the scanners run as we do; the caller logs it */
	p->setid = 1;
	return priv_lookup_user(user, &p->uid, &p->gid);
}

static int plan_not_root(const struct priv_spawn_plan *p)
{
	return p->setid && p->uid == 0 ? -EPERM : 0;
}

static int plan_env(struct priv_spawn_plan *p)
{
	p->env = host_env;
	return 0;
}

static int plan_fds(struct priv_spawn_plan *p)
{
	p->nfds = IPC_HOST_FD + 1;
	return 0;
}

static int plan_limits(struct priv_spawn_plan *p)
{
	p->limits.nofile = PRIV_HOST_NOFILE;
	return 0;
}

int priv_spawn_plan(const char *user, struct priv_spawn_plan *plan, int *unprivileged, const char **step)
{
	memset(plan, 0, sizeof(*plan));
	PRIV_STEP("user", plan_user(user, plan, unprivileged));
	PRIV_STEP("not root", plan_not_root(plan));
	PRIV_STEP("environment", plan_env(plan));
	PRIV_STEP("descriptors", plan_fds(plan));
	PRIV_STEP("limits", plan_limits(plan));
	return 0;
}

int priv_apply_limits(const struct priv_spawn_limits *lim)
{
	struct rlimit core = { 0, 0 };
	struct rlimit nofile = { lim->nofile, lim->nofile };

	if (setrlimit(RLIMIT_CORE, &core) < 0)
		return -errno;
	if (lim->nofile > 0 && setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return -errno;
	return 0;
}
