/*
 * scanner/tripwire.c: see tripwire.h. The functions are the ones
 * libclamav.so.12 imports for files and descriptors (`nm -D libclamav.so.12`,
 * libclamav 1.4); an executable's definitions take precedence over libc's
 * for every library's calls. Each calls libc's function with the same
 * arguments and returns its result with its errno.
 */
#define _GNU_SOURCE
#include "tripwire.h"

#include <string.h>

#ifdef AVW_SANITIZER_BUILD

void tripwire_init(void) {}
int tripwire_available(void) { return 0; }
void tripwire_begin(void) {}
void tripwire_end(struct tripwire_hits *out) { memset(out, 0, sizeof(*out)); }

#else

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int armed;
static struct tripwire_hits hits;

static void note(const char *call, int e)
{
	if (!armed)
		return;
	if (e != EMFILE && e != ENFILE && e != ENOSPC && e != EDQUOT && e != EFBIG && e != ENOMEM && e != EIO)
		return;  /* ENOENT, EEXIST...: the engine's normal probing */
	if (hits.count++ == 0) {
		hits.first_errno = e;
		snprintf(hits.first_call, sizeof(hits.first_call), "%s", call);
	}
}

/* libc's functions, found once (tripwire_init) or on first use. */
#define REAL(name) real_##name
#define DECL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
DECL(int, open64, const char *, int, ...);
DECL(int, openat64, int, const char *, int, ...);
DECL(FILE *, fopen64, const char *, const char *);
DECL(FILE *, fdopen, int, const char *);
DECL(int, dup, int);
DECL(int, dup2, int, int);
DECL(ssize_t, write, int, const void *, size_t);
DECL(ssize_t, writev, int, const struct iovec *, int);
DECL(ssize_t, pwrite64, int, const void *, size_t, off64_t);
DECL(ssize_t, pwritev, int, const struct iovec *, int, off_t);
DECL(size_t, fwrite, const void *, size_t, size_t, FILE *);
DECL(int, fputs, const char *, FILE *);
DECL(int, fputc, int, FILE *);
DECL(int, fflush, FILE *);
DECL(int, fclose, FILE *);
DECL(int, fsync, int);
DECL(int, fdatasync, int);
DECL(int, ftruncate64, int, off64_t);
DECL(int, mkdir, const char *, mode_t);
DECL(void *, mmap64, void *, size_t, int, int, int, off64_t);

static int resolve(void **slot, const char *name)
{
	if (*slot == NULL && (*slot = dlsym(RTLD_NEXT, name)) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return 0;
}
#define RESOLVE(name) resolve((void **)&REAL(name), #name)

void tripwire_init(void)
{
	RESOLVE(open64), RESOLVE(openat64), RESOLVE(fopen64), RESOLVE(fdopen), RESOLVE(dup);
	RESOLVE(dup2), RESOLVE(write), RESOLVE(writev), RESOLVE(pwrite64), RESOLVE(pwritev);
	RESOLVE(fwrite), RESOLVE(fputs), RESOLVE(fputc), RESOLVE(fflush), RESOLVE(fclose);
	RESOLVE(fsync), RESOLVE(fdatasync), RESOLVE(ftruncate64), RESOLVE(mkdir), RESOLVE(mmap64);
}

int tripwire_available(void) { return 1; }

void tripwire_begin(void)
{
	memset(&hits, 0, sizeof(hits));
	armed = 1;
}

void tripwire_end(struct tripwire_hits *out)
{
	armed = 0;
	*out = hits;
}

/* Calls libc's NAME with ARGS; on failure (FAILED), notes errno. */
#define PASS(type, name, failed, ...) \
	type r; \
	if (RESOLVE(name) < 0) \
		return (type)-1; \
	r = REAL(name)(__VA_ARGS__); \
	if (failed) { \
		int e = errno; \
		note(#name, e); \
		errno = e; \
	} \
	return r

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, unsigned) : 0;
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	PASS(int, open64, r < 0, path, flags, mode);
}

int openat64(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	PASS(int, openat64, r < 0, dfd, path, flags, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	FILE *r;

	if (RESOLVE(fopen64) < 0)
		return NULL;
	if ((r = REAL(fopen64)(path, mode)) == NULL) {
		int e = errno;
		note("fopen64", e);
		errno = e;
	}
	return r;
}

FILE *fdopen(int fd, const char *mode)
{
	FILE *r;

	if (RESOLVE(fdopen) < 0)
		return NULL;
	if ((r = REAL(fdopen)(fd, mode)) == NULL) {
		int e = errno;
		note("fdopen", e);
		errno = e;
	}
	return r;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	void *r;

	if (RESOLVE(mmap64) < 0)
		return MAP_FAILED;
	if ((r = REAL(mmap64)(addr, len, prot, flags, fd, off)) == MAP_FAILED) {
		int e = errno;
		note("mmap64", e);
		errno = e;
	}
	return r;
}

int dup(int fd) { PASS(int, dup, r < 0, fd); }
int dup2(int a, int b) { PASS(int, dup2, r < 0, a, b); }
ssize_t write(int fd, const void *b, size_t n) { PASS(ssize_t, write, r < 0, fd, b, n); }
ssize_t writev(int fd, const struct iovec *v, int n) { PASS(ssize_t, writev, r < 0, fd, v, n); }
ssize_t pwrite64(int fd, const void *b, size_t n, off64_t o) { PASS(ssize_t, pwrite64, r < 0, fd, b, n, o); }
ssize_t pwritev(int fd, const struct iovec *v, int n, off_t o) { PASS(ssize_t, pwritev, r < 0, fd, v, n, o); }
size_t fwrite(const void *p, size_t sz, size_t n, FILE *f) { PASS(size_t, fwrite, r < n && ferror(f), p, sz, n, f); }
int fputs(const char *s, FILE *f) { PASS(int, fputs, r == EOF, s, f); }
int fputc(int c, FILE *f) { PASS(int, fputc, r == EOF, c, f); }
int fflush(FILE *f) { PASS(int, fflush, r != 0, f); }
int fclose(FILE *f) { PASS(int, fclose, r != 0, f); }
int fsync(int fd) { PASS(int, fsync, r != 0, fd); }
int fdatasync(int fd) { PASS(int, fdatasync, r != 0, fd); }
int ftruncate64(int fd, off64_t len) { PASS(int, ftruncate64, r != 0, fd, len); }
int mkdir(const char *path, mode_t mode) { PASS(int, mkdir, r != 0, path, mode); }

#endif
