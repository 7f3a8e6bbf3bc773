/*
 * scanner/engmap.c: the compiled engine laid out for cheap forks.
 *
 * A worker is forked per message. fork() copies the page tables of every
 * private anonymous mapping, and the engine of an official-sized database
 * is ~300 MB of them (~70,000 entries, copied at fork and torn down at
 * exit, per message). So once the database is compiled, the anonymous
 * memory the load created is moved into memfds and mapped back at the same
 * addresses MAP_PRIVATE: fork copies no page tables for a file mapping the
 * host never wrote, a worker's write (if libclamav makes one) lands in its
 * own copy-on-write page, never in what the next worker gets, and the
 * memfd's page cache is collapsed into 2 MB pages, so a worker maps what
 * it reads in a few faults. The memfds are sealed: nobody can change them.
 *
 * The ranges are the anonymous mappings that appeared during the load,
 * minus every page mapped before it (a new mapping can merge into an older
 * one), never the brk heap (malloc's own state). Must run before Landlock
 * (it reads /proc/self/maps), single-threaded, with nothing else writing.
 */
#define _GNU_SOURCE
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  /* Linux 6.1 */
#endif
#define HUGE (2ul << 20)
#define RANGES_MAX 512

struct range {
	uintptr_t start, end;
	int heap;
};

struct ranges {
	size_t n;
	struct range r[RANGES_MAX];
};

static struct ranges before;

/* Private anonymous writable mappings of this process, the heap flagged. */
static int snapshot(struct ranges *out)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	out->n = 0;
	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long s, e, off, ino;
		char perms[8], dev[16];
		int pos = 0;
		if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &s, &e, perms, &off, dev, &ino, &pos) < 6)
			continue;
		int heap = strncmp(line + pos, "[heap]", 6) == 0;
		/* (%n after the space: a nameless mapping's newline is skipped.) */
		if (strncmp(perms, "rw-p", 4) != 0 || ino != 0 || (!heap && line[pos] != '\0'))
			continue;
		if (out->n == RANGES_MAX) {
			fclose(f);
			return -E2BIG;
		}
		out->r[out->n++] = (struct range){ s, e, heap };
	}
	fclose(f);
	return 0;
}

int scan_engmap_before(void)
{
	return snapshot(&before);
}

/* [s, e) minus every range of `before`, as pieces into out. */
static int subtract(uintptr_t s, uintptr_t e, struct ranges *out)
{
	uintptr_t piece[64][2] = { { s, e } };
	size_t np = 1;

	for (size_t b = 0; b < before.n; b++)
		for (size_t z = 0; z < np; z++) {
			uintptr_t bs = before.r[b].start, be = before.r[b].end;
			if (be <= piece[z][0] || bs >= piece[z][1])
				continue;
			if (bs > piece[z][0] && be < piece[z][1]) {
				if (np == 64)
					return -E2BIG;
				piece[np][0] = be;
				piece[np][1] = piece[z][1];
				np++;
				piece[z][1] = bs;
			} else if (bs <= piece[z][0]) {
				piece[z][0] = be < piece[z][1] ? be : piece[z][1];
			} else {
				piece[z][1] = bs;
			}
		}
	for (size_t z = 0; z < np; z++) {
		if (piece[z][0] >= piece[z][1])
			continue;
		if (out->n == RANGES_MAX)
			return -E2BIG;
		out->r[out->n++] = (struct range){ piece[z][0], piece[z][1], 0 };
	}
	return 0;
}

/* The memfd's pages in 2 MB folios, through a temporary aligned mapping
 * (works whatever shmem_enabled says). Returns the bytes collapsed. */
static uint64_t collapse(int fd, off_t off, size_t len)
{
	size_t tl = (size_t)off + len + HUGE;
	uint64_t huge = 0;
	char *t = mmap(NULL, tl, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *a;

	if (t == MAP_FAILED)
		return 0;
	a = (char *)(((uintptr_t)t + HUGE - 1) & ~(HUGE - 1));
	if (mmap(a, (size_t)off + len, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) != MAP_FAILED)
		for (uintptr_t c = ((uintptr_t)a + (uintptr_t)off + HUGE - 1) & ~(HUGE - 1);
		    c + HUGE <= (uintptr_t)a + (uintptr_t)off + len; c += HUGE)
			if (madvise((void *)c, HUGE, MADV_COLLAPSE) == 0)
				huge += HUGE;
	munmap(t, tl);
	return huge;
}

/* One range into a sealed memfd, mapped back over itself MAP_PRIVATE. */
static int remap(uintptr_t s, uintptr_t e, uint64_t *huge)
{
	size_t len = e - s, done = 0;
	/* The file offset congruent to the address mod 2 MB: pages line up with PMDs. */
	off_t off = (off_t)(s & (HUGE - 1));
	int fd = memfd_create("avwarden-engine", MFD_CLOEXEC | MFD_ALLOW_SEALING), err;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, off + (off_t)len) < 0)
		goto fail;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)s + done, len - done, off + (off_t)done);
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	*huge += collapse(fd, off, len);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
	    mmap((void *)s, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, off) == MAP_FAILED)
		goto fail;
	close(fd);
	return 0;
fail:
	err = errno;
	close(fd);
	return -(err ? err : EIO);
}

int scan_engmap_apply(uint64_t *bytes, uint64_t *huge)
{
	struct ranges after, eng = { 0 };
	int rc;

	*bytes = *huge = 0;
	if ((rc = snapshot(&after)) < 0)
		return rc;
	for (size_t i = 0; i < after.n; i++)
		if (!after.r[i].heap && (rc = subtract(after.r[i].start, after.r[i].end, &eng)) < 0)
			return rc;
	for (size_t i = 0; i < eng.n; i++) {
		/* Small pieces are not worth a file: they stay as they are. */
		if (eng.r[i].end - eng.r[i].start < HUGE)
			continue;
		if ((rc = remap(eng.r[i].start, eng.r[i].end, huge)) < 0)
			return rc;  /* the range is as it was: mmap failed before replacing it */
		*bytes += eng.r[i].end - eng.r[i].start;
	}
	return 0;
}
