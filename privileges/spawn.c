/*
 * privileges/spawn.c: step 1, applied by the supervisor to the host it spawns.
 *
 * The uid/gid switch, the empty environment and the fd cut-off happen in
 * uv_spawn (see supervisor/pool.c); the limits are applied here with
 * prlimit() before the host is told to start.
 */
#define _GNU_SOURCE
#include "priv.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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

int priv_spawn_limits(pid_t pid, const struct priv_spawn_limits *lim)
{
	struct rlimit core = { 0, 0 };
	struct rlimit nofile = { lim->nofile, lim->nofile };

	if (prlimit(pid, RLIMIT_CORE, &core, NULL) < 0)
		return -errno;
	if (lim->nofile > 0 && prlimit(pid, RLIMIT_NOFILE, &nofile, NULL) < 0)
		return -errno;
	return 0;
}
