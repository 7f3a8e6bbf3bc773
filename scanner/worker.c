/*
 * scanner/worker.c: one worker, forked by the host after the database is
 * compiled, so the engine is shared copy-on-write.
 *
 * Entry: map the channel and the data area (read-only), close every other
 * descriptor, die with the host, lock down with seccomp; then scan one job
 * at a time. A worker is the part assumed compromised: it sees only what
 * the supervisor copies into its data area, and cannot write there.
 */
#define _GNU_SOURCE
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
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

static void worker_contain(int job_sock, struct ipc_chan *chan, uint64_t as_limit)
{
	/*
	 * Keep 0, 1 and 2 (the host's /dev/null and stderr) occupied: some
	 * libclamav parsers treat descriptor 0 as "no file", so a temp file
	 * that landed on fd 0 was silently skipped (clam.exe.rtf came back
	 * clean). The integration test comparing verdicts caught it.
	 */
	int keep[] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, job_sock };
	int rc;

	/* Die with the host: a worker never outlives its generation. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fatal("worker_abort", "step=pdeathsig");
	if (getppid() == 1)
		fatalx("worker_abort", "step=pdeathsig reason=\"host already gone\"");
	if ((rc = plat_close_fds_except(0, keep, 4)) < 0) {
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

static int log_sock = -1;
static unsigned log_sent;

/*
 * libclamav's warnings and errors during a scan, to the supervisor's log.
 * A few per job: a hostile file can make the engine complain endlessly.
 */
static void worker_clamav_msg(enum cl_msg severity, const char *fullmsg, const char *msg, void *ctx)
{
	struct ipc_wlog l;

	(void)fullmsg;
	(void)ctx;
	if (severity < CL_MSG_WARN || log_sock < 0 || log_sent >= 16)
		return;
	log_sent++;
	memset(&l, 0, sizeof(l));
	l.magic = IPC_WLOG_MAGIC;
	l.level = severity >= CL_MSG_ERROR ? IPC_LOG_ERROR : IPC_LOG_WARN;
	snprintf(l.text, sizeof(l.text), "%s", msg);
	(void)send(log_sock, &l, sizeof(l), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void scan_job(const struct cl_engine *engine, const struct ipc_job *job,
    const unsigned char *data, size_t cap, struct ipc_result *r)
{
	memset(r, 0, sizeof(r[0]));
	if (job->len > cap) {
		r->status = IPC_ERROR;
		r->engine_code = CL_EARG;
		return;
	}
#ifdef AVW_FAULT_INJECTION
	int corrupt = fault_maybe_inject(data, job->len);
#endif
	uint64_t t0 = plat_now_ns();
	scan_buffer(engine, data, job->len, r);
	r->scan_ns = plat_now_ns() - t0;
#ifdef AVW_FAULT_INJECTION
	if (corrupt)
		fault_corrupt(r);
#endif
}

void scan_worker_main(const struct cl_engine *engine, int job_sock, int chan_fd, int data_fd,
    uint64_t as_limit)
{
	struct ipc_chan *chan = ipc_chan_map(chan_fd);
	const unsigned char *data;
	struct ipc_result r;
	struct ipc_job job;
	struct stat st;
	size_t cap;
	int rc;

	if (chan == NULL || chan->magic != IPC_CHAN_MAGIC)
		fatal("worker_abort", "step=map_channel");
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			fatal("worker_abort", "step=stdio reason=\"descriptor %d not open\"", fd);
	if (fstat(data_fd, &st) < 0 || st.st_size <= 0)
		fatal("worker_abort", "step=data_area");
	cap = (size_t)st.st_size;
	data = mmap(NULL, cap, PROT_READ, MAP_SHARED, data_fd, 0);
	if (data == MAP_FAILED)
		fatal("worker_abort", "step=map_data");
	/* The mappings stay; the descriptors go. */
	close(chan_fd);
	close(data_fd);
	worker_contain(job_sock, chan, as_limit);
	log_sock = job_sock;
	cl_set_clcb_msg(worker_clamav_msg);

	for (;;) {
		rc = ipc_job_recv(job_sock, &job);
		if (rc == 0)
			_exit(0);  /* supervisor closed the channel: retire */
		if (rc < 0) {
			if (rc == -EINTR)
				continue;
			_exit(2);
		}
		priv_worker_set_job(job.seq);
		log_sent = 0;
		scan_job(engine, &job, data, cap, &r);
		r.seq = job.seq;
		/* Result first, then the wake-up that publishes it. */
		memcpy(&chan->result, &r, sizeof(r));
		__atomic_thread_fence(__ATOMIC_RELEASE);
		if (send(job_sock, &job.seq, sizeof(job.seq), MSG_NOSIGNAL) != sizeof(job.seq))
			_exit(2);
		priv_worker_set_job(0);
	}
}
