/*
 * scanner/worker.c: one worker, forked by the host after the database is
 * compiled, so the engine is shared copy-on-write.
 *
 * Entry: close everything but the job socket and the channel, die with the
 * host, lock down with seccomp; then scan one job at a time. A worker is the
 * part assumed compromised: it sees only its current job, read-only.
 */
#define _GNU_SOURCE
#include "scan.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "../privileges/priv.h"

#ifdef AVW_FAULT_INJECTION
#include "../tests/fault.h"
#endif

static void worker_contain(int job_sock, int chan_fd, struct ipc_chan *chan, uint64_t as_limit)
{
	int keep[] = { STDERR_FILENO, job_sock, chan_fd };
	int rc;

	/* Die with the host: a worker never outlives its generation. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fatal("worker_abort", "step=pdeathsig");
	if (getppid() == 1)
		fatalx("worker_abort", "step=pdeathsig reason=\"host already gone\"");
	if ((rc = plat_close_fds_except(0, keep, 3)) < 0) {
		errno = -rc;
		fatal("worker_abort", "step=close_fds");
	}
	if (as_limit > 0) {
		/* Running out is a per-job fault (allocation failure or crash). */
		struct rlimit rl = { as_limit, as_limit };
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			fatal("worker_abort", "step=rlimit_as");
	}
	if ((rc = priv_worker_seccomp(&chan->violation, job_sock)) < 0) {
		errno = -rc;
		fatal("worker_abort", "step=seccomp");
	}
}

static void scan_job(const struct cl_engine *engine, const struct ipc_job *job, int memfd,
    struct ipc_result *r)
{
	struct stat st;
	void *p = NULL;

	memset(r, 0, sizeof(*r));
	if (fstat(memfd, &st) < 0 || (uint64_t)st.st_size != job->len) {
		r->status = IPC_ERROR;
		r->engine_code = CL_EARG;
		return;
	}
	if (job->len > 0) {
		p = mmap(NULL, job->len, PROT_READ, MAP_SHARED, memfd, 0);
		if (p == MAP_FAILED) {
			r->status = IPC_ERROR;
			r->engine_code = CL_EMAP;
			return;
		}
	}
#ifdef AVW_FAULT_INJECTION
	int corrupt = fault_maybe_inject(p, job->len);
#endif
	uint64_t t0 = plat_now_ns();
	scan_buffer(engine, p, job->len, r);
	r->scan_ns = plat_now_ns() - t0;
#ifdef AVW_FAULT_INJECTION
	if (corrupt)
		fault_corrupt(r);
#endif
	if (p != NULL)
		munmap(p, job->len);
}

void scan_worker_main(const struct cl_engine *engine, int job_sock, int chan_fd, uint64_t as_limit)
{
	struct ipc_chan *chan = ipc_chan_map(chan_fd);
	struct ipc_result r;
	struct ipc_job job;
	int memfd, rc;

	if (chan == NULL || chan->magic != IPC_CHAN_MAGIC)
		fatal("worker_abort", "step=map_channel");
	worker_contain(job_sock, chan_fd, chan, as_limit);

	for (;;) {
		rc = ipc_job_recv(job_sock, &job, &memfd);
		if (rc == 0)
			_exit(0);  /* supervisor closed the channel: retire */
		if (rc < 0) {
			if (rc == -EINTR)
				continue;
			_exit(2);
		}
		priv_worker_set_job(job.seq);
		scan_job(engine, &job, memfd, &r);
		close(memfd);
		r.seq = job.seq;
		/* Result first, then the wake-up that publishes it. */
		memcpy(&chan->result, &r, sizeof(r));
		__atomic_thread_fence(__ATOMIC_RELEASE);
		if (send(job_sock, &job.seq, sizeof(job.seq), MSG_NOSIGNAL) != sizeof(job.seq))
			_exit(2);
		priv_worker_set_job(0);
	}
}
