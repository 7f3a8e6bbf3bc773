/*
 * ipc/gather.c: gather buffers, where the supervisor collects a message
 * before a worker takes it. Shared by the loop thread and the thread pool
 * (path scans read files there), so the free list and the accounting are
 * under one lock.
 */
#define _GNU_SOURCE
#include "ipc.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

/* The free list: enough for every connection that usually gathers at once. */
#define GATHER_POOL 64
static unsigned char *gather_pool[GATHER_POOL];
static size_t gather_pooled;

static size_t gather_in_use;           /* bytes mapped by gathers handed out */
static size_t gather_budget = SIZE_MAX;
static pthread_mutex_t gather_lock = PTHREAD_MUTEX_INITIALIZER;

#define LOCKED(stmt) do { pthread_mutex_lock(&gather_lock); stmt; pthread_mutex_unlock(&gather_lock); } while (0)

void ipc_gather_set_budget(size_t bytes)
{
	LOCKED(gather_budget = bytes);
}

size_t ipc_gather_in_use(void)
{
	size_t n;

	LOCKED(n = gather_in_use);
	return n;
}

int ipc_gather_get(struct ipc_gather *g, size_t cap)
{
	void *p = NULL;

	g->cap = cap;
	LOCKED(if (gather_pooled > 0) p = gather_pool[--gather_pooled]);
	if (p == NULL) {
		p = mmap(NULL, IPC_GATHER_FIRST, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			g->base = NULL;
			g->mapped = 0;
			return -errno;
		}
	}
	g->base = p;
	g->mapped = IPC_GATHER_FIRST;
	LOCKED(gather_in_use += g->mapped);
	return 0;
}

int ipc_gather_reserve(struct ipc_gather *g, size_t need)
{
	size_t want = g->mapped;
	void *p;

	if (need <= g->mapped)
		return 0;
	if (need > g->cap || g->base == NULL)
		return -EINVAL;
	while (want < need)
		want *= 2;  /* doubling: a 100 MB message costs ~9 remaps */
	if (want > g->cap)
		want = (g->cap + 4095) & ~(size_t)4095;
	/* The budget covers all messages at once; one alone may always grow.
	 * The growth is booked before the remap, so two threads cannot both
	 * take the last of it. */
	int over = 0;
	LOCKED(over = gather_in_use > g->mapped && gather_in_use + (want - g->mapped) > gather_budget;
	    if (!over) gather_in_use += want - g->mapped);
	if (over)
		return -ENOBUFS;
	p = mremap(g->base, g->mapped, want, MREMAP_MAYMOVE);
	if (p == MAP_FAILED) {
		int e = errno;
		LOCKED(gather_in_use -= want - g->mapped);
		return -e;
	}
	g->base = p;
	g->mapped = want;
	return 0;
}

void ipc_gather_put(struct ipc_gather *g)
{
	int pooled = 0;

	if (g->base == NULL)
		return;
	LOCKED(gather_in_use -= g->mapped);
	if (g->mapped > IPC_GATHER_FIRST) {
		/* Give a large message's memory back now. */
		void *p = mremap(g->base, g->mapped, IPC_GATHER_FIRST, 0);
		if (p == MAP_FAILED) {
			munmap(g->base, g->mapped);
			g->base = NULL;
		}
	}
	if (g->base != NULL) {
		LOCKED(if (gather_pooled < GATHER_POOL) { gather_pool[gather_pooled++] = g->base; pooled = 1; });
		if (!pooled)
			munmap(g->base, IPC_GATHER_FIRST);
	}
	g->base = NULL;
	g->mapped = 0;
}

void ipc_gather_drain(void)
{
	pthread_mutex_lock(&gather_lock);
	while (gather_pooled > 0)
		munmap(gather_pool[--gather_pooled], IPC_GATHER_FIRST);
	pthread_mutex_unlock(&gather_lock);
}
