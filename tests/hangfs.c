/*
 * tests/hangfs.c: a FUSE file system whose one file never finishes a read,
 * as a file on a hung NFS server or a stuck FUSE mount: the test for path
 * scans that must not stall the daemon.
 *
 *   hangfs MOUNTPOINT    (foreground; unmount with fusermount3 -u)
 *
 * MOUNTPOINT/hang is a 100-byte regular file; read() on it blocks until the
 * file system is unmounted.
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static int hang_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/hang") == 0) {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = 100;
		return 0;
	}
	return -ENOENT;
}

static int hang_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "hang", NULL, 0, 0);
	return 0;
}

static int hang_open(const char *path, struct fuse_file_info *fi)
{
	(void)fi;
	return strcmp(path, "/hang") == 0 ? 0 : -ENOENT;
}

/* Blocks for good: the kernel gives up on it only when we are unmounted. */
static int hang_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	(void)buf;
	(void)size;
	(void)off;
	(void)fi;
	pthread_mutex_lock(&lock);
	for (;;)
		pthread_cond_wait(&never, &lock);
	return 0;
}

static const struct fuse_operations ops = {
	.getattr = hang_getattr,
	.readdir = hang_readdir,
	.open = hang_open,
	.read = hang_read,
};

int main(int argc, char **argv)
{
	char *args[] = { argv[0], "-f", argc > 1 ? argv[1] : NULL, NULL };

	if (argc != 2)
		return 2;
	return fuse_main(3, args, &ops, NULL);
}
