/*
 * supervisor/dbwatch.c: the database fingerprint and its timer (see
 * dbwatch.h).
 */
#define _GNU_SOURCE
#include "dbwatch.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

/*
 * What identifies a database's contents without reading them: names, sizes,
 * modification times and inodes of its signature files, as clamd's SelfCheck
 * watches them. Temporary files freshclam writes (other extensions) do not
 * count, so a half-written update does not trigger a reload.
 */
static int is_db_file(const char *name)
{
	static const char *const ext[] = {
		"cvd", "cld", "cud", "cdiff", "db", "hdb", "hsb", "hdu", "hsu", "mdb", "msb", "mdu", "msu",
		"ndb", "ndu", "ldb", "ldu", "sdb", "zmd", "rmd", "idb", "fp", "sfp", "gdb", "pdb", "wdb",
		"cdb", "cat", "crb", "ftm", "cfg", "ign", "ign2", "info", "yar", "yara", "pwdb", "imp",
	};
	const char *dot = strrchr(name, '.');

	if (dot == NULL || name[0] == '.')
		return 0;
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (strcmp(dot + 1, ext[i]) == 0)
			return 1;
	return 0;
}

static uint64_t print_mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ull;  /* FNV-1a */
	}
	return h;
}

static uint64_t print_entry(const char *name, const struct stat *st)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = print_mix(h, name, strlen(name));
	h = print_mix(h, &st->st_size, sizeof(st->st_size));
	h = print_mix(h, &st->st_mtim, sizeof(st->st_mtim));
	h = print_mix(h, &st->st_ino, sizeof(st->st_ino));
	return h;
}

uint64_t sup_db_fingerprint(const char *path)
{
	struct stat st;
	struct dirent *de;
	uint64_t sum = 0;
	DIR *d;

	if (stat(path, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return print_entry(path, &st);
	if ((d = opendir(path)) == NULL)
		return 0;
	/* A sum, so the order readdir returns entries in does not matter. */
	while ((de = readdir(d)) != NULL) {
		if (!is_db_file(de->d_name) || fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		sum += print_entry(de->d_name, &st);
	}
	closedir(d);
	return sum == 0 ? 1 : sum;
}

static struct {
	uv_timer_t timer;
	int open;
	void (*check)(void);
} W;

static void tick(uv_timer_t *t)
{
	(void)t;
	W.check();
}

int sup_dbwatch_start(uv_loop_t *loop, unsigned interval_s, void (*check)(void))
{
	int rc;

	if (interval_s == 0)
		return 0;
	W.check = check;
	if ((rc = uv_timer_init(loop, &W.timer)) < 0)
		return rc;
	W.open = 1;
	return uv_timer_start(&W.timer, tick, (uint64_t)interval_s * 1000, (uint64_t)interval_s * 1000);
}

void sup_dbwatch_stop(void)
{
	if (W.open)
		uv_close((uv_handle_t *)&W.timer, NULL);
	W.open = 0;
}
